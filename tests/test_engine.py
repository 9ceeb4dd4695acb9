"""The compiled network against the event-driven NumPy oracle; runtime against cpp_standalone."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from brainsnn.engine.state import state_key
from brainsnn.readout import reference
from brainsnn.readout.backend import ChunkInput, make_backend
from brainsnn.readout.layout import ReadoutLayout
from brainsnn.readout.reference import initial_weights

pytestmark = pytest.mark.standalone
THETA0 = 1.5
W, ROW_TARGET = state_key("feedforward", "w"), state_key("outputs", "row_target")
THETA_TRAIN = state_key("outputs", "theta_train")
PARAMS = {
    "theta0": THETA0,
    "gap": 0.1,
    "w_norm": 1,
    "a_plus": 0.05,
    "a_minus": -0.04,
    "w_min": 0.0,
    "w_max": 1.0,
    "annealing": 0.98,
    "thr_lr": 0.2,
    "thr_anneal": 0.9,
}


def random_chunk(layout, rng, labelled=True):
    """Random input steps (~30 % silent) with ties, and labels (or -1 for unlabelled)."""
    steps = rng.integers(0, layout.n_input_steps, size=(layout.chunk_size, layout.n_inputs))
    steps[rng.random(steps.shape) < 0.3] = layout.n_input_steps
    labels = (
        rng.integers(0, layout.n_classes, layout.chunk_size)
        if labelled
        else np.full(layout.chunk_size, -1)
    )
    return ChunkInput(steps, labels, layout.chunk_size)


def as_times(steps, layout):
    return np.where(steps >= layout.n_input_steps, 1.0, steps / layout.n_input_steps)


def fresh_state(layout, rng):
    weights, sums = initial_weights(layout.n_outputs, layout.n_inputs, 0.3, 0.1, 0.0, 1.0, rng)
    state = {
        W: weights.reshape(-1),
        ROW_TARGET: sums,
        THETA_TRAIN: np.full(layout.n_outputs, THETA0),
    }
    return weights, sums, state


def oracle_params(layout):
    return reference.ReadoutParams(
        layout.n_classes,
        layout.neurons_per_class,
        layout.n_nontarget,
        THETA0,
        PARAMS["gap"],
        PARAMS["a_plus"],
        PARAMS["a_minus"],
        thr_lr=PARAMS["thr_lr"],
        thr_anneal=PARAMS["thr_anneal"],
    )


@pytest.mark.parametrize("device", ["runtime", "cpp"])
def test_forward_pass_matches_oracle(device, tiny_backends, tiny_layout, rng):
    chunk = random_chunk(tiny_layout, rng, labelled=False)
    weights, _, state = fresh_state(tiny_layout, rng)
    result = tiny_backends[device].run_chunk(chunk, state, PARAMS, False, True)
    times = as_times(chunk.input_steps, tiny_layout)
    pred, t_out, v_out = reference.predict(times, weights, THETA0, tiny_layout.neurons_per_class)
    np.testing.assert_array_equal(result.first_spike_time, t_out)
    np.testing.assert_allclose(result.potential, v_out, atol=1e-12)
    np.testing.assert_array_equal(result.prediction, pred)
    np.testing.assert_array_equal(result.state[W], state[W])  # no learning in test mode


def test_input_spike_reaches_output_in_the_same_step(tiny_backends, tiny_layout):
    """Schedule check: one input with w > theta makes the neuron fire in the input's step."""
    steps = np.full((tiny_layout.chunk_size, tiny_layout.n_inputs), tiny_layout.n_input_steps)
    steps[:, 0] = 3
    weights = np.zeros((tiny_layout.n_outputs, tiny_layout.n_inputs))
    weights[:, 0] = 2.0
    state = {
        W: weights.reshape(-1),
        ROW_TARGET: np.ones(tiny_layout.n_outputs),
        THETA_TRAIN: np.full(tiny_layout.n_outputs, THETA0),
    }
    chunk = ChunkInput(steps, np.full(tiny_layout.chunk_size, -1), tiny_layout.chunk_size)
    result = tiny_backends["runtime"].run_chunk(chunk, state, PARAMS, False, True)
    np.testing.assert_array_equal(result.first_spike_time, 3 / tiny_layout.n_input_steps)


