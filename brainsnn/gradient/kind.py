"""The gradient kind (``kind: gradient``): surrogate-gradient SNNs trained in JAX."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import xarray as xr

from brainsnn.core.experiment import Experiment, Kind, deferred
from brainsnn.gradient.protocol import GradientProtocol
from brainsnn.gradient.resolve import resolve_layers
from brainsnn.gradient.results import GRADIENT_VARIABLES


def _prepare(protocol: GradientProtocol) -> Any:
    from brainsnn.gradient.data import load_gradient_data

    return load_gradient_data(protocol.data, protocol.seed)


def _report(experiment: Experiment, data: xr.Dataset, directory: Path) -> list[str]:
    lines = [
        f"{experiment.name}: {data.sizes['epoch']} epochs ({data.attrs['device']}), "
        f"{float(data.epoch_train_seconds.mean()):.1f} s per training epoch"
    ]
    for decoding in data.decoding.values:
        accuracy = float(data.test_accuracy.sel(decoding=decoding))
        lines.append(f"  test accuracy ({decoding}) {accuracy:.4f}")
    lines.append(
        f"  spikes per neuron per sample {data.spikes_per_neuron.values.round(2).tolist()}"
    )
    if "resimulated_agreement" in data:
        agreement = ", ".join(
            f"{d} {float(a):.4f}"
            for d, a in zip(data.decoding.values, data.resimulated_agreement.values, strict=True)
        )
        lines.append(f"  Brian2 re-simulation agrees with JAX on {agreement}")
    return lines


def _summary(experiment: Experiment) -> str:
    layers = len(experiment.network.hidden) + 1
    return f"valid protocol '{experiment.name}' ({layers} gradient layers)"


def _final_scores(data: xr.Dataset) -> dict[str, float]:
    """Scores by the training loss's decoding; validation accuracy of the last epoch."""
    return {
        "test_accuracy": float(data.test_accuracy.sel(decoding=data.attrs["decoding"])),
        "validation_accuracy": float(data.validation_accuracy[-1]),
        "train_accuracy": float(data.train_accuracy[-1]),
        "epochs": int(data.sizes["epoch"]),
        "wall_time": float(data.epoch_train_seconds.sum()),
    }


KIND = Kind(
    name="gradient",
    title="Gradient-trained SNNs",
    description="surrogate-gradient SNNs trained in JAX, re-simulated in Brian2",
    schema=GradientProtocol,
    resolve=resolve_layers,
    prepare=_prepare,
    run=deferred("brainsnn.gradient.experiment", "run_gradient_protocol"),
    report=_report,
    summary=_summary,
    final_scores=_final_scores,
    variables=GRADIENT_VARIABLES,
    figures=("accuracy_over_time", "training_curves", "layer_activity", "confusion"),
    no_kfold_reason="the gradient kind has no k-fold split of its data (data.validation_fraction "
    "holds out one stratified validation set); use 'brainsnn gridsearch', or run seeds with "
    "--sweep 'seed=[0,1,2]'",
)
