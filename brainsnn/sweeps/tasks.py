"""One fold or grid point: a protocol run in its own directory, started by a Dask worker.

Each run gets a fresh Python process (``python -m brainsnn.sweeps.tasks``), a child of the
worker process. Brian2 keeps one standalone project per process, and a second network built in
the same process gets renamed objects, so it would recompile the shared build from scratch; a
fresh process reuses the cached build as it is. Its output goes to the run's ``output.log``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from brainsnn.core.errors import BrainsnnError
from brainsnn.core.signals import stop_on_sigterm

RESULTS = "results.nc"
ERROR_LOG = "error.log"
OUTPUT_LOG = "output.log"


@dataclass(frozen=True)
class Task:
    """A run of the sweep's protocol with extra overrides, in its own directory."""

    label: str  # how the task is named in messages: "fold 3", "point 007"
    directory: Path
    overrides: tuple[str, ...]

    @property
    def finished(self) -> bool:
        """A task is done when its results.nc exists (it is written last, atomically)."""
        return (self.directory / RESULTS).exists()


class TaskError(Exception):
    """A run failed for a reason other than bad input (its traceback is in error.log)."""


def run_task(protocol_path: str, overrides: list[str], directory: str) -> str:
    """Worker side: run one protocol in ``directory`` in a fresh process; returns the directory.

    The run continues from its checkpoint if it has one. A user error in the run is raised here
    as :class:`BrainsnnError` with the run's one-line message, anything else as
    :class:`TaskError`.
    """
    out = Path(directory)
    if (out / RESULTS).exists():
        return directory
    out.mkdir(parents=True, exist_ok=True)
    handle, error_file = tempfile.mkstemp(prefix="brainsnn-task-", suffix=".json")
    os.close(handle)
    spec = {"protocol": protocol_path, "overrides": overrides, "directory": directory}
    try:
        with open(out / OUTPUT_LOG, "a") as log:
            code = subprocess.run(
                [sys.executable, "-m", "brainsnn.sweeps.tasks", json.dumps(spec), error_file],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # no Ctrl-C from the terminal: it ends with its worker
            ).returncode
        text = Path(error_file).read_text()
    finally:
        Path(error_file).unlink(missing_ok=True)
    if code == 0:
        return directory
    if not text:  # ended before it could report, e.g. killed
        raise TaskError(f"the run's process ended with exit code {code} (see {out / OUTPUT_LOG})")
    error = json.loads(text)
    if error["user"]:
        raise BrainsnnError(error["message"])
    raise TaskError(error["message"])


def _run_here(protocol_path: str, overrides: list[str], directory: str) -> None:
    """In the task's own process: run (or continue) the protocol."""
    from brainsnn.core.checkpoint import CHECKPOINT
    from brainsnn.protocol import load_protocol
    from brainsnn.run import run_protocol

    (Path(directory) / ERROR_LOG).unlink(missing_ok=True)  # a killed attempt's, now stale
    protocol = load_protocol(protocol_path, overrides)
    resume = (Path(directory) / CHECKPOINT).exists()
    run_protocol(protocol, out=directory, resume=resume, show_progress=False)


def _exit_with_parent() -> None:
    """End this process and its children (the compiled simulation) if its worker goes away.

    That is how a stopped sweep ends its runs; checkpoints are written atomically, so nothing
    is left half-written.
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        from brainsnn.devices.runners import private_run_copies  # Brian2: main thread only

        for copy in private_run_copies():  # atexit, which would remove them, won't run
            shutil.rmtree(copy, ignore_errors=True)
        os.killpg(0, signal.SIGKILL)  # its own process group (a new session, see run_task)

    threading.Thread(target=watch, daemon=True).start()


def main(argv: list[str]) -> int:
    """``python -m brainsnn.sweeps.tasks SPEC_JSON ERROR_FILE``: one run; errors as JSON."""
    spec, error_file = json.loads(argv[0]), Path(argv[1])
    _exit_with_parent()
    stop_on_sigterm()
    try:
        _run_here(spec["protocol"], spec["overrides"], spec["directory"])
    except BrainsnnError as exc:
        error_file.write_text(json.dumps({"user": True, "message": str(exc)}))
        return 2
    except BaseException as exc:  # reported to the sweep in one line, traceback in error.log
        log = Path(spec["directory"]) / ERROR_LOG
        log.write_text(traceback.format_exc())
        first = (str(exc).strip().splitlines() or [""])[0]
        message = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
        error_file.write_text(json.dumps({"user": False, "message": f"{message} (see {log})"}))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
