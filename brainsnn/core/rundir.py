"""Run directories: where a run writes, refusing to overwrite one, resuming one, its log."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import yaml
from pydantic import BaseModel

from brainsnn.core.checkpoint import CHECKPOINT
from brainsnn.core.errors import BrainsnnError

log = logging.getLogger("brainsnn")
#: The results dataset inside a run directory (written last, atomically).
RESULTS = "results.nc"
#: Protocol sections a resumed run may change: where it runs and where it writes.
RESUMABLE_CHANGES = ("device.", "output.")


def run_directory(protocol: BaseModel, out: str | Path | None) -> Path:
    """The run directory: ``--out`` if given, else the protocol's output.directory pattern."""
    if out:
        return Path(out)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(protocol.output.directory.format(name=protocol.name, timestamp=stamp))


def check_run_directory(directory: Path, resume: bool, protocol: dict | None = None) -> None:
    """Refuse to overwrite a run; with ``resume``, require its checkpoint and, if ``protocol``
    (a protocol's ``model_dump()``) is given, the protocol the run was started with (except
    the sections in RESUMABLE_CHANGES)."""
    checkpoint = directory / CHECKPOINT
    if resume and not checkpoint.exists():
        raise BrainsnnError(f"--resume: no checkpoint in {directory}")
    saved = directory / "protocol.yaml"
    if resume and protocol is not None and saved.exists():
        before = _flatten(yaml.safe_load(saved.read_text()) or {})
        now = _flatten(yaml.safe_load(yaml.safe_dump(protocol)))  # as protocol.yaml holds it
        changed = sorted(
            key
            for key in before.keys() | now.keys()
            if before.get(key) != now.get(key) and not key.startswith(RESUMABLE_CHANGES)
        )
        if changed:
            raise BrainsnnError(
                f"--resume: the protocol differs from {saved} in {', '.join(changed)}; "
                "restore those values or start a new run"
            )
    if not resume and (checkpoint.exists() or (directory / RESULTS).exists()):
        raise BrainsnnError(
            f"{directory} already holds a run: continue it with --resume, or choose another --out"
        )


def _flatten(tree: dict, prefix: str = "") -> dict[str, object]:
    """Nested mappings as {dotted.key: value}."""
    flat: dict[str, object] = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def open_run_directory(directory: Path, protocol: BaseModel) -> None:
    """Create the run directory, send the log to its run.log, save the validated protocol."""
    directory.mkdir(parents=True, exist_ok=True)
    attach_log(directory / "run.log")
    (directory / "protocol.yaml").write_text(yaml.safe_dump(protocol.model_dump(), sort_keys=False))


def attach_log(path: Path) -> None:
    """Send the 'brainsnn' log to ``path`` (replacing a previous run's log file)."""
    for handler in list(log.handlers):
        if isinstance(handler, logging.FileHandler):
            log.removeHandler(handler)
            handler.close()
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
