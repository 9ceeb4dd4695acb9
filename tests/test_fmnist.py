"""Fashion-MNIST (784 inputs, 255 steps): the compiled readout against the oracle on real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from brainsnn.data import FASHION_MNIST_DIR
from brainsnn.engine.state import state_key
from brainsnn.protocol import load_protocol
from brainsnn.readout import reference
from brainsnn.readout.backend import make_backend
from brainsnn.readout.crosscheck import oracle_setup, split_times
from brainsnn.readout.data import prepare_data
from brainsnn.readout.experiment import build_layout, fresh_progress
from brainsnn.readout.training import ReadoutTrainer

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [
    pytest.mark.standalone,
    pytest.mark.data,
    pytest.mark.skipif(
        not (FASHION_MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists(),
        reason="Fashion-MNIST not installed (apt-get install -y dataset-fashion-mnist)",
    ),
]


@pytest.fixture(scope="module")
def setup(build_root):
    protocol = load_protocol(
        ROOT / "protocols" / "ncg_fmnist.yaml",
        ["data.train_subset=400", "data.test_subset=200", "training.chunk_size=200",
         f"device.build_dir={build_root}"],
    )  # fmt: skip
    models = protocol.resolved
    composed, parameters = dict(models.composed), dict(models.parameters)
    data = prepare_data(protocol)
    layout = build_layout(protocol, data)
    backend = make_backend("cpp", layout, composed, build_root)
    trainer = ReadoutTrainer(backend, data, layout.chunk_size, 1, 0, show_progress=False)
    return protocol, data, layout, composed, parameters, trainer


def test_forward_decisions_match_oracle(setup):
    protocol, data, layout, _composed, parameters, trainer = setup
    progress = fresh_progress(protocol, layout, protocol.resolved)
    rng = np.random.default_rng(3)
    weights = np.clip(rng.normal(0.3, 0.1, (layout.n_outputs, layout.n_inputs)), 0, 1)
    progress.state[state_key("feedforward", "w")] = weights.reshape(-1)
    results = trainer.present(data.test, progress, False, True, "test")
    prediction = np.concatenate([r.prediction for r in results])
    spike_times = np.concatenate([r.first_spike_time for r in results])
    times = split_times(data.test, data.time_steps)
    oracle_pred, oracle_times, _ = reference.predict(
        times, weights, parameters["theta0"], layout.neurons_per_class
    )
    assert np.mean(prediction == oracle_pred) >= 0.995
    np.testing.assert_allclose(spike_times, oracle_times, rtol=0, atol=1e-12)
    assert np.mean(spike_times < 1) > 0.5  # the neurons really fire on this data


def test_one_training_epoch_matches_oracle(setup):
    protocol, data, layout, _composed, _parameters, trainer = setup
    progress = fresh_progress(protocol, layout, protocol.resolved)
    trainer.train(progress)
    params, weights, sums = oracle_setup(protocol, data)
    oracle = reference.ReferenceReadout(params, weights, sums)
    train_accuracy = oracle.train_epoch(split_times(data.train, data.time_steps), data.train.labels)
    assert progress.history["train_accuracy"][0] == pytest.approx(train_accuracy, abs=0.01)
    np.testing.assert_allclose(
        progress.state[state_key("feedforward", "w")].reshape(oracle.weights.shape),
        oracle.weights,
        atol=1e-9,
    )
    np.testing.assert_allclose(
        progress.state[state_key("outputs", "theta_train")], oracle.theta_train, atol=1e-9
    )
