"""Run a features protocol: fit the input coding, train the extractor, extract every split.

Training checkpoints after every chunk (weights, thresholds, rates, epoch, position); the
patches of an epoch are drawn from (seed, epoch), so ``--resume`` continues mid-epoch with the
same ones. Each extraction chunk is saved as a part file at once and skipped on resume. At the
end the parts become SpikingDataset files (``trainset.npy``, ``valset.npy``, ``testset.npy``)
and ``results.nc``; the parts are then removed.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import xarray as xr

from brainsnn.core.builds import build_root
from brainsnn.core.checkpoint import CHECKPOINT, load_checkpoint, save_checkpoint
from brainsnn.core.errors import BrainsnnError
from brainsnn.core.experiment import Experiment
from brainsnn.core.progress import progress_bar
from brainsnn.core.results import make_dataset, write_atomic
from brainsnn.core.rundir import RESULTS, check_run_directory, open_run_directory
from brainsnn.data.spikingdataset import DATA_TYPE, MAX_TIME, write_spiking_dataset
from brainsnn.devices.registry import require_device
from brainsnn.features.data import SPLIT_FILES, ImageSplits, prepare_feature_images
from brainsnn.features.engine import CsnnEngine, CsnnState, FeatureSpikes, patch_corners
from brainsnn.features.geometry import CsnnGeometry, patch_times
from brainsnn.features.preprocess import InputCoding, fit_input_coding
from brainsnn.features.protocol import FeaturesProtocol
from brainsnn.features.results import FEATURES_VARIABLES

log = logging.getLogger("brainsnn")
#: Folder of the extraction part files inside a run directory (removed when the run ends).
PARTS = "feature_parts"


def extractor_geometry(protocol: FeaturesProtocol, shape: tuple[int, int]) -> CsnnGeometry:
    """The network's sizes for images of ``shape`` (rows, columns)."""
    net = protocol.network
    return CsnnGeometry(shape[0], shape[1], net.kernel, net.filters, net.pool)


class TrainingProgress:
    """Where training stands: the state, the epoch and position, the per-epoch history."""

    def __init__(self, state: CsnnState, filters: int) -> None:
        self.state = state
        self.epoch, self.position, self.seconds = 0, 0, 0.0
        self.wins = np.zeros(filters, dtype=np.int64)  # this epoch's, so far
        self.history: dict[str, list] = {"wins": [], "seconds": [], "samples": []}

    def save(self, path: Path) -> None:
        meta = {
            "epoch": self.epoch,
            "position": self.position,
            "seconds": self.seconds,
            "rates": self.state.rates,
            "history_seconds": self.history["seconds"],
            "history_samples": self.history["samples"],
        }
        arrays = {
            "weights": self.state.weights,
            "thresholds": self.state.thresholds,
            "wins": self.wins,
            "history_wins": np.array(self.history["wins"], dtype=np.int64).reshape(
                -1, len(self.wins)
            ),
        }
        save_checkpoint(path, meta, arrays)

    @classmethod
    def load(cls, path: Path) -> TrainingProgress:
        meta, arrays = load_checkpoint(path)
        state = CsnnState(arrays["weights"], arrays["thresholds"], dict(meta["rates"]))
        progress = cls(state, len(arrays["thresholds"]))
        progress.epoch, progress.position = int(meta["epoch"]), int(meta["position"])
        progress.seconds, progress.wins = float(meta["seconds"]), arrays["wins"]
        progress.history = {
            "wins": list(arrays["history_wins"]),
            "seconds": list(meta["history_seconds"]),
            "samples": list(meta["history_samples"]),
        }
        return progress


