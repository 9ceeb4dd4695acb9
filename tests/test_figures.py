"""``brainsnn.figures``: publication figures from a saved results.nc, without Brian2.

The unsupervised figures run on a small synthetic dataset written in the test; the readout
figures on the results of a tiny real NCG run on digits (device runtime, a few seconds).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner, Result
from matplotlib.image import AxesImage
from PIL import Image

from brainsnn.analysis import (
    confusion_matrix,
    decision_times,
    first_spike_distribution,
    open_results,
    win_counts,
)
from brainsnn.cli import main
from brainsnn.core.errors import BrainsnnError
from brainsnn.figures import readout, registry, style
from brainsnn.figures.unsupervised import (
    assignment_summary,
    class_response_bars,
    membrane_trace,
    test_accuracy_table,
    weight_images,
)

N_NEURONS, HEIGHT, WIDTH, N_CLASSES, N_REPEATS, N_TEST = 5, 8, 8, 3, 2, 4
ASSIGNMENT = [0, 1, 2, -1, 1]
TEST_ACCURACY = [0.75, 1.0]
TRACE_NEURONS = [0, 2, 4]
N_TRACE = 20
TRACE_DT_MS = 0.5
FIGURE_NAMES = ["weights", "trace", "class_response", "assignment", "confusion"]
READOUT_FIGURES = [
    "weights",
    "learning_curves",
    "confusion",
    "raster",
    "first_spike_times",
    "thresholds",
    "wins",
    "competition",
]
ROOT = Path(__file__).resolve().parent.parent
DIGITS = ROOT / "protocols" / "ncg_digits.yaml"
TINY_READOUT = [
    "data.train_subset=60",
    "data.test_subset=30",
    "data.validation_fraction=0.25",
    "training.chunk_size=50",
    "training.max_epochs=2",
    "training.patience=0",
    "device.name=runtime",
]


def make_dataset(n_neurons: int = N_NEURONS, seed: int = 0) -> xr.Dataset:
    """A results.nc-like dataset of an unsupervised run with every variable the figures use."""
    rng = np.random.default_rng(seed)
    assignment = (
        np.array(ASSIGNMENT)
        if n_neurons == N_NEURONS
        else rng.integers(-1, N_CLASSES, size=n_neurons)
    )
    time = np.arange(N_TRACE) * TRACE_DT_MS
    sample = np.repeat([0, 1], N_TRACE // 2)
    v = -65 + 10 * rng.random((len(TRACE_NEURONS), N_TRACE))
    ds = xr.Dataset(
        {
            "weights": (("output_neuron", "input"), rng.random((n_neurons, HEIGHT * WIDTH))),
            "assignment": (("output_neuron",), assignment),
            "class_response": (
                ("output_neuron", "class"),
                5 * rng.random((n_neurons, N_CLASSES)),
            ),
            "test_counts": (
                ("repeat", "test_sample", "output_neuron"),
                rng.integers(0, 6, size=(N_REPEATS, N_TEST, n_neurons)),
            ),
            "test_label": (("test_sample",), np.array([0, 1, 2, 1])),
            "test_prediction": (("repeat", "test_sample"), np.array([[0, 1, 2, 2], [0, 1, 2, 1]])),
            "test_accuracy": (("repeat",), np.array(TEST_ACCURACY)),
            "trace_v": (("trace_neuron", "trace_time"), v, {"units": "mV"}),
            "trace_threshold": (
                ("trace_neuron", "trace_time"),
                np.full((len(TRACE_NEURONS), N_TRACE), -52.0),
                {"units": "mV"},
            ),
        },
        coords={
            "output_neuron": np.arange(n_neurons),
            "class": np.arange(N_CLASSES),
            "repeat": np.arange(N_REPEATS),
            "test_sample": np.arange(N_TEST),
            "trace_neuron": TRACE_NEURONS,
            "trace_time": ("trace_time", time, {"units": "ms"}),
            "trace_sample": ("trace_time", sample),
        },
        attrs={"image_height": HEIGHT, "image_width": WIDTH, "weight_min": 0.0, "weight_max": 1.0},
    )
    return ds


def write_run(directory: Path, ds: xr.Dataset) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    ds.to_netcdf(directory / "results.nc")
    return directory


@pytest.fixture
def ds() -> xr.Dataset:
    return make_dataset()


@pytest.fixture
def run_dir(tmp_path, ds) -> Path:
    return write_run(tmp_path / "run1", ds)


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(arg) for arg in args], catch_exceptions=False)


def assert_clean_error(result: Result, *expected: str) -> str:
    """Exit code 2, no traceback, a single 'error: ...' line naming every ``expected`` text."""
    assert "Traceback" not in result.output, result.output
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    for text in expected:
        assert text in lines[0], f"{text!r} not in {lines[0]!r}"
    return lines[0]


def image_axes(figure) -> list:
    return [ax for ax in figure.axes if any(isinstance(a, AxesImage) for a in ax.get_images())]


# --- style ----------------------------------------------------------------------------------------


def test_style_sheet_matches_palette_and_leaves_rcparams_alone():
    before = dict(matplotlib.rcParams)
    figure, ax = style.new_figure()
    assert tuple(figure.get_size_inches()) == style.SINGLE_COLUMN
    with style.styled():
        rc = matplotlib.rcParams
        assert [c.upper() for c in rc["axes.prop_cycle"].by_key()["color"]] == style.OKABE_ITO
        assert rc["font.size"] == 8
        assert rc["font.sans-serif"][0] == "DejaVu Sans"
        assert rc["pdf.fonttype"] == 42
        assert rc["savefig.bbox"] == "tight"
        assert not rc["axes.spines.top"] and not rc["axes.spines.right"]
    assert dict(matplotlib.rcParams) == before
    assert not ax.spines["top"].get_visible()
    line = ax.plot([0, 1], [0, 1])[0]
    assert line.get_color().upper() == style.OKABE_ITO[0]
    _, axes = style.new_figure("double", nrows=1, ncols=2)
    assert axes.shape == (2,)
    assert tuple(axes[0].figure.get_size_inches()) == style.DOUBLE_COLUMN


def test_save_writes_each_format_png_at_300_dpi_pdf_with_truetype_fonts(tmp_path):
    figure, ax = style.new_figure()
    ax.plot([0, 1], [1, 0])
    ax.set_xlabel("x label")
    out = tmp_path / "new" / "dir"
    paths = style.save(figure, out, "demo", formats=("pdf", "png", "svg"))
    assert paths == [out / "demo.pdf", out / "demo.png", out / "demo.svg"]
    assert all(path.stat().st_size > 0 for path in paths)
    with Image.open(out / "demo.png") as image:
        assert round(image.info["dpi"][0]) == 300
    pdf = (out / "demo.pdf").read_bytes()
    assert b"/FontFile2" in pdf and b"/Type3" not in pdf  # embedded TrueType, not Type 3
    with pytest.raises(BrainsnnError, match="unknown format 'jpg'; choose from pdf, png, svg"):
        style.save(figure, out, "demo", formats=("jpg",))


# --- figure functions -----------------------------------------------------------------------------


def test_weight_images_grid_titles_range_and_colorbar(ds):
    figure = weight_images(ds)
    panels = image_axes(figure)
    images = [image for ax in panels for image in ax.get_images()]
    assert len(images) == N_NEURONS
    assert all(image.get_array().shape == (HEIGHT, WIDTH) for image in images)
    assert all(image.get_clim() == (0.0, 1.0) for image in images)  # attrs weight_min/max
    assert all(image.get_cmap().name == "gray" for image in images)
    np.testing.assert_allclose(images[3].get_array(), ds.weights.values[3].reshape(HEIGHT, WIDTH))
    assert [ax.get_title() for ax in panels] == ["n0 → 0", "n1 → 1", "n2 → 2", "n3", "n4 → 1"]
    # grid of ceil(sqrt(5)) = 3 columns x 2 rows, the unused panel hidden
    grid = [ax for ax in figure.axes if ax.get_subplotspec() is not None]
    assert len(grid) == 6
    assert grid[0].get_subplotspec().get_gridspec().get_geometry() == (2, 3)
    colorbars = [ax for ax in figure.axes if ax.get_label() == "<colorbar>"]
    assert len(colorbars) == 1
    assert colorbars[0].get_ylabel() == "synaptic weight"
    assert "weights" in figure.get_suptitle()


def test_weight_images_range_from_data_without_attrs(ds):
    del ds.attrs["weight_min"], ds.attrs["weight_max"]
    ds = ds.drop_vars("assignment")
    figure = weight_images(ds)
    low, high = float(ds.weights.min()), float(ds.weights.max())
    clims = {image.get_clim() for ax in image_axes(figure) for image in ax.get_images()}
    assert clims == {(low, high)}
    assert [ax.get_title() for ax in image_axes(figure)] == [f"n{i}" for i in range(N_NEURONS)]


def test_weight_images_400_neurons_is_a_mosaic_without_titles(tmp_path):
    ds = make_dataset(400)
    figure = weight_images(ds)
    images = [image for ax in image_axes(figure) for image in ax.get_images()]
    assert len(images) == 1  # one mosaic, 20 x 20 panels separated by one blank pixel
    mosaic = images[0].get_array()
    assert mosaic.shape == (20 * (HEIGHT + 1) - 1, 20 * (WIDTH + 1) - 1)
    np.testing.assert_allclose(
        mosaic[HEIGHT + 1 : 2 * HEIGHT + 1, 0:WIDTH], ds.weights.values[20].reshape(HEIGHT, WIDTH)
    )
    assert "400 neurons" in figure.axes[0].get_title()
    paths = style.save(figure, tmp_path, "big", formats=("png",))
    assert paths[0].stat().st_size > 0


def test_weight_images_without_image_attrs_is_a_heatmap(ds):
    del ds.attrs["image_height"], ds.attrs["image_width"]
    figure = weight_images(ds)
    (ax,) = image_axes(figure)
    assert ax.get_images()[0].get_array().shape == (N_NEURONS, HEIGHT * WIDTH)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("input", "output neuron")


def test_weight_images_rejects_wrong_image_shape(ds):
    ds.attrs["image_height"] = 7
    with pytest.raises(BrainsnnError, match="image_height x image_width = 7 x 8 = 56"):
        weight_images(ds)


def test_membrane_trace_lines_thresholds_and_sample_separators(ds):
    figure = membrane_trace(ds)
    (ax,) = figure.axes
    assert ax.get_xlabel() == "time (ms)"
    assert ax.get_ylabel() == "membrane potential (mV)"
    assert ax.get_title()
    lines = ax.get_lines()
    solid = [line for line in lines if line.get_linestyle() == "-" and len(line.get_xdata()) > 2]
    dashed = [line for line in lines if line.get_linestyle() == "--"]
    assert len(solid) == len(dashed) == len(TRACE_NEURONS)
    assert [line.get_color() for line in solid] == [line.get_color() for line in dashed]
    assert len({line.get_color() for line in solid}) == len(TRACE_NEURONS)
    np.testing.assert_allclose(solid[1].get_ydata(), ds.trace_v.values[1])
    np.testing.assert_allclose(dashed[0].get_ydata(), -52.0)
    assert [line.get_label() for line in solid] == [f"n{i}" for i in TRACE_NEURONS]
    # one separator, where trace_sample switches from 0 to 1 (halfway)
    separators = [line for line in lines if len(set(np.atleast_1d(line.get_xdata()))) == 1]
    assert len(separators) == 1
    assert separators[0].get_xdata()[0] == (N_TRACE // 2) * TRACE_DT_MS


def test_membrane_trace_without_threshold_or_sample(ds):
    ds = ds.drop_vars(["trace_threshold", "trace_sample"])
    (ax,) = membrane_trace(ds).axes
    assert len(ax.get_lines()) == len(TRACE_NEURONS)
    assert all(line.get_linestyle() == "-" for line in ax.get_lines())


def test_class_response_grouped_bars(ds):
    (ax,) = [ax for ax in class_response_bars(ds).axes if ax.get_legend() is not None]
    assert ax.get_ylabel() == "mean spikes per sample"
    assert ax.get_xlabel() == "class"
    assert ax.get_title()
    heights = sorted(patch.get_height() for patch in ax.patches)
    assert len(heights) == N_NEURONS * N_CLASSES
    np.testing.assert_allclose(heights, np.sort(ds.class_response.values.ravel()))
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        f"n{i}" for i in range(N_NEURONS)
    ]


def test_class_response_heatmap_for_many_neurons():
    ds = make_dataset(12)
    figure = class_response_bars(ds)
    (ax,) = image_axes(figure)
    assert ax.get_images()[0].get_array().shape == (12, N_CLASSES)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("class", "output neuron")
    colorbar = next(ax for ax in figure.axes if ax.get_label() == "<colorbar>")
    assert colorbar.get_ylabel() == "mean spikes per sample"


def test_assignment_summary_counts_with_none_bar(ds):
    (ax,) = assignment_summary(ds).axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2", "none"]
    assert [patch.get_height() for patch in ax.patches] == [1, 2, 1, 1]
    assert ax.get_ylabel() == "neurons"
    assert ax.get_xlabel() == "class"
    assert "5 neurons" in ax.get_title()


def test_assignment_summary_classes_from_assignment_without_class_response(ds):
    ds = ds.drop_vars("class_response")
    ds["assignment"] = ("output_neuron", np.array([0, 0, 1, -1, -1]))
    (ax,) = assignment_summary(ds).axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "none"]
    assert [patch.get_height() for patch in ax.patches] == [2, 1, 2]


def test_test_accuracy_table(ds):
    table = test_accuracy_table(ds)
    mean, std = np.mean(TEST_ACCURACY), np.sqrt(np.mean((np.array(TEST_ACCURACY) - 0.875) ** 2))
    assert f"| test accuracy | {mean:.4f} ± {std:.4f} | {N_REPEATS} |" in table
    assert "0.8750 ± 0.1250" in table
    assert table.startswith("| metric | mean ± std | repeats |")


def test_registry_available(ds):
    assert registry.available(ds) == FIGURE_NAMES
    assert registry.available(ds.drop_vars(["trace_v", "trace_threshold"])) == [
        "weights",
        "class_response",
        "assignment",
        "confusion",
    ]
    assert registry.available(xr.Dataset({"x": ("a", [1])})) == []
    assert all(spec.size in style.SIZES for spec in registry.FIGURES.values())


# --- the command ----------------------------------------------------------------------------------


def test_figures_command_writes_every_figure_and_the_table(run_dir, tmp_path):
    out = tmp_path / "figs"
    result = invoke("figures", run_dir, "--out", out)
    assert result.exit_code == 0, result.output
    expected = [out / f"run1_{name}.{ext}" for name in FIGURE_NAMES for ext in ("pdf", "png")]
    expected += [out / "run1_accuracy.md", out / "run1_accuracy.tex"]
    for path in expected:
        assert path.is_file() and path.stat().st_size > 0, path
    assert sorted(out.iterdir()) == sorted(expected)
    assert result.output.splitlines() == [str(path) for path in expected]
    text = (out / "run1_accuracy.md").read_text(encoding="utf-8")
    values = 100 * np.array(TEST_ACCURACY)
    mean, std = values.sum() / values.size, np.sqrt(((values - values.mean()) ** 2).mean())
    assert text.startswith("**Accuracy of run1**\n")
    assert f"| test | {mean:.2f} ± {std:.2f} | {values.size} |" in text
    latex = (out / "run1_accuracy.tex").read_text(encoding="utf-8")
    assert rf"test & {mean:.2f} $\pm$ {std:.2f} & {values.size} \\" in latex


def test_figures_command_accepts_the_results_file(run_dir, tmp_path):
    out = tmp_path / "figs"
    result = invoke("figures", run_dir / "results.nc", "--out", out, "--only", "assignment")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["run1_assignment.pdf", "run1_assignment.png"]


def test_figures_command_only_weights_png(run_dir, tmp_path):
    out = tmp_path / "figs"
    result = invoke("figures", run_dir, "--out", out, "--only", "weights", "--format", "png")
    assert result.exit_code == 0, result.output
    assert [p.name for p in out.iterdir()] == ["run1_weights.png"]
    assert result.output.strip() == str(out / "run1_weights.png")


def test_figures_command_two_runs_and_400_neurons(tmp_path):
    small = write_run(tmp_path / "small", make_dataset())
    big = write_run(tmp_path / "big", make_dataset(400))
    out = tmp_path / "figs"
    result = invoke("figures", small, big, "--out", out, "--format", "png,svg", "--only", "weights")
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == ["big_weights.png", "big_weights.svg", "small_weights.png", "small_weights.svg"]
    assert all(p.stat().st_size > 0 for p in out.iterdir())


def test_figures_command_skips_figures_without_their_variables(tmp_path):
    run = write_run(tmp_path / "partial", make_dataset()[["weights", "assignment"]])
    out = tmp_path / "figs"
    result = invoke("figures", run, "--out", out, "--format", "png")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "partial_assignment.png",
        "partial_weights.png",
    ]


def test_figures_command_missing_directory(tmp_path):
    missing = tmp_path / "nope"
    assert_clean_error(invoke("figures", missing, "--out", tmp_path / "o"), "no results.nc in")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_clean_error(
        invoke("figures", empty, "--out", tmp_path / "o"), f"no results.nc in {empty}"
    )
    assert not (tmp_path / "o").exists()


def test_figures_command_unknown_only_and_format(run_dir, tmp_path):
    out = tmp_path / "o"
    assert_clean_error(
        invoke("figures", run_dir, "--out", out, "--only", "weight"),
        "unknown figure 'weight'",
        f"choose from {', '.join([*registry.FIGURES, 'accuracy'])}",
    )
    assert_clean_error(
        invoke("figures", run_dir, "--out", out, "--format", "pdf,jpg"),
        "unknown format 'jpg'",
        "pdf, png, svg",
    )
    assert not out.exists()


def test_figures_command_unreadable_file(tmp_path):
    run = tmp_path / "broken"
    run.mkdir()
    (run / "results.nc").write_bytes(b"this is not netCDF")
    assert_clean_error(invoke("figures", run, "--out", tmp_path / "o"), "cannot read", "broken")


def test_figures_command_nothing_applicable(tmp_path):
    run = write_run(tmp_path / "other", xr.Dataset({"epoch_wall_time": ("epoch", [0.5, 0.6])}))
    assert_clean_error(
        invoke("figures", run, "--out", tmp_path / "o"),
        "results.nc has none of the variables these figures need: weights, trace_v",
    )


def test_figures_command_only_figure_missing_its_variables(tmp_path):
    run = write_run(tmp_path / "partial", make_dataset()[["weights"]])
    assert_clean_error(
        invoke("figures", run, "--out", tmp_path / "o", "--only", "trace"),
        "figure 'trace' needs variable(s) trace_v",
    )


def test_figures_command_same_run_name_twice(tmp_path, ds):
    first = write_run(tmp_path / "a" / "run", ds)
    second = write_run(tmp_path / "b" / "run", ds)
    assert_clean_error(
        invoke("figures", first, second, "--out", tmp_path / "o"), "same run name 'run'"
    )


def test_figures_help_documents_every_option_and_figure():
    result = invoke("figures", "--help")
    assert result.exit_code == 0
    for text in ["--out", "--format", "--only", "pdf, png", "svg", "RESULTS", "accuracy"]:
        assert text in result.output, text
    for name, spec in registry.FIGURES.items():
        assert name in result.output
        assert all(variable in result.output for variable in spec.requires)
    assert "figures" in invoke("--help").output


def test_figures_never_import_brian2(run_dir, readout_run, tmp_path):
    """Plotting reads saved datasets only: the command and the functions never load Brian2.

    The command draws every unsupervised and readout figure (and the tables) here.
    """
    script = textwrap.dedent(
        f"""
        import json, sys
        import xarray as xr
        from click.testing import CliRunner
        from brainsnn.cli import main
        import brainsnn.figures as figures
        result = CliRunner().invoke(main, ["figures", {str(run_dir)!r}, {str(readout_run)!r},
                                           "--out", {str(tmp_path / "sub")!r}, "--format", "png"])
        ds = xr.load_dataset({str(run_dir / "results.nc")!r})
        for make in (figures.weight_images, figures.membrane_trace,
                     figures.class_response_bars, figures.assignment_summary):
            make(ds)
        figures.test_accuracy_table(ds)
        print(json.dumps({{"exit_code": result.exit_code, "output": result.output,
                          "brian2": sorted(m for m in sys.modules if m.split(".")[0] == "brian2"),
                          "pyplot": "matplotlib.pyplot" in sys.modules}}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["exit_code"] == 0, report["output"]
    assert report["brian2"] == []
    assert not report["pyplot"]  # no pyplot state: Figure objects only
    drawn = len(FIGURE_NAMES) + len(READOUT_FIGURES) + 2 * 2  # figures, then .md and .tex each
    assert len(list((tmp_path / "sub").iterdir())) == drawn


# --- readout figures from a tiny real run ---------------------------------------------------------


@pytest.fixture(scope="module")
def readout_run(build_root, tmp_path_factory) -> Path:
    """A tiny NCG run on digits (runtime device: nothing to compile), 2 epochs, 30 test samples."""
    from brainsnn.protocol import load_protocol
    from brainsnn.run import run_protocol

    protocol = load_protocol(DIGITS, [*TINY_READOUT, f"device.build_dir={build_root}"])
    out = tmp_path_factory.mktemp("readout") / "ncg_tiny"
    run_protocol(protocol, out=str(out), show_progress=False)
    return out


@pytest.fixture
def readout_ds(readout_run) -> xr.Dataset:
    return open_results(readout_run)


def test_readout_figures_command_draws_every_readout_figure_and_the_tables(readout_run, tmp_path):
    out = tmp_path / "figs"
    result = invoke("figures", readout_run, "--out", out, "--format", "png")
    assert result.exit_code == 0, result.output
    expected = [out / f"ncg_tiny_{name}.png" for name in READOUT_FIGURES]
    expected += [out / "ncg_tiny_accuracy.md", out / "ncg_tiny_accuracy.tex"]
    assert result.output.splitlines() == [str(path) for path in expected]
    assert all(path.stat().st_size > 0 for path in expected)
    with Image.open(out / "ncg_tiny_raster.png") as image:
        assert image.width > image.height  # two-column figure
    run = open_results(readout_run)
    markdown = (out / "ncg_tiny_accuracy.md").read_text(encoding="utf-8")
    assert f"| test | {100 * float(run.test_accuracy[-1]):.2f} |" in markdown
    assert r"\begin{tabular}{lr}" in (out / "ncg_tiny_accuracy.tex").read_text(encoding="utf-8")


def test_learning_curves_of_a_run_and_of_folds(readout_ds):
    (ax,) = readout.learning_curves(readout_ds).axes
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("epoch", "accuracy (%)")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train", "validation", "test"]
    np.testing.assert_allclose(ax.get_lines()[2].get_ydata(), 100 * readout_ds.test_accuracy)
    shorter = readout_ds.isel(epoch=slice(0, 1))
    folds = xr.concat(
        [readout_ds.expand_dims(fold=[0]), shorter.expand_dims(fold=[1])], "fold", join="outer"
    )
    (ax,) = readout.learning_curves(folds).axes
    assert "mean ± std over 2 folds" in ax.get_title()
    assert len(ax.collections) == 3  # one std band per curve
    mean = 100 * folds.test_accuracy.mean("fold", skipna=True).values
    np.testing.assert_allclose(ax.get_lines()[2].get_ydata(), mean)


def test_confusion_heatmap_matches_the_confusion_matrix(readout_ds):
    figure = readout.confusion_heatmap(readout_ds)
    (ax,) = image_axes(figure)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted class", "true class")
    counts = confusion_matrix(readout_ds).values
    assert counts.sum() == readout_ds.sizes["test_sample"]
    np.testing.assert_allclose(ax.get_images()[0].get_array(), counts / counts.sum(1, keepdims=1))
    assert sum(int(text.get_text()) for text in ax.texts) == counts.sum()
    correct = int((readout_ds.test_prediction == readout_ds.test_label).sum())
    assert f"({correct}/{counts.sum()} correct)" in ax.get_title()
    colorbar = next(ax for ax in figure.axes if ax.get_label() == "<colorbar>")
    assert colorbar.get_ylabel() == "fraction of the true class"


def test_first_spike_raster_one_sample_per_class_with_winners(readout_ds):
    (ax,) = readout.first_spike_raster(readout_ds).axes
    assert ax.get_xlabel().startswith("first-spike time in each test sample's window")
    assert ax.get_ylabel() == "output neuron (class group)"
    labels = readout_ds.test_label.values
    samples = readout.raster_samples(readout_ds)
    assert labels[samples].tolist() == sorted(set(labels.tolist()))
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    predictions = readout_ds.test_prediction.values[samples]
    assert ticks == [f"{y}→{p}" for y, p in zip(labels[samples], predictions, strict=True)]
    times = readout_ds.test_first_spike_time.values[samples]
    dots = sum(len(c.get_offsets()) for c in ax.collections if c.get_sizes()[0] < 40)
    assert dots == int((times < 1).sum())
    assert [t.get_text() for t in ax.get_legend().get_texts()][-1] == "winner"


def test_first_spike_times_heatmap_per_class_with_medians(readout_ds):
    figure = readout.first_spike_times(readout_ds)
    (ax,) = image_axes(figure)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("first output spike (T; 1 = none)", "true class")
    fractions = first_spike_distribution(readout_ds, normalize=True)
    np.testing.assert_allclose(ax.get_images()[0].get_array(), fractions.values)
    assert fractions.sizes["time"] == 17  # digits: 16 input steps, times 0..1 in steps of 1/16
    times, labels = decision_times(readout_ds).values, readout_ds.test_label.values
    (medians,) = ax.collections
    classes = sorted(set(labels.tolist()))
    np.testing.assert_allclose(
        medians.get_offsets()[:, 0], [np.median(times[labels == c]) for c in classes]
    )
    colorbar = next(ax for ax in figure.axes if ax.get_label() == "<colorbar>")
    assert colorbar.get_ylabel() == "fraction of the class"


def test_neuron_thresholds_grouped_by_class(readout_ds):
    (ax,) = readout.neuron_thresholds(readout_ds).axes
    assert ax.get_xlabel() == "output neuron (class group)"
    assert ax.get_ylabel() == "threshold (weight units)"
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(c) for c in range(10)]
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), readout_ds.test_threshold)
    points = np.concatenate([c.get_offsets()[:, 1] for c in ax.collections])
    np.testing.assert_allclose(np.sort(points), np.sort(readout_ds.training_threshold.values))
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["test threshold", "training threshold", "training threshold, non-target"]


