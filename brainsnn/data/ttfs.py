"""Time-to-first-spike (TTFS) encoding of intensities.

All times are in units of the sample duration T: a spike time lies in [0, 1), and the time
1.0 (= T) means "silent", i.e. the input neuron does not fire during the sample.
"""

from __future__ import annotations

import numpy as np

from brainsnn.core.errors import ConfigError, DataError

#: Tolerance added before flooring t * steps, so that k / steps maps back to step k.
_GRID_EPS = 1e-9


def _check_steps(steps: int) -> None:
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ConfigError(f"steps must be a positive integer, got {steps!r}")


def ttfs_encode(images: np.ndarray, max_value: float) -> np.ndarray:
    """Encode intensities as spike times: t = 1 - x / max_value, in units of T.

    ``images`` has samples on its first axis; each sample is flattened, so the result is
    float64 of shape (n, D). A pixel x in (0, max_value] fires at t in [0, 1) (brightest
    first); x <= 0 gives t = 1.0, meaning silent. x > max_value or NaN raises DataError.
    """
    if not max_value > 0:
        raise ConfigError(f"max_value must be > 0, got {max_value!r}")
    times = np.array(images, dtype=np.float64)  # a copy, worked on in place (memory)
    times = times.reshape(len(times), -1)
    if np.isnan(times).any():
        raise DataError("cannot TTFS-encode images containing NaN")
    if times.size and times.max() > max_value:
        raise DataError(f"image intensity {times.max()} exceeds max_value {max_value}")
    silent = times <= 0
    np.divide(times, max_value, out=times)
    np.subtract(1.0, times, out=times)
    times[silent] = 1.0
    return times


def quantise_times(times: np.ndarray, steps: int) -> np.ndarray:
    """Map spike times (units of T) to integer grid steps of width T / steps.

    t in [0, 1) -> k = floor(t * steps + 1e-9), at most steps - 1; t >= 1 -> ``steps``,
    meaning silent. Returns int64 of the same shape. Negative or NaN times raise DataError.
    """
    _check_steps(steps)
    t = np.asarray(times, dtype=np.float64)
    if np.isnan(t).any() or (t < 0).any():
        raise DataError("spike times must be >= 0 (units of the sample duration T)")
    k = np.minimum(np.floor(t * steps + _GRID_EPS), steps - 1).astype(np.int64)
    return np.where(t >= 1.0, steps, k)


def rank_times(times: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Map each sample's spike times to their rank among the sample's distinct spike times.

    This is the exact time grid: step k of a sample is its k-th distinct spike time, so inputs
    with equal times share a step and every other order is kept. ``times`` (n, D) in units of T,
    1.0 or later = silent. Returns ``(ranks, counts, distinct)``: ranks (n, D) int64 (-1 for a
    silent input); counts (n,) distinct times per sample; distinct (counts.sum(),) float64, each
    sample's distinct times in ascending order, sample after sample. Negative or NaN times raise
    DataError.
    """
    t = np.asarray(times, dtype=np.float64).reshape(len(times), -1)
    if np.isnan(t).any() or (t < 0).any():
        raise DataError("spike times must be >= 0 (units of the sample duration T)")
    order = np.argsort(t, axis=1, kind="stable")
    ordered = np.take_along_axis(t, order, axis=1)
    firing = ordered < 1.0  # a prefix of every row
    first = firing.copy()  # the first input of each distinct time
    first[:, 1:] &= ordered[:, 1:] != ordered[:, :-1]
    ordered_ranks = np.cumsum(first, axis=1) - 1
    ordered_ranks[~firing] = -1
    ranks = np.empty_like(ordered_ranks)
    np.put_along_axis(ranks, order, ordered_ranks, axis=1)
    return ranks, first.sum(axis=1), ordered[first]


def grid_times(step_indices: np.ndarray, steps: int) -> np.ndarray:
    """Map grid steps back to times k / steps in units of T; k >= steps (silent) -> 1.0."""
    _check_steps(steps)
    k = np.asarray(step_indices)
    if (k < 0).any():
        raise DataError("grid step indices must be >= 0")
    return np.minimum(k, steps).astype(np.float64) / steps
