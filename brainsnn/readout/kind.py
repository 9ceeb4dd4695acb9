"""The readout kind (``kind: readout``, the default): the NCG readout and SpikeNN's rules."""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from brainsnn.core.experiment import (
    Experiment,
    Kind,
    deferred,
    fold_and_seed_overrides,
    model_files_summary,
    show_with_parameters,
)
from brainsnn.readout.protocol import EXACT, Protocol
from brainsnn.readout.resolve import resolve_readout
from brainsnn.readout.results import READOUT_VARIABLES


def _report(experiment: Experiment, data: xr.Dataset, directory: Path) -> list[str]:
    return [
        f"{experiment.name}: {int(data.attrs['epochs'])} epochs on {data.attrs['device']}, "
        f"{data.attrs['mean_train_samples_per_second']:.0f} training samples/s",
        f"  train accuracy      {float(data.train_accuracy[-1]):.4f}",
        f"  validation accuracy {float(data.validation_accuracy[-1]):.4f}",
        f"  test accuracy       {float(data.test_accuracy[-1]):.4f}",
    ]


def _check(experiment: Experiment) -> None:
    """Build a two-input, two-class version of the network and let Brian2 check its code."""
    from brainsnn.engine.check import check_network
    from brainsnn.readout.data import time_steps
    from brainsnn.readout.experiment import check_exact_grid, resolve_duration
    from brainsnn.readout.layout import ReadoutLayout
    from brainsnn.readout.network import build_network

    protocol, models = experiment.protocol, experiment.resolved
    traces = protocol.recording.traces
    steps = time_steps(protocol)
    exact = steps == EXACT
    layout = ReadoutLayout(
        n_inputs=2,
        n_classes=2,
        neurons_per_class=protocol.network.neurons_per_class,
        n_nontarget=protocol.network.nontarget_per_class,
        n_input_steps=16 if exact else int(steps),
        chunk_size=1,
        sample_duration_s=resolve_duration(protocol),
        model_texts=models.texts,
        trace_variables=(traces.potential, traces.threshold) if traces else (),
        exact_times=exact,
    )
    composed = dict(models.composed)
    if exact:
        check_exact_grid(composed["outputs"])
    check_network(lambda: build_network(layout, composed), experiment.source.path)


def _final_scores(data: xr.Dataset) -> dict[str, float]:
    return {
        "test_accuracy": float(data.test_accuracy[-1]),
        "validation_accuracy": float(data.validation_accuracy[-1]),
        "train_accuracy": float(data.train_accuracy[-1]),
        "epochs": int(data.sizes["epoch"]),
        "wall_time": float(data.epoch_wall_time.sum()),
    }


KIND = Kind(
    name="readout",
    title="Readout protocols",
    description="the NCG readout: supervised STDP rules on first-spike inputs",
    schema=Protocol,
    resolve=resolve_readout,
    prepare=deferred("brainsnn.readout.data", "prepare_data"),
    run=deferred("brainsnn.readout.experiment", "run_readout_protocol"),
    report=_report,
    check=_check,
    summary=model_files_summary,
    final_scores=_final_scores,
    variables=READOUT_VARIABLES,
    figures=(
        "learning_curves", "confusion", "raster", "first_spike_times", "thresholds", "wins",
        "competition", "trace", "weights",
    ),
    fold_overrides=fold_and_seed_overrides,
    show=show_with_parameters,
)  # fmt: skip
