"""The STDP-CSNN extractor as Brian2 networks: one time step per sample, one event per input spike.

Both networks show a chunk of samples, one per time step. A ``ChunkSpikes`` list hands in each
sample's input spikes sorted by spike time, all in the sample's step, and Brian2 processes a
step's spikes, and each spike's synapses, in list order: the synapses' ``on_pre`` code sees the
input spikes one at a time in time order, as the C++ loop does (no time grid, exact times). The
exact spike time of each input (``tin``) comes from a TimedArray of the chunk.

Schedule of one step (= one sample):

- ``start``: the inputs read this sample's spike times; potentials, first crossings and the
  sample's winner are reset;
- ``thresholds`` / ``synapses``: the input spikes, the model's ``integrate`` code and the
  engine's record of each neuron's first crossing;
- ``after_synapses``: training: the filters that crossed report to the sample group, which
  picks the winner (the earliest crossing); the winner's ``won`` event drives ``learn`` on its
  synapses and ``adapt`` runs on every filter; extraction: every fired convolution neuron drives
  ``pool`` on its feature;
- ``end``: extraction: the fired features are recorded (feature, time).

Weight sharing: the extraction synapses hold no weight; ``w`` is a reference into the kernel
group (one value per kernel element and filter) through each synapse's ``element`` index.
Filter lanes (``lanes.py``): in the extraction network a neuron, kernel element and synapse
stand for a group of neighbouring filters, with one copy of each variable per filter.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import brian2 as b2
import numpy as np

from brainsnn.engine.spike_lists import ChunkSpikes
from brainsnn.features.geometry import CsnnGeometry
from brainsnn.features.lanes import filter_lanes, lane_names, per_lane
from brainsnn.features.modelfile import CsnnModel
from brainsnn.features.preprocess import SILENT


class _OrderedEventsFilter(logging.Filter):
    """Hide Brian2's notes on order-dependent synaptic code: the integrate code depends on the
    event order on purpose (event order = spike-time order), and on the runtime device it runs
    as the ordered Python loop those notes announce."""

    NOTES = ("may not be well-defined", "Failed to vectorise code")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (
            record.name.startswith("brian2.codegen") and any(n in message for n in self.NOTES)
        )


b2.BrianLogger.console_handler.addFilter(_OrderedEventsFilter())

#: Duration of one step (one sample); only its count matters.
STEP = 1 * b2.ms
#: Every pathway's delay: one scalar zero, so no run loads or converts a per-synapse delay
#: array (one value per synapse: 0.46 M for the F-MNIST convolution).
NO_DELAY = 0 * b2.second
#: Parameters that are initial state, not shared variables of the network.
INITIAL_STATE = ("theta0", "w_mean", "w_std")


@dataclass
class CsnnNetwork:
    """The Brian2 objects of one extractor network and the handles used between chunks."""

    network: b2.Network
    namespace: dict[str, object]
    duration: b2.Quantity
    input_times: b2.TimedArray
    spikes: ChunkSpikes
    groups: dict[str, b2.Group]
    monitor: b2.EventMonitor | None = None
    lanes: int = 1  # filters per neuron (extraction; ``lanes.py``)
    seed_variable: None = None  # deterministic: no random numbers in a chunk


def _input_groups(
    size: int, chunk: int, clock: b2.Clock, dtype: type = np.float64
) -> tuple[ChunkSpikes, b2.NeuronGroup, b2.TimedArray]:
    """The spike list (one step per sample) and the group holding each input's spike time."""
    input_times = b2.TimedArray(np.full((chunk, size), SILENT), dt=STEP, name="input_times")
    spikes = ChunkSpikes(size, chunk * size, clock, name="input_spikes")
    times = b2.NeuronGroup(size, "tin : 1", clock=clock, name="inputs", dtype=dtype)
    times.run_regularly("tin = input_times(t, i)", when="start", order=0)
    return spikes, times, input_times


def _read_input_times(synapses: b2.Synapses, times: b2.NeuronGroup) -> None:
    """Give the synapses ``tin_pre``: the spike time of their input."""
    synapses.variables.add_reference("tin_pre", times, "tin", index="_presynaptic_idx")


def _reference_all(synapses: b2.Synapses, group: b2.Group, names: list[str]) -> None:
    """Give the synapses ``group``'s variables under their own names (shared ones, or those of
    a one-neuron group through the synapses' ``zero`` index)."""
    for name in names:
        variable = group.variables[name]
        index = "0" if variable.scalar else "zero"
        synapses.variables.add_reference(name, group, name, index=index)


def first_crossing_code(integrate: str, threshold: str, time: str, extra: str = "") -> str:
    """The input synapses' on_pre: the model's ``integrate`` code, then the engine's record of
    each neuron's first crossing of ``threshold`` (``time``: that spike's time; ``extra``:
    more statements that may read ``fires``)."""
    return (
        f"{integrate.rstrip()}\n"
        f"fires = int({threshold}) * int({time}_post >= {SILENT})\n"
        f"{time}_post = tin_pre * fires + {time}_post * (1 - fires)\n{extra}"
    )


