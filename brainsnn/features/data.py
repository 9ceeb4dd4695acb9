"""Load, split and code the images of a features protocol."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from brainsnn.core.errors import ConfigError, DataError
from brainsnn.core.splits import check_samples, kfold_split, stratified_split, subsets
from brainsnn.data import DIGITS_MAX_VALUE, load_digits_dataset, load_idx_dataset
from brainsnn.features.protocol import FeaturesData, FeaturesProtocol

#: Split names, in the order they are extracted, and their SpikingDataset file names.
SPLIT_FILES = {"train": "trainset.npy", "validation": "valset.npy", "test": "testset.npy"}


@dataclass
class ImageSplits:
    """Images of each split (uint8, or float in [0, 1]) and their class indices."""

    images: dict[str, np.ndarray]  # split -> (n, rows, columns)
    labels: dict[str, np.ndarray]  # split -> (n,) class index
    classes: np.ndarray  # original label of each class index

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) of every image."""
        rows, columns = self.images["train"].shape[1:]
        return rows, columns


def load_feature_images(data: FeaturesData) -> ImageSplits:
    """The protocol's images: subsets, then the validation hold-out of the training set."""
    train_x, train_y, test_x, test_y = _load(data)
    check_samples(train_x, train_y, test_x, test_y)
    train_x, train_y, test_x, test_y = subsets(
        (train_x, train_y), (test_x, test_y), data.train_subset, data.test_subset, data.split_seed
    )
    images = {"train": train_x, "test": test_x}
    labels = {"train": train_y, "test": test_y}
    if data.folds is not None or data.validation_fraction > 0:
        fit, held = (
            kfold_split(train_y, data.folds, data.fold)
            if data.folds is not None
            else stratified_split(train_y, data.validation_fraction, data.split_seed)
        )
        images.update(train=train_x[fit], validation=train_x[held])
        labels.update(train=train_y[fit], validation=train_y[held])
    if any(len(split) == 0 for split in labels.values()):
        raise DataError("a data split is empty: use more samples")
    classes = np.unique(np.concatenate(list(labels.values())))
    indices = {name: np.searchsorted(classes, y).astype(np.int16) for name, y in labels.items()}
    ordered = [name for name in SPLIT_FILES if name in images]
    return ImageSplits({n: images[n] for n in ordered}, {n: indices[n] for n in ordered}, classes)


def prepare_feature_images(protocol: FeaturesProtocol) -> ImageSplits:
    """What ``brainsnn validate --data`` checks: the images load, split, and fit the network."""
    splits = load_feature_images(protocol.data)
    rows, columns = splits.shape
    net = protocol.network
    if min(rows, columns) < net.kernel:
        raise ConfigError(f"network.kernel: {net.kernel} does not fit {rows}x{columns} images")
    if min(rows, columns) - net.kernel + 1 < net.pool:
        raise ConfigError(
            f"network.pool: {net.pool} does not fit the {rows - net.kernel + 1}x"
            f"{columns - net.kernel + 1} convolution output"
        )
    return splits


def _load(data: FeaturesData) -> tuple[np.ndarray, ...]:
    if data.source == "digits":
        images, labels = load_digits_dataset()
        train, test = stratified_split(labels, data.test_fraction, data.split_seed)
        images = (images / DIGITS_MAX_VALUE).astype(np.float32)
        return images[train], labels[train], images[test], labels[test]
    directory = Path(str(data.path)).expanduser()
    train_x, train_y = load_idx_dataset(directory, "train", hint=data.hint)
    test_x, test_y = load_idx_dataset(directory, "test", hint=data.hint)
    return train_x, train_y, test_x, test_y
