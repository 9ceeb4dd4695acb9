"""Run directories: where a run writes, refusing to overwrite one, resuming one, its log."""

from __future__ import annotations

import fcntl
import logging
import os
from datetime import datetime
from pathlib import Path

import yaml
from pydantic import BaseModel

from brainsnn.core.checkpoint import CHECKPOINT
from brainsnn.core.errors import BrainsnnError

log = logging.getLogger("brainsnn")
#: The results dataset inside a run directory (written last, atomically).
RESULTS = "results.nc"
#: The lock file of a run directory (see lock_run_directory).
LOCK = ".lock"
_LOCKS: dict[str, object] = {}
#: Protocol sections a resumed run may change: where it runs and where it writes.
RESUMABLE_CHANGES = ("device.", "output.")


def run_directory(protocol: BaseModel, out: str | Path | None) -> Path:
    """The run directory: ``--out`` if given, else the protocol's output.directory pattern."""
    if out:
        return Path(out)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(protocol.output.directory.format(name=protocol.name, timestamp=stamp))


def lock_run_directory(directory: Path) -> None:
    """Hold an exclusive lock on the run directory until this process ends (or
    :func:`release_run_directory`); a second run into it fails at once, in one line."""
    directory = Path(directory)
    key = str(directory.resolve())
    if key in _LOCKS:
        return
    directory.mkdir(parents=True, exist_ok=True)
    handle = open(directory / LOCK, "a+")  # noqa: SIM115  (held open for the run's whole life)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        owner = handle.read().strip() or "another process"
        handle.close()
        raise BrainsnnError(
            f"{directory} is in use by another brainsnn run ({owner}); wait for it to end or "
            "choose another --out"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}")
    handle.flush()
    _LOCKS[key] = handle


def release_run_directory(directory: Path) -> None:
    """Give up this process's lock on a run directory (the lock file stays, unlocked)."""
    handle = _LOCKS.pop(str(Path(directory).resolve()), None)
    if handle is not None:
        handle.close()


def remove_stale_temporaries(directory: Path) -> None:
    """Delete the half-written files an interrupted run left (its checkpoint and results
    temporaries); only call while holding the directory's lock."""
    for pattern in ("*.tmp.npz", "*.nc.tmp"):
        for temporary in directory.glob(pattern):
            temporary.unlink(missing_ok=True)


def check_run_directory(directory: Path, resume: bool, protocol: dict | None = None) -> None:
    """Lock the run directory for this run; refuse to overwrite a run; with ``resume``, require
    its checkpoint and, if ``protocol`` (a protocol's ``model_dump()``) is given, the protocol
    the run was started with (except the sections in RESUMABLE_CHANGES)."""
    if directory.exists():  # a new directory is created (and locked) by open_run_directory
        lock_run_directory(directory)
        remove_stale_temporaries(directory)
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
            newer = [key for key in changed if key not in before]
            hint = (
                f" ({', '.join(newer)} not in the saved protocol: settings newer than the run;"
                " add them there with the values the run used)"
                if newer
                else ""
            )
            raise BrainsnnError(
                f"--resume: the protocol differs from {saved} in {', '.join(changed)}{hint}; "
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
    """Create and lock the run directory, send the log to its run.log, save the protocol."""
    directory.mkdir(parents=True, exist_ok=True)
    lock_run_directory(directory)
    attach_log(directory / "run.log")
    (directory / "protocol.yaml").write_text(protocol_text(protocol))


def protocol_text(protocol: BaseModel) -> str:
    """The validated protocol as a run directory saves it: YAML that loads back as the same
    protocol (values with units keep them)."""
    return yaml.safe_dump(protocol.model_dump(), sort_keys=False)


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
