"""Build an unsupervised WTA-STDP network from composed model fragments (Brian2 objects).

Samples are shown back to back in *presentations* of ``present_steps`` input steps plus
``rest_steps`` without input. The ``layer`` group (one neuron) holds the chunk's ``cursor``: the
sample being presented. At the 'assess' stage a model may decide that the presentation failed
(``done = 0``, e.g. Diehl & Cook's "fewer than 5 spikes"); the engine then presents the same
sample again instead of advancing the cursor. Every per-sample and per-step operation is Brian2
code (custom events, their pathways and scheduling slots); nothing runs in Python in a chunk.

Schedule of one time step (Brian2 slots):

- ``start``: fixed-step stage events (sample_start, assess, learn, normalise) and their code;
- ``thresholds`` / ``synapses``: spikes of groups with the default spike schedule, synapses;
- ``after_synapses``: the per-step stages integrate, contest, win, inhibit (event, code, then
  the pathways they trigger), then spikes of groups with ``spike_schedule: after_synapses`` and
  the pathways those spikes drive, so an input can make such a neuron fire in the same step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import brian2 as b2
import numpy as np

from brainsnn.core.errors import ConfigError
from brainsnn.core.modellib import ComposedGroup, check_roles
from brainsnn.engine.check import check_assignments
from brainsnn.engine.groups import link_layer_variables, parameter_equations, set_chunk_start_values
from brainsnn.engine.traces import TRACE_EQUATIONS, trace_condition, trace_monitor
from brainsnn.unsupervised.layout import (
    STEP_STAGES,
    UNSUPERVISED_ROLES,
    UNSUPERVISED_STAGES,
    UnsupervisedLayout,
)

CLOCK_EQUATIONS = """
sample_step = timestep(t, dt) % steps_per_presentation : integer
presenting = int(sample_step < present_steps) : integer
learning : 1 (shared)
"""
ENGINE_EQUATIONS = {
    "inputs": "value : 1  # this sample's input value, from input_values\n"
    "silent = int(value <= 0) : integer  # 1 if this input never spikes for this sample\n"
    "layer_cursor : integer (linked)\n",
    "outputs": "n_spikes : integer  # spikes in this presentation's input window\n"
    "idx : integer (constant)\n"
    "at_sample : integer  # chunk position of the sample being presented (for traces)\n"
    "layer_cursor : integer (linked)\n"
    "layer_done : integer (linked)\n" + TRACE_EQUATIONS,
    "layer": "cursor : integer  # position in the chunk of the sample being presented\n"
    "retries : integer  # failed presentations of this sample so far\n"
    "done : integer  # 1 when this presentation completes the sample\n"
    "total : integer  # output spikes in this presentation's input window\n"
    "rng_seed : 1 (shared)\n",
    "inhibitory": "",
}
ENGINE_CODE = {
    ("inputs", "sample_start"): "value = input_values(layer_cursor * sample_window, i)",
    ("outputs", "sample_start"): "n_spikes = 0\nat_sample = layer_cursor",
    ("layer", "sample_start"): "total = 0\ndone = 0",
    ("layer", "assess"): "done = 1",
}
#: Engine code run at each spike of a projection's source, before the models' on_pre.
ENGINE_ON_PRE = {"report_link": ["total_post += presenting_pre"]}
#: Runs after the models' code at the last end stage: advance to the next sample, or retry.
ADVANCE = "cursor = cursor + done\nretries = (retries + 1) * (1 - done)"
#: Order of event detection / group code / pathways inside the 'start' slot.
START_ORDER = {"detect": 0, "layer": 1, "other": 2}
LATE_SPIKES_ORDER = 100  # after the per-step stages in the 'after_synapses' slot
RECORD_STAGE = "learn"  # completed samples are recorded one step after 'assess'
#: Synapse roles whose stage pathways are triggered by their target's events (else the source's).
TRIGGERED_BY_POST = ("feedforward",)
#: (source, target) of each projection.
PROJECTIONS = {
    "feedforward": ("inputs", "outputs"),
    "lateral": ("outputs", "outputs"),
    "report_link": ("outputs", "layer"),
    "to_inhibitory": ("outputs", "inhibitory"),
    "from_inhibitory": ("inhibitory", "outputs"),
}


@dataclass
class UnsupervisedNetwork:
    """The Brian2 objects of one unsupervised network and the handles used between chunks."""

    network: b2.Network
    groups: dict[str, b2.Group]
    input_values: b2.TimedArray
    sample_coincidence: b2.TimedArray
    monitors: dict[str, b2.EventMonitor]
    namespace: dict[str, object]
    duration: b2.Quantity
    seed_variable: tuple[b2.Group, str]
    parameter_owner: dict[str, str] = field(default_factory=dict)  # parameter -> role
    persistent: list[tuple[str, str]] = field(default_factory=list)  # (role, state variable)
    feedforward_order: np.ndarray | None = None  # synapse -> index in (output, input) order

    def to_synapses(self, role: str, values: np.ndarray) -> np.ndarray:
        """A role's state, stored in (output, input) order, in the order of its Brian2 objects."""
        if role != "feedforward" or np.ndim(values) == 0:
            return values
        return np.asarray(values)[self.feedforward_order]

    def from_synapses(self, role: str, values: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`to_synapses`."""
        if role != "feedforward":
            return values
        stored = np.empty_like(values)
        stored[self.feedforward_order] = values
        return stored


def _stage_slot(stage: str) -> tuple[str, int]:
    """(Brian2 'when' slot, base order) of a stage's event."""
    if stage in STEP_STAGES:
        return "after_synapses", 10 * (STEP_STAGES.index(stage) + 1)
    return "start", START_ORDER["detect"]


def _events(
    role: str, layout: UnsupervisedLayout, group: ComposedGroup, extra: set[str]
) -> dict[str, str]:
    stages = set(group.stages()) | extra | {s for r, s in ENGINE_CODE if r == role}
    if role == "layer":
        stages.add("normalise")  # the engine advances the cursor there
    events = {}
    for stage in UNSUPERVISED_STAGES:
        if stage not in stages:
            continue
        if stage in STEP_STAGES:
            condition = "presenting == 1"
        else:
            condition = f"sample_step == {layout.stage_step(stage)}"
        extra_condition = group.stage_condition(stage)
        events[stage] = condition + (f" and ({extra_condition})" if extra_condition else "")
    if role in ("outputs", "layer"):
        events["record"] = f"sample_step == {layout.stage_step(RECORD_STAGE)} and " + (
            "layer_done == 1" if role == "outputs" else "done == 1"
        )
    if role == "outputs" and layout.trace_variables:
        events["trace"] = trace_condition("at_sample")
    return events


def _neuron_group(
    role: str,
    size: int,
    layout: UnsupervisedLayout,
    group: ComposedGroup,
    extra: set[str],
    clock: b2.Clock,
) -> b2.NeuronGroup:
    events = _events(role, layout, group, extra)
    equations = (
        CLOCK_EQUATIONS
        + ENGINE_EQUATIONS[role]
        + "\n".join(group.equations)
        + "\n"
        + parameter_equations(group)
    )
    kwargs: dict[str, object] = {}
    if group.spike_steps is not None:
        raise ConfigError(f"{role}: the unsupervised engine takes a threshold, not spike_steps")
    if group.threshold is not None:
        kwargs["threshold"] = group.threshold
        reset = [*group.reset, *(["n_spikes += presenting"] if role == "outputs" else [])]
        kwargs["reset"] = "\n".join(reset)
    elif role == "outputs":
        raise ConfigError("no model sets the threshold of the output neurons")
    if group.refractory is not None:
        kwargs["refractory"] = group.refractory
    stages = list(events)  # Brian2 adds 'spike' to the dict it is given
    neurons = b2.NeuronGroup(
        size, equations, events=dict(events), clock=clock, method=group.method, name=role, **kwargs
    )
    if group.spike_schedule == "after_synapses":
        neurons.set_event_schedule("spike", when="after_synapses", order=LATE_SPIKES_ORDER)
    for stage in stages:
        if stage in ("record", "trace"):
            neurons.set_event_schedule(stage, when="end")
            continue
        when, order = _stage_slot(stage)
        neurons.set_event_schedule(stage, when=when, order=order)
        code = [ENGINE_CODE[(role, stage)]] if (role, stage) in ENGINE_CODE else []
        code += group.codes.get(stage, [])
        if role == "layer" and stage == "normalise":
            code.append(ADVANCE)
        if code:
            code_order = (
                order + 1
                if stage in STEP_STAGES
                else START_ORDER["layer" if role == "layer" else "other"]
            )
            neurons.run_on_event(stage, "\n".join(code), when=when, order=code_order)
    return neurons


def _synapses(
    role: str,
    groups: dict[str, b2.NeuronGroup],
    group: ComposedGroup,
    clock: b2.Clock,
    late_spikes: set[str],
) -> b2.Synapses:
    source_role, target_role = PROJECTIONS[role]
    stage_code = {stage: "\n".join(code) for stage, code in group.pathways.items()}
    on_pre: dict[str, str] = {}
    on_post: dict[str, str] = {}
    on_event: dict[str, str] = {}
    pre_code = [*ENGINE_ON_PRE.get(role, []), *group.on_pre]
    if pre_code:
        on_pre["pre"] = "\n".join(pre_code)
        on_event["pre"] = "spike"
    if group.on_post:
        on_post["post"] = "\n".join(group.on_post)
        on_event["post"] = "spike"
    (on_post if role in TRIGGERED_BY_POST else on_pre).update(stage_code)
    on_event.update({stage: stage for stage in stage_code})
    equations = "\n".join(group.equations) + "\n" + parameter_equations(group)
    synapses = b2.Synapses(
        groups[source_role],
        groups[target_role],
        equations,
        on_pre=on_pre or None,
        on_post=on_post or None,
        on_event=on_event,
        clock=clock,
        name=role,
        method=group.method,
    )
    for pathway_name, event in on_event.items():
        pathway = getattr(synapses, pathway_name)
        trigger = target_role if pathway_name in on_post else source_role
        if event in STEP_STAGES:
            pathway.when, pathway.order = "after_synapses", _stage_slot(event)[1] + 5
        elif event == "spike" and trigger in late_spikes:
            pathway.when, pathway.order = "after_synapses", LATE_SPIKES_ORDER + 1
    return synapses


def feedforward_order(layout: UnsupervisedLayout) -> np.ndarray:
    """Index in (output, input) order of each input synapse, which Brian2 holds input-major.

    Input-major synapses put the targets of one input spike next to each other in memory, which
    makes the synaptic events (most of the run time) about 1.3x faster than output-major.
    """
    n_in, n_out = layout.n_inputs, layout.n_outputs
    source, target = np.divmod(np.arange(n_in * n_out), n_out)
    return target * n_in + source


def _connect(layout: UnsupervisedLayout, synapses: dict[str, b2.Synapses]) -> None:
    n_in, n_out = layout.n_inputs, layout.n_outputs
    synapses["feedforward"].connect(
        i=np.repeat(np.arange(n_in), n_out), j=np.tile(np.arange(n_out), n_in)
    )
    pre, post = np.meshgrid(np.arange(n_out), np.arange(n_out), indexing="ij")
    distinct = pre != post
    synapses["report_link"].connect(i=np.arange(n_out), j=np.zeros(n_out, dtype=int))
    if "lateral" in synapses:
        synapses["lateral"].connect(i=pre[distinct], j=post[distinct])
    if "to_inhibitory" in synapses:
        synapses["to_inhibitory"].connect(j="i")
    if "from_inhibitory" in synapses:
        synapses["from_inhibitory"].connect(i=pre[distinct], j=post[distinct])


def build_unsupervised_network(
    layout: UnsupervisedLayout,
    composed: dict[str, ComposedGroup],
    delays: np.ndarray | None = None,
) -> UnsupervisedNetwork:
    """Create all Brian2 objects for a layout (device must already be selected).

    ``delays`` (s, one per input synapse) are compiled into the build: standalone run_args
    cannot change synaptic delays.
    """
    check_roles(composed, UNSUPERVISED_ROLES, UNSUPERVISED_STAGES, "unsupervised")
    if layout.n_inhibitory and composed["inhibitory"].threshold is None:
        raise ConfigError("network.inhibitory is set but no model defines the inhibitory neurons")
    clock = b2.Clock(dt=layout.dt_s * b2.second, name="clock")
    window = layout.steps_per_presentation * clock.dt
    # One row per chunk position plus a silent row read by presentations past the last sample.
    rows = layout.chunk_size + 1
    input_values = b2.TimedArray(np.zeros((rows, layout.n_inputs)), dt=window, name="input_values")
    coincidence = b2.TimedArray(np.zeros(rows), dt=window, name="sample_coincidence")
    synapse_roles = [
        role
        for role in PROJECTIONS
        if role in ("feedforward", "report_link") or not composed[role].is_empty()
    ]
    uses_inhibitory = {"to_inhibitory", "from_inhibitory"} & set(synapse_roles)
    if uses_inhibitory and not layout.n_inhibitory:
        raise ConfigError("a model connects inhibitory neurons: set network.inhibitory: true")
    triggered: dict[str, set[str]] = {}
    for role in synapse_roles:
        source, target = PROJECTIONS[role]
        owner = target if role in TRIGGERED_BY_POST else source
        triggered.setdefault(owner, set()).update(composed[role].pathways)
    sizes = {
        "inputs": layout.n_inputs,
        "outputs": layout.n_outputs,
        "layer": 1,
        "inhibitory": layout.n_inhibitory,
    }
    groups: dict[str, b2.Group] = {
        role: _neuron_group(role, size, layout, composed[role], triggered.get(role, set()), clock)
        for role, size in sizes.items()
        if size
    }
    late = {role for role in groups if composed[role].spike_schedule == "after_synapses"}
    synapses = {
        role: _synapses(role, groups, composed[role], clock, late) for role in synapse_roles
    }
    _connect(layout, synapses)
    order = feedforward_order(layout)
    if delays is not None:
        synapses["feedforward"].delay = np.asarray(delays)[order] * b2.second
    groups.update(synapses)
    set_chunk_start_values(groups, composed)
    check_assignments(composed, groups)  # a misspelt variable would do nothing
    outputs, layer = groups["outputs"], groups["layer"]
    outputs.idx = "i"
    for role in ("inputs", "outputs", "inhibitory"):
        if role in groups:
            text = ENGINE_EQUATIONS[role] + "\n".join(composed[role].equations)
            link_layer_variables(groups[role], layer, text)
    monitors = {
        "layer": b2.EventMonitor(
            layer, "record", variables=["cursor", "retries"], when="end", name="layer_records"
        ),
        "outputs": b2.EventMonitor(
            outputs, "record", variables=["n_spikes"], when="end", name="output_records"
        ),
    }
    if layout.trace_variables:
        monitors["trace"] = trace_monitor(outputs, layout.trace_variables, "at_sample")
    namespace = {
        "input_values": input_values,
        "sample_coincidence": coincidence,
        "sample_window": window,
        "steps_per_presentation": layout.steps_per_presentation,
        "present_steps": layout.present_steps,
        **{name: value for name, value in layout.constants().items()},
    }
    network = b2.Network(*groups.values(), *monitors.values(), name="unsupervised")
    return UnsupervisedNetwork(
        network=network,
        groups=groups,
        input_values=input_values,
        sample_coincidence=coincidence,
        monitors=monitors,
        namespace=namespace,
        duration=layout.presentations * window,
        seed_variable=(layer, "rng_seed"),
        parameter_owner={
            name: role for role, group in composed.items() for name in group.parameters
        },
        persistent=[(role, name) for role, group in composed.items() for name in group.persistent],
        feedforward_order=order,
    )