def train_extractor(
    engine: CsnnEngine,
    times: np.ndarray,
    progress: TrainingProgress,
    epochs: int,
    seed: int,
    checkpoint: Path,
    show: bool,
) -> None:
    """Continue training from ``progress`` until ``epochs`` epochs are done."""
    g, n = engine.geometry, len(times)
    chunk = engine.train_chunk_size
    while progress.epoch < epochs:
        rows, columns = patch_corners(g, n, seed, progress.epoch)
        label = f"train-{progress.epoch + 1}/{epochs}"
        with progress_bar(n, label, show, progress.position) as bar:
            while progress.position < n:
                block = slice(progress.position, min(progress.position + chunk, n))
                patches = patch_times(times[block], rows[block], columns[block], g.kernel)
                started = time.perf_counter()
                progress.wins += engine.train_chunk(progress.state, patches)
                progress.seconds += time.perf_counter() - started
                progress.position = block.stop
                progress.save(checkpoint)
                bar.update(block.stop - block.start)
        progress.state.anneal(engine.model)
        progress.history["wins"].append(progress.wins.copy())
        progress.history["seconds"].append(progress.seconds)
        progress.history["samples"].append(n)
        log.info(
            "%s: %d patches in %.1f s (%.0f/s), %d without a winner, thresholds %.3f to %.3f",
            label,
            n,
            progress.seconds,
            n / max(progress.seconds, 1e-9),
            n - int(progress.wins.sum()),
            progress.state.thresholds.min(),
            progress.state.thresholds.max(),
        )
        progress.epoch, progress.position, progress.seconds = progress.epoch + 1, 0, 0.0
        progress.wins = np.zeros_like(progress.wins)
        progress.save(checkpoint)


def extract_split(
    engine: CsnnEngine,
    state: CsnnState,
    coding: InputCoding,
    images: np.ndarray,
    parts: Path,
    label: str,
    show: bool,
) -> tuple[FeatureSpikes, float]:
    """Features of one split, chunk by chunk; a chunk already saved in ``parts`` is reused.

    Returns the features and the images per second of the chunks run now (0 if none ran)."""
    parts.mkdir(parents=True, exist_ok=True)
    chunk, n = engine.extract_chunk_size, len(images)
    pieces, seconds, ran = [], 0.0, 0
    with progress_bar(n, f"features {label}", show) as bar:
        for start in range(0, n, chunk):
            path = parts / f"part-{start:09d}.npz"
            if path.exists():
                pieces.append(_read_part(path, engine.geometry.features))
            else:
                stop = min(start + chunk, n)
                started = time.perf_counter()
                flat = coding.encode(images[start:stop]).reshape(stop - start, -1)
                piece = engine.extract_chunk(state, flat)
                seconds += time.perf_counter() - started
                ran += stop - start
                _write_part(path, piece)
                pieces.append(piece)
            bar.update(min(chunk, n - start))
    speed = ran / seconds if ran else 0.0
    return FeatureSpikes.concatenate(pieces, engine.geometry.features), speed


def _write_part(path: Path, piece: FeatureSpikes) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp.npz")
    os.close(handle)
    try:
        np.savez(temporary, indptr=piece.indptr, indices=piece.indices, times=piece.times)
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise BrainsnnError(f"could not write {path}: {exc.strerror or exc}") from None


def _read_part(path: Path, features: int) -> FeatureSpikes:
    try:
        with np.load(path) as part:
            return FeatureSpikes(part["indptr"], part["indices"], part["times"], features)
    except (OSError, ValueError, KeyError) as exc:
        raise BrainsnnError(f"{path}: unreadable part file ({exc}); delete it and resume") from None


def write_feature_file(path: Path, spikes: FeatureSpikes, labels: np.ndarray) -> None:
    """A SpikeNN SpikingDataset file: per sample, the fired features sorted by time."""
    data = []
    for row in range(len(spikes)):
        lo, hi = spikes.indptr[row], spikes.indptr[row + 1]
        sample = np.recarray(hi - lo, dtype=DATA_TYPE)
        sample.indices = spikes.indices[lo:hi]
        sample.timestamps = spikes.times[lo:hi]
        data.append(sample)
    dataset = {
        "data": data,
        "labels": labels.astype(np.int16),
        "shape": (len(spikes), spikes.features),
        "max_time": MAX_TIME,
    }
    try:
        write_spiking_dataset(path, dataset)
    except OSError as exc:
        raise BrainsnnError(f"could not write {path}: {exc.strerror or exc}") from None


