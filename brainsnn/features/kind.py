"""The features kind (``kind: features``): train a feature extractor, write spike features.

Its run directory holds SpikeNN SpikingDataset files (``trainset.npy``, ``valset.npy``,
``testset.npy``) that a readout protocol reads with ``data.source: spikingdataset``.
"""

from __future__ import annotations

import math
from pathlib import Path

import xarray as xr

from brainsnn.core.experiment import Experiment, Kind, deferred
from brainsnn.features.protocol import FeaturesProtocol
from brainsnn.features.resolve import resolve_features
from brainsnn.features.results import FEATURES_VARIABLES


def _report(experiment: Experiment, data: xr.Dataset, directory: Path) -> list[str]:
    epochs = data.sizes.get("epoch", 0)
    speed = float(data.train_samples_per_second.mean()) if epochs else 0.0
    lines = [
        f"{experiment.name}: {epochs} training epochs on {data.attrs['device']}, "
        f"{speed:.0f} training patches/s, {data.attrs['features']} features",
    ]
    for split, file in zip(data.split.values, data.attrs["feature_files"].split(), strict=True):
        counts = data[f"{split}_feature_spikes"]
        lines.append(
            f"  {split:<10} {counts.size} images, {float(counts.mean()):.1f} feature spikes "
            f"per image -> {directory / file}"
        )
    lines.append(
        "  next: brainsnn run protocols/spikenn/csnn/fmnist/s2stdp+ncg.yaml "
        f"--set data.train_file={directory / 'trainset.npy'} "
        f"--set data.test_file={directory / 'testset.npy'}"
    )
    return lines


def _check(experiment: Experiment) -> None:
    """Build tiny training and extraction networks and let Brian2 check the model code."""
    from brainsnn.engine.check import check_network
    from brainsnn.features.geometry import CsnnGeometry
    from brainsnn.features.network import build_extraction_network, build_training_network

    model = experiment.resolved.model
    geometry = CsnnGeometry(rows=3, columns=3, kernel=2, filters=2, pool=1)
    where = experiment.source.path
    check_network(lambda: build_training_network(model, geometry, 1), where)
    check_network(lambda: build_extraction_network(model, geometry, 1), where)


def _summary(experiment: Experiment) -> str:
    return f"valid protocol '{experiment.name}' (model file {experiment.network.model})"


def _final_scores(data: xr.Dataset) -> dict[str, float]:
    return {  # no classifier here: the readout run on the features scores them
        "test_accuracy": math.nan,
        "validation_accuracy": math.nan,
        "train_accuracy": math.nan,
        "epochs": int(data.sizes.get("epoch", 0)),
        "wall_time": float(data.attrs.get("wall_time", 0.0)),
    }


def _show(experiment: Experiment) -> dict:
    resolved = experiment.model_dump()
    resolved["network"]["parameters"] = dict(experiment.resolved.values)
    return resolved


KIND = Kind(
    name="features",
    title="Feature-extraction protocols",
    description="an unsupervised STDP-CSNN extractor trained on raw images; writes spike "
    "features for readout protocols",
    schema=FeaturesProtocol,
    resolve=resolve_features,
    prepare=deferred("brainsnn.features.data", "prepare_feature_images"),
    run=deferred("brainsnn.features.experiment", "run_features_protocol"),
    report=_report,
    check=_check,
    summary=_summary,
    final_scores=_final_scores,
    variables=FEATURES_VARIABLES,
    no_kfold_reason="a features run has no classifier: run 'brainsnn kfold' on the readout "
    "protocol that reads its features",
    show=_show,
)
