"""Initial readout weights (production code; the oracle draws the same way through this)."""

from __future__ import annotations

import numpy as np


def initial_weights(
    n_out: int,
    n_in: int,
    mean: float,
    std: float,
    w_min: float,
    w_max: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw initial weights ~ Normal(mean, std), record row sums, then clip.

    Args:
        n_out: N, number of output neurons.
        n_in: D, number of inputs.
        mean: mean of the draw (weight units).
        std: standard deviation of the draw (weight units).
        w_min: lower clip (weight units).
        w_max: upper clip (weight units).
        rng: NumPy random generator.

    Returns:
        ``(weights, row_sums)``: (N, D) clipped weights and (N,) normalisation targets
        ``S_j = sum_i w_ji`` of the unclipped draw.
    """
    draw = rng.normal(mean, std, size=(n_out, n_in))
    return np.clip(draw, w_min, w_max), draw.sum(axis=1)
