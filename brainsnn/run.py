"""Run any kind's experiment: choose the run directory, hand it to the kind's engine."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import xarray as xr
from pydantic import BaseModel

from brainsnn.core.experiment import Experiment
from brainsnn.core.rundir import release_run_directory, run_directory
from brainsnn.kinds import get_kind
from brainsnn.protocol import resolve


@dataclass
class RunOutcome:
    """Where a run's files are and its result dataset."""

    directory: Path
    dataset: xr.Dataset


def run_protocol(
    experiment: Experiment | BaseModel,
    out: str | Path | None = None,
    resume: bool = False,
    show_progress: bool = True,
) -> RunOutcome:
    """Run a loaded experiment (``--out`` or the protocol's output.directory); with ``resume``,
    continue from the run directory's checkpoint."""
    experiment = resolve(experiment)
    directory = run_directory(experiment.protocol, out)
    try:
        dataset = get_kind(experiment.kind).run(experiment, directory, resume, show_progress)
    finally:
        release_run_directory(directory)
    return RunOutcome(directory, dataset)
