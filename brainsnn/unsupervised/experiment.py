"""Run an unsupervised protocol: train (STDP), assign labels (frozen), test (frozen, repeated).

Phases run in order: ``train-1`` .. ``train-E``, ``assign`` (on training data, spec B.8) and
``test-1`` .. ``test-R``. Each phase goes through its samples chunk by chunk; after every chunk
the progress (weights, state, position, partial records) is checkpointed, so ``--resume``
continues from the last completed chunk of whatever phase was running.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from pathlib import Path

import numpy as np
import xarray as xr

from brainsnn.core.builds import build_root
from brainsnn.core.checkpoint import CHECKPOINT
from brainsnn.core.errors import BrainsnnError
from brainsnn.core.experiment import Experiment
from brainsnn.core.expressions import evaluate_expression
from brainsnn.core.modellib import ComposedGroup
from brainsnn.core.progress import progress_bar
from brainsnn.core.results import write_atomic
from brainsnn.core.rundir import RESULTS, check_run_directory, open_run_directory
from brainsnn.core.units import check_quantity
from brainsnn.devices.registry import require_device
from brainsnn.engine.state import initial_state, state_key
from brainsnn.unsupervised.backend import (
    ChunkRecords,
    SampleBatch,
    UnsupervisedBackend,
)
from brainsnn.unsupervised.data import (
    EncodedSplit,
    PreparedImages,
    has_validation,
    prepare_unsupervised_data,
)
from brainsnn.unsupervised.labels import accuracy, assign_labels, classify
from brainsnn.unsupervised.layout import UnsupervisedLayout
from brainsnn.unsupervised.progress import UnsupervisedProgress
from brainsnn.unsupervised.protocol import UnsupervisedProtocol
from brainsnn.unsupervised.results import collect_unsupervised_results

log = logging.getLogger("brainsnn")
PHASE_CODES = {"train": 1, "assign": 2, "test": 3, "validate": 4}


def phases(protocol: UnsupervisedProtocol) -> list[str]:
    """The run's phases in order."""
    train = [f"train-{epoch}" for epoch in range(1, protocol.training.epochs + 1)]
    test = [f"test-{repeat}" for repeat in range(1, protocol.test.repeats + 1)]
    validate = ["validate"] if has_validation(protocol.data) else []
    return [*train, "assign", *validate, *test]


def chunk_seed(seed: int, phase: str, start: int) -> int:
    """Seed (below 2**31, valid on every device) of the chunk starting at sample ``start``."""
    kind, _, number = phase.partition("-")
    sequence = np.random.SeedSequence([seed, PHASE_CODES[kind], int(number or 0), start])
    return int(sequence.generate_state(1)[0]) % 2**31


def build_unsupervised_layout(protocol: Experiment, data: PreparedImages) -> UnsupervisedLayout:
    """The compiled structure an experiment needs."""
    chunk = min(protocol.training.chunk_size, max(len(data.train), len(data.test)))
    traces = protocol.recording.traces
    return UnsupervisedLayout(
        n_inputs=data.n_inputs,
        n_outputs=protocol.network.outputs,
        n_inhibitory=protocol.network.outputs if protocol.network.inhibitory else 0,
        present_steps=protocol.encoding.present_steps,
        rest_steps=protocol.encoding.rest_steps,
        dt_s=check_quantity(protocol.encoding.dt, "second"),
        chunk_size=chunk,
        presentations=chunk + int(np.ceil(protocol.training.retry_budget * chunk)),
        model_texts=protocol.resolved.texts,
        trace_variables=traces.checked_variables(protocol.network.outputs) if traces else (),
    )


