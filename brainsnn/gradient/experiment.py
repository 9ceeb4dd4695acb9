"""Run a gradient protocol: train in JAX epoch by epoch, test with FS / FR decoding, export the
trained network, and optionally re-simulate the test set in Brian2.

A checkpoint (the whole training state and the per-epoch history) is written after every epoch,
so ``--resume`` continues after the last completed epoch. With a validation split the epoch with
the best validation accuracy is tested; without one, the last epoch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from brainsnn.core.checkpoint import CHECKPOINT, load_checkpoint, save_checkpoint
from brainsnn.core.errors import ConfigError
from brainsnn.core.experiment import Experiment
from brainsnn.core.progress import progress_bar
from brainsnn.core.provenance import basic_provenance
from brainsnn.core.results import make_dataset, trace_values, with_trace_coordinates, write_atomic
from brainsnn.core.rundir import RESULTS, check_run_directory, open_run_directory
from brainsnn.gradient.data import GradientDataset, SpikeSplit, load_gradient_data
from brainsnn.gradient.export import save_network
from brainsnn.gradient.metrics import (
    accuracy_over_time,
    first_spike_steps,
    latency,
)
from brainsnn.gradient.network import GradientStack
from brainsnn.gradient.protocol import GradientProtocol
from brainsnn.gradient.results import GRADIENT_VARIABLES
from brainsnn.gradient.trainer import DeviceBatch, GradientTrainer, TrainState, device_batch

log = logging.getLogger("brainsnn")
HISTORY_KEYS = (
    "train_loss",
    "train_accuracy",
    "validation_accuracy",
    "epoch_train_seconds",
    "train_samples_per_second",
)


@dataclass
class GradientProgress:
    """Completed epochs: the training state, the best state so far, and per-epoch history."""

    state: TrainState
    best: TrainState
    best_accuracy: float = -1.0
    history: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in HISTORY_KEYS})

    @property
    def epoch(self) -> int:
        return len(self.history["train_loss"])

    def save(self, path: Path) -> None:
        import jax

        arrays = {f"state_{i}": np.asarray(a) for i, a in enumerate(jax.tree.leaves(self.state))}
        arrays |= {f"best_{i}": np.asarray(a) for i, a in enumerate(jax.tree.leaves(self.best))}
        meta = {"history": self.history, "best_accuracy": self.best_accuracy}
        save_checkpoint(path, meta, arrays)

    def load(self, path: Path) -> None:
        """Replace this fresh progress by the checkpoint's (same tree structure)."""
        import jax
        import jax.numpy as jnp

        meta, stored = load_checkpoint(path)

        def restore(tree, prefix):
            leaves, treedef = jax.tree.flatten(tree)
            loaded = [jnp.asarray(stored[f"{prefix}_{i}"]) for i in range(len(leaves))]
            return jax.tree.unflatten(treedef, loaded)

        self.state = restore(self.state, "state")
        self.best = restore(self.best, "best")
        self.history = meta["history"]
        self.best_accuracy = meta["best_accuracy"]


def _check_sizes(protocol: GradientProtocol, data: GradientDataset) -> None:
    readout = protocol.network.readout.size
    if readout != data.classes:
        raise ConfigError(
            f"network.readout.size is {readout} but the data has {data.classes} classes"
        )


