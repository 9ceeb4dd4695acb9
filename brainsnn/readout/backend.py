"""The readout network on one device: a chunk's samples and state in, records and state out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import brian2 as b2
import numpy as np

from brainsnn.core.modellib import NEURON_ROLES, ComposedGroup
from brainsnn.devices.registry import get_device
from brainsnn.devices.runners import ChunkValues, DeviceRunner, RuntimeRunner, StandaloneRunner
from brainsnn.engine.records import per_sample
from brainsnn.engine.spike_lists import chunk_spike_list
from brainsnn.engine.state import persistent_variables, state_key
from brainsnn.engine.traces import TraceRecord, read_trace, trace_assignments
from brainsnn.readout.data import StepTimes
from brainsnn.readout.layout import ReadoutLayout
from brainsnn.readout.network import ReadoutNetwork, build_network


@dataclass
class ChunkInput:
    """One chunk of samples: input spike steps (n, D) (n_input_steps = silent) and labels (n,).

    Padding samples (to fill the fixed chunk size) have label -1 and never learn.
    """

    input_steps: np.ndarray
    labels: np.ndarray
    n_valid: int
    masks: np.ndarray | None = None  # (n, N) per-sample output masks, e.g. dropout (None: zeros)
    step_times: StepTimes | None = None  # the valid samples' step times (exact time grid)


@dataclass
class ChunkResult:
    """Per-sample records of the valid samples of a chunk, and the state after it."""

    prediction: np.ndarray  # (n,) predicted class
    first_spike_time: np.ndarray | None  # (n, N) units of T, 1 = silent
    potential: np.ndarray | None  # (n, N) at firing time, or final if silent
    state: dict[str, np.ndarray]
    trace: TraceRecord | None = None  # traced neurons, every step of the first samples
    winner: np.ndarray | None = None  # (n,) index of the deciding output neuron, if recorded


class Backend:
    """A readout network on one device: puts a chunk's values in, reads records and state back."""

    def __init__(
        self, layout: ReadoutLayout, composed: dict[str, ComposedGroup], runner: DeviceRunner
    ) -> None:
        self.layout = layout
        self.composed = composed
        self.runner = runner
        self._feedforward_order = layout.feedforward_order()  # state order -> synapse order
        self._feedforward_state_order = np.argsort(self._feedforward_order)  # and back

    @property
    def name(self) -> str:
        """Brian2 device name."""
        return self.runner.name

    def state_variables(self) -> list[tuple[str, str]]:
        """(role, variable) of every persistent state variable."""
        return persistent_variables(self.composed)

    def _records(
        self, monitor: b2.EventMonitor, variable: str, n_valid: int, width: int
    ) -> np.ndarray:
        """(n_valid, width) per-sample records of a monitor whose group has ``width`` elements
        per lane, in sample order (sample s: window s // lanes, lane s % lanes)."""
        lanes = self.layout.lanes
        windows = -(-n_valid // lanes)
        table = per_sample(monitor, variable, self.layout.steps_per_sample, windows, lanes * width)
        return table.reshape(-1, width)[:n_valid]

    def _read(
        self, net: ReadoutNetwork, chunk: ChunkInput, record_outputs: bool, traced: bool
    ) -> ChunkResult:
        layout = self.layout
        layer_records = net.monitors["layer"]
        prediction = self._records(layer_records, "prediction", chunk.n_valid, 1)[:, 0]
        winner = None
        if "winner" in layer_records.record_variables:
            winner = self._records(layer_records, "winner", chunk.n_valid, 1)[:, 0]
        tspike = potential = None
        if record_outputs:
            mon = net.monitors["outputs"]
            tspike = self._records(mon, "tspike", chunk.n_valid, layout.n_outputs)
            potential = self._records(mon, "v", chunk.n_valid, layout.n_outputs)
        state = {}
        for role, name in self.state_variables():  # the first lane's (all lanes' when frozen)
            lane = np.array(getattr(net.groups[role], name)[:]).reshape(layout.lanes, -1)[0]
            if role == "feedforward":
                lane = lane[self._feedforward_state_order]
            state[state_key(role, name)] = lane
        trace = None
        if traced:
            variables = layout.trace_variables
            trace = read_trace(
                net.monitors["trace"], net.groups["outputs"], variables, "sample_index"
            )
        return ChunkResult(
            prediction.astype(np.int64),
            tspike,
            potential,
            state,
            trace,
            None if winner is None else winner.astype(np.int64),
        )

    def chunk_values(
        self,
        net: ReadoutNetwork,
        chunk: ChunkInput,
        state: dict[str, np.ndarray],
        parameters: dict[str, float],
        learning: bool,
        record_outputs: bool,
        trace: tuple[list[int], int] | None = None,
    ) -> ChunkValues:
        """What a chunk hands to the network: TimedArray values and (group, variable, value).

        ``trace`` = (neurons, n_samples): record the layout's trace variables of these output
        neurons for the chunk's first n_samples samples (layouts with trace variables only).
        """
        layout = self.layout
        input_steps = layout.by_window(chunk.input_steps)
        arrays = {net.input_steps: input_steps, net.sample_labels: layout.by_window(chunk.labels)}
        if chunk.masks is not None:
            arrays[net.sample_masks] = layout.by_window(chunk.masks)
        if net.step_times is not None:
            arrays[net.step_times] = self._step_time_rows(chunk.step_times)
        groups = net.groups
        values: list[tuple[b2.Group, str, object]] = [
            (groups[net.parameter_owner[name]], name, float(value))
            for name, value in parameters.items()
        ]
        for role, name in self.state_variables():
            value = np.asarray(state[state_key(role, name)], dtype=np.float64)
            if role == "feedforward":
                value = value[self._feedforward_order]
            values.append((groups[role], name, layout.per_lane(value)))
        values += [
            (groups[role], "learning", float(learning)) for role in NEURON_ROLES if role in groups
        ]
        if net.input_spikes is not None:
            indices, steps = chunk_spike_list(
                input_steps,
                layout.steps_per_sample,
                layout.n_input_steps,
                net.input_spikes.capacity,
            )
            values += net.input_spikes.assignments(indices, steps)
        values.append((groups["outputs"], "record_outputs", float(record_outputs)))
        if net.ends_chunks_early:  # no padding windows after the chunk's samples
            values.append((groups["layer"], "chunk_windows", -(-chunk.n_valid // layout.lanes)))
        if self.layout.trace_variables:
            neurons, samples = trace or ([], 0)
            samples = min(samples, chunk.n_valid)
            values += trace_assignments(groups["outputs"], self.layout.n_outputs, neurons, samples)
        return arrays, values

    def _step_time_rows(self, step_times: StepTimes | None) -> np.ndarray:
        """A chunk's step times as the network's ``step_times`` rows: one per time step of the
        chunk (window after window), one column per lane; stage steps and padding samples hold
        1.0."""
        layout = self.layout
        if step_times is None:
            raise ValueError("this build runs on the exact time grid: the chunk needs step_times")
        rows = step_times.table(layout.steps_per_sample, samples=layout.chunk_size)
        by_window = rows.reshape(layout.windows, layout.lanes, -1).transpose(0, 2, 1)
        return by_window.reshape(-1, layout.lanes)

    def run_chunk(
        self,
        chunk: ChunkInput,
        state: dict[str, np.ndarray],
        parameters: dict[str, float],
        learning: bool,
        record_outputs: bool,
        trace: tuple[list[int], int] | None = None,
    ) -> ChunkResult:
        """Simulate one chunk and return its records and the final state (see chunk_values)."""
        if learning and self.layout.lanes > 1:
            raise ValueError("learning carries weights from sample to sample: it needs 1 lane")
        net = self.runner.run(
            lambda net: self.chunk_values(
                net, chunk, state, parameters, learning, record_outputs, trace
            )
        )
        return self._read(net, chunk, record_outputs, bool(trace and trace[0]))


class RuntimeBackend(Backend):
    """Brian2 runtime mode (NumPy code generation): for debugging and cross-device checks."""

    def __init__(self, layout: ReadoutLayout, composed: dict[str, ComposedGroup]) -> None:
        super().__init__(layout, composed, RuntimeRunner(lambda: build_network(layout, composed)))


class StandaloneBackend(Backend):
    """Compiled C++ (or CUDA) build, reused for every chunk through ``run_args``."""

    def __init__(
        self,
        layout: ReadoutLayout,
        composed: dict[str, ComposedGroup],
        device: str,
        build_root: Path,
        threads: int = 0,
    ) -> None:
        runner = StandaloneRunner(
            lambda: build_network(layout, composed), device, build_root, layout.key(), threads
        )
        super().__init__(layout, composed, runner)

    @property
    def directory(self) -> Path:
        """The cached build directory."""
        return self.runner.directory


def make_backend(
    device: str,
    layout: ReadoutLayout,
    composed: dict[str, ComposedGroup],
    build_root: Path,
    threads: int = 0,
) -> Backend:
    """The backend for a device name ('runtime', 'cpp', 'cuda' or Brian2's full names)."""
    chosen = get_device(device)
    if not chosen.standalone:
        return RuntimeBackend(layout, composed)
    return StandaloneBackend(layout, composed, chosen.brian2_name, build_root, threads)
