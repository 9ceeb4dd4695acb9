"""Variables the unsupervised engine records in results.nc, declared once, and their assembly;
the model files declare the final-state variables (weights, adaptive thresholds)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from brainsnn.core.experiment import Experiment
from brainsnn.core.provenance import basic_provenance
from brainsnn.core.results import (
    TRACE_VARIABLES,
    VariableSpec,
    make_dataset,
    trace_values,
    with_trace_coordinates,
)

if TYPE_CHECKING:
    from brainsnn.unsupervised.data import PreparedImages
    from brainsnn.unsupervised.layout import UnsupervisedLayout
    from brainsnn.unsupervised.progress import UnsupervisedProgress

UNSUPERVISED_VARIABLES: dict[str, VariableSpec] = {
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
    "validation_label": VariableSpec(
        ("validation_sample",), "1", "class index of each validation sample"
    ),
    "validation_prediction": VariableSpec(
        ("validation_sample",), "1", "predicted class of each validation sample (-1: no spike)"
    ),
    "validation_accuracy": VariableSpec(
        (), "1", "accuracy on the validation set (held-out fold or fraction)"
    ),
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
    experiment: Experiment,
    layout: UnsupervisedLayout,
    data: PreparedImages,
    progress: UnsupervisedProgress,
    device: str,
    wall: float,
) -> xr.Dataset:
    """Assemble results.nc from the final state (the model files' records) and the assignment
    and test records."""
    protocol, models = experiment.protocol, experiment.resolved
    records, state = progress.records, progress.state
    repeats = protocol.test.repeats
    values: dict[str, np.ndarray] = {
        key: np.array(series) for key, series in progress.history.items()
    }
    sizes = {"output_neuron": layout.n_outputs, "input": layout.n_inputs}
    values.update(models.record_values(lambda role, name: state.get(f"{role}.{name}"), sizes))
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
    if data.validation is not None:
        values["validation_label"] = data.validation.labels
        values["validation_prediction"] = records["validate/prediction"]
        values["validation_accuracy"] = np.mean(
            records["validate/prediction"] == data.validation.labels
        )
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
    dataset = make_dataset(values, attrs, {**UNSUPERVISED_VARIABLES, **models.records()})
    return with_trace_coordinates(dataset, records)
