"""Variables of an unsupervised run's results.nc, declared once, and their assembly."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from brainsnn.experiment import basic_provenance
from brainsnn.results import (
    TRACE_VARIABLES,
    VariableSpec,
    make_dataset,
    trace_values,
    with_trace_coordinates,
)

if TYPE_CHECKING:
    from brainsnn.unsupervised.data import PreparedImages
    from brainsnn.unsupervised.experiment import UnsupervisedProgress
    from brainsnn.unsupervised.layout import UnsupervisedLayout
    from brainsnn.unsupervised.protocol import UnsupervisedProtocol

UNSUPERVISED_VARIABLES: dict[str, VariableSpec] = {
    "weights": VariableSpec(("output_neuron", "input"), "1", "final input weights"),
    "adaptive_threshold": VariableSpec(
        ("output_neuron",), "mV", "adaptive threshold theta at the end of training"
    ),
    "assignment": VariableSpec(
        ("output_neuron",), "1", "class assigned to each neuron on training data (-1: silent)"
    ),
    "class_response": VariableSpec(
        ("output_neuron", "class"),
        "spikes",
        "mean spike count per presentation of each neuron for the assignment samples of a class",
    ),
    "class_label": VariableSpec(("class",), "1", "dataset label of each class index"),
    "test_label": VariableSpec(("test_sample",), "1", "class index of each test sample"),
    "test_prediction": VariableSpec(
        ("repeat", "test_sample"), "1", "predicted class (-1: no output spike) in each test pass"
    ),
    "test_accuracy": VariableSpec(("repeat",), "1", "test accuracy of each test pass"),
    "test_counts": VariableSpec(
        ("repeat", "test_sample", "output_neuron"),
        "spikes",
        "output spikes in the input window of each test sample's accepted presentation",
    ),
    "test_retries": VariableSpec(
        ("repeat", "test_sample"), "1", "failed presentations before the accepted one"
    ),
    "epoch_wall_time": VariableSpec(("epoch",), "s", "wall time of the training epoch"),
    "train_samples_per_second": VariableSpec(
        ("epoch",), "1/s", "training samples per second of wall time"
    ),
    "train_mean_retries": VariableSpec(("epoch",), "1", "failed presentations per training sample"),
    "train_spikes_per_sample": VariableSpec(
        ("epoch",), "spikes", "output spikes per accepted training presentation"
    ),
    **TRACE_VARIABLES,
}


def collect_unsupervised_results(
    protocol: UnsupervisedProtocol,
    layout: UnsupervisedLayout,
    data: PreparedImages,
    progress: UnsupervisedProgress,
    device: str,
    wall: float,
) -> xr.Dataset:
    """Assemble results.nc from the final state and the assignment and test records."""
    records, state = progress.records, progress.state
    repeats = protocol.test.repeats
    values: dict[str, np.ndarray] = {
        key: np.array(series) for key, series in progress.history.items()
    }
    values["weights"] = state["feedforward.w"].reshape(layout.n_outputs, layout.n_inputs)
    if "outputs.theta" in state:  # an adaptive threshold (volt)
        values["adaptive_threshold"] = state["outputs.theta"] * 1e3
    values["assignment"] = records["assignment"]
    values["class_response"] = records["class_response"]
    values["class_label"] = data.classes
    values["test_label"] = data.test.labels
    tests = [f"test-{r}" for r in range(1, repeats + 1)]
    predictions = np.stack([records[f"{key}/prediction"] for key in tests])
    values["test_prediction"] = predictions
    values["test_accuracy"] = (predictions == data.test.labels[None, :]).mean(axis=1)
    values["test_retries"] = np.stack([records[f"{key}/retries"] for key in tests])
    if protocol.recording.test_counts:
        values["test_counts"] = np.stack([records[f"{key}/counts"] for key in tests])
    values.update(trace_values(records))
    accuracy = values["test_accuracy"]
    speeds = progress.history["train_samples_per_second"]
    weight_range = [progress.parameters.get(k) for k in ("w_min", "w_max")]
    attrs = {
        **basic_provenance(protocol.name, device, protocol.seed, wall),
        "kind": "unsupervised",
        "epochs": protocol.training.epochs,
        "test_accuracy_mean": float(accuracy.mean()),
        "test_accuracy_std": float(accuracy.std()),
        "mean_train_samples_per_second": float(np.mean(speeds)) if speeds else 0.0,
        "image_height": data.image_shape[0],
        "image_width": data.image_shape[1],
        "weight_min": weight_range[0] if weight_range[0] is not None else 0.0,
        "weight_max": weight_range[1]
        if weight_range[1] is not None
        else float(values["weights"].max()),
        "dt_s": layout.dt_s,
        "present_steps": layout.present_steps,
        "rest_steps": layout.rest_steps,
        "models": ", ".join(protocol.network.models),
    }
    dataset = make_dataset(values, attrs, UNSUPERVISED_VARIABLES)
    return with_trace_coordinates(dataset, records)
