"""A feed-forward stack of gradient-neuron layers: weights, BatchNorm, dropout, forward pass.

Parameters are a pytree ``{"layers": [{"weight", "bias"?, "bn_scale"?, "bn_shift"?, "neuron"}]}``
(trained); ``constants`` hold each layer's non-trained neuron parameters and ``batch_stats`` the
BatchNorm running mean / variance (PyTorch semantics: momentum 0.1, eps 1e-5, unbiased running
variance).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from brainsnn.gradient.modelfile import NeuronModel, load_neuron
from brainsnn.gradient.neurons import NeuronLayer
from brainsnn.gradient.protocol import GradientNetwork, LayerSection

BN_MOMENTUM = 0.1
BN_EPS = 1e-5
#: Events per step of ``SparseInput.project``'s loop (at most; a divisor of the event count).
EVENT_CHUNK = 8192


@dataclass
class Forward:
    """Outputs of one forward pass, all (batch, T, N): hidden activities and the readout."""

    hidden: list[jax.Array]
    readout_spikes: jax.Array
    readout_membrane: jax.Array
    batch_stats: list[dict]
    valid: jax.Array  # (batch, T): 1 from each sample's batch start on


@partial(
    jax.tree_util.register_dataclass,
    data_fields=["rows", "units", "counts"],
    meta_fields=["shape"],
)
@dataclass(frozen=True)
class SparseInput:
    """Input counts (batch, steps, channels) given by their non-empty bins (``EventBatch``):
    flat row sample * steps + step (sorted), channel and count, each (capacity,)."""

    rows: jax.Array
    units: jax.Array
    counts: jax.Array
    shape: tuple[int, int, int]

    def project(self, weight: jax.Array) -> jax.Array:
        """counts @ weight (batch, steps, out) as a sum of weight rows per event, without the
        dense counts (a spike file's bins are ~1 % full).

        A loop over chunks of events: each gathers its weight rows and adds them to its rows
        of the output in place. On CPU this is several times faster, forward and backward,
        than one gather of every event's row, which writes and reads an (events, out) array."""
        batch, steps, _ = self.shape
        chunk = math.gcd(self.rows.shape[0], EVENT_CHUNK)

        def add(current, events):
            rows, units, counts = events
            added = current.at[rows].add(weight[units] * counts[:, None], indices_are_sorted=True)
            return added, None

        chunks = tuple(a.reshape(-1, chunk) for a in (self.rows, self.units, self.counts))
        initial = jnp.zeros((batch * steps, weight.shape[1]), weight.dtype)
        current, _ = jax.lax.scan(add, initial, chunks)
        return current.reshape(batch, steps, weight.shape[1])


def project(activity: jax.Array | SparseInput, weight: jax.Array) -> jax.Array:
    """A layer input (batch, T, in), dense or sparse, through weight (in, out)."""
    if isinstance(activity, SparseInput):
        return activity.project(weight)
    return activity @ weight


def step_mask(start: jax.Array | np.ndarray | None, batch: int, steps: int) -> jax.Array:
    """(batch, steps) float32: 1 from step ``start[b]`` on (all 1 when ``start`` is None)."""
    if start is None:
        return jnp.ones((batch, steps), jnp.float32)
    first = jnp.broadcast_to(jnp.asarray(start), (batch,))
    return (jnp.arange(steps)[None, :] >= first[:, None]).astype(jnp.float32)


class GradientStack:
    """The layers of a protocol's ``network`` section, for ``inputs`` input channels."""

    def __init__(
        self, network: GradientNetwork, inputs: int, models: tuple[NeuronModel, ...] | None = None
    ):
        """``models``: the layers' neuron models as the loaded experiment resolved them (read
        here from their files when not given)."""
        self.sections: list[LayerSection] = [*network.hidden, network.readout]
        self.init = network.init
        self.parallel = network.parallel
        self.inputs = inputs
        if models is None:
            models = tuple(load_neuron(s.neuron, s.firing) for s in self.sections)
        self.layers = [
            NeuronLayer(model, s.size, dict(s.parameters))
            for model, s in zip(models, self.sections, strict=True)
        ]
        self.groups = self._time_loop_groups(network.fuse_time_loops)

    def _runs_step_by_step(self, index: int) -> bool:
        return not (self.parallel and self.layers[index].parallel)

    def _time_loop_groups(self, fuse: bool) -> list[list[int]]:
        """Layer indices, in order, in runs that share one time loop (``fuse_time_loops``).

        A layer joins the previous layer's run when both run step by step, the previous one
        fires inside its step (threshold firing, so its spikes of step t drive this layer at
        step t) and this one has no BatchNorm (whose statistics need the whole input first)."""
        groups: list[list[int]] = []
        for index, section in enumerate(self.sections):
            if groups and fuse:
                previous = groups[-1][-1]
                if (
                    self._runs_step_by_step(previous)
                    and self._runs_step_by_step(index)
                    and self.layers[previous].fires_each_step
                    and not section.batch_norm
                ):
                    groups[-1].append(index)
                    continue
            groups.append([index])
        return groups

    @property
    def sizes(self) -> list[int]:
        return [self.inputs] + [s.size for s in self.sections]

    def init_state(self, seed: int) -> tuple[dict, list[dict], list[dict]]:
        """(trainable parameters, per-layer constants, per-layer BatchNorm statistics)."""
        rng = np.random.default_rng(seed)
        layers, constants, stats = [], [], []
        for section, layer, fan_in in zip(self.sections, self.layers, self.sizes, strict=False):
            if self.init == "xavier_uniform":
                bound = np.sqrt(6.0 / (fan_in + section.size))
            else:
                bound = np.sqrt(3.0 / fan_in)
            entry = {"weight": jnp.asarray(rng.uniform(-bound, bound, (fan_in, section.size)))}
            if section.bias:
                entry["bias"] = jnp.zeros(section.size)
            if section.batch_norm:
                entry["bn_scale"] = jnp.ones(section.size)
                entry["bn_shift"] = jnp.zeros(section.size)
            trainable, fixed = layer.init_parameters(rng)
            entry["neuron"] = trainable
            layers.append(jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), entry))
            constants.append(fixed)
            stats.append(
                {"mean": jnp.zeros(section.size), "var": jnp.ones(section.size)}
                if section.batch_norm
                else {}
            )
        return {"layers": layers}, constants, stats

    def project(self, params: dict) -> dict:
        """Clamp ``unit_interval`` neuron parameters into [0, 1] after an optimiser step, as
        FS_coding clamps AdLIF's a and b in place (so they never get stuck outside)."""
        layers = []
        for layer, entry in zip(self.layers, params["layers"], strict=True):
            neuron = {
                name: jnp.clip(raw, 0.0, 1.0)
                if layer.model.spec.parameters[name].constraint == "unit_interval"
                else raw
                for name, raw in entry["neuron"].items()
            }
            layers.append({**entry, "neuron": neuron})
        return {**params, "layers": layers}

    def draw_noise(
        self, rng: np.random.Generator, batch: int, steps: int
    ) -> list[np.ndarray | None]:
        """Uniforms in [0, 1) float32 (batch, steps, size) for each stochastic layer, else None."""
        return [
            rng.random((batch, steps, section.size), dtype=np.float32) if layer.stochastic else None
            for section, layer in zip(self.sections, self.layers, strict=True)
        ]

    def _batch_norm(self, current, entry, stats, train: bool, valid):
        if train:  # statistics over the valid (batch, step) entries only
            live = valid[..., None]
            count = valid.sum()
            mean = (current * live).sum(axis=(0, 1)) / count
            var = (((current - mean) * live) ** 2).sum(axis=(0, 1)) / count
            stats = {
                "mean": (1 - BN_MOMENTUM) * stats["mean"] + BN_MOMENTUM * mean,
                "var": (1 - BN_MOMENTUM) * stats["var"]
                + BN_MOMENTUM * var * count / jnp.maximum(count - 1, 1),
            }
        else:
            mean, var = stats["mean"], stats["var"]
        normalised = (current - mean) / jnp.sqrt(var + BN_EPS)
        return normalised * entry["bn_scale"] + entry["bn_shift"], jax.lax.stop_gradient(stats)

    def forward(
        self,
        params: dict,
        constants: list[dict],
        batch_stats: list[dict],
        x: jax.Array | SparseInput,
        key: jax.Array,
        train: bool,
        start: jax.Array | None = None,
        noise: list[jax.Array | None] | None = None,
    ) -> Forward:
        """Run the stack on input counts x (batch, T, inputs), dense or sparse.

        ``noise``: per layer, the uniforms of a stochastic firing (``draw_noise``; NumPy's
        generator is several times faster than JAX's on CPU) or None; without it they are
        drawn from ``key``, which also draws the dropout masks.

        ``start`` (batch,): each sample's batch begins at that step (a front-padded batch at
        the end of a longer frame); before it nothing runs: no input current, no BatchNorm
        statistics, states held at zero, no spikes (default: every sample starts at step 0).
        """
        valid = step_mask(start, x.shape[0], x.shape[1])
        live = valid[..., None]
        activity, hidden, new_stats = x, [], []
        keys = jax.random.split(key, 2 * len(self.layers))
        last_layer = len(self.layers) - 1
        masks: list[jax.Array | None] = []  # per layer, its dropout mask (batch, size)
        for index, section in enumerate(self.sections):
            dropout = train and section.dropout > 0
            shape = (x.shape[0], section.size)
            masks.append(
                jax.random.bernoulli(keys[2 * index + 1], 1 - section.dropout, shape)
                if dropout
                else None
            )
        for group in self.groups:
            first, last = group[0], group[-1]
            entry = params["layers"][first]
            current = self._weighted(params, first, activity)
            stats = batch_stats[first]
            if self.sections[first].batch_norm:
                current, stats = self._batch_norm(current, entry, stats, train, valid)
            new_stats.append(stats)
            new_stats.extend(batch_stats[index] for index in group[1:])
            if noise is not None:
                uniform = noise[last]
            elif self.layers[last].stochastic:
                size = self.sections[last].size
                uniform = jax.random.uniform(keys[2 * last], (*x.shape[:2], size))
            else:
                uniform = None
            if len(group) == 1:
                values = self.layers[first].effective(entry["neuron"], constants[first])
                activity, membrane = self.layers[first](
                    current * live, values, uniform, self.parallel, valid
                )
                activities = [activity]
            else:
                activities, membrane = self._fused(
                    params, constants, group, current * live, valid, masks, uniform
                )
            hidden.extend(
                a for index, a in zip(group, activities, strict=True) if index < last_layer
            )
            activity = self._dropout(activities[-1], last, masks)
        return Forward(hidden, activity, membrane, new_stats, valid)

    def _weighted(self, params: dict, index: int, activity: jax.Array | SparseInput) -> jax.Array:
        """Layer ``index``'s input current: the previous activity (..., in), dense or sparse,
        through its weights (in, out), plus its bias where it has one."""
        entry = params["layers"][index]
        current = project(activity, entry["weight"])
        return current + entry["bias"] if self.sections[index].bias else current

    def _dropout(self, activity: jax.Array, index: int, masks: list[jax.Array | None]) -> jax.Array:
        """Layer ``index``'s activity, (batch, T, size) or one step's (batch, size), through its
        dropout mask (batch, size), scaled by 1 / keep; unchanged where it has none."""
        mask = masks[index]
        if mask is None:
            return activity
        if activity.ndim == 3:
            mask = mask[:, None, :]
        return activity * mask / (1 - self.sections[index].dropout)

    def _fused(
        self,
        params: dict,
        constants: list[dict],
        group: list[int],
        current: jax.Array,
        valid: jax.Array,
        masks: list[jax.Array | None],
        uniform: jax.Array | None,
    ) -> tuple[list[jax.Array], jax.Array]:
        """One ``lax.scan`` over steps for consecutive layers (``_time_loop_groups``).

        The first layer takes ``current`` (batch, T, N); each next one, at every step, the
        previous layer's spikes of that step (after its dropout) through its weights. Returns
        every layer's activity (batch, T, N) and the last one's membrane: the same values as
        one loop per layer, up to the summation order of the per-step products (float32)."""
        values = [
            self.layers[index].effective(params["layers"][index]["neuron"], constants[index])
            for index in group
        ]

        def step(carry, inputs):
            x_t, valid_t = inputs
            live = valid_t[:, None]
            states, activities = [], []
            for position, index in enumerate(group):
                if position:
                    previous = group[position - 1]
                    spikes = self._dropout(activities[-1], previous, masks)
                    x_t = self._weighted(params, index, spikes) * live
                state, activity, membrane = self.layers[index].step(
                    carry[position], x_t, live, values[position]
                )
                states.append(state)
                activities.append(activity)
            return states, (activities, membrane)

        batch = current.shape[0]
        initial = [self.layers[index].initial_state(batch, current.dtype) for index in group]
        _, (activities, membrane) = jax.lax.scan(
            step, initial, (jnp.swapaxes(current, 0, 1), jnp.swapaxes(valid, 0, 1))
        )
        activities = [jnp.swapaxes(a, 0, 1) for a in activities]
        membrane = jnp.swapaxes(membrane, 0, 1)
        last = self.layers[group[-1]]
        activities[-1] = last.finish(activities[-1], membrane, values[-1], uniform, valid)
        return activities, membrane

    def inference_weights(
        self, params: dict, constants: list[dict], batch_stats: list[dict]
    ) -> list[dict[str, np.ndarray]]:
        """Per layer: weight (in, out) and bias (out,) with BatchNorm folded in, and the
        effective neuron parameters (out,): what the Brian2 re-simulation needs (float64)."""
        exported = []
        for index, (section, layer) in enumerate(zip(self.sections, self.layers, strict=True)):
            entry = params["layers"][index]
            weight = np.asarray(entry["weight"], np.float64)
            bias = np.asarray(entry.get("bias", np.zeros(section.size)), np.float64)
            if section.batch_norm:
                stats = batch_stats[index]
                gain = np.asarray(entry["bn_scale"], np.float64) / np.sqrt(
                    np.asarray(stats["var"], np.float64) + BN_EPS
                )
                shift = np.asarray(entry["bn_shift"], np.float64)
                bias = (bias - np.asarray(stats["mean"], np.float64)) * gain + shift
                weight = weight * gain
            values = layer.effective(entry["neuron"], constants[index])
            exported.append(
                {
                    "weight": weight,
                    "bias": bias,
                    "parameters": {k: np.asarray(v, np.float64) for k, v in values.items()},
                }
            )
        return exported
