"""Exact event-driven NumPy reference of the STDP-CSNN extractor: the oracle of the Brian2 engine.

A plain transcription of the C++ loops (``Convolution.cpp`` train and test, ``Pooling.cpp``),
one input spike at a time in spike-time order (ties by input index, as the engine's spike list),
in float64 like the Brian2 engine. It is slow (a Python loop over spikes): tests run it on tiny
networks only.
"""

from __future__ import annotations

import numpy as np

from brainsnn.features.geometry import CsnnGeometry
from brainsnn.features.preprocess import SILENT


def train_reference(
    patches: np.ndarray, weights: np.ndarray, thresholds: np.ndarray, p: dict[str, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Present ``patches`` (samples, patch inputs) of spike times in order, learning as it goes.

    ``weights`` (patch inputs, filters) and ``thresholds`` (filters,) are updated copies;
    returns (weights, thresholds, winner per sample, -1 when no filter fired).
    """
    w = np.array(weights, dtype=np.float64)
    th = np.array(thresholds, dtype=np.float64)
    filters = w.shape[1]
    winners = np.full(len(patches), -1, dtype=np.int64)
    for s, times in enumerate(np.asarray(patches, dtype=np.float64)):
        v = np.zeros(filters)
        for k in np.argsort(times, kind="stable"):
            if times[k] >= SILENT:
                break
            v += w[k]
            crossed = np.flatnonzero(v > th)
            if len(crossed) == 0:
                continue
            z, t_win = crossed[0], times[k]
            winners[s] = z
            lr = p["lr_th"]
            is_winner = np.arange(filters) == z
            th = th - lr * (t_win - p["t_obj"]) - lr / (filters - 1) * ~is_winner + lr * is_winner
            th = np.maximum(th, p["min_th"])
            col = w[:, z]
            potentiate = times <= t_win
            w[:, z] = np.clip(
                col
                + p["a_plus"] * np.exp(-p["beta"] * col) * potentiate
                - p["a_minus"] * np.exp(p["beta"] * (col - 1)) * ~potentiate,
                0,
                1,
            )
            break
    return w, th, winners


def extract_reference(
    times: np.ndarray, weights: np.ndarray, thresholds: np.ndarray, geometry: CsnnGeometry
) -> np.ndarray:
    """Feature spike times (samples, features) of coded images (samples, rows, columns, 2).

    ``weights`` (kernel, kernel, 2, filters), ``thresholds`` (filters,); silent features are
    ``SILENT``. In float32, as the engine's extraction network and the C++.
    """
    g = geometry
    w = np.asarray(weights, dtype=np.float32)
    thresholds = np.asarray(thresholds, dtype=np.float32)
    out = np.full((len(times), g.features), SILENT, dtype=np.float32)
    for s, sample in enumerate(np.asarray(times, dtype=np.float32)):
        flat = sample.ravel()
        v = np.zeros((g.conv_rows, g.conv_columns, g.filters), dtype=np.float32)
        tconv = np.full(v.shape, SILENT, dtype=np.float32)
        for index in np.argsort(flat, kind="stable"):
            t = flat[index]
            if t >= SILENT:
                break
            x, y, z = np.unravel_index(index, sample.shape)
            for ox in range(max(0, x - g.kernel + 1), min(x, g.conv_rows - 1) + 1):
                for oy in range(max(0, y - g.kernel + 1), min(y, g.conv_columns - 1) + 1):
                    v[ox, oy] += w[x - ox, y - oy, z]
                    fires = (v[ox, oy] >= thresholds) & (tconv[ox, oy] >= SILENT)
                    tconv[ox, oy, fires] = t
        windows = tconv[: g.pool_rows * g.pool, : g.pool_columns * g.pool].reshape(
            g.pool_rows, g.pool, g.pool_columns, g.pool, g.filters
        )
        out[s] = windows.min(axis=(1, 3)).ravel()
    return out
