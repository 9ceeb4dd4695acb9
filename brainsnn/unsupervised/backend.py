"""Run one chunk of an unsupervised network on a device and read back its per-sample records."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import brian2 as b2
import numpy as np

from brainsnn.core.errors import BrainsnnError
from brainsnn.core.modellib import ComposedGroup
from brainsnn.devices.runners import ChunkValues, DeviceRunner, make_runner
from brainsnn.engine.state import state_key
from brainsnn.engine.traces import TraceRecord, read_trace, trace_assignments
from brainsnn.unsupervised.layout import UnsupervisedLayout
from brainsnn.unsupervised.network import UnsupervisedNetwork, build_unsupervised_network


@dataclass
class SampleBatch:
    """Samples handed to one chunk: input values (n, D), coincidence (n,); n <= chunk_size."""

    values: np.ndarray
    coincidence: np.ndarray

    def __len__(self) -> int:
        return len(self.values)


@dataclass
class ChunkRecords:
    """Records of the samples a chunk completed (the first ``completed`` of its batch)."""

    counts: np.ndarray  # (completed, N) output spikes in the input window
    retries: np.ndarray  # (completed,) failed presentations before the sample completed
    state: dict[str, np.ndarray]
    trace: TraceRecord | None = None

    @property
    def completed(self) -> int:
        """Samples completed in this chunk."""
        return len(self.retries)


class UnsupervisedBackend:
    """An unsupervised network on one device."""

    def __init__(
        self,
        layout: UnsupervisedLayout,
        composed: dict[str, ComposedGroup],
        device: str,
        build_root: Path,
        threads: int = 0,
        delays: np.ndarray | None = None,
    ) -> None:
        """``delays``: input synapse delays in s (their hash must be ``layout.delay_digest``)."""
        self.layout = layout
        self.composed = composed
        self.runner: DeviceRunner = make_runner(
            device,
            lambda: build_unsupervised_network(layout, composed, delays),
            build_root,
            layout.key(),
            threads,
        )

    @property
    def name(self) -> str:
        """Brian2 device name."""
        return self.runner.name

    def run_chunk(
        self,
        batch: SampleBatch,
        state: dict[str, np.ndarray],
        parameters: dict[str, float],
        learning: bool,
        seed: int,
        trace: tuple[list[int], int] | None = None,
    ) -> ChunkRecords:
        """Present a batch (learning or frozen) and return what it completed.

        ``trace`` = (neurons, n_samples): record the layout's trace variables of these output
        neurons for the batch's first n_samples samples.
        """
        if len(batch) > self.layout.chunk_size:
            raise BrainsnnError("internal error: batch larger than the chunk size")
        fill = _Filler(self, batch, state, parameters, learning, trace)
        net = self.runner.run(fill, seed=seed)
        return self._read(net, len(batch), trace)

    def _read(
        self, net: UnsupervisedNetwork, n_valid: int, trace: tuple[list[int], int] | None
    ) -> ChunkRecords:
        layer = net.monitors["layer"]
        cursor = np.asarray(layer.cursor[:], dtype=np.int64)
        retries = np.asarray(layer.retries[:], dtype=np.int64)
        records = net.monitors["outputs"]
        steps = np.round(np.asarray(records.t_[:]) / float(records.clock.dt_)).astype(np.int64)
        neuron = np.asarray(records.i[:])
        counts = np.asarray(records.n_spikes[:], dtype=np.int64)
        order = np.lexsort((neuron, steps))
        table = counts[order].reshape(-1, self.layout.n_outputs)
        valid = cursor < n_valid
        if not np.array_equal(cursor[valid], np.arange(valid.sum())):
            raise BrainsnnError("internal error: samples completed out of order")
        state = {
            state_key(role, name): net.from_synapses(
                role, np.array(getattr(net.groups[role], name)[:])
            )
            for role, name in net.persistent
        }
        return ChunkRecords(
            counts=table[: len(cursor)][valid],
            retries=retries[valid],
            state=state,
            trace=read_trace(
                net.monitors["trace"],
                net.groups["outputs"],
                self.layout.trace_variables,
                "at_sample",
            )
            if trace
            else None,
        )


@dataclass
class _Filler:
    """Everything one chunk hands to the built network."""

    backend: UnsupervisedBackend
    batch: SampleBatch
    state: dict[str, np.ndarray]
    parameters: dict[str, float]
    learning: bool
    trace: tuple[list[int], int] | None

    def __call__(self, net: UnsupervisedNetwork) -> ChunkValues:
        layout = self.backend.layout
        rows = layout.chunk_size + 1  # a silent row for presentations past the last sample
        values = np.zeros((rows, layout.n_inputs))
        values[: len(self.batch)] = self.batch.values
        coincidence = np.zeros(rows)
        coincidence[: len(self.batch)] = self.batch.coincidence
        groups = net.groups
        assignments: list[tuple[b2.Group, str, object]] = [
            _with_unit(groups[net.parameter_owner[name]], name, float(value))
            for name, value in self.parameters.items()
        ]
        assignments += [
            _with_unit(
                groups[role],
                name,
                net.to_synapses(role, np.asarray(self.state[state_key(role, name)], float)),
            )
            for role, name in net.persistent
        ]
        assignments += [
            (groups[role], "learning", float(self.learning))
            for role in ("inputs", "outputs", "layer", "inhibitory")
            if role in groups
        ]
        if layout.trace_variables:
            neurons, samples = self.trace or ([], 0)
            assignments += trace_assignments(
                groups["outputs"], layout.n_outputs, neurons, int(min(samples, len(self.batch)))
            )
        arrays = {net.input_values: values}
        if any("sample_coincidence" in text for _, text in layout.model_texts):
            arrays[net.sample_coincidence] = coincidence  # only a build that uses it knows it
        return arrays, assignments


def _with_unit(group: b2.Group, name: str, value: object) -> tuple[b2.Group, str, object]:
    """(group, variable, value in base units carrying the variable's dimensions)."""
    return group, name, b2.Quantity(value, dim=group.variables[name].dim)