@pytest.mark.parametrize("device", ["runtime", "cpp"])
def test_training_chunk_matches_oracle(device, tiny_backends, tiny_layout, rng):
    """S2-STDP + NCG + CR-2 over a chunk: same decisions, weights and thresholds as the oracle."""
    chunk = random_chunk(tiny_layout, rng)
    weights, sums, state = fresh_state(tiny_layout, rng)
    result = tiny_backends[device].run_chunk(chunk, state, PARAMS, True, False)
    oracle = reference.ReferenceReadout(oracle_params(tiny_layout), weights.copy(), sums.copy())
    oracle.start_epoch()
    times = as_times(chunk.input_steps, tiny_layout)
    correct = [oracle.train_sample(times[k], chunk.labels[k]) for k in range(len(times))]
    np.testing.assert_array_equal(result.prediction == chunk.labels, correct)
    np.testing.assert_allclose(result.state[W].reshape(weights.shape), oracle.weights, atol=1e-12)
    np.testing.assert_allclose(result.state[THETA_TRAIN], oracle.theta_train, atol=1e-12)
    assert not np.allclose(result.state[W], weights.reshape(-1))  # something was learned


def test_padding_samples_never_learn(tiny_backends, tiny_layout, rng):
    chunk = random_chunk(tiny_layout, rng, labelled=False)
    _, _, state = fresh_state(tiny_layout, rng)
    result = tiny_backends["cpp"].run_chunk(chunk, state, PARAMS, True, False)
    np.testing.assert_array_equal(result.state[W], state[W])
    np.testing.assert_array_equal(result.state[THETA_TRAIN], state[THETA_TRAIN])


@pytest.mark.parametrize("device", ["runtime", "cpp"])
def test_a_short_chunk_ends_after_its_last_sample(device, tiny_backends, tiny_layout, rng):
    """A chunk of 5 samples in a 12-sample build stops simulating after its 5th sample, with
    the records and learned state of a run through all 12 windows (the padding as trained)."""
    backend = tiny_backends[device]
    full = random_chunk(tiny_layout, rng)
    full.input_steps[5:] = tiny_layout.n_input_steps  # as the trainer pads: silent, unlabelled
    full.labels[5:] = -1
    short = ChunkInput(full.input_steps, full.labels, 5)
    _, _, state = fresh_state(tiny_layout, rng)
    records = {}
    for chunk in (full, short):
        net = backend.runner.run(
            lambda net, chunk=chunk: backend.chunk_values(net, chunk, state, PARAMS, True, True)
        )
        records[chunk.n_valid] = len(net.monitors["layer"].t[:])  # one per simulated window
        result = backend._read(net, chunk, True, False)
        if chunk is full:
            expected = result
    assert records == {12: 12, 5: 5}
    np.testing.assert_array_equal(result.prediction, expected.prediction[:5])
    np.testing.assert_array_equal(result.first_spike_time, expected.first_spike_time[:5])
    np.testing.assert_array_equal(result.potential, expected.potential[:5])
    for key, value in expected.state.items():
        np.testing.assert_array_equal(result.state[key], value)
    assert not np.array_equal(result.state[W], state[W])  # it learned from the 5 samples


def test_runtime_and_cpp_agree_over_chunks(tiny_backends, tiny_layout):
    """Three consecutive training chunks with state handed over: identical on both devices."""
    finals = {}
    for device in ("runtime", "cpp"):
        rng = np.random.default_rng(7)
        _, _, state = fresh_state(tiny_layout, rng)
        predictions = []
        for _ in range(3):
            result = tiny_backends[device].run_chunk(
                random_chunk(tiny_layout, rng), state, PARAMS, True, False
            )
            state = result.state
            predictions.append(result.prediction)
        finals[device] = (np.concatenate(predictions), state)
    np.testing.assert_array_equal(finals["runtime"][0], finals["cpp"][0])
    for name in (W, THETA_TRAIN):
        np.testing.assert_allclose(finals["runtime"][1][name], finals["cpp"][1][name], atol=1e-12)


def _train_three_chunks(layout, composed, build_root, seed):
    """Run in a separate process: three training chunks from a seeded state."""
    from brainsnn.readout.backend import make_backend

    backend = make_backend("cpp", layout, composed, build_root)
    rng = np.random.default_rng(seed)
    _, _, state = fresh_state(layout, rng)
    for _ in range(3):
        state = backend.run_chunk(random_chunk(layout, rng), state, PARAMS, True, False).state
    return state[W]


