"""Turn composed model fragments into Brian2 objects with deterministic names.

Per-sample logic is Brian2 code only: every stage of a sample (see ``models/README.md``) is a
custom event whose condition tests the integer ``sample_step``; its code runs in the group and
its synaptic pathways run on the synapses. Nothing runs in Python while a chunk is simulated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import brian2 as b2
import numpy as np

from brainsnn.core.modellib import STAGES, ComposedGroup, check_roles
from brainsnn.engine.check import check_assignments
from brainsnn.engine.chunk_end import (
    CHUNK_END_EQUATIONS,
    END_CHUNK_CODE,
    end_chunk_function,
    ends_chunks_early,
)
from brainsnn.engine.groups import (
    link_layer_variables,
    parameter_equations,
    set_chunk_start_values,
)
from brainsnn.engine.spike_lists import ChunkSpikes, reference_source_variables
from brainsnn.engine.traces import TRACE_EQUATIONS, trace_condition, trace_monitor
from brainsnn.readout.layout import READOUT_ROLES, READOUT_STAGES, RECORD_OFFSET, ReadoutLayout

# The engines' TimedArrays hold one row per sample window (steps x dt), read at whole windows;
# Brian2 warns when that window is not an exact float multiple of dt, which does not apply here.
b2.BrianLogger.suppress_name("brian2.input.timedarray")

CLOCK_EQUATIONS = """
sample_step = timestep(t, dt) % steps_per_sample : integer
sample_index = timestep(t, dt) // steps_per_sample : integer
learning : 1 (shared)
lane : integer (constant)
"""
#: The time of the current step (units of T): on a uniform grid, step k is at k / L; on the
#: exact grid, each sample's step times are handed in with its chunk (``step_times``).
SAMPLE_TIME = {
    False: "sample_time = 1.0 * sample_step / n_input_steps : 1\n",
    True: "sample_time = step_times(t, lane) : 1\n",
}
#: An input's step in the current sample (the engine's ``input_steps``), stored once per sample
#: at sample_start before the model's code (one TimedArray read), and its time.
INPUT_STEP = "input_step : integer\n"
LOAD_INPUT_STEP = "input_step = int(floor(input_steps(sample_index * sample_window, i) + 0.5))"
INPUT_TIME = {
    False: "input_time = 1.0 * input_step / n_input_steps : 1\n",
    True: "input_time = step_times(sample_index * sample_window + input_step * dt, lane) : 1\n",
}
OUTPUT_EQUATIONS = """
idx : integer (constant)
class_id : integer (constant)
pos_in_class : integer (constant)
label : integer
is_target = int(class_id == label and pos_in_class >= n_nontarget) : integer
record_outputs : 1 (shared)
"""
LAYER_EQUATIONS = "label : integer\n"
LOAD_LABEL = "label = int(floor(sample_labels(sample_index * sample_window, lane) + 0.5))"
#: What the engine loads for each group at sample_start, before the model's own code.
SAMPLE_START_LOAD = {"inputs": LOAD_INPUT_STEP, "outputs": LOAD_LABEL, "layer": LOAD_LABEL}
#: Scheduling order inside the 'start' slot: detect events, then run layer code, then neuron code.
ORDER = {"detect": 0, "layer": 1, "inputs": 2, "outputs": 2}
#: Recorded per-sample variables: (group, variable); 'winner' where the decision model has one.
LAYER_RECORDS = ("prediction", "label")
OPTIONAL_LAYER_RECORDS = ("winner",)
OUTPUT_RECORDS = ("tspike", "v")


@dataclass
class ReadoutNetwork:
    """The Brian2 objects of one readout network and the handles used between chunks."""

    network: b2.Network
    groups: dict[str, b2.Group]
    input_steps: b2.TimedArray
    sample_labels: b2.TimedArray
    sample_masks: b2.TimedArray  # per-sample, per-output masks (e.g. dropout), zeros by default
    monitors: dict[str, b2.EventMonitor]
    namespace: dict[str, object]
    duration: b2.Quantity  # one chunk: chunk_size sample windows
    parameter_owner: dict[str, str] = field(default_factory=dict)  # parameter -> role
    seed_variable: tuple[b2.Group, str] | None = None  # deterministic: no random numbers
    input_spikes: ChunkSpikes | None = None  # event-driven inputs (spike_steps: input_steps)
    step_times: b2.TimedArray | None = None  # exact time grid: (windows x steps, lanes) times
    ends_chunks_early: bool = False  # the layer ends the run after the chunk's last sample


def _equations(role: str, group: ComposedGroup, layout: ReadoutLayout, end: bool) -> str:
    clock = CLOCK_EQUATIONS + SAMPLE_TIME[layout.exact_times]
    traces = TRACE_EQUATIONS if layout.trace_variables else ""
    engine = {
        "inputs": clock + INPUT_STEP + INPUT_TIME[layout.exact_times],
        "outputs": clock + OUTPUT_EQUATIONS + traces,
        "layer": clock + LAYER_EQUATIONS + (CHUNK_END_EQUATIONS if end else ""),
    }[role]
    return engine + "\n".join(group.equations) + "\n" + parameter_equations(group)


def _stage_events(
    role: str, layout: ReadoutLayout, group: ComposedGroup, extra_stages: set[str]
) -> dict[str, str]:
    events = {}
    for stage in STAGES:
        if stage in group.codes or stage in group.conditions or stage in extra_stages:
            condition = f"sample_step == {layout.stage_step(stage)}"
            extra = group.stage_condition(stage)
            events[stage] = condition + (f" and ({extra})" if extra else "")
    if role in ("outputs", "layer"):
        events["record"] = f"sample_step == {layout.n_input_steps + RECORD_OFFSET}"
        if role == "outputs":
            events["record"] += " and record_outputs > 0.5"
    if role == "outputs" and layout.trace_variables:
        events["trace"] = trace_condition("sample_index")
    return events


def _neuron_group(
    role: str,
    size: int,
    layout: ReadoutLayout,
    group: ComposedGroup,
    extra_stages: set[str],
    clock: b2.Clock,
    end: bool = False,
) -> b2.NeuronGroup:
    """A population of ``size`` per lane; ``end``: its sample_start ends the chunk's run at
    the first window without samples (the layer's, see brainsnn.engine.chunk_end)."""
    events = _stage_events(role, layout, group, extra_stages)
    codes = {stage: list(group.codes.get(stage, [])) for stage in events}
    events.setdefault("sample_start", "sample_step == 0")
    load = [SAMPLE_START_LOAD[role], *([END_CHUNK_CODE] if end else [])]
    codes["sample_start"] = [*load, *group.codes.get("sample_start", [])]
    kwargs = {}
    if group.threshold is not None:
        kwargs["threshold"] = group.threshold
        kwargs["reset"] = "\n".join(group.reset)
    neurons = b2.NeuronGroup(
        size * layout.lanes,
        _equations(role, group, layout, end),
        events=events,
        clock=clock,
        method=group.method,
        name=role,
        **kwargs,
    )
    if role == "outputs":
        neurons.set_event_schedule("spike", when="after_synapses")
    for stage, code in codes.items():
        if stage in ("record", "trace"):
            continue
        neurons.set_event_schedule(stage, when="start", order=ORDER["detect"])
        if code:
            neurons.run_on_event(stage, "\n".join(code), when="start", order=ORDER[role])
    if "record" in events:
        neurons.set_event_schedule("record", when="start", order=ORDER["detect"])
    if "trace" in events:
        neurons.set_event_schedule("trace", when="end")
    return neurons


def _synapses(
    role: str, source: b2.NeuronGroup, target: b2.NeuronGroup, group: ComposedGroup, clock: b2.Clock
) -> b2.Synapses:
    """Synapses whose stage pathways are triggered by the outputs (post for feedforward)."""
    triggered_by_post = role == "feedforward"
    stage_code = {stage: "\n".join(code) for stage, code in group.pathways.items()}
    on_pre = {"pre": "\n".join(group.on_pre)} if group.on_pre else {}
    on_post = {}
    (on_post if triggered_by_post else on_pre).update(stage_code)
    on_event = {"pre": "spike"} if group.on_pre else {}
    on_event.update({stage: stage for stage in stage_code})
    equations = "\n".join(group.equations) + "\n" + parameter_equations(group)
    return b2.Synapses(
        source,
        target,
        equations,
        on_pre=on_pre or None,
        on_post=on_post or None,
        on_event=on_event,
        delay=dict.fromkeys(on_event, 0 * b2.second),  # scalar: no per-synapse delay arrays
        clock=clock,
        name=role,
        method=group.method,
    )


def _connect_lanes(
    synapses: b2.Synapses, layout: ReadoutLayout, pre: np.ndarray, post: np.ndarray, sizes: tuple
) -> None:
    """Connect one lane's (pre, post) pairs inside every lane; ``sizes`` = one lane's group sizes,
    so a lane's synapses are contiguous and in the same order as in a one-lane network."""
    lane = layout.lane_of(len(pre) * layout.lanes)
    synapses.connect(
        i=layout.per_lane(pre) + lane * sizes[0], j=layout.per_lane(post) + lane * sizes[1]
    )


def _connect(layout: ReadoutLayout, groups: dict[str, b2.Group]) -> None:
    n_in, n_out = layout.n_inputs, layout.n_outputs
    order = layout.feedforward_order()  # input-major synapses of output-major state
    pairs = order % n_in, order // n_in
    _connect_lanes(groups["feedforward"], layout, *pairs, (n_in, n_out))
    pre, post = np.meshgrid(np.arange(n_out), np.arange(n_out), indexing="ij")
    distinct = pre != post
    _connect_lanes(groups["lateral"], layout, pre[distinct], post[distinct], (n_out, n_out))
    pairs = np.arange(n_out), np.zeros(n_out, dtype=int)
    _connect_lanes(groups["report_link"], layout, *pairs, (n_out, 1))


def build_network(layout: ReadoutLayout, composed: dict[str, ComposedGroup]) -> ReadoutNetwork:
    """Create all Brian2 objects for a layout (device must already be selected)."""
    check_roles(composed, READOUT_ROLES, READOUT_STAGES, "readout")
    steps = layout.steps_per_sample
    clock = b2.Clock(dt=layout.sample_duration_s / layout.n_input_steps * b2.second, name="clock")
    window = steps * clock.dt
    lanes, windows = layout.lanes, layout.windows
    input_steps = b2.TimedArray(
        np.zeros((windows, lanes * layout.n_inputs)), dt=window, name="input_steps"
    )
    sample_labels = b2.TimedArray(np.zeros((windows, lanes)), dt=window, name="sample_labels")
    sample_masks = b2.TimedArray(
        np.zeros((windows, lanes * layout.n_outputs)), dt=window, name="sample_masks"
    )
    step_times = None
    if layout.exact_times:
        times = np.ones((windows * steps, lanes))
        step_times = b2.TimedArray(times, dt=clock.dt, name="step_times")
    end = ends_chunks_early()
    pathway_stages = {
        stage
        for role in ("lateral", "report_link", "feedforward")
        for stage in composed[role].pathways
    }
    groups: dict[str, b2.Group] = {
        "inputs": _neuron_group(
            "inputs", layout.n_inputs, layout, composed["inputs"], set(), clock
        ),
        "outputs": _neuron_group(
            "outputs", layout.n_outputs, layout, composed["outputs"], pathway_stages, clock
        ),
        "layer": _neuron_group("layer", 1, layout, composed["layer"], set(), clock, end),
    }
    input_spikes = None
    spike_source = groups["inputs"]
    if composed["inputs"].spike_steps == "input_steps":  # at most one spike per input and sample
        capacity = layout.chunk_size * layout.n_inputs
        input_spikes = ChunkSpikes(lanes * layout.n_inputs, capacity, clock, "input_spikes")
        spike_source = input_spikes
    groups["feedforward"] = _synapses(
        "feedforward", spike_source, groups["outputs"], composed["feedforward"], clock
    )
    if input_spikes is not None:
        reference_source_variables(groups["feedforward"], groups["inputs"])
    groups["lateral"] = _synapses(
        "lateral", groups["outputs"], groups["outputs"], composed["lateral"], clock
    )
    groups["report_link"] = _synapses(
        "report_link", groups["outputs"], groups["layer"], composed["report_link"], clock
    )
    _connect(layout, groups)
    set_chunk_start_values(groups, composed)
    check_assignments(composed, groups)  # a misspelt variable would do nothing
    outputs = groups["outputs"]
    outputs.idx = layout.per_lane(np.arange(layout.n_outputs))
    outputs.class_id = layout.per_lane(layout.class_of_neuron())
    outputs.pos_in_class = layout.per_lane(layout.position_in_class())
    output_lane = layout.lane_of(len(outputs))
    outputs.lane = output_lane
    groups["layer"].lane = np.arange(lanes)
    if end:
        groups["layer"].chunk_windows = windows  # a chunk not told otherwise runs them all
    groups["inputs"].lane = layout.lane_of(len(groups["inputs"]))
    link_layer_variables(
        outputs, groups["layer"], "\n".join(composed["outputs"].equations), output_lane
    )
    monitors = {
        "layer": b2.EventMonitor(
            groups["layer"],
            "record",
            variables=[
                *LAYER_RECORDS,
                *(name for name in OPTIONAL_LAYER_RECORDS if name in groups["layer"].variables),
            ],
            when="end",
            name="layer_records",
        ),
        "outputs": b2.EventMonitor(
            outputs, "record", variables=list(OUTPUT_RECORDS), when="end", name="output_records"
        ),
    }
    if layout.trace_variables:
        monitors["trace"] = trace_monitor(outputs, layout.trace_variables, "sample_index")
    namespace = {
        "input_steps": input_steps,
        "sample_labels": sample_labels,
        "sample_masks": sample_masks,
        "sample_window": window,
        "sample_duration": layout.sample_duration_s * b2.second,
        "steps_per_sample": steps,
        "n_input_steps": layout.n_input_steps,
        "n_classes": layout.n_classes,
        "neurons_per_class": layout.neurons_per_class,
        "n_nontarget": layout.n_nontarget,
    }
    if step_times is not None:
        namespace["step_times"] = step_times
    if end:
        namespace["end_chunk"] = end_chunk_function()
    extra = [input_spikes] if input_spikes is not None else []
    network = b2.Network(*groups.values(), *extra, *monitors.values(), name="readout")
    return ReadoutNetwork(
        network=network,
        groups=groups,
        input_steps=input_steps,
        sample_labels=sample_labels,
        sample_masks=sample_masks,
        monitors=monitors,
        namespace=namespace,
        duration=windows * window,
        parameter_owner={
            name: role for role, group in composed.items() for name in group.parameters
        },
        input_spikes=input_spikes,
        step_times=step_times,
        ends_chunks_early=end,
    )
