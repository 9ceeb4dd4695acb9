"""The exact time grid (``encoding.time_steps: exact``): continuous input times, no flooring.

Step k of a sample is its k-th distinct input spike time, so the compiled readout must equal the
event-driven NumPy oracle run on the untouched float times, where any uniform grid does not.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from brainsnn.cli import main
from brainsnn.data import convert_features, rank_times
from brainsnn.protocol import load_protocol
from brainsnn.readout import reference
from brainsnn.readout.crosscheck import oracle_training
from brainsnn.readout.data import encode_rows_exact, prepare_data, set_silent_step
from brainsnn.run import run_protocol

ROOT = Path(__file__).resolve().parent.parent
N_TRAIN, N_TEST, N_FEATURES = 150, 60, 16


def test_ranks_keep_the_order_and_ties_of_each_sample():
    times = np.array(
        [[0.3, 0.1, 1.0, 0.3, 0.25], [1.0, 1.0, 1.0, 1.0, 1.0], [0.7, 0.0, 0.7, 2.0, 0.0]]
    )
    ranks, counts, distinct = rank_times(times)
    np.testing.assert_array_equal(ranks, [[2, 0, -1, 2, 1], [-1] * 5, [1, 0, 1, -1, 0]])
    np.testing.assert_array_equal(counts, [3, 0, 2])
    np.testing.assert_array_equal(distinct, [0.1, 0.25, 0.3, 0.0, 0.7])


def test_ranks_of_random_times_order_every_pair_as_the_times_do(rng):
    times = np.round(rng.random((20, 30)) * 1.2, 2)  # ties, and silent inputs (>= 1)
    ranks, counts, distinct = rank_times(times)
    for row, rank in zip(times, ranks, strict=True):
        firing = row < 1
        a, b = row[firing], rank[firing]
        np.testing.assert_array_equal(
            np.sign(a[:, None] - a[None, :]), np.sign(b[:, None] - b[None, :])
        )
        assert (rank[~firing] == -1).all()
    np.testing.assert_array_equal(counts, [len(np.unique(r[r < 1])) for r in times])
    assert len(distinct) == counts.sum()


@pytest.fixture(scope="module")
def continuous_features(tmp_path_factory) -> Path:
    """Train and test SpikingDataset files of float times, with ties and silent features; 3
    classes whose features fire earlier in their own third of the inputs."""
    folder = tmp_path_factory.mktemp("continuous")
    rng = np.random.default_rng(7)
    for name, n in (("train", N_TRAIN), ("test", N_TEST)):
        labels = np.arange(n) % 3
        times = rng.random((n, N_FEATURES)) * 0.9 + 0.1
        own = np.arange(N_FEATURES)[None, :] * 3 // N_FEATURES == labels[:, None]
        times[own] *= 0.5  # the class's own features come first
        times[:, 1] = times[:, 0]  # ties
        times[rng.random(times.shape) < 0.15] = 1.0  # silent
        np.save(folder / f"{name}_x.npy", times)
        np.save(folder / f"{name}_y.npy", labels)
        convert_features(folder / f"{name}_x.npy", folder / f"{name}_y.npy", folder / f"{name}.npy")
    return folder


def exact_protocol(folder: Path, build_root: Path, device: str, steps: str = "exact"):
    return load_protocol(ROOT / "protocols" / "ncg_digits.yaml", [
        "data.source=spikingdataset", f"data.train_file={folder / 'train.npy'}",
        f"data.test_file={folder / 'test.npy'}", "data.train_subset=null",
        "data.test_subset=null", f"encoding.time_steps={steps}", "training.chunk_size=50",
        "training.max_epochs=3", "training.patience=0", "network.parameters.theta0=2.0",
        "network.parameters.gap=0.002", f"device.name={device}", f"device.build_dir={build_root}",
    ])  # fmt: skip


def test_the_exact_grid_keeps_every_input_time(continuous_features, build_root):
    data = prepare_data(exact_protocol(continuous_features, build_root, "cpp"))
    given = np.load(continuous_features / "test_x.npy").astype(np.float32)  # as the file holds
    assert data.exact_times and data.time_steps == max(len(np.unique(r[r < 1])) for r in given)
    np.testing.assert_array_equal(data.test.times(data.time_steps), given.astype(np.float64))
    assert data.test.step_times.values.dtype == np.float32  # float32 times are kept as such


def test_times_float32_cannot_hold_stay_float64(rng):
    times = rng.random((4, 6))
    split = encode_rows_exact(times, np.arange(4))
    assert split.step_times.values.dtype == np.float64
    set_silent_step(split.input_steps, 6)
    np.testing.assert_array_equal(split.times(6), times)


@pytest.mark.standalone
def test_training_on_the_exact_grid_equals_the_oracle_on_float_times(
    continuous_features, build_root, tmp_path
):
    protocol = exact_protocol(continuous_features, build_root, "cpp")
    ours = run_protocol(protocol, out=str(tmp_path / "cpp"), show_progress=False).dataset
    data = prepare_data(protocol)
    oracle = oracle_training(protocol, data, chunk_size=50)
    np.testing.assert_array_equal(ours.train_accuracy.values, oracle.train_acc)
    np.testing.assert_array_equal(ours.test_accuracy.values, oracle.test_acc)
    np.testing.assert_allclose(ours.weights.values, oracle.weights, atol=1e-12)
    times = data.test.times(data.time_steps)
    for sample in range(5):  # first-spike times are the inputs' float times
        t_out, _ = reference.forward(times[sample], oracle.weights, oracle.theta_test)
        np.testing.assert_allclose(ours.test_first_spike_time.values[sample], t_out, atol=1e-12)
    assert not np.allclose(ours.weights.values, ours.weights.values.mean())  # it learned

    runtime = run_protocol(
        exact_protocol(continuous_features, build_root, "runtime"), out=str(tmp_path / "runtime"),
        show_progress=False,
    ).dataset  # fmt: skip
    np.testing.assert_array_equal(runtime.test_prediction, ours.test_prediction)
    np.testing.assert_allclose(runtime.weights, ours.weights, atol=1e-12)


def test_a_uniform_grid_would_have_trained_differently(continuous_features, build_root):
    """The comparison above can fail: flooring these times onto 10 steps changes the training."""
    exact = oracle_training(
        exact_protocol(continuous_features, build_root, "cpp"),
        prepare_data(exact_protocol(continuous_features, build_root, "cpp")),
        chunk_size=50,
    )
    grid_protocol = exact_protocol(continuous_features, build_root, "cpp", steps="10")
    floored = oracle_training(grid_protocol, prepare_data(grid_protocol), chunk_size=50)
    assert not np.allclose(exact.weights, floored.weights, atol=1e-6)


def test_digits_on_the_exact_grid_equal_their_lossless_uniform_grid(tmp_path, build_root):
    """Digits have 16 intensity levels: the exact grid and 16 uniform steps give one run, also
    when the test pass runs 3 samples side by side (lanes: each its own step times)."""
    runs = {}
    for name, steps, lanes in (("exact", "exact", 1), ("16", "16", 1), ("lanes", "exact", 3)):
        protocol = load_protocol(ROOT / "protocols" / "ncg_digits.yaml", [
            "data.train_subset=120", "data.test_subset=40", "training.chunk_size=40",
            "training.max_epochs=1", f"encoding.time_steps={steps}", "device.name=runtime",
            f"training.evaluation_lanes={lanes}", f"device.build_dir={build_root}",
        ])  # fmt: skip
        runs[name] = run_protocol(protocol, out=str(tmp_path / name), show_progress=False).dataset
    assert runs["exact"].attrs["exact_time_grid"] == 1 and runs["16"].attrs["exact_time_grid"] == 0
    for name in ("exact", "lanes"):
        for variable in ("test_prediction", "weights", "test_first_spike_time", "test_potential"):
            np.testing.assert_array_equal(runs[name][variable], runs["16"][variable])


@pytest.mark.parametrize("command", ["run", "validate"])
def test_a_leaky_neuron_on_the_exact_grid_is_a_one_line_error(command, tmp_path):
    models = ("inputs/ttfs, neurons/lif_single_spike, synapses/delta, decision/first_spike, "
              "competition/ncg, rules/s2stdp, regulation/cr2")  # fmt: skip
    arguments = [command, str(ROOT / "protocols" / "ncg_digits.yaml"), "--set",
                 "encoding.time_steps=exact", "--set", f"network.models=[{models}]"]  # fmt: skip
    if command == "run":
        arguments += ["--out", str(tmp_path / "run")]
    result = CliRunner().invoke(main, arguments, catch_exceptions=False)
    assert result.exit_code != 0
    assert "encoding.time_steps: exact" in result.output
    assert "neurons/if_single_spike" in result.output and "Traceback" not in result.output
