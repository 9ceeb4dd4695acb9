"""Epoch loop: train / validation / test passes chunk by chunk, annealing, early stopping, resume.

Per-sample work happens inside the compiled network; this module only does epoch-level work:
it hands chunks of samples and state to the backend, applies the model files' ``epoch_start`` and
``epoch_end`` updates, and checkpoints after every chunk so an interrupted run resumes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from brainsnn.core.checkpoint import load_checkpoint, save_checkpoint
from brainsnn.core.expressions import evaluate_expression
from brainsnn.core.progress import progress_bar
from brainsnn.engine.state import bare_names, state_key
from brainsnn.readout.backend import Backend, ChunkInput, ChunkResult
from brainsnn.readout.data import PreparedData, Split
from brainsnn.readout.weights import initial_weights

__all__ = [
    "ReadoutProgress",
    "ReadoutTrainer",
    "concatenate_results",
    "epoch_sample_masks",
    "initial_weights",
    "sample_masks",
]
log = logging.getLogger("brainsnn")
RATE_KEYS = ("a_plus", "a_minus", "thr_lr")
HISTORY_KEYS = (
    "train_accuracy",
    "validation_accuracy",
    "test_accuracy",
    "epoch_wall_time",
    "train_samples_per_second",
    "a_plus",
    "a_minus",
    "thr_lr",
)


@dataclass
class ReadoutProgress:
    """Everything needed to continue training: saved after each chunk."""

    state: dict[str, np.ndarray]
    parameters: dict[str, float]
    epoch: int = 0  # completed epochs
    chunk: int = 0  # completed training chunks of the current epoch
    correct: int = 0  # correct training decisions so far in the current epoch
    train_seconds: float = 0.0
    best_validation: float = 0.0
    epochs_since_best: int = 0
    stopped: bool = False
    history: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in HISTORY_KEYS})
    train_wins: list[int] = field(default_factory=list)  # per output, this epoch so far
    #: per-epoch arrays (one list per epoch): 'train_wins', 'training_threshold'
    epoch_arrays: dict[str, list[list[float]]] = field(default_factory=dict)

    def save(self, path: Path) -> None:
        """Atomically write the progress (arrays in .npz, the rest as JSON inside)."""
        meta = {k: v for k, v in self.__dict__.items() if k != "state"}
        save_checkpoint(path, meta, self.state)

    @classmethod
    def load(cls, path: Path) -> ReadoutProgress:
        """Read a checkpoint written by :meth:`save`."""
        meta, state = load_checkpoint(path)
        return cls(state=state, **meta)


def sample_masks(
    seed: int, epoch: int, chunk: int, shape: tuple[int, int], probability: float
) -> np.ndarray:
    """Bernoulli(probability) masks (1 = masked) for one training chunk of one epoch.

    Drawn from a generator seeded by (seed, epoch, chunk), so a resumed run draws the same masks
    and the oracle can be handed exactly the masks the compiled network used.
    """
    rng = np.random.default_rng([seed, epoch, chunk])
    return (rng.random(shape) < probability).astype(float)


def epoch_sample_masks(
    seed: int, epoch: int, n_samples: int, chunk_size: int, n_outputs: int, probability: float
) -> np.ndarray:
    """The masks of a whole training epoch, (n_samples, N) bool, as the trainer draws them."""
    n_chunks = -(-n_samples // chunk_size)
    parts = [
        sample_masks(seed, epoch, k, (chunk_size, n_outputs), probability) for k in range(n_chunks)
    ]
    return np.concatenate(parts)[:n_samples].astype(bool)


def chunks(
    split: Split, chunk_size: int, padding_steps: int, first: int = 0
) -> Iterator[ChunkInput]:
    """Cut a split into fixed-size chunks, from chunk ``first`` on, one at a time (input steps
    in the split's own integer type, and on the exact grid each step's time); the last is
    padded with silent, unlabelled samples. ``padding_steps`` = L, the silent step."""
    for start in range(first * chunk_size, len(split), chunk_size):
        steps = split.input_steps[start : start + chunk_size]
        labels = split.labels[start : start + chunk_size]
        n_valid = len(labels)
        step_times = None
        if split.step_times is not None:
            step_times = split.step_times.rows(start, start + n_valid)
        if n_valid < chunk_size:
            pad = chunk_size - n_valid
            silent = np.full((pad, steps.shape[1]), padding_steps, dtype=steps.dtype)
            steps = np.vstack([steps, silent])
            labels = np.concatenate([labels, np.full(pad, -1)])
        yield ChunkInput(steps, labels, n_valid, step_times=step_times)


class ReadoutTrainer:
    """Runs the epoch loop of one protocol on one backend."""

    def __init__(
        self,
        backend: Backend,
        data: PreparedData,
        chunk_size: int,
        max_epochs: int,
        patience: int,
        show_progress: bool = True,
        record_test: bool = True,
        seed: int = 0,
        stop_below: float | None = None,
        trace: tuple[list[int], int] | None = None,
        evaluation_backend: Backend | None = None,
    ) -> None:
        self.backend = backend
        #: validation and test passes (learning off): a build with many lanes, or ``backend``
        self.evaluation_backend = evaluation_backend or backend
        self.data = data
        self.chunk_size = chunk_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.show_progress = show_progress
        self.record_test = record_test
        self.seed = seed
        self.stop_below = stop_below  # abort rule of grid searches (gridsearch_stop_acc)
        self.composed = backend.composed
        self.constants = backend.layout.constants()
        self.mask_parameter = self.composed["outputs"].sample_masks
        self.trace = trace  # (neurons, samples) traced at the start of every test pass
        self.last_test: ChunkResult | None = None

    def present(
        self,
        split: Split,
        progress: ReadoutProgress,
        learning: bool,
        record: bool,
        label: str,
        after_chunk: Callable[[int, ChunkResult], None] | None = None,
        first_chunk: int = 0,
        trace: tuple[list[int], int] | None = None,
    ) -> list[ChunkResult]:
        """Simulate a split chunk by chunk; learning updates ``progress.state`` in place.

        ``trace`` = (neurons, samples): membrane traces over the split's first samples.
        """
        results = []
        backend = self.backend if learning else self.evaluation_backend
        chunk_size = backend.layout.chunk_size
        parts = chunks(split, chunk_size, self.data.time_steps, first_chunk)
        done = min(first_chunk * chunk_size, len(split))
        with progress_bar(len(split), label, self.show_progress, done) as bar:
            for number, chunk in enumerate(parts, start=first_chunk):
                if learning and self.mask_parameter:
                    probability = progress.parameters[self.mask_parameter]
                    shape = (chunk_size, backend.layout.n_outputs)
                    chunk.masks = sample_masks(
                        self.seed, progress.epoch, number, shape, probability
                    )
                result = backend.run_chunk(
                    chunk,
                    progress.state,
                    progress.parameters,
                    learning,
                    record,
                    trace if number == 0 else None,
                )
                if learning:
                    progress.state = result.state
                results.append(result)
                if after_chunk is not None:
                    after_chunk(number, result)
                bar.update(chunk.n_valid)
        return results

    def _epoch_updates(self, progress: ReadoutProgress, which: str, **extra: float) -> None:
        """Apply the models' epoch_start/epoch_end expressions (in file order)."""
        for role, group in self.composed.items():
            for name, expression in getattr(group, which).items():
                names = {
                    **self.constants,
                    **extra,
                    **progress.parameters,
                    **bare_names(progress.state),
                }
                value = evaluate_expression(expression, names)
                key = state_key(role, name)
                if key in progress.state:
                    progress.state[key] = np.broadcast_to(value, progress.state[key].shape).copy()
                else:
                    progress.parameters[name] = float(value)

    @staticmethod
    def accuracy(results: list[ChunkResult], split: Split) -> float:
        """Fraction of correct decisions over a split."""
        predictions = np.concatenate([r.prediction for r in results])
        return float(np.mean(predictions == split.labels))

    def train(self, progress: ReadoutProgress, checkpoint: Path | None = None) -> ReadoutProgress:
        """Run (or continue) the epoch loop until max_epochs or early stopping."""
        data = self.data
        while not progress.stopped and progress.epoch < self.max_epochs:
            epoch_label = f"epoch {progress.epoch + 1}/{self.max_epochs}"
            self._train_pass(progress, checkpoint, f"{epoch_label} train")
            evaluation_start = time.perf_counter()
            rates = {k: progress.parameters.get(k, float("nan")) for k in RATE_KEYS}
            train = progress.correct / len(data.train)
            self._epoch_updates(progress, "epoch_end", train_accuracy=train)
            validation = self.accuracy(
                self.present(data.validation, progress, False, False, f"{epoch_label} validation"),
                data.validation,
            )
            test_results = self.present(
                data.test,
                progress,
                False,
                self.record_test,
                f"{epoch_label} test",
                trace=self.trace,
            )
            self.last_test = concatenate_results(test_results)
            test = self.accuracy(test_results, data.test)
            wall = progress.train_seconds + time.perf_counter() - evaluation_start
            speed = len(data.train) / max(progress.train_seconds, 1e-9)
            log.info(
                "epoch %d: train %.4f  validation %.4f  test %.4f  (%.1f s, %.0f samples/s)",
                *(progress.epoch + 1, train, validation, test, wall, speed),
            )
            self._record_epoch(progress, train, validation, test, wall, speed, rates)
            if checkpoint is not None:
                progress.save(checkpoint)
        return progress

    def _train_pass(self, progress: ReadoutProgress, checkpoint: Path | None, label: str) -> None:
        """The training samples of one epoch (from the checkpointed chunk on), with learning."""
        if progress.chunk == 0:
            self._epoch_updates(progress, "epoch_start")
            progress.correct = 0
            progress.train_seconds = 0.0
            progress.train_wins = [0] * self.backend.layout.n_outputs
        chunk_clock = [time.perf_counter()]

        def after_chunk(number: int, result: ChunkResult) -> None:
            lo = number * self.chunk_size
            labels = self.data.train.labels[lo : lo + len(result.prediction)]
            progress.correct += int(np.sum(result.prediction == labels))
            if result.winner is not None:
                counts = np.bincount(result.winner, minlength=len(progress.train_wins))
                progress.train_wins = (np.asarray(progress.train_wins) + counts).tolist()
            progress.chunk = number + 1
            now = time.perf_counter()
            progress.train_seconds += now - chunk_clock[0]
            chunk_clock[0] = now
            if checkpoint is not None:
                progress.save(checkpoint)

        self.present(self.data.train, progress, True, False, label, after_chunk, progress.chunk)

    def _record_epoch(
        self,
        progress: ReadoutProgress,
        train: float,
        validation: float,
        test: float,
        wall: float,
        speed: float,
        rates: dict[str, float],
    ) -> None:
        for key, value in (
            ("train_accuracy", train),
            ("validation_accuracy", validation),
            ("test_accuracy", test),
            ("epoch_wall_time", wall),
            ("train_samples_per_second", speed),
            *rates.items(),
        ):
            progress.history[key].append(float(value))
        arrays = {
            "train_wins": progress.train_wins,
            "training_threshold": progress.state.get(state_key("outputs", "theta_train")),
        }
        for key, values in arrays.items():
            if values is not None and len(values):
                progress.epoch_arrays.setdefault(key, []).append(np.asarray(values, float).tolist())
        progress.epoch += 1
        progress.chunk = 0
        if validation > progress.best_validation:
            progress.best_validation = validation
            progress.epochs_since_best = 0
        else:
            progress.epochs_since_best += 1
        if self.patience and progress.epochs_since_best >= self.patience:
            progress.stopped = True
            log.info("early stopping after %d epochs without improvement", self.patience)
        below = self.stop_below is not None and min(train, validation) < self.stop_below
        if below and progress.epoch > 2:  # epochs counted from 1: from epoch 3 on
            progress.stopped = True
            log.info("stopping: accuracy below training.stop_below=%g", self.stop_below)


def concatenate_results(results: list[ChunkResult]) -> ChunkResult:
    """One result for consecutive chunks: records stacked, state of the last chunk."""

    def stack(attr: str) -> np.ndarray | None:
        parts = [getattr(r, attr) for r in results]
        return None if parts[0] is None else np.concatenate(parts)

    return ChunkResult(
        stack("prediction"),
        stack("first_spike_time"),
        stack("potential"),
        results[-1].state,
        results[0].trace,
    )
