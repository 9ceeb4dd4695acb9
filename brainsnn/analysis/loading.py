"""Opening saved results: a run's ``results.nc``, a sweep's ``summary.nc``, or a sweep's runs.

Reads files only (xarray, netCDF4); never imports Brian2.
"""

from __future__ import annotations

import re
from pathlib import Path

import xarray as xr

from brainsnn.core.errors import BrainsnnError

RESULTS_NAME = "results.nc"  # a run's dataset (brainsnn run)
SUMMARY_NAME = "summary.nc"  # a k-fold's or grid search's summary (brainsnn kfold / gridsearch)
MANIFEST_NAME = "sweep.yaml"  # marks a sweep directory
RUN_DIRECTORY = re.compile(r"^(fold|point)-(\d+)$")  # the runs of a sweep: fold-<i>, point-<nnn>


def results_file(path: str | Path) -> Path:
    """The file a results argument names: the file itself, DIR/results.nc or DIR/summary.nc.

    A run directory's ``results.nc`` comes first; a sweep directory gives its ``summary.nc``.
    A missing path, or a directory with neither file, is a :class:`BrainsnnError`.
    """
    path = Path(path)
    if path.is_dir():
        for name in (RESULTS_NAME, SUMMARY_NAME):
            if (path / name).is_file():
                return path / name
        if (path / MANIFEST_NAME).is_file():
            raise BrainsnnError(
                f"no {SUMMARY_NAME} in the sweep directory {path}: the sweep has not finished "
                "(continue it with --resume); open_results(..., runs=True) reads its finished runs"
            )
        raise BrainsnnError(f"no {RESULTS_NAME} in {path} (nor a sweep's {SUMMARY_NAME})")
    if path.is_file():
        return path
    if path.suffix == ".nc":
        raise BrainsnnError(f"{path}: no such file")
    raise BrainsnnError(f"no {RESULTS_NAME} in {path} (no such directory)")


def read_dataset(path: str | Path) -> xr.Dataset:
    """The netCDF file at ``path``, loaded into memory and closed; BrainsnnError if unreadable."""
    try:
        handle = xr.open_dataset(path)
    except Exception as exc:  # netCDF4/HDF5/xarray raise OSError, ValueError, RuntimeError, ...
        raise BrainsnnError(f"cannot read {path}: {_reason(exc)}") from None
    try:
        return handle.load()
    except Exception as exc:
        raise BrainsnnError(f"cannot read {path}: {_reason(exc)}") from None
    finally:
        handle.close()


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def open_results(path_or_dir: str | Path, *, runs: bool = False) -> xr.Dataset:
    """The saved dataset of a run or a sweep, loaded into memory (the file is closed).

    ``path_or_dir`` is a ``.nc`` file, a run directory (its ``results.nc``) or a k-fold / grid
    search directory (its ``summary.nc``: one value per fold or point). With ``runs=True`` a sweep
    directory gives instead its finished runs' ``results.nc`` combined along ``fold`` or ``point``
    (see :func:`combine_runs`). Missing or unreadable files raise :class:`BrainsnnError`.
    """
    if runs:
        return combine_runs(path_or_dir)
    return read_dataset(results_file(path_or_dir))


def combine_runs(directory: str | Path) -> xr.Dataset:
    """The ``results.nc`` of every finished run of a sweep, stacked along ``fold`` or ``point``.

    Runs are the sub-directories ``fold-<i>`` (k-fold) or ``point-<n>`` (grid search) holding a
    ``results.nc``; the new dimension's coordinate is ``<i>`` / ``<n>``. Runs that stopped early
    have fewer epochs: their missing epochs are NaN (integer variables become floats then).
    Attributes that differ between runs (seed, wall time, ...) are dropped.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise BrainsnnError(f"{directory}: no such sweep directory")
    found: dict[str, list[tuple[int, Path]]] = {}
    for child in sorted(directory.iterdir()):
        match = RUN_DIRECTORY.match(child.name)
        if match and (child / RESULTS_NAME).is_file():
            found.setdefault(match.group(1), []).append((int(match.group(2)), child / RESULTS_NAME))
    if not found:
        raise BrainsnnError(
            f"no finished run in {directory} (expected fold-<i>/{RESULTS_NAME} or "
            f"point-<n>/{RESULTS_NAME})"
        )
    if len(found) > 1:
        raise BrainsnnError(f"{directory} holds both fold-<i> and point-<n> runs")
    ((dim, members),) = found.items()
    members.sort()
    datasets = [read_dataset(path).expand_dims({dim: [index]}) for index, path in members]
    combined = xr.concat(datasets, dim=dim, join="outer", combine_attrs="drop_conflicts")
    combined[dim].attrs["long_name"] = f"{dim} index (sub-directory {dim}-<index>)"
    return combined


def variable(ds: xr.Dataset, name: str, dims: tuple[str, ...]) -> xr.DataArray:
    """``ds[name]`` with exactly ``dims`` (in that order); BrainsnnError if absent or other dims."""
    if name not in ds.variables:
        raise BrainsnnError(f"results.nc has no variable '{name}'")
    array = ds[name]
    if set(array.dims) != set(dims):
        raise BrainsnnError(
            f"results.nc variable '{name}' has dims ({', '.join(map(str, array.dims))}), "
            f"expected ({', '.join(dims)})"
        )
    return array.transpose(*dims)