def run_features_protocol(
    experiment: Experiment,
    directory: Path,
    resume: bool = False,
    show_progress: bool = True,
) -> xr.Dataset:
    """Run a features experiment in ``directory``; returns the results dataset."""
    started = time.perf_counter()
    protocol: FeaturesProtocol = experiment.protocol
    resolved = experiment.resolved
    directory = Path(directory)
    checkpoint = directory / CHECKPOINT
    check_run_directory(directory, resume, protocol.model_dump())
    splits = prepare_feature_images(protocol)
    require_device(protocol.device.name)
    geometry = extractor_geometry(protocol, splits.shape)
    open_run_directory(directory, protocol)
    log.info(
        "protocol %s: %s images, %d inputs -> %d features, device %s",
        protocol.name,
        " / ".join(f"{len(y)} {name}" for name, y in splits.labels.items()),
        geometry.inputs,
        geometry.features,
        protocol.device.name,
    )
    dog = protocol.dog
    coding = fit_input_coding(splits.images["train"], dog.size, dog.center_std, dog.surround_std)
    engine = CsnnEngine(
        resolved.model,
        geometry,
        protocol.device.name,
        build_root(protocol.device.build_dir),
        protocol.training.chunk_size,  # not cut to the data: one build serves every size
        protocol.extraction.chunk_size,
        protocol.device.threads,
    )
    if resume:
        progress = TrainingProgress.load(checkpoint)
        log.info("resuming at epoch %d, patch %d", progress.epoch + 1, progress.position)
    else:
        state = CsnnState.initial(resolved.model, geometry, resolved.values, protocol.seed)
        progress = TrainingProgress(state, geometry.filters)
        progress.save(checkpoint)
    if progress.epoch < protocol.training.epochs:
        times = coding.encode(splits.images["train"])
        train_extractor(
            engine, times, progress, protocol.training.epochs, protocol.seed, checkpoint,
            show_progress,
        )  # fmt: skip
        del times
    features, speeds = {}, {}
    for name, images in splits.images.items():
        features[name], speeds[name] = extract_split(
            engine, progress.state, coding, images, directory / PARTS / name, name, show_progress
        )
        log.info(
            "%s: %d images, %.1f feature spikes per image", name, len(images),
            np.diff(features[name].indptr).mean(),
        )  # fmt: skip
    for name, spikes in features.items():
        write_feature_file(directory / SPLIT_FILES[name], spikes, splits.labels[name])
    dataset = collect_features_results(
        experiment, geometry, coding, progress, features, speeds, splits,
        time.perf_counter() - started,
    )  # fmt: skip
    write_atomic(dataset, directory / RESULTS)
    shutil.rmtree(directory / PARTS, ignore_errors=True)
    return dataset


def collect_features_results(
    experiment: Experiment,
    geometry: CsnnGeometry,
    coding: InputCoding,
    progress: TrainingProgress,
    features: dict[str, FeatureSpikes],
    speeds: dict[str, float],
    splits: ImageSplits,
    wall_time: float,
) -> xr.Dataset:
    """results.nc: training history, trained state, input scaling, per-image feature counts."""
    history = progress.history
    epochs = len(history["seconds"])
    wins = np.array(history["wins"], dtype=np.int64).reshape(epochs, geometry.filters)
    seconds = np.array(history["seconds"], dtype=float)
    samples = np.array(history["samples"], dtype=float)
    values = {
        "filter_wins": wins,
        "samples_without_winner": samples.astype(np.int64) - wins.sum(axis=1),
        "epoch_wall_time": seconds,
        "train_samples_per_second": samples / np.maximum(seconds, 1e-9),
        "weights": progress.state.weights,
        "thresholds": progress.state.thresholds,
        "input_min": coding.minimum,
        "input_max": coding.maximum,
        "extraction_samples_per_second": np.array([speeds[name] for name in features]),
    }
    for name, spikes in features.items():
        values[f"{name}_feature_spikes"] = np.diff(spikes.indptr).astype(np.int32)
    protocol = experiment.protocol
    attrs = {
        "protocol": protocol.name,
        "kind": "features",
        "device": protocol.device.name,
        "model": protocol.network.model,
        "features": geometry.features,
        "feature_files": " ".join(SPLIT_FILES[name] for name in features),
        "classes": " ".join(str(c) for c in splits.classes),
        "wall_time": wall_time,
    }
    dataset = make_dataset(values, attrs, FEATURES_VARIABLES)
    return dataset.assign_coords(split=list(features))
