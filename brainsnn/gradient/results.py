"""Variables of a gradient run's results.nc, declared once with dims, units and descriptions."""

from __future__ import annotations

from brainsnn.core.results import TRACE_VARIABLES, VariableSpec

GRADIENT_VARIABLES: dict[str, VariableSpec] = {
    "train_loss": VariableSpec(("epoch",), "1", "mean training loss of the epoch"),
    "train_accuracy": VariableSpec(
        ("epoch",), "1", "training accuracy by the training loss's decision, during learning"
    ),
    "validation_accuracy": VariableSpec(
        ("epoch",), "1", "validation accuracy (loss's decision; NaN without a validation split)"
    ),
    "epoch_train_seconds": VariableSpec(
        ("epoch",), "s", "wall time of the epoch's training steps (no evaluation)"
    ),
    "train_samples_per_second": VariableSpec(
        ("epoch",), "1/s", "training samples per second of the epoch's training steps"
    ),
    "test_label": VariableSpec(("test_sample",), "1", "class of each test sample"),
    "test_prediction": VariableSpec(
        ("decoding", "test_sample"), "1", "predicted class by each decoding (fs, fr or membrane)"
    ),
    "test_accuracy": VariableSpec(("decoding",), "1", "test accuracy by each decoding"),
    "first_spike_step": VariableSpec(
        ("test_sample", "output_neuron"),
        "steps",
        "first output spike step (1..T; > T: silent, ranked by peak potential) (spiking readouts)",
    ),
    "output_spike_count": VariableSpec(
        ("test_sample", "output_neuron"), "spikes", "readout spikes per test sample"
    ),
    "spikes_per_neuron": VariableSpec(
        ("layer",), "spikes", "mean spikes per neuron per test sample of each layer (readout last)"
    ),
    "accuracy_over_time": VariableSpec(
        ("decoding", "step"), "1", "test accuracy when deciding by step k (spec A.7)"
    ),
    "latency_50": VariableSpec(
        ("decoding",), "steps", "first step at which accuracy_over_time reaches 50 % of its max"
    ),
    "latency_90": VariableSpec(
        ("decoding",), "steps", "first step at which accuracy_over_time reaches 90 % of its max"
    ),
    "resimulated_prediction": VariableSpec(
        ("decoding", "resimulated_sample"), "1", "prediction of the Brian2 re-simulation"
    ),
    "resimulated_agreement": VariableSpec(
        ("decoding",), "1", "share of re-simulated samples whose prediction equals JAX's"
    ),
    **TRACE_VARIABLES,
}