def earliest_crossing_code(integrate: str, threshold: str, time: str) -> str:
    """As :func:`first_crossing_code` without the input: since a neuron's events come in time
    order, its first crossing is the earliest spike time at which the threshold is met, a
    minimum that needs no "not yet fired" test (7 % faster per event here)."""
    minimum = f"clip({time}_post, 0, tin_pre + int(not ({threshold})))"
    return f"{integrate.rstrip()}\n{time}_post = {minimum}\n"


#: The winner of a patch: the earliest first crossing; ties by the spike's place in the list
#: (its input index: spikes of equal time are listed by input), then by the lower filter.
#: 'earliest' finds the time, 'lowest' the (input, filter) key among the filters crossing then.
REDUCE_CODE = {
    "earliest": "tmin_post = clip(tcross_pre, 0, tmin_post)",
    "lowest": "kmin_post = clip(kcross_pre * N_pre + i + NONE * int(tcross_pre != tmin_post), "
    "0, kmin_post)",
}
NONE = 2.0**30  # key of no crossing: above every (input, filter) key, and a valid int32
WINNER_CODE = """
winner = (kmin - n_filters * floor(kmin / n_filters)) * int(kmin < NONE) - int(kmin >= NONE)
twin = tmin
"""


def build_training_network(model: CsnnModel, geometry: CsnnGeometry, chunk: int) -> CsnnNetwork:
    """One patch position: ``patch_inputs`` inputs, all-to-all to ``filters`` filters.

    Every filter integrates the whole patch and keeps its first crossing (time and input);
    after the synapses a reduction picks the winner (``REDUCE_CODE``), whose ``won`` event
    drives ``learn`` on its synapses while ``adapt`` runs on every filter. This equals the
    C++ loop that stops at the first crossing, and keeps the synapse loop free of a shared
    "done" flag that every event would have to read and write.
    """
    clock = b2.Clock(dt=STEP, name="csnn_clock")
    n_in, n_filters = geometry.patch_inputs, geometry.filters
    spikes, times, input_times = _input_groups(n_in, chunk, clock)
    shared = [name for name in model.parameters if name not in INITIAL_STATE]
    layer = b2.NeuronGroup(
        1, "tmin : 1\nkmin : 1\nwinner : 1\ntwin : 1", clock=clock, name="sample"
    )
    layer.run_regularly(f"tmin = 2 * {SILENT}\nkmin = NONE", when="start", order=0)
    layer.run_regularly(WINNER_CODE, when="after_synapses", order=30)
    filters = b2.NeuronGroup(
        n_filters,
        "v : 1\ntheta : 1\ntcross : 1\nkcross : 1\nwins : integer\n"
        + "".join(f"{name} : 1 (shared)\n" for name in shared)
        + "winner : 1 (linked)\ntwin : 1 (linked)\n",
        events={
            "crossed": f"tcross < {SILENT}",
            "won": "abs(i - winner) < 0.5",
            "adapt": "winner > -0.5",
        },
        clock=clock,
        name="filters",
    )
    for name in ("winner", "twin"):
        setattr(filters, name, b2.linked_var(layer, name, index=np.zeros(n_filters, dtype=int)))
    filters.run_regularly(f"v = 0\ntcross = {SILENT}\nkcross = 0", when="start", order=0)
    filters.run_on_event("won", "wins += 1")
    filters.run_on_event("adapt", model.adapt)
    filters.set_event_schedule("crossed", when="after_synapses", order=0)
    for event in ("won", "adapt"):
        filters.set_event_schedule(event, when="after_synapses", order=40)
    reduce = b2.Synapses(
        filters, layer, on_pre=REDUCE_CODE, on_event=dict.fromkeys(REDUCE_CODE, "crossed"),
        delay=dict.fromkeys(REDUCE_CODE, NO_DELAY), clock=clock, name="compete",
    )  # fmt: skip
    reduce.connect()
    for order, pathway in enumerate(REDUCE_CODE, start=1):
        getattr(reduce, pathway).when, getattr(reduce, pathway).order = "after_synapses", 10 * order
    synapses = b2.Synapses(
        spikes,
        filters,
        "w : 1\nzero : integer (constant)",
        on_pre=first_crossing_code(
            model.integrate,
            model.threshold.train,
            "tcross",
            "kcross_post = i * fires + kcross_post * (1 - fires)",  # the spike's input
        ),
        on_post=model.learn,  # driven by the winner's 'won' event
        on_event={"pre": "spike", "post": "won"},
        delay={"pre": NO_DELAY, "post": NO_DELAY},
        clock=clock,
        name="kernel",
    )
    synapses.connect(i=np.repeat(np.arange(n_in), n_filters), j=np.tile(np.arange(n_filters), n_in))
    synapses.zero = 0
    synapses.post.when, synapses.post.order = "after_synapses", 50
    _read_input_times(synapses, times)
    _reference_all(synapses, layer, ["twin"])
    _reference_all(synapses, filters, shared)
    network = b2.Network(spikes, times, layer, filters, reduce, synapses)
    return CsnnNetwork(
        network=network,
        namespace={"input_times": input_times, "NONE": NONE, "n_filters": n_filters},
        duration=chunk * STEP,
        input_times=input_times,
        spikes=spikes,
        groups={"sample": layer, "filters": filters, "kernel": synapses},
    )


