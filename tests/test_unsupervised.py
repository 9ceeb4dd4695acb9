"""The unsupervised WTA-STDP engine against the NumPy oracle, across devices, end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from brainsnn.cli import main
from brainsnn.core.errors import BrainsnnError, ConfigError
from brainsnn.engine.state import state_key
from brainsnn.protocol import load_protocol
from brainsnn.unsupervised.backend import SampleBatch
from brainsnn.unsupervised.data import prepare_unsupervised_data
from brainsnn.unsupervised.encodings import periodic_spike_trains
from brainsnn.unsupervised.experiment import (
    build_unsupervised_layout,
    initial_unsupervised_state,
    make_unsupervised_backend,
)
from brainsnn.unsupervised.wta_reference import WTAParameters, simulate

ROOT = Path(__file__).resolve().parent.parent
WTA = ROOT / "protocols" / "wta_stdp_digits.yaml"
DIEHL_COOK = ROOT / "protocols" / "diehl_cook_digits.yaml"
N_SAMPLES = 12


def _setup(path: Path, overrides: list[str], build_root: Path, device: str):
    protocol = load_protocol(path, [*overrides, f"device.build_dir={build_root}"])
    composed = dict(protocol.resolved.composed)
    parameters = dict(protocol.resolved.parameters)
    data = prepare_unsupervised_data(protocol)
    layout = build_unsupervised_layout(protocol, data)
    state = initial_unsupervised_state(protocol, layout, composed, parameters)
    protocol.device.name = device
    backend = make_unsupervised_backend(protocol, layout, composed, state)
    return protocol, data, parameters, state, backend


WTA_OVERRIDES = [f"training.chunk_size={N_SAMPLES}", "recording.traces=null"]


@pytest.fixture(scope="module", params=["runtime", "cpp"])
def wta(request, build_root):
    return _setup(WTA, WTA_OVERRIDES, build_root, request.param)


def _oracle_parameters(parameters: dict[str, float]) -> WTAParameters:
    names = WTAParameters.__dataclass_fields__
    return WTAParameters(
        **{name: type(getattr(WTAParameters(), name))(parameters[name]) for name in names}
    )


@pytest.mark.parametrize("bug", [0, 1])
def test_wta_training_matches_the_oracle(wta, bug):
    protocol, data, parameters, state, backend = wta
    parameters = {**parameters, "bug_compatible_ltd": float(bug)}
    split = data.train
    batch = SampleBatch(split.values[:N_SAMPLES], split.coincidence[:N_SAMPLES])
    records = backend.run_chunk(batch, dict(state), parameters, learning=True, seed=1)
    weights = state[state_key("feedforward", "w")].reshape(protocol.network.outputs, -1).copy()
    trains = periodic_spike_trains(batch.values.astype(int), protocol.encoding.present_steps)
    thetas = batch.coincidence / parameters["threshold_divisor"] * parameters["threshold_scale"]
    counts, _ = simulate(weights, trains, thetas, _oracle_parameters(parameters), learning=True)
    assert records.completed == N_SAMPLES
    assert counts.sum() > 0, "the oracle's network should fire"
    np.testing.assert_array_equal(records.counts, counts)
    learned = records.state[state_key("feedforward", "w")].reshape(weights.shape)
    np.testing.assert_allclose(learned, weights, atol=1e-9)


def test_wta_lets_only_the_winner_fire(wta):
    _, data, parameters, state, backend = wta
    batch = SampleBatch(data.test.values[:N_SAMPLES], data.test.coincidence[:N_SAMPLES])
    records = backend.run_chunk(batch, dict(state), parameters, learning=False, seed=1)
    assert records.counts.sum() > 0
    assert ((records.counts > 0).sum(axis=1) <= 1).all()


def test_fixed_and_original_depression_differ_as_the_spec_predicts(wta):
    """The original's bound (w - |w_min|) raises weights below 1.2 where the fix lowers them."""
    _, data, parameters, state, backend = wta
    batch = SampleBatch(data.train.values[:N_SAMPLES], data.train.coincidence[:N_SAMPLES])
    start = state[state_key("feedforward", "w")]
    final = {}
    for bug in (0, 1):
        changed = {**parameters, "bug_compatible_ltd": float(bug), "silent_depression": 0.0}
        changed["a_ltp"] = 0.0  # depression only
        records = backend.run_chunk(batch, dict(state), changed, learning=True, seed=1)
        final[bug] = records.state[state_key("feedforward", "w")]
    for bug, direction in ((0, -1), (1, 1)):
        moved = final[bug] != start
        assert moved.any(), "some depression should happen in these samples"
        assert (np.sign(final[bug][moved] - start[moved]) == direction).all()