def prefetched(items: list, prepare: Callable[[Any], Any]) -> Iterator[Any]:
    """``prepare(item)`` for each item in order, the next one computed on a worker thread
    while the caller uses the current one (NumPy releases the GIL while XLA trains)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(prepare, items[0]) if items else None
        for index in range(len(items)):
            value = pending.result()
            if index + 1 < len(items):
                pending = pool.submit(prepare, items[index + 1])
            yield value


def _batches(count: int, size: int, rng: np.random.Generator | None) -> list[np.ndarray]:
    order = rng.permutation(count) if rng is not None else np.arange(count)
    return [order[start : start + size] for start in range(0, count, size)]


@dataclass
class Evaluation:
    """Readout activity on a split: spikes and membrane (n, N, T), hidden activity (n, L)."""

    labels: np.ndarray
    spikes: np.ndarray
    membrane: np.ndarray
    hidden: np.ndarray
    start: np.ndarray  # (n,): the step each sample's (front-padded) batch begins at


def evaluate_split(
    trainer: GradientTrainer, state: TrainState, data: GradientDataset, split: SpikeSplit, seed: int
) -> Evaluation:
    """Forward the whole split in test mode, batch by batch."""
    import jax

    outputs = []
    key = jax.random.PRNGKey(seed)
    for index, batch in enumerate(_batches(len(split), trainer.protocol.test.batch_size, None)):
        events = data.events(split, batch)
        spikes, membrane, hidden = trainer.evaluate(
            state, events, jax.random.fold_in(key, index), np.random.default_rng([seed, index])
        )
        padding = data.steps - events.shape[1]  # a batch in a shorter frame
        spikes, membrane = data.full_frame(spikes, 2), data.full_frame(membrane, 2)
        outputs.append((spikes, membrane, hidden, events.start + padding))
    spikes, membrane, hidden, start = (
        np.concatenate(parts) for parts in zip(*outputs, strict=True)
    )
    return Evaluation(split.labels, spikes, membrane, hidden, start)


def decisions(protocol: GradientProtocol, evaluation: Evaluation) -> dict[str, np.ndarray]:
    """Predicted class per decoding: fs and fr for spiking readouts, else membrane."""
    if protocol.loss.kind == "membrane":
        from brainsnn.gradient.losses import reduce_membrane
        from brainsnn.gradient.network import step_mask

        n, _, steps = evaluation.membrane.shape
        valid = step_mask(evaluation.start, n, steps)
        reduced = np.asarray(reduce_membrane(evaluation.membrane, protocol.loss.reduction, valid))
        return {"membrane": reduced.argmax(axis=-1)}
    first = first_spike_steps(evaluation.spikes, evaluation.membrane)
    return {"fs": first.argmin(axis=-1), "fr": evaluation.spikes.sum(axis=-1).argmax(axis=-1)}


def _main_decoding(protocol: GradientProtocol) -> str:
    return {"first_spike": "fs", "firing_rate": "fr", "membrane": "membrane"}[protocol.loss.kind]


class GradientRun:
    """Epoch loop with progress bars and per-epoch checkpoints."""

    def __init__(self, experiment: Experiment, data: GradientDataset, show_progress: bool):
        import jax

        protocol = experiment.protocol
        self.protocol, self.data, self.show_progress = protocol, data, show_progress
        self.stack = GradientStack(protocol.network, data.channels, experiment.resolved)
        params, constants, stats = self.stack.init_state(protocol.seed)
        batches = -(-len(data.train) // protocol.training.batch_size)
        self.trainer = GradientTrainer(protocol, self.stack, constants, data.steps, batches)
        fresh = self.trainer.initial_state(params, stats)
        self.progress = GradientProgress(fresh, fresh)
        self.key = jax.random.PRNGKey(protocol.seed)

    def train_epoch(self, epoch: int) -> None:
        import jax

        protocol, data, progress = self.protocol, self.data, self.progress
        rng = np.random.default_rng([protocol.seed, epoch])
        batches = _batches(len(data.train), protocol.training.batch_size, rng)
        losses, correct = [], 0
        started = time.perf_counter()
        state = progress.state

        def prepare(batch: np.ndarray) -> DeviceBatch:
            events = data.events(data.train, batch, rng)
            noise = self.stack.draw_noise(rng, *events.shape[:2])
            return device_batch(events, data.train.labels[batch], noise)

        with progress_bar(len(batches), f"epoch {epoch}", self.show_progress, unit="batch") as bar:
            for index, prepared in enumerate(prefetched(batches, prepare)):
                key = jax.random.fold_in(jax.random.fold_in(self.key, epoch), index)
                state, loss, hits = self.trainer.train_step(state, prepared, key)
                losses.append(float(loss))
                correct += int(hits)
                bar.set_postfix(loss=f"{losses[-1]:.3f}")
                bar.update()
        seconds = time.perf_counter() - started
        progress.state = state
        validation = float("nan")
        if data.validation is not None:
            evaluation = evaluate_split(self.trainer, state, data, data.validation, epoch)
            predicted = decisions(protocol, evaluation)[_main_decoding(protocol)]
            validation = float((predicted == evaluation.labels).mean())
        if data.validation is None or validation >= progress.best_accuracy:
            progress.best, progress.best_accuracy = state, validation
        for name, value in zip(
            HISTORY_KEYS,
            (
                float(np.mean(losses)),
                correct / len(data.train),
                validation,
                seconds,
                len(data.train) / seconds,
            ),
            strict=True,
        ):
            progress.history[name].append(value)
        log.info(
            "epoch %d: loss %.4f, train accuracy %.4f, validation %.4f, %.1f s (%.0f samples/s)",
            epoch,
            progress.history["train_loss"][-1],
            progress.history["train_accuracy"][-1],
            validation,
            seconds,
            len(data.train) / seconds,
        )


def _test_values(protocol: GradientProtocol, evaluation: Evaluation) -> dict[str, np.ndarray]:
    predicted = decisions(protocol, evaluation)
    labels = evaluation.labels
    names = list(predicted)
    values: dict[str, np.ndarray] = {
        "test_label": labels,
        "test_prediction": np.stack([predicted[n] for n in names]),
        "test_accuracy": np.array([(predicted[n] == labels).mean() for n in names]),
        "output_spike_count": evaluation.spikes.sum(axis=-1),
    }
    n_samples = len(labels)
    hidden_sizes = [s.size for s in protocol.network.hidden]
    per_neuron = [
        evaluation.hidden[:, k].sum() / n_samples / size for k, size in enumerate(hidden_sizes)
    ]
    readout_spikes = evaluation.spikes.sum() / n_samples / protocol.network.readout.size
    values["spikes_per_neuron"] = np.array([*per_neuron, readout_spikes])
    if protocol.loss.kind != "membrane":
        values["first_spike_step"] = first_spike_steps(evaluation.spikes, evaluation.membrane)
        curves = np.stack(
            [accuracy_over_time(evaluation.spikes, evaluation.membrane, labels, n) for n in names]
        )
        values["accuracy_over_time"] = curves
        values["latency_50"] = np.array([latency(c, 0.5) for c in curves])
        values["latency_90"] = np.array([latency(c, 0.9) for c in curves])
    return values


def run_gradient_protocol(
    experiment: Experiment, directory: Path, resume: bool = False, show_progress: bool = True
) -> xr.Dataset:
    """Train, test and export a loaded gradient experiment in ``directory``."""
    started = time.perf_counter()
    protocol = experiment.protocol
    directory = Path(directory)
    checkpoint = directory / CHECKPOINT
    check_run_directory(directory, resume, protocol.model_dump())
    data = load_gradient_data(protocol.data, protocol.seed)
    _check_sizes(protocol, data)
    open_run_directory(directory, protocol)
    log.info(
        "protocol %s: %d train / %d validation / %d test samples, %d channels x %d steps, "
        "layers %s",
        protocol.name,
        len(data.train),
        0 if data.validation is None else len(data.validation),
        len(data.test),
        data.channels,
        data.steps,
        " -> ".join(
            f"{s.size} {s.neuron}" for s in [*protocol.network.hidden, protocol.network.readout]
        ),
    )
    run = GradientRun(experiment, data, show_progress)
    if resume:
        run.progress.load(checkpoint)
        log.info("resuming after epoch %d", run.progress.epoch)
    for epoch in range(run.progress.epoch + 1, protocol.training.epochs + 1):
        run.train_epoch(epoch)
        run.progress.save(checkpoint)
    best = run.progress.best
    evaluation = evaluate_split(run.trainer, best, data, data.test, protocol.seed + 1)
    values = {k: np.asarray(v) for k, v in run.progress.history.items()}
    values |= _test_values(protocol, evaluation)
    exported = run.stack.inference_weights(best.params, run.trainer.constants, best.batch_stats)
    save_network(directory, protocol, run.stack, exported, data.steps)
    records: dict[str, np.ndarray] = {}
    if protocol.recording.resimulate:
        values |= _resimulation_values(protocol, run.stack, exported, data, evaluation)
        records = values.pop("trace/records", {})
        values |= trace_values(records)
    attrs = basic_provenance(
        protocol.name, "jax-" + _jax_backend(), protocol.seed, time.perf_counter() - started
    )
    attrs |= {
        "kind": "gradient",
        "loss": protocol.loss.kind,
        "decoding": _main_decoding(protocol),
        "steps": data.steps,
        "dt_s": protocol.data.dt,
        "mean_epoch_train_seconds": float(np.mean(values["epoch_train_seconds"])),
        "spikes_per_neuron_overall": _overall_activity(protocol, evaluation),
    }
    dataset = make_dataset(values, attrs, GRADIENT_VARIABLES)
    names = list(decisions(protocol, evaluation))
    dataset = with_trace_coordinates(dataset.assign_coords(decoding=names), records)
    write_atomic(dataset, directory / RESULTS)
    return dataset


def _overall_activity(protocol: GradientProtocol, evaluation: Evaluation) -> float:
    """Spikes per neuron per test sample over all layers (spec A.7 "overall")."""
    neurons = sum(s.size for s in protocol.network.hidden) + protocol.network.readout.size
    spikes = evaluation.hidden.sum() + evaluation.spikes.sum()
    return float(spikes / len(evaluation.labels) / neurons)


def _jax_backend() -> str:
    import jax

    return jax.default_backend()


def _resimulation_values(
    protocol: GradientProtocol,
    stack: GradientStack,
    exported: list[dict],
    data: GradientDataset,
    evaluation: Evaluation,
) -> dict[str, np.ndarray]:
    from brainsnn.gradient.resimulate import TraceRequest, resimulate

    count = min(protocol.recording.resimulate_samples or len(data.test), len(data.test))
    inputs = data.full_frame(data.dense(data.test, np.arange(count)).counts, 1)
    traces = protocol.recording.traces
    result = resimulate(
        stack,
        exported,
        inputs,
        start=evaluation.start[:count],  # where each sample's test batch began
        seed=protocol.seed,
        device=protocol.device.name,
        build_dir=protocol.device.build_dir,
        traces=None if traces is None else TraceRequest.from_section(traces, protocol.data.dt),
        threads=protocol.device.threads,
        chunk_size=min(count, protocol.test.batch_size),
    )
    brian = Evaluation(
        evaluation.labels[:count],
        np.asarray(result.readout_spikes, np.float32),
        np.asarray(result.readout_membrane, np.float32),
        np.asarray(result.hidden_spike_counts),
        evaluation.start[:count],
    )
    jax_side = Evaluation(
        evaluation.labels[:count],
        evaluation.spikes[:count],
        evaluation.membrane[:count],
        evaluation.hidden[:count],
        evaluation.start[:count],
    )
    ours, theirs = decisions(protocol, brian), decisions(protocol, jax_side)
    names = list(ours)
    agreement = np.array([(ours[n] == theirs[n]).mean() for n in names])
    log.info(
        "Brian2 re-simulation of %d test samples on %s: prediction agreement %s",
        count,
        protocol.device.name,
        ", ".join(f"{n} {a:.4f}" for n, a in zip(names, agreement, strict=True)),
    )
    values = {
        "resimulated_prediction": np.stack([ours[n] for n in names]),
        "resimulated_agreement": agreement,
    }
    if result.trace is not None:
        values["trace/records"] = result.trace.as_records()
    return values
