"""The results.nc variables of a features run, declared once with dims, units and meaning."""

from __future__ import annotations

from brainsnn.core.results import VariableSpec

FEATURES_VARIABLES: dict[str, VariableSpec] = {
    "filter_wins": VariableSpec(
        ("epoch", "filter"), "1", "training patches each filter won in the epoch"
    ),
    "samples_without_winner": VariableSpec(
        ("epoch",), "1", "training patches of the epoch on which no filter fired"
    ),
    "epoch_wall_time": VariableSpec(("epoch",), "s", "wall time of the training epoch"),
    "train_samples_per_second": VariableSpec(
        ("epoch",), "1/s", "training patches presented per second of wall time"
    ),
    "weights": VariableSpec(
        ("kernel_row", "kernel_column", "channel", "filter"),
        "1",
        "trained convolution weights (channel 0 = DoG ON, 1 = OFF), as the C++ weights.npy",
    ),
    "thresholds": VariableSpec(("filter",), "1", "trained filter thresholds"),
    "input_min": VariableSpec(
        ("input",), "1", "DoG response minimum over the training images (input scaling)"
    ),
    "input_max": VariableSpec(
        ("input",), "1", "DoG response maximum over the training images (input scaling)"
    ),
    "train_feature_spikes": VariableSpec(
        ("train_sample",), "1", "features that fired, per training image"
    ),
    "validation_feature_spikes": VariableSpec(
        ("validation_sample",), "1", "features that fired, per validation image"
    ),
    "test_feature_spikes": VariableSpec(
        ("test_sample",), "1", "features that fired, per test image"
    ),
    "extraction_samples_per_second": VariableSpec(
        ("split",), "1/s", "images per second of wall time in the extraction of each split"
    ),
}
