"""The one atomic checkpoint writer (and its reader) of every kind's run."""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from brainsnn.core.errors import BrainsnnError

#: The checkpoint file inside a run directory.
CHECKPOINT = "checkpoint.npz"


def save_checkpoint(path: Path, meta: dict, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` and ``meta`` (as JSON under the key 'meta') to an .npz atomically.

    A temporary file is renamed over ``path``, so a crash or a full disk never leaves half a
    checkpoint.
    """
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp.npz")
    os.close(handle)
    try:
        np.savez(temporary, meta=json.dumps(meta), **arrays)
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise BrainsnnError(f"could not write checkpoint {path}: {exc.strerror or exc}") from None


def load_checkpoint(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """(meta, arrays) of a checkpoint written by :func:`save_checkpoint`; one-line error if not."""
    try:
        with np.load(path) as archive:
            meta = json.loads(str(archive["meta"]))
            arrays = {name: archive[name] for name in archive.files if name != "meta"}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise BrainsnnError(
            f"{path}: not a readable brainsnn checkpoint ({exc}); start a fresh run instead"
        ) from None
    return meta, arrays
