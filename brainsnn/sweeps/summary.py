"""Sweep directories (manifest, ``--resume``) and summary datasets over their runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
import yaml

from brainsnn.core.errors import BrainsnnError
from brainsnn.core.experiment import Experiment
from brainsnn.core.results import VariableSpec, write_atomic
from brainsnn.kinds import DEFAULT_KIND, get_kind
from brainsnn.sweeps.tasks import RESULTS

MANIFEST = "sweep.yaml"
SUMMARY = "summary.nc"

#: Variables of summary.nc, one value per fold or grid point.
SUMMARY_VARIABLES: dict[str, tuple[str, str]] = {
    "test_accuracy": ("1", "test accuracy at the last epoch (the reported score)"),
    "validation_accuracy": ("1", "validation accuracy at the last epoch"),
    "train_accuracy": ("1", "training accuracy at the last epoch"),
    "epochs": ("1", "epochs trained (early stopping or training.stop_below may end a run early)"),
    "wall_time": ("s", "wall time of the run's epochs (train, validation, test), summed"),
}


@dataclass
class SweepOutcome:
    """Where a sweep's files are, its summary (None if no run finished) and its failures."""

    directory: Path
    summary: xr.Dataset | None
    failures: list[str]


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep, with the sweep directory to resume."""

    def __init__(self, directory: Path) -> None:
        super().__init__(str(directory))
        self.directory = directory


def sweep_directory(protocol: Experiment, kind: str, out: str | None) -> Path:
    """``--out``, else the protocol's output.directory with timestamp ``<kind>-<time>``."""
    if out:
        return Path(out).resolve()
    stamp = f"{kind}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    return Path(protocol.output.directory.format(name=protocol.name, timestamp=stamp)).resolve()


def prepare_directory(directory: Path, manifest: dict[str, Any], resume: bool) -> None:
    """Create a sweep directory with its manifest, or check the manifest of one to resume."""
    path = directory / MANIFEST
    if resume:
        if not path.exists():
            raise BrainsnnError(f"--resume: {directory} holds no sweep ({MANIFEST} is missing)")
        recorded = yaml.safe_load(path.read_text())
        if recorded != manifest:
            names = {"set": "--set/--device", "folds": "--k", "sweep": "the grid"}
            changed = [
                names.get(key, key) for key in manifest if recorded.get(key) != manifest[key]
            ]
            raise BrainsnnError(
                f"--resume: {directory} was started with other settings ({', '.join(changed)} "
                f"differ, see {path}); resume with the same protocol and options"
            )
        return
    if directory.exists() and any(directory.iterdir()):
        raise BrainsnnError(
            f"{directory} is not empty: continue its sweep with --resume, or choose another --out"
        )
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(manifest, sort_keys=False))


def read_manifest(directory: Path) -> dict[str, Any]:
    """The manifest of a sweep directory (what was run, with which options)."""
    path = directory / MANIFEST
    if not path.exists():
        raise BrainsnnError(f"{directory} is not a sweep directory ({MANIFEST} is missing)")
    return yaml.safe_load(path.read_text())


def final_scores(run_directory: Path, kind: str = DEFAULT_KIND) -> dict[str, float] | None:
    """The final accuracies, epochs and wall time of a finished run of a protocol of ``kind``
    (None if unfinished), as the kind reports them."""
    path = run_directory / RESULTS
    if not path.exists():
        return None
    with xr.open_dataset(path) as data:
        return get_kind(kind).final_scores(data)


def summary_dataset(
    dim: str,
    index: list[int],
    dim_spec: VariableSpec,
    rows: list[dict[str, float]],
    coords: dict[str, tuple[np.ndarray, VariableSpec]],
    attrs: dict[str, object],
) -> xr.Dataset:
    """One value per fold / point of each summary variable, all with units and long_name."""
    data_vars = {
        name: xr.Variable(
            (dim,),
            np.array([row[name] for row in rows]),
            {"units": units, "long_name": long_name},
        )
        for name, (units, long_name) in SUMMARY_VARIABLES.items()
    }
    dataset = xr.Dataset(data_vars, attrs=attrs)
    dataset = dataset.assign_coords({dim: np.array(index, dtype=int)})
    dataset[dim].attrs.update(units=dim_spec.units, long_name=dim_spec.long_name)
    for name, (values, spec) in coords.items():
        dataset = dataset.assign_coords({name: ((dim,), values)})
        dataset[name].attrs.update(units=spec.units, long_name=spec.long_name)
    return dataset


def write_summary(dataset: xr.Dataset, directory: Path) -> Path:
    """Write summary.nc atomically; returns its path."""
    path = directory / SUMMARY
    write_atomic(dataset, path)
    return path


def yaml_text(value: Any) -> str:
    """A value as one line of YAML that reads back as the same value (for --set overrides)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=1_000_000).strip()
    return text.removesuffix("...").strip()
