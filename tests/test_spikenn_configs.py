"""SpikeNN's readout configs, imported: every shipped JSON file against its protocol, key by key.

The protocols under protocols/spikenn/ must be what ``python -m brainsnn.spikenn_configs`` writes
from ../shared/peers/spikenn/config/. Each one is loaded (schema and model files) and its
*resolved* values, read the way the NumPy oracle reads them, are compared with the JSON file and
SpikeNN's defaults (app/readout.py). Nothing is compiled or simulated.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from brainsnn import spikenn_configs as sc
from brainsnn.cli import main as cli
from brainsnn.core.errors import ConfigError
from brainsnn.protocol import load_protocol
from brainsnn.readout.crosscheck import oracle_params

REGENERATE = "python -m brainsnn.spikenn_configs"
pytestmark = pytest.mark.skipif(
    not sc.SPIKENN_CONFIG_ROOT.is_dir(),
    reason=f"SpikeNN's configs are not at {sc.SPIKENN_CONFIG_ROOT} (../shared/peers/spikenn)",
)
CONFIGS = sorted(sc.shipped_configs()) if sc.SPIKENN_CONFIG_ROOT.is_dir() else []
CONFIG_IDS = [str(path.relative_to(sc.SPIKENN_CONFIG_ROOT).with_suffix("")) for path in CONFIGS]


def test_generated_files_are_current():
    problems = sc.stale_files()
    assert not problems, f"protocols/spikenn is out of date; regenerate with {REGENERATE}: " + (
        "; ".join(problems)
    )


def test_every_shipped_config_has_its_protocol():
    # 15 + 21 + 21 + 8 (STDP-CSNN MNIST, F-MNIST, CIFAR-10, CIFAR-100) + 13 + 21 + 21 + 8 (SoftHebb)
    assert len(CONFIGS) == 128
    generated = {path.relative_to(sc.PROTOCOL_ROOT) for path in sc.PROTOCOL_ROOT.rglob("*.yaml")}
    assert generated == {sc.protocol_path(path) for path in CONFIGS}


def test_check_finds_edited_missing_and_foreign_files(tmp_path, capsys):
    assert sc.main(["--root", str(tmp_path)]) == 0
    assert sc.main(["--check", "--root", str(tmp_path)]) == 0
    edited = tmp_path / "csnn" / "fmnist" / "s2stdp+ncg.yaml"
    edited.write_text(edited.read_text(encoding="utf-8") + "seed: 1\n", encoding="utf-8")
    (tmp_path / "csnn" / "mnist" / "s2stdp.yaml").unlink()
    (tmp_path / "csnn" / "extra.yaml").write_text("name: extra\n", encoding="utf-8")
    assert sorted(sc.stale_files(tmp_path)) == [
        "csnn/extra.yaml: not generated",
        "csnn/fmnist/s2stdp+ncg.yaml: differs",
        "csnn/mnist/s2stdp.yaml: missing",
    ]
    capsys.readouterr()
    assert sc.main(["--check", "--root", str(tmp_path)]) == 1
    assert REGENERATE in capsys.readouterr().err


def _rule(optimizer: dict) -> str:
    if optimizer["method"] == "s2stdp" and optimizer.get("use_time_ranges", False):
        return "sstdp"
    return optimizer["method"]


@pytest.mark.parametrize("config_path", CONFIGS, ids=CONFIG_IDS)
def test_protocol_matches_its_config_key_by_key(config_path: Path):
    config = json.loads(config_path.read_text(encoding="utf-8"))
    (layer,) = config["network"]
    optimizer, trainer = config["optimizer"], config["trainer"]
    regularizer = config.get("regularizer")
    n_classes = sc.CLASSES[config_path.parent.name]
    protocol = load_protocol(sc.PROTOCOL_ROOT / sc.protocol_path(config_path))
    oracle = oracle_params(protocol, n_classes)  # the resolved values, as the oracle reads them
    seen: set[str] = set()

    def check(section: dict, key: str, actual, default=None, convert=lambda value: value):
        seen.add(key)
        expected = section.get(key, default)
        assert actual == (None if expected is None else convert(expected)), key

    check(layer, "n_neurons", oracle.n_neurons)
    check(layer, "firing_threshold", oracle.theta0)
    check(layer, "w_init_normal", True)
    check(layer, "w_init_mean", protocol.network.weights.mean)
    check(layer, "w_init_std", protocol.network.weights.std)
    check(layer, "w_min", oracle.w_min)
    check(layer, "w_max", oracle.w_max)
    check(layer, "w_norm", oracle.w_norm, False)
    rule = _rule(optimizer)
    check(optimizer, "method", oracle.rule, convert=lambda _: rule)
    check(optimizer, "stdp", "additive", "additive")
    check(optimizer, "annealing", oracle.annealing)
    if rule == "s4nn":
        check(optimizer, "lr", oracle.lr)
        check(optimizer, "use_time_ranges", oracle.time_ranges, True)  # readout.py:256
    else:
        check(optimizer, "ap", oracle.a_plus)
        check(optimizer, "am", oracle.a_minus)
        check(optimizer, "use_time_ranges", rule == "sstdp", False)
    if rule == "rstdp":  # readout.py:276-277, 286
        check(optimizer, "anti_ap", oracle.anti_a_plus, -optimizer["ap"])
        check(optimizer, "anti_am", oracle.anti_a_minus, -optimizer["am"])
        check(optimizer, "adaptive_lr", oracle.adaptive_lr, True)
    else:
        check(optimizer, "t_gap", oracle.gap)
        # with one neuron per class the intra-class WTA is moot, either way
        moot = oracle.neurons_per_class == 1
        wta = optimizer.get("class_inhib", False) if moot else oracle.intra_class_wta
        check(optimizer, "class_inhib", wta, False)
    if regularizer is None:
        assert oracle.thr_lr == 0.0 and "regulation/cr2" not in protocol.network.models
    else:
        check(regularizer, "thr_lr", oracle.thr_lr)
        check(regularizer, "thr_anneal", oracle.thr_anneal)
        check(regularizer, "use_two_thr", oracle.regulation == "cr2", True)  # readout.py:308
    check(trainer, "epochs", protocol.training.max_epochs)
    check(trainer, "early_stopping", protocol.training.patience)
    check(trainer, "nt_neurons", oracle.n_nontarget, 0)
    check(trainer, "dropout_out", oracle.p_drop, 0)
    assert oracle.dropped_can_win  # SpikeNN: a dropped neuron can still win its group
    check(trainer, "gridsearch_stop_acc", protocol.training.stop_below)
    keys = {key for section in (layer, optimizer, regularizer or {}, trainer) for key in section}
    assert keys <= seen, f"keys the test does not compare: {sorted(keys - seen)}"
    assert protocol.encoding.time_steps == sc.TIME_STEPS
    assert protocol.data.train_file.endswith("/trainset.npy")
    assert protocol.data.hint.strip()


def test_the_three_known_differences_from_the_old_hand_copied_tables():
    """SpikeNN's behaviour, not the spec's tables: the issue's list, point 2."""
    quirk = load_protocol(sc.PROTOCOL_ROOT / "softhebb/fmnist/sstdp+ncg-cr-1-thr.yaml")
    assert quirk.network.models[-1] == "regulation/cr2"  # no use_two_thr: SpikeNN runs CR-2
    header = (sc.PROTOCOL_ROOT / "softhebb/fmnist/sstdp+ncg-cr-1-thr.yaml").read_text("utf-8")
    assert "quirk" in header and "regulation/cr1" in header
    stop = load_protocol(sc.PROTOCOL_ROOT / "softhebb/fmnist/rstdp-20n.yaml")
    assert stop.training.stop_below == 0.8
    for path in sc.PROTOCOL_ROOT.rglob("s4nn*.yaml"):
        assert load_protocol(path).resolved.parameters["time_ranges"] == 1


