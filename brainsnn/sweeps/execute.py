"""Run sweep tasks on Dask: local worker processes or a running scheduler; batches of runs per
worker process; retries; progress."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import xarray as xr
from tqdm import tqdm

from brainsnn.core.errors import BrainsnnError
from brainsnn.sweeps.summary import Interrupted, SweepOutcome, prepare_directory, write_summary
from brainsnn.sweeps.tasks import Outcome, Task, run_batch

DEFAULT_WORKERS = 2
#: Seconds between looks at the runs' directories for the progress bar.
POLL_SECONDS = 0.5


@dataclass(frozen=True)
class Workers:
    """Where a sweep's runs go: ``workers`` local Dask worker processes (default 2) or the
    workers of a running ``scheduler``; each worker process runs ``batch`` runs one after another
    in one fresh process (default: the runs shared out evenly, one batch per worker)."""

    workers: int | None = None
    scheduler: str | None = None
    batch: int | None = None


#: The default: 2 local workers, the runs shared out evenly.
LOCAL_WORKERS = Workers()


def run_sweep(
    directory: Path,
    manifest: dict,
    resume: bool,
    protocol_path: Path,
    make_tasks: Callable[[], list[Task]],
    pool: Workers,
    label: str,
    summarise: Callable[[Path], xr.Dataset | None],
) -> SweepOutcome:
    """Prepare the sweep directory, run its tasks on Dask, then write the summary."""
    prepare_directory(directory, manifest, resume)
    try:
        failures = execute(protocol_path, make_tasks(), pool, label)
    except KeyboardInterrupt:
        raise Interrupted(directory) from None
    summary = summarise(directory)
    if summary is not None:
        write_summary(summary, directory)
    return SweepOutcome(directory, summary, failures)


def execute(
    protocol_path: Path,
    tasks: list[Task],
    pool: Workers = LOCAL_WORKERS,
    what: str = "runs",
    retries: int = 1,
) -> list[str]:
    """Run the unfinished tasks in batches on the workers; return one line per final failure.

    A failed task is reported in one line and submitted again (alone), up to ``retries`` times;
    it then continues from its checkpoint if it had written one. Other tasks go on regardless.
    The progress bar counts runs as their results appear, not only when a batch ends.
    """
    pending = [task for task in tasks if not task.finished]
    if not pending:
        return []
    where = tasks[0].directory.parent
    tqdm.write(f"{what}: {len(pending)} of {len(tasks)} runs to do, in {where}", file=sys.stderr)
    failures: list[str] = []
    with _client(pool.workers, pool.scheduler) as client:
        slots = pool.workers or DEFAULT_WORKERS
        if pool.scheduler:
            slots = max(1, sum(client.nthreads().values()))
        size = pool.batch or -(-len(pending) // slots)

        def submit(batch: list[Task]):
            runs = [(list(task.overrides), str(task.directory)) for task in batch]
            return client.submit(run_batch, str(protocol_path), runs, pure=False)

        running = {submit(pending[i : i + size]): pending[i : i + size]
                   for i in range(0, len(pending), size)}  # fmt: skip
        attempts = dict.fromkeys(pending, 0)
        settled: set[Task] = set()
        with tqdm(total=len(pending), desc=what, unit="run", dynamic_ncols=True) as bar:
            while running:
                done = [future for future in running if future.done()]
                for future in done:
                    batch = running.pop(future)
                    for task, message in zip(batch, _messages(future, batch), strict=True):
                        if message is None:
                            settled.add(task)
                        elif attempts[task] < retries:
                            attempts[task] += 1
                            retrying = f"{task.label} failed: {message} (retrying)"
                            tqdm.write(retrying, file=sys.stderr)
                            running[submit([task])] = [task]
                        else:
                            tqdm.write(f"{task.label} failed: {message}", file=sys.stderr)
                            failures.append(f"{task.label}: {message}")
                            settled.add(task)
                bar.n = len(settled | {task for task in pending if task.finished})
                bar.refresh()
                if not done:
                    time.sleep(POLL_SECONDS)
    return failures


def _messages(future, batch: list[Task]) -> list[str | None]:
    """Per task of a finished batch: None if its run succeeded, else its error in one line."""
    try:
        outcomes: list[Outcome] = future.result()
    except BrainsnnError as exc:
        return [_one_line(str(exc))] * len(batch)
    except (Exception, asyncio.CancelledError) as exc:  # from Dask: a lost worker, ...
        text = str(exc).strip().splitlines()
        return [f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__] * len(batch)
    return [None if outcome.message is None else _one_line(outcome.message) for outcome in outcomes]


def _one_line(text: str) -> str:
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


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
