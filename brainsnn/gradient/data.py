"""Spike files of a gradient protocol: read, split, and binned into dense batches on demand.

Samples stay as event lists (SHD layout) and are binned per batch, so a 1 ms grid of ~1,400
steps never needs the whole set as a dense array in memory.

With ``align: end`` (SPSN, ParaLIF) a batch is what SPSN's collate makes: every sample is
binned at its own length, augmented at that length, and front-padded to the batch's longest
sample. The batch sits at the end of the protocol's fixed frame of ``steps`` so that one
compilation serves every batch; ``DenseBatch.start`` marks where the batch begins, and the
network runs nothing before it (see ``GradientStack.forward``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from brainsnn.core.errors import DataError
from brainsnn.data.shd import (
    SpikeEvents,
    augment_shift_scale,
    bin_events,
    read_shd,
    sample_lengths,
)
from brainsnn.gradient.protocol import GradientData


@dataclass
class SpikeSplit:
    """Some samples of a spike file: the events and the indices of the samples used."""

    events: SpikeEvents
    indices: np.ndarray

    @property
    def labels(self) -> np.ndarray:
        return np.asarray(self.events.labels)[self.indices]

    def __len__(self) -> int:
        return len(self.indices)


class DenseBatch(NamedTuple):
    """Input counts (batch, steps, channels) float32 and the first step of each sample's batch
    (batch,) int32: steps before it are not part of the batch (0 with ``align: start``)."""

    counts: np.ndarray
    start: np.ndarray


@dataclass
class GradientDataset:
    """Train / validation / test splits and the binning of a protocol's data section."""

    section: GradientData
    train: SpikeSplit
    validation: SpikeSplit | None
    test: SpikeSplit

    @property
    def channels(self) -> int:
        return int(self.train.events.n_units)

    @property
    def classes(self) -> int:
        return int(max(self.train.labels.max(), self.test.labels.max())) + 1

    @property
    def steps(self) -> int:
        """Steps per sample the network runs: the binned steps plus the empty tail."""
        return self.section.steps + self.section.empty_steps

    def dense(
        self, split: SpikeSplit, batch: np.ndarray, rng: np.random.Generator | None = None
    ) -> DenseBatch:
        """The samples at split positions ``batch`` as a DenseBatch; with ``rng`` the
        protocol's shift / scale augmentation is applied to each sample at its own length."""
        section = self.section
        indices = split.indices[batch]
        counts = bin_events(
            split.events,
            section.dt,
            section.steps,
            rounding=section.rounding,
            align=section.align,
            indices=indices,
        )
        lengths = sample_lengths(split.events, section.dt, section.steps, section.rounding, indices)
        augment = rng is not None and (section.shift > 0 or section.scale > 0)
        if section.align == "end":
            if augment:
                counts = augment_shift_scale(
                    counts, rng, section.shift, section.scale, lengths=lengths
                )
            first = section.steps - max(int(lengths.max(initial=0)), 1)
        else:  # FS_coding: a fixed window from time 0; a sample is its first `steps` steps
            if augment:
                counts = augment_shift_scale(counts, rng, section.shift, section.scale)
            first = 0
        if section.empty_steps:
            pad = np.zeros((len(batch), section.empty_steps, counts.shape[2]), counts.dtype)
            counts = np.concatenate([counts, pad], axis=1)
        start = np.full(len(batch), first, np.int32)
        return DenseBatch(counts.astype(np.float32, copy=False), start)


def _read(path: str, hint: str) -> SpikeEvents:
    if not Path(path).is_file():
        message = f"data file {path} not found"
        raise DataError(f"{message}; {hint}" if hint else message)
    return read_shd(path)


def _stratified_holdout(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of a stratified held-out share of the samples."""
    rng = np.random.default_rng(seed)
    held = np.zeros(len(labels), bool)
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        held[members[: round(fraction * len(members))]] = True
    return held


def load_gradient_data(section: GradientData, seed: int) -> GradientDataset:
    """Read the train and test files; hold out the validation share (stratified by label)."""
    train_events = _read(section.train, section.hint)
    test_events = _read(section.test, section.hint)
    if train_events.n_units != test_events.n_units:
        raise DataError(
            f"{section.train} has {train_events.n_units} channels but {section.test} has "
            f"{test_events.n_units}"
        )
    train_indices = np.arange(len(train_events))[: section.train_subset]
    test_indices = np.arange(len(test_events))[: section.test_subset]
    validation = None
    if section.validation_fraction > 0:
        labels = np.asarray(train_events.labels)[train_indices]
        held = _stratified_holdout(labels, section.validation_fraction, seed)
        validation = SpikeSplit(train_events, train_indices[held])
        train_indices = train_indices[~held]
    return GradientDataset(
        section,
        SpikeSplit(train_events, train_indices),
        validation,
        SpikeSplit(test_events, test_indices),
    )