def test_processes_sharing_a_build_do_not_mix(
    tiny_backends, tiny_layout, composed_default, build_root
):
    """Two processes on one cached build at once: each gets exactly its own results."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    seeds = (11, 12)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        parallel = list(
            pool.map(
                _train_three_chunks,
                [tiny_layout] * 2,
                [composed_default] * 2,
                [build_root] * 2,
                seeds,
            )
        )
    for seed, weights in zip(seeds, parallel, strict=True):
        rng = np.random.default_rng(seed)
        _, _, state = fresh_state(tiny_layout, rng)
        for _ in range(3):
            state = (
                tiny_backends["runtime"]
                .run_chunk(random_chunk(tiny_layout, rng), state, PARAMS, True, False)
                .state
            )
        np.testing.assert_allclose(weights, state[W], atol=1e-12)


def test_errors_printed_by_the_binary_are_raised(tmp_path):
    from brainsnn.core.errors import BrainsnnError
    from brainsnn.devices.runners import check_binary_output

    stdout = tmp_path / "stdout.txt"
    stdout.write_text("Error reading 'static_arrays/x.dat': file size -1 does not match\n")
    with pytest.raises(BrainsnnError, match="Error reading"):
        check_binary_output(stdout)
    stdout.write_text("")
    check_binary_output(stdout)


# Batched evaluation: lanes of one build, each a copy of the network, against one lane.
LANES = 4  # the tiny layout's 12-sample chunks: 3 windows of 4 samples


@pytest.fixture(scope="module")
def lane_backends(tiny_layout, composed_default, build_root):
    layout = replace(tiny_layout, lanes=LANES)
    return {
        "runtime": make_backend("runtime", layout, composed_default, build_root),
        "cpp": make_backend("cpp", layout, composed_default, build_root),
    }


def _evaluate(backend, chunk, state):
    result = backend.run_chunk(chunk, state, PARAMS, False, True)
    return result, [result.prediction, result.winner, result.first_spike_time, result.potential]


@pytest.mark.parametrize("device", ["runtime", "cpp"])
def test_lanes_decide_and_record_exactly_as_one_lane(device, tiny_backends, lane_backends):
    """Every record of every sample is the same, bit for bit, with padding in the last window."""
    rng = np.random.default_rng(5)
    layout = tiny_backends[device].layout
    _, _, state = fresh_state(layout, rng)
    full = random_chunk(layout, rng)
    padded = ChunkInput(full.input_steps.copy(), full.labels.copy(), 10)
    padded.input_steps[10:] = layout.n_input_steps  # as the trainer pads: silent, unlabelled
    padded.labels[10:] = -1
    for chunk in (full, padded):
        _, one = _evaluate(tiny_backends[device], chunk, state)
        lanes_result, many = _evaluate(lane_backends[device], chunk, state)
        assert len(many[0]) == chunk.n_valid
        for expected, got in zip(one, many, strict=True):
            np.testing.assert_array_equal(got, expected)
        for key, value in state.items():  # frozen weights come back as they went in
            np.testing.assert_array_equal(lanes_result.state[key], value)
    assert len(set(one[0])) > 1  # the samples are told apart: the check can fail


def test_lanes_refuse_learning(tiny_backends, tiny_layout, composed_default, build_root):
    backend = make_backend("runtime", replace(tiny_layout, lanes=2), composed_default, build_root)
    rng = np.random.default_rng(1)
    _, _, state = fresh_state(tiny_layout, rng)
    with pytest.raises(ValueError, match="1 lane"):
        backend.run_chunk(random_chunk(tiny_layout, rng), state, PARAMS, True, False)


def test_lane_layouts_are_checked(tiny_layout: ReadoutLayout):
    with pytest.raises(ValueError, match="multiple"):
        replace(tiny_layout, lanes=5)
    with pytest.raises(ValueError, match="traces"):
        replace(tiny_layout, lanes=2, trace_variables=("v", "theta"))
    assert replace(tiny_layout, lanes=3).windows == 4
    assert tiny_layout.with_lanes(5).chunk_size == 15  # rounded up to whole windows
