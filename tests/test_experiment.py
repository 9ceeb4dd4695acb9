"""Whole protocols: training against the oracle, runtime vs cpp_standalone, resume, results.nc."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from brainsnn.cli import main
from brainsnn.protocol import load_protocol
from brainsnn.readout import backend as backends
from brainsnn.readout.crosscheck import oracle_training
from brainsnn.readout.data import prepare_data
from brainsnn.readout.results import READOUT_VARIABLES as VARIABLES
from brainsnn.run import run_protocol

pytestmark = pytest.mark.standalone
ROOT = Path(__file__).resolve().parent.parent
DIGITS = ROOT / "protocols" / "ncg_digits.yaml"
TINY = [
    "data.train_subset=150",
    "data.test_subset=60",
    "training.chunk_size=50",
    "training.max_epochs=2",
    "training.patience=0",
    "recording.traces={neurons: [0, 5], samples: 2}",
]


def protocol(build_root: Path, *overrides: str):
    return load_protocol(DIGITS, [f"device.build_dir={build_root}", *overrides])


def test_digits_training_matches_oracle(build_root, tmp_path):
    """Acceptance: same split, seed and initial weights -> test accuracy within 1 point."""
    proto = protocol(build_root, "training.max_epochs=4")
    outcome = run_protocol(proto, out=str(tmp_path / "run"), show_progress=False)
    oracle = oracle_training(proto, prepare_data(proto), 4)
    ours = outcome.dataset
    assert abs(float(ours.test_accuracy[-1]) - oracle.test_acc[-1]) <= 0.01
    # Stronger than the acceptance bound: the whole trajectory agrees.
    np.testing.assert_allclose(ours.train_accuracy.values, oracle.train_acc, atol=0.01)
    np.testing.assert_allclose(ours.weights.values, oracle.weights, atol=1e-6)
    assert float(ours.test_accuracy[-1]) > 0.8  # it really learns


@pytest.fixture(scope="module")
def tiny_runs(build_root, tmp_path_factory):
    """The tiny protocol on runtime and on cpp_standalone."""
    out = tmp_path_factory.mktemp("tiny")
    return {
        device: run_protocol(
            protocol(build_root, *TINY, f"device.name={device}"),
            out=str(out / device),
            show_progress=False,
        )
        for device in ("runtime", "cpp")
    }


def test_runtime_and_cpp_give_the_same_decisions(tiny_runs):
    runtime, cpp = tiny_runs["runtime"].dataset, tiny_runs["cpp"].dataset
    np.testing.assert_array_equal(runtime.test_prediction, cpp.test_prediction)
    np.testing.assert_array_equal(runtime.train_accuracy, cpp.train_accuracy)
    np.testing.assert_allclose(runtime.weights, cpp.weights, atol=1e-12)
    np.testing.assert_allclose(runtime.test_first_spike_time, cpp.test_first_spike_time)
    np.testing.assert_allclose(runtime.trace_v, cpp.trace_v, atol=1e-12)
    np.testing.assert_array_equal(runtime.train_wins, cpp.train_wins)


@pytest.mark.parametrize("device", ["runtime", "cpp"])
def test_profiled_run_writes_the_time_of_each_code_object(build_root, tmp_path, tiny_runs, device):
    """``--profile``: Brian2's per-code-object times summed over the run, the results unchanged."""
    out = tmp_path / "profiled"
    result = CliRunner().invoke(
        main,
        ["run", str(DIGITS), "--out", str(out), "--quiet", "--profile"]
        + [f"--set={item}" for item in (f"device.build_dir={build_root}", *TINY)]
        + [f"--set=device.name={device}"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert f"profile: {out / 'profile.txt'}" in result.output
    lines = (out / "profile.txt").read_text().splitlines()
    # chunks of 50: each of the 2 epochs runs 135 training, 15 validation and 60 test samples
    assert "over 12 chunk run(s)" in lines[0]
    rows = {line.split()[-1]: float(line.split()[0]) for line in lines[2:]}
    source = "input_spikes" + ("_codeobject" if device == "cpp" else "")  # event-driven inputs
    assert rows[source] > 0
    assert not any(name.startswith("inputs_spike_thresholder") for name in rows)
    assert list(rows.values()) == sorted(rows.values(), reverse=True)
    profiled, plain = xr.open_dataset(out / "results.nc"), tiny_runs[device].dataset
    np.testing.assert_array_equal(profiled.test_prediction, plain.test_prediction)
    np.testing.assert_array_equal(profiled.weights, plain.weights)
    if device == "cpp":  # a build of its own, beside the plain one
        builds = {path.name for path in build_root.glob("cpp_standalone-*")}
        assert {f"{name}-profiled" for name in builds} & builds


def test_training_wins_and_thresholds_are_recorded_per_epoch(tiny_runs):
    data = tiny_runs["cpp"].dataset
    assert data.train_wins.dims == ("epoch", "output_neuron")
    n_train = 150 - 15  # train_subset minus the 10 % validation split
    np.testing.assert_array_equal(data.train_wins.sum("output_neuron"), [n_train, n_train])
    assert (data.train_wins.values >= 0).all()
    thresholds = data.epoch_training_threshold
    np.testing.assert_allclose(thresholds[-1], data.training_threshold)
    assert not np.allclose(thresholds[0], thresholds[-1])  # CR-2 moved them in epoch 2


def test_membrane_traces_agree_with_the_per_sample_records(tiny_runs):
    """Traced v passes through the recorded potential at the first spike; theta is the test one."""
    data = tiny_runs["cpp"].dataset
    assert data.trace_v.dims == ("trace_neuron", "trace_time")
    assert data.trace_time.attrs["units"] == "ms"
    assert data.trace_neuron.values.tolist() == [0, 5]
    assert sorted(set(data.trace_sample.values.tolist())) == [0, 1]
    steps = data.sizes["trace_time"] // 2
    for neuron in (0, 5):
        trace = data.trace_v.sel(trace_neuron=neuron).values
        threshold = data.trace_threshold.sel(trace_neuron=neuron).values
        np.testing.assert_allclose(threshold, float(data.test_threshold[neuron]))
        for sample in (0, 1):
            window = trace[sample * steps : (sample + 1) * steps]
            potential = float(data.test_potential[sample, neuron])
            assert np.isclose(window, potential, rtol=1e-9).any()
            fired = float(data.test_first_spike_time[sample, neuron]) < 1
            assert fired == bool((window > threshold[0]).any())


def test_results_file_is_self_describing(tiny_runs):
    path = tiny_runs["cpp"].directory / "results.nc"
    records = load_protocol(tiny_runs["cpp"].directory / "protocol.yaml").resolved.records()
    assert {"weights", "test_threshold", "training_threshold"} <= set(records)  # model files'
    catalog = {**VARIABLES, **records}
    with xr.open_dataset(path) as data:
        for name, variable in data.data_vars.items():
            declared = catalog[name].units or "1"  # traces: "1" (weight units) or "mV"
            assert variable.attrs["units"] == declared
            assert variable.attrs["long_name"]
        assert data.sizes["epoch"] == 2
        assert data.epoch.values.tolist() == [1, 2]
        assert data.sizes["test_sample"] == 60
        assert data.test_first_spike_time.dims == ("test_sample", "output_neuron")
        assert data.trace_v.attrs["units"] == "1"  # weight units (a voltage would be mV)
        for key in (
            "brian2_version",
            "numpy_version",
            "device",
            "seed",
            "git_revision",
            "wall_time_s",
            "mean_train_samples_per_second",
        ):
            assert key in data.attrs
        assert data.attrs["device"] == "cpp_standalone"
        predictions = data.test_prediction.values
        assert np.mean(predictions == data.test_label.values) == pytest.approx(
            float(data.test_accuracy[-1])
        )
    run_dir = tiny_runs["cpp"].directory
    assert (run_dir / "protocol.yaml").is_file()
    assert "epoch 2" in (run_dir / "run.log").read_text()


def test_interrupted_run_resumes_from_last_chunk(build_root, tmp_path, tiny_runs, monkeypatch):
    """Kill the run in epoch 2 after a chunk; --resume finishes it with identical results."""
    proto = protocol(build_root, *TINY, "device.name=cpp")
    original = backends.StandaloneBackend.run_chunk
    calls = {"n": 0}

    def interrupted(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 7:  # epoch 1 = 3 train + 1 validation + 2 test chunks; then 1 train
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(backends.StandaloneBackend, "run_chunk", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_protocol(proto, out=str(tmp_path / "run"), show_progress=False)
    monkeypatch.setattr(backends.StandaloneBackend, "run_chunk", original)
    resumed = run_protocol(proto, out=str(tmp_path / "run"), resume=True, show_progress=False)
    reference_run = tiny_runs["cpp"].dataset
    np.testing.assert_allclose(resumed.dataset.weights, reference_run.weights, atol=1e-12)
    np.testing.assert_array_equal(resumed.dataset.test_prediction, reference_run.test_prediction)
    np.testing.assert_array_equal(resumed.dataset.train_accuracy, reference_run.train_accuracy)


def test_leaky_neuron_decays_only_during_the_input_window(build_root, tmp_path):
    """LIF model: one input at step 0 then silence -> v = w exp(-(L-1) dt / tau) when recorded."""
    models = [
        "inputs/ttfs",
        "neurons/lif_single_spike",
        "synapses/delta",
        "decision/first_spike",
        "competition/ncg",
        "rules/s2stdp",
        "regulation/cr2",
    ]
    proto = protocol(
        build_root,
        *TINY,
        "device.name=runtime",
        "training.max_epochs=1",
        f"network.models={models}",
        "network.parameters.tau_leak=0.5",
        "network.parameters.theta0=1000",
    )
    outcome = run_protocol(proto, out=str(tmp_path / "lif"), show_progress=False)
    data = prepare_data(proto)
    steps = data.time_steps
    weights = outcome.dataset.weights.values  # no neuron fires: weights of silent neurons move,
    # but the potential at the test pass only depends on the final weights and the inputs.
    first = data.test.input_steps[0]
    decay = np.exp(-(steps - 1 - first) / steps / 0.5)
    decay[first >= steps] = 0.0
    expected = weights @ decay
    np.testing.assert_allclose(outcome.dataset.test_potential.values[0], expected, rtol=1e-9)


def test_evaluation_lanes_change_nothing_but_the_build(build_root, tmp_path, tiny_runs):
    """Validation and test passes in 7 lanes (chunks of 56 samples, so the 60 test samples end
    in a chunk of padding) give the one-lane run's records exactly."""
    overrides = [*TINY, "device.name=runtime", "recording.traces=null"]
    lanes = run_protocol(
        protocol(build_root, *overrides, "training.evaluation_lanes=7"),
        out=str(tmp_path / "lanes"),
        show_progress=False,
    ).dataset
    one = tiny_runs["runtime"].dataset
    for name in ("train_accuracy", "validation_accuracy", "test_accuracy", "test_prediction"):
        np.testing.assert_array_equal(lanes[name], one[name])
    for name in ("test_first_spike_time", "test_potential", "weights"):
        np.testing.assert_array_equal(lanes[name].values, one[name].values)
