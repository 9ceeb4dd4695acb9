"""Every learning rule and regulation, as whole tiny protocols, against the NumPy oracle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from brainsnn.protocol import load_protocol
from brainsnn.readout.crosscheck import oracle_training
from brainsnn.readout.data import prepare_data
from brainsnn.run import run_protocol

pytestmark = pytest.mark.standalone
ROOT = Path(__file__).resolve().parent.parent
BASE = ["inputs/ttfs", "neurons/if_single_spike", "synapses/delta", "decision/first_spike",
        "competition/ncg"]  # fmt: skip
TINY = ["data.train_subset=150", "data.test_subset=60", "training.chunk_size=50",
        "training.max_epochs=3", "training.patience=0"]  # fmt: skip
CONFIGS = {
    "sstdp+ncg": (
        [*BASE, "rules/s2stdp", "rules/time_ranges", "regulation/cr2"],
        {"w_norm": 0, "thr_lr": 0.5, "gap": 0.1},
    ),
    "s2stdp+ncg-cr-1": ([*BASE, "rules/s2stdp", "regulation/cr1"], {"thr_lr": 0.5}),
    "s2stdp+ncg-drop": ([*BASE, "rules/s2stdp", "regulation/dropout"], {"p_drop": 0.3}),
    "s2stdp+ncg-drop-no-win": (
        [*BASE, "rules/s2stdp", "regulation/dropout"],
        {"p_drop": 0.3, "dropped_can_win": 0},
    ),
    "s4nn+ncg": (
        [*BASE, "rules/s4nn", "regulation/cr2"],
        {"lr": 0.05, "gap": 0.1, "thr_lr": 0.5, "w_min": 0.0, "w_max": 1.0},
    ),
    "s4nn+ncg-two-sided": (
        [*BASE, "rules/s4nn", "regulation/cr2"],
        {"lr": 0.05, "gap": 0.1, "thr_lr": 0.5, "w_min": 0.0, "w_max": 1.0, "time_ranges": 0},
    ),
    "rstdp-5n": (
        [*BASE, "rules/rstdp", "regulation/dropout"],
        {"p_drop": 0.15, "theta0": 5.0, "a_plus": 0.05, "a_minus": -0.01},
    ),
}


def config_protocol(name: str, build_root: Path, device: str):
    models, parameters = CONFIGS[name]
    overrides = [*TINY, f"device.build_dir={build_root}", f"device.name={device}",
                 f"network.models=[{', '.join(models)}]", "network.parameters={}"]  # fmt: skip
    values = {"theta0": 7.0, **parameters}
    overrides += [f"network.parameters.{key}={value}" for key, value in values.items()]
    if name.startswith("rstdp"):
        overrides += ["network.nontarget_per_class=0", "network.weights.mean=0.5"]
    return load_protocol(ROOT / "protocols" / "ncg_digits.yaml", overrides)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_rule_matches_oracle(name, build_root, tmp_path):
    protocol = config_protocol(name, build_root, "cpp")
    ours = run_protocol(protocol, out=str(tmp_path / name), show_progress=False).dataset
    oracle = oracle_training(protocol, prepare_data(protocol), chunk_size=50)
    np.testing.assert_array_equal(ours.train_accuracy.values, oracle.train_acc)
    np.testing.assert_array_equal(ours.test_accuracy.values, oracle.test_acc)
    np.testing.assert_allclose(ours.weights.values, oracle.weights, atol=1e-9)
    np.testing.assert_allclose(ours.test_threshold.values, oracle.theta_test, atol=1e-9)
    assert not np.allclose(ours.weights.values, ours.weights.values.mean())  # it learned


@pytest.mark.parametrize("name", ["rstdp-5n", "s2stdp+ncg-drop-no-win"])
def test_runtime_matches_cpp(name, build_root, tmp_path):
    runs = {
        device: run_protocol(
            config_protocol(name, build_root, device), out=str(tmp_path / device),
            show_progress=False,
        ).dataset
        for device in ("runtime", "cpp")
    }  # fmt: skip
    np.testing.assert_array_equal(runs["runtime"].test_prediction, runs["cpp"].test_prediction)
    np.testing.assert_allclose(runs["runtime"].weights, runs["cpp"].weights, atol=1e-12)
