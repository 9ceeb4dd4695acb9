"""The readout kind's data: a data section as encoded train / validation / test splits."""

from __future__ import annotations

from collections.abc import Callable
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
    ttfs_encode,
)
from brainsnn.readout.protocol import DataSection, Protocol

IMAGE_MAX = {"digits": 16, "idx": 255}
#: Input steps per sample for continuous (feature-file) times when the protocol does not say.
DEFAULT_FEATURE_STEPS = 1000


@dataclass
class Split:
    """Encoded samples: input spike steps (n, D) (a compact integer type, ``steps`` = silent);
    labels (n,) int64."""

    input_steps: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class PreparedData:
    """Train / validation / test splits on a common grid of ``time_steps`` steps per sample."""

    train: Split
    validation: Split
    test: Split
    n_classes: int
    time_steps: int

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
    default_steps: int
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
        digits = IMAGE_MAX["digits"]
        encode = partial(ttfs_encode, max_value=digits)
        return SampleSource(
            lambda: (images[train], labels[train]),
            lambda: (images[test], labels[test]),
            digits,
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
            IMAGE_MAX["idx"],
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
        DEFAULT_FEATURE_STEPS,
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


def encode_rows(
    samples: np.ndarray,
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
    block_rows = max(1, ENCODE_BLOCK // width)
    for number, start in enumerate(range(0, len(rows), block_rows)):
        block = rows[start : start + block_rows]
        encoded[start : start + len(block)] = quantise_times(to_times(samples[block]), steps)
        if release and isinstance(samples, SparseSpikeTimes):
            samples.release(block)
            if number % TRIM_EVERY == TRIM_EVERY - 1:
                return_freed_memory()
    return encoded


def prepare_data(protocol: Protocol) -> PreparedData:
    """Load, split (stratified) and encode the protocol's data on the input time grid.

    The training file is encoded and let go before the test file is read. Input steps are
    stored compactly (``grid_dtype``).
    """
    source = _sample_source(protocol)
    data = protocol.data
    train_samples, train_y = source.open_train()  # missing data fails before anything else
    steps = protocol.encoding.time_steps or source.default_steps

    def encode(samples: Samples, rows: np.ndarray) -> np.ndarray:
        if len(rows) == 0:
            raise DataError("a data split is empty: use more samples or a smaller fraction")
        return encode_rows(samples, rows, steps, source.to_times, release=True)

    check_split("training", train_samples, train_y)
    train_shape = train_samples.shape[1:]
    train_rows = stratified_subset(train_y, data.train_subset, data.split_seed)
    val = None  # a validation file: every training row is trained on
    fit = np.arange(len(train_rows))
    if not data.validation_file:
        fit, val = _validation_split(train_y[train_rows], data)
    fit_steps = encode(train_samples, train_rows[fit])
    if val is not None:
        val_steps, val_y = encode(train_samples, train_rows[val]), train_y[train_rows[val]]
    del train_samples
    if val is None:
        val_samples, val_y = _open_features(data.validation_file, data.hint)
        check_split("validation", val_samples, val_y)
        check_same_shape(train_shape, val_samples.shape[1:])
        val_steps = encode(val_samples, np.arange(len(val_y)))
        del val_samples
    test_samples, test_y = source.open_test()
    check_split("test", test_samples, test_y)
    check_same_shape(train_shape, test_samples.shape[1:])
    test_rows = stratified_subset(test_y, data.test_subset, data.split_seed)
    test_steps = encode(test_samples, test_rows)
    del test_samples
    classes = np.unique(np.concatenate([train_y[train_rows], val_y, test_y[test_rows]]))
    remap = np.searchsorted(classes, np.arange(classes.max() + 1))

    def labels(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return remap[values[rows]].astype(np.int64)

    return PreparedData(
        Split(fit_steps, labels(train_y, train_rows[fit])),
        Split(val_steps, labels(val_y, np.arange(len(val_y)))),
        Split(test_steps, labels(test_y, test_rows)),
        len(classes),
        steps,
    )
