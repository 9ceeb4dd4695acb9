"""Stochastic neurons (SPSN-SB, SPSN-GS) re-simulated in Brian2 with Brian2's random numbers.

The two sides draw different random numbers, so they agree in distribution: 10 input samples,
each repeated 60 times in one run; per sample, the mean hidden spike count and the mean readout
membrane of Brian2 (runtime and cpp_standalone) lie within 4.5 standard errors of the JAX
forward pass's (false alarm about 1e-4 per test).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from brainsnn.gradient.network import GradientStack
from brainsnn.gradient.protocol import GradientNetwork
from brainsnn.gradient.resimulate import firing_condition, resimulate

INPUTS, STEPS, SAMPLES, REPEATS = 12, 20, 10, 60


def _network(firing: str) -> GradientNetwork:
    return GradientNetwork(
        hidden=[{"size": 8, "neuron": "gradient/spsn", "firing": firing, "bias": True}],
        readout={"size": 3, "neuron": "gradient/lif", "firing": "none", "bias": True},
    )


def _stats(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct sample (rows are repeats x samples): mean and its squared standard error."""
    per_sample = values.reshape(REPEATS, SAMPLES, -1)
    return per_sample.mean(axis=0), per_sample.var(axis=0, ddof=1) / REPEATS


@pytest.fixture(scope="module", params=["sigmoid_bernoulli", "gumbel_softmax"])
def case(request, build_root) -> dict:
    stack = GradientStack(_network(request.param), INPUTS)
    params, constants, stats = stack.init_state(2)
    params["layers"][0]["weight"] = params["layers"][0]["weight"] * 3
    params["layers"][0]["bias"] = jnp.linspace(-1.0, 1.0, 8)
    rng = np.random.default_rng(5)
    distinct = rng.integers(0, 2, (SAMPLES, STEPS, INPUTS)).astype(np.float32)
    counts = np.tile(distinct, (REPEATS, 1, 1))
    noise = stack.draw_noise(rng, len(counts), STEPS)
    forward = stack.forward(
        params, constants, stats, jnp.asarray(counts), jax.random.PRNGKey(0), False, noise=noise
    )
    exported = stack.inference_weights(params, constants, stats)
    brian = {
        device: resimulate(stack, exported, counts, device, build_root, seed=11)
        for device in ("runtime", "cpp")
    }
    return {
        "firing": request.param,
        "stack": stack,
        "params": (params, constants, stats),
        "exported": exported,
        "counts": counts,
        "hidden": np.asarray(forward.hidden[0]).sum(axis=(1, 2)),
        "membrane": np.asarray(forward.readout_membrane).mean(axis=1),  # (n, readout)
        **brian,
    }


@pytest.mark.parametrize("device", ["runtime", "cpp"])
def test_spike_counts_and_readout_agree_in_distribution(case, device):
    result = case[device]
    jax_mean, jax_se2 = _stats(case["hidden"].astype(np.float64))
    brian_mean, brian_se2 = _stats(result.hidden_spike_counts[:, 0].astype(np.float64))
    assert (jax_se2 > 0).all()  # the firing is random: counts vary between repeats
    assert np.ptp(jax_mean) > 5  # and depend on the sample
    assert (np.abs(brian_mean - jax_mean) < 4.5 * np.sqrt(jax_se2 + brian_se2)).all()
    jax_mean, jax_se2 = _stats(case["membrane"])
    brian_mean, brian_se2 = _stats(result.readout_membrane.mean(axis=2))
    assert (np.abs(brian_mean - jax_mean) < 4.5 * np.sqrt(jax_se2 + brian_se2)).all()


def test_a_seed_repeats_and_another_seed_differs(case, build_root):
    args = (case["stack"], case["exported"], case["counts"][:SAMPLES], "cpp", build_root)
    first, again, other = (resimulate(*args, seed=s) for s in (3, 3, 4))
    np.testing.assert_array_equal(first.hidden_spike_counts, again.hidden_spike_counts)
    assert not np.array_equal(first.hidden_spike_counts, other.hidden_spike_counts)


def test_the_comparison_tells_the_two_firings_apart(case):
    """Brian2's SB and GS conditions are sigmoid(m) and sigmoid(2 m) (2 m + logistic noise > 0);
    against the JAX forward pass of the OTHER firing, the same statistics fail."""
    layer = case["stack"].layers[0]
    assert (
        firing_condition(layer.model)
        == {
            "sigmoid_bernoulli": "rand() < 1 / (1 + exp(-(mem)))",
            "gumbel_softmax": "rand() < 1 / (1 + exp(-2 * (mem)))",
        }[case["firing"]]
    )
    other = {"sigmoid_bernoulli": "gumbel_softmax", "gumbel_softmax": "sigmoid_bernoulli"}
    stack = GradientStack(_network(other[case["firing"]]), INPUTS)
    params, constants, stats = case["params"]
    noise = stack.draw_noise(np.random.default_rng(9), len(case["counts"]), STEPS)
    forward = stack.forward(
        params, constants, stats, jnp.asarray(case["counts"]), jax.random.PRNGKey(0), False,
        noise=noise,
    )  # fmt: skip
    jax_mean, jax_se2 = _stats(np.asarray(forward.hidden[0]).sum(axis=(1, 2)).astype(float))
    brian_mean, brian_se2 = _stats(case["runtime"].hidden_spike_counts[:, 0].astype(float))
    assert (np.abs(brian_mean - jax_mean) > 4.5 * np.sqrt(jax_se2 + brian_se2)).any()
