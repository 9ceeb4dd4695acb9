"""What both peer scripts share: the exported events, densified per batch, and the result line.

NumPy only: the peers run in their own venvs, without brainsnn. Each peer script imports this
module from its own folder (Python puts a script's folder first on ``sys.path``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np


class Split:
    """Events of one split as vs_peers_gradient.py exported them: per spike (sample, step in the
    sample's own window, unit), sorted by sample; ``lengths`` (n,) steps of each sample;
    ``labels`` (n,) int32."""

    def __init__(self, data: np.lib.npyio.NpzFile, name: str):
        self.sample = data[f"{name}_sample"]
        self.step = data[f"{name}_step"]
        self.unit = data[f"{name}_unit"]
        self.labels = data[f"{name}_labels"].astype(np.int32)
        self.lengths = data[f"{name}_lengths"]
        self.offsets = np.searchsorted(self.sample, np.arange(len(self.labels) + 1))

    def __len__(self) -> int:
        return len(self.labels)

    def dense(self, batch: np.ndarray, steps: int, channels: int) -> tuple[np.ndarray, np.ndarray]:
        """Counts (steps, batch, channels) float32, each sample front-padded to end at the last
        step, and valid (steps, batch) float32: 1 from the batch's longest sample on."""
        starts, ends = self.offsets[batch], self.offsets[batch + 1]
        counts = ends - starts
        index = np.repeat(ends - counts.cumsum(), counts) + np.arange(counts.sum())
        row = np.repeat(np.arange(len(batch)), counts)
        position = self.step[index] + (steps - self.lengths[batch])[row]
        flat = (position * len(batch) + row) * channels + self.unit[index]
        cells, hits = np.unique(flat, return_counts=True)
        out = np.zeros((steps, len(batch), channels), np.float32)
        out.reshape(-1)[cells] = hits
        start = steps - max(int(self.lengths[batch].max(initial=0)), 1)
        valid = np.zeros((steps, len(batch)), np.float32)
        valid[start:] = 1
        return out, valid


def batches(
    split: Split, size: int, steps: int, channels: int, rng: np.random.Generator | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(counts, valid, labels) per batch of ``size``: shuffled by ``rng``, else in order."""
    order = np.arange(len(split)) if rng is None else rng.permutation(len(split))
    for first in range(0, len(split), size):
        batch = order[first : first + size]
        yield (*split.dense(batch, steps, channels), split.labels[batch])


def load(path: str) -> tuple[Split, Split, int, int, int, int]:
    """(train, test, steps, channels, classes, test batch size) from the exported .npz."""
    with np.load(path) as data:
        train, test = Split(data, "train"), Split(data, "test")
        sizes = (int(data[k]) for k in ("steps", "channels", "classes", "test_batch"))
        return (train, test, *sizes)


def report(peer: str, epoch_seconds: list[float], accuracy: float, versions: dict) -> None:
    """The last line vs_peers_gradient.py reads: one JSON object."""
    result = {
        "peer": peer,
        "epoch_seconds": epoch_seconds,
        "test_accuracy": accuracy,
        "versions": versions,
    }
    print(json.dumps(result), flush=True)
