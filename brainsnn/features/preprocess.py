"""STDP-CSNN input coding: DoG on/off filtering, min-max scaling, latency coding (NumPy).

Follows SpikeNN's C++ extractor (``ft-extract/STDP-CSNN/csnn``), file and line cited per step.
Images are (samples, rows, columns) of values in [0, 1] (uint8 / 255, ``ImageBin.cpp:29-35``);
coded samples are (samples, rows, columns, 2) spike times in units of T, channel 0 = ON, 1 = OFF,
with ``SILENT`` (= T) for an input that never fires. Arithmetic is float32, as in the C++.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Spike time of an input or feature that never fires (units of T): SpikeNN's max_time.
SILENT = 1.0
#: Images coded per block (bounds the float32 temporaries: 4,096 x 28 x 28 x 2 x 4 B = 25 MB).
CODE_BLOCK = 4096


def dog_kernel(size: int, center_std: float, surround_std: float) -> np.ndarray:
    """The (size, size) difference-of-Gaussians kernel, each Gaussian normalised to sum 1.

    ``OnOffFilter.cpp:11-45``: squared distance from the kernel centre ((i + 1) - size/2 - 0.5).
    """
    offset = np.arange(1, size + 1, dtype=np.float32) - np.float32(size) / 2 - np.float32(0.5)
    d2 = offset[:, None] ** 2 + offset[None, :] ** 2
    norm = np.float32(1.0 / np.sqrt(2.0 * np.pi))

    def gaussian(std: float) -> np.ndarray:
        std = np.float32(std)
        g = norm * (np.float32(1) / std * np.exp(-d2 / np.float32(2) / (std * std)))
        return g / g.sum(dtype=np.float32)

    return (gaussian(center_std) - gaussian(surround_std)).astype(np.float32)


def on_off(images: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """DoG-filtered images split into ON (positive part) and OFF (negative part) channels.

    ``OnOffFilter.cpp:95-110``: correlation with the kernel centred on each pixel, edges
    replicated (input coordinates clamped), accumulated over the kernel rows then columns.
    Returns (samples, rows, columns, 2) float32.
    """
    images = np.asarray(images, dtype=np.float32)
    size = kernel.shape[0]
    half = size // 2
    padded = np.pad(images, ((0, 0), (half, half), (half, half)), mode="edge")
    rows, cols = images.shape[1:]
    response = np.zeros(images.shape, dtype=np.float32)
    for fx in range(size):
        for fy in range(size):
            response += padded[:, fx : fx + rows, fy : fy + cols] * kernel[fx, fy]
    out = np.empty((*images.shape, 2), dtype=np.float32)
    np.maximum(response, 0, out=out[..., 0])
    np.maximum(-response, 0, out=out[..., 1])
    return out


@dataclass(frozen=True)
class InputCoding:
    """The fitted input coding: DoG kernel and per-input min/max over the training images."""

    kernel: np.ndarray  # (size, size) float32
    minimum: np.ndarray  # (rows * columns * 2,) float32, FeatureScaling mins
    maximum: np.ndarray  # (rows * columns * 2,) float32, FeatureScaling maxs

    def encode(self, images: np.ndarray) -> np.ndarray:
        """Spike times (samples, rows, columns, 2) float32 of images (samples, rows, columns)."""
        images = np.asarray(images)
        out = np.empty((*images.shape, 2), dtype=np.float32)
        for start in range(0, len(images), CODE_BLOCK):
            block = slice(start, start + CODE_BLOCK)
            out[block] = latency_times(self.scale(on_off(_unit(images[block]), self.kernel)))
        return out

    def scale(self, filtered: np.ndarray) -> np.ndarray:
        """Min-max scaling per input (``Scaling.cpp:31-40``): 0 where min equals max."""
        flat = filtered.reshape(len(filtered), -1)
        span = self.maximum - self.minimum
        with np.errstate(divide="ignore", invalid="ignore"):
            scaled = np.where(span == 0, np.float32(0), (flat - self.minimum) / span)
        return scaled.astype(np.float32).reshape(filtered.shape)


def fit_input_coding(
    images: np.ndarray, size: int, center_std: float, surround_std: float
) -> InputCoding:
    """The DoG kernel and the min/max of each filtered input over ``images`` (the training set;
    ``Scaling.cpp:24-29``). The C++ starts the max at FLT_MIN, so an input that is 0 everywhere
    gets max = FLT_MIN (scaled value 0 either way)."""
    kernel = dog_kernel(size, center_std, surround_std)
    n_inputs = images.shape[1] * images.shape[2] * 2
    minimum = np.full(n_inputs, np.finfo(np.float32).max, dtype=np.float32)
    maximum = np.full(n_inputs, np.finfo(np.float32).tiny, dtype=np.float32)
    for start in range(0, len(images), CODE_BLOCK):
        flat = on_off(_unit(images[start : start + CODE_BLOCK]), kernel).reshape(-1, n_inputs)
        np.minimum(minimum, flat.min(axis=0), out=minimum)
        np.maximum(maximum, flat.max(axis=0), out=maximum)
    return InputCoding(kernel, minimum, maximum)


def latency_times(values: np.ndarray) -> np.ndarray:
    """Latency code (``InputConverter.cpp:40-47``): t = max(0, 1 - value); t = 1 never fires."""
    return np.maximum(np.float32(0), np.float32(1) - values).astype(np.float32)


def _unit(images: np.ndarray) -> np.ndarray:
    """uint8 images as float32 in [0, 1] (``ImageBin.cpp:35``); float images unchanged."""
    if images.dtype == np.uint8:
        return images.astype(np.float32) / np.float32(255)
    return images.astype(np.float32)