def test_grid_search_config_becomes_a_sweep():
    path = sc.SPIKENN_CONFIG_ROOT / "STDP-CSNN/F-MNIST/gs/s2stdp+ncg.json"
    imported, _ = sc.import_file(path)
    sweep = imported.protocol["sweep"]
    config = json.loads(path.read_text(encoding="utf-8"))
    assert sweep["network.parameters.theta0"] == config["network"][0]["firing_threshold"]
    assert sweep["network.parameters.gap"] == config["optimizer"]["t_gap"]
    assert imported.protocol["training"]["stop_below"] == 0.8
    assert imported.protocol["network"]["parameters"]["theta0"] == 250.0  # first value for run


def _import(tmp_path: Path, config: dict, **kw) -> sc.Imported:
    path = tmp_path / "F-MNIST" / "x.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(config), encoding="utf-8")
    return sc.import_file(path, **kw)[0]


BASE = {
    "network": [{"n_neurons": 10, "firing_threshold": 200, "w_init_normal": True,
                 "w_init_mean": 0.3, "w_init_std": 0.01, "w_norm": True, "w_min": 0, "w_max": 1}],
    "optimizer": {"method": "s2stdp", "stdp": "additive", "t_gap": 0.01, "ap": 0.01, "am": -0.05,
                  "annealing": 0.98},
    "trainer": {"epochs": 100, "early_stopping": 10},
}  # fmt: skip


@pytest.mark.parametrize(
    "change, message",
    [
        ({"optimizer": {**BASE["optimizer"], "beta": 1}}, "optimizer.beta is not a SpikeNN key"),
        ({"optimizer": {**BASE["optimizer"], "method": ["s2stdp"]}}, "cannot be a list"),
        ({"optimizer": {**BASE["optimizer"], "stdp": "multiplicative"}}, "additive STDP only"),
        ({"optimizer": {**BASE["optimizer"], "lr": 0.1}}, "not read by SpikeNN's S2-STDP"),
        ({"network": [{**BASE["network"][0], "n_neurons": 15}]}, "multiple of the 10 classes"),
        ({"network": [{**BASE["network"][0], "n_neurons": 50}]}, "class_inhib"),
        ({"network": [{**BASE["network"][0], "leak_tau": 5}]}, "LIF readouts"),
        ({"network": []}, "a list of one layer"),
        ({"extra": {}}, "unknown section"),
        ({"trainer": {**BASE["trainer"], "epochs": "many"}}, "trainer.epochs: 'many'"),
    ],
)
def test_unsupported_or_malformed_keys_are_refused_in_one_line(tmp_path, change, message):
    with pytest.raises(ConfigError, match=message):
        _import(tmp_path, {**BASE, **change})


def test_cli_writes_a_valid_protocol_and_keeps_existing_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    source = sc.SPIKENN_CONFIG_ROOT / "STDP-CSNN/F-MNIST/s4nn.json"
    runner = CliRunner()
    result = runner.invoke(cli, ["import", "spikenn-config", str(source), "--features", "feat"])
    assert result.exit_code == 0, result.output
    protocol = load_protocol(tmp_path / "s4nn.yaml")
    assert protocol.data.train_file == "feat/trainset.npy"
    assert protocol.resolved.parameters["lr"] == 0.001
    again = runner.invoke(cli, ["import", "spikenn-config", str(source)])
    assert again.exit_code == 2 and "exists" in again.output
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    result = runner.invoke(cli, ["import", "spikenn-config", str(bad), "--classes", "10"])
    assert result.exit_code == 2 and "not valid JSON" in result.output
    assert "Traceback" not in result.output
