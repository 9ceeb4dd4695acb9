"""Grid search (spec §7): every combination of the swept values, ranked by validation accuracy."""

from __future__ import annotations

import itertools
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
import yaml

from brainsnn.core.errors import BrainsnnError, ConfigError
from brainsnn.core.experiment import Experiment
from brainsnn.core.protocol import parse_assignment
from brainsnn.core.results import VariableSpec
from brainsnn.kinds import DEFAULT_KIND
from brainsnn.protocol import load_protocol
from brainsnn.sweeps.execute import LOCAL_WORKERS, Workers, run_sweep
from brainsnn.sweeps.summary import (
    SweepOutcome,
    final_scores,
    read_manifest,
    summary_dataset,
    sweep_directory,
    yaml_text,
)
from brainsnn.sweeps.tasks import Task

POINT = VariableSpec(("point",), "1", "grid point number (its run directory is point-NNN)")
POINT_FILE = "point.yaml"


def parse_sweep_options(items: list[str] | tuple[str, ...]) -> dict[str, list]:
    """``--sweep KEY=[v1,v2]`` options (values parsed as YAML; a single value is a list of one)."""
    grid: dict[str, list] = {}
    for item in items:
        key, values = parse_assignment(item, "--sweep", "KEY=[v1,v2,...]")
        grid[key] = values if isinstance(values, list) else [values]
    return grid


def grid_of(protocol: Experiment, options: dict[str, list]) -> dict[str, list]:
    """The protocol's sweep: block, updated by --sweep options."""
    grid = {**(protocol.sweep or {}), **options}
    if not grid:
        raise ConfigError(
            "nothing to sweep: add a sweep: block to the protocol (key: [values]) "
            "or give --sweep KEY=[v1,v2]"
        )
    for key, values in grid.items():
        if key.split(".")[0] == "sweep":
            raise ConfigError(f"sweep {key}: the sweep itself cannot be swept")
        if not values:
            raise ConfigError(f"sweep {key}: empty list of values")
    return grid


def grid_points(grid: dict[str, list]) -> list[dict[str, Any]]:
    """The Cartesian product of the grid, the last key varying fastest."""
    return [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]


def point_name(number: int, count: int) -> str:
    """Zero-padded point number: 007 (at least 3 digits)."""
    return f"{number:0{max(3, len(str(count - 1)))}d}"


def point_tasks(directory: Path, grid: dict[str, list], overrides: list[str]) -> list[Task]:
    """One task per grid point, in DIR/point-NNN (its overrides in point.yaml)."""
    points = grid_points(grid)
    tasks = []
    for number, point in enumerate(points):
        name = point_name(number, len(points))
        point_directory = directory / f"point-{name}"
        point_directory.mkdir(exist_ok=True)
        (point_directory / POINT_FILE).write_text(yaml.safe_dump(point, sort_keys=False))
        extra = [f"{key}={yaml_text(value)}" for key, value in point.items()]
        tasks.append(Task(f"point {name}", point_directory, (*overrides, "sweep=null", *extra)))
    return tasks


def run_gridsearch(
    protocol_path: Path,
    overrides: list[str],
    sweep_options: dict[str, list],
    out: str | None = None,
    pool: Workers = LOCAL_WORKERS,
    resume: bool = False,
) -> SweepOutcome:
    """Run every grid point (the missing ones with ``resume``), then write summary.nc."""
    path = protocol_path.resolve()
    base = load_protocol(path, overrides)
    grid = grid_of(base, sweep_options)
    for key, values in grid.items():  # a bad key or value stops the search before it starts
        for value in values:
            load_protocol(path, [*overrides, "sweep=null", f"{key}={yaml_text(value)}"])
    directory = sweep_directory(base, "gridsearch", out)
    manifest = {
        "kind": "gridsearch",
        "name": base.name,
        "protocol": str(path),
        "set": list(overrides),
        "sweep": grid,
        "protocol_kind": base.kind,
    }
    return run_sweep(
        directory, manifest, resume, path, lambda: point_tasks(directory, grid, overrides),
        pool, "grid search", grid_summary,
    )  # fmt: skip


def grid_summary(directory: Path) -> xr.Dataset | None:
    """Final results of every finished grid point, with the swept values as coordinates."""
    manifest = read_manifest(directory)
    if manifest.get("kind") != "gridsearch":
        raise BrainsnnError(f"{directory} holds a {manifest.get('kind')}, not a grid search")
    grid = manifest["sweep"]
    points = grid_points(grid)
    finished = {}
    for number in range(len(points)):
        point = directory / f"point-{point_name(number, len(points))}"
        values = final_scores(point, manifest.get("protocol_kind", DEFAULT_KIND))
        if values is not None:
            finished[number] = values
    if not finished:
        return None
    coords = {
        key: (
            _coordinate([points[number][key] for number in finished]),
            VariableSpec(("point",), "1", f"value of the swept protocol key {key}"),
        )
        for key in grid
    }
    attrs = {
        "protocol": manifest["name"],
        "protocol_file": manifest["protocol"],
        "overrides": " ".join(manifest["set"]),
        "swept_keys": ", ".join(grid),
        "points": len(points),
        "points_finished": len(finished),
        "ranking": "by the last epoch's validation accuracy (SpikeNN's get_gs_best)",
        "created": datetime.now().isoformat(timespec="seconds"),
    }
    summary = summary_dataset(
        "point", list(finished), POINT, list(finished.values()), coords, attrs
    )
    for key in grid:
        if summary[key].dtype.kind in "US":  # text such as '10 ms' carries its own unit
            summary[key].attrs.update(units="", long_name=f"{summary[key].long_name} (text)")
    return summary


def _coordinate(values: list[Any]) -> np.ndarray:
    """Numbers (or booleans) as such; anything else as its YAML text."""
    if all(isinstance(value, bool) for value in values):
        return np.array(values, dtype=bool)
    if all(isinstance(value, int | float) and not isinstance(value, bool) for value in values):
        return np.array(values)
    return np.array([value if isinstance(value, str) else yaml_text(value) for value in values])


def ranking_lines(summary: xr.Dataset, top: int | None = None) -> list[str]:
    """A table of the finished points, best last validation accuracy first (ties: lower point)."""
    keys = [key for key in summary.attrs["swept_keys"].split(", ") if key]
    validation = summary.validation_accuracy.values
    order = sorted(range(len(validation)), key=lambda i: (-validation[i], i))[:top]
    width = max(3, len(str(summary.attrs["points"] - 1)))
    header = ["rank", "point", "validation", "test", "epochs", *keys]
    rows = [
        [
            str(rank),
            f"{int(summary.point.values[i]):0{width}d}",
            f"{validation[i]:.4f}",
            f"{float(summary.test_accuracy.values[i]):.4f}",
            str(int(summary.epochs.values[i])),
            *(_text(summary[key].values[i]) for key in keys),
        ]
        for rank, i in enumerate(order, start=1)
    ]
    widths = [max(len(row[c]) for row in [header, *rows]) for c in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    if np.all(np.isnan(validation)):
        lines.append(
            "(no validation set: the points are not ranked; give the protocol one, e.g. "
            "--set data.validation_fraction=0.1)"
        )
    return lines


def _text(value: Any) -> str:
    return yaml_text(value.item() if hasattr(value, "item") else value)
