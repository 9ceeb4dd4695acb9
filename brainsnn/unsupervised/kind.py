"""The unsupervised kind (``kind: unsupervised``): WTA-STDP networks, labels assigned after."""

from __future__ import annotations

import math
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
from brainsnn.unsupervised.protocol import UnsupervisedProtocol
from brainsnn.unsupervised.resolve import resolve_unsupervised
from brainsnn.unsupervised.results import UNSUPERVISED_VARIABLES


def _report(experiment: Experiment, data: xr.Dataset, directory: Path) -> list[str]:
    assigned = int((data.assignment >= 0).sum())
    repeats = data.sizes["repeat"]
    spread = (
        f" +- {data.attrs['test_accuracy_std']:.4f} over {repeats} passes" if repeats > 1 else ""
    )
    lines = [
        f"{experiment.name}: {experiment.training.epochs} training epochs on "
        f"{data.attrs['device']}, {data.attrs['mean_train_samples_per_second']:.1f} "
        "training samples/s",
        f"  neurons assigned    {assigned} of {data.sizes['output_neuron']}",
    ]
    if "validation_accuracy" in data:
        lines.append(f"  validation accuracy {float(data.validation_accuracy):.4f}")
    lines.append(f"  test accuracy       {data.attrs['test_accuracy_mean']:.4f}{spread}")
    return lines


def _check(experiment: Experiment) -> None:
    """Build a four-input version of the network and let Brian2 check its code."""
    from brainsnn.core.units import check_quantity
    from brainsnn.engine.check import check_network
    from brainsnn.unsupervised.layout import UnsupervisedLayout
    from brainsnn.unsupervised.network import build_unsupervised_network

    protocol, models = experiment.protocol, experiment.resolved
    network, traces = protocol.network, protocol.recording.traces
    layout = UnsupervisedLayout(
        n_inputs=4,
        n_outputs=network.outputs,
        n_inhibitory=network.outputs if network.inhibitory else 0,
        present_steps=protocol.encoding.present_steps,
        rest_steps=protocol.encoding.rest_steps,
        dt_s=check_quantity(protocol.encoding.dt, "second"),
        chunk_size=1,
        presentations=1,
        model_texts=models.texts,
        trace_variables=(traces.potential, traces.threshold) if traces else (),
    )
    composed = dict(models.composed)
    check_network(lambda: build_unsupervised_network(layout, composed), experiment.source.path)


def _final_scores(data: xr.Dataset) -> dict[str, float]:
    validation = float(data.validation_accuracy) if "validation_accuracy" in data else math.nan
    return {
        "test_accuracy": float(data.attrs["test_accuracy_mean"]),
        "validation_accuracy": validation,
        "train_accuracy": math.nan,  # labels are assigned after training: no training accuracy
        "epochs": int(data.sizes.get("epoch", 0)),
        "wall_time": float(data.epoch_wall_time.sum()) if "epoch_wall_time" in data else 0.0,
    }


KIND = Kind(
    name="unsupervised",
    title="Unsupervised WTA-STDP protocols",
    description="WTA-STDP networks trained without labels, labels assigned afterwards",
    schema=UnsupervisedProtocol,
    resolve=resolve_unsupervised,
    prepare=deferred("brainsnn.unsupervised.data", "prepare_unsupervised_data"),
    run=deferred("brainsnn.unsupervised.experiment", "run_unsupervised_protocol"),
    report=_report,
    check=_check,
    summary=model_files_summary,
    final_scores=_final_scores,
    variables=UNSUPERVISED_VARIABLES,
    figures=("weights", "trace", "class_response", "assignment", "confusion"),
    fold_overrides=fold_and_seed_overrides,
    show=show_with_parameters,
)
