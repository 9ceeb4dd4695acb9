"""Re-simulate a trained gradient network in Brian2 (test phase), from the same model files.

Each layer is a ``NeuronGroup`` whose variables are its model's state variables, the input ``x``,
``bias`` and the model parameters (one value per neuron, from
:meth:`~brainsnn.gradient.network.GradientStack.inference_weights`). The model's ``step`` text runs
every step as a ``run_regularly``; ``threshold`` and ``reset`` are the group's (``reset`` also sets
the model's ``spike`` variable to 1). Input counts come from a 2-D ``TimedArray`` over all samples
concatenated in time (sample s, step t at time (s T + t) dt); an input group's ``active`` event
(``count > 0``) drives ``x_post += weight * count_pre``, hidden spikes ``x_post += weight`` (dense
all-to-all synapses); ``x`` holds the bias before any input arrives, so x = bias + this step's
weighted input. All samples run in ONE ``run()``; a ``run_regularly`` every T steps zeroes all
state at each sample start. A 1-D ``TimedArray`` ``step_valid`` is 0 on the steps before a
sample's (front-padded) batch begins: there the step code's result is multiplied by 0 (the state
stays at its zeros) and the threshold cannot be crossed, as in the JAX forward pass.

Scheduling (one step; every object has an explicit slot and order, see ``ORDER``)::

    start   0        per-sample reset: all state = 0 (clock of dt = T steps)
    groups  0        input event 'active' (count > 0)
    groups  10k + 0  synapses into layer k (zero delay: this step's counts / spikes), x += ...
            10k + 1  layer k: model step code, then x = bias (the next step's input starts there)
            10k + 2  layer k: threshold
            10k + 3  readout membrane StateMonitor; 'trace' event of the traced layer
            10k + 4  trace EventMonitor
            10k + 5  layer k: reset (and the model's spike variable = 1)
    end              SpikeMonitors

This is the JAX forward pass step by step: layer k sees layer k-1's spikes of the same step, and
the recorded membrane is the value after the step code and before the reset.

Devices: ``runtime`` rebuilds the network per call; ``cpp`` (cpp_standalone) compiles once per
layout (models, sizes, number of samples, steps, traced layer) through
:func:`brainsnn.engine.backends.make_runner`; inputs, weights, biases, neuron parameters and
trace choices are handed in with ``run_args``, so new weights or inputs never recompile. A
different number of samples is a different layout (the run duration is compiled in).
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import brian2 as b2
import numpy as np

from brainsnn.core.builds import build_root
from brainsnn.core.errors import ConfigError
from brainsnn.devices.registry import get_device
from brainsnn.devices.runners import ChunkValues, DeviceRunner, make_runner
from brainsnn.engine.layout import build_key
from brainsnn.engine.traces import TraceRecord
from brainsnn.gradient.modelfile import NeuronModel
from brainsnn.gradient.network import GradientStack, step_mask
from brainsnn.gradient.spiking import is_stochastic

#: One time step of the simulation; the model code counts in steps, so its size does not matter.
STEP = 1 * b2.ms

SUPPORTED = (
    "re-simulation supports hidden layers with firing threshold, sigmoid_bernoulli, "
    "gumbel_softmax or a ParaLIF mode without D (paralif_T, ST, TT, TRT, TRB), and readouts "
    "with firing threshold or none"
)

#: ParaLIF's normalisations nu(m) in Brian2 code (spec B.6), by spike-mode prefix.
_PARALIF_NORMALISE = {
    "": "{m}",
    "S": "1 / (1 + exp(-({m})))",
    "T": "tanh({m})",
    "TR": "clip(tanh({m}), 0, inf)",
}


def firing_condition(model: NeuronModel) -> str | None:
    """The Brian2 threshold condition of a layer's firing, None for no spikes (firing none)
    or a firing the re-simulation cannot run step by step (ReLU, ParaLIF D modes).

    Stochastic firings draw with Brian2's ``rand()``: Sigmoid-Bernoulli fires with probability
    sigmoid(m); the hard Gumbel-Softmax fires when 2 m + logistic noise > 0, i.e. with
    probability sigmoid(2 m); ParaLIF B with probability nu(m), T when nu(m) > theta.
    """
    firing, m = model.firing, model.spec.membrane
    if firing == "threshold":
        return model.spec.threshold
    if firing == "sigmoid_bernoulli":
        return f"rand() < 1 / (1 + exp(-({m})))"
    if firing == "gumbel_softmax":
        return f"rand() < 1 / (1 + exp(-2 * ({m})))"
    if firing.startswith("paralif_") and firing[-1] in "TB":
        nu = _PARALIF_NORMALISE[firing.removeprefix("paralif_")[:-1]].format(m=m)
        return f"{nu} > theta" if firing[-1] == "T" else f"rand() < {nu}"
    return None


#: The synaptic weight variable (a name no model may use: models do have a 'w').
WEIGHT = "weight"
#: Variables the re-simulation adds to every layer group.
ENGINE_NAMES = {"x", "bias", "traced", "trace_stop", "step_valid", "rng_seed", WEIGHT}

#: Orders within the 'groups' slot: layer k (0-based) uses 10 (k + 1) + offset.
ORDER = {"synapses": 0, "step": 1, "threshold": 2, "record": 3, "trace_record": 4, "reset": 5}


@dataclass(frozen=True)
class TraceRequest:
    """Record ``potential`` (and ``threshold``) of a few neurons of one layer, every step of the
    first ``samples`` samples. ``layer``: index over hidden layers then the readout (-1 = readout);
    ``potential`` None = the model's membrane; ``threshold`` None = 'theta' if the model has it.
    ``step_seconds``: duration of one step (the data's bin width) for the record's time axis."""

    neurons: tuple[int, ...]
    samples: int = 3
    layer: int = -1
    potential: str | None = None
    threshold: str | None = None
    step_seconds: float = 1e-3

    @classmethod
    def from_section(cls, section: object, step_seconds: float = 1e-3) -> TraceRequest:
        """From a protocol ``TraceSection`` (readout neurons, ``potential``, ``threshold``)."""
        return cls(
            neurons=tuple(section.neurons),
            samples=section.samples,
            layer=-1,
            potential=section.potential,
            threshold=section.threshold,
            step_seconds=step_seconds,
        )


@dataclass
class Resimulation:
    """What the Brian2 re-simulation recorded, per sample (n samples, N readout neurons, T steps).

    ``readout_membrane`` is the readout's membrane after the step code and before the reset (what
    the JAX forward pass returns as the membrane); ``readout_spikes`` are all 0 for firing none.
    """

    readout_spikes: np.ndarray  # (n, N, T) uint8
    readout_membrane: np.ndarray  # (n, N, T) float64
    hidden_spike_counts: np.ndarray  # (n, hidden layers) int64, spikes per sample per layer
    device: str
    trace: TraceRecord | None = None


@dataclass(frozen=True)
class _LayerSpec:
    model: NeuronModel
    size: int

    @property
    def fires(self) -> bool:
        return self.model.firing != "none"

    @property
    def condition(self) -> str | None:
        return firing_condition(self.model)


@dataclass(frozen=True)
class _Layout:
    """Everything compiled into a build: a new layout is a new standalone build."""

    inputs: int
    layers: tuple[_LayerSpec, ...]
    samples: int
    steps: int
    trace_layer: int | None  # 0-based layer index, None = no traces
    trace_variables: tuple[str, ...] = ()

    @property
    def stochastic(self) -> bool:
        """Whether a layer draws random numbers (then the build is seeded per run)."""
        return any(is_stochastic(layer.model.firing) for layer in self.layers)

    def key(self) -> str:
        description = {
            "inputs": self.inputs,
            "layers": [
                [layer.model.spec.model_dump(), layer.model.firing, layer.size]
                for layer in self.layers
            ],
            "samples": self.samples,
            "steps": self.steps,
            "trace": [self.trace_layer, list(self.trace_variables)],
        }
        return build_key(description, "gradient-")


@dataclass
class _Built:
    """Brian2 objects of a re-simulation network (a ``BuiltNetwork`` for the device runners)."""

    network: b2.Network
    namespace: dict[str, object]
    duration: b2.Quantity
    layout: _Layout
    counts: b2.TimedArray
    valid: b2.TimedArray
    groups: list[b2.NeuronGroup]
    synapses: list[b2.Synapses]
    membrane: b2.StateMonitor
    spikes: list[b2.SpikeMonitor | None]
    trace: b2.EventMonitor | None = None
    seed_variable: tuple[b2.Group, str] | None = None  # deterministic: no random numbers


def _check_layers(stack: GradientStack) -> tuple[_LayerSpec, ...]:
    specs = []
    for index, layer in enumerate(stack.layers):
        readout = index == len(stack.layers) - 1
        firing = layer.model.firing
        runnable = firing_condition(layer.model) is not None
        if (readout and firing not in ("threshold", "none")) or (not readout and not runnable):
            where = "readout" if readout else f"hidden layer {index + 1}"
            raise ConfigError(
                f"{where} ({layer.model.spec.name}) has firing '{layer.model.firing}': {SUPPORTED}"
            )
        clash = (set(layer.model.spec.state) | set(layer.model.spec.parameters)) & (
            ENGINE_NAMES - {"x"}
        )
        if clash:
            raise ConfigError(
                f"{layer.model.path}: re-simulation reserves the name(s) {sorted(clash)}"
            )
        specs.append(_LayerSpec(layer.model, layer.size))
    return tuple(specs)


def _equations(model: NeuronModel, traced: bool, seeded: bool = False) -> str:
    lines = [f"{name} : 1" for name in model.spec.state]
    lines += ["x : 1  # this step's input (bias + weighted spikes)", "bias : 1 (constant)"]
    lines += [f"{name} : 1 (constant)" for name in model.spec.parameters]
    if traced:
        lines += ["traced : 1 (constant)", "trace_stop : integer (shared, constant)"]
    if seeded:  # seeds the random numbers of the stochastic firings (run_args)
        lines += ["rng_seed : 1 (shared, constant)"]
    return "\n".join(lines) + "\n"


def _slot(layer: int, what: str) -> int:
    return 10 * (layer + 1) + ORDER[what]


def _build(layout: _Layout) -> _Built:
    """The Brian2 network of a layout, with zero inputs, weights and parameters (set per run)."""
    clock = b2.Clock(dt=STEP, name="resim_clock")
    sample_clock = b2.Clock(dt=layout.steps * STEP, name="resim_sample_clock")
    counts = b2.TimedArray(
        np.zeros((layout.samples * layout.steps, layout.inputs)), dt=STEP, name="resim_counts"
    )
    valid = b2.TimedArray(np.ones(layout.samples * layout.steps), dt=STEP, name="resim_valid")
    inputs = b2.NeuronGroup(
        layout.inputs,
        "count = input_counts(t, i) : 1",
        events={"active": "count > 0"},
        clock=clock,
        name="resim_inputs",
    )
    inputs.set_event_schedule("active", when="groups", order=0)
    objects: list[object] = [inputs]
    groups: list[b2.NeuronGroup] = []
    synapses: list[b2.Synapses] = []
    spikes: list[b2.SpikeMonitor | None] = []
    membrane = trace = None
    source, source_size = inputs, layout.inputs
    for index, layer in enumerate(layout.layers):
        spec = layer.model.spec
        traced = index == layout.trace_layer
        kwargs = {}
        if layer.fires:
            reset = [spec.reset or ""] + ([f"{spec.spike} = 1"] if spec.spike else [])
            kwargs = {
                "threshold": f"({layer.condition}) and step_valid(t) > 0.5",
                "reset": "\n".join(reset).strip() or None,
            }
        events = {"trace": "traced > 0.5 and t < trace_stop * dt"} if traced else None
        group = b2.NeuronGroup(
            layer.size,
            _equations(layer.model, traced, seeded=index == 0 and layout.stochastic),
            events=events,
            clock=clock,
            name=f"resim_layer{index}",
            **kwargs,
        )
        zero = "\n".join(f"{name} = 0" for name in spec.state)
        group.run_regularly(
            zero, clock=sample_clock, when="start", order=0, name=f"resim_layer{index}_zero"
        )
        hold = "\n".join(f"{name} = {name} * step_valid(t)" for name in spec.state)
        group.run_regularly(
            f"{spec.step.rstrip()}\n{hold}\nx = bias  # the next step's input starts at the bias",
            clock=clock,
            when="groups",
            order=_slot(index, "step"),
            name=f"resim_layer{index}_step",
        )
        if layer.fires:
            group.set_event_schedule("spike", when="groups", order=_slot(index, "threshold"))
            if "spike" in group.resetter:
                group.resetter["spike"].when = "groups"
                group.resetter["spike"].order = _slot(index, "reset")
        on_pre = f"x_post += {WEIGHT} * count_pre" if index == 0 else f"x_post += {WEIGHT}"
        syn = b2.Synapses(
            source,
            group,
            f"{WEIGHT} : 1 (constant)",
            on_pre=on_pre,
            on_event="active" if index == 0 else "spike",
            clock=clock,
            name=f"resim_synapses{index}",
        )
        syn.connect(
            i=np.repeat(np.arange(source_size), layer.size),
            j=np.tile(np.arange(layer.size), source_size),
        )
        syn.pre.when = "groups"
        syn.pre.order = _slot(index, "synapses")
        readout = index == len(layout.layers) - 1
        monitor = None
        if layer.fires:
            monitor = b2.SpikeMonitor(group, record=True, when="end", name=f"resim_spikes{index}")
            objects.append(monitor)
        spikes.append(monitor)
        if readout:
            membrane = b2.StateMonitor(
                group,
                spec.membrane,
                record=True,
                clock=clock,
                when="groups",
                order=_slot(index, "record"),
                name="resim_membrane",
            )
            objects.append(membrane)
        if traced:
            group.set_event_schedule("trace", when="groups", order=_slot(index, "record"))
            trace = b2.EventMonitor(
                group,
                "trace",
                variables=list(layout.trace_variables),
                when="groups",
                order=_slot(index, "trace_record"),
                name="resim_trace",
            )
            objects.append(trace)
        objects += [group, syn]
        groups.append(group)
        synapses.append(syn)
        source, source_size = group, layer.size
    return _Built(
        network=b2.Network(*objects),
        namespace={"input_counts": counts, "step_valid": valid},
        duration=layout.samples * layout.steps * STEP,
        layout=layout,
        counts=counts,
        valid=valid,
        groups=groups,
        synapses=synapses,
        membrane=membrane,
        spikes=spikes,
        trace=trace,
        seed_variable=(groups[0], "rng_seed") if layout.stochastic else None,
    )


def _fill(
    net: _Built,
    exported: list[dict],
    inputs: np.ndarray,
    start: np.ndarray,
    trace: TraceRequest | None,
) -> ChunkValues:
    layout = net.layout
    counts = np.asarray(inputs, np.float64).reshape(layout.samples * layout.steps, layout.inputs)
    valid = np.asarray(step_mask(start, layout.samples, layout.steps), np.float64)
    values: list[tuple[b2.Group, str, object]] = []
    for index, (group, syn, entry) in enumerate(
        zip(net.groups, net.synapses, exported, strict=True)
    ):
        size = layout.layers[index].size
        weight = np.asarray(entry["weight"], np.float64)
        values.append((syn, WEIGHT, weight.ravel()))
        bias = np.broadcast_to(np.asarray(entry["bias"], np.float64), (size,)).copy()
        values += [(group, "bias", bias), (group, "x", bias)]
        for name in layout.layers[index].model.spec.parameters:
            value = np.broadcast_to(np.asarray(entry["parameters"][name], np.float64), (size,))
            values.append((group, name, np.ascontiguousarray(value)))
        if index == layout.trace_layer:  # no request (a later chunk): record nothing
            traced = np.zeros(size)
            samples = 0
            if trace is not None:
                traced[list(trace.neurons)] = 1.0
                samples = min(trace.samples, layout.samples)
            values += [(group, "traced", traced), (group, "trace_stop", samples * layout.steps)]
    return {net.counts: counts, net.valid: valid.ravel()}, values


def _steps(times: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(times) / float(STEP)).astype(np.int64)


def _read(net: _Built, device: str, request: TraceRequest | None) -> Resimulation:
    layout = net.layout
    n, steps = layout.samples, layout.steps
    readout = layout.layers[-1]
    var = readout.model.spec.membrane
    membrane = np.asarray(getattr(net.membrane, var)[:], np.float64)  # (N, n T)
    membrane = membrane.reshape(readout.size, n, steps).transpose(1, 0, 2)
    spikes = np.zeros((n, readout.size, steps), np.uint8)
    if net.spikes[-1] is not None:
        step = _steps(net.spikes[-1].t_[:])
        spikes[step // steps, np.asarray(net.spikes[-1].i[:]), step % steps] = 1
    hidden = np.zeros((n, len(layout.layers) - 1), np.int64)
    for index, monitor in enumerate(net.spikes[:-1]):
        hidden[:, index] = np.bincount(_steps(monitor.t_[:]) // steps, minlength=n)[:n]
    trace = None
    if net.trace is not None and request is not None:
        trace = _read_trace(net.trace, layout, request)
    return Resimulation(spikes, membrane, hidden, device, trace)


def _read_trace(monitor: b2.EventMonitor, layout: _Layout, request: TraceRequest) -> TraceRecord:
    neuron = np.asarray(monitor.i[:])
    step = _steps(monitor.t_[:])
    chosen = np.unique(neuron)
    order = np.lexsort((step, neuron))
    width = len(order) // max(len(chosen), 1)

    def table(values: np.ndarray) -> np.ndarray:
        return np.asarray(values, np.float64)[order].reshape(len(chosen), width)

    potential_name, *threshold_name = layout.trace_variables
    potential = table(getattr(monitor, potential_name)[:])
    if threshold_name:
        threshold = table(getattr(monitor, threshold_name[0])[:])
    else:
        threshold = np.full_like(potential, np.nan)
    first = np.asarray(step)[order][:width] if len(chosen) else np.zeros(0, np.int64)
    return TraceRecord(
        neurons=chosen,
        time=first * request.step_seconds,
        potential=potential,
        threshold=threshold,
        sample=first // layout.steps,
        units="1",
    )


def _trace_layout(
    stack_layers: tuple[_LayerSpec, ...], request: TraceRequest | None
) -> tuple[int | None, tuple[str, ...]]:
    if request is None or not request.neurons:
        return None, ()
    count = len(stack_layers)
    if not -count <= request.layer < count:
        raise ConfigError(f"traces: layer {request.layer} does not exist ({count} layers)")
    layer = request.layer % count
    spec = stack_layers[layer].model.spec
    for neuron in request.neurons:
        if not 0 <= neuron < stack_layers[layer].size:
            raise ConfigError(
                f"traces: neuron {neuron} is not in layer {layer} (0 to "
                f"{stack_layers[layer].size - 1})"
            )
    known = [*spec.state, *spec.parameters]
    potential = request.potential or spec.membrane
    threshold = request.threshold
    if threshold is None and "theta" in spec.parameters:
        threshold = "theta"
    variables = (potential,) if threshold is None else (potential, threshold)
    for name in variables:
        if name not in known:
            raise ConfigError(
                f"traces: '{name}' is not a variable of {spec.name} (known: {', '.join(known)})"
            )
    return layer, variables


_RUNNERS: dict[tuple[str, str, str, int], DeviceRunner] = {}


def resimulate(
    stack: GradientStack,
    exported: list[dict],
    inputs: np.ndarray,
    device: str = "cpp",
    build_dir: str | Path | None = None,
    traces: TraceRequest | None = None,
    threads: int = 0,
    chunk_size: int | None = None,
    start: np.ndarray | None = None,
    seed: int = 0,
) -> Resimulation:
    """Run a trained stack in Brian2 on input counts (n_samples, T, C), all samples in one run.

    ``exported`` is ``stack.inference_weights(...)`` (BatchNorm folded in). ``device``:
    runtime, cpp (cpp_standalone, compiled once per layout and cached under ``build_dir``,
    default ``$BRAINSNN_CACHE/builds``) or cuda. Hidden layers fire by threshold, by
    Sigmoid-Bernoulli or Gumbel-Softmax draws, or by a ParaLIF mode without D (see
    ``firing_condition``); the readout fires by threshold or not at all (``ConfigError``
    otherwise). Stochastic layers draw Brian2's own random numbers: they agree with the JAX
    forward pass in distribution, not spike for spike.

    ``chunk_size``: run the samples in runs of this many (the last one padded with silent
    samples) instead of one run of all: bounds the dense input array (samples x T x C float64)
    and lets any number of samples reuse one compiled build. Traces cover the first chunk.

    ``start`` (n_samples,): the step each sample's front-padded batch begins at (the
    ``DenseBatch.start`` of its evaluation batch); nothing runs before it. Default: 0.
    ``seed``: stochastic firings draw Brian2's random numbers from it (chunk k from seed + k).
    """
    layers = _check_layers(stack)
    inputs = np.asarray(inputs, np.float64)
    if inputs.ndim != 3 or inputs.shape[2] != stack.inputs or inputs.shape[0] == 0:
        raise ConfigError(
            f"re-simulation inputs must be (samples, steps, {stack.inputs}) counts, "
            f"got shape {inputs.shape}"
        )
    if len(exported) != len(layers):
        raise ConfigError(f"{len(exported)} exported layers for a stack of {len(layers)}")
    get_device(device)  # one-line error for an unknown device
    if chunk_size is not None and chunk_size < 1:
        raise ConfigError(f"re-simulation chunk_size must be positive, got {chunk_size}")
    trace_layer, trace_variables = _trace_layout(layers, traces)
    n = inputs.shape[0]
    start = np.zeros(n, np.int64) if start is None else np.asarray(start, np.int64)
    if start.shape != (n,) or (start < 0).any() or (start >= inputs.shape[1]).any():
        raise ConfigError(
            f"re-simulation start must be {n} steps in 0..{inputs.shape[1] - 1}, got {start!r}"
        )
    size = n if chunk_size is None else chunk_size
    layout = _Layout(
        inputs=stack.inputs,
        layers=layers,
        samples=size,
        steps=inputs.shape[1],
        trace_layer=trace_layer,
        trace_variables=trace_variables,
    )
    root = build_root(str(build_dir) if build_dir is not None else None)
    runner = _runner(device, layout, root, threads)
    request = traces if trace_layer is not None else None
    padded = -(-n // size) * size
    if padded > n:
        inputs = np.concatenate([inputs, np.zeros((padded - n, *inputs.shape[1:]))])
        start = np.concatenate([start, np.zeros(padded - n, np.int64)])
    parts = []
    for first in range(0, padded, size):
        chunk = inputs[first : first + size]
        chunk_request = request if first == 0 else None
        fill = partial(
            _fill,
            exported=exported,
            inputs=chunk,
            start=start[first : first + size],
            trace=chunk_request,
        )
        net = runner.run(fill, seed=seed + first // size if layout.stochastic else None)
        parts.append(_read(net, runner.name, chunk_request))
    if len(parts) == 1 and padded == n:
        return parts[0]
    return Resimulation(
        readout_spikes=np.concatenate([p.readout_spikes for p in parts])[:n],
        readout_membrane=np.concatenate([p.readout_membrane for p in parts])[:n],
        hidden_spike_counts=np.concatenate([p.hidden_spike_counts for p in parts])[:n],
        device=runner.name,
        trace=parts[0].trace,
    )


def _runner(device: str, layout: _Layout, root: Path, threads: int) -> DeviceRunner:
    """The device runner of a layout: standalone runners are kept, so a layout compiles once.

    Brian2 names code objects after the live objects ('..._codeobject', '..._codeobject_1' if the
    first name is taken), and a regenerated project only skips compiling when its code is
    identical: so no stale network may be alive when a project is (re)generated. Stale runtime
    networks are collected here; a kept runner that has to set itself up again (another
    standalone project was generated since) drops its own old network first (DeviceRunner).
    """
    chosen = get_device(device)
    if not chosen.standalone:
        return make_runner(device, lambda: _build(layout), root, layout.key(), threads)
    cache = (chosen.brian2_name, str(root.resolve()), layout.key(), threads)
    runner = _RUNNERS.get(cache)
    if runner is None:
        gc.collect()
        runner = make_runner(device, lambda: _build(layout), root, layout.key(), threads)
        _RUNNERS[cache] = runner
    return runner