def initial_unsupervised_state(
    protocol: UnsupervisedProtocol,
    layout: UnsupervisedLayout,
    composed: dict[str, ComposedGroup],
    parameters: dict[str, float],
) -> dict[str, np.ndarray]:
    """Weights (uniform, optionally rescaled), delays and the models' persistent variables."""
    rng = np.random.default_rng(protocol.seed)
    init = protocol.network.weights
    weights = rng.uniform(init.low, init.high, (layout.n_outputs, layout.n_inputs))
    if init.column_sum is not None:
        sums = weights.sum(axis=1, keepdims=True)
        weights = weights * init.column_sum / np.where(sums == 0, 1, sums)
    sizes = {
        "inputs": layout.n_inputs,
        "outputs": layout.n_outputs,
        "layer": 1,
        "inhibitory": layout.n_inhibitory,
        "feedforward": layout.n_inputs * layout.n_outputs,
    }
    names = {**layout.constants(), **parameters}
    given = {state_key("feedforward", "w"): weights.reshape(-1)}
    state = initial_state(composed, parameters, sizes, layout.constants(), given)
    delay = composed["feedforward"].delay
    if delay:
        n = sizes["feedforward"]
        values = evaluate_expression(delay, {**names, "rng": rng, "n": n})
        state[state_key("feedforward", "delay")] = np.broadcast_to(
            np.asarray(values, dtype=float), (n,)
        ).copy()
    return state


class UnsupervisedRun:
    """Runs the phases of one unsupervised protocol on one backend."""

    def __init__(
        self,
        protocol: UnsupervisedProtocol,
        backend: UnsupervisedBackend,
        data: PreparedImages,
        show_progress: bool = True,
    ) -> None:
        self.protocol = protocol
        self.backend = backend
        self.data = data
        self.show_progress = show_progress

    def split_of(self, phase: str) -> EncodedSplit:
        """The samples a phase presents."""
        if phase.startswith("test"):
            return self.data.test
        if phase == "validate":
            return self.data.validation
        if phase == "assign" and self.protocol.labels.samples:
            train = self.data.train
            n = self.protocol.labels.samples
            return EncodedSplit(train.values[:n], train.coincidence[:n], train.labels[:n])
        return self.data.train

    def run(self, progress: UnsupervisedProgress, checkpoint: Path | None) -> None:
        """Continue the phases from ``progress`` until the last test pass is done."""
        order = phases(self.protocol)
        if progress.phase not in order and progress.phase != "done":
            raise BrainsnnError(f"checkpoint phase '{progress.phase}' is not part of this protocol")
        while progress.phase != "done":
            self._run_phase(progress, checkpoint)
            self._finish_phase(progress)
            index = order.index(progress.phase) + 1
            progress.phase = order[index] if index < len(order) else "done"
            progress.position, progress.seconds, progress.spikes, progress.retries = 0, 0.0, 0, 0
            if checkpoint is not None:
                progress.save(checkpoint)

    def _run_phase(self, progress: UnsupervisedProgress, checkpoint: Path | None) -> None:
        phase = progress.phase
        split = self.split_of(phase)
        learning = phase.startswith("train")
        keep = not learning
        chunk = self.backend.layout.chunk_size
        bar = progress_bar(len(split), phase, self.show_progress, progress.position)
        with bar:
            while progress.position < len(split):
                start = progress.position
                batch = SampleBatch(
                    split.values[start : start + chunk], split.coincidence[start : start + chunk]
                )
                started = time.perf_counter()
                records = self.backend.run_chunk(
                    batch,
                    progress.state,
                    progress.parameters,
                    learning,
                    chunk_seed(self.protocol.seed, phase, start),
                    trace=self._trace_request(phase, start),
                )
                if records.completed == 0:
                    raise BrainsnnError(
                        f"{phase}: no sample completed in a chunk of "
                        f"{self.backend.layout.presentations} presentations; raise "
                        "training.retry_budget or lower max_retries"
                    )
                progress.seconds += time.perf_counter() - started
                if learning:
                    progress.state.update(records.state)
                progress.position += records.completed
                progress.spikes += int(records.counts.sum())
                progress.retries += int(records.retries.sum())
                if keep:
                    self._keep(progress, records)
                if checkpoint is not None:
                    progress.save(checkpoint)
                bar.update(records.completed)

    def _trace_request(self, phase: str, start: int) -> tuple[list[int], int] | None:
        traces = self.protocol.recording.traces
        if traces is None or phase != "test-1" or start > 0:
            return None  # traces cover the first chunk of the first test pass
        return traces.neurons, traces.samples

    @staticmethod
    def _keep(progress: UnsupervisedProgress, records: ChunkRecords) -> None:
        def append(name: str, values: np.ndarray) -> None:
            old = progress.records.get(name)
            progress.records[name] = values if old is None else np.concatenate([old, values])

        append(f"{progress.phase}/counts", records.counts.astype(np.int32))
        append(f"{progress.phase}/retries", records.retries.astype(np.int32))
        trace = records.trace
        if trace is not None and len(trace.neurons):
            progress.records.update(trace.as_records())

    def _finish_phase(self, progress: UnsupervisedProgress) -> None:
        phase, n = progress.phase, max(progress.position, 1)
        speed = progress.position / progress.seconds if progress.seconds else 0.0
        log.info(
            "%s: %d samples in %.1f s (%.1f samples/s), %.2f output spikes and %.3f retries "
            "per sample",
            phase,
            progress.position,
            progress.seconds,
            speed,
            progress.spikes / n,
            progress.retries / n,
        )
        if phase.startswith("train"):
            history = progress.history
            history["epoch_wall_time"].append(progress.seconds)
            history["train_samples_per_second"].append(speed)
            history["train_mean_retries"].append(progress.retries / n)
            history["train_spikes_per_sample"].append(progress.spikes / n)
        elif phase == "assign":
            split = self.split_of("assign")
            assignment, response = assign_labels(
                progress.records["assign/counts"], split.labels, self.data.n_classes
            )
            progress.records["assignment"] = assignment
            progress.records["class_response"] = response
            log.info(
                "assignment: %d of %d neurons assigned",
                int((assignment >= 0).sum()),
                len(assignment),
            )
        else:
            counts = progress.records[f"{phase}/counts"]
            prediction = classify(counts, progress.records["assignment"], self.data.n_classes)
            progress.records[f"{phase}/prediction"] = prediction
            split, what = (
                (self.data.test, "test")
                if phase != "validate"
                else (self.data.validation, "validation")
            )
            log.info("%s: %s accuracy %.4f", phase, what, accuracy(prediction, split.labels))