@pytest.fixture(scope="module")
def diehl_cook(build_root):
    """N_e = 3 on two deterministic 'images': every bright pixel spikes in every step."""
    overrides = [
        "network.outputs=3",
        "training.chunk_size=4",
        "training.retry_budget=1.0",
        "encoding.present_steps=40",
        "encoding.rest_steps=20",
        "recording.traces=null",
    ]
    return {
        device: _setup(DIEHL_COOK, overrides, build_root, device) for device in ("runtime", "cpp")
    }


def _certain_batch(n_inputs: int) -> SampleBatch:
    values = np.zeros((2, n_inputs))
    values[0, :20] = values[1, 30:50] = 2000.0  # Hz: x intensity 2 x dt 0.5 ms >= 1
    return SampleBatch(values, np.zeros(2))


def test_diehl_cook_runs_the_same_on_runtime_and_cpp(diehl_cook):
    results = {}
    for device, (_, data, parameters, state, backend) in diehl_cook.items():
        batch = _certain_batch(data.n_inputs)
        easy = {**parameters, "min_spikes": 1.0}
        results[device] = backend.run_chunk(batch, dict(state), easy, learning=True, seed=3)
    runtime, cpp = results["runtime"], results["cpp"]
    assert runtime.completed == cpp.completed == 2
    assert runtime.counts.sum() > 0
    np.testing.assert_array_equal(runtime.counts, cpp.counts)
    for key in runtime.state:
        np.testing.assert_allclose(runtime.state[key], cpp.state[key], rtol=1e-9, atol=1e-12)
    weights = cpp.state[state_key("feedforward", "w")].reshape(3, -1)
    np.testing.assert_allclose(weights.sum(axis=1), parameters["norm_target"], rtol=1e-9)


def test_failed_presentations_are_retried_until_the_limit(diehl_cook):
    _, data, parameters, state, backend = diehl_cook["cpp"]
    demanding = {**parameters, "min_spikes": 10_000.0, "max_retries": 2.0}
    records = backend.run_chunk(
        _certain_batch(data.n_inputs), dict(state), demanding, learning=False, seed=3
    )
    # chunk of 4 positions + 4 spare presentations: 2 samples x 3 presentations fit
    assert records.completed == 2
    np.testing.assert_array_equal(records.retries, [2, 2])


def test_samples_a_chunk_cannot_reach_move_on(diehl_cook):
    _, data, parameters, state, backend = diehl_cook["cpp"]
    demanding = {**parameters, "min_spikes": 10_000.0, "max_retries": 5.0}
    batch = _certain_batch(data.n_inputs)
    records = backend.run_chunk(batch, dict(state), demanding, learning=False, seed=3)
    assert records.completed == 1  # 8 presentations: the first sample takes 6
    assert records.retries[0] == 5


POWER_LAW_MODELS = ("network.models=[inputs/poisson, neurons/diehl_cook_excitatory, "
                    "neurons/diehl_cook_inhibitory, synapses/diehl_cook_inhibition, "
                    "rules/diehl_cook_power_law, presentation/retry]")  # fmt: skip


