"""Spike files of a gradient protocol: read, split, and binned into batches on demand.

Samples stay as event lists (SHD layout) and are binned per batch, so a 1 ms grid of ~1,400
steps never needs the whole set as a dense array in memory. Training and evaluation take a
batch as its non-empty bins (``EventBatch``, ~1 % of the dense counts on the spoken digits);
the first layer sums weight rows per event (``SparseInput``). ``DenseBatch`` is the same batch
as dense counts, for the Brian2 re-simulation and the tests.

With ``align: end`` (SPSN, ParaLIF) a batch is what SPSN's collate makes: every sample is
binned at its own length, augmented at that length, and front-padded to the batch's longest
sample. The batch sits at the end of a frame of a multiple of ``bucket`` steps (at most
``steps``), so that a few compilations serve every batch; ``DenseBatch.start`` marks where the
batch begins, and the network runs nothing before it (see ``GradientStack.forward``). Batches
are built from the events (binning and augmentation never touch a dense array).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from brainsnn.core.errors import DataError
from brainsnn.data.shd import (
    SpikeEvents,
    augment_events,
    batch_events,
    cell_counts,
    dense_counts,
    read_shd,
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


class EventBatch(NamedTuple):
    """A DenseBatch given by its non-empty bins, in ``rows`` (sample * steps + step, sorted)
    and ``units`` (channel) with their ``counts`` float32, all (capacity,): padded with zero
    counts in the last row up to ``event_capacity`` so that a few compilations serve every
    batch. ``shape`` is the dense counts' (batch, steps, channels), ``start`` DenseBatch's."""

    rows: np.ndarray
    units: np.ndarray
    counts: np.ndarray
    start: np.ndarray
    shape: tuple[int, int, int]


def event_capacity(count: int) -> int:
    """The padded length of ``count`` events: the next power of two, at least 1,024. One size
    per doubling keeps the compilations few (each is seconds; the padding's zero counts cost
    little in ``SparseInput.project``)."""
    return max(1024, 1 << (max(count, 1) - 1).bit_length())


def _padded(values: np.ndarray, size: int, fill: float, dtype) -> np.ndarray:
    out = np.full(size, fill, dtype)
    out[: len(values)] = values
    return out


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
        """Steps of the full frame: the binned steps plus the empty tail (a batch may run in a
        shorter frame, see ``frame``; its outputs are front-padded to this length)."""
        return self.section.steps + self.section.empty_steps

    def frame(self, longest: int) -> int:
        """Steps of the frame a batch whose longest sample has ``longest`` steps runs in."""
        section = self.section
        if section.align == "start" or section.bucket == 0:
            return section.steps
        return min(section.steps, -(-max(longest, 1) // section.bucket) * section.bucket)

    def full_frame(self, values: np.ndarray, axis: int) -> np.ndarray:
        """``values`` of a batch's frame, zero-padded in front along ``axis`` to ``steps``."""
        missing = self.steps - values.shape[axis]
        if missing == 0:
            return values
        widths = [(0, 0)] * values.ndim
        widths[axis] = (missing, 0)
        return np.pad(values, widths)

    def _placed(
        self, split: SpikeSplit, batch: np.ndarray, rng: np.random.Generator | None
    ) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], tuple[int, int, int], np.ndarray]:
        """(sample, step, unit) of every binned event in its batch frame, the batch's dense
        shape (batch, steps, channels) and start (see ``dense``)."""
        section = self.section
        found = batch_events(
            split.events, section.dt, section.steps, section.rounding, split.indices[batch]
        )
        sample, step, unit = found.sample, found.step, found.unit
        lengths = found.lengths
        if section.align == "start":  # FS_coding: a fixed window from time 0
            lengths = np.full(len(batch), section.steps, np.int64)
        if rng is not None and (section.shift > 0 or section.scale > 0):
            sample, step, unit = augment_events(
                sample, step, unit, lengths, self.channels, rng, section.shift, section.scale
            )
        longest = int(lengths.max(initial=0))
        frame = self.frame(longest)
        position = step + (frame - lengths)[sample]  # front padding up to the frame
        shape = (len(batch), frame + section.empty_steps, self.channels)
        start = np.full(len(batch), frame - max(longest, 1), np.int32)
        return (sample, position, unit), shape, start

    def dense(
        self, split: SpikeSplit, batch: np.ndarray, rng: np.random.Generator | None = None
    ) -> DenseBatch:
        """The samples at split positions ``batch`` as a DenseBatch; with ``rng`` the
        protocol's shift / scale augmentation is applied to each sample at its own length
        (``align: end``) or to the whole window (``align: start``), on the events."""
        events, shape, start = self._placed(split, batch, rng)
        return DenseBatch(dense_counts(*events, shape), start)

    def events(
        self, split: SpikeSplit, batch: np.ndarray, rng: np.random.Generator | None = None
    ) -> EventBatch:
        """The batch of ``dense`` as an EventBatch (the dense counts are never built)."""
        events, shape, start = self._placed(split, batch, rng)
        cells, counts = cell_counts(*events, shape)
        capacity = event_capacity(len(cells))
        last_row = shape[0] * shape[1] - 1
        return EventBatch(
            _padded(cells // shape[2], capacity, last_row, np.int32),
            _padded(cells % shape[2], capacity, 0, np.int32),
            _padded(counts, capacity, 0, np.float32),
            start,
            shape,
        )


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
