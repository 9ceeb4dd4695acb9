"""SpikeNN "SpikingDataset" files: sparse first-spike features saved with ``np.save``.

A file holds a pickled dict::

    {"data": [recarray(indices: int16, timestamps: float32), ...],  # one per sample
     "labels": int16 array (n,), "shape": (n, D), "max_time": 1}

Each sample lists only the features that fire (timestamp < max_time), sorted by ascending
timestamp. Timestamps are in units of the sample duration T (max_time = 1 = T).

Reading needs ``allow_pickle=True``, which can execute arbitrary code: only read files
you trust (e.g. ones you produced yourself with SpikeNN or ``convert_features``).
"""

from __future__ import annotations

import os
import pickle
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from brainsnn.core.errors import DataError

#: Record layout of one sample (a sparse list of spikes), as in SpikeNN.
DATA_TYPE = np.dtype([("indices", np.int16), ("timestamps", np.float32)])

#: Sample duration T of the files this module writes.
MAX_TIME = 1

_REQUIRED_KEYS = ("data", "labels", "shape")


def _sparse_sample(times: np.ndarray) -> np.recarray:
    """Firing features of one sample (t < MAX_TIME), sorted by ascending time."""
    order = np.argsort(times, kind="stable")
    order = order[times[order] < MAX_TIME]
    sample = np.recarray(len(order), dtype=DATA_TYPE)
    sample.indices = order
    sample.timestamps = times[order]
    return sample


def features_to_spiking_dataset(x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Build a SpikingDataset dict from dense spike times ``x`` (n, D) and labels ``y`` (n,).

    ``x`` holds times in [0, 1] (units of T; extra axes are flattened); entries equal to 1
    are silent and dropped. Labels are remapped to 0..C-1 in sorted order of the unique
    values. Raises DataError for bad shapes, times outside [0, 1], or a sample with no spike.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y)
    if x.ndim < 2 or y.ndim != 1 or len(x) != len(y):
        raise DataError(f"features must be (n, D) and labels (n,), got {x.shape} and {y.shape}")
    if len(x) == 0:
        raise DataError("no samples to convert")
    x = x.reshape(len(x), -1)
    if x.shape[1] > np.iinfo(np.int16).max + 1:
        raise DataError(f"{x.shape[1]} features do not fit SpikeNN's int16 indices")
    if not ((x >= 0) & (x <= MAX_TIME)).all():
        raise DataError("feature spike times must lie in [0, 1] (units of T; NaN not allowed)")
    silent = np.flatnonzero((x >= MAX_TIME).all(axis=1))
    if silent.size:
        raise DataError(f"sample {silent[0]} has no spike ({silent.size} such samples)")
    labels = np.searchsorted(np.unique(y), y).astype(np.int16)
    data = [_sparse_sample(row) for row in x]
    return {"data": data, "labels": labels, "shape": x.shape, "max_time": MAX_TIME}


def _check_dataset(dataset: Any, source: str) -> None:
    """Raise DataError unless ``dataset`` looks like a SpikingDataset dict."""
    if not isinstance(dataset, dict) or any(k not in dataset for k in _REQUIRED_KEYS):
        raise DataError(
            f"{source} is not a SpikingDataset: expected a dict with keys "
            f"{', '.join(_REQUIRED_KEYS)}"
        )
    n = dataset["shape"][0]
    if len(dataset["data"]) != n or len(dataset["labels"]) != n:
        raise DataError(
            f"{source}: shape says {n} samples but it has {len(dataset['data'])} "
            f"samples and {len(dataset['labels'])} labels"
        )


