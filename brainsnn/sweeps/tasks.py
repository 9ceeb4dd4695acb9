"""Folds and grid points: protocol runs in their own directories, started by Dask workers.

A worker runs a batch of runs one after another in one fresh Python process
(``python -m brainsnn.sweeps.tasks``), a child of the worker process. Runs of a batch share the
imports, and the compiled builds stay loaded, so a run costs little more than its simulation;
a fresh process per batch keeps Brian2's one-project-per-process state away from the worker.
Each run's output (its log, warnings and the simulation's own output) goes to its
``output.log``, and its result or error is reported as soon as it ends.
"""

from __future__ import annotations

import dataclasses
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
from collections.abc import Iterator
from contextlib import contextmanager
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


@dataclass(frozen=True)
class Outcome:
    """How one run of a batch ended: finished (``message`` None) or failed (its error in one
    line: a user error's message, or the exception with the path of its traceback)."""

    directory: str
    message: str | None = None


def run_batch(protocol_path: str, runs: list[tuple[list[str], str]]) -> list[Outcome]:
    """Worker side: the runs (overrides, directory) one after another in one fresh process.

    Each run continues from its checkpoint if it has one; a finished run (with results.nc) is
    skipped. Returns an :class:`Outcome` per run; runs the process did not reach (it was
    killed) are reported as failures.
    """
    handle, outcome_file = tempfile.mkstemp(prefix="brainsnn-batch-", suffix=".json")
    os.close(handle)
    specs = [{"overrides": list(o), "directory": d} for o, d in runs]
    spec_text = json.dumps({"protocol": protocol_path, "runs": specs})
    try:
        process = subprocess.run(
            [sys.executable, "-m", "brainsnn.sweeps.tasks", spec_text, outcome_file],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,  # each run's output goes to its own output.log
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # no Ctrl-C from the terminal: it ends with its worker
        )
        text = Path(outcome_file).read_text()
    finally:
        Path(outcome_file).unlink(missing_ok=True)
        Path(outcome_file).with_suffix(".part").unlink(missing_ok=True)
    reported = {item["directory"]: Outcome(**item) for item in json.loads(text or "[]")}
    lost = process.stderr.strip().splitlines()[-1:] or [f"exit code {process.returncode}"]
    return [
        reported.get(
            directory,
            Outcome(directory, f"the run's process ended before it finished ({lost[0]})"),
        )
        for _, directory in runs
    ]


def _run_here(protocol_path: str, overrides: list[str], directory: str) -> None:
    """In the batch's process: run (or continue) the protocol."""
    from brainsnn.core.checkpoint import CHECKPOINT
    from brainsnn.protocol import load_protocol
    from brainsnn.run import run_protocol

    (Path(directory) / ERROR_LOG).unlink(missing_ok=True)  # a killed attempt's, now stale
    protocol = load_protocol(protocol_path, overrides)
    resume = (Path(directory) / CHECKPOINT).exists()
    run_protocol(protocol, out=directory, resume=resume, show_progress=False)


def _run_one(
    protocol_path: str, overrides: list[str], directory: str, place: str
) -> tuple[Outcome, bool]:
    """One run of a batch, its output sent to its output.log, which starts with ``place`` (its
    place in the batch): (its Outcome, whether the batch must stop: the process was
    interrupted or told to end)."""
    out = Path(directory)
    if (out / RESULTS).exists():
        return Outcome(directory), False
    out.mkdir(parents=True, exist_ok=True)
    with _output_to(out / OUTPUT_LOG):
        print(place, flush=True)
        try:
            _run_here(protocol_path, overrides, directory)
        except BrainsnnError as exc:
            return Outcome(directory, str(exc)), False
        except BaseException as exc:  # reported to the sweep in one line, traceback in error.log
            log = out / ERROR_LOG
            log.write_text(traceback.format_exc())
            first = (str(exc).strip().splitlines() or [""])[0]
            message = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
            return Outcome(directory, f"{message} (see {log})"), not isinstance(exc, Exception)
    return Outcome(directory), False


@contextmanager
def _output_to(path: Path) -> Iterator[None]:
    """Send this process's standard output and error (file descriptors 1 and 2, so also the
    compiled simulation's) to ``path``, appended, for the duration."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "a") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


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
        os.killpg(0, signal.SIGKILL)  # its own process group (a new session, see run_batch)

    threading.Thread(target=watch, daemon=True).start()


def main(argv: list[str]) -> int:
    """``python -m brainsnn.sweeps.tasks SPEC_JSON OUTCOME_FILE``: a batch of runs; each run's
    outcome is added to OUTCOME_FILE (JSON) as soon as it ends."""
    spec, outcome_file = json.loads(argv[0]), Path(argv[1])
    _exit_with_parent()
    stop_on_sigterm()
    outcomes: list[dict] = []
    runs = spec["runs"]
    for number, run in enumerate(runs, start=1):
        place = f"sweep batch: run {number} of {len(runs)} in process {os.getpid()}"
        outcome, stop = _run_one(spec["protocol"], run["overrides"], run["directory"], place)
        outcomes.append(dataclasses.asdict(outcome))
        partial = outcome_file.with_suffix(".part")
        partial.write_text(json.dumps(outcomes))
        partial.replace(outcome_file)
        if stop:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
