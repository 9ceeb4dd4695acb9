"""Run sweep tasks on Dask: local worker processes or a running scheduler; retries; progress."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import xarray as xr
from tqdm import tqdm

from brainsnn.core.errors import BrainsnnError
from brainsnn.sweeps.summary import Interrupted, SweepOutcome, prepare_directory, write_summary
from brainsnn.sweeps.tasks import Task, TaskError, run_task

DEFAULT_WORKERS = 2


def run_sweep(
    directory: Path,
    manifest: dict,
    resume: bool,
    protocol_path: Path,
    make_tasks: Callable[[], list[Task]],
    workers: int | None,
    scheduler: str | None,
    label: str,
    summarise: Callable[[Path], xr.Dataset | None],
) -> SweepOutcome:
    """Prepare the sweep directory, run its tasks on Dask, then write the summary."""
    prepare_directory(directory, manifest, resume)
    try:
        failures = execute(protocol_path, make_tasks(), workers, scheduler, label)
    except KeyboardInterrupt:
        raise Interrupted(directory) from None
    summary = summarise(directory)
    if summary is not None:
        write_summary(summary, directory)
    return SweepOutcome(directory, summary, failures)


def execute(
    protocol_path: Path,
    tasks: list[Task],
    workers: int | None = None,
    scheduler: str | None = None,
    what: str = "runs",
    retries: int = 1,
) -> list[str]:
    """Run the unfinished tasks, each in a worker process; return one line per final failure.

    A failed task is reported in one line and submitted again, up to ``retries`` times; it then
    continues from its checkpoint if it had written one. Other tasks go on regardless.
    """
    pending = [task for task in tasks if not task.finished]
    if not pending:
        return []
    where = tasks[0].directory.parent
    tqdm.write(f"{what}: {len(pending)} of {len(tasks)} runs to do, in {where}", file=sys.stderr)
    failures = []
    with _client(workers, scheduler) as client:
        from distributed import as_completed

        def submit(task: Task):
            arguments = (str(protocol_path), list(task.overrides), str(task.directory))
            return client.submit(run_task, *arguments, pure=False)

        running = {submit(task): task for task in pending}
        attempts = dict.fromkeys(pending, 0)
        queue = as_completed(list(running))
        with tqdm(total=len(pending), desc=what, unit="run", dynamic_ncols=True) as bar:
            for future in queue:
                task = running.pop(future)
                message = _failure(future)
                if message is None:
                    bar.update()
                elif attempts[task] < retries:
                    attempts[task] += 1
                    tqdm.write(f"{task.label} failed: {message} (retrying)", file=sys.stderr)
                    retry = submit(task)
                    running[retry] = task
                    queue.add(retry)
                else:
                    tqdm.write(f"{task.label} failed: {message}", file=sys.stderr)
                    failures.append(f"{task.label}: {message}")
                    bar.update()
    return failures


def _failure(future) -> str | None:
    """None if the task succeeded, else its error in one line."""
    try:
        future.result()
    except (BrainsnnError, TaskError) as exc:
        return "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    except (Exception, asyncio.CancelledError) as exc:  # from Dask: a lost worker, ...
        text = str(exc).strip().splitlines()
        return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
    return None


@contextmanager
def _client(workers: int | None, scheduler: str | None) -> Iterator:
    """A Dask client: of a new local cluster of worker processes, or of a running scheduler."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise BrainsnnError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        with client:
            yield client
        return
    with _ignoring_ctrl_c():  # the worker processes inherit it: on Ctrl-C the sweep stops them
        cluster = LocalCluster(
            n_workers=workers or DEFAULT_WORKERS,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.CRITICAL,  # task errors are reported here, in one line each
        )
    with cluster, Client(cluster) as client:
        yield client


@contextmanager
def _ignoring_ctrl_c() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
