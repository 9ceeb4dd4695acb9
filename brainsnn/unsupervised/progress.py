"""What an unsupervised run has done so far: saved after each chunk, read back by --resume."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from brainsnn.core.checkpoint import load_checkpoint, save_checkpoint


@dataclass
class UnsupervisedProgress:
    """Everything needed to continue a run: saved after each chunk."""

    state: dict[str, np.ndarray]
    parameters: dict[str, float]
    phase: str = "train-1"
    position: int = 0  # samples of the current phase completed
    seconds: float = 0.0  # wall time of the current phase so far
    spikes: int = 0  # output spikes in the current phase so far
    retries: int = 0  # failed presentations in the current phase so far
    records: dict[str, np.ndarray] = field(default_factory=dict)  # kept per-sample records
    history: dict[str, list[float]] = field(
        default_factory=lambda: {key: [] for key in EPOCH_HISTORY}
    )

    def save(self, path: Path) -> None:
        """Atomically write the progress (arrays in .npz, the rest as JSON inside)."""
        meta = {
            key: value for key, value in self.__dict__.items() if key not in ("state", "records")
        }
        arrays = {f"state/{k}": v for k, v in self.state.items()}
        arrays.update({f"records/{k}": v for k, v in self.records.items()})
        save_checkpoint(path, meta, arrays)

    @classmethod
    def load(cls, path: Path) -> UnsupervisedProgress:
        """Read a checkpoint written by ``save``."""
        meta, arrays = load_checkpoint(path)
        state = {k[6:]: v for k, v in arrays.items() if k.startswith("state/")}
        records = {k[8:]: v for k, v in arrays.items() if k.startswith("records/")}
        return cls(state=state, records=records, **meta)


EPOCH_HISTORY = (
    "epoch_wall_time",
    "train_samples_per_second",
    "train_mean_retries",
    "train_spikes_per_sample",
)
