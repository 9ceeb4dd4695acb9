"""SpikeNN's published configurations (ncg.md §8) as the generated protocols in protocols/spikenn/.

The files must be what ``python -m brainsnn.spikenn_configs`` writes, each must validate, and a
few rows are checked against the spec's numbers. Nothing is compiled or simulated.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from brainsnn import spikenn_configs as sc
from brainsnn.core.errors import ConfigError
from brainsnn.core.modellib import find_model_file
from brainsnn.protocol import load_protocol
from brainsnn.readout.protocol import Protocol

ROOT = Path(__file__).resolve().parent.parent
REGENERATE = "python -m brainsnn.spikenn_configs"
ROW_IDS = [str(row.path.with_suffix("")) for row in sc.ROWS]


def _row(extractor: str, dataset: str, config: str) -> sc.Row:
    (row,) = [
        row
        for row in sc.ROWS
        if (row.extractor, row.dataset, row.config) == (extractor, dataset, config)
    ]
    return row


def _missing_models(row: sc.Row) -> list[str]:
    missing = []
    for name in sc.models(row):
        try:
            find_model_file(name)
        except ConfigError:
            missing.append(name)
    return missing


def test_generated_files_are_current():
    problems = sc.stale_files()
    assert not problems, f"protocols/spikenn is out of date; regenerate with {REGENERATE}: " + (
        "; ".join(problems)
    )


def test_one_file_per_row():
    # 15 + 21 (CSNN MNIST, F-MNIST) + 13 + 21 (SoftHebb) + 6 main configs x 2 extractors x
    # (CIFAR-10, CIFAR-100)
    assert len(sc.ROWS) == 94
    assert len(list(sc.PROTOCOL_ROOT.rglob("*.yaml"))) == len(sc.ROWS)
    assert len({row.path for row in sc.ROWS}) == len(sc.ROWS)


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


@pytest.mark.parametrize("row", sc.ROWS, ids=ROW_IDS)
def test_protocol_matches_the_schema(row):
    """Schema only (no model files needed): runs even before every model file exists."""
    protocol = Protocol.model_validate(sc.protocol(row))
    assert protocol.name == row.config == row.path.stem
    assert protocol.network.neurons_per_class * sc.CLASSES[row.dataset] == row.n


@pytest.mark.parametrize("row", sc.ROWS, ids=ROW_IDS)
def test_protocol_file_validates(row):
    missing = _missing_models(row)
    if missing:
        pytest.skip(f"model files not written yet: {', '.join(missing)}")
    protocol = load_protocol(sc.PROTOCOL_ROOT / row.path)
    assert protocol.network.models == sc.models(row)
    values = protocol.resolved.parameters
    assert values["theta0"] == row.theta0
    assert protocol.data.hint.strip()


def _neurons_per_class(config: str) -> int:
    """M as the config name says it (ncg.md §3, §6.6, §6.7)."""
    for part, m in (("-4n", 4), ("+pcn", 2), ("-20n", 20), ("-5n", 5), ("+ncg", 5)):
        if part in config:
            return m
    return 1


@pytest.mark.parametrize("row", sc.ROWS, ids=ROW_IDS)
def test_row_agrees_with_its_config_name(row):
    """The naming of ncg.md §3 and §6.7: M, the 'L' label, CR type, dropout, no LTD."""
    name = row.config
    assert row.m == _neurons_per_class(name)
    assert row.n == row.m * sc.CLASSES[row.dataset]
    if row.rule != "R":
        assert row.wta == (row.m > 1)
        assert (row.p_drop > 0) == ("cr-drop" in name)
    assert row.nt == int(name.startswith("s2stdp+") and "no-nt" not in name)
    if "cr-1-thr" in name:
        assert row.cr == "CR1"
    if "no-cr" in name or "cr-drop" in name:
        assert row.cr is None
    if "no-ltd" in name:
        assert row.a_minus == 0
    assert (row.w_min, row.w_max) == {
        "S2": (0, 1),
        "SSTDP": (0, 1),
        "R": (0.2, 0.8),
        "S4NN": (-1000, 1000),
    }[row.rule]


def test_csnn_fmnist_s2stdp_ncg():
    row = _row("csnn", "fmnist", "s2stdp+ncg")
    network = sc.protocol(row)["network"]
    assert (row.n, network["neurons_per_class"], network["nontarget_per_class"]) == (50, 5, 1)
    assert network["parameters"] == {
        "theta0": 300.0,
        "gap": 0.005,
        "a_plus": 0.1,
        "a_minus": -0.05,
        "w_min": 0.0,
        "w_max": 1.0,
        "w_norm": 1,
        "annealing": 0.98,
        "thr_lr": 5.0,
        "thr_anneal": 0.7,
    }
    assert network["weights"] == {"mean": 0.3, "std": 0.01}
    assert network["models"][-3:] == ["competition/ncg", "rules/s2stdp", "regulation/cr2"]


def test_softhebb_mnist_rstdp_5n():
    row = _row("softhebb", "mnist", "rstdp-5n")
    network = sc.protocol(row)["network"]
    assert (row.n, network["neurons_per_class"], network["nontarget_per_class"]) == (50, 5, 0)
    parameters = network["parameters"]
    assert parameters["theta0"] == 650.0 and parameters["p_drop"] == 0.15
    assert (parameters["a_plus"], parameters["a_minus"]) == (0.1, -0.001)
    assert (parameters["anti_a_plus"], parameters["anti_a_minus"]) == (-0.1, 0.005)
    assert (parameters["w_min"], parameters["w_max"], parameters["adaptive_lr"]) == (0.2, 0.8, 1)
    assert network["weights"]["mean"] == 0.8
    # regulation/dropout requires competition/ncg; R-STDP without dropout goes without it
    assert network["models"][-3:] == ["competition/ncg", "rules/rstdp", "regulation/dropout"]
    assert sc.models(_row("csnn", "mnist", "rstdp-5n"))[-2:] == [
        "decision/first_spike",
        "rules/rstdp",
    ]


def test_cifar100_is_cifar10_with_ten_times_the_neurons():
    row = _row("csnn", "cifar100", "s2stdp+ncg")
    assert (row.n, row.m, row.theta0, row.thr_lr, row.thr_anneal) == (500, 5, 400.0, 5.0, 0.5)
    for c100 in (r for r in sc.ROWS if r.dataset == "cifar100"):
        c10 = _row(c100.extractor, "cifar10", c100.config)
        assert c100.n == 10 * c10.n
        assert sc.parameters(c100) == sc.parameters(c10)
    assert {r.config for r in sc.ROWS if r.dataset == "cifar100"} == {
        "s2stdp+ncg",
        "sstdp+ncg",
        "s2stdp",
        "sstdp",
        "rstdp-5n",
        "rstdp-20n",
    }


def test_sstdp_rows_use_time_ranges_and_s4nn_rows_lr():
    sstdp = sc.protocol(_row("csnn", "cifar10", "sstdp"))["network"]
    assert sstdp["models"][-2:] == ["rules/s2stdp", "rules/time_ranges"]
    assert sstdp["parameters"]["gap"] == 0.0005 and sstdp["parameters"]["w_norm"] == 0
    s4nn = sc.protocol(_row("csnn", "mnist", "s4nn"))["network"]
    assert s4nn["models"][-2:] == ["competition/ncg", "rules/s4nn"]
    assert s4nn["parameters"] == {
        "theta0": 450.0,
        "gap": 0.125,
        "lr": 0.005,
        "w_min": -1000.0,
        "w_max": 1000.0,
    }


def test_starred_row_runs_the_intended_cr1_and_says_so():
    row = _row("softhebb", "fmnist", "sstdp+ncg-cr-1-thr")
    assert (row.cr, row.thr_lr, row.thr_anneal) == ("CR1", 40.0, 0.01)
    assert sc.models(row)[-1] == "regulation/cr1"
    header = (sc.PROTOCOL_ROOT / row.path).read_text(encoding="utf-8").split("\nname:")[0]
    assert "(*)" in header and "as shipped it runs CR-2" in header
    assert "regulation/cr2" in header  # the override that runs it as shipped


def test_leftover_gridsearch_abort_is_noted():
    row = _row("softhebb", "fmnist", "rstdp-20n")
    assert "gridsearch_stop_acc" in (sc.PROTOCOL_ROOT / row.path).read_text(encoding="utf-8")


def test_every_table1_target_has_a_protocol():
    assert len(sc.TABLE1) == 24
    for (extractor, dataset, config), target in sc.TABLE1.items():
        row = _row(extractor, dataset, config)
        text = (sc.PROTOCOL_ROOT / row.path).read_text(encoding="utf-8")
        assert f"{target} %" in text
    assert sc.TABLE1[("csnn", "fmnist", "s2stdp+ncg")] == "88.72 ± 0.23"


def test_readme_names_existing_protocols():
    readme = (ROOT / "protocols" / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Reproducing SpikeNN (NeurIPS 2024) Table 1", 1)[1]
    named = set(re.findall(r"(?:csnn|softhebb)/[a-z0-9]+/[a-z0-9+\-]+\.yaml", section))
    assert named, "the README section names no protocol file"
    for name in named:
        assert (sc.PROTOCOL_ROOT / name).is_file(), f"protocols/README.md names missing {name}"