def test_neuron_wins_count_every_test_sample(readout_ds):
    (ax,) = readout.neuron_wins(readout_ds).axes
    assert (ax.get_xlabel(), ax.get_ylabel()) == (
        "output neuron (class group)",
        "test samples decided",
    )
    heights = np.array([patch.get_height() for patch in ax.patches])
    assert heights.sum() == readout_ds.sizes["test_sample"]
    wins = win_counts(readout_ds)
    own = heights[: wins.sizes["output_neuron"]]  # first the own-class bars, neuron order
    correct = int((readout_ds.test_prediction == readout_ds.test_label).sum())
    assert own.sum() == correct


def test_competition_over_training_shows_win_shares_and_threshold_trajectories(readout_ds):
    wins_ax, threshold_ax, _colorbar = readout.competition_over_training(readout_ds).axes
    shares = wins_ax.get_images()[0].get_array()
    assert shares.shape == (readout_ds.sizes["epoch"], readout_ds.sizes["output_neuron"])
    np.testing.assert_allclose(shares.sum(axis=1), 100)  # each epoch's samples are all won
    assert wins_ax.get_ylabel() == "epoch"
    lines = threshold_ax.get_lines()
    assert len(lines) == 10  # one per class group
    thresholds = readout_ds.epoch_training_threshold
    targets = readout_ds.neuron_nontarget == 0
    for group, line in enumerate(lines):
        members = thresholds.where((readout_ds.neuron_class == group) & targets, drop=True)
        np.testing.assert_allclose(line.get_ydata(), members.mean("output_neuron"))


