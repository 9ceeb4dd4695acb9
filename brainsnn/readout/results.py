"""Variables the readout engine records in results.nc, declared once with dims, units and
descriptions; the model files declare the final-state variables (weights, thresholds)."""

from __future__ import annotations

from brainsnn.core.results import TRACE_VARIABLES, VariableSpec

READOUT_VARIABLES: dict[str, VariableSpec] = {
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
READOUT_VARIABLES.update(TRACE_VARIABLES)
