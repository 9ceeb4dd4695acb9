"""The readout kind's data: a data section as encoded train / validation / test splits."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import NamedTuple

import numpy as np

from brainsnn.core.errors import ConfigError, DataError
from brainsnn.core.memory import return_freed_memory
from brainsnn.core.splits import (
    check_same_shape,
    check_split,
    kfold_split,
    stratified_split,
    stratified_subset,
)
from brainsnn.data import (
    SparseSpikeTimes,
    load_digits_dataset,
    load_idx_dataset,
    open_spiking_dataset,
    quantise_times,
    rank_times,
    ttfs_encode,
)
from brainsnn.readout.protocol import EXACT, DataSection, Protocol

IMAGE_MAX = {"digits": 16, "idx": 255}
#: Input steps per sample when the protocol does not say: lossless for every source (images
#: have one step per intensity level, feature files' continuous times keep the exact grid).
DEFAULT_TIME_STEPS: dict[str, int | str] = {**IMAGE_MAX, "spikingdataset": EXACT}


@dataclass
class StepTimes:
    """The exact time of every step of every sample (``encoding.time_steps: exact``).

    Sample s's distinct spike times, ascending, are ``values[offsets[s]:offsets[s + 1]]``
    (units of T): its inputs of rank k fire at step k, at time ``values[offsets[s] + k]``.
    """

    offsets: np.ndarray  # (n + 1,) int64
    values: np.ndarray  # float32 where that is exact, else float64

    def rows(self, start: int, stop: int) -> StepTimes:
        """The samples start to stop - 1."""
        offsets = self.offsets[start : stop + 1]
        return StepTimes(offsets - offsets[0], self.values[offsets[0] : offsets[-1]])

    def table(self, steps: int, samples: int | None = None) -> np.ndarray:
        """(samples, steps) time of each step of each sample (default: all n samples); steps
        without a spike time, and rows past the n-th sample, hold 1.0."""
        counts = np.diff(self.offsets)
        table = np.ones((len(counts) if samples is None else samples, steps))
        table[: len(counts)][np.arange(steps) < counts[:, None]] = self.values
        return table


@dataclass
class Split:
    """Encoded samples: input spike steps (n, D) (a compact integer type, ``steps`` = silent);
    labels (n,) int64; on the exact time grid, the time of each step (``step_times``)."""

    input_steps: np.ndarray
    labels: np.ndarray
    step_times: StepTimes | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def times(self, steps: int) -> np.ndarray:
        """(n, D) input spike times in units of T (1.0 = silent) on a grid of ``steps``."""
        silent = self.input_steps >= steps
        if self.step_times is None:
            return np.where(silent, 1.0, self.input_steps / steps)
        values = np.append(self.step_times.values.astype(np.float64), 1.0)  # the last: silent
        at = self.step_times.offsets[:-1, None] + self.input_steps
        return values[np.where(silent, len(values) - 1, at)]


@dataclass
class PreparedData:
    """Train / validation / test splits on a common grid of ``time_steps`` steps per sample."""

    train: Split
    validation: Split
    test: Split
    n_classes: int
    time_steps: int
    exact_times: bool = False  # time_steps: exact (each split's step_times)

    @property
    def n_inputs(self) -> int:
        """Input features D."""
        return self.train.input_steps.shape[1]


def _validation_split(labels: np.ndarray, data: DataSection) -> tuple[np.ndarray, ...]:
    """(train, validation) indices: fold ``data.fold`` of a K-fold split, else a shuffle split."""
    if data.folds is None and data.fold is None:
        return stratified_split(labels, data.validation_fraction, data.split_seed)
    return kfold_split(labels, data.folds, data.fold)


Samples = np.ndarray | SparseSpikeTimes
Opener = Callable[[], tuple[Samples, np.ndarray]]


class SampleSource(NamedTuple):
    """A source's samples as stored, opened one part at a time (only one large file is held
    at once), and how a block of them becomes spike times (units of T)."""

    open_train: Opener
    open_test: Opener
    to_times: Callable[[np.ndarray], np.ndarray]


def spike_times_as_given(samples: np.ndarray) -> np.ndarray:
    """Samples that already are spike times (units of T), flattened per sample."""
    return samples.reshape(len(samples), -1)


def _sample_source(protocol: Protocol) -> SampleSource:
    """The protocol's samples: images are TTFS-encoded block by block later (``to_times``)."""
    data = protocol.data
    if data.source == "digits":
        images, labels = load_digits_dataset()
        train, test = stratified_split(labels, data.test_fraction, data.split_seed)
        encode = partial(ttfs_encode, max_value=IMAGE_MAX["digits"])
        return SampleSource(
            lambda: (images[train], labels[train]),
            lambda: (images[test], labels[test]),
            encode,
        )
    if data.source == "idx":
        if not data.path:
            raise ConfigError("data.path: the directory of the IDX files is required for idx data")
        directory = Path(data.path).expanduser()
        encode = partial(ttfs_encode, max_value=IMAGE_MAX["idx"])
        return SampleSource(
            partial(load_idx_dataset, directory, "train", hint=data.hint),
            partial(load_idx_dataset, directory, "test", hint=data.hint),
            encode,
        )
    if not data.train_file or not data.test_file:
        raise ConfigError("data.train_file and data.test_file are required for spikingdataset data")
    files = [data.train_file, data.test_file, data.validation_file]
    for name in filter(None, files):  # every missing file fails before any work
        if not Path(name).expanduser().is_file():
            _open_features(name, data.hint)

    return SampleSource(
        partial(_open_features, data.train_file, data.hint),
        partial(_open_features, data.test_file, data.hint),
        spike_times_as_given,
    )