def test_kfold_and_grid_directories_give_accuracy_tables(tmp_path):
    kfold = tmp_path / "kf"
    kfold.mkdir()
    xr.Dataset(
        {"test_accuracy": ("fold", [0.9, 0.8]), "validation_accuracy": ("fold", [1.0, 0.9])},
        coords={"fold": [0, 1]},
    ).to_netcdf(kfold / "summary.nc")
    grid = tmp_path / "gs"
    grid.mkdir()
    xr.Dataset(
        {"test_accuracy": ("point", [0.7, 0.8]), "validation_accuracy": ("point", [0.7, 0.9])},
        coords={"point": [0, 1], "gap": ("point", [0.1, 0.2])},
        attrs={"swept_keys": "gap"},
    ).to_netcdf(grid / "summary.nc")
    out = tmp_path / "figs"
    result = invoke("figures", kfold, grid, "--out", out)
    assert result.exit_code == 0, result.output
    names = ["kf_accuracy.md", "kf_accuracy.tex", "gs_accuracy.md", "gs_accuracy.tex"]
    assert result.output.splitlines() == [str(out / name) for name in names]
    assert "| test | 85.00 ± 5.00 | 2 |" in (out / "kf_accuracy.md").read_text(encoding="utf-8")
    grid_md = (out / "gs_accuracy.md").read_text(encoding="utf-8")
    assert "| rank | point | gap | validation (%) | test (%) | epochs |" in grid_md
    assert "| 1 | 1 | 0.2 | 90.00 | 80.00 | – |" in grid_md
    assert r"1 & 1 & 0.2 & 90.00 & 80.00 & -- \\" in (out / "gs_accuracy.tex").read_text()
