"""Decoding and test metrics of spiking readouts, on NumPy arrays (spec A.7).

Inputs are the readout's spikes (n, N, T) and pre-reset potentials (n, N, T), from the JAX
forward pass or a Brian2 re-simulation alike, so both are judged by the same code.
"""

from __future__ import annotations

import numpy as np


def first_spike_steps(spikes: np.ndarray, potentials: np.ndarray) -> np.ndarray:
    """FS_coding's first-spike time (n, N) in steps 1..T; silent neurons T + rank by peak
    potential (1 = highest) + 0.01 x the step rank of their peak (spec A.2): the training
    loss's own time map (:func:`brainsnn.gradient.losses.time_map`), evaluated on arrays."""
    import jax.numpy as jnp

    from brainsnn.gradient.losses import time_map

    return np.asarray(time_map(jnp.asarray(spikes), jnp.asarray(potentials)).min(axis=-1))


def decode_first_spike(spikes: np.ndarray, potentials: np.ndarray) -> np.ndarray:
    """FS decision: the neuron with the earliest first spike (silent: highest peak wins)."""
    return first_spike_steps(spikes, potentials).argmin(axis=-1)


def decode_rate(spikes: np.ndarray) -> np.ndarray:
    """FR decision: the neuron with most spikes (ties and silence: lowest index)."""
    return spikes.sum(axis=-1).argmax(axis=-1)


def accuracy_over_time(
    spikes: np.ndarray, potentials: np.ndarray, labels: np.ndarray, decoding: str
) -> np.ndarray:
    """Accuracy (T,) when the decision must be made by step k = 1..T (spec A.7).

    fs: correct by FS decoding and the winner's first spike is at step <= k; fr: argmax of the
    spike count up to step k is the label and some output neuron has spiked by then.
    """
    steps = spikes.shape[-1]
    if decoding == "fs":
        times = first_spike_steps(spikes, potentials)
        winner = times.argmin(axis=-1)
        correct = winner == labels
        first = times[np.arange(len(labels)), winner]
        k = np.arange(1, steps + 1)
        return (correct[:, None] & (first[:, None] <= k[None, :])).mean(axis=0)
    counts = np.cumsum(spikes, axis=-1)  # (n, N, T)
    correct = (counts.argmax(axis=1) == labels[:, None]) & (counts.sum(axis=1) > 0)
    return correct.mean(axis=0)


def latency(curve: np.ndarray, fraction: float) -> int:
    """First step (1-based) where the curve reaches ``fraction`` of its maximum (0: never)."""
    peak = curve.max()
    if peak <= 0:
        return 0
    return int(np.argmax(curve >= fraction * peak)) + 1
