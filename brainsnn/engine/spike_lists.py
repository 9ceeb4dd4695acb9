"""Event-driven inputs: a chunk's input spikes as a list sorted by time, handed in per chunk.

A ``NeuronGroup`` input tests its threshold for every input at every step, which costs
inputs x steps per sample (4.6 M tests for 4,608 STDP-CSNN features over 1,000 steps) against a
few thousand real spikes. ``ChunkSpikes`` is Brian2's ``SpikeGeneratorGroup`` with a fixed
capacity whose spike list (input index, global time step) is state that ``run_args`` (or, at
runtime, an assignment) replaces for every chunk, so a step costs only its own spikes. Brian2
cannot do this itself yet (brian2 issue #1578): the group's Python preparation of the list is
skipped, because the engine hands in the time steps already sorted.
"""

from __future__ import annotations

import brian2 as b2
import numpy as np
from brian2.groups.group import CodeRunner
from brian2.input.spikegeneratorgroup import SpikeGeneratorGroup

#: Time step of the unused slots of a spike list: never reached within a chunk.
NEVER = np.iinfo(np.int32).max


class ChunkSpikes(SpikeGeneratorGroup):
    """``size`` inputs firing from a spike list of ``capacity`` slots, replaced per chunk.

    The list is the state variables ``neuron_index`` (input) and ``_timebins`` (time step since
    the chunk's start), sorted by time step; slots past the chunk's spikes hold ``NEVER``.
    """

    def __init__(self, size: int, capacity: int, clock: b2.Clock, name: str) -> None:
        # Made with one spike, then grown to the capacity except for spike_time, which no
        # template reads: a compiled run then neither loads nor writes it (with 4,608 inputs x
        # 1,000 samples, 37 MB per chunk). spike_number indexes the others, so it is 0, 1, ...
        super().__init__(
            size,
            np.zeros(1, dtype=np.int32),
            np.zeros(1) * b2.second,
            clock=clock,
            name=name,
            sorted=True,
        )
        self.add_attribute("capacity")
        self.capacity = capacity
        for variable in ("spike_number", "neuron_index", "_timebins"):
            self.variables[variable].resize(capacity)
        self.variables["spike_number"].set_value(np.arange(capacity, dtype=np.int32))
        for variable in ("neuron_index", "_timebins"):
            self.variables[variable].read_only = False

    def assignments(
        self, indices: np.ndarray, steps: np.ndarray
    ) -> list[tuple[b2.Group, str, object]]:
        """(group, variable, value) that hand a chunk's spike list in (see chunk_spike_list).

        Only the input indices and time steps go in: the spike generator templates of Brian2's
        runtime, C++ standalone and brian2cuda read ``_timebins``, never ``spike_time``.
        """
        return [(self, "neuron_index", indices), (self, "_timebins", steps)]

    def before_run(self, run_namespace: dict | None = None) -> None:
        # Skip SpikeGeneratorGroup's Python preparation (time bins from spike_time): the time
        # steps are handed in directly, and the list starts at its first slot in every chunk.
        CodeRunner.before_run(self, run_namespace)


def chunk_spike_list(
    steps: np.ndarray, steps_per_sample: int, silent: int, capacity: int
) -> tuple[np.ndarray, np.ndarray]:
    """(input index, time step) of every spike of a chunk, sorted by step, padded to capacity.

    ``steps`` (samples, inputs) holds each input's step within its sample (``silent`` or more:
    no spike); sample j starts at step j * steps_per_sample.
    """
    steps = np.asarray(steps)
    if steps.dtype.kind == "f":
        steps = np.rint(steps)
    # Each sample's inputs sorted by step (stable: by input within a step; a radix sort for
    # 16-bit steps), rows in sample order: the flattened spikes are sorted by (time step, input).
    small_type = np.int16 if silent < 2**15 else np.int32
    small = steps if steps.dtype == small_type else np.minimum(steps, silent).astype(small_type)
    order = np.argsort(small, axis=1, kind="stable")
    ordered = np.take_along_axis(small, order, axis=1)
    spiking = ordered < silent  # a prefix of every row
    starts = np.arange(len(steps), dtype=np.int64) * steps_per_sample
    step_of = ordered[spiking] + np.repeat(starts, spiking.sum(axis=1)).astype(np.int32)
    return pack_spike_list(order, spiking, step_of, capacity)


def time_ordered_spike_list(
    times: np.ndarray, silent: float, capacity: int
) -> tuple[np.ndarray, np.ndarray]:
    """(input index, time step) of a chunk shown one sample per step: every spike of sample s
    in step s, sorted by its exact time (ties by input index), padded to ``capacity``.

    ``times`` (samples, inputs) holds spike times; ``silent`` or later: no spike. Brian2 hands
    a step's spikes to the synapses in list order, so event code sees them in time order.
    """
    times = np.asarray(times)
    order = np.argsort(times, axis=1, kind="stable")
    firing = np.take_along_axis(times, order, axis=1) < silent  # a prefix of every row
    step_of = np.repeat(np.arange(len(times), dtype=np.int32), firing.sum(axis=1))
    return pack_spike_list(order, firing, step_of, capacity)


def pack_spike_list(
    order: np.ndarray, firing: np.ndarray, steps: np.ndarray, capacity: int
) -> tuple[np.ndarray, np.ndarray]:
    """The padded spike list: the inputs ``order[firing]`` (rows in sample order) at time
    steps ``steps``; unused slots hold ``NEVER``."""
    count = len(steps)
    if count > capacity:
        raise ValueError(f"{count} input spikes do not fit a spike list of {capacity}")
    indices = np.zeros(capacity, dtype=np.int32)
    bins = np.full(capacity, NEVER, dtype=np.int32)
    indices[:count] = order[firing]
    bins[:count] = steps
    return indices, bins


def reference_source_variables(synapses: b2.Synapses, group: b2.Group) -> None:
    """Give ``synapses`` the ``<name>_pre`` variables of ``group``, its presynaptic state, when
    its spikes come from another group of the same size (a ``ChunkSpikes``)."""
    for name, variable in group.variables.items():
        if name.startswith("_") or variable.scalar or f"{name}_pre" in synapses.variables:
            continue
        if isinstance(variable, b2.core.variables.ArrayVariable) and variable.size == len(group):
            synapses.variables.add_reference(f"{name}_pre", group, name, index="_presynaptic_idx")
