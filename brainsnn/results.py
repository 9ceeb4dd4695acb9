"""Every recorded variable, declared once with dims, units and a description; dataset writing."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from brainsnn.errors import BrainsnnError


@dataclass(frozen=True)
class VariableSpec:
    """Declaration of one variable of ``results.nc``."""

    dims: tuple[str, ...]
    units: str
    long_name: str


VARIABLES: dict[str, VariableSpec] = {
    "train_accuracy": VariableSpec(
        ("epoch",), "1", "training accuracy (decisions with training thresholds, during learning)"
    ),
    "validation_accuracy": VariableSpec(("epoch",), "1", "validation accuracy (test mode)"),
    "test_accuracy": VariableSpec(("epoch",), "1", "test accuracy (test mode)"),
    "epoch_wall_time": VariableSpec(
        ("epoch",), "s", "wall time of the epoch (train, validation and test passes)"
    ),
    "train_samples_per_second": VariableSpec(
        ("epoch",), "1/s", "training samples simulated per second of wall time"
    ),
    "a_plus": VariableSpec(("epoch",), "1", "LTP rate used during the epoch"),
    "a_minus": VariableSpec(("epoch",), "1", "LTD rate used during the epoch"),
    "thr_lr": VariableSpec(("epoch",), "1", "CR-2 threshold learning rate used during the epoch"),
    "test_prediction": VariableSpec(
        ("test_sample",), "1", "predicted class of each test sample (final model)"
    ),
    "test_label": VariableSpec(("test_sample",), "1", "true class of each test sample"),
    "test_first_spike_time": VariableSpec(
        ("test_sample", "output_neuron"),
        "T",
        "first-spike time of each output neuron, in units of the sample duration T (1 = silent)",
    ),
    "test_potential": VariableSpec(
        ("test_sample", "output_neuron"),
        "1",
        "membrane potential at the first spike (final value if silent), weight units",
    ),
    "weights": VariableSpec(("output_neuron", "input"), "1", "final synaptic weights"),
    "test_threshold": VariableSpec(("output_neuron",), "1", "threshold used for test decisions"),
    "training_threshold": VariableSpec(
        ("output_neuron",), "1", "adaptive training threshold (CR-2) at the end of training"
    ),
    "neuron_class": VariableSpec(("output_neuron",), "1", "class group of each output neuron"),
    "train_wins": VariableSpec(
        ("epoch", "output_neuron"),
        "samples",
        "training samples each output neuron decided (global first-spike winner) in the epoch",
    ),
    "epoch_training_threshold": VariableSpec(
        ("epoch", "output_neuron"), "1", "adaptive training threshold (CR-1, CR-2) after each epoch"
    ),
    "neuron_nontarget": VariableSpec(
        ("output_neuron",), "1", "1 if the neuron is labelled non-target (NCG 'L')"
    ),
}


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
VARIABLES.update(TRACE_VARIABLES)


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
    catalog: dict[str, VariableSpec] | None = None,
) -> xr.Dataset:
    """Dataset of the given variables, each with its declared dims, units and long_name.

    ``catalog`` holds the declarations (default: the readout's ``VARIABLES``).
    """
    data_vars = {}
    for name, value in values.items():
        spec = (catalog or VARIABLES).get(name)
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
    """Write netCDF via a temporary file and a rename, so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".nc.tmp")
    os.close(handle)
    try:
        dataset.to_netcdf(temporary)
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise BrainsnnError(f"could not write {path}: {exc.strerror or exc}") from None
