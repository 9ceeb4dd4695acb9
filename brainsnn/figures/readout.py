"""Figures of a readout (NCG / SpikeNN rules) run, drawn from its saved ``results.nc`` only.

Each figure function takes the dataset (:func:`brainsnn.open_results`) and returns a styled
``matplotlib.figure.Figure``; save it with :func:`brainsnn.figures.style.save`. The numbers come
from :mod:`brainsnn.analysis`. Variables used:

- ``train_accuracy``, ``validation_accuracy``, ``test_accuracy`` (epoch), optionally with a
  replicate dim (fold, seed, repeat, run; e.g. ``open_results(sweep, runs=True)``)
- ``test_label`` (test_sample), ``test_prediction`` (test_sample, or repeat x test_sample)
- ``test_first_spike_time``, ``test_potential`` (test_sample, output_neuron; times in units of
  the sample duration T, 1 = no spike)
- ``train_wins``, ``epoch_training_threshold`` (epoch, output_neuron)
- ``neuron_class``, ``neuron_nontarget``, ``test_threshold``, ``training_threshold``
  (output_neuron)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from brainsnn.analysis.loading import variable
from brainsnn.analysis.readout import (
    confusion_matrix,
    decision_times,
    first_spike_distribution,
    n_classes,
    win_counts,
    winners,
)
from brainsnn.analysis.tables import ACCURACIES, replicate_dim
from brainsnn.core.errors import BrainsnnError
from brainsnn.figures.style import (
    DOUBLE_COLUMN,
    GREY,
    OKABE_ITO,
    SINGLE_COLUMN,
    new_figure,
    styled_figure,
)

OWN, OTHER, NONTARGET, WINNER = OKABE_ITO[0], GREY, OKABE_ITO[1], OKABE_ITO[3]
MAX_ANNOTATED_CLASSES = 12  # above this many classes the confusion cells carry no numbers
MAX_MARKED_EPOCHS = 30  # above this many epochs the learning curves have no markers
MAX_RASTER_SAMPLES = 10


def _class_names(ds: xr.Dataset, count: int) -> list[str]:
    """Tick labels of classes 0..count-1: the dataset labels (``class_label``) when saved."""
    if "class_label" in ds.variables and ds["class_label"].size == count:
        return [str(value) for value in ds["class_label"].values.tolist()]
    return [str(index) for index in range(count)]


# --- learning curves ------------------------------------------------------------------------------


@styled_figure
def learning_curves(ds: xr.Dataset) -> Figure:
    """Train, validation and test accuracy (%) against the epoch.

    Needs ``test_accuracy`` (epoch); draws ``train_accuracy`` and ``validation_accuracy`` too
    when present. With a replicate dim (e.g. folds of ``open_results(sweep, runs=True)``) the
    lines are the mean over runs and the bands ± one (population) std; runs that stopped early
    count only for their epochs.
    """
    names = [name for name in ACCURACIES if name in ds.variables]
    if "test_accuracy" not in ds.variables or "epoch" not in ds["test_accuracy"].dims:
        raise BrainsnnError("results.nc has no variable 'test_accuracy' with dim epoch")
    dim = replicate_dim(ds)
    epochs = np.asarray(ds["epoch"].values)
    figure, ax = new_figure(SINGLE_COLUMN)
    marker = "o" if epochs.size <= MAX_MARKED_EPOCHS else None
    for index, name in enumerate(names):
        array = 100 * ds[name].astype(float)
        if dim in array.dims:
            mean, std = array.mean(dim, skipna=True), array.std(dim, skipna=True)
            ax.fill_between(
                epochs, mean - std, mean + std, color=OKABE_ITO[index], alpha=0.2, linewidth=0
            )
            array = mean
        if array.dims != ("epoch",):
            raise BrainsnnError(
                f"results.nc variable '{name}' has dims ({', '.join(map(str, ds[name].dims))}), "
                "expected (epoch) or a replicate dim and epoch"
            )
        ax.plot(epochs, array.values, color=OKABE_ITO[index], marker=marker, label=ACCURACIES[name])
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(loc="lower right")
    title = "Learning curves"
    if dim is not None:
        title += f" (mean ± std over {ds.sizes[dim]} {dim}s)"
    ax.set_title(title)
    return figure


# --- confusion matrix -----------------------------------------------------------------------------


@styled_figure
def confusion_heatmap(ds: xr.Dataset) -> Figure:
    """Confusion matrix of the test set: colour = fraction of the true class, numbers = samples.

    Needs ``test_label`` and ``test_prediction`` (see :func:`brainsnn.analysis.confusion_matrix`;
    repeated test passes are summed, predictions -1 form a column "none").
    """
    counts = confusion_matrix(ds)
    fractions = confusion_matrix(ds, normalize=True)
    classes = counts.sizes["true_class"]
    rows = _class_names(ds, classes)
    columns = [*rows, "none"][: counts.sizes["predicted_class"]]
    side = min(DOUBLE_COLUMN[0], max(SINGLE_COLUMN[0], 1.3 + 0.25 * len(columns)))
    figure, ax = new_figure((side, side * 0.85))
    image = ax.imshow(fractions.values, vmin=0, vmax=1, interpolation="nearest")
    if classes <= MAX_ANNOTATED_CLASSES:
        for (row, column), value in np.ndenumerate(counts.values):
            if value:
                shade = fractions.values[row, column]
                ax.text(
                    column,
                    row,
                    str(value),
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="black" if shade > 0.6 else "white",
                )
    step = max(1, int(np.ceil(len(columns) / 20)))
    ax.set_xticks(range(0, len(columns), step), columns[::step])
    ax.set_yticks(range(0, classes, step), rows[::step])
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    figure.colorbar(image, ax=ax, label="fraction of the true class", shrink=0.8)
    correct = int(np.trace(counts.values[:, :classes]))
    total = int(counts.values.sum())
    ax.set_title(f"Confusion matrix ({correct}/{total} correct)")
    return figure


# --- neurons grouped by class ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Groups:
    """Output neurons ordered by class group: ``order[x]`` is the neuron drawn at position x."""

    order: np.ndarray
    neuron_class: np.ndarray  # class of each neuron (by neuron index)
    nontarget: np.ndarray  # bool per neuron
    names: list[str]

    @classmethod
    def of(cls, ds: xr.Dataset) -> _Groups:
        group = np.asarray(variable(ds, "neuron_class", ("output_neuron",)).values, dtype=np.int64)
        if "neuron_nontarget" in ds.variables:
            nontarget = variable(ds, "neuron_nontarget", ("output_neuron",)).values.astype(bool)
        else:
            nontarget = np.zeros(group.size, dtype=bool)
        order = np.argsort(group, kind="stable")
        return cls(order, group, nontarget, _class_names(ds, n_classes(ds)))

    def position(self) -> np.ndarray:
        """Position of each neuron (by neuron index) along the grouped axis."""
        place = np.empty_like(self.order)
        place[self.order] = np.arange(self.order.size)
        return place

    def label_axis(self, ax, axis: str) -> None:
        """Ticks at the centre of each class group, thin lines between groups."""
        sorted_class = self.neuron_class[self.order]
        starts = np.flatnonzero(np.r_[True, sorted_class[1:] != sorted_class[:-1]])
        ends = np.r_[starts[1:], sorted_class.size]
        centres = (starts + ends - 1) / 2
        labels = [self.names[c] if c < len(self.names) else str(c) for c in sorted_class[starts]]
        line = ax.axvline if axis == "x" else ax.axhline
        for boundary in starts[1:]:
            line(boundary - 0.5, color=GREY, linewidth=0.4, zorder=0)
        step = max(1, int(np.ceil(len(starts) / 20)))
        setter = ax.set_xticks if axis == "x" else ax.set_yticks
        setter(centres[::step], labels[::step])
        ax.tick_params(axis=axis, length=0)
        limits = ax.set_xlim if axis == "x" else ax.set_ylim
        limits(-0.5, sorted_class.size - 0.5)


def _nontarget_handle() -> Line2D:
    return Line2D([], [], color=NONTARGET, marker="o", markerfacecolor="none", linestyle="")


# --- first-spike raster ---------------------------------------------------------------------------


def raster_samples(ds: xr.Dataset, count: int = MAX_RASTER_SAMPLES) -> np.ndarray:
    """Test-sample positions for the raster: the first sample of each class, in class order,
    at most ``count``."""
    labels = np.asarray(variable(ds, "test_label", ("test_sample",)).values, dtype=np.int64)
    firsts = [int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)]
    return np.array(firsts[:count], dtype=np.int64)


@styled_figure
def first_spike_raster(ds: xr.Dataset) -> Figure:
    """First spikes of every output neuron for a few test samples, one window of duration T each.

    The first test sample of each class (at most 10) are drawn side by side; a dot is a neuron's
    first spike at its time in the window. Neurons of the sample's class are blue, others grey,
    non-target neurons hollow; the winner (the decision) is ringed in vermillion. Ticks under the
    windows read "true → predicted class". Needs ``test_first_spike_time``, ``test_label`` and
    ``neuron_class`` (plus ``test_potential`` to break ties as the readout does).
    """
    times = variable(ds, "test_first_spike_time", ("test_sample", "output_neuron")).values
    labels = np.asarray(variable(ds, "test_label", ("test_sample",)).values, dtype=np.int64)
    groups = _Groups.of(ds)
    place = groups.position()
    won = winners(ds).values
    samples = raster_samples(ds)
    figure, ax = new_figure((DOUBLE_COLUMN[0], 2.8))
    for window, sample in enumerate(samples):
        fired = np.flatnonzero(times[sample] < 1.0)
        own = groups.neuron_class[fired] == labels[sample]
        hollow = groups.nontarget[fired]
        x = window + times[sample, fired]
        y = place[fired]
        for mask, colour in ((own, OWN), (~own, OTHER)):
            ax.scatter(x[mask & ~hollow], y[mask & ~hollow], s=6, color=colour, linewidths=0)
            ax.scatter(
                x[mask & hollow],
                y[mask & hollow],
                s=6,
                facecolors="none",
                edgecolors=colour,
                linewidths=0.6,
            )
        winner = won[sample]
        if times[sample, winner] < 1.0:
            ax.scatter(
                window + times[sample, winner],
                place[winner],
                s=40,
                facecolors="none",
                edgecolors=WINNER,
                linewidths=0.9,
            )
        if window:
            ax.axvline(window, color="black", linewidth=0.5)
    if "test_prediction" in ds.variables and ds["test_prediction"].dims == ("test_sample",):
        predicted = np.asarray(ds["test_prediction"].values, dtype=np.int64)[samples]
    else:
        predicted = groups.neuron_class[won[samples]]
    ax.set_xticks(
        np.arange(samples.size) + 0.5,
        [
            f"{groups.names[labels[s]]}→{groups.names[p]}"
            for s, p in zip(samples, predicted, strict=True)
        ],
    )
    ax.set_xlim(0, max(samples.size, 1))
    groups.label_axis(ax, "y")
    ax.set_xlabel("first-spike time in each test sample's window of duration T (true → predicted)")
    ax.set_ylabel("output neuron (class group)")
    handles = [
        Line2D([], [], color=OWN, marker="o", linestyle="", markersize=3),
        Line2D([], [], color=OTHER, marker="o", linestyle="", markersize=3),
        Line2D([], [], color=GREY, marker="o", markerfacecolor="none", linestyle="", markersize=3),
        Line2D([], [], color=WINNER, marker="o", markerfacecolor="none", linestyle=""),
    ]
    names = ["sample's class", "other class", "non-target", "winner"]
    ax.legend(handles, names, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title(f"First output spikes of {samples.size} test samples")
    return figure


# --- first-spike times per class ------------------------------------------------------------------


@styled_figure
def first_spike_times(ds: xr.Dataset) -> Figure:
    """Distribution of the decision time (first output spike, units of T) for each true class.

    A class x time heatmap on the simulation's time grid: colour = fraction of the class's test
    samples whose first output spike came at that time (the bin at 1 holds the samples without
    any output spike); a white diamond marks each class's median. Needs ``test_first_spike_time``
    and ``test_label`` (see :func:`brainsnn.analysis.first_spike_distribution`).
    """
    fractions = first_spike_distribution(ds, normalize=True)
    grid = fractions["time"].values
    classes = fractions.sizes["class"]
    names = _class_names(ds, classes)
    step = grid[1] - grid[0] if grid.size > 1 else 1.0
    height = min(max(SINGLE_COLUMN[1], 0.8 + 0.16 * classes), 6.0)
    figure, ax = new_figure((SINGLE_COLUMN[0], height))
    image = ax.imshow(
        fractions.values,
        aspect="auto",
        interpolation="nearest",
        vmin=0,
        extent=(grid[0] - step / 2, grid[-1] + step / 2, classes - 0.5, -0.5),
    )
    times = decision_times(ds).values
    labels = np.asarray(variable(ds, "test_label", ("test_sample",)).values, dtype=np.int64)
    present = [c for c in range(classes) if np.any(labels == c)]
    medians = [float(np.median(times[labels == c])) for c in present]
    ax.scatter(
        medians,
        present,
        marker="D",
        s=9,
        facecolors="white",
        edgecolors="black",
        linewidths=0.5,
        label="median",
    )
    steps = max(1, int(np.ceil(classes / 20)))
    ax.set_yticks(range(0, classes, steps), names[::steps])
    ax.set_xlabel("first output spike (T; 1 = none)")
    ax.set_ylabel("true class")
    ax.legend(loc="upper right", frameon=True, facecolor="white", edgecolor="none", framealpha=0.9)
    figure.colorbar(image, ax=ax, label="fraction of the class", shrink=0.9)
    silent = int(np.count_nonzero(times >= 1.0))
    ax.set_title(f"Decision time per class ({times.size} samples, {silent} without spike)")
    return figure


# --- thresholds and wins per neuron ---------------------------------------------------------------


@styled_figure
def neuron_thresholds(ds: xr.Dataset) -> Figure:
    """Final threshold of each output neuron, grouped by class.

    Needs ``test_threshold`` and ``neuron_class`` (output_neuron); draws ``training_threshold``
    (CR-2's adaptive θ' at the end of training) as dots when present, non-target neurons hollow.
    Thresholds are in the run's potential (weight) units. Only final values are saved, not their
    trajectory over epochs.
    """
    groups = _Groups.of(ds)
    test = variable(ds, "test_threshold", ("output_neuron",)).values[groups.order]
    x = np.arange(test.size)
    figure, ax = new_figure(DOUBLE_COLUMN)
    ax.step(x, test, where="mid", color="black", linewidth=0.8, label="test threshold")
    handles, names = ax.get_legend_handles_labels()
    if "training_threshold" in ds.variables:
        training = variable(ds, "training_threshold", ("output_neuron",)).values[groups.order]
        hollow = groups.nontarget[groups.order]
        ax.scatter(x[~hollow], training[~hollow], s=8, color=OWN, linewidths=0)
        ax.scatter(
            x[hollow],
            training[hollow],
            s=8,
            facecolors="none",
            edgecolors=NONTARGET,
            linewidths=0.6,
        )
        handles.append(Line2D([], [], color=OWN, marker="o", linestyle="", markersize=3))
        names.append("training threshold")
        if hollow.any():
            handles.append(_nontarget_handle())
            names.append("training threshold, non-target")
    groups.label_axis(ax, "x")
    ax.set_xlabel("output neuron (class group)")
    units = ds["test_threshold"].attrs.get("units", "1")
    ax.set_ylabel("threshold (weight units)" if units in ("1", "") else f"threshold ({units})")
    ax.legend(handles, names, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title("Neuron thresholds after training")
    return figure


@styled_figure
def neuron_wins(ds: xr.Dataset) -> Figure:
    """Test samples decided by each output neuron, split into samples of its own class and of
    other classes (errors), grouped by class; non-target neurons hatched.

    Needs ``test_first_spike_time``, ``test_label`` and ``neuron_class`` (``test_potential`` for
    the readout's tie-break); see :func:`brainsnn.analysis.win_counts`.
    """
    groups = _Groups.of(ds)
    counts = win_counts(ds).values[groups.order]  # (neuron, true class)
    own_class = groups.neuron_class[groups.order]
    own = counts[np.arange(own_class.size), np.clip(own_class, 0, counts.shape[1] - 1)]
    own = np.where(own_class < counts.shape[1], own, 0)
    other = counts.sum(axis=1) - own
    hatch = groups.nontarget[groups.order]
    x = np.arange(own.size)
    figure, ax = new_figure(DOUBLE_COLUMN)
    bars_own = ax.bar(x, own, width=0.8, color=OWN, linewidth=0)
    bars_other = ax.bar(x, other, bottom=own, width=0.8, color=WINNER, linewidth=0)
    for bars in (bars_own, bars_other):
        for bar, hatched in zip(bars, hatch, strict=True):
            if hatched:
                bar.set_hatch("/////")
                bar.set_edgecolor("white")
    groups.label_axis(ax, "x")
    ax.set_xlabel("output neuron (class group)")
    ax.set_ylabel("test samples decided")
    ax.yaxis.get_major_locator().set_params(integer=True)
    handles = [Patch(color=OWN), Patch(color=WINNER)]
    names = ["own class (correct)", "other class (error)"]
    if hatch.any():
        handles.append(Patch(facecolor=GREY, hatch="/////", edgecolor="white"))
        names.append("non-target neuron")
    ax.legend(handles, names, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title(f"Winners of the test samples ({int(counts.sum())} samples)")
    return figure


# --- competition regulation over training ---------------------------------------------------------


@styled_figure
def competition_over_training(ds: xr.Dataset) -> Figure:
    """How training samples were shared among the output neurons, epoch by epoch, and (with
    CR-1/CR-2) how the adaptive training thresholds moved.

    Needs ``train_wins`` (epoch, output_neuron) and ``neuron_class``; draws
    ``epoch_training_threshold`` (epoch, output_neuron) in a second panel when present: per class
    group, the mean over its target neurons and their min-max band (non-target neurons, whose
    threshold does not adapt, are left out).
    """
    groups = _Groups.of(ds)
    wins = variable(ds, "train_wins", ("epoch", "output_neuron")).values.astype(float)
    share = wins / np.maximum(wins.sum(axis=1, keepdims=True), 1)
    epochs = np.asarray(ds["epoch"].values)
    with_thresholds = "epoch_training_threshold" in ds.variables
    figure, axes = new_figure(DOUBLE_COLUMN, ncols=2 if with_thresholds else 1, squeeze=False)
    ax = axes[0, 0]
    image = ax.imshow(
        100 * share[:, groups.order],
        aspect="auto",
        origin="lower",
        cmap="viridis",
        interpolation="nearest",
        extent=(-0.5, share.shape[1] - 0.5, epochs[0] - 0.5, epochs[-1] + 0.5),
    )
    groups.label_axis(ax, "x")
    ax.set_xlabel("output neuron (class group)")
    ax.set_ylabel("epoch")
    ax.yaxis.get_major_locator().set_params(integer=True)
    figure.colorbar(image, ax=ax, label="training samples won (%)")
    ax.set_title("Winners during training")
    if with_thresholds:
        ax = axes[0, 1]
        thresholds = variable(ds, "epoch_training_threshold", ("epoch", "output_neuron")).values
        targets = ~groups.nontarget
        for group in np.unique(groups.neuron_class):
            members = thresholds[:, (groups.neuron_class == group) & targets]
            if members.size == 0:
                continue
            colour = OKABE_ITO[group % len(OKABE_ITO)]
            style = "-" if group < len(OKABE_ITO) else "--"
            name = groups.names[group] if group < len(groups.names) else str(group)
            ax.plot(epochs, members.mean(axis=1), color=colour, linestyle=style, label=name)
            ax.fill_between(
                epochs, members.min(axis=1), members.max(axis=1), color=colour, alpha=0.12, lw=0
            )
        ax.set_xlabel("epoch")
        ax.set_ylabel("training threshold (weight units)")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(title="class", loc="upper left", bbox_to_anchor=(1.0, 1.0), ncols=1)
        ax.set_title("Training thresholds: group mean, min-max")
    return figure
