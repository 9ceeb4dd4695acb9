"""Training objectives: first-spike time (FS), firing rate (FR), membrane readout, regularisers.

The FS readout follows FS_coding's Spike2Time / Time2FST pair (spec A.2): a forward "time map"
that ranks silent neurons after every real spike by their peak potential, and a backward pass
that puts the error at the first spike (or at every step for a silent neuron) and spreads it in
time with an unnormalised Gaussian of width T // D and amplitude -A.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax


def _ranks(values: jax.Array, axis: int) -> jax.Array:
    """0-based rank of each entry along ``axis``, 0 = largest (ties: lower index first)."""
    order = jnp.argsort(-values, axis=axis, stable=True)
    return jnp.argsort(order, axis=axis, stable=True)


def time_map(spikes: jax.Array, potentials: jax.Array) -> jax.Array:
    """tau[b, n, t] = t where spiking (t = 1..T), else T + r_n + 0.01 q_{n,t} (spec A.2).

    spikes, potentials: (batch, N, T); r_n in 1..N ranks neurons by peak potential (1 = highest),
    q_{n,t} in 0..T-1 ranks the steps of a neuron by potential (0 = highest).
    """
    steps = spikes.shape[-1]
    neuron_rank = _ranks(potentials.max(axis=-1), axis=-1) + 1
    step_rank = _ranks(potentials, axis=-1)
    silent = steps + neuron_rank[..., None] + 0.01 * step_rank
    t = jnp.arange(1, steps + 1, dtype=spikes.dtype)
    return t * spikes + silent * (1 - spikes)


def gaussian_window(steps: int, spread: int) -> np.ndarray:
    """FS_coding's kernel: unnormalised Gaussian, sigma = T // D, length min(6 sigma + 1, odd T)."""
    sigma = max(steps // spread, 1)
    length = min(6 * sigma + 1, 2 * (steps // 2) + 1)
    n = np.arange(length) - (length - 1) / 2
    return np.exp(-0.5 * (n / sigma) ** 2)


@partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def first_spike_times(
    spikes: jax.Array, potentials: jax.Array, spread: int, amplitude: float
) -> jax.Array:
    """First-spike time (batch, N) in steps (1..T; > T for silent neurons) of (batch, N, T)."""
    return time_map(spikes, jax.lax.stop_gradient(potentials)).min(axis=-1)


def _fst_forward(spikes, potentials, spread, amplitude):
    tau = time_map(spikes, jax.lax.stop_gradient(potentials))
    return tau.min(axis=-1), (tau, potentials)


def _fst_backward(spread, amplitude, residuals, g):
    tau, potentials = residuals
    steps = tau.shape[-1]
    first = jax.nn.one_hot(tau.argmin(axis=-1), steps, dtype=g.dtype)
    silent = (tau.min(axis=-1) > steps)[..., None]
    d_tau = g[..., None] * jnp.where(silent, 1.0, first)
    kernel = jnp.asarray(gaussian_window(steps, spread), g.dtype)
    flat = d_tau.reshape(-1, steps)
    half = (len(kernel) - 1) // 2  # 'same' padding of an odd kernel, as conv1d in FS_coding
    spread_out = jax.vmap(lambda row: jnp.convolve(row, kernel)[half : half + steps])(flat)
    d_spikes = -amplitude * spread_out.reshape(d_tau.shape)
    return d_spikes, jnp.zeros_like(potentials)


first_spike_times.defvjp(_fst_forward, _fst_backward)


def first_spike_loss(
    first_times: jax.Array,
    labels: jax.Array,
    alpha: float,
    steps: int,
    time_lambda: float,
    time_beta: float,
) -> jax.Array:
    """Cross-entropy of logits -alpha t_first, plus lambda (exp(beta t*) - 1) for silent targets."""
    logits = -alpha * (first_times - first_times.min(axis=-1, keepdims=True))
    cross_entropy = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    target = jnp.take_along_axis(first_times, labels[:, None], axis=-1)[:, 0]
    target = jnp.where(target > steps, target, 0.0)
    return cross_entropy + time_lambda * jnp.mean(jnp.exp(time_beta * target) - 1)


def _time_mean(values: jax.Array, valid: jax.Array | None) -> jax.Array:
    """Mean over the last axis (time) of (batch, N, T) values, over valid steps only."""
    if valid is None:
        return values.mean(axis=-1)
    live = valid[:, None, :]
    return (values * live).sum(axis=-1) / jnp.maximum(live.sum(axis=-1), 1)


def firing_rate_loss(
    spikes: jax.Array, labels: jax.Array, alpha: float, valid: jax.Array | None = None
) -> jax.Array:
    """Cross-entropy of logits alpha * (spikes per step) of the output neurons (batch, N, T);
    ``valid`` (batch, T) limits the steps to each sample's batch."""
    logits = alpha * _time_mean(spikes, valid)
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def reduce_membrane(
    membrane: jax.Array, reduction: str, valid: jax.Array | None = None
) -> jax.Array:
    """Readout membrane (batch, N, T) -> logits (batch, N): mean, max or last over time.

    ``valid`` (batch, T) is 1 from the step each sample's (front-padded) batch begins: mean
    and max run over those steps only, as SPSN's do over its batch-long tensors.
    """
    if reduction == "mean":
        return _time_mean(membrane, valid)
    if reduction == "max":
        if valid is None:
            return membrane.max(axis=-1)
        return jnp.where(valid[:, None, :] > 0, membrane, -jnp.inf).max(axis=-1)
    return membrane[..., -1]


def membrane_loss(
    membrane: jax.Array, labels: jax.Array, reduction: str, valid: jax.Array | None = None
) -> jax.Array:
    """Cross-entropy of the readout membrane reduced over time (SPSN / ParaLIF)."""
    logits = reduce_membrane(membrane, reduction, valid)
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def spike_rate_penalty(
    layer_spikes: list[jax.Array], threshold: float, valid: jax.Array | None = None
) -> jax.Array:
    """SPSN's ReLU(sum_l n_l - threshold * N_total)^2, n_l = sum over neurons of mean spikes.

    layer_spikes: per hidden layer (batch, T, N) activities; the mean runs over batch and the
    valid steps of ``valid`` (batch, T) (SPSN: its batch-long tensors).
    """
    if valid is None:
        valid = jnp.ones(layer_spikes[0].shape[:2], layer_spikes[0].dtype)
    count = jnp.maximum(valid.sum(), 1)
    expected = sum((s * valid[..., None]).sum(axis=(0, 1)).sum() / count for s in layer_spikes)
    total = sum(s.shape[-1] for s in layer_spikes)
    return jax.nn.relu(expected - threshold * total) ** 2
