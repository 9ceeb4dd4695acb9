"""Registry of the figures ``brainsnn figures`` can draw, and which results each one needs.

Add a figure type by writing a ``(xarray.Dataset) -> Figure`` function (decorate it with
:func:`brainsnn.figures.style.styled_figure`) and registering it in :data:`FIGURES` with the
variables it needs; ``brainsnn figures`` then draws it for every results.nc that has them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import xarray as xr
from matplotlib.figure import Figure

from brainsnn.figures import gradient, readout, unsupervised


@dataclass(frozen=True)
class FigureSpec:
    """One figure type.

    ``requires``: dataset variables (data or coordinate) that must all be present;
    ``make``: draws the figure from the dataset; ``size``: ``"single"`` or ``"double"`` column
    width, what the figure is designed for; ``description``: one line for help texts;
    ``dims``: a dimension some required variables must have (``{"test_accuracy": "epoch"}``).
    """

    requires: tuple[str, ...]
    make: Callable[[xr.Dataset], Figure]
    size: str
    description: str = ""
    dims: dict[str, str] = field(default_factory=dict)

    def applies(self, ds: xr.Dataset) -> bool:
        return not self.missing(ds)

    def missing(self, ds: xr.Dataset) -> list[str]:
        """The required variables ``ds`` lacks, as ``name`` or ``name (with dim D)``."""
        return [
            name if name not in self.dims else f"{name} (with dim {self.dims[name]})"
            for name in self.requires
            if name not in ds.variables
            or (name in self.dims and self.dims[name] not in ds[name].dims)
        ]


FIGURES: dict[str, FigureSpec] = {
    "weights": FigureSpec(
        ("weights",),
        unsupervised.weight_images,
        "double",
        "weight image of each output neuron (weights; attrs image_height, image_width)",
    ),
    "trace": FigureSpec(
        ("trace_v",),
        unsupervised.membrane_trace,
        "double",
        "membrane potential and threshold of traced neurons (trace_v, trace_threshold)",
    ),
    "class_response": FigureSpec(
        ("class_response",),
        unsupervised.class_response_bars,
        "single",
        "mean spikes per sample of each neuron for each class (class_response)",
    ),
    "assignment": FigureSpec(
        ("assignment",),
        unsupervised.assignment_summary,
        "single",
        "number of neurons assigned to each class, and unassigned (assignment)",
    ),
    "learning_curves": FigureSpec(
        ("test_accuracy", "epoch"),
        readout.learning_curves,
        "single",
        "train, validation and test accuracy per epoch (test_accuracy (epoch))",
        {"test_accuracy": "epoch"},
    ),
    "confusion": FigureSpec(
        ("test_label", "test_prediction"),
        readout.confusion_heatmap,
        "single",
        "confusion matrix of the test set (test_label, test_prediction)",
    ),
    "raster": FigureSpec(
        ("test_first_spike_time", "test_label", "neuron_class"),
        readout.first_spike_raster,
        "double",
        "first output spikes of one test sample per class (test_first_spike_time)",
    ),
    "first_spike_times": FigureSpec(
        ("test_first_spike_time", "test_label"),
        readout.first_spike_times,
        "single",
        "decision time (first output spike) per true class (test_first_spike_time)",
    ),
    "thresholds": FigureSpec(
        ("test_threshold", "neuron_class"),
        readout.neuron_thresholds,
        "double",
        "final test and training thresholds per neuron, by class (test_threshold)",
    ),
    "wins": FigureSpec(
        ("test_first_spike_time", "test_label", "neuron_class"),
        readout.neuron_wins,
        "double",
        "test samples decided by each neuron, correct or not (test_first_spike_time)",
    ),
    "competition": FigureSpec(
        ("train_wins", "neuron_class"),
        readout.competition_over_training,
        "double",
        "share of training samples won per neuron and epoch; training thresholds over epochs "
        "(train_wins, epoch_training_threshold)",
    ),
    "accuracy_over_time": FigureSpec(
        ("accuracy_over_time",),
        gradient.accuracy_over_time,
        "single",
        "test accuracy vs decision time, FS vs FR decoding, with latencies (accuracy_over_time)",
    ),
    "training_curves": FigureSpec(
        ("train_loss",),
        gradient.training_curves,
        "single",
        "training loss and accuracy per epoch of a gradient run (train_loss)",
    ),
    "layer_activity": FigureSpec(
        ("spikes_per_neuron",),
        gradient.layer_activity,
        "single",
        "spikes per neuron per test sample of each layer (spikes_per_neuron)",
    ),
}


def available(ds: xr.Dataset) -> list[str]:
    """Names of the registered figures whose required variables are all in ``ds``."""
    return [name for name, spec in FIGURES.items() if spec.applies(ds)]


def needed_variables() -> list[str]:
    """Every variable some registered figure needs, in registry order, without repeats."""
    names: list[str] = []
    for spec in FIGURES.values():
        names.extend(name for name in spec.requires if name not in names)
    return names
