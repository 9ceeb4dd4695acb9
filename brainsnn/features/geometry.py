"""Sizes and index maps of the STDP-CSNN extractor: input image -> convolution -> pooling.

Flat indices are C order everywhere, matching the C++ extractor's tensors (first index slowest,
``Tensor.h``): an input is (row, column, on/off), a kernel element (row, column, on/off, filter)
as in its ``weights.npy``, a convolution neuron (row, column, filter), a feature (pooled row,
pooled column, filter) as in its ``X_csnn_*.npy``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from brainsnn.features.lanes import first_of_lanes


@dataclass(frozen=True)
class CsnnGeometry:
    """One convolution (stride 1, no padding) and one earliest-spike pooling (stride = size)."""

    rows: int  # image rows
    columns: int  # image columns
    kernel: int  # convolution kernel side (pixels)
    filters: int  # convolution filters (output channels)
    pool: int  # pooling window side and stride (convolution positions)
    channels: int = 2  # input channels (DoG ON and OFF)

    def __post_init__(self) -> None:
        if min(self.rows, self.columns) < self.kernel or self.kernel < 1:
            raise ValueError(f"kernel {self.kernel} does not fit {self.rows}x{self.columns}")
        if min(self.conv_rows, self.conv_columns) < self.pool or self.pool < 1:
            raise ValueError(f"pool {self.pool} does not fit the convolution output")
        if self.filters < 2:
            raise ValueError("the winner-take-all training needs at least 2 filters")

    @property
    def inputs(self) -> int:
        """Input neurons (rows x columns x channels)."""
        return self.rows * self.columns * self.channels

    @property
    def patch_inputs(self) -> int:
        """Inputs of one kernel-sized patch (kernel x kernel x channels)."""
        return self.kernel * self.kernel * self.channels

    @property
    def conv_rows(self) -> int:
        return self.rows - self.kernel + 1

    @property
    def conv_columns(self) -> int:
        return self.columns - self.kernel + 1

    @property
    def conv_neurons(self) -> int:
        return self.conv_rows * self.conv_columns * self.filters

    @property
    def pool_rows(self) -> int:
        """``Layer3D``: (input - window) / stride + 1 windows."""
        return (self.conv_rows - self.pool) // self.pool + 1

    @property
    def pool_columns(self) -> int:
        return (self.conv_columns - self.pool) // self.pool + 1

    @property
    def features(self) -> int:
        """Output features (pooled rows x pooled columns x filters)."""
        return self.pool_rows * self.pool_columns * self.filters

    def convolution_synapses(self, lanes: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(input, convolution neuron, kernel element) of every convolution synapse, sorted by
        input then neuron: the synapses one input spike reaches are adjacent. With ``lanes``
        filters per neuron (``lanes.py``), neurons and elements count groups of filters."""
        k, f = self.kernel, self.filters
        ox, oy, kx, ky, z, c = np.meshgrid(
            np.arange(self.conv_rows),
            np.arange(self.conv_columns),
            np.arange(k),
            np.arange(k),
            np.arange(self.channels),
            np.arange(f),
            indexing="ij",
            copy=False,
        )
        pre = ((ox + kx) * self.columns + (oy + ky)) * self.channels + z
        post = (ox * self.conv_columns + oy) * f + c
        element = ((kx * k + ky) * self.channels + z) * f + c
        pre, post, element = (a.ravel().astype(np.int32) for a in (pre, post, element))
        order = np.lexsort((post, pre))
        pre, post, element = pre[order], post[order], element[order]
        first = first_of_lanes(post, lanes)
        return pre[first], post[first] // lanes, element[first] // lanes

    def pooling_synapses(self, lanes: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """(convolution neuron, feature) of every pooling synapse; positions past the last whole
        window feed no feature. With ``lanes``: neurons and features count groups of filters."""
        ox, oy, c = np.meshgrid(
            np.arange(self.conv_rows),
            np.arange(self.conv_columns),
            np.arange(self.filters),
            indexing="ij",
        )
        px, py = ox // self.pool, oy // self.pool
        inside = (px < self.pool_rows) & (py < self.pool_columns)
        conv = (ox * self.conv_columns + oy) * self.filters + c
        feature = (px * self.pool_columns + py) * self.filters + c
        conv, feature = conv[inside].astype(np.int32), feature[inside].astype(np.int32)
        first = first_of_lanes(conv, lanes)
        return conv[first] // lanes, feature[first] // lanes


def patch_times(
    times: np.ndarray, rows: np.ndarray, columns: np.ndarray, kernel: int
) -> np.ndarray:
    """The (samples, kernel * kernel * channels) spike times of one patch per sample, at
    top-left corner (rows[s], columns[s]), flattened as the kernel elements of one filter."""
    n = len(times)
    offsets = np.arange(kernel)
    r = rows[:, None, None] + offsets[None, :, None]
    c = columns[:, None, None] + offsets[None, None, :]
    patch = times[np.arange(n)[:, None, None], r, c]  # (n, k, k, channels)
    return patch.reshape(n, -1)
