"""Declarations of recorded variables (dims, units, description) and results.nc writing.

Each kind declares its catalog once (``brainsnn.<kind>.results``); model files add the state
variables they record (``records:``). :func:`make_dataset` refuses an undeclared variable.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from brainsnn.core.errors import BrainsnnError


@dataclass(frozen=True)
class VariableSpec:
    """Declaration of one variable of ``results.nc``."""

    dims: tuple[str, ...]
    units: str
    long_name: str


#: Opt-in membrane traces (both engines); units are set from the record ("mV" or "1").
TRACE_VARIABLES: dict[str, VariableSpec] = {
    "trace_v": VariableSpec(
        ("trace_neuron", "trace_time"), "", "membrane potential of traced output neurons"
    ),
    "trace_threshold": VariableSpec(
        ("trace_neuron", "trace_time"), "", "firing threshold of traced output neurons"
    ),
    "trace_sample": VariableSpec(
        ("trace_time",), "1", "test sample presented at each trace time point"
    ),
}


def trace_values(records: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Dataset variables from ``trace/<field>`` records (empty if nothing was traced)."""
    if "trace/potential" not in records:
        return {}
    return {
        "trace_v": records["trace/potential"],
        "trace_threshold": records["trace/threshold"],
        "trace_sample": records["trace/sample"],
    }


def with_trace_coordinates(dataset: xr.Dataset, records: dict[str, np.ndarray]) -> xr.Dataset:
    """Add the trace coordinates (time in ms, neuron) and the traces' units, if traced."""
    if "trace_v" not in dataset:
        return dataset
    dataset = dataset.assign_coords(
        trace_time=("trace_time", records["trace/time"] * 1e3, {"units": "ms"}),
        trace_neuron=("trace_neuron", records["trace/neurons"]),
    )
    for name in ("trace_v", "trace_threshold"):
        dataset[name].attrs["units"] = str(records["trace/units"])
    return dataset


def make_dataset(
    values: dict[str, np.ndarray],
    attrs: dict[str, object],
    catalog: dict[str, VariableSpec],
) -> xr.Dataset:
    """Dataset of the given variables, each with its declared dims, units and long_name.

    ``catalog`` holds the declarations: the kind's catalog and its model files' records.
    """
    data_vars = {}
    for name, value in values.items():
        spec = catalog.get(name)
        if spec is None:
            raise BrainsnnError(f"internal error: result variable '{name}' is not declared")
        data_vars[name] = xr.Variable(
            spec.dims, np.asarray(value), attrs={"units": spec.units, "long_name": spec.long_name}
        )
    dataset = xr.Dataset(data_vars, attrs={key: _attr(value) for key, value in attrs.items()})
    for dim in dataset.dims:
        first = 1 if dim == "epoch" else 0  # epochs are counted from 1, as in the log
        dataset = dataset.assign_coords({dim: np.arange(first, first + dataset.sizes[dim])})
        dataset[dim].attrs["long_name"] = (
            "epoch number" if first else dim.replace("_", " ") + " index"
        )
    return dataset


def _attr(value: object) -> object:
    return value if isinstance(value, int | float | str) else str(value)


def write_atomic(dataset: xr.Dataset, path: Path) -> None:
    """Write netCDF via a temporary file and a rename, so a crash never leaves half a file.

    Any failure (a full disk, a netCDF/HDF error) is one line, and the temporary is removed.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".nc.tmp")
    os.close(handle)
    try:
        dataset.to_netcdf(temporary)
        os.replace(temporary, path)
    except (OSError, RuntimeError, ValueError) as exc:  # netCDF4 reports HDF errors as these
        Path(temporary).unlink(missing_ok=True)
        reason = getattr(exc, "strerror", None) or str(exc).strip().splitlines()[0]
        raise BrainsnnError(f"could not write {path}: {reason}") from None