def test_diehl_cook_power_law_rule_on_runtime_and_cpp(build_root):
    """The paper's rule 1: inputs that spike in every step (trace above x_tar) gain on the ones
    that never spike (trace 0: dw = -eta x_tar (w_max - w)^mu), and both devices agree."""
    overrides = ["network.outputs=3", "training.chunk_size=4", "training.retry_budget=1.0",
                 "encoding.present_steps=40", "encoding.rest_steps=20", "recording.traces=null",
                 POWER_LAW_MODELS, "network.parameters.max_delay=0 ms"]  # fmt: skip
    results = {}
    for device in ("runtime", "cpp"):
        _, data, parameters, state, backend = _setup(DIEHL_COOK, overrides, build_root, device)
        easy = {**parameters, "min_spikes": 1.0}
        batch = _certain_batch(data.n_inputs)
        results[device] = backend.run_chunk(batch, dict(state), easy, learning=True, seed=3)
    runtime, cpp = results["runtime"], results["cpp"]
    assert cpp.counts.sum() > 0
    np.testing.assert_array_equal(runtime.counts, cpp.counts)
    for key in runtime.state:
        np.testing.assert_allclose(runtime.state[key], cpp.state[key], rtol=1e-9, atol=1e-12)
    before = state[state_key("feedforward", "w")].reshape(3, -1)
    after = cpp.state[state_key("feedforward", "w")].reshape(3, -1)
    np.testing.assert_allclose(after.sum(axis=1), parameters["norm_target"], rtol=1e-9)
    spiked = cpp.counts.sum(axis=0) > 0
    bright, silent = slice(0, 20), slice(60, 64)  # the first image's pixels; never bright
    gain = after[:, bright].mean(axis=1) / before[:, bright].mean(axis=1)
    loss = after[:, silent].mean(axis=1) / before[:, silent].mean(axis=1)
    assert (gain[spiked] > loss[spiked]).all()


def test_tiny_unsupervised_run_end_to_end_with_figures(tmp_path, build_root):
    run = tmp_path / "run"
    options = [
        "--set", "data.classes=[0, 1, 2]",
        "--set", "data.train_subset=30",
        "--set", "data.test_subset=12",
        "--set", "training.epochs=1",
        "--set", "training.chunk_size=30",
        "--set", "network.outputs=4",
        "--set", "encoding.present_steps=100",
        "--set", "encoding.rest_steps=20",
        "--set", "test.repeats=2",
        "--set", "network.parameters.min_spikes=1",
        "--set", "recording.traces={neurons: [0, 1], samples: 2, potential: v, threshold: vt}",
        "--set", f"device.build_dir={build_root}",
    ]  # fmt: skip
    result = CliRunner().invoke(
        main, ["run", str(DIEHL_COOK), "--out", str(run), "--quiet", *options]
    )
    assert result.exit_code == 0, result.output
    assert "test accuracy" in result.output
    ds = xr.open_dataset(run / "results.nc")
    assert ds.sizes["repeat"] == 2 and ds.sizes["test_sample"] == 12
    assert ds.test_counts.dims == ("repeat", "test_sample", "output_neuron")
    assert set(np.unique(ds.test_label.values)) <= {0, 1, 2}
    assert ds.trace_v.attrs["units"] == "mV"
    assert ds.trace_time.attrs["units"] == "ms"
    assert list(ds.trace_neuron.values) == [0, 1]
    traced_presentations = (ds.test_retries.values[0, :2] + 1).sum()
    assert ds.trace_v.sizes["trace_time"] == traced_presentations * 120  # every step
    assert float(ds.trace_v.min()) < -60 and float(ds.trace_threshold.max()) < 0
    predictions = ds.test_prediction.values
    np.testing.assert_allclose(
        ds.test_accuracy.values, (predictions == ds.test_label.values).mean(axis=1)
    )
    out = tmp_path / "figures"
    figures = CliRunner().invoke(main, ["figures", str(run), "--out", str(out)])
    assert figures.exit_code == 0, figures.output
    for name in ("weights", "trace", "class_response", "assignment"):
        assert (out / f"run_{name}.pdf").stat().st_size > 0
    assert "±" in (out / "run_accuracy.md").read_text()


