"""Train the STDP-CSNN extractor and extract features, chunk by chunk, on any Brian2 device.

The state between chunks is NumPy: the kernel weights (kernel, kernel, 2, filters), the filter
thresholds and the annealed rates. Each chunk hands them in (``run_args`` on standalone devices,
no recompiling), runs one Brian2 ``run()`` and reads them back.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from brainsnn.core.progress import progress_bar
from brainsnn.devices.runners import make_runner
from brainsnn.engine.spike_lists import time_ordered_spike_list
from brainsnn.features.geometry import CsnnGeometry, patch_times
from brainsnn.features.modelfile import CsnnModel
from brainsnn.features.network import (
    INITIAL_STATE,
    STEP,
    CsnnNetwork,
    build_extraction_network,
    build_training_network,
)
from brainsnn.features.preprocess import SILENT


@dataclass
class CsnnState:
    """What training changes: weights, thresholds and the current (annealed) rates."""

    weights: np.ndarray  # (kernel, kernel, 2, filters)
    thresholds: np.ndarray  # (filters,)
    rates: dict[str, float]  # every shared parameter's current value

    @classmethod
    def initial(
        cls, model: CsnnModel, geometry: CsnnGeometry, values: dict[str, float], seed: int
    ) -> CsnnState:
        """Gaussian weights (w_mean, w_std, not clipped, as the C++) and thresholds theta0."""
        g = geometry
        rng = np.random.default_rng(seed)
        shape = (g.kernel, g.kernel, g.channels, g.filters)
        return cls(
            weights=rng.normal(values["w_mean"], values["w_std"], shape),
            thresholds=np.full(g.filters, values["theta0"]),
            rates={k: v for k, v in values.items() if k not in INITIAL_STATE},
        )

    def anneal(self, model: CsnnModel) -> None:
        """End of a training epoch: the annealed rates times ``annealing``."""
        for name in model.annealed:
            self.rates[name] *= self.rates["annealing"]


@dataclass
class EpochStats:
    """One training epoch: wins per filter and the samples no filter won."""

    wins: np.ndarray  # (filters,)
    no_winner: int
    samples_per_second: float


@dataclass
class FeatureSpikes:
    """Sparse feature spikes of a set of samples (CSR rows, each sorted by time)."""

    indptr: np.ndarray  # (samples + 1,)
    indices: np.ndarray  # feature of each spike
    times: np.ndarray  # spike time (units of T)
    features: int

    def __len__(self) -> int:
        return len(self.indptr) - 1

    @classmethod
    def concatenate(cls, parts: list[FeatureSpikes], features: int) -> FeatureSpikes:
        """The samples of ``parts``, in order."""
        if not parts:
            return cls(np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0), features)
        counts = np.concatenate([np.diff(part.indptr) for part in parts])
        return cls(
            np.concatenate([[0], np.cumsum(counts)]),
            np.concatenate([part.indices for part in parts]),
            np.concatenate([part.times for part in parts]),
            features,
        )

    def dense(self) -> np.ndarray:
        """(samples, features) spike times, ``SILENT`` where a feature did not fire."""
        out = np.full((len(self.indptr) - 1, self.features), SILENT)
        rows = np.repeat(np.arange(len(self.indptr) - 1), np.diff(self.indptr))
        out[rows, self.indices] = self.times
        return out


class CsnnEngine:
    """Runs the training and extraction networks of one model on one device."""

    def __init__(
        self,
        model: CsnnModel,
        geometry: CsnnGeometry,
        device: str,
        build_root: Path,
        train_chunk: int = 20_000,
        extract_chunk: int = 500,
        threads: int = 0,
    ) -> None:
        """Set up (compile, on standalone devices) both networks; chunks in samples."""
        self.model, self.geometry = model, geometry
        self.train_chunk_size, self.extract_chunk_size = train_chunk, extract_chunk
        key = _build_key(model, geometry)
        self._trainer = make_runner(
            device,
            lambda: build_training_network(model, geometry, train_chunk),
            build_root,
            f"csnn-train-{key}-{train_chunk}",
            threads,
        )
        self._extractor = make_runner(
            device,
            lambda: build_extraction_network(model, geometry, extract_chunk),
            build_root,
            f"csnn-extract-{key}-{extract_chunk}",
            threads,
        )

    def train_chunk(self, state: CsnnState, patches: np.ndarray) -> np.ndarray:
        """Present ``patches`` (samples, patch inputs) of spike times in order, learning;
        ``state`` is updated in place. Returns the samples each filter won."""
        if len(patches) > self.train_chunk_size:
            raise ValueError(f"{len(patches)} patches exceed the chunk of {self.train_chunk_size}")
        net = self._trainer.run(self._training_values(state, patches))
        state.weights = np.array(net.groups["kernel"].w[:]).reshape(state.weights.shape)
        state.thresholds = np.array(net.groups["filters"].theta[:])
        return np.array(net.groups["filters"].wins[:], dtype=np.int64)

    def train_epoch(
        self, state: CsnnState, times: np.ndarray, seed: int, epoch: int, show: bool = False
    ) -> EpochStats:
        """One pass over ``times`` (samples, rows, columns, 2) in order, one random patch per
        sample (``patch_corners``); ``state`` is updated in place, then annealed."""
        g = self.geometry
        n = len(times)
        rows, columns = patch_corners(g, n, seed, epoch)
        wins = np.zeros(g.filters, dtype=np.int64)
        start = time.perf_counter()
        with progress_bar(n, "csnn training", show) as bar:
            for block in _blocks(n, self.train_chunk_size):
                patches = patch_times(times[block], rows[block], columns[block], g.kernel)
                wins += self.train_chunk(state, patches)
                bar.update(block.stop - block.start)
        state.anneal(self.model)
        elapsed = time.perf_counter() - start
        return EpochStats(wins, n - int(wins.sum()), n / max(elapsed, 1e-9))

    def _training_values(self, state: CsnnState, patches: np.ndarray) -> Callable:
        padded = np.full((self.train_chunk_size, patches.shape[1]), SILENT)
        padded[: len(patches)] = patches

        def fill(net: CsnnNetwork) -> tuple[dict, list]:
            indices, steps = time_ordered_spike_list(padded, SILENT, net.spikes.capacity)
            filters = net.groups["filters"]
            values = net.spikes.assignments(indices, steps)
            values += [
                (net.groups["kernel"], "w", state.weights.ravel().astype(np.float64)),
                (filters, "theta", state.thresholds.astype(np.float64)),
                (filters, "wins", np.zeros(len(state.thresholds), dtype=np.int32)),
            ]
            values += [(filters, name, float(value)) for name, value in state.rates.items()]
            return {net.input_times: padded}, values

        return fill

    def extract_chunk(self, state: CsnnState, flat: np.ndarray) -> FeatureSpikes:
        """Feature spikes of at most one chunk of coded images ``flat`` (samples, inputs)."""
        if len(flat) > self.extract_chunk_size:
            raise ValueError(f"{len(flat)} images exceed the chunk of {self.extract_chunk_size}")
        net = self._extractor.run(self._extraction_values(state, flat))
        sample, feature, when = _feature_spikes(net)
        order = np.lexsort((when, sample))  # the record is sorted by (sample, feature)
        counts = np.bincount(sample, minlength=len(flat))[: len(flat)]
        return FeatureSpikes(
            np.concatenate([[0], np.cumsum(counts)]),
            feature[order].astype(np.int32),
            when[order],
            self.geometry.features,
        )

    def extract(self, state: CsnnState, times: np.ndarray, show: bool = False) -> FeatureSpikes:
        """Feature spikes of coded images ``times`` (samples, rows, columns, 2), frozen state."""
        flat = np.asarray(times).reshape(len(times), -1)
        parts = []
        with progress_bar(len(flat), "csnn features", show) as bar:
            for block in _blocks(len(flat), self.extract_chunk_size):
                parts.append(self.extract_chunk(state, flat[block]))
                bar.update(block.stop - block.start)
        return FeatureSpikes.concatenate(parts, self.geometry.features)

    def _extraction_values(self, state: CsnnState, block: np.ndarray) -> Callable:
        padded = np.full((self.extract_chunk_size, block.shape[1]), SILENT)
        padded[: len(block)] = block
        positions = self.geometry.conv_rows * self.geometry.conv_columns

        def fill(net: CsnnNetwork) -> tuple[dict, list]:
            indices, steps = time_ordered_spike_list(padded, SILENT, net.spikes.capacity)
            values = net.spikes.assignments(indices, steps)
            lanes = net.lanes  # filter f is lane f % lanes of its neuron
            weights = state.weights.reshape(-1, lanes).astype(np.float64)
            thresholds = np.tile(state.thresholds, positions).reshape(-1, lanes)
            for lane in range(lanes):
                values += [
                    (net.groups["kernel"], f"w_{lane}", weights[:, lane]),
                    (net.groups["convolution"], f"theta_{lane}", thresholds[:, lane]),
                ]
            return {net.input_times: padded}, values

        return fill


def patch_corners(
    geometry: CsnnGeometry, n: int, seed: int, epoch: int
) -> tuple[np.ndarray, np.ndarray]:
    """Top-left corners (rows, columns) of the training patches of one epoch, drawn afresh per
    epoch from (seed, epoch), so a resumed run draws the same ones.

    As the C++ (``Convolution.cpp:138-149``): uniform in [0, conv - kernel], where conv is the
    convolution's output side (24 for 28-pixel images and 5x5 kernels), not the image's; so
    patches never reach the last kernel - 1 convolution positions. 0 when kernel >= conv.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1, epoch]))
    g = geometry
    rows = g.conv_rows - g.kernel + 1 if g.kernel < g.conv_rows else 1
    columns = g.conv_columns - g.kernel + 1 if g.kernel < g.conv_columns else 1
    return rng.integers(0, rows, n), rng.integers(0, columns, n)


def _feature_spikes(net: CsnnNetwork) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sample in chunk, feature, spike time) of every recorded feature spike, by sample then
    feature. A record is a neuron of ``lanes`` features where one fired; its silent lanes are
    dropped."""
    monitor, lanes = net.monitor, net.lanes
    sample = np.rint(np.array(monitor.t_[:]) / float(STEP)).astype(np.int64)
    neuron = np.array(monitor.i[:], dtype=np.int64)
    times = np.stack(
        [np.array(getattr(monitor, f"tpool_{lane}")[:], dtype=np.float64) for lane in range(lanes)],
        axis=1,
    )  # (records, lanes)
    record, lane = np.nonzero(times < SILENT)
    return sample[record], neuron[record] * lanes + lane, times[record, lane]


def _blocks(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def _build_key(model: CsnnModel, geometry: CsnnGeometry) -> str:
    text = json.dumps([model.text, geometry.__dict__], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
