"""Provenance attributes every results.nc carries."""

from __future__ import annotations

import platform
import subprocess
from datetime import datetime
from pathlib import Path

import numpy as np

import brainsnn


def _git_revision() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def basic_provenance(name: str, device: str, seed: int, wall: float) -> dict[str, object]:
    """Attributes every results.nc carries: versions, device, seed, revision, wall time (s)."""
    import brian2

    return {
        "protocol": name,
        "brainsnn_version": brainsnn.__version__,
        "brian2_version": brian2.__version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "device": device,
        "seed": seed,
        "git_revision": _git_revision(),
        "created": datetime.now().isoformat(timespec="seconds"),
        "wall_time_s": wall,
    }
