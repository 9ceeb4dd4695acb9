"""K-fold cross-validation and grid search on Dask: fold splits, summaries, resume, failures.

The runs are tiny digits protocols on device runtime (nothing to compile: each run takes a few
seconds in its own process); the Dask workers are local processes.
"""

from __future__ import annotations

import logging
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner, Result

from brainsnn.cli import main
from brainsnn.protocol import load_protocol
from brainsnn.readout.data import prepare_data
from brainsnn.sweeps.grid import grid_points, parse_sweep_options

ROOT = Path(__file__).resolve().parent.parent
DIGITS = ROOT / "protocols" / "ncg_digits.yaml"
TINY = [
    "data.train_subset=60",
    "data.test_subset=30",
    "training.chunk_size=50",
    "training.max_epochs=1",
    "training.patience=0",
    "device.name=runtime",
]
GRID = [*TINY, "data.validation_fraction=0.25"]  # a shuffle split needs a sample of each class


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(arg) for arg in args], catch_exceptions=False)


def with_set(*overrides: str) -> list[str]:
    return [part for item in overrides for part in ("--set", item)]


@pytest.fixture(scope="module")
def scheduler():
    """A local Dask cluster of 2 worker processes, used through --scheduler."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, dashboard_address=None, silence_logs=logging.CRITICAL
    ) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def kfold_run(tmp_path_factory):
    """A 3-fold cross-validation of the tiny protocol on 2 local workers."""
    out = tmp_path_factory.mktemp("kfold") / "kf"
    result = invoke("kfold", DIGITS, "--k", 3, *with_set(*TINY), "--out", out, "--workers", 2)
    return out, result


# --- fold selection in the data layer ------------------------------------------------------------


def _rows(split) -> Counter:
    return Counter(
        (row.tobytes(), int(label))
        for row, label in zip(split.input_steps, split.labels, strict=True)
    )


def test_folds_are_stratified_disjoint_and_cover_the_training_set():
    k = 5
    plain = prepare_data(load_protocol(DIGITS))
    training = _rows(plain.train) + _rows(plain.validation)
    validation_union: Counter = Counter()
    for fold in range(k):
        data = prepare_data(load_protocol(DIGITS, [f"data.folds={k}", f"data.fold={fold}"]))
        assert _rows(data.train) + _rows(data.validation) == training  # disjoint, complete
        validation_union += _rows(data.validation)
        per_class = np.bincount(data.validation.labels, minlength=10)
        expected = np.bincount(plain.train.labels, minlength=10) + np.bincount(
            plain.validation.labels, minlength=10
        )
        assert np.all(np.abs(per_class - expected / k) <= 1)  # stratified
        np.testing.assert_array_equal(data.test.labels, plain.test.labels)  # test set untouched
    assert validation_union == training  # every training sample validates exactly once


def test_fold_needs_folds():
    from brainsnn.core.errors import ConfigError

    with pytest.raises(ConfigError, match=r"data\.folds"):
        prepare_data(load_protocol(DIGITS, ["data.fold=1"]))


# --- k-fold ---------------------------------------------------------------------------------------


def test_kfold_summary_is_mean_and_population_std(kfold_run):
    out, result = kfold_run
    assert result.exit_code == 0, result.output
    finals = []
    for fold in range(3):
        with xr.open_dataset(out / f"fold-{fold}" / "results.nc") as data:
            finals.append(100 * float(data.test_accuracy[-1]))
            assert data.attrs["seed"] == fold
        run = load_protocol(out / f"fold-{fold}" / "protocol.yaml")
        assert (run.data.folds, run.data.fold, run.seed) == (3, fold, fold)
    with xr.open_dataset(out / "summary.nc") as summary:
        assert summary.fold.values.tolist() == [0, 1, 2]
        np.testing.assert_allclose(100 * summary.test_accuracy.values, finals)
        assert summary.attrs["test_accuracy_mean_percent"] == pytest.approx(np.mean(finals))
        assert summary.attrs["test_accuracy_std_percent"] == pytest.approx(np.std(finals))
        for variable in summary.variables.values():
            assert variable.attrs["units"] is not None and variable.attrs["long_name"]
    line = f"test accuracy: {np.mean(finals):.2f} ± {np.std(finals):.2f} % over 3 folds"
    assert line in result.stdout
    assert line in invoke("kfold-summary", out).stdout


def test_folds_of_a_batch_share_a_process_and_equal_runs_alone(kfold_run, tmp_path):
    """3 folds on 2 workers: folds 0 and 1 in one process, fold 2 in another; fold 1, run after
    fold 0 in the same process, gives the results of fold 1 run alone."""
    out, _ = kfold_run
    places = [(out / f"fold-{fold}" / "output.log").read_text().split("\n")[0] for fold in range(3)]
    process = [place.rsplit(" ", 1)[1] for place in places]
    assert places[0].startswith("sweep batch: run 1 of 2") and places[2].endswith(process[2])
    assert places[1].startswith("sweep batch: run 2 of 2")
    assert process[0] == process[1] != process[2]
    alone = tmp_path / "alone"
    fold = ["data.folds=3", "data.fold=1", "seed=1"]
    result = invoke("run", DIGITS, *with_set(*TINY, *fold), "--out", alone)
    assert result.exit_code == 0, result.output
    with (
        xr.open_dataset(out / "fold-1" / "results.nc") as batched,
        xr.open_dataset(alone / "results.nc") as single,
    ):
        for name in ("weights", "test_prediction", "validation_accuracy", "test_accuracy"):
            np.testing.assert_array_equal(batched[name].values, single[name].values)


def test_kfold_resume_runs_only_the_missing_fold(kfold_run, tmp_path, scheduler):
    source, _ = kfold_run
    out = tmp_path / "kf"
    shutil.copytree(source, out)  # copy2: modification times are kept
    (out / "fold-1" / "results.nc").unlink()
    before = {f: (out / f"fold-{f}" / "results.nc").stat().st_mtime_ns for f in (0, 2)}
    again = invoke("kfold", DIGITS, "--k", 3, *with_set(*TINY), "--out", out)
    assert again.exit_code == 2 and "--resume" in again.output  # never runs into a used DIR
    result = invoke(
        "kfold", DIGITS, "--k", 3, *with_set(*TINY), "--out", out, "--resume",
        "--scheduler", scheduler,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "1 of 3 runs to do" in result.output
    assert (out / "fold-1" / "results.nc").exists()
    assert before == {f: (out / f"fold-{f}" / "results.nc").stat().st_mtime_ns for f in (0, 2)}
    assert "resuming after epoch 1" in (out / "fold-1" / "run.log").read_text()
    changed = invoke("kfold", DIGITS, "--k", 4, *with_set(*TINY), "--out", out, "--resume")
    assert changed.exit_code == 2 and "other settings" in changed.output


# --- grid search ----------------------------------------------------------------------------------


def test_grid_expansion():
    grid = parse_sweep_options(["network.parameters.gap=[0.1, 0.2]", "seed=3"])
    assert grid == {"network.parameters.gap": [0.1, 0.2], "seed": [3]}
    points = grid_points({"a": [1, 2], "b": ["x", "y", "z"]})
    assert len(points) == 6 and points[1] == {"a": 1, "b": "y"}


def test_gridsearch_ranks_points_by_last_validation_accuracy(tmp_path, scheduler):
    out = tmp_path / "gs"
    protocol = tmp_path / "grid.yaml"
    protocol.write_text(
        DIGITS.read_text() + "sweep:\n  network.parameters.gap: [0.1, 0.3]\n"
    )  # one key from the protocol's sweep: block, one from --sweep
    result = invoke(
        "gridsearch", protocol, *with_set(*GRID), "--sweep", "network.parameters.theta0=[5, 7]",
        "--out", out, "--scheduler", scheduler,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (out / "point-002" / "point.yaml").read_text() == (
        "network.parameters.gap: 0.3\nnetwork.parameters.theta0: 5\n"
    )
    assert load_protocol(out / "point-002" / "protocol.yaml").network.parameters["gap"] == 0.3
    with xr.open_dataset(out / "summary.nc") as summary:
        assert summary.point.values.tolist() == [0, 1, 2, 3]
        assert summary["network.parameters.theta0"].values.tolist() == [5, 7, 5, 7]
        assert summary.epochs.values.tolist() == [1, 1, 1, 1]
        for variable in summary.variables.values():
            assert "units" in variable.attrs and variable.attrs["long_name"]
        validation = summary.validation_accuracy.values
        best = int(np.flatnonzero(validation == validation.max())[0])
    ranking = invoke("gridsearch-summary", out, "--top", 2)
    assert ranking.exit_code == 0, ranking.output
    lines = ranking.stdout.splitlines()
    assert len(lines) == 3 and lines[0].startswith("rank")
    assert lines[1].split()[:3] == ["1", f"{best:03d}", f"{validation.max():.4f}"]


def test_failed_point_is_reported_and_others_finish(tmp_path, scheduler):
    """A point whose value fails inside its run, in one batch with the other point, which still
    finishes (and stops at stop_below); the failed point is retried alone."""
    out = tmp_path / "gs"
    result = invoke(
        "gridsearch", DIGITS, *with_set(*GRID, "training.max_epochs=4",
        "training.stop_below=0.99"), "--sweep", "network.nontarget_per_class=[1, 5]",
        "--out", out, "--scheduler", scheduler, "--batch", 2,
    )  # fmt: skip
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    message = "point 001 failed: network.nontarget_per_class must be smaller than neurons_per_class"
    assert f"{message} (retrying)" in result.output  # reported, retried once, reported again
    assert result.output.count(message) == 2
    with xr.open_dataset(out / "summary.nc") as summary:
        assert summary.point.values.tolist() == [0]
        assert summary.attrs["points_finished"] == 1
        assert int(summary.epochs[0]) == 3  # stop_below: stopped after epoch 3 of 4
    assert "stopping: accuracy below training.stop_below" in (out / "point-000/run.log").read_text()


def test_sweep_input_errors_are_one_line(tmp_path):
    nothing = invoke("gridsearch", DIGITS, "--out", tmp_path / "a")
    assert nothing.exit_code == 2 and "nothing to sweep" in nothing.output
    typo = invoke("gridsearch", DIGITS, "--sweep", "network.parameters.gapp=[1]")
    assert typo.exit_code == 2 and "unknown parameter" in typo.output
    both = invoke("kfold", DIGITS, "--workers", 2, "--scheduler", "tcp://127.0.0.1:1")
    assert both.exit_code == 2 and "not both" in both.output
    for result in (nothing, typo, both):
        assert "Traceback" not in result.output and len(result.output.splitlines()) == 1
    assert not (tmp_path / "a").exists()
