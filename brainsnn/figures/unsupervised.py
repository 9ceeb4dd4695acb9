"""Figures of an unsupervised (WTA-STDP) run, drawn from its saved ``results.nc`` dataset only.

Each figure function takes the dataset (``xarray.open_dataset(...)``) and returns a styled
``matplotlib.figure.Figure``; save it with :func:`brainsnn.figures.style.save`. Variables used:

- ``weights`` (output_neuron, input); attrs ``image_height``, ``image_width`` (image grid, else a
  neurons x inputs heatmap), ``weight_min``, ``weight_max`` (colour range, optional);
  ``assignment`` (output_neuron; optional, for panel titles)
- ``trace_v`` (trace_neuron, trace_time; attr ``units``), coords ``trace_time`` (ms) and
  ``trace_neuron`` (output neuron index); ``trace_threshold`` (same dims, or trace_neuron only;
  optional); ``trace_sample`` (trace_time; optional)
- ``class_response`` (output_neuron, class): mean spike count per presentation
- ``assignment`` (output_neuron): class of each neuron, -1 = unassigned; ``class_response`` (for
  the number of classes, optional)
- ``test_accuracy`` (repeat) for :func:`test_accuracy_table`
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from brainsnn.analysis.loading import variable
from brainsnn.core.errors import BrainsnnError
from brainsnn.figures.style import (
    DOUBLE_COLUMN,
    GREY,
    OKABE_ITO,
    SINGLE_COLUMN,
    new_figure,
    styled_figure,
)

MAX_TITLED_PANELS = 49  # above this many neurons the weight images are a mosaic without titles
MAX_BAR_NEURONS = 10  # above this many neurons the class response is a heatmap


def _labels(ds: xr.Dataset, array: xr.DataArray, dim: str) -> list[str]:
    """Tick labels along ``dim``: its coordinate values, else 0..n-1."""
    values = array[dim].values if dim in array.coords else np.arange(array.sizes[dim])
    return [_format(value) for value in values]


def _format(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.integer | int):
        return str(int(value))
    if isinstance(value, np.floating | float) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _assignment(ds: xr.Dataset) -> np.ndarray | None:
    if "assignment" not in ds.variables:
        return None
    return np.asarray(variable(ds, "assignment", ("output_neuron",)).values, dtype=np.int64)


def _image_shape(ds: xr.Dataset, n_inputs: int) -> tuple[int, int] | None:
    """``(height, width)`` from the attrs image_height/image_width, None if they are absent."""
    if "image_height" not in ds.attrs or "image_width" not in ds.attrs:
        return None
    height, width = int(ds.attrs["image_height"]), int(ds.attrs["image_width"])
    if height * width != n_inputs:
        raise BrainsnnError(
            f"results.nc attrs image_height x image_width = {height} x {width} = "
            f"{height * width}, but weights has {n_inputs} inputs"
        )
    return height, width


def _weight_range(ds: xr.Dataset, weights: np.ndarray) -> tuple[float, float]:
    finite = weights[np.isfinite(weights)]
    low = float(ds.attrs["weight_min"]) if "weight_min" in ds.attrs else None
    high = float(ds.attrs["weight_max"]) if "weight_max" in ds.attrs else None
    if low is None:
        low = float(finite.min()) if finite.size else 0.0
    if high is None:
        high = float(finite.max()) if finite.size else 1.0
    if high <= low:
        high = low + 1.0
    return low, high


@styled_figure
def weight_images(ds: xr.Dataset) -> Figure:
    """Each output neuron's weights as an image, on a grid of ceil(sqrt(N)) columns.

    Needs ``weights`` (output_neuron, input) and attrs ``image_height`` x ``image_width`` =
    inputs; the grey colour range is attrs ``weight_min``..``weight_max`` when present, else the
    data's range. Panels are titled ``n{index}``, plus ``→ {class}`` where ``assignment`` >= 0;
    above 49 neurons the panels are drawn as one mosaic without titles. Without the image attrs
    the weights are drawn as a neurons x inputs heatmap.
    """
    array = variable(ds, "weights", ("output_neuron", "input"))
    weights = np.asarray(array.values, dtype=float)
    n_neurons, n_inputs = weights.shape
    if n_neurons == 0:
        raise BrainsnnError("results.nc variable 'weights' has no output neurons")
    low, high = _weight_range(ds, weights)
    shape = _image_shape(ds, n_inputs)
    if shape is None:
        return _weight_heatmap(ds, array, weights, low, high)
    height, width = shape
    images = weights.reshape(n_neurons, height, width)
    columns = math.ceil(math.sqrt(n_neurons))
    rows = math.ceil(n_neurons / columns)
    figure_width = SINGLE_COLUMN[0] if columns <= 4 else DOUBLE_COLUMN[0]
    titled = n_neurons <= MAX_TITLED_PANELS
    panel = (figure_width - 0.7) / columns  # inches per panel, leaving room for the colorbar
    title_room = 0.16 if titled else 0.0
    figure_height = min(rows * (panel * height / width + title_room) + 0.35, 9.0)
    neurons = _labels(ds, array, "output_neuron")
    if not titled:
        return _weight_mosaic(images, neurons, rows, columns, low, high, figure_width)

    assignment = _assignment(ds)
    figure, axes = new_figure(
        (figure_width, figure_height), nrows=rows, ncols=columns, squeeze=False
    )
    image = None
    for index, ax in enumerate(axes.ravel()):
        ax.set_axis_off()
        if index >= n_neurons:
            continue
        image = ax.imshow(images[index], cmap="gray", vmin=low, vmax=high)
        title = f"n{neurons[index]}"
        if assignment is not None and assignment[index] >= 0:
            title += f" → {assignment[index]}"
        ax.set_title(title, fontsize=6 if columns > 4 else 7, pad=1.5)
    figure.colorbar(image, ax=axes.ravel().tolist(), label="synaptic weight", shrink=0.8)
    figure.suptitle(f"Output-neuron weights ({n_neurons} neurons, {height}×{width} inputs)")
    return figure


def _weight_mosaic(
    images: np.ndarray,
    neurons: list[str],
    rows: int,
    columns: int,
    low: float,
    high: float,
    figure_width: float,
) -> Figure:
    """All weight images in one image, panels separated by one blank pixel (many neurons)."""
    n_neurons, height, width = images.shape
    mosaic = np.full((rows * (height + 1) - 1, columns * (width + 1) - 1), np.nan)
    for index in range(n_neurons):
        row, column = divmod(index, columns)
        top, left = row * (height + 1), column * (width + 1)
        mosaic[top : top + height, left : left + width] = images[index]
    plot_width = figure_width - 0.9
    figure_height = min(plot_width * mosaic.shape[0] / mosaic.shape[1] + 0.4, 9.0)
    figure, ax = new_figure((figure_width, figure_height))
    cmap = _grey_with_blank()
    image = ax.imshow(mosaic, cmap=cmap, vmin=low, vmax=high)
    # Each row starts with neuron row*columns: label the rows with that neuron.
    step = max(1, math.ceil(rows / 10))
    ax.set_yticks(
        [row * (height + 1) + (height - 1) / 2 for row in range(0, rows, step)],
        [f"n{neurons[row * columns]}" for row in range(0, rows, step)],
    )
    ax.set_xticks([])
    ax.tick_params(axis="y", length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_ylabel(f"output neurons, {columns} per row")
    figure.colorbar(image, ax=ax, label="synaptic weight", shrink=0.8)
    ax.set_title(f"Output-neuron weights ({n_neurons} neurons, {height}×{width} inputs)")
    return figure


def _grey_with_blank():
    import matplotlib

    return matplotlib.colormaps["gray"].with_extremes(bad="white")


def _weight_heatmap(
    ds: xr.Dataset, array: xr.DataArray, weights: np.ndarray, low: float, high: float
) -> Figure:
    """Weights as a neurons x inputs heatmap (inputs that are not an image)."""
    figure, ax = new_figure(DOUBLE_COLUMN)
    image = ax.imshow(
        weights, cmap="gray", vmin=low, vmax=high, aspect="auto", interpolation="nearest"
    )
    ax.set_xlabel("input")
    ax.set_ylabel("output neuron")
    _index_ticks(ax, "y", _labels(ds, array, "output_neuron"))
    figure.colorbar(image, ax=ax, label="synaptic weight")
    ax.set_title(f"Output-neuron weights ({weights.shape[0]} neurons, {weights.shape[1]} inputs)")
    return figure


def _index_ticks(ax, axis: str, labels: list[str], most: int = 12, keep_last: bool = False) -> None:
    """About ``most`` ticks at integer positions, labelled with ``labels``."""
    step = max(1, math.ceil(len(labels) / most))
    positions = list(range(0, len(labels), step))
    if keep_last and labels and positions[-1] != len(labels) - 1:
        positions.append(len(labels) - 1)
    setter = ax.set_yticks if axis == "y" else ax.set_xticks
    setter(positions, [labels[i] for i in positions])


@styled_figure
def membrane_trace(ds: xr.Dataset) -> Figure:
    """Membrane potential of the traced neurons against time, thresholds dashed.

    Needs ``trace_v`` (trace_neuron, trace_time; attr ``units``; coord ``trace_time`` in ms,
    ``trace_neuron`` = output neuron index). Uses ``trace_threshold`` (same dims, or trace_neuron
    only) for dashed lines in the neuron's colour, and ``trace_sample`` (trace_time) for thin
    vertical lines where the presented sample changes.
    """
    array = variable(ds, "trace_v", ("trace_neuron", "trace_time"))
    values = np.asarray(array.values, dtype=float)
    if "trace_time" in array.coords:
        time = np.asarray(array["trace_time"].values, dtype=float)
        if str(array["trace_time"].attrs.get("units", "ms")).strip() in ("s", "second"):
            time = time * 1e3
        time_label = "time (ms)"
    else:
        time = np.arange(values.shape[1], dtype=float)
        time_label = "time step"
    threshold = None
    if "trace_threshold" in ds.variables:
        if ds["trace_threshold"].dims == ("trace_neuron",):  # constant threshold per neuron
            constant = np.asarray(ds["trace_threshold"].values, dtype=float)
            threshold = np.repeat(constant[:, None], values.shape[1], axis=1)
        else:
            threshold_array = variable(ds, "trace_threshold", ("trace_neuron", "trace_time"))
            threshold = np.asarray(threshold_array.values, dtype=float)
    neurons = _labels(ds, array, "trace_neuron")
    units = array.attrs.get("units")

    figure, ax = new_figure(DOUBLE_COLUMN)
    if "trace_sample" in ds.variables:
        samples = variable(ds, "trace_sample", ("trace_time",)).values
        for index in np.flatnonzero(samples[1:] != samples[:-1]) + 1:
            ax.axvline(time[index], color=GREY, linewidth=0.4, zorder=0)
    for index, neuron in enumerate(neurons):
        colour = OKABE_ITO[index % len(OKABE_ITO)]
        ax.plot(time, values[index], color=colour, label=f"n{neuron}")
        if threshold is not None:
            ax.plot(time, threshold[index], color=colour, linestyle="--", linewidth=0.7)
    ax.set_xlabel(time_label)
    ax.set_ylabel(f"membrane potential ({units})" if units else "membrane potential")
    if time.size > 1:
        ax.set_xlim(time[0], time[-1])
    if len(neurons) <= 2 * len(OKABE_ITO):
        handles, labels = ax.get_legend_handles_labels()
        if threshold is not None:
            from matplotlib.lines import Line2D

            handles.append(Line2D([], [], color=GREY, linestyle="--", linewidth=0.7))
            labels.append("threshold")
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title("Membrane potential of traced output neurons")
    return figure


@styled_figure
def class_response_bars(ds: xr.Dataset) -> Figure:
    """Mean spike count per presentation of each neuron for each class.

    Needs ``class_response`` (output_neuron, class). Up to 10 neurons: bars grouped by class, one
    per neuron; more: a neurons x classes heatmap.
    """
    array = variable(ds, "class_response", ("output_neuron", "class"))
    values = np.asarray(array.values, dtype=float)
    n_neurons, n_classes = values.shape
    neurons = _labels(ds, array, "output_neuron")
    classes = _labels(ds, array, "class")
    title = "Class response of output neurons"
    if n_neurons <= MAX_BAR_NEURONS:
        width = max(SINGLE_COLUMN[0], min(DOUBLE_COLUMN[0], 1.2 + 0.12 * n_neurons * n_classes))
        figure, ax = new_figure((width, SINGLE_COLUMN[1]))
        bar = 0.8 / n_neurons
        centres = np.arange(n_classes)
        for index in range(n_neurons):
            offset = (index - (n_neurons - 1) / 2) * bar
            ax.bar(
                centres + offset,
                values[index],
                width=bar,
                color=OKABE_ITO[index % len(OKABE_ITO)],
                label=f"n{neurons[index]}",
                linewidth=0,
            )
        ax.set_xticks(centres, classes)
        ax.set_xlabel("class")
        ax.set_ylabel("mean spikes per sample")
        ax.legend(title="neuron", loc="upper left", bbox_to_anchor=(1.0, 1.0))
        ax.set_title(title)
        return figure
    width = max(SINGLE_COLUMN[0], min(DOUBLE_COLUMN[0], 1.6 + 0.3 * n_classes))
    figure, ax = new_figure((width, min(max(SINGLE_COLUMN[1], 0.6 + 0.12 * n_neurons), 6.0)))
    image = ax.imshow(values, aspect="auto", interpolation="nearest", cmap="viridis", vmin=0)
    _index_ticks(ax, "x", classes, most=20)
    _index_ticks(ax, "y", neurons)
    ax.set_xlabel("class")
    ax.set_ylabel("output neuron")
    figure.colorbar(image, ax=ax, label="mean spikes per sample")
    ax.set_title(title)
    return figure


def assignment_counts(ds: xr.Dataset) -> tuple[list[str], np.ndarray, int]:
    """Class labels, number of neurons assigned to each class, and number unassigned (-1)."""
    assignment = _assignment(ds)
    if assignment is None:
        raise BrainsnnError("results.nc has no variable 'assignment'")
    if "class_response" in ds.variables and "class" in ds["class_response"].dims:
        response = ds["class_response"]
        classes = _labels(ds, response, "class")
    else:
        n_classes = int(assignment.max()) + 1 if assignment.size else 0
        classes = [str(index) for index in range(max(n_classes, 0))]
    bad = assignment[(assignment < -1) | (assignment >= len(classes))]
    if bad.size:
        raise BrainsnnError(
            f"results.nc variable 'assignment' has value {int(bad[0])}; expected -1 "
            f"(unassigned) or a class index 0..{len(classes) - 1}"
        )
    counts = np.bincount(assignment[assignment >= 0], minlength=len(classes))
    return classes, counts, int(np.count_nonzero(assignment == -1))


@styled_figure
def assignment_summary(ds: xr.Dataset) -> Figure:
    """Number of output neurons assigned to each class, and unassigned ones as "none".

    Needs ``assignment`` (output_neuron; -1 = unassigned). The classes are those of
    ``class_response``'s class dim when present, else 0..max(assignment).
    """
    classes, counts, unassigned = assignment_counts(ds)
    labels = [*classes, "none"]
    heights = [*counts.tolist(), unassigned]
    colours = [OKABE_ITO[0]] * len(classes) + [GREY]
    width = max(SINGLE_COLUMN[0], min(DOUBLE_COLUMN[0], 1.0 + 0.25 * len(labels)))
    figure, ax = new_figure((width, SINGLE_COLUMN[1]))
    bars = ax.bar(np.arange(len(labels)), heights, color=colours, width=0.7, linewidth=0)
    if len(labels) <= 30:
        ax.bar_label(bars, padding=1, fontsize=6)
    _index_ticks(ax, "x", labels, most=30, keep_last=True)  # "none" always labelled
    ax.set_xlabel("class")
    ax.set_ylabel("neurons")
    ax.margins(y=0.12)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_title(f"Neuron assignment ({int(sum(heights))} neurons)")
    return figure


def test_accuracy_table(ds: xr.Dataset) -> str:
    """Markdown table: test accuracy mean ± std (population, ddof = 0) over repeats, and their
    number. Needs ``test_accuracy`` (repeat), or a single value."""
    if "test_accuracy" not in ds.variables:
        raise BrainsnnError("results.nc has no variable 'test_accuracy'")
    array = ds["test_accuracy"]
    if array.dims not in ((), ("repeat",)):
        raise BrainsnnError(
            f"results.nc variable 'test_accuracy' has dims ({', '.join(map(str, array.dims))}), "
            "expected (repeat)"
        )
    values = np.atleast_1d(np.asarray(array.values, dtype=float))
    mean, std = float(np.mean(values)), float(np.std(values))
    return "\n".join(
        [
            "| metric | mean ± std | repeats |",
            "|:--|--:|--:|",
            f"| test accuracy | {mean:.4f} ± {std:.4f} | {values.size} |",
            "",
            "std: population standard deviation (ddof = 0) over the repeats.",
            "",
        ]
    )


test_accuracy_table.__test__ = False  # not a pytest test, despite its name
