"""Run any kind's experiment: choose the run directory, hand it to the kind's engine."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import xarray as xr
from pydantic import BaseModel

from brainsnn.core.experiment import Experiment
from brainsnn.core.rundir import release_run_directory, run_directory
from brainsnn.devices.profiling import enable_profiling, profile_table
from brainsnn.kinds import get_kind
from brainsnn.protocol import resolve


@dataclass
class RunOutcome:
    """Where a run's files are and its result dataset."""

    directory: Path
    dataset: xr.Dataset
    profile: Path | None = None  # profile.txt of a profiled run


#: Where a profiled run writes Brian2's per-code-object times.
PROFILE_FILE = "profile.txt"


def run_protocol(
    experiment: Experiment | BaseModel,
    out: str | Path | None = None,
    resume: bool = False,
    show_progress: bool = True,
    profile: bool = False,
) -> RunOutcome:
    """Run a loaded experiment (``--out`` or the protocol's output.directory); with ``resume``,
    continue from the run directory's checkpoint. With ``profile``, every Brian2 chunk runs
    under Brian2's profiler and the summed per-code-object times go to ``profile.txt``."""
    experiment = resolve(experiment)
    directory = run_directory(experiment.protocol, out)
    enable_profiling(profile)
    try:
        dataset = get_kind(experiment.kind).run(experiment, directory, resume, show_progress)
        profile_path = None
        if profile:
            profile_path = directory / PROFILE_FILE
            profile_path.write_text(profile_table())
    finally:
        enable_profiling(False)
        release_run_directory(directory)
    return RunOutcome(directory, dataset, profile_path)
