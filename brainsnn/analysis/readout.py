"""Test-set statistics of a run from its saved dataset: confusion matrix, winners, first-spike
times, thresholds.

Times are in units of the sample duration T (1 = no spike); thresholds in the potential (weight)
units of the run. Functions take the ``xarray.Dataset`` of :func:`brainsnn.open_results` and
return ``xarray`` objects with named dimensions.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from brainsnn.analysis.loading import variable
from brainsnn.core.errors import BrainsnnError

NO_SPIKE = 1.0  # first-spike time of a silent neuron, units of T
STATISTICS = ("mean", "std", "min", "max")
THRESHOLDS = ("test_threshold", "training_threshold")


def n_classes(ds: xr.Dataset) -> int:
    """Number of classes: the ``class`` dim, else ``neuron_class`` (max + 1), else the largest
    test label or prediction + 1."""
    if "class" in ds.dims:
        return int(ds.sizes["class"])
    names = (
        ["neuron_class"] if "neuron_class" in ds.variables else ["test_label", "test_prediction"]
    )
    largest = -1
    for name in names:
        if name in ds.variables and ds[name].size:
            largest = max(largest, int(np.nanmax(ds[name].values)))
    return largest + 1


def confusion_matrix(ds: xr.Dataset, normalize: bool = False) -> xr.DataArray:
    """Test samples of each true class (rows) predicted as each class (columns).

    Needs ``test_label`` (test_sample) and ``test_prediction`` (test_sample), or (repeat,
    test_sample) for runs with repeated test passes, whose counts are summed; a ``decoding``
    dim (gradient runs) is narrowed to the training loss's decoding (attribute ``decoding``).
    Returns counts with dims (true_class, predicted_class); a predicted class -1 (no output
    spike) adds a column -1. With ``normalize`` each row is divided by its total (fractions;
    NaN for a class without samples).
    """
    labels = np.asarray(variable(ds, "test_label", ("test_sample",)).values, dtype=np.int64)
    prediction = ds["test_prediction"] if "test_prediction" in ds.variables else None
    if prediction is None:
        raise BrainsnnError("results.nc has no variable 'test_prediction'")
    if "test_sample" not in prediction.dims:
        raise BrainsnnError("results.nc variable 'test_prediction' has no dim test_sample")
    if "decoding" in prediction.dims:  # gradient runs: the training loss's decoding
        prediction = prediction.sel(decoding=ds.attrs.get("decoding", prediction["decoding"][0]))
    predicted = prediction.transpose(..., "test_sample").values.reshape(-1, labels.size)
    predicted = np.asarray(predicted, dtype=np.int64)
    classes = n_classes(ds)
    if np.any((predicted < -1) | (predicted >= classes)) or np.any(
        (labels < 0) | (labels >= classes)
    ):
        raise BrainsnnError(
            f"test labels and predictions must be class indices 0..{classes - 1} (or -1)"
        )
    silent = bool(np.any(predicted == -1))
    counts = np.zeros((classes, classes + silent), dtype=np.int64)
    column = np.where(predicted == -1, classes, predicted)  # -1 goes to the last column
    np.add.at(counts, (np.broadcast_to(labels, predicted.shape), column), 1)
    columns = list(range(classes)) + ([-1] if silent else [])
    matrix = xr.DataArray(
        counts,
        dims=("true_class", "predicted_class"),
        coords={"true_class": np.arange(classes), "predicted_class": columns},
        attrs={"units": "samples", "long_name": "test samples"},
    )
    if normalize:
        totals = matrix.sum("predicted_class")
        matrix = (matrix / totals.where(totals > 0)).assign_attrs(
            units="1", long_name="fraction of the true class's test samples"
        )
    return matrix


def _spike_times(ds: xr.Dataset) -> xr.DataArray:
    return variable(ds, "test_first_spike_time", ("test_sample", "output_neuron"))


def winners(ds: xr.Dataset) -> xr.DataArray:
    """The output neuron that decided each test sample: earliest first spike, then the highest
    potential, then the lowest index (the readout's decision rule).

    Needs ``test_first_spike_time`` and ``test_potential`` (test_sample, output_neuron) (without
    potentials, ties go to the lowest index). Returns neuron indices (test_sample); with
    ``neuron_class`` the winner's class ``neuron_class[winner]`` is the saved test prediction.
    """
    times = np.asarray(_spike_times(ds).values, dtype=float)
    if "test_potential" in ds.variables:
        potential = variable(ds, "test_potential", ("test_sample", "output_neuron")).values
    else:
        potential = np.zeros_like(times)
    index = np.broadcast_to(np.arange(times.shape[1]), times.shape)
    order = np.lexsort((index, -np.asarray(potential, dtype=float), times), axis=-1)
    return xr.DataArray(
        order[:, 0] if times.shape[1] else np.full(times.shape[0], -1),
        dims=("test_sample",),
        coords={"test_sample": _spike_times(ds)["test_sample"]},
        attrs={"units": "1", "long_name": "output neuron that decided the test sample"},
    )


def win_counts(ds: xr.Dataset) -> xr.DataArray:
    """Number of test samples each output neuron decided (see :func:`winners`).

    Returns counts (output_neuron, true_class): how many samples of each true class the neuron
    won; sum over ``true_class`` for the totals. ``neuron_class`` and ``neuron_nontarget`` are
    attached as coordinates when the dataset has them.
    """
    won = winners(ds).values
    labels = np.asarray(variable(ds, "test_label", ("test_sample",)).values, dtype=np.int64)
    neurons = ds.sizes["output_neuron"]
    counts = np.zeros((neurons, n_classes(ds)), dtype=np.int64)
    np.add.at(counts, (won, labels), 1)
    result = xr.DataArray(
        counts,
        dims=("output_neuron", "true_class"),
        coords={"output_neuron": np.arange(neurons), "true_class": np.arange(counts.shape[1])},
        attrs={"units": "samples", "long_name": "test samples decided by the neuron"},
    )
    for name in ("neuron_class", "neuron_nontarget"):
        if name in ds.variables:
            result = result.assign_coords({name: ("output_neuron", ds[name].values)})
    return result


def decision_times(ds: xr.Dataset) -> xr.DataArray:
    """Time of each test sample's first output spike (the decision), units of T; 1 = no spike.

    Needs ``test_first_spike_time`` (test_sample, output_neuron).
    """
    times = _spike_times(ds)
    earliest = (
        times.min("output_neuron") if times.sizes["output_neuron"] else times.isel(output_neuron=0)
    )
    return earliest.assign_attrs(units="T", long_name="first output spike time (decision)")


def time_grid(ds: xr.Dataset) -> np.ndarray:
    """The possible first-spike times, units of T: k·dt for k = 0..1/dt (attr
    ``dt_in_units_of_T``), else the distinct saved values (with 1 = no spike)."""
    dt = ds.attrs.get("dt_in_units_of_T")
    if dt is not None and float(dt) > 0:
        steps = round(1.0 / float(dt))
        return np.arange(steps + 1) * float(dt)
    values = np.unique(np.asarray(_spike_times(ds).values, dtype=float))
    return np.union1d(values[np.isfinite(values)], [NO_SPIKE])


def first_spike_distribution(ds: xr.Dataset, normalize: bool = False) -> xr.DataArray:
    """Histogram of :func:`decision_times` for each true class, on the time grid.

    Needs ``test_first_spike_time`` and ``test_label``. Returns counts (class, time): test
    samples of the class whose first output spike came at ``time`` (units of T; the last bin,
    time 1, counts samples without any spike). ``normalize`` divides each class by its samples.
    """
    times = decision_times(ds).values
    labels = np.asarray(variable(ds, "test_label", ("test_sample",)).values, dtype=np.int64)
    grid = time_grid(ds)
    bins = np.abs(times[:, None] - grid[None, :]).argmin(axis=1)  # nearest grid time
    counts = np.zeros((n_classes(ds), grid.size), dtype=np.int64)
    np.add.at(counts, (labels, bins), 1)
    histogram = xr.DataArray(
        counts,
        dims=("class", "time"),
        coords={"class": np.arange(counts.shape[0]), "time": ("time", grid, {"units": "T"})},
        attrs={"units": "samples", "long_name": "test samples by first output spike time"},
    )
    if normalize:
        totals = histogram.sum("time")
        histogram = (histogram / totals.where(totals > 0)).assign_attrs(
            units="1", long_name="fraction of the class's test samples"
        )
    return histogram


def threshold_summary(ds: xr.Dataset) -> xr.Dataset:
    """Mean, std (ddof = 0), min and max of the thresholds of each class group's neurons.

    Uses ``test_threshold`` and ``training_threshold`` (output_neuron; potential units), those
    present, grouped by ``neuron_class``; with ``neuron_nontarget`` the target and non-target
    neurons of a group are summarised apart (dim ``role``; NaN where a group has none). Returns
    one variable per threshold with dims (class, role, statistic). Only the final thresholds are
    saved, not their trajectory over epochs.
    """
    present = [name for name in THRESHOLDS if name in ds.variables]
    if not present:
        raise BrainsnnError(f"results.nc has none of the variables {', '.join(THRESHOLDS)}")
    groups = np.asarray(variable(ds, "neuron_class", ("output_neuron",)).values, dtype=np.int64)
    if "neuron_nontarget" in ds.variables:
        nontarget = variable(ds, "neuron_nontarget", ("output_neuron",)).values.astype(bool)
        roles = {"target": ~nontarget, "non-target": nontarget}
    else:
        roles = {"all": np.ones(groups.size, dtype=bool)}
    classes = n_classes(ds)
    result = {}
    for name in present:
        values = np.asarray(variable(ds, name, ("output_neuron",)).values, dtype=float)
        table = np.full((classes, len(roles), len(STATISTICS)), np.nan)
        for c in range(classes):
            for r, mask in enumerate(roles.values()):
                chosen = values[(groups == c) & mask]
                if chosen.size:
                    table[c, r] = [chosen.mean(), chosen.std(), chosen.min(), chosen.max()]
        attrs = {
            "units": ds[name].attrs.get("units", "1"),
            "long_name": ds[name].attrs.get("long_name", name),
        }
        result[name] = xr.Variable(("class", "role", "statistic"), table, attrs)
    return xr.Dataset(
        result,
        coords={"class": np.arange(classes), "role": list(roles), "statistic": list(STATISTICS)},
    )
