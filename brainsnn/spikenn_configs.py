"""Import SpikeNN readout configurations (its JSON files) as brainsnn protocols.

A SpikeNN user migrates a config in one command::

    brainsnn import spikenn-config config/STDP-CSNN/F-MNIST/s2stdp+ncg.json --features ~/fmnist

:func:`import_config` maps every key SpikeNN's ``Readout.init_from_dict`` and ``Readout.fit``
read (``app/readout.py``) onto protocol keys, with SpikeNN's defaults for absent keys; a key
brainsnn cannot honour is refused in one line, never dropped. A value that is a list (SpikeNN's
grid-search files, ``config/*/*/gs/``) becomes a ``sweep:`` entry for ``brainsnn gridsearch``.

``protocols/spikenn/`` holds every readout config SpikeNN ships outside its grid searches,
generated from ``../shared/peers/spikenn/config/`` (SpikeNN b3d1865) by ::

    python -m brainsnn.spikenn_configs           # writes protocols/spikenn/<extractor>/<dataset>/
    python -m brainsnn.spikenn_configs --check   # writes nothing; exit 1 if a file is stale

Potentials and thresholds are in weight units, times in units of the sample duration T, as in
SpikeNN.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from brainsnn.core.errors import ConfigError
from brainsnn.readout.protocol import EXACT

_REPO = Path(__file__).resolve().parent.parent
#: Where the generated protocols live.
PROTOCOL_ROOT = _REPO / "protocols" / "spikenn"
#: SpikeNN's config folder (the unmodified peer beside the repository).
SPIKENN_CONFIG_ROOT = _REPO.parent / "shared" / "peers" / "spikenn" / "config"
#: Input steps per sample: the exact grid, one step per distinct spike time of a sample, so
#: SpikeNN's continuous times are kept (see the header note on g).
TIME_STEPS = EXACT
EXTRACTORS = {"STDP-CSNN": "csnn", "SoftHebb-CNN": "softhebb"}  # SpikeNN folder: brainsnn name
DATASETS = {"MNIST": "mnist", "F-MNIST": "fmnist", "CIFAR10": "cifar10", "CIFAR100": "cifar100"}
CLASSES = {"MNIST": 10, "F-MNIST": 10, "CIFAR10": 10, "CIFAR100": 100}

# ncg.md §9.1, Table 1: 10-fold mean ± std test accuracy (%). | Dataset | Method | M | STDP-CSNN |
# SoftHebb-CNN |
_TABLE1 = """
| Fashion-MNIST | SSTDP | 1 | 85.26 ± 0.17 | 89.36 ± 0.24 |
| Fashion-MNIST | SSTDP+NCG | 5 | 87.59 ± 0.11 | 91.06 ± 0.10 |
| Fashion-MNIST | S2-STDP | 1 | 85.89 ± 0.27 | 90.61 ± 0.19 |
| Fashion-MNIST | S2-STDP+NCG | 5 | **88.72 ± 0.23** | **91.86 ± 0.14** |
| CIFAR-10 | SSTDP | 1 | 60.87 ± 0.53 | 76.57 ± 0.58 |
| CIFAR-10 | SSTDP+NCG | 5 | 64.05 ± 0.48 | 78.53 ± 0.32 |
| CIFAR-10 | S2-STDP | 1 | 61.08 ± 0.17 | 76.90 ± 0.27 |
| CIFAR-10 | S2-STDP+NCG | 5 | **66.41 ± 0.17** | **79.55 ± 0.23** |
| CIFAR-100 | SSTDP | 1 | 28.49 ± 0.49 | 48.73 ± 0.39 |
| CIFAR-100 | SSTDP+NCG | 5 | 31.19 ± 0.27 | 49.81 ± 0.23 |
| CIFAR-100 | S2-STDP | 1 | 29.39 ± 0.19 | 49.17 ± 0.29 |
| CIFAR-100 | S2-STDP+NCG | 5 | **35.90 ± 0.42** | **53.49 ± 0.18** |
"""

#: Ablation labels of the paper (ncg.md §6.7).
ABLATION_LABELS = {
    "s2stdp": "M-1",
    "s2stdp+ncg-no-cr-no-nt": "M-5",
    "s2stdp+ncg-cr-1-thr-no-nt": "M-5+CR-1",
    "s2stdp+ncg-no-nt": "M-5+CR-2",
    "s2stdp+ncg-cr-1-thr": "M-5+CR-1+L",
    "s2stdp+ncg": "M-5+CR-2+L (full method)",
    "s2stdp+ncg-cr-drop": "M-5+Drop+L",
}

_BASE_MODELS = ["inputs/ttfs", "neurons/if_single_spike", "synapses/delta", "decision/first_spike"]
_RULE_NAMES = {"s2stdp": "S2-STDP", "sstdp": "SSTDP", "rstdp": "R-STDP", "s4nn": "S4NN"}


def _identity(value: Any) -> Any:
    return value


def _flag(value: Any) -> int:
    return int(bool(value))


@dataclass(frozen=True)
class Field:
    """Where one numeric SpikeNN key goes in the protocol, and how its value is converted."""

    target: str  # dotted protocol key
    convert: Callable[[Any], Any] = _identity
    rules: tuple[str, ...] = ()  # only for these rules ("" = every rule)


_NUMERIC_FIELDS: dict[tuple[str, str], Field] = {
    ("network", "firing_threshold"): Field("network.parameters.theta0", float),
    ("network", "w_init_mean"): Field("network.weights.mean", float),
    ("network", "w_init_std"): Field("network.weights.std", float),
    ("network", "w_min"): Field("network.parameters.w_min", float),
    ("network", "w_max"): Field("network.parameters.w_max", float),
    ("network", "w_norm"): Field("network.parameters.w_norm", _flag, ("s2stdp", "sstdp")),
    ("optimizer", "t_gap"): Field("network.parameters.gap", float, ("s2stdp", "sstdp", "s4nn")),
    ("optimizer", "ap"): Field("network.parameters.a_plus", float, ("s2stdp", "sstdp", "rstdp")),
    ("optimizer", "am"): Field("network.parameters.a_minus", float, ("s2stdp", "sstdp", "rstdp")),
    ("optimizer", "anti_ap"): Field("network.parameters.anti_a_plus", float, ("rstdp",)),
    ("optimizer", "anti_am"): Field("network.parameters.anti_a_minus", float, ("rstdp",)),
    ("optimizer", "adaptive_lr"): Field("network.parameters.adaptive_lr", _flag, ("rstdp",)),
    ("optimizer", "lr"): Field("network.parameters.lr", float, ("s4nn",)),
    ("optimizer", "use_time_ranges"): Field("network.parameters.time_ranges", _flag, ("s4nn",)),
    ("optimizer", "annealing"): Field("network.parameters.annealing", float),
    ("regularizer", "thr_lr"): Field("network.parameters.thr_lr", float),
    ("regularizer", "thr_anneal"): Field("network.parameters.thr_anneal", float),
    ("trainer", "epochs"): Field("training.max_epochs", int),
    ("trainer", "early_stopping"): Field("training.patience", int),
    ("trainer", "nt_neurons"): Field("network.nontarget_per_class", int),
    ("trainer", "dropout_out"): Field("network.parameters.p_drop", float),
    ("trainer", "gridsearch_stop_acc"): Field("training.stop_below", float),
}
"""Keys whose values map one to one (a list of values becomes a sweep)."""

#: Keys that choose model files or are checked, with the values brainsnn accepts; never lists.
_STRUCTURAL_KEYS = {
    ("network", "n_neurons"): "output neurons N = C·M",
    ("network", "w_init_normal"): "true (Normal initial weights)",
    ("network", "leak_tau"): "absent or null (single-spike IF neurons)",
    ("optimizer", "method"): "s2stdp, rstdp or s4nn",
    ("optimizer", "stdp"): "additive",
    ("optimizer", "class_inhib"): "intra-class WTA (true, or M = 1)",
    ("optimizer", "ignore_silent"): "false",
    ("regularizer", "use_two_thr"): "true (CR-2, SpikeNN's default) or false (CR-1)",
    ("trainer", "dropout_in"): "0",
}
#: Numeric keys that, outside their rules, were read (and checked) by _rule or import_config.
_CHECKED_ELSEWHERE = {("network", "w_norm"), ("optimizer", "use_time_ranges")}
_SECTIONS = ("network", "optimizer", "regularizer", "trainer")


@dataclass(frozen=True)
class Imported:
    """An imported config: the protocol mapping and the notes for its header."""

    protocol: dict[str, Any]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Origin:
    """Where a config comes from: its file and, when its path says so, extractor and dataset."""

    path: Path
    extractor: str | None = None  # SpikeNN folder name, e.g. "STDP-CSNN"
    dataset: str | None = None  # SpikeNN folder name, e.g. "F-MNIST"

    @classmethod
    def of(cls, path: Path) -> Origin:
        """Read extractor and dataset from ``.../<extractor>/<dataset>[/gs]/<name>.json``."""
        parts = path.resolve().parent.parts
        if parts and parts[-1] == "gs":
            parts = parts[:-1]
        dataset = parts[-1] if parts and parts[-1] in DATASETS else None
        extractor = parts[-2] if dataset and len(parts) > 1 and parts[-2] in EXTRACTORS else None
        return cls(path, extractor, dataset)

    @property
    def relative(self) -> str:
        """The path as SpikeNN's repository names it (config/...), else the file name."""
        parts = self.path.parts
        if "config" in parts:
            return "/".join(parts[len(parts) - parts[::-1].index("config") - 1 :])
        return self.path.name


