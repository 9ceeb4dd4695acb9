"""JAX layers of gradient neurons: model-file code printed by sympy, run sequentially or by FFT.

``NeuronLayer`` turns a :class:`~brainsnn.gradient.modelfile.NeuronModel` into a function from the
layer input x (batch, steps, neurons) to its activity (spikes, ReLU values or nothing) and its
membrane trace. Models with a reset (or any non-linear step) run as a ``lax.scan`` over steps;
reset-free linear models (SPSN) are a causal filter whose kernel is the impulse response of the
same step code, applied to all steps at once with real FFTs zero-padded to 2T (spec B.2).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import sympy

from brainsnn.gradient.modelfile import INPUT_NAME, NeuronModel, Statement, initial_parameter
from brainsnn.gradient.spiking import fire, is_stochastic

#: Brian2 function names (as Brian2's sympy parser writes them) in JAX.
_BRIAN_FUNCTIONS = {
    "clip": jnp.clip,
    "int_": lambda value: jnp.asarray(value, dtype=jnp.float32),
    "abs": jnp.abs,
    "sign": jnp.sign,
}

Environment = dict[str, jax.Array]


def jax_expression(expression: sympy.Expr) -> Callable[[Environment], jax.Array]:
    """A function of a name -> array environment that evaluates a sympy expression in JAX."""
    names = sorted(str(symbol) for symbol in expression.free_symbols)
    function = sympy.lambdify(
        [sympy.Symbol(name) for name in names], expression, modules=[_BRIAN_FUNCTIONS, "jax"]
    )
    return lambda env: function(*(env[name] for name in names))


def _run_statements(
    statements: list[tuple[str, Callable[[Environment], jax.Array]]], env: Environment
) -> Environment:
    env = dict(env)
    for target, function in statements:
        env[target] = jnp.broadcast_to(function(env), env[INPUT_NAME].shape)
    return env


def _compiled(statements: list[Statement]) -> list[tuple[str, Callable]]:
    return [(s.target, jax_expression(s.expression)) for s in statements]


@dataclass
class NeuronLayer:
    """One layer of ``size`` neurons of a model, with protocol overrides of its parameters."""

    model: NeuronModel
    size: int
    overrides: dict[str, float]

    def __post_init__(self) -> None:
        self._step = _compiled(self.model.step)
        self._reset = _compiled(self.model.reset)
        threshold = self.model.threshold
        self._threshold = None if threshold is None else jax_expression(threshold[0])
        self._inclusive = bool(threshold and threshold[1])
        self.parallel = self.model.is_linear()
        self.stochastic = is_stochastic(self.model.firing)

    # --- parameters --------------------------------------------------------------------------

    def init_parameters(self, rng: np.random.Generator) -> tuple[dict, dict]:
        """(trainable raw values, constants), each name -> float32 array of shape (size,)."""
        trainable, constants = {}, {}
        for name, spec in self.model.spec.parameters.items():
            value = self.overrides.get(name, spec.value)
            if spec.trainable == "layer":
                initial = initial_parameter(value, 1, rng)
            else:
                initial = initial_parameter(value, self.size, rng)
            if spec.trainable is None:
                constants[name] = jnp.asarray(initial, jnp.float32)
                continue
            if spec.constraint == "sigmoid":
                if not ((initial > 0) & (initial < 1)).all():
                    raise ValueError(f"{name}: a sigmoid-constrained value must be in (0, 1)")
                initial = np.log(initial / (1 - initial))
            trainable[name] = jnp.asarray(initial, jnp.float32)
        return trainable, constants

    def effective(self, trainable: dict, constants: dict) -> dict[str, jax.Array]:
        """Parameter values as the model code sees them (constraints applied), per neuron."""
        values = dict(constants)
        for name, raw in trainable.items():
            constraint = self.model.spec.parameters[name].constraint
            if constraint == "sigmoid":
                raw = jax.nn.sigmoid(raw)
            elif constraint == "unit_interval":
                raw = jnp.clip(raw, 0.0, 1.0)
            elif constraint == "positive":
                raw = jax.nn.relu(raw)
            values[name] = raw
        return {name: jnp.broadcast_to(v, (self.size,)) for name, v in values.items()}

    # --- dynamics ----------------------------------------------------------------------------

    def _threshold_spike(self, env: Environment) -> jax.Array:
        surrogate = self.model.spec.surrogate
        return fire(
            "threshold",
            self._threshold(env),
            uniform=None,
            inclusive=self._inclusive,
            surrogate=(surrogate.function, surrogate.scale),
        )

    @property
    def fires_each_step(self) -> bool:
        """Whether the spikes come out of the step loop (threshold firing), so that a next
        layer can take them at the same step; other firings draw from the whole trace."""
        return self.model.firing == "threshold"

    def initial_state(self, batch: int, dtype=jnp.float32) -> Environment:
        """Every state variable at zero, (batch, size)."""
        return {name: jnp.zeros((batch, self.size), dtype) for name in self.model.spec.state}

    def step(
        self, carry: Environment, x_t: jax.Array, live: jax.Array, parameters: dict
    ) -> tuple[Environment, jax.Array, jax.Array]:
        """One time step for a batch: state (batch, size) per name, input x_t (batch, size),
        live (batch, 1) -> (new state, activity, membrane), both (batch, size).

        Where ``live`` is 0 the state keeps its value and nothing fires (the steps before a
        front-padded batch begins). The activity is the spikes for threshold firing, else the
        membrane (``finish`` draws the spikes from the whole trace afterwards)."""
        env = _run_statements(self._step, {**parameters, **carry, INPUT_NAME: x_t})
        membrane = env[self.model.spec.membrane] * live  # after the step, before the reset
        if self.fires_each_step:
            spike = self._threshold_spike(env) * live
            held = jax.lax.stop_gradient(spike)
            for target, function in self._reset:
                env[target] = env[target] + held * (function(env) - env[target])
            if self.model.spec.spike is not None:
                env[self.model.spec.spike] = spike
        new_state = {
            name: jnp.where(live > 0, env[name], carry[name]) for name in self.model.spec.state
        }
        return new_state, spike if self.fires_each_step else membrane, membrane

    def finish(
        self,
        activity: jax.Array,
        membrane: jax.Array,
        parameters: dict,
        noise: jax.Array | None,
        valid: jax.Array,
    ) -> jax.Array:
        """The layer's activity (batch, T, size) from the traces of its step loop."""
        if self.fires_each_step:
            return activity
        return self._fire_trace(membrane, parameters, noise, valid)

    def _sequential(
        self, x: jax.Array, parameters: dict, noise: jax.Array | None, valid: jax.Array | None
    ):
        """lax.scan over steps: x (batch, T, N) -> (activity, membrane), both (batch, T, N).

        ``valid`` (batch, T): where it is 0 the state stays at its initial zeros and nothing
        fires (the steps before a front-padded batch begins)."""
        if valid is None:
            valid = jnp.ones(x.shape[:2], x.dtype)

        def step(carry, inputs):
            x_t, valid_t = inputs
            carry, activity, membrane = self.step(carry, x_t, valid_t[:, None], parameters)
            return carry, (activity, membrane)

        _, (activity, membrane) = jax.lax.scan(
            step,
            self.initial_state(x.shape[0], x.dtype),
            (jnp.swapaxes(x, 0, 1), jnp.swapaxes(valid, 0, 1)),
        )
        activity, membrane = jnp.swapaxes(activity, 0, 1), jnp.swapaxes(membrane, 0, 1)
        return self.finish(activity, membrane, parameters, noise, valid), membrane

    def _fire_trace(
        self, membrane: jax.Array, parameters: dict, noise: jax.Array | None, valid: jax.Array
    ):
        surrogate = self.model.spec.surrogate
        activity = fire(
            self.model.firing,
            membrane,
            uniform=noise,
            surrogate=(surrogate.function, surrogate.scale) if surrogate else ("atan", 1.0),
            theta=parameters.get("theta"),
            valid=valid,
        )
        return activity * valid[..., None]

    def _linear_step(self, parameters: dict, state: jax.Array, x: jax.Array) -> jax.Array:
        """One step of the model code on a state (N, S) (columns in state order), input (N,)."""
        names = list(self.model.spec.state)
        env = {**parameters, **{n: state[:, i] for i, n in enumerate(names)}, INPUT_NAME: x}
        env = _run_statements(self._step, env)
        return jnp.stack([env[name] for name in names], axis=-1)

    def kernel(self, parameters: dict, steps: int) -> jax.Array:
        """Impulse response (steps, N) of the membrane to x = delta at step 0 (linear models).

        The step code of a linear model is s[t] = A s[t-1] + B x[t] per neuron; A and B are read
        off the code itself (its response to unit states and a unit input), and the kernel
        h[j] = (A^j B)[membrane] comes from a parallel prefix product of A (log T depth), not a
        T-step loop.
        """
        count = len(self.model.spec.state)
        zeros = jnp.zeros((self.size, count))
        drive = self._linear_step(parameters, zeros, jnp.ones(self.size))  # B: (N, S)
        columns = [
            self._linear_step(parameters, zeros.at[:, j].set(1.0), jnp.zeros(self.size))
            for j in range(count)
        ]
        transition = jnp.stack(columns, axis=-1)  # A: (N, S, S), A[:, :, j] = response to e_j
        identity = jnp.broadcast_to(jnp.eye(count), transition.shape)
        factors = jnp.concatenate(
            [identity[None], jnp.broadcast_to(transition, (steps - 1, *transition.shape))]
        )
        powers = jax.lax.associative_scan(jnp.matmul, factors)  # A^j, (steps, N, S, S)
        response = jnp.einsum("tnij,nj->tni", powers, drive)
        return response[..., list(self.model.spec.state).index(self.model.spec.membrane)]

    def _parallel(
        self, x: jax.Array, parameters: dict, noise: jax.Array | None, valid: jax.Array | None
    ):
        steps = x.shape[1]
        kernel = self.kernel(parameters, steps)
        size = 2 * steps
        if valid is None:
            valid = jnp.ones(x.shape[:2], x.dtype)
        live = valid[..., None]
        # a causal filter of an input that is 0 before the batch starts: the state stays 0 there
        spectrum = jnp.fft.rfft(x * live, n=size, axis=1) * jnp.fft.rfft(kernel, n=size, axis=0)
        membrane = jnp.fft.irfft(spectrum, n=size, axis=1)[:, :steps].astype(x.dtype) * live
        return self._fire_trace(membrane, parameters, noise, valid), membrane

    def __call__(
        self,
        x: jax.Array,
        parameters: dict,
        noise: jax.Array | None,
        parallel: bool | None = None,
        valid: jax.Array | None = None,
    ) -> tuple[jax.Array, jax.Array]:
        """Run the layer on x (batch, T, N); ``parameters`` are effective values (size,);
        ``noise``: uniforms in [0, 1) of the activity's shape (batch, T, N) for a stochastic
        firing (``spiking.is_stochastic``), else None;
        ``valid`` (batch, T) is 0 on the steps before each sample's batch begins (default:
        all steps are valid)."""
        use_parallel = self.parallel if parallel is None else parallel and self.parallel
        if use_parallel:
            return self._parallel(x, parameters, noise, valid)
        return self._sequential(x, parameters, noise, valid)
