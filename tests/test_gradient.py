"""Gradient engine: model files vs the spec's equations, FS readout, SPSN, training, resume."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402
import yaml  # noqa: E402

from brainsnn.core.errors import ConfigError, DataError  # noqa: E402
from brainsnn.data.shd import SpikeEvents, write_shd  # noqa: E402
from brainsnn.gradient import losses, metrics  # noqa: E402
from brainsnn.gradient.modelfile import load_neuron  # noqa: E402
from brainsnn.gradient.network import GradientStack  # noqa: E402
from brainsnn.gradient.neurons import NeuronLayer  # noqa: E402
from brainsnn.gradient.protocol import GradientNetwork  # noqa: E402
from brainsnn.gradient.spiking import (  # noqa: E402
    gumbel_softmax,
    heaviside,
    paralif_spikes,
    sigmoid_bernoulli,
)
from brainsnn.protocol import load_protocol  # noqa: E402

RNG = np.random.default_rng(0)


def _layer(name: str, size: int = 5, firing=None, **overrides):
    layer = NeuronLayer(load_neuron(f"gradient/{name}", firing), size, overrides)
    trainable, constants = layer.init_parameters(np.random.default_rng(1))
    return layer, layer.effective(trainable, constants)


def _inputs(batch=3, steps=40, size=5, high=1.5):
    return jnp.asarray(RNG.uniform(0, high, (batch, steps, size)), jnp.float32)


# --- neurons against the spec's equations (NumPy, written from specs/gradient_snn.md) ----------


def test_culif_matches_spec_a1():
    layer, values = _layer("culif", tau_m=4.0, tau_s=7.0, theta=0.8)
    x = _inputs()
    spikes, h = (np.asarray(a) for a in layer(x, values, None))
    d_m, d_s = np.exp(-1 / 4), np.exp(-1 / 7)
    v = current = np.zeros((3, 5))
    for t in range(x.shape[1]):
        pre = d_m * v + (1 - d_m) * current  # uses I[t-1]
        current = d_s * current + np.asarray(x[:, t])
        fired = (pre - 0.8 >= 0).astype(float)
        v = (1 - fired) * pre
        np.testing.assert_allclose(h[:, t], pre, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(spikes[:, t], fired)
    assert 0 < spikes.mean() < 1


def test_adlif_matches_spec_a1():
    layer, values = _layer("adlif", theta=0.3)
    x = _inputs(high=1.0)
    spikes, h = (np.asarray(a) for a in layer(x, values, None))
    alpha, rho, a, b = (np.asarray(values[k]) for k in ("alpha", "rho", "a", "b"))
    v = w = h_prev = s_prev = np.zeros((3, 5))
    for t in range(x.shape[1]):
        pre = alpha * v + (1 - alpha) * (np.asarray(x[:, t]) - w)  # old adaptation
        w = rho * w + a * h_prev + b * s_prev
        fired = (pre >= 0.3).astype(float)
        v, h_prev, s_prev = (1 - fired) * pre, pre, fired
        np.testing.assert_allclose(h[:, t], pre, rtol=1e-4, atol=1e-5)
        np.testing.assert_array_equal(spikes[:, t], fired)
    assert 0 < spikes.mean() < 1


def test_lif_matches_spec_b1():
    layer, values = _layer("lif", theta=0.5)
    x = _inputs()
    spikes, mem_trace = (np.asarray(a) for a in layer(x, values, None))
    beta = alpha = np.exp(-1 / 20)
    syn = mem = np.zeros((3, 5))
    for t in range(x.shape[1]):
        syn = alpha * syn + np.asarray(x[:, t])
        mem = beta * mem + (1 - beta) * syn  # current syn, no delay
        fired = (mem > 0.5).astype(float)
        np.testing.assert_allclose(mem_trace[:, t], mem, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(spikes[:, t], fired)
        mem = mem * (1 - fired)
    assert 0 < spikes.mean() < 1


def test_spsn_fft_filter_equals_scan_and_the_spec_kernel():
    layer, values = _layer("spsn", size=4, firing="none", tau_syn=5.0, tau_mem=10.0)
    assert layer.parallel
    steps = 300
    kernel = np.asarray(layer.kernel(values, steps))[:, 0]
    alpha, beta = np.exp(-1 / 5), np.exp(-1 / 10)
    n = np.arange(steps)
    expected = np.array(
        [(1 - beta) * sum(alpha**i * beta ** (k - i) for i in range(k + 1)) for k in n]
    )
    np.testing.assert_allclose(kernel, expected, rtol=1e-4, atol=1e-7)
    x = _inputs(steps=steps, size=4)
    _, by_fft = layer(x, values, None, parallel=True)
    _, by_scan = layer(x, values, None, parallel=False)
    np.testing.assert_allclose(np.asarray(by_fft), np.asarray(by_scan), rtol=1e-4, atol=1e-4)


def test_reset_makes_a_model_sequential():
    assert not load_neuron("gradient/lif").is_linear()
    assert not load_neuron("gradient/adlif").is_linear()
    assert load_neuron("gradient/spsn").is_linear()


def test_pculif_decays_are_trained_through_a_sigmoid():
    layer, _ = _layer("pculif")
    trainable, _ = layer.init_parameters(np.random.default_rng(0))
    np.testing.assert_allclose(jax.nn.sigmoid(trainable["d_m"]), np.exp(-1 / 5), rtol=1e-6)
    x = _inputs()

    def total(raw):
        values = layer.effective({**trainable, "d_m": raw}, {"theta": jnp.full(5, 0.5)})
        return layer(x, values, None)[1].sum()

    assert np.abs(np.asarray(jax.grad(total)(trainable["d_m"]))).sum() > 0


# --- spike functions ----------------------------------------------------------------------------


def test_surrogates_have_the_spec_slopes():
    u = jnp.array([-0.3, 0.0, 0.2])
    slope = jax.vmap(jax.grad(lambda v: heaviside(v, True, "fast_sigmoid", 5.0)))(u)
    np.testing.assert_allclose(slope, 1 / (5 * np.abs(np.asarray(u)) + 1) ** 2, rtol=1e-6)
    slope = jax.vmap(jax.grad(lambda v: heaviside(v, True, "atan", 2.0)))(u)
    np.testing.assert_allclose(slope, 1 / (1 + (np.pi * np.asarray(u)) ** 2), rtol=1e-6)
    assert heaviside(jnp.array(0.0), True, "atan", 1.0) == 1
    assert heaviside(jnp.array(0.0), False, "atan", 1.0) == 0


def test_sigmoid_bernoulli_and_gumbel_softmax():
    membrane = jnp.full((20000,), 0.7)
    uniform = jnp.asarray(np.random.default_rng(0).random(20000, dtype=np.float32))
    p = float(jax.nn.sigmoid(0.7))
    assert abs(float(sigmoid_bernoulli(membrane, uniform).mean()) - p) < 0.015
    grad = jax.grad(lambda m: sigmoid_bernoulli(m, uniform[:1]).sum())(jnp.array([0.7]))
    np.testing.assert_allclose(grad, [p * p * (1 - p)], rtol=1e-5)  # ds/dm = p^2 (1 - p)
    p2 = float(jax.nn.sigmoid(1.4))  # Gumbel-softmax fires with sigmoid(2 m)
    assert abs(float(gumbel_softmax(membrane, uniform).mean()) - p2) < 0.015
    values = gumbel_softmax(membrane, uniform)
    assert set(np.unique(np.asarray(values))) <= {0.0, 1.0}
    # the same uniforms give the same spikes (NumPy draws them; the network takes them in)
    np.testing.assert_array_equal(sigmoid_bernoulli(membrane, uniform), uniform < p)


# --- first-spike readout (spec A.2) -------------------------------------------------------------


def test_time_map_ranks_silent_neurons_by_peak_potential():
    spikes = np.zeros((1, 3, 5), np.float32)
    spikes[0, 1, 3] = spikes[0, 1, 4] = 1  # neuron 1 fires at steps 4 and 5 (1-based)
    potentials = np.array([[[0.1, 0.5, 0.2, 0.0, 0.0], [0, 0, 0, 1, 1], [0.9, 0.1, 0, 0, 0]]])
    times = np.asarray(
        losses.first_spike_times(jnp.asarray(spikes), jnp.asarray(potentials), 2, 1.0)
    )
    # neuron 1: step 4; neuron 2 (peak 0.9, rank 2 overall) 5 + 2; neuron 0 (peak 0.5, rank 3) 5 + 3
    np.testing.assert_allclose(times[0], [8.0, 4.0, 7.0])
    np.testing.assert_allclose(metrics.first_spike_steps(spikes, potentials)[0], times[0])


def test_first_spike_backward_is_the_spread_error():
    steps, spread, amplitude = 20, 4, 3.0
    spikes = np.zeros((1, 2, steps), np.float32)
    spikes[0, 0, 7] = 1  # neuron 0 spikes at index 7; neuron 1 is silent
    potentials = jnp.asarray(RNG.normal(size=(1, 2, steps)), jnp.float32)
    g = np.array([[0.5, -2.0]], np.float32)
    _, backward = jax.vjp(
        lambda s: losses.first_spike_times(s, potentials, spread, amplitude), jnp.asarray(spikes)
    )
    (d_spikes,) = backward(jnp.asarray(g))
    sigma = steps // spread  # 5: length min(6 sigma + 1, 2 (T // 2) + 1) = 21
    window = np.exp(-0.5 * (np.arange(-10, 11) / sigma) ** 2)
    expected_0 = -amplitude * 0.5 * window[10 - 7 : 10 - 7 + steps].copy()
    expected_0 = np.pad(expected_0, (0, steps - len(expected_0)))  # centred on index 7
    expected_1 = (
        -amplitude
        * -2.0
        * np.array([window[max(0, 10 - t) : 10 + steps - t].sum() for t in range(steps)])
    )
    np.testing.assert_allclose(d_spikes[0, 0], expected_0, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(d_spikes[0, 1], expected_1, rtol=1e-5, atol=1e-5)


def test_first_spike_loss_pushes_the_target_earlier_and_penalises_silent_targets():
    times = jnp.array([[5.0, 9.0, 30.0]])
    grad = jax.grad(lambda t: losses.first_spike_loss(t, jnp.array([1]), 0.2, 20, 0.01, 0.02))(
        times
    )
    assert grad[0, 1] > 0 and grad[0, 0] < 0  # target later -> larger loss
    silent = losses.first_spike_loss(times, jnp.array([2]), 0.2, 20, 0.01, 0.02)
    plain = losses.first_spike_loss(times, jnp.array([2]), 0.2, 20, 0.0, 0.02)
    np.testing.assert_allclose(float(silent - plain), 0.01 * (np.exp(0.02 * 30) - 1), rtol=1e-5)


def test_spike_rate_penalty():
    layers = [jnp.full((2, 10, 4), 0.5), jnp.full((2, 10, 6), 0.25)]
    expected = max(4 * 0.5 + 6 * 0.25 - 0.2 * 10, 0) ** 2
    np.testing.assert_allclose(float(losses.spike_rate_penalty(layers, 0.2)), expected, rtol=1e-6)
    assert float(losses.spike_rate_penalty(layers, 0.4)) == 0


# --- test metrics (spec A.7) --------------------------------------------------------------------


def test_accuracy_over_time_and_latency():
    spikes = np.zeros((2, 2, 6))
    spikes[0, 0, 1] = 1  # sample 0: class 0 first at step 2 (correct)
    spikes[1, 1, 4] = spikes[1, 1, 5] = 1  # sample 1: class 1 at step 5 (correct)
    potentials = np.zeros_like(spikes)
    labels = np.array([0, 1])
    fs = metrics.accuracy_over_time(spikes, potentials, labels, "fs")
    np.testing.assert_allclose(fs, [0, 0.5, 0.5, 0.5, 1, 1])
    fr = metrics.accuracy_over_time(spikes, potentials, labels, "fr")
    np.testing.assert_allclose(fr, [0, 0.5, 0.5, 0.5, 1, 1])
    assert metrics.latency(fs, 0.5) == 2 and metrics.latency(fs, 0.9) == 5
    np.testing.assert_array_equal(metrics.decode_rate(spikes), [0, 1])


# --- network: BatchNorm folding -----------------------------------------------------------------


def test_batch_norm_folds_into_the_inference_weights():
    layers = {
        "size": 6,
        "neuron": "gradient/culif",
        "batch_norm": True,
        "parameters": {"theta": 0.2},
    }
    network = GradientNetwork(
        hidden=[layers],
        readout={"size": 3, "neuron": "gradient/culif", "parameters": {"theta": 0.2}},
    )
    stack = GradientStack(network, 8)
    params, constants, stats = stack.init_state(0)
    stats = [{"mean": jnp.linspace(-0.5, 0.5, 6), "var": jnp.linspace(0.5, 2, 6)}, {}]
    params["layers"][0]["bn_scale"] = jnp.linspace(0.5, 1.5, 6)
    params["layers"][0]["bn_shift"] = jnp.linspace(0.1, 0.3, 6)
    x = _inputs(batch=4, steps=30, size=8, high=2.0)
    reference = stack.forward(params, constants, stats, x, jax.random.PRNGKey(0), train=False)
    exported = stack.inference_weights(params, constants, stats)
    plain = GradientNetwork(
        hidden=[{**layers, "batch_norm": False, "bias": True}], readout=network.readout
    )
    folded = GradientStack(plain, 8)
    fparams, fconstants, fstats = folded.init_state(0)
    fparams["layers"][0]["weight"] = jnp.asarray(exported[0]["weight"], jnp.float32)
    fparams["layers"][0]["bias"] = jnp.asarray(exported[0]["bias"], jnp.float32)
    fparams["layers"][1]["weight"] = jnp.asarray(exported[1]["weight"], jnp.float32)
    again = folded.forward(fparams, fconstants, fstats, x, jax.random.PRNGKey(0), train=False)
    assert 0 < float(reference.hidden[0].mean()) < 1
    assert float(jnp.abs(reference.hidden[0] - again.hidden[0]).mean()) < 1e-3
    np.testing.assert_allclose(reference.readout_membrane, again.readout_membrane, atol=2e-3)


def _fusable(fuse: bool, readout: dict, batch_norm_1: bool = False) -> GradientStack:
    def lif(size, **extra):
        return {"size": size, "neuron": "gradient/lif", "parameters": {"theta": 0.05}, **extra}

    hidden = [lif(6, batch_norm=True), lif(5, dropout=0.3, batch_norm=batch_norm_1), lif(4)]
    return GradientStack(
        GradientNetwork(
            hidden=hidden, readout=readout, init="kaiming_uniform", fuse_time_loops=fuse
        ),
        8,
    )


def test_fused_time_loop_gives_the_values_of_one_loop_per_layer():
    membrane_readout = {"size": 3, "neuron": "gradient/lif", "firing": "none"}
    spiking_readout = {"size": 3, "neuron": "gradient/culif", "parameters": {"theta": 0.05}}
    assert _fusable(True, membrane_readout).groups == [[0, 1, 2], [3]]  # FFT readout apart
    assert _fusable(True, spiking_readout).groups == [[0, 1, 2, 3]]
    assert _fusable(True, spiking_readout, batch_norm_1=True).groups == [[0], [1, 2, 3]]
    assert _fusable(False, spiking_readout).groups == [[0], [1], [2], [3]]
    x = _inputs(batch=4, steps=50, size=8, high=1.0)
    start = jnp.asarray([0, 5, 17, 30])
    for readout in (membrane_readout, spiking_readout):
        fused, layered = _fusable(True, readout), _fusable(False, readout)
        params, constants, stats = layered.init_state(3)

        def run(stack, params, constants=constants, stats=stats):
            forward = stack.forward(
                params, constants, stats, x, jax.random.PRNGKey(2), train=True, start=start
            )
            membrane = forward.readout_membrane
            loss = (membrane**2).sum() + sum(h.sum() for h in forward.hidden)
            return loss, (forward.hidden, forward.readout_spikes, membrane)

        (loss_f, out_f), grad_f = jax.value_and_grad(run, 1, has_aux=True)(fused, params)
        (loss_l, out_l), grad_l = jax.value_and_grad(run, 1, has_aux=True)(layered, params)
        for a, b in zip(out_f[0], out_l[0], strict=True):
            assert 0 < float(b.mean()) < 0.9  # every layer fires, and not on every step
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(out_f[1], out_l[1])
        np.testing.assert_allclose(out_f[2], out_l[2], atol=1e-5)
        assert float(jnp.abs(out_f[2][2, :17]).max()) == 0  # nothing before the start
        np.testing.assert_allclose(loss_f, loss_l, rtol=1e-6)
        for a, b in zip(jax.tree.leaves(grad_f), jax.tree.leaves(grad_l), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * float(jnp.abs(b).max()))


# --- protocols: training end to end, resume, errors --------------------------------------------


def _synthetic(path: Path, n: int, seed: int, classes: int = 3, units: int = 24) -> None:
    """Class c fires its band of channels, later for larger c, plus background noise."""
    rng = np.random.default_rng(seed)
    times, units_list = [], []
    for i in range(n):
        c = i % classes
        band = np.arange(c * units // classes, (c + 1) * units // classes)
        unit = np.concatenate([rng.choice(band, 40), rng.integers(0, units, 15)])
        time = np.concatenate([rng.uniform(0, 0.15, 40) + 0.05 * c, rng.uniform(0, 0.3, 15)])
        order = np.argsort(time)
        times.append(time[order])
        units_list.append(unit[order])
    labels = np.arange(n) % classes
    keys = [f"class{k}" for k in range(classes)]
    write_shd(path, SpikeEvents(times, units_list, labels, np.zeros(n, int), keys, units))


@pytest.fixture(scope="module")
def spike_files(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("spikes")
    _synthetic(directory / "train.h5", 96, 0)
    _synthetic(directory / "test.h5", 48, 1)
    return directory


def _protocol(directory: Path, tmp_path: Path, **changes) -> Path:
    data = {
        "kind": "gradient",
        "name": "tiny_fs",
        "data": {
            "train": str(directory / "train.h5"),
            "test": str(directory / "test.h5"),
            "dt": "10 ms",
            "steps": 30,
        },
        "network": {
            "hidden": [
                {"size": 16, "neuron": "gradient/adlif", "batch_norm": True, "dropout": 0.1}
            ],
            "readout": {
                "size": 3,
                "neuron": "gradient/culif",
                "parameters": {"tau_m": 20, "tau_s": 20, "theta": 1},
            },
        },
        "loss": {"kind": "first_spike", "alpha": 0.2, "spread": 4, "amplitude": 50},
        "training": {
            "epochs": 6,
            "batch_size": 16,
            "learning_rate": 0.01,
            "weight_decay": 1e-4,
            "clip_norm": 10,
        },
        "test": {"batch_size": 48},
        "recording": {},
        "device": {},
    }
    for key, value in changes.items():
        section, name = key.split("__")
        data[section][name] = value
    path = tmp_path / "protocol.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_first_spike_training_learns_and_reports_both_decodings(spike_files, tmp_path):
    from brainsnn.gradient.experiment import run_gradient_protocol

    protocol = load_protocol(_protocol(spike_files, tmp_path))
    data = run_gradient_protocol(protocol, tmp_path / "run", show_progress=False)
    assert list(data.decoding.values) == ["fs", "fr"]
    assert float(data.train_loss[-1]) < float(data.train_loss[0])
    assert float(data.test_accuracy.sel(decoding="fs")) > 0.8  # chance is 1/3
    curve = data.accuracy_over_time.sel(decoding="fs").values
    assert np.all(np.diff(curve) >= 0) and curve[-1] == pytest.approx(float(data.test_accuracy[0]))
    assert 1 <= int(data.latency_50.sel(decoding="fs")) <= int(data.latency_90.sel(decoding="fs"))
    assert data.spikes_per_neuron.sizes["layer"] == 2
    assert (tmp_path / "run" / "network.npz").is_file()
    assert data.train_loss.attrs["units"] == "1" and data.epoch_train_seconds.attrs["units"] == "s"


def test_interrupted_run_resumes_to_the_same_result(spike_files, tmp_path):
    from brainsnn.core.errors import BrainsnnError
    from brainsnn.gradient.experiment import run_gradient_protocol

    path = _protocol(spike_files, tmp_path, training__epochs=4)
    whole = run_gradient_protocol(load_protocol(path), tmp_path / "whole", show_progress=False)
    short = load_protocol(path, ["training.epochs=2"])
    run_gradient_protocol(short, tmp_path / "part", show_progress=False)
    (tmp_path / "part" / "results.nc").unlink()  # as if stopped after epoch 2
    with pytest.raises(BrainsnnError, match=r"training\.epochs"):
        run_gradient_protocol(load_protocol(path), tmp_path / "part", resume=True)
    (tmp_path / "part" / "protocol.yaml").write_text(
        yaml.safe_dump(load_protocol(path).model_dump(), sort_keys=False)
    )
    resumed = run_gradient_protocol(
        load_protocol(path), tmp_path / "part", resume=True, show_progress=False
    )
    np.testing.assert_allclose(resumed.train_loss, whole.train_loss, rtol=1e-5)
    np.testing.assert_array_equal(resumed.test_prediction, whole.test_prediction)


def test_spsn_membrane_readout_trains(spike_files, tmp_path):
    from brainsnn.gradient.experiment import run_gradient_protocol

    spsn = {"size": 16, "neuron": "gradient/spsn", "bias": True}
    path = _protocol(
        spike_files,
        tmp_path,
        network__hidden=[spsn, {**spsn, "firing": "gumbel_softmax"}],
        network__readout={"size": 3, "neuron": "gradient/lif", "firing": "none", "bias": True},
        network__init="kaiming_uniform",
        loss__kind="membrane",
        loss__rate_threshold=0.4,
        data__align="end",
        data__shift=0.1,
        data__scale=0.2,
        training__optimizer="adamax",
    )
    data = run_gradient_protocol(load_protocol(path), tmp_path / "run", show_progress=False)
    assert list(data.decoding.values) == ["membrane"]
    assert "accuracy_over_time" not in data
    assert np.isfinite(data.train_loss).all()
    assert float(data.train_loss[-1]) < float(data.train_loss[0])


def test_protocol_errors(spike_files, tmp_path):
    path = _protocol(
        spike_files,
        tmp_path,
        network__readout={"size": 3, "neuron": "gradient/culif", "parameters": {"tau": 3}},
    )
    with pytest.raises(ConfigError, match=r"network.readout.parameters: unknown \['tau'\]"):
        load_protocol(path)
    path = _protocol(spike_files, tmp_path, network__readout={"size": 3, "neuron": "gradient/nope"})
    with pytest.raises(ConfigError, match="gradient/culif"):
        load_protocol(path)
    path = _protocol(spike_files, tmp_path, loss__kind="membrane")
    with pytest.raises(ConfigError, match="non-firing readout"):
        load_protocol(path)
    path = _protocol(spike_files, tmp_path, data__dt="10 mV")
    with pytest.raises(ConfigError, match=r"data\.dt"):
        load_protocol(path)


def test_missing_data_and_wrong_readout_size(spike_files, tmp_path):
    from brainsnn.gradient.experiment import run_gradient_protocol

    path = _protocol(spike_files, tmp_path, data__train=str(tmp_path / "absent.h5"))
    with pytest.raises(DataError, match=r"absent\.h5 not found"):
        run_gradient_protocol(load_protocol(path), tmp_path / "run")
    assert not (tmp_path / "run").exists()
    readout = {"size": 5, "neuron": "gradient/culif"}
    path = _protocol(spike_files, tmp_path, network__readout=readout)
    with pytest.raises(ConfigError, match=r"readout\.size is 5 but the data has 3 classes"):
        run_gradient_protocol(load_protocol(path), tmp_path / "run2")


def test_run_re_simulates_the_trained_network_in_brian2(spike_files, tmp_path):
    from brainsnn.gradient.experiment import run_gradient_protocol

    path = _protocol(
        spike_files,
        tmp_path,
        training__epochs=2,
        recording__resimulate=True,
        recording__resimulate_samples=12,
        recording__traces={"neurons": [0, 2], "samples": 2, "potential": "h"},
        device__name="runtime",
    )
    data = run_gradient_protocol(load_protocol(path), tmp_path / "run", show_progress=False)
    np.testing.assert_array_equal(data.resimulated_agreement.values, [1.0, 1.0])
    np.testing.assert_array_equal(
        data.resimulated_prediction.values, data.test_prediction.values[:, :12]
    )
    assert data.trace_v.sizes == {"trace_neuron": 2, "trace_time": 2 * 30}
    assert data.trace_time.attrs["units"] == "ms"
    assert float(data.trace_threshold.max()) == pytest.approx(1.0)  # the readout's theta


def test_figures_of_a_gradient_run(spike_files, tmp_path):
    from click.testing import CliRunner

    from brainsnn import open_results
    from brainsnn.cli import main
    from brainsnn.figures import gradient as gradient_figures
    from brainsnn.gradient.experiment import run_gradient_protocol

    path = _protocol(spike_files, tmp_path, training__epochs=2)
    run_gradient_protocol(load_protocol(path), tmp_path / "run", show_progress=False)
    out = tmp_path / "figures"
    result = CliRunner().invoke(
        main, ["figures", str(tmp_path / "run"), "--out", str(out), "--format", "png"]
    )
    assert result.exit_code == 0, result.output
    names = ["confusion", "accuracy_over_time", "training_curves", "layer_activity"]
    for name in names:
        assert (out / f"run_{name}.png").stat().st_size > 0
    ds = open_results(tmp_path / "run")
    (ax,) = gradient_figures.accuracy_over_time(ds).axes
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("decision time (ms)", "test accuracy (%)")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "first spike (FS)",
        "firing rate (FR)",
    ]
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata()[:2], [10.0, 20.0])  # dt 10 ms
    ax = gradient_figures.training_curves(ds).axes[0]
    assert ax.get_ylabel() == "training loss"
    (ax,) = gradient_figures.layer_activity(ds).axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["hidden 1", "readout"]


def test_paralif_spike_functions():
    membrane = jnp.asarray([[[0.0], [0.5], [0.45], [1.2], [1.1]]])  # (batch 1, T 5, N 1)
    theta = jnp.asarray([0.2])
    surrogate = ("fast_sigmoid", 100.0)
    rise = paralif_spikes("D", membrane, theta, None, surrogate)[0, :, 0]
    np.testing.assert_array_equal(rise, [0, 1, 0, 1, 0])  # rises 0.5 and 0.75 exceed 0.2
    above = paralif_spikes("T", membrane, jnp.asarray([0.48]), None, surrogate)[0, :, 0]
    np.testing.assert_array_equal(above, [0, 1, 0, 1, 1])
    sigmoid_rise = paralif_spikes("SD", membrane, jnp.asarray([0.1]), None, surrogate)[0, :, 0]
    s = 1 / (1 + np.exp(-np.asarray(membrane[0, :, 0])))
    np.testing.assert_array_equal(sigmoid_rise, np.diff(s, prepend=0.0) > 0.1)
    grad = jax.grad(lambda m: paralif_spikes("T", m, theta, None, surrogate).sum())(membrane)
    np.testing.assert_allclose(grad[0, 1, 0], 1 / (100 * 0.3 + 1) ** 2, rtol=1e-5)
    draws = paralif_spikes(
        "TRB", jnp.full((1, 20000, 1), -1.0), theta, jnp.full((1, 20000, 1), 1e-9), surrogate
    )
    assert float(draws.sum()) == 0  # relu(tanh(-1)) = 0: never fires


def test_paralif_layer_trains_its_threshold():
    layer, _ = _layer("paralif", size=4)
    assert layer.parallel and layer.model.firing == "paralif_D"
    trainable, constants = layer.init_parameters(np.random.default_rng(0))
    assert trainable["theta"].shape == (1,)  # one per layer
    x = _inputs(steps=50, size=4, high=3.0)

    def total(raw):
        return layer(x, layer.effective({"theta": raw}, constants), None)[0].sum()

    assert float(jax.grad(total)(trainable["theta"])[0]) < 0  # a higher threshold, fewer spikes
    with pytest.raises(ConfigError, match="reset-free neuron with a theta"):
        load_neuron("gradient/lif", "paralif_D")


def test_amsgrad_follows_pytorch():
    """PyTorch Adam(amsgrad=True) written out: max of the raw second moment, bias-corrected."""
    from brainsnn.gradient.optimizers import torch_amsgrad

    grads = [np.array([4.0, -1.0]), np.array([0.1, 0.5]), np.array([-0.2, 0.3])]
    optimizer = torch_amsgrad(0.01)
    params = jnp.zeros(2)
    state = optimizer.init(params)
    m = v = v_max = np.zeros(2)
    expected = np.zeros(2)
    for t, g in enumerate(grads, start=1):
        updates, state = optimizer.update(jnp.asarray(g), state, params)
        params = params + updates
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        v_max = np.maximum(v_max, v)
        denom = np.sqrt(v_max) / np.sqrt(1 - 0.999**t) + 1e-8
        expected = expected - 0.01 * (m / (1 - 0.9**t)) / denom
    np.testing.assert_allclose(params, expected, rtol=1e-5)


def test_adlif_couplings_are_clamped_after_each_step():
    network = GradientNetwork(
        hidden=[{"size": 4, "neuron": "gradient/adlif"}],
        readout={"size": 2, "neuron": "gradient/culif"},
    )
    stack = GradientStack(network, 3)
    params, _, _ = stack.init_state(0)
    params["layers"][0]["neuron"]["a"] = jnp.array([-0.5, 0.2, 1.7, 0.9])
    projected = stack.project(params)
    np.testing.assert_allclose(projected["layers"][0]["neuron"]["a"], [0.0, 0.2, 1.0, 0.9])
    np.testing.assert_array_equal(
        projected["layers"][0]["neuron"]["alpha"], params["layers"][0]["neuron"]["alpha"]
    )
