"""Optimisers with PyTorch's exact update rules where optax's differ."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class AmsgradState(NamedTuple):
    count: jax.Array
    mu: optax.Updates
    nu: optax.Updates
    nu_max: optax.Updates


def scale_by_torch_amsgrad(
    b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
) -> optax.GradientTransformation:
    """PyTorch's Adam(amsgrad=True) direction (FS_coding's optimiser, spec A.4).

    PyTorch keeps the running maximum of the RAW second moment and bias-corrects it when
    dividing: mu_hat / (sqrt(max nu) / sqrt(1 - b2^t) + eps). optax.amsgrad takes the maximum of
    the bias-corrected moment instead, which keeps a large first-step value for ever (effective
    steps can be ~30x smaller when the first gradients are the largest).
    """

    def init(params: optax.Params) -> AmsgradState:
        zeros = jax.tree.map(jnp.zeros_like, params)
        return AmsgradState(jnp.zeros([], jnp.int32), zeros, zeros, zeros)

    def update(updates, state: AmsgradState, params=None):
        del params
        count = state.count + 1
        mu = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, state.mu, updates)
        nu = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, state.nu, updates)
        nu_max = jax.tree.map(jnp.maximum, state.nu_max, nu)
        first = 1 - b1 ** count.astype(jnp.float32)
        second = jnp.sqrt(1 - b2 ** count.astype(jnp.float32))
        direction = jax.tree.map(
            lambda m, v: (m / first) / (jnp.sqrt(v) / second + eps), mu, nu_max
        )
        return direction, AmsgradState(count, mu, nu, nu_max)

    return optax.GradientTransformation(init, update)


def torch_amsgrad(learning_rate: float | optax.Schedule) -> optax.GradientTransformation:
    """Adam with amsgrad=True as in PyTorch, at ``learning_rate``."""
    return optax.chain(scale_by_torch_amsgrad(), optax.scale_by_learning_rate(learning_rate))
