"""``brainsnn.analysis`` on small hand-made datasets with known answers (nothing simulated)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import xarray as xr

from brainsnn.analysis import (
    MeanStd,
    accuracy_table,
    combine_runs,
    confusion_matrix,
    decision_times,
    final_values,
    first_spike_distribution,
    grid_table,
    open_results,
    summary_table,
    threshold_summary,
    win_counts,
    winners,
)
from brainsnn.analysis.tables import has_summary_table
from brainsnn.core.errors import BrainsnnError

# 3 classes x 2 neurons (the first of each group non-target), 5 test samples, dt = T/4.
NEURON_CLASS = [0, 0, 1, 1, 2, 2]
NONTARGET = [1, 0, 1, 0, 1, 0]
LABELS = [0, 1, 2, 2, 1]
PREDICTIONS = [0, 1, 1, 2, 0]
# first-spike times (units of T, 1 = silent) and potentials of the 6 neurons for the 5 samples
TIMES = [
    [0.5, 0.25, 1.0, 1.0, 1.0, 1.0],  # earliest: neuron 1 -> class 0
    [1.0, 1.0, 0.5, 0.5, 1.0, 1.0],  # tie at 0.5: neuron 3 has the higher potential -> class 1
    [1.0, 1.0, 0.75, 0.75, 1.0, 1.0],  # tie in time and potential: lower index 2 -> class 1
    [1.0, 1.0, 1.0, 1.0, 0.0, 0.5],  # neuron 4 at t = 0 -> class 2
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0],  # silent: every tie, highest potential neuron 1 -> class 0
]
POTENTIALS = [
    [8.0, 8.0, 1.0, 1.0, 0.0, 0.0],
    [0.0, 0.0, 8.0, 9.0, 0.0, 0.0],
    [0.0, 0.0, 8.0, 8.0, 0.0, 0.0],
    [0.0, 0.0, 0.0, 0.0, 8.0, 8.0],
    [1.0, 3.0, 2.0, 2.0, 0.0, 0.0],
]
WINNERS = [1, 3, 2, 4, 1]
TEST_THRESHOLD = [7.0] * 6
TRAINING_THRESHOLD = [7.0, 8.0, 7.0, 9.0, 7.0, 7.5]


def readout_dataset() -> xr.Dataset:
    """A results.nc-like readout dataset with the variables the analysis uses."""
    return xr.Dataset(
        {
            "train_accuracy": ("epoch", [0.5, 0.7, 0.8]),
            "validation_accuracy": ("epoch", [0.6, 0.7, 0.75]),
            "test_accuracy": ("epoch", [0.4, 0.5, 0.6]),
            "test_label": ("test_sample", LABELS),
            "test_prediction": ("test_sample", PREDICTIONS),
            "test_first_spike_time": (("test_sample", "output_neuron"), TIMES, {"units": "T"}),
            "test_potential": (("test_sample", "output_neuron"), POTENTIALS),
            "neuron_class": ("output_neuron", NEURON_CLASS),
            "neuron_nontarget": ("output_neuron", NONTARGET),
            "test_threshold": ("output_neuron", TEST_THRESHOLD, {"units": "1"}),
            "training_threshold": ("output_neuron", TRAINING_THRESHOLD, {"units": "1"}),
        },
        coords={"epoch": [1, 2, 3], "test_sample": np.arange(5), "output_neuron": np.arange(6)},
        attrs={"dt_in_units_of_T": 0.25},
    )


def kfold_summary(test=(0.9, 0.8, 0.85)) -> xr.Dataset:
    k = len(test)
    return xr.Dataset(
        {
            "test_accuracy": ("fold", list(test)),
            "validation_accuracy": ("fold", [0.95] * k),
            "train_accuracy": ("fold", [1.0] * k),
            "epochs": ("fold", [3] * k),
        },
        coords={"fold": np.arange(k)},
    )


@pytest.fixture
def ds() -> xr.Dataset:
    return readout_dataset()


# --- open_results ---------------------------------------------------------------------------------


def test_open_results_file_run_directory_and_sweep_summary(tmp_path, ds):
    run = tmp_path / "run"
    run.mkdir()
    ds.to_netcdf(run / "results.nc")
    for argument in (run, run / "results.nc", str(run)):
        opened = open_results(argument)
        xr.testing.assert_identical(opened, ds)
    sweep = tmp_path / "kfold"
    sweep.mkdir()
    kfold_summary().to_netcdf(sweep / "summary.nc")
    np.testing.assert_allclose(open_results(sweep).test_accuracy, [0.9, 0.8, 0.85])


def test_open_results_errors_are_one_line_brainsnn_errors(tmp_path):
    with pytest.raises(BrainsnnError, match=r"no results.nc in .*nope \(no such directory\)"):
        open_results(tmp_path / "nope")
    with pytest.raises(BrainsnnError, match=r"missing.nc: no such file"):
        open_results(tmp_path / "missing.nc")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(
        BrainsnnError, match=r"no results\.nc in .*empty \(nor a sweep's summary\.nc\)"
    ):
        open_results(empty)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "results.nc").write_bytes(b"this is not netCDF")
    with pytest.raises(BrainsnnError, match=r"cannot read .*broken/results\.nc") as info:
        open_results(broken)
    assert "\n" not in str(info.value)
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / "sweep.yaml").write_text("kind: kfold\n")
    with pytest.raises(BrainsnnError, match="sweep has not finished"):
        open_results(unfinished)
    with pytest.raises(BrainsnnError, match="no finished run in"):
        open_results(unfinished, runs=True)


def test_combine_runs_stacks_folds_and_pads_shorter_runs(tmp_path, ds):
    sweep = tmp_path / "kf"
    for fold, epochs in ((0, 3), (1, 2), (2, 3)):
        (sweep / f"fold-{fold}").mkdir(parents=True)
        run = ds.isel(epoch=slice(0, epochs)).assign_attrs(seed=fold, protocol="p")
        run.to_netcdf(sweep / f"fold-{fold}" / "results.nc")
    (sweep / "fold-3").mkdir()  # not finished: no results.nc
    combined = open_results(sweep, runs=True)
    assert combined.fold.values.tolist() == [0, 1, 2]
    assert combined.test_accuracy.dims == ("fold", "epoch")
    assert np.isnan(combined.test_accuracy.sel(fold=1, epoch=3))
    assert "seed" not in combined.attrs and combined.attrs["protocol"] == "p"  # seeds differ
    np.testing.assert_allclose(final_values(combined.test_accuracy), [0.6, 0.5, 0.6])
    xr.testing.assert_identical(combined, combine_runs(sweep))


def test_import_brainsnn_stays_light_and_exports_open_results(tmp_path, ds):
    ds.to_netcdf(tmp_path / "results.nc")
    script = textwrap.dedent(
        f"""
        import json, sys
        import brainsnn
        light = not any(name in sys.modules for name in ("brian2", "xarray", "matplotlib"))
        opened = brainsnn.open_results({str(tmp_path)!r})
        import brainsnn.analysis as analysis
        analysis.confusion_matrix(opened), analysis.win_counts(opened)
        analysis.accuracy_table(opened).latex(), analysis.threshold_summary(opened)
        print(json.dumps({{"light": light, "brian2": "brian2" in sys.modules,
                          "samples": opened.sizes["test_sample"]}}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "light": True,
        "brian2": False,
        "samples": 5,
    }


# --- accuracy tables ------------------------------------------------------------------------------


def test_accuracy_table_over_folds_is_mean_and_population_std(ds):
    table = accuracy_table(kfold_summary(), caption="k-fold")
    assert table.columns == ("accuracy", "mean ± std (%)", "folds")
    label, summary, count = table.rows[2]
    assert (label, count) == ("test", 3)
    assert summary.mean == pytest.approx(85.0)
    assert summary.std == pytest.approx(np.sqrt((25 + 25 + 0) / 3))  # ddof = 0: 4.08
    markdown = table.markdown()
    assert "| test | 85.00 ± 4.08 | 3 |" in markdown
    assert "| train | 100.00 ± 0.00 | 3 |" in markdown
    assert markdown.startswith("**k-fold**\n\n| accuracy | mean ± std (%) | folds |\n| :-- |")
    assert "population standard deviation (ddof = 0) over folds" in markdown
    latex = table.latex()
    assert r"\begin{tabular}{lrr}" in latex and r"\toprule" in latex and r"\bottomrule" in latex
    assert r"test & 85.00 $\pm$ 4.08 & 3 \\" in latex
    assert r"accuracy & mean $\pm$ std (\%) & folds \\" in latex
    assert r"\caption{k-fold}" in latex


def test_accuracy_table_of_runs_repeats_and_a_single_run(ds):
    second = ds.copy(deep=True)
    second["test_accuracy"] = ("epoch", [0.1, 0.2, 0.8])
    table = accuracy_table([ds, second])  # e.g. two seeds: last epochs 0.6 and 0.8
    assert table.rows[2][1] == MeanStd(pytest.approx(70.0), pytest.approx(10.0), 2)
    assert table.columns[2] == "runs"
    repeats = xr.Dataset({"test_accuracy": ("repeat", [0.75, 1.0])})
    assert accuracy_table(repeats).rows == (("test", MeanStd(87.5, 12.5, 2), 2),)
    single = accuracy_table(ds)
    assert single.columns == ("accuracy", "last epoch (%)")
    assert [row[0] for row in single.rows] == ["train", "validation", "test"]
    assert single.rows[2][1] == pytest.approx(60.0)
    assert "| test | 60.00 |" in single.markdown()


def test_accuracy_table_of_combined_runs_uses_each_runs_last_epoch(ds):
    combined = xr.concat(
        [ds.expand_dims(fold=[0]), ds.isel(epoch=slice(0, 2)).expand_dims(fold=[1])],
        dim="fold",
        join="outer",
    )
    table = accuracy_table(combined)
    assert table.rows[2][1] == MeanStd(pytest.approx(55.0), pytest.approx(5.0), 2)
    assert "last epoch of each run" in table.note


def test_accuracy_table_errors():
    with pytest.raises(BrainsnnError, match="no accuracy variable"):
        accuracy_table(xr.Dataset({"x": ("a", [1])}))
    with pytest.raises(BrainsnnError, match="use grid_table"):
        accuracy_table(grid_summary())
    with pytest.raises(BrainsnnError, match="has dims"):
        accuracy_table(xr.Dataset({"test_accuracy": (("a", "b"), [[0.5]])}))
    with pytest.raises(BrainsnnError, match="no datasets"):
        accuracy_table([])


def grid_summary() -> xr.Dataset:
    return xr.Dataset(
        {
            "test_accuracy": ("point", [0.8, 0.9, 0.7]),
            "validation_accuracy": ("point", [0.85, 0.95, 0.95]),
            "train_accuracy": ("point", [0.9, 0.9, 0.9]),
            "epochs": ("point", [4, 5, 6]),
        },
        coords={
            "point": [0, 1, 2],
            "network.parameters.gap": ("point", [0.1, 0.2, 0.25]),
            "encoding.sample_duration": ("point", ["10 ms", "10 ms", "20 ms"]),
        },
        attrs={"swept_keys": "network.parameters.gap, encoding.sample_duration"},
    )


def test_grid_table_ranks_points_by_validation_then_point():
    table = grid_table(grid_summary())
    assert table.columns == (
        "rank",
        "point",
        "network.parameters.gap",
        "encoding.sample_duration",
        "validation (%)",
        "test (%)",
        "epochs",
    )
    assert [row[:4] for row in table.rows] == [
        (1, 1, "0.2", "10 ms"),
        (2, 2, "0.25", "20 ms"),
        (3, 0, "0.1", "10 ms"),
    ]
    assert "| 1 | 1 | 0.2 | 10 ms | 95.00 | 90.00 | 5 |" in table.markdown()
    assert r"network.parameters.gap" in table.latex()
    assert r"1 & 1 & 0.2 & 10 ms & 95.00 & 90.00 & 5 \\" in table.latex()
    assert len(grid_table(grid_summary(), top=1).rows) == 1
    assert summary_table(grid_summary()).columns[0] == "rank"
    assert has_summary_table(grid_summary()) and has_summary_table(kfold_summary())
    assert not has_summary_table(xr.Dataset({"test_accuracy": (("a", "b"), [[0.5]])}))


def test_latex_escapes_special_characters():
    table = accuracy_table(kfold_summary(), caption="gap_1 & 50% #2")
    assert r"\caption{gap\_1 \& 50\% \#2}" in table.latex()


# --- test-set statistics --------------------------------------------------------------------------


def test_confusion_matrix_of_known_predictions(ds):
    matrix = confusion_matrix(ds)
    assert matrix.dims == ("true_class", "predicted_class")
    np.testing.assert_array_equal(matrix.values, [[1, 0, 0], [1, 1, 0], [0, 1, 1]])
    fractions = confusion_matrix(ds, normalize=True)
    np.testing.assert_allclose(fractions.values, [[1, 0, 0], [0.5, 0.5, 0], [0, 0.5, 0.5]])


def test_confusion_matrix_sums_repeats_and_keeps_silent_predictions(ds):
    ds["test_prediction"] = (("repeat", "test_sample"), [PREDICTIONS, [0, -1, 2, 2, 1]])
    matrix = confusion_matrix(ds)
    assert matrix.predicted_class.values.tolist() == [0, 1, 2, -1]
    np.testing.assert_array_equal(matrix.values, [[2, 0, 0, 0], [1, 2, 0, 1], [0, 1, 3, 0]])
    ds["test_prediction"] = ("test_sample", [0, 1, 5, 2, 1])
    with pytest.raises(BrainsnnError, match=r"class indices 0\.\.2"):
        confusion_matrix(ds)


def test_winners_follow_the_readout_decision_rule(ds):
    won = winners(ds)
    assert won.values.tolist() == WINNERS
    assert np.asarray(NEURON_CLASS)[won.values].tolist() == [0, 1, 1, 2, 0]
    counts = win_counts(ds)
    assert counts.dims == ("output_neuron", "true_class")
    assert counts.sum("true_class").values.tolist() == [0, 2, 1, 1, 1, 0]
    assert counts.sel(output_neuron=1).values.tolist() == [1, 1, 0]  # one correct, one error
    assert counts.neuron_class.values.tolist() == NEURON_CLASS
    assert counts.neuron_nontarget.values.tolist() == NONTARGET


def test_decision_times_and_their_distribution_per_class(ds):
    np.testing.assert_allclose(decision_times(ds).values, [0.25, 0.5, 0.75, 0.0, 1.0])
    histogram = first_spike_distribution(ds)
    assert histogram.dims == ("class", "time")
    np.testing.assert_allclose(histogram.time.values, [0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_array_equal(
        histogram.values,
        [[0, 1, 0, 0, 0], [0, 0, 1, 0, 1], [1, 0, 0, 1, 0]],  # class 1's last sample is silent
    )
    normalized = first_spike_distribution(ds, normalize=True)
    np.testing.assert_allclose(normalized.sum("time"), 1.0)
    del ds.attrs["dt_in_units_of_T"]  # grid from the saved values instead
    np.testing.assert_allclose(first_spike_distribution(ds).time.values, [0, 0.25, 0.5, 0.75, 1.0])


def test_threshold_summary_per_class_and_role(ds):
    summary = threshold_summary(ds)
    training = summary.training_threshold
    assert training.dims == ("class", "role", "statistic")
    assert summary.role.values.tolist() == ["target", "non-target"]
    assert training.sel(role="target", statistic="mean").values.tolist() == [8.0, 9.0, 7.5]
    assert training.sel(role="non-target", statistic="max").values.tolist() == [7.0, 7.0, 7.0]
    assert float(summary.test_threshold.sel(role="target", statistic="std").max()) == 0.0
    with pytest.raises(BrainsnnError, match="none of the variables test_threshold"):
        threshold_summary(ds.drop_vars(["test_threshold", "training_threshold"]))