def _first_spike_group(
    size: int,
    time: str,
    potential: str,
    name: str,
    event: tuple[str, str],
    clock: b2.Clock,
    lanes: int,
) -> b2.NeuronGroup:
    """A float32 group of ``size`` neurons of ``lanes`` filters each, whose first-spike times
    (``time_0`` ...) are SILENT at the start of every step, and whose event (name, Brian2 slot)
    marks the neurons where a lane fired. With a ``potential`` (reset to 0 every step) it
    integrates inputs, with each lane's filter threshold ``theta_k``."""
    names = lane_names(time, lanes)
    variables = names
    if potential:
        variables = [*lane_names(potential, lanes), *lane_names("theta", lanes), *names]
    group = b2.NeuronGroup(
        size,
        "".join(f"{variable} : 1\n" for variable in variables),
        events={event[0]: " or ".join(f"{n} < {SILENT}" for n in names)},
        clock=clock,
        dtype=np.float32,
        name=name,
    )
    reset = [f"{n} = {SILENT}" for n in names]
    reset += [f"{v} = 0" for v in lane_names(potential, lanes)] if potential else []
    group.run_regularly("\n".join(reset), when="start", order=0)
    group.set_event_schedule(event[0], when=event[1], order=0)
    return group


def build_extraction_network(model: CsnnModel, geometry: CsnnGeometry, chunk: int) -> CsnnNetwork:
    """Whole images: the convolution (shared weights), the pooling and the feature record.

    In float32, as the C++ extractor (``Tensor<float>``): potentials sum the same float32
    weights in the same (time) order, so features match its ``csnn_test`` bit for bit except
    where tied spike times are summed in another order. Neurons hold ``filter_lanes`` filters
    each (``lanes.py``): the model's code runs once per lane on that lane's variables.
    """
    g = geometry
    lanes = filter_lanes(g.filters)
    clock = b2.Clock(dt=STEP, name="csnn_clock")
    spikes, times, input_times = _input_groups(g.inputs, chunk, clock, np.float32)
    kernel = b2.NeuronGroup(
        g.patch_inputs * g.filters // lanes,
        "".join(f"{w} : 1\n" for w in lane_names("w", lanes)),
        clock=clock,
        name="kernel",
        dtype=np.float32,
    )
    conv = _first_spike_group(
        g.conv_neurons // lanes, "tconv", "v", "convolution", ("fired", "after_synapses"),
        clock, lanes,
    )  # fmt: skip
    pool = _first_spike_group(
        g.features // lanes, "tpool", "", "features", ("report", "end"), clock, lanes
    )
    pre, post, element = geometry.convolution_synapses(lanes)
    crossing = earliest_crossing_code(model.integrate, model.threshold.extract, "tconv")
    convolution = b2.Synapses(
        spikes,
        conv,
        "element : integer (constant)",
        on_pre=per_lane(crossing, ("v", "theta", "tconv", "w"), lanes),
        delay=NO_DELAY,
        clock=clock,
        name="convolution_synapses",
    )
    convolution.connect(i=pre, j=post)
    convolution.element = element
    for w in lane_names("w", lanes):
        convolution.variables.add_reference(w, kernel, w, index="element")
    _read_input_times(convolution, times)
    source, target = geometry.pooling_synapses(lanes)
    pooling = b2.Synapses(
        conv,
        pool,
        on_pre=per_lane(model.pool, ("tpool", "tconv"), lanes),
        on_event="fired",
        delay=NO_DELAY,
        clock=clock,
        name="pooling",
    )
    pooling.connect(i=source, j=target)
    pooling.pre.when, pooling.pre.order = "after_synapses", 10
    monitor = b2.EventMonitor(
        pool, "report", variables=lane_names("tpool", lanes), when="end", order=1,
        name="feature_spikes",
    )  # fmt: skip
    network = b2.Network(spikes, times, kernel, conv, pool, convolution, pooling, monitor)
    return CsnnNetwork(
        network=network,
        namespace={"input_times": input_times},
        duration=chunk * STEP,
        input_times=input_times,
        spikes=spikes,
        groups={"kernel": kernel, "convolution": conv},
        monitor=monitor,
        lanes=lanes,
    )
