"""Where compiled Brian2 builds are cached."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def default_build_root() -> Path:
    """Where compiled builds are cached (``$BRAINSNN_CACHE`` or ``~/.cache/brainsnn``)."""
    root = os.environ.get("BRAINSNN_CACHE") or Path.home() / ".cache" / "brainsnn"
    return Path(root) / "builds"


def build_root(build_dir: str | None) -> Path:
    """A protocol's ``device.build_dir`` (``~`` expanded), else :func:`default_build_root`."""
    return Path(build_dir).expanduser() if build_dir else default_build_root()


def clear_build_cache(root: Path | None = None) -> None:
    """Delete every cached build."""
    shutil.rmtree(root or default_build_root(), ignore_errors=True)
