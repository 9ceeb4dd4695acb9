"""Brian2 re-simulation of gradient networks: same spikes and membranes as the JAX forward pass.

Two tiny random networks (AdLIF + BatchNorm -> CuLIF readout; LIF with bias -> non-firing LIF
readout), 10 samples of 20 steps, each re-simulated on runtime and cpp_standalone (one
compilation per network for the module). Most samples start late (``start``: the front padding
of SPSN's batches), where the biased LIF layer would otherwise fire.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from brainsnn.core.errors import ConfigError
from brainsnn.gradient import metrics
from brainsnn.gradient.network import GradientStack
from brainsnn.gradient.protocol import GradientNetwork
from brainsnn.gradient.resimulate import Resimulation, TraceRequest, resimulate

INPUTS, STEPS, SAMPLES = 12, 20, 10
TRACE = TraceRequest(neurons=(0, 2), samples=2)  # readout neurons 0 and 2, first 2 samples

NETWORKS = {
    # seed and weight scales chosen so that hidden and readout neurons spike, but not always
    "adlif": (
        {
            "hidden": [{"size": 8, "neuron": "gradient/adlif", "batch_norm": True}],
            "readout": {"size": 3, "neuron": "gradient/culif"},
        },
        6,
        (2.0, 3.0),
    ),
    "lif": (
        {
            "hidden": [{"size": 8, "neuron": "gradient/lif", "bias": True}],
            "readout": {"size": 3, "neuron": "gradient/lif", "firing": "none", "bias": True},
        },
        1,
        (4.0, 4.0),
    ),
}


def _case(name: str, build_root) -> dict:
    network, seed, scales = NETWORKS[name]
    stack = GradientStack(GradientNetwork(**network), INPUTS)
    params, constants, stats = stack.init_state(seed)
    rng = np.random.default_rng(seed)
    for index, (layer, scale) in enumerate(zip(params["layers"], scales, strict=True)):
        size = layer["weight"].shape[1]
        layer["weight"] = layer["weight"] * scale
        if "bias" in layer:
            layer["bias"] = jnp.asarray(rng.uniform(-0.3, 0.3, size), jnp.float32)
        if "bn_scale" in layer:  # non-trivial BatchNorm, folded into weight and bias
            layer["bn_scale"] = jnp.asarray(rng.uniform(0.5, 1.5, size), jnp.float32)
            layer["bn_shift"] = jnp.asarray(rng.uniform(0.0, 0.4, size), jnp.float32)
            stats[index] = {
                "mean": jnp.asarray(rng.normal(0.2, 0.2, size), jnp.float32),
                "var": jnp.asarray(rng.uniform(0.3, 2.0, size), jnp.float32),
            }
    counts = rng.integers(0, 3, (SAMPLES, STEPS, INPUTS)).astype(np.float32)
    start = np.array([0, 0, 3, 5, 8, 2, 6, 4, 1, 7])  # each sample's batch begins here
    counts[np.arange(STEPS)[None, :] < start[:, None]] = 0  # front padding
    forward = stack.forward(
        params,
        constants,
        stats,
        jnp.asarray(counts),
        jax.random.PRNGKey(0),
        train=False,
        start=jnp.asarray(start),
    )
    exported = stack.inference_weights(params, constants, stats)
    traces = TRACE if name == "adlif" else None
    results = {
        device: resimulate(stack, exported, counts, device, build_root, traces, start=start)
        for device in ("runtime", "cpp")
    }
    return {
        "stack": stack,
        "exported": exported,
        "counts": counts,
        "start": start,
        "traces": traces,
        "threshold": stack.layers[-1].model.firing == "threshold",
        "hidden": np.swapaxes(np.asarray(forward.hidden[0]), 1, 2),  # (n, N, T)
        "spikes": np.swapaxes(np.asarray(forward.readout_spikes), 1, 2),
        "membrane": np.swapaxes(np.asarray(forward.readout_membrane, np.float64), 1, 2),
        **results,
    }


@pytest.fixture(scope="module")
def cases(build_root) -> dict[str, dict]:
    return {name: _case(name, build_root) for name in NETWORKS}


def _decode(threshold: bool, spikes: np.ndarray, membrane: np.ndarray) -> np.ndarray:
    if threshold:
        return metrics.decode_first_spike(spikes, membrane)
    return membrane.mean(axis=-1).argmax(axis=-1)


@pytest.mark.parametrize("name", NETWORKS)
def test_networks_are_not_trivial(cases, name):
    case = cases[name]
    active = case["hidden"].sum(axis=-1) > 0  # (sample, hidden neuron) pairs with a spike
    assert 0.2 < active.mean() < 1.0
    assert 0.05 < case["hidden"].mean() < 0.5
    if case["threshold"]:
        assert 0.05 < case["spikes"].mean() < 0.9
    else:
        assert not case["runtime"].readout_spikes.any()
    classes = _decode(case["threshold"], case["spikes"], case["membrane"])
    assert len(set(classes.tolist())) > 1


@pytest.mark.parametrize("name", NETWORKS)
def test_nothing_runs_before_a_sample_starts(cases, name):
    case = cases[name]
    before = np.arange(STEPS)[None, None, :] < case["start"][:, None, None]
    assert not (case["hidden"] * before).any()
    for result in (case["runtime"], case["cpp"]):
        assert not (result.readout_membrane * before).any()
        assert not (result.readout_spikes * before).any()
    if name == "lif":  # with its bias, the hidden layer fires on empty input once started
        assert case["hidden"][:, :, -1].any()


@pytest.mark.parametrize("device", ["runtime", "cpp"])
@pytest.mark.parametrize("name", NETWORKS)
def test_brian2_matches_jax(cases, name, device):
    case = cases[name]
    result: Resimulation = case[device]
    n, size = SAMPLES, case["stack"].sections[-1].size
    assert result.readout_spikes.shape == (n, size, STEPS)
    assert result.readout_membrane.shape == (n, size, STEPS)
    assert result.hidden_spike_counts.shape == (n, 1)
    assert (result.readout_spikes == case["spikes"]).mean() >= 0.99
    np.testing.assert_array_equal(
        _decode(case["threshold"], result.readout_spikes, result.readout_membrane),
        _decode(case["threshold"], case["spikes"], case["membrane"]),
    )
    hidden = case["hidden"].sum(axis=(1, 2))
    same = (result.hidden_spike_counts[:, 0] == hidden) & (
        result.readout_spikes == case["spikes"]
    ).all(axis=(1, 2))
    assert same.mean() >= 0.9
    np.testing.assert_allclose(
        result.readout_membrane[same], case["membrane"][same], rtol=1e-4, atol=1e-5
    )


@pytest.mark.parametrize("name", NETWORKS)
def test_runtime_and_cpp_agree(cases, name):
    runtime, cpp = cases[name]["runtime"], cases[name]["cpp"]
    assert (runtime.device, cpp.device) == ("runtime", "cpp_standalone")
    np.testing.assert_array_equal(runtime.readout_spikes, cpp.readout_spikes)
    np.testing.assert_array_equal(runtime.hidden_spike_counts, cpp.hidden_spike_counts)
    np.testing.assert_allclose(runtime.readout_membrane, cpp.readout_membrane, rtol=0, atol=1e-9)


def test_traces_are_the_readout_membrane(cases):
    case = cases["adlif"]
    for device in ("runtime", "cpp"):
        trace = case[device].trace
        np.testing.assert_array_equal(trace.neurons, TRACE.neurons)
        assert trace.potential.shape == (2, TRACE.samples * STEPS)
        np.testing.assert_array_equal(trace.sample, np.repeat(np.arange(TRACE.samples), STEPS))
        expected = case[device].readout_membrane[: TRACE.samples, list(TRACE.neurons)]
        expected = expected.transpose(1, 0, 2).reshape(2, -1)
        np.testing.assert_allclose(trace.potential, expected, rtol=0, atol=1e-12)
        np.testing.assert_allclose(trace.threshold, 0.5)  # CuLIF theta
    assert cases["lif"]["runtime"].trace is None


def test_cpp_reuses_its_build_for_new_weights(cases, build_root):
    """Another project was generated since (lif): adlif regenerates its project, but its code is
    unchanged, so no code object is recompiled (Brian2 rewrites main.cpp after the first project
    of a process: one small file and the link)."""
    case = cases["adlif"]

    def objects() -> dict:
        paths = [*build_root.glob("*/code_objects/*.o"), *build_root.glob("*/objects.o")]
        return {path: path.stat().st_mtime_ns for path in paths}

    compiled = objects()
    exported = [dict(layer) for layer in case["exported"]]
    exported[-1]["weight"] = exported[-1]["weight"] * 0.5
    args = (case["stack"], exported, case["counts"])
    cpp = resimulate(*args, "cpp", build_root, case["traces"], start=case["start"])
    runtime = resimulate(*args, "runtime", build_root, case["traces"], start=case["start"])
    assert objects() == compiled
    np.testing.assert_array_equal(cpp.readout_spikes, runtime.readout_spikes)
    np.testing.assert_allclose(cpp.readout_membrane, runtime.readout_membrane, rtol=0, atol=1e-9)
    assert not np.allclose(cpp.readout_membrane, case["cpp"].readout_membrane)


def test_chunks_give_the_same_result(cases, build_root):
    """10 samples in runs of 4 (the last padded with 2 silent samples) = one run of 10."""
    case = cases["adlif"]
    args = (case["stack"], case["exported"], case["counts"], "runtime", build_root)
    chunked = resimulate(*args, case["traces"], chunk_size=4, start=case["start"])
    whole = case["runtime"]
    np.testing.assert_array_equal(chunked.readout_spikes, whole.readout_spikes)
    np.testing.assert_array_equal(chunked.readout_membrane, whole.readout_membrane)
    np.testing.assert_array_equal(chunked.hidden_spike_counts, whole.hidden_spike_counts)
    np.testing.assert_array_equal(chunked.trace.potential, whole.trace.potential)


@pytest.mark.parametrize(
    "hidden",
    [
        {"size": 4, "neuron": "gradient/paralif"},  # paralif_D: needs the previous step's value
        {"size": 4, "neuron": "gradient/relu"},  # real-valued activity, no spikes
    ],
)
def test_unsupported_firing_is_a_config_error(tmp_path, hidden):
    network = GradientNetwork(
        hidden=[hidden], readout={"size": 2, "neuron": "gradient/lif", "firing": "none"}
    )
    stack = GradientStack(network, 3)
    exported = stack.inference_weights(*stack.init_state(0))
    with pytest.raises(ConfigError, match=r"hidden layer 1 .* ParaLIF mode without D"):
        resimulate(stack, exported, np.zeros((1, 5, 3)), "runtime", tmp_path)


def test_bad_input_shape_is_a_config_error(cases, tmp_path):
    stack = cases["lif"]["stack"]
    with pytest.raises(ConfigError, match="samples, steps, 12"):
        resimulate(stack, [], np.zeros((2, 5, 4)), "runtime", tmp_path)
