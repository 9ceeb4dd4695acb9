"""Spike functions with their surrogate or straight-through gradients (spec A.1, B.1, B.2)."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp


@partial(jax.custom_jvp, nondiff_argnums=(1, 2, 3))
def heaviside(u: jax.Array, inclusive: bool, function: str, scale: float) -> jax.Array:
    """H(u) (H(0) = 1 when ``inclusive``) whose derivative is a surrogate of u.

    fast_sigmoid: 1 / (scale |u| + 1)^2 (SuperSpike; FS_coding scale 5, SPSN's LIF 100);
    atan: (scale / 2) / (1 + (pi scale u / 2)^2) (ParaLIF's 'atan').
    """
    return (u >= 0 if inclusive else u > 0).astype(u.dtype)


@heaviside.defjvp
def _heaviside_jvp(inclusive, function, scale, primals, tangents):
    (u,), (du,) = primals, tangents
    if function == "fast_sigmoid":
        slope = 1.0 / (scale * jnp.abs(u) + 1.0) ** 2
    else:
        slope = (scale / 2) / (1 + (jnp.pi * scale * u / 2) ** 2)
    return heaviside(u, inclusive, function, scale), slope * du


def is_stochastic(firing: str) -> bool:
    """Whether a firing draws random numbers (it then takes uniforms in [0, 1) of the
    activity's shape): Sigmoid-Bernoulli, Gumbel-Softmax and ParaLIF's Bernoulli modes."""
    return firing in ("sigmoid_bernoulli", "gumbel_softmax") or (
        firing.startswith("paralif_") and firing.endswith("B")
    )


def bernoulli_straight_through(p: jax.Array, uniform: jax.Array) -> jax.Array:
    """s ~ Bernoulli(p) (s = 1 where ``uniform`` < p) whose backward pass is ds/dp := p (SPSN's
    straight-through); ``uniform``: independent uniforms in [0, 1) of p's shape."""
    sample = (uniform < jax.lax.stop_gradient(p)).astype(p.dtype)
    surrogate = p * p / 2
    return jax.lax.stop_gradient(sample - surrogate) + surrogate


def sigmoid_bernoulli(membrane: jax.Array, uniform: jax.Array) -> jax.Array:
    """SPSN-SB: s ~ Bernoulli(sigmoid(m)); backward ds/dp := p (so ds/dm = p^2 (1 - p))."""
    return bernoulli_straight_through(jax.nn.sigmoid(membrane), uniform)


def gumbel_softmax(membrane: jax.Array, uniform: jax.Array, temperature: float = 1.0) -> jax.Array:
    """SPSN-GS, hard: logits (m, -m) plus Gumbel noise; forward 1[y > 0.5], backward dy."""
    uniform = jnp.clip(uniform, 1e-7, 1 - 1e-7)
    logistic = jnp.log(uniform) - jnp.log1p(-uniform)  # g0 - g1 of two Gumbel draws
    soft = jax.nn.sigmoid((2 * membrane + logistic) / temperature)
    hard = (soft > 0.5).astype(membrane.dtype)
    return jax.lax.stop_gradient(hard - soft) + soft


#: ParaLIF's normalisations of the membrane (spec B.6), by spike-mode prefix.
_NORMALISE = {
    "": lambda m: m,
    "S": jax.nn.sigmoid,
    "T": jnp.tanh,
    "TR": lambda m: jax.nn.relu(jnp.tanh(m)),
}


def paralif_spikes(
    mode: str,
    membrane: jax.Array,
    theta: jax.Array | None,
    uniform: jax.Array | None,
    surrogate: tuple[str, float],
    valid: jax.Array | None = None,
) -> jax.Array:
    """ParaLIF spike functions on a whole membrane trace (batch, T, N) (spec B.6).

    ``mode`` is ParaLIF's name: a normalisation prefix ('' identity, S sigmoid, T tanh,
    TR relu(tanh)) and a generator: B Bernoulli(normalised m) (straight-through), T
    H(nu(m) - theta), D H(nu(m[t]) - nu(m[t-1]) - theta) with nu(m[-1]) = 0 ("the membrane
    rose by more than theta"); T and D use the surrogate. ``valid`` (batch, T): the steps
    before a front-padded batch begins are 0; D's nu(m[-1]) = 0 is then at the first valid
    step, as if the batch started there.
    """
    normalised = _NORMALISE[mode[:-1]](membrane)
    generator = mode[-1]
    if generator == "B":
        return bernoulli_straight_through(normalised, uniform)
    if generator == "D":
        previous = jnp.concatenate([jnp.zeros_like(normalised[:, :1]), normalised[:, :-1]], 1)
        if valid is not None:
            before = jnp.concatenate([jnp.zeros_like(valid[:, :1]), valid[:, :-1]], 1)
            previous = previous * before[..., None]
        normalised = normalised - previous
    return heaviside(normalised - theta, False, *surrogate)


def fire(
    firing: str,
    value: jax.Array,
    uniform: jax.Array | None,
    inclusive: bool = True,
    surrogate: tuple[str, float] = ("fast_sigmoid", 5.0),
    theta: jax.Array | None = None,
    valid: jax.Array | None = None,
) -> jax.Array:
    """A layer's activity from its threshold argument (threshold) or membrane (the others;
    ParaLIF modes need the whole trace (batch, T, N), ``theta`` and ``valid``)."""
    if firing == "threshold":
        return heaviside(value, inclusive, *surrogate)
    if firing.startswith("paralif_"):
        return paralif_spikes(
            firing.removeprefix("paralif_"), value, theta, uniform, surrogate, valid
        )
    if firing == "sigmoid_bernoulli":
        return sigmoid_bernoulli(value, uniform)
    if firing == "gumbel_softmax":
        return gumbel_softmax(value, uniform)
    if firing == "relu":
        return jax.nn.relu(value)
    if firing == "none":
        return jnp.zeros_like(value)
    raise ValueError(f"unknown firing '{firing}'")