def make_unsupervised_backend(
    protocol: UnsupervisedProtocol,
    layout: UnsupervisedLayout,
    composed: dict[str, ComposedGroup],
    state: dict[str, np.ndarray],
) -> UnsupervisedBackend:
    """The protocol's device backend; input delays (part of ``state``) go into the build."""
    root = build_root(protocol.device.build_dir)
    log.info("building the network for device %s (builds cached in %s)", protocol.device.name, root)
    delays = state.get(state_key("feedforward", "delay"))
    if delays is not None:
        digest = hashlib.sha256(np.ascontiguousarray(delays).tobytes()).hexdigest()[:16]
        layout = dataclasses.replace(layout, delay_digest=digest)
    return UnsupervisedBackend(
        layout, composed, protocol.device.name, root, protocol.device.threads, delays
    )


def run_unsupervised_protocol(
    experiment: Experiment,
    directory: Path,
    resume: bool = False,
    show_progress: bool = True,
) -> xr.Dataset:
    """Run an unsupervised experiment in ``directory``; returns the results dataset."""
    started = time.perf_counter()
    protocol = experiment.protocol
    directory = Path(directory)
    checkpoint = directory / CHECKPOINT
    check_run_directory(directory, resume, protocol.model_dump())
    composed = dict(experiment.resolved.composed)
    parameters = dict(experiment.resolved.parameters)
    data = prepare_unsupervised_data(protocol)
    require_device(protocol.device.name)
    layout = build_unsupervised_layout(experiment, data)
    open_run_directory(directory, protocol)
    log.info(
        "protocol %s: %d train / %d test samples, %d inputs, %d outputs%s, "
        "%d + %d steps per presentation, device %s",
        protocol.name,
        len(data.train),
        len(data.test),
        layout.n_inputs,
        layout.n_outputs,
        f" + {layout.n_inhibitory} inhibitory" if layout.n_inhibitory else "",
        layout.present_steps,
        layout.rest_steps,
        protocol.device.name,
    )
    if resume:
        progress = UnsupervisedProgress.load(checkpoint)
        log.info("resuming phase %s at sample %d", progress.phase, progress.position)
    else:
        state = initial_unsupervised_state(protocol, layout, composed, parameters)
        progress = UnsupervisedProgress(state=state, parameters=dict(parameters))
    backend = make_unsupervised_backend(protocol, layout, composed, progress.state)
    UnsupervisedRun(protocol, backend, data, show_progress).run(progress, checkpoint)
    dataset = collect_unsupervised_results(
        experiment, layout, data, progress, backend.name, time.perf_counter() - started
    )
    write_atomic(dataset, directory / RESULTS)
    return dataset
