"""Sweeps for every kind: k-fold and grid search of an unsupervised protocol run to the end, with
a validation set; the gradient kind grid-searches and refuses k-fold in one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml
from click.testing import CliRunner, Result

from brainsnn.cli import main
from brainsnn.protocol import load_protocol
from brainsnn.unsupervised.data import prepare_unsupervised_data

ROOT = Path(__file__).resolve().parent.parent
WTA = ROOT / "protocols" / "wta_stdp_digits.yaml"
TINY_WTA = [  # the layout of test_unsupervised.py's WTA network: one shared compiled build
    "data.train_subset=90",
    "data.test_subset=30",
    "training.epochs=2",
    "training.chunk_size=12",
    "recording.traces=null",
]


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(arg) for arg in args], catch_exceptions=False)


def with_set(*overrides: str) -> list[str]:
    return [part for item in overrides for part in ("--set", item)]


def test_unsupervised_folds_hold_out_disjoint_validation_sets():
    held = []
    for fold in range(3):
        experiment = load_protocol(WTA, [*TINY_WTA, "data.folds=3", f"data.fold={fold}"])
        data = prepare_unsupervised_data(experiment.protocol)
        assert len(data.train) + len(data.validation) == 90
        held.append({row.tobytes() for row in data.validation.values})
    assert sum(len(part) for part in held) == len({*held[0], *held[1], *held[2]})
    plain = load_protocol(WTA, [*TINY_WTA, "data.validation_fraction=0"]).protocol
    without = prepare_unsupervised_data(plain)
    assert without.validation is None and len(without.train) == 90


@pytest.mark.standalone
def test_unsupervised_kfold_runs_to_the_end_with_validation(tmp_path, build_root):
    out = tmp_path / "kf"
    result = invoke(
        "kfold", WTA, "--k", 2, *with_set(*TINY_WTA, f"device.build_dir={build_root}"),
        "--out", out, "--workers", 2,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "test accuracy:" in result.output and "over 2 folds" in result.output
    with xr.open_dataset(out / "summary.nc") as summary:
        assert summary.fold.values.tolist() == [0, 1]
        assert np.all(np.isfinite(summary.validation_accuracy.values))
        assert np.all(np.isnan(summary.train_accuracy.values))  # labels come after training
    with xr.open_dataset(out / "fold-1" / "results.nc") as run:
        assert run.sizes["validation_sample"] == 45
        accuracy = (run.validation_prediction == run.validation_label).mean()
        assert float(run.validation_accuracy) == pytest.approx(float(accuracy))
    assert yaml.safe_load((out / "sweep.yaml").read_text())["protocol_kind"] == "unsupervised"


@pytest.mark.standalone
def test_unsupervised_gridsearch_ranks_by_its_validation_set(tmp_path, build_root):
    out = tmp_path / "gs"
    result = invoke(
        "gridsearch", WTA, *with_set(*TINY_WTA, "data.validation_fraction=0.2",
        f"device.build_dir={build_root}"), "--sweep", "seed=[0, 1]", "--out", out,
        "--workers", 2,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with xr.open_dataset(out / "summary.nc") as summary:
        validation = summary.validation_accuracy.values
        assert summary.seed.values.tolist() == [0, 1] and np.all(np.isfinite(validation))
        for point, test in zip(summary.point.values, summary.test_accuracy.values, strict=True):
            with xr.open_dataset(out / f"point-{point:03d}" / "results.nc") as run:
                assert float(run.attrs["test_accuracy_mean"]) == pytest.approx(float(test))
    ranking = invoke("gridsearch-summary", out).stdout.splitlines()
    assert ranking[0].startswith("rank") and ranking[1].split()[2] == f"{validation.max():.4f}"


def test_gradient_kfold_refuses_in_one_line(tmp_path):
    protocol = tmp_path / "gradient.yaml"
    protocol.write_text(
        yaml.safe_dump(
            {
                "kind": "gradient",
                "name": "g",
                "data": {"train": "train.h5", "test": "test.h5", "dt": "10 ms", "steps": 30},
                "network": {
                    "hidden": [{"size": 4, "neuron": "gradient/lif"}],
                    "readout": {"size": 3, "neuron": "gradient/lif", "firing": "none"},
                },
                "loss": {"kind": "membrane"},
            }
        )
    )
    result = invoke("kfold", protocol, "--k", 3, "--out", tmp_path / "kf")
    assert result.exit_code == 2, result.output
    assert "gradient kind has no k-fold split" in result.output
    assert len(result.output.splitlines()) == 1 and "Traceback" not in result.output
    assert not (tmp_path / "kf").exists()