def read_config(path: Path) -> dict[str, Any]:
    """A SpikeNN JSON config; every problem is one ConfigError line naming the file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read it ({err})") from None
    try:
        config = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path}: not valid JSON (line {err.lineno}: {err.msg})") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: a SpikeNN config is a JSON object")
    return config


def _sections(config: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
    """The four sections, each a dict of known keys; the network has exactly one layer."""
    unknown = sorted(set(config) - set(_SECTIONS))
    if unknown:
        raise ConfigError(f"{where}: unknown section(s) {', '.join(unknown)}; SpikeNN reads "
                          f"{', '.join(_SECTIONS)}")  # fmt: skip
    for required in ("network", "optimizer", "trainer"):
        if required not in config:
            raise ConfigError(f"{where}: missing section '{required}'")
    layers = config["network"]
    if not isinstance(layers, list) or len(layers) != 1 or not isinstance(layers[0], dict):
        raise ConfigError(f"{where}: 'network' must be a list of one layer (brainsnn's readout "
                          "is one fully-connected layer)")  # fmt: skip
    sections = {"network": layers[0]}
    for name in ("optimizer", "regularizer", "trainer"):
        section = config.get(name, {})
        if not isinstance(section, dict):
            raise ConfigError(f"{where}: '{name}' must be a JSON object")
        sections[name] = section
    known = set(_NUMERIC_FIELDS) | set(_STRUCTURAL_KEYS)
    for name, section in sections.items():
        for key in section:
            if (name, key) not in known:
                raise ConfigError(f"{where}: {name}.{key} is not a SpikeNN key brainsnn knows")
    return sections


def _single(value: Any, key: str, where: str) -> Any:
    if isinstance(value, list):
        raise ConfigError(f"{where}: {key} cannot be a list (only numeric keys can be swept)")
    return value


def _require(condition: bool, where: str, key: str, why: str) -> None:
    if not condition:
        raise ConfigError(f"{where}: {key}: {why}")


def _rule(sections: dict[str, dict[str, Any]], where: str) -> str:
    """s2stdp, sstdp (s2stdp with use_time_ranges), rstdp or s4nn, as readout.py:251-298 read."""
    optimizer = sections["optimizer"]
    method = _single(optimizer.get("method"), "optimizer.method", where)
    _require(method in ("s2stdp", "rstdp", "s4nn"), where, "optimizer.method",
             f"{method!r} is not one of s2stdp, rstdp, s4nn")  # fmt: skip
    if method != "s4nn":
        stdp = _single(optimizer.get("stdp", "additive"), "optimizer.stdp", where)
        _require(stdp == "additive", where, "optimizer.stdp", "brainsnn has additive STDP only")
        ignore = _single(optimizer.get("ignore_silent", False), "optimizer.ignore_silent", where)
        _require(not ignore, where, "optimizer.ignore_silent", "true is not supported")
    if method == "s2stdp" and _single(optimizer.get("use_time_ranges", False),
                                      "optimizer.use_time_ranges", where):  # fmt: skip
        return "sstdp"  # readout.py:287: "ALSO USED FOR SSTDP"
    return method


def _models(rule: str, sections: dict[str, dict[str, Any]], where: str) -> tuple[list, list]:
    """Model files (in protocol order) and header notes for the rule, regulation and dropout."""
    names, notes = [*_BASE_MODELS], []
    dropout = sections["trainer"].get("dropout_out", 0)
    has_dropout = any(dropout) if isinstance(dropout, list) else bool(dropout)
    # R-STDP updates the global winner only and needs no intra-class WTA; regulation and dropout
    # require competition/ncg (it can exclude dropped neurons from it)
    if rule != "rstdp" or has_dropout:
        names.append("competition/ncg")
    names += {"s2stdp": ["rules/s2stdp"], "sstdp": ["rules/s2stdp", "rules/time_ranges"],
              "rstdp": ["rules/rstdp"], "s4nn": ["rules/s4nn"]}[rule]  # fmt: skip
    regularizer = sections["regularizer"]
    if "regularizer" in sections and regularizer:
        two = _single(regularizer.get("use_two_thr", True), "regularizer.use_two_thr", where)
        names.append("regulation/cr2" if two else "regulation/cr1")
    if has_dropout:
        names.append("regulation/dropout")
    return names, notes


def _set(protocol: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node = protocol
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value


def import_config(
    config: dict[str, Any],
    *,
    name: str,
    n_classes: int,
    features: str,
    origin: str = "a SpikeNN config",
    results: str = "results/spikenn",
) -> Imported:
    """The protocol of a SpikeNN config, for data with ``n_classes`` classes.

    Args:
        config: the parsed JSON (:func:`read_config`).
        name: the protocol name (SpikeNN's file name without ``.json``).
        n_classes: C; ``network[0].n_neurons`` must be a multiple of it.
        features: folder of SpikeNN's ``trainset.npy`` and ``testset.npy``.
        origin: the config's path, for error messages and the header.
        results: parent folder of the run directories.
    Raises:
        ConfigError: a key brainsnn cannot honour, a malformed value, or N not a multiple of C.
    """
    sections = _sections(config, origin)
    layer, optimizer, trainer = sections["network"], sections["optimizer"], sections["trainer"]
    rule = _rule(sections, origin)
    models, notes = _models(rule, sections, origin)
    _require(layer.get("leak_tau") is None, origin, "network.leak_tau",
             "LIF readouts are not imported (single-spike IF only)")  # fmt: skip
    _require(_single(layer.get("w_init_normal"), "network.w_init_normal", origin) is True, origin,
             "network.w_init_normal", "brainsnn draws Normal initial weights only")  # fmt: skip
    _require(not trainer.get("dropout_in", 0), origin, "trainer.dropout_in", "not supported")
    n_neurons = _single(layer.get("n_neurons"), "network.n_neurons", origin)
    _require(isinstance(n_neurons, int) and n_neurons > 0 and n_neurons % n_classes == 0, origin,
             "network.n_neurons", f"{n_neurons!r} is not a positive multiple of the "
             f"{n_classes} classes")  # fmt: skip
    m = n_neurons // n_classes
    class_inhib = _single(optimizer.get("class_inhib", False), "optimizer.class_inhib", origin)
    _require(rule == "rstdp" or class_inhib or m == 1, origin, "optimizer.class_inhib",
             "false with several neurons per class (every neuron updated) has no brainsnn "
             "model")  # fmt: skip
    w_norm = _single(layer.get("w_norm", False), "network.w_norm", origin)
    _require(not w_norm or rule in ("s2stdp", "sstdp"), origin, "network.w_norm",
             "true is supported with S2-STDP and SSTDP only")  # fmt: skip

    data_dir = features.rstrip("/")
    protocol: dict[str, Any] = {
        "name": name,
        "description": "",
        "data": {
            "source": "spikingdataset",
            "train_file": f"{data_dir}/trainset.npy",
            "test_file": f"{data_dir}/testset.npy",
            "hint": f"put SpikeNN's trainset.npy and testset.npy (SpikingDataset files, for "
            f"example from its ft-extract/ extractors) in {data_dir}, or convert dense spike "
            f"times with 'brainsnn data convert X.npy y.npy {data_dir}/trainset.npy'",
            "validation_fraction": 0.1,
        },
        "encoding": {"method": "ttfs", "time_steps": TIME_STEPS},
        "network": {
            "neurons_per_class": m,
            "nontarget_per_class": 0,  # SpikeNN's default nt_neurons
            "models": models,
            "parameters": {},
            "weights": {},
        },
        "training": {},
        "output": {"directory": f"{results}/{{name}}/{{timestamp}}"},
    }
    parameters = protocol["network"]["parameters"]
    if rule == "s4nn":
        parameters["time_ranges"] = 1  # readout.py:256: use_time_ranges defaults to True
    if trainer.get("dropout_out"):
        parameters["dropped_can_win"] = 1  # SpikeNN: a dropped neuron can still win its group
    sweep: dict[str, list] = {}
    for (section_name, key), spec in _NUMERIC_FIELDS.items():
        section = sections[section_name]
        if key not in section:
            continue
        if spec.rules and rule not in spec.rules:
            if (section_name, key) in _CHECKED_ELSEWHERE:
                continue  # w_norm false for R-STDP / S4NN; use_time_ranges chose SSTDP
            raise ConfigError(f"{origin}: {section_name}.{key} is not read by SpikeNN's "
                              f"{_RULE_NAMES[rule]}")  # fmt: skip
        value = section[key]
        if (section_name, key) == ("trainer", "dropout_out") and not value:
            continue  # 0: no dropout model, no p_drop
        try:
            if isinstance(value, list):
                if not value:
                    raise ValueError("an empty list")
                sweep[spec.target] = [spec.convert(item) for item in value]
                value = value[0]
            _set(protocol, spec.target, spec.convert(value))
        except (TypeError, ValueError) as err:
            raise ConfigError(f"{origin}: {section_name}.{key}: {value!r} is not valid "
                              f"({err})") from None  # fmt: skip
    if rule == "rstdp":  # readout.py:276-277, and adaptive_lr's default (:286)
        parameters.setdefault("adaptive_lr", 1)
        for anti, main, target in (
            ("anti_ap", "ap", "anti_a_plus"),
            ("anti_am", "am", "anti_a_minus"),
        ):
            if anti not in optimizer:
                _require(not isinstance(optimizer.get(main), list), origin, f"optimizer.{main}",
                         f"a swept value needs an explicit {anti}")  # fmt: skip
                parameters[target] = -float(optimizer[main])
    if sweep:
        protocol["sweep"] = sweep
        notes.append("A grid-search config: each listed value is swept by 'brainsnn gridsearch'; "
                     "'brainsnn run' uses the first value of each list.")  # fmt: skip
    if "gridsearch_stop_acc" in trainer:
        notes.append("SpikeNN's gridsearch_stop_acc is training.stop_below: from epoch 3 on, a "
                     "run whose training or validation accuracy is below it stops "
                     "(app/readout.py:169,180).")  # fmt: skip
    if not protocol["network"]["weights"]:
        del protocol["network"]["weights"]
    protocol["description"] = _description(name, rule, protocol, class_inhib)
    return Imported(protocol, notes)


def _description(name: str, rule: str, protocol: dict[str, Any], class_inhib: bool) -> str:
    network = protocol["network"]
    m, nt = network["neurons_per_class"], network["nontarget_per_class"]
    values = network["parameters"]
    if class_inhib and m > 1:
        labels = f"{nt} non-target per group" if nt else "no non-target label"
        parts = [_RULE_NAMES[rule], f"NCG (M={m}, {labels})"]
    else:
        parts = [f"{_RULE_NAMES[rule]} (M={m})"]
    for regulation in ("cr1", "cr2"):
        if f"regulation/{regulation}" in network["models"]:
            parts.append(f"CR-{regulation[2]} ({values['thr_lr']:g}/{values['thr_anneal']:g})")
    if "p_drop" in values:
        parts.append(f"output dropout {values['p_drop']:g}")
    return f"SpikeNN {name}: {' + '.join(parts)}"


def _table1() -> dict[tuple[str, str, str], str]:
    """(extractor, dataset, config) → the paper's Table 1 accuracy, '88.72 ± 0.23'."""
    datasets = {"Fashion-MNIST": "F-MNIST", "CIFAR-10": "CIFAR10", "CIFAR-100": "CIFAR100"}
    targets = {}
    for line in _TABLE1.strip().splitlines():
        cells = [cell.strip() for cell in line.replace("**", "").strip().strip("|").split("|")]
        dataset, method, _, csnn, softhebb = cells
        config = method.lower().replace("s2-stdp", "s2stdp")
        targets[("STDP-CSNN", datasets[dataset], config)] = csnn
        targets[("SoftHebb-CNN", datasets[dataset], config)] = softhebb
    return targets


TABLE1: dict[tuple[str, str, str], str] = _table1()


def _header(imported: Imported, origin: Origin, generated: bool) -> list[str]:
    protocol = imported.protocol
    name = protocol["name"]
    command = ("Generated by `python -m brainsnn.spikenn_configs`: do not edit; change "
               "brainsnn/spikenn_configs.py and regenerate." if generated else
               f"Imported by `brainsnn import spikenn-config {origin.path}`.")  # fmt: skip
    source = (
        f"From SpikeNN (Goupy et al., NeurIPS 2024) readout config {origin.relative}, key by key"
    )
    if origin.extractor and origin.dataset:
        source += f", for {origin.extractor} features of {origin.dataset}"
    paragraphs = [command, source + "."]
    if name in ABLATION_LABELS and origin.extractor:
        paragraphs.append(f"Ablation label (ncg.md §6.7): {ABLATION_LABELS[name]}.")
    target = TABLE1.get((origin.extractor or "", origin.dataset or "", name))
    if target:
        paragraphs.append(f"Table 1 target (ncg.md §9.1, 10-fold mean ± std): {target} %.")
    models = protocol["network"]["models"]
    if "cr-1" in name and "regulation/cr2" in models:
        intended = ", ".join(model.replace("cr2", "cr1") for model in models)
        paragraphs.append(
            "A SpikeNN quirk, reproduced: the name says CR-1, but the file lacks use_two_thr: "
            "false, so SpikeNN runs CR-2 with these values (ncg.md §8 (*)). To run the intended "
            f"CR-1: --set 'network.models=[{intended}]'."
        )
    paragraphs += imported.notes
    if "rules/s4nn" in models:
        paragraphs.append("S4NN's desired times are one-sided (time_ranges = 1, SpikeNN's "
                          "use_time_ranges default, spikenn/_impl.py:241,247).")  # fmt: skip
    gap = protocol["network"]["parameters"].get("gap")
    paragraphs.append(
        "Time grid: exact (encoding.time_steps: exact). Each step of a sample is one of its "
        "distinct spike times, so SpikeNN's continuous times are kept"
        + (f" however small g (here {gap:g} T) is" if gap is not None else "")
        + " and the run equals the event-driven oracle (protocols/README.md, 'The exact time "
        "grid')."
    )
    paragraphs.append(
        "SpikeNN validates on valset.npy when its folder has one; brainsnn holds out a "
        "stratified 10 % of trainset.npy (data.validation_fraction)."
    )
    lines = []
    for paragraph in paragraphs:
        lines += textwrap.wrap(paragraph, 98, break_on_hyphens=False, break_long_words=False)
    return [f"# {line}" for line in lines]


def render(imported: Imported, origin: Origin, *, generated: bool = False) -> str:
    """The YAML text of an imported config: the header comment, then the protocol."""
    body = yaml.safe_dump(imported.protocol, sort_keys=False, allow_unicode=True, width=90)
    return "\n".join(_header(imported, origin, generated)) + "\n" + body


def import_file(
    path: Path, *, features: str | None = None, n_classes: int | None = None
) -> tuple[Imported, Origin]:
    """Read and import one config file; C and the features folder default from its path."""
    origin = Origin.of(Path(path))
    if n_classes is None:
        if origin.dataset is None:
            folders = "|".join(DATASETS)
            raise ConfigError(
                f"{path}: the number of classes is not in its path (.../<{folders}>/NAME.json): "
                "give it with --classes"
            )
        n_classes = CLASSES[origin.dataset]
    names = (EXTRACTORS.get(origin.extractor or ""), DATASETS.get(origin.dataset or ""))
    folder = "/".join(name for name in names if name)
    if features is None:
        features = f"~/data/spikenn/{folder}" if folder else "~/data/spikenn"
    results = f"results/spikenn/{folder}" if folder else "results/spikenn"
    imported = import_config(
        read_config(path), name=Path(path).stem, n_classes=n_classes, features=features,
        origin=str(path), results=results,
    )  # fmt: skip
    return imported, origin


def shipped_configs(root: Path = SPIKENN_CONFIG_ROOT) -> list[Path]:
    """SpikeNN's readout configs outside its grid searches, sorted."""
    if not root.is_dir():
        raise ConfigError(f"{root}: SpikeNN's config folder is missing (the unmodified SpikeNN "
                          "belongs at ../shared/peers/spikenn)")  # fmt: skip
    return sorted(path for path in root.rglob("*.json") if "gs" not in path.relative_to(root).parts)


def protocol_path(config: Path, root: Path = SPIKENN_CONFIG_ROOT) -> Path:
    """``STDP-CSNN/F-MNIST/x.json`` → ``csnn/fmnist/x.yaml`` (relative to PROTOCOL_ROOT)."""
    extractor, dataset, name = config.relative_to(root).parts
    return Path(EXTRACTORS[extractor], DATASETS[dataset], Path(name).with_suffix(".yaml").name)


def expected_files(root: Path = SPIKENN_CONFIG_ROOT) -> dict[Path, str]:
    """Relative path → text of every protocol file the generator writes."""
    files = {}
    for config in shipped_configs(root):
        imported, origin = import_file(config, features=None)
        files[protocol_path(config, root)] = render(imported, origin, generated=True)
    return files


def stale_files(root: Path = PROTOCOL_ROOT, configs: Path = SPIKENN_CONFIG_ROOT) -> list[str]:
    """Files under ``root`` that are missing, differ from the generator's, or are not generated."""
    expected = expected_files(configs)
    present = {path.relative_to(root) for path in root.rglob("*.yaml")} if root.is_dir() else set()
    problems = [f"{path}: not generated" for path in sorted(present - set(expected))]
    for path, text in sorted(expected.items()):
        if path not in present:
            problems.append(f"{path}: missing")
        elif (root / path).read_text(encoding="utf-8") != text:
            problems.append(f"{path}: differs")
    return problems


def write_files(root: Path = PROTOCOL_ROOT, configs: Path = SPIKENN_CONFIG_ROOT) -> int:
    """Write every protocol file under ``root``; return how many were written or changed."""
    changed = 0
    for path, text in expected_files(configs).items():
        target = root / path
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            changed += 1
    return changed


def main(argv: list[str] | None = None) -> int:
    """Generate (or ``--check``) protocols/spikenn from SpikeNN's config folder."""
    parser = argparse.ArgumentParser(
        prog="python -m brainsnn.spikenn_configs", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if stale")
    parser.add_argument("--root", type=Path, default=PROTOCOL_ROOT, help="output directory")
    parser.add_argument("--configs", type=Path, default=SPIKENN_CONFIG_ROOT,
                        help="SpikeNN's config folder")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        if args.check:
            problems = stale_files(args.root, args.configs)
            for problem in problems:
                print(f"{args.root / problem}", file=sys.stderr)
            if problems:
                print("regenerate with: python -m brainsnn.spikenn_configs", file=sys.stderr)
            return 1 if problems else 0
        changed = write_files(args.root, args.configs)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    count = len(shipped_configs(args.configs))
    print(f"{count} protocols under {args.root} ({changed} written)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