def write_spiking_dataset(path: str | Path, dataset: dict[str, Any]) -> None:
    """Save a SpikingDataset dict to ``path`` (exactly that name; no ``.npy`` is appended).

    The file is written to a temporary file in the same directory and then renamed, so a
    reader never sees a half-written file.
    """
    path = Path(path)
    _check_dataset(dataset, "the dataset to write")
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.save(handle, dataset, allow_pickle=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _load_pickled_dict(path: Path) -> Any:
    if not path.is_file():
        raise DataError(
            f"SpikingDataset file not found: {path} (create it with SpikeNN's "
            "generate_dataset.py or brainsnn's convert_features)"
        )
    try:
        return np.load(path, allow_pickle=True).item()
    except (OSError, ValueError, EOFError, pickle.UnpicklingError) as exc:
        raise DataError(f"cannot read SpikingDataset {path}: {exc}") from exc


def _dense_sample(sample: Any, n_features: int, max_time: float, where: str) -> np.ndarray:
    """Dense times (units of T, 1.0 = silent) of one sparse sample."""
    try:
        spikes = np.rec.array(sample, dtype=DATA_TYPE)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{where}: not a list of (indices, timestamps) spikes") from exc
    indices = spikes.indices.astype(np.int64)
    if ((indices < 0) | (indices >= n_features)).any():
        raise DataError(f"{where}: feature index out of range 0..{n_features - 1}")
    dense = np.ones(n_features)
    dense[indices] = spikes.timestamps.astype(np.float64) / max_time
    if not np.all(np.isfinite(dense)):
        raise DataError(f"{where}: NaN or infinite spike times")
    return dense


class SparseSpikeTimes:
    """The samples of a SpikingDataset kept sparse, as the file holds them; ``times[rows]``
    gives those rows dense: float64 (len(rows), n_features), in units of T, 1.0 = silent.

    A sample is checked when it is made dense, so a whole training set never needs to be
    dense at once (60,000 STDP-CSNN samples of 4,608 features are 2.2 GB dense).
    """

    dtype = np.dtype(np.float64)

    def __init__(
        self, samples: Sequence[Any], n_features: int, max_time: float, source: str
    ) -> None:
        self._samples = samples
        self._max_time = max_time
        self._source = source
        self.shape = (len(samples), n_features)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        dense = np.ones((len(rows), self.shape[1]))
        for k, row in enumerate(rows):
            sample = self._samples[row]
            if sample is None:
                raise DataError(f"{self._source} sample {row} was released")
            where = f"{self._source} sample {row}"
            dense[k] = _dense_sample(sample, self.shape[1], self._max_time, where)
        return dense

    def release(self, rows: np.ndarray) -> None:
        """Forget these samples (they have been encoded): the file's memory shrinks as a split
        is encoded, instead of the encoded split adding to all of it."""
        for row in np.asarray(rows, dtype=np.int64).reshape(-1):
            self._samples[row] = None


def open_spiking_dataset(path: str | Path) -> tuple[SparseSpikeTimes, np.ndarray]:
    """Read a SpikingDataset file into (sparse times, labels int64 (n,)); see SparseSpikeTimes.

    Uses ``allow_pickle=True``: only use on trusted files.
    """
    path = Path(path)
    dataset = _load_pickled_dict(path)
    _check_dataset(dataset, str(path))
    n_features = int(dataset["shape"][1])
    max_time = float(dataset.get("max_time", MAX_TIME))
    times = SparseSpikeTimes(list(dataset.pop("data")), n_features, max_time, str(path))
    return times, np.asarray(dataset["labels"], dtype=np.int64)


def read_spiking_dataset(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a SpikingDataset file into (times float64 (n, D), labels int64 (n,)).

    Times are in units of T (the file's max_time); features that do not fire read as 1.0.
    Uses ``allow_pickle=True``: only use on trusted files.
    """
    times, labels = open_spiking_dataset(path)
    return times[np.arange(len(times))], labels


def _load_npy(path: Path, what: str) -> np.ndarray:
    if not path.is_file():
        raise DataError(f"{what} file not found: {path}")
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {what} file {path} as a numpy .npy array: {exc}") from exc


def convert_features(x_path: str | Path, y_path: str | Path, out_path: str | Path) -> int:
    """Convert X.npy (n, D spike times in [0, 1], units of T) and y.npy (n,) labels to a
    SpikingDataset file at ``out_path``, like SpikeNN's generate_dataset.py (inputs are kept).

    Returns the number of samples written.
    """
    x = _load_npy(Path(x_path), "features (X)")
    y = _load_npy(Path(y_path), "labels (y)")
    if x.ndim < 2 or y.ndim != 1 or len(x) != len(y):
        raise DataError(
            f"{x_path} must be (n, D) and {y_path} (n,) with the same n, "
            f"got {x.shape} and {y.shape}"
        )
    dataset = features_to_spiking_dataset(x, y)
    write_spiking_dataset(out_path, dataset)
    return len(y)