def test_trace_neurons_must_exist(build_root):
    protocol = load_protocol(WTA, ["recording.traces.neurons=[9]"])
    with pytest.raises(ConfigError, match="not an output neuron"):
        build_unsupervised_layout(protocol, prepare_unsupervised_data(protocol))


def test_unknown_protocol_kind_is_one_line_error(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("kind: supervised\nname: p\n")
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    assert "unknown protocol kind 'supervised'" in result.output


def test_interrupted_unsupervised_run_resumes_with_identical_results(tmp_path, build_root):
    """Stop a Poisson-input run in its second chunk; --resume gives the uninterrupted result."""
    from brainsnn.unsupervised import backend as unsupervised_backend
    from brainsnn.unsupervised.experiment import run_unsupervised_protocol

    overrides = [  # the end-to-end test's layout (shared build), two training chunks
        "data.classes=[0, 1, 2]",
        "data.train_subset=60",
        "data.test_subset=12",
        "labels.samples=30",
        "training.epochs=1",
        "training.chunk_size=30",
        "network.outputs=4",
        "encoding.present_steps=100",
        "encoding.rest_steps=20",
        "test.repeats=1",
        "network.parameters.min_spikes=1",
        "recording.traces={neurons: [0, 1], samples: 2, potential: v, threshold: vt}",
        f"device.build_dir={build_root}",
    ]
    protocol = load_protocol(DIEHL_COOK, overrides)
    original = unsupervised_backend.UnsupervisedBackend.run_chunk
    calls = {"n": 0, "stop_at": 0}

    def counted(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == calls["stop_at"]:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    def run(directory: str, stop_at: int = 0, resume: bool = False):
        calls.update(n=0, stop_at=stop_at)
        unsupervised_backend.UnsupervisedBackend.run_chunk = counted
        try:
            return run_unsupervised_protocol(
                protocol, tmp_path / directory, resume=resume, show_progress=False
            )
        finally:
            unsupervised_backend.UnsupervisedBackend.run_chunk = original

    reference = run("whole")
    chunks = calls["n"]
    with pytest.raises(KeyboardInterrupt):
        run("cut", stop_at=2)
    assert (tmp_path / "cut" / "checkpoint.npz").is_file()
    assert not (tmp_path / "cut" / "results.nc").exists()
    changed = load_protocol(DIEHL_COOK, [*overrides, "labels.samples=20", "device.threads=1"])
    with pytest.raises(BrainsnnError, match=r"differs from .*protocol.yaml in labels\.samples;"):
        run_unsupervised_protocol(changed, tmp_path / "cut", resume=True, show_progress=False)
    resumed = run("cut", resume=True)
    assert calls["n"] == chunks - 1  # the first chunk came from the checkpoint
    np.testing.assert_array_equal(resumed.weights.values, reference.weights.values)
    np.testing.assert_array_equal(resumed.test_counts.values, reference.test_counts.values)
    np.testing.assert_array_equal(resumed.assignment.values, reference.assignment.values)


def test_event_driven_inputs_are_refused_with_one_line():
    """inputs/ttfs emits spike lists, a readout engine feature: one line, no traceback."""
    models = (
        "[inputs/ttfs, neurons/wta_lif, synapses/wta_delta, competition/one_shot_wta, "
        "rules/wta_stdp]"
    )
    result = CliRunner().invoke(main, ["validate", str(WTA), "--set", f"network.models={models}"])
    assert result.exit_code != 0
    assert "the unsupervised engine takes a threshold, not spike_steps" in result.output
    assert "Traceback" not in result.output