def _open_features(name: str, hint: str) -> tuple[SparseSpikeTimes, np.ndarray]:
    try:
        return open_spiking_dataset(Path(name).expanduser())
    except DataError as exc:
        raise DataError(f"{exc}; {hint}" if hint else str(exc)) from None


#: Values (samples x features) quantised at a time: bounds the float64 temporaries of the
#: encoding to a few tens of MB, whatever the sample width (4,608 STDP-CSNN features: 227 rows).
ENCODE_BLOCK = 2**21
#: Blocks of released samples between two hand-backs of freed memory (each walks the heap).
TRIM_EVERY = 16


def grid_dtype(steps: int) -> np.dtype:
    """The smallest signed integer type that holds grid steps 0 to ``steps`` (silent)."""
    return np.dtype(np.int16 if steps <= np.iinfo(np.int16).max else np.int32)


def _time_blocks(
    samples: Samples, rows: np.ndarray, to_times: Callable[[np.ndarray], np.ndarray], release: bool
) -> Iterator[tuple[int, np.ndarray]]:
    """(position in ``rows``, spike times) of ``samples[rows]``, a block at a time. With
    ``release``, sparse feature-file samples are forgotten once used, their memory handed back."""
    width = int(np.prod(samples.shape[1:]))
    block_rows = max(1, ENCODE_BLOCK // width)
    for number, start in enumerate(range(0, len(rows), block_rows)):
        block = rows[start : start + block_rows]
        yield start, to_times(samples[block])
        if release and isinstance(samples, SparseSpikeTimes):
            samples.release(block)
            if number % TRIM_EVERY == TRIM_EVERY - 1:
                return_freed_memory()


def encode_rows(
    samples: Samples,
    rows: np.ndarray,
    steps: int,
    to_times: Callable[[np.ndarray], np.ndarray] = spike_times_as_given,
    release: bool = False,
) -> np.ndarray:
    """``quantise_times(to_times(samples[rows]), steps)``, block by block, stored as
    ``grid_dtype(steps)``.

    No full-size float copy or temporary is ever held: 60,000 Fashion-MNIST images take 94 MB
    here, against 376 MB as int64 and more than 1 GB of float64 temporaries. With ``release``,
    sparse feature-file samples are forgotten once encoded, and their memory handed back.
    """
    width = int(np.prod(samples.shape[1:]))
    encoded = np.empty((len(rows), width), dtype=grid_dtype(steps))
    for start, times in _time_blocks(samples, rows, to_times, release):
        encoded[start : start + len(times)] = quantise_times(times, steps)
    return encoded


def encode_rows_exact(
    samples: Samples,
    rows: np.ndarray,
    to_times: Callable[[np.ndarray], np.ndarray] = spike_times_as_given,
    release: bool = False,
) -> Split:
    """The exact time grid of ``samples[rows]`` (see ``rank_times``), block by block: a split
    without labels whose silent inputs hold -1 until the number of steps is known
    (``set_silent_step``)."""
    width = int(np.prod(samples.shape[1:]))
    ranks = np.empty((len(rows), width), dtype=grid_dtype(width))
    counts = np.empty(len(rows), dtype=np.int64)
    distinct = []
    for start, times in _time_blocks(samples, rows, to_times, release):
        block_ranks, counts[start : start + len(times)], values = rank_times(times)
        ranks[start : start + len(times)] = block_ranks
        distinct.append(_compact(values))
    offsets = np.concatenate([[0], np.cumsum(counts)])
    values = np.concatenate(distinct) if distinct else np.empty(0)  # float64 if any block is
    return Split(ranks, np.empty(0, dtype=np.int64), StepTimes(offsets, values))


def _compact(values: np.ndarray) -> np.ndarray:
    """float32 where that holds every value exactly (feature files store float32 times), else
    the float64 values: half the memory, nothing lost."""
    single = values.astype(np.float32)
    return single if np.array_equal(single, values) else values


def set_silent_step(input_steps: np.ndarray, steps: int) -> None:
    """Replace the -1 of silent inputs by ``steps``, in place, a block of rows at a time."""
    block_rows = max(1, ENCODE_BLOCK // max(1, input_steps.shape[1]))
    for start in range(0, len(input_steps), block_rows):
        block = input_steps[start : start + block_rows]
        block[block < 0] = steps


def time_steps(protocol: Protocol) -> int | str:
    """The protocol's ``encoding.time_steps``, or its data source's lossless default."""
    return protocol.encoding.time_steps or DEFAULT_TIME_STEPS[protocol.data.source]


def prepare_data(protocol: Protocol) -> PreparedData:
    """Load, split (stratified) and encode the protocol's data on the input time grid.

    The training file is encoded and let go before the test file is read. Input steps are
    stored compactly (``grid_dtype``). With ``encoding.time_steps: exact``, step k of a sample
    is its k-th distinct spike time, and the number of steps is the largest count of distinct
    times of any sample of any split.
    """
    source = _sample_source(protocol)
    data = protocol.data
    train_samples, train_y = source.open_train()  # missing data fails before anything else
    chosen = time_steps(protocol)
    exact = chosen == EXACT
    steps = 0 if exact else int(chosen)

    def encode(samples: Samples, rows: np.ndarray) -> Split:
        if len(rows) == 0:
            raise DataError("a data split is empty: use more samples or a smaller fraction")
        if exact:
            return encode_rows_exact(samples, rows, source.to_times, release=True)
        encoded = encode_rows(samples, rows, steps, source.to_times, release=True)
        return Split(encoded, np.empty(0, dtype=np.int64))

    check_split("training", train_samples, train_y)
    train_shape = train_samples.shape[1:]
    train_rows = stratified_subset(train_y, data.train_subset, data.split_seed)
    val = None  # a validation file: every training row is trained on
    fit = np.arange(len(train_rows))
    if not data.validation_file:
        fit, val = _validation_split(train_y[train_rows], data)
    train_split = encode(train_samples, train_rows[fit])
    if val is not None:
        validation_split, val_y = encode(train_samples, train_rows[val]), train_y[train_rows[val]]
    del train_samples
    if val is None:
        val_samples, val_y = _open_features(data.validation_file, data.hint)
        check_split("validation", val_samples, val_y)
        check_same_shape(train_shape, val_samples.shape[1:])
        validation_split = encode(val_samples, np.arange(len(val_y)))
        del val_samples
    test_samples, test_y = source.open_test()
    check_split("test", test_samples, test_y)
    check_same_shape(train_shape, test_samples.shape[1:])
    test_rows = stratified_subset(test_y, data.test_subset, data.split_seed)
    test_split = encode(test_samples, test_rows)
    del test_samples
    classes = np.unique(np.concatenate([train_y[train_rows], val_y, test_y[test_rows]]))
    remap = np.searchsorted(classes, np.arange(classes.max() + 1)).astype(np.int64)
    train_split.labels = remap[train_y[train_rows[fit]]]
    validation_split.labels = remap[val_y]
    test_split.labels = remap[test_y[test_rows]]
    splits = (train_split, validation_split, test_split)
    if exact:
        steps = max(1, *(int(np.diff(s.step_times.offsets).max(initial=0)) for s in splits))
        for split in splits:
            set_silent_step(split.input_steps, steps)
    return PreparedData(*splits, len(classes), steps, exact_times=exact)
