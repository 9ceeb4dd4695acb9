"""The readout kind's data: a data section as encoded train / validation / test splits."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from brainsnn.core.errors import ConfigError, DataError
from brainsnn.core.splits import (
    check_samples,
    kfold_split,
    stratified_split,
    stratified_subset,
)
from brainsnn.data import (
    load_digits_dataset,
    load_idx_dataset,
    quantise_times,
    read_spiking_dataset,
    ttfs_encode,
)
from brainsnn.readout.protocol import DataSection, Protocol

IMAGE_MAX = {"digits": 16, "idx": 255}
#: Input steps per sample for continuous (feature-file) times when the protocol does not say.
DEFAULT_FEATURE_STEPS = 1000


@dataclass
class Split:
    """Encoded samples: input spike steps (n, D) int, ``steps`` = silent; labels (n,) int."""

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


def _load_times(protocol: Protocol) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """(train_times, train_labels, test_times, test_labels, default_steps) in units of T."""
    data = protocol.data
    if data.source == "digits":
        images, labels = load_digits_dataset()
        times = ttfs_encode(images, IMAGE_MAX["digits"])
        train, test = stratified_split(labels, data.test_fraction, data.split_seed)
        return times[train], labels[train], times[test], labels[test], IMAGE_MAX["digits"]
    if data.source == "idx":
        if not data.path:
            raise ConfigError("data.path: the directory of the IDX files is required for idx data")
        directory = Path(data.path).expanduser()
        train_x, train_y = load_idx_dataset(directory, "train", hint=data.hint)
        test_x, test_y = load_idx_dataset(directory, "test", hint=data.hint)
        return (
            ttfs_encode(train_x, IMAGE_MAX["idx"]),
            train_y,
            ttfs_encode(test_x, IMAGE_MAX["idx"]),
            test_y,
            IMAGE_MAX["idx"],
        )
    if not data.train_file or not data.test_file:
        raise ConfigError("data.train_file and data.test_file are required for spikingdataset data")
    try:
        train_t, train_y = read_spiking_dataset(Path(data.train_file).expanduser())
        test_t, test_y = read_spiking_dataset(Path(data.test_file).expanduser())
    except DataError as exc:
        raise DataError(f"{exc}; {data.hint}" if data.hint else str(exc)) from None
    return train_t, train_y, test_t, test_y, DEFAULT_FEATURE_STEPS


def _subset(
    times: np.ndarray, labels: np.ndarray, size: int | None, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """A stratified subset of ``size`` samples, kept in stored order (None: everything)."""
    chosen = stratified_subset(labels, size, seed)
    return times[chosen], labels[chosen]


def prepare_data(protocol: Protocol) -> PreparedData:
    """Load, split (stratified) and encode the protocol's data on the input time grid."""
    train_t, train_y, test_t, test_y, default_steps = _load_times(protocol)
    check_samples(train_t, train_y, test_t, test_y)
    data = protocol.data
    train_t, train_y = _subset(train_t, train_y, data.train_subset, data.split_seed)
    test_t, test_y = _subset(test_t, test_y, data.test_subset, data.split_seed)
    fit, val = _validation_split(train_y, data)
    classes = np.unique(np.concatenate([train_y, test_y]))
    remap = np.searchsorted(classes, np.arange(classes.max() + 1))
    steps = protocol.encoding.time_steps or default_steps

    def encode(times: np.ndarray, labels: np.ndarray) -> Split:
        if len(labels) == 0:
            raise DataError("a data split is empty: use more samples or a smaller fraction")
        return Split(quantise_times(times, steps).astype(np.int64), remap[labels].astype(np.int64))

    return PreparedData(
        encode(train_t[fit], train_y[fit]),
        encode(train_t[val], train_y[val]),
        encode(test_t, test_y),
        len(classes),
        steps,
    )
