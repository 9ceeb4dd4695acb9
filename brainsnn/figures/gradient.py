"""Figures of a gradient-trained run (``kind: gradient``), drawn from its saved results.nc only.

Variables used: ``train_loss``, ``train_accuracy``, ``validation_accuracy`` (epoch);
``accuracy_over_time`` (decoding, step), ``latency_50`` / ``latency_90`` (decoding) and the
attribute ``dt_s`` (seconds per step); ``spikes_per_neuron`` (layer).
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from brainsnn.analysis.loading import variable
from brainsnn.figures.style import GREY, OKABE_ITO, SINGLE_COLUMN, new_figure, styled_figure

DECODING_NAMES = {"fs": "first spike (FS)", "fr": "firing rate (FR)", "membrane": "membrane"}


@styled_figure
def accuracy_over_time(ds: xr.Dataset) -> Figure:
    """Test accuracy when the decision must be made by time t, per decoding (FS vs FR), with
    the latencies at which each curve reaches 50 % and 90 % of its maximum (dotted, dashed)."""
    curves = variable(ds, "accuracy_over_time", ("decoding", "step"))
    step_ms = 1e3 * float(ds.attrs.get("dt_s", 1e-3))
    time_ms = (np.arange(curves.sizes["step"]) + 1) * step_ms
    figure, ax = new_figure(SINGLE_COLUMN)
    for index, decoding in enumerate(curves["decoding"].values.tolist()):
        colour = OKABE_ITO[index]
        name = DECODING_NAMES.get(decoding, decoding)
        ax.plot(time_ms, 100 * curves.sel(decoding=decoding).values, color=colour, label=name)
        for latency, style in (("latency_50", ":"), ("latency_90", "--")):
            if latency in ds.variables and int(ds[latency].sel(decoding=decoding)) > 0:
                ax.axvline(
                    int(ds[latency].sel(decoding=decoding)) * step_ms,
                    color=colour,
                    linestyle=style,
                    linewidth=0.8,
                )
    ax.set_xlabel("decision time (ms)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(loc="lower right")
    ax.set_title("Accuracy over time (latency 50 % / 90 %)")
    return figure


@styled_figure
def training_curves(ds: xr.Dataset) -> Figure:
    """Training loss (left axis) and training / validation accuracy (right axis) per epoch."""
    loss = variable(ds, "train_loss", ("epoch",))
    epochs = np.asarray(ds["epoch"].values)
    figure, ax = new_figure(SINGLE_COLUMN)
    ax.plot(epochs, loss.values, color=GREY, label="training loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax.xaxis.get_major_locator().set_params(integer=True)
    accuracy_axis = ax.twinx()
    for index, name in enumerate(("train_accuracy", "validation_accuracy")):
        if name in ds.variables and np.isfinite(ds[name].values).any():
            label = name.replace("_", " ").replace("train ", "training ")
            accuracy_axis.plot(epochs, 100 * ds[name].values, color=OKABE_ITO[index], label=label)
    accuracy_axis.set_ylabel("accuracy (%)")
    accuracy_axis.set_ylim(0, 100)
    lines = ax.get_lines() + accuracy_axis.get_lines()
    ax.legend(lines, [line.get_label() for line in lines], loc="center right")
    ax.set_title("Training")
    return figure


@styled_figure
def layer_activity(ds: xr.Dataset) -> Figure:
    """Mean spikes (or ReLU activity) per neuron per test sample of each layer."""
    activity = variable(ds, "spikes_per_neuron", ("layer",))
    count = activity.sizes["layer"]
    names = [f"hidden {k + 1}" for k in range(count - 1)] + ["readout"]
    figure, ax = new_figure(SINGLE_COLUMN)
    ax.bar(names, activity.values, color=OKABE_ITO[2])
    ax.set_ylabel("spikes per neuron per sample")
    ax.set_title("Layer activity (test set)")
    return figure
