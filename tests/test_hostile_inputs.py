"""Protocols and model files are data: nothing in them runs as code, and bad input is refused
in one line (a BrainsnnError), never a traceback.

A corpus of hostile inputs (code in unit strings and model expressions, Python YAML tags, deep
nesting, anchor bombs) must execute nothing; a generated corpus of more than 1,000 protocol
mutations goes through ``load_protocol`` (what ``brainsnn validate`` does first), and a sample of
the accepted ones through ``brainsnn run`` for one epoch.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from brainsnn.cli import main
from brainsnn.core.errors import BrainsnnError
from brainsnn.core.expressions import evaluate_expression
from brainsnn.core.units import parse_quantity
from brainsnn.core.yamlfile import parse_yaml
from brainsnn.protocol import load_protocol

ROOT = Path(__file__).resolve().parent.parent
BASES = {
    "readout": yaml.safe_load((ROOT / "protocols" / "ncg_digits.yaml").read_text()),
    "unsupervised": yaml.safe_load((ROOT / "protocols" / "wta_stdp_digits.yaml").read_text()),
    "gradient": yaml.safe_load((ROOT / "protocols" / "firstspike_spoken.yaml").read_text()),
}
MUTATIONS_PER_KIND = 400


def _payloads(marker: Path) -> list[str]:
    """Python that would create ``marker`` if anything evaluated it."""
    touch = f"__import__('pathlib').Path('{marker}').touch()"
    return [
        touch,
        f"1\t+\t{touch}",
        f"1 ms\t+ {touch}",
        f"(lambda: {touch})()",
        f"[{touch} for _ in [0]]",
        "().__class__.__base__.__subclasses__()",
        f"np.__dict__['load']('{marker}')",
        f"rng.__class__.__init__.__globals__['os'].system('touch {marker}')",
        f"exp(-1/5) if {touch} else 1",
    ]


def test_unit_strings_and_expressions_never_run_code(tmp_path):
    marker = tmp_path / "executed"
    for payload in _payloads(marker):
        with pytest.raises(ValueError):
            parse_quantity(payload)
        with pytest.raises(BrainsnnError):
            evaluate_expression(payload, {"rng": np.random.default_rng(0), "np": np})
    assert not marker.exists()


@pytest.mark.parametrize(
    "text, problem",
    [
        ("a: " + "[" * 3000 + "]" * 3000, "nested deeper than"),
        ("a: " + "{b: " * 3000 + "1" + "}" * 3000, "nested deeper than"),
        (
            "a: &a [x, x, x, x, x, x, x, x, x]\n"
            + "".join(
                f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n"
                for i in range(9)
            ),
            "expands to more than",
        ),
        ("a: !!python/object/apply:os.system ['touch {marker}']", "malformed YAML"),
        ("a: !!python/name:os.system", "malformed YAML"),
    ],
    ids=["deep-lists", "deep-maps", "anchor-bomb", "python-apply", "python-name"],
)
def test_hostile_yaml_is_refused_in_one_line(tmp_path, text, problem):
    marker = tmp_path / "executed"
    with pytest.raises(BrainsnnError, match=problem):
        parse_yaml(text.replace("{marker}", str(marker)), "hostile.yaml")
    assert not marker.exists()


def _model_with(tmp_path: Path, role: str, key: str, value: object) -> Path:
    path = tmp_path / f"hostile_{key}.yaml"
    fragment = {key: value} if key != "reset" else {"reset": value}
    path.write_text(
        yaml.safe_dump(
            {"name": "hostile/model", "kind": "regulation", "description": "x", role: fragment}
        )
    )
    return path


def test_hostile_model_files_execute_nothing(tmp_path):
    marker = tmp_path / "executed"
    touch = _payloads(marker)[0]
    protocol = copy.deepcopy(BASES["readout"])
    cases = [
        ("outputs", "initial", {"theta_train": touch}),
        ("outputs", "epoch_end", {"thr_lr": f"thr_lr * (1 if {touch} else 1)"}),
        ("outputs", "reset", f"v = {touch}"),
        ("outputs", "equations", f"z = {touch} : 1\n"),
        ("outputs", "parameters", {"p": {"value": f"1 ms\t+ {touch}", "description": "x"}}),
    ]
    runner = CliRunner()
    for role, key, value in cases:
        protocol["network"]["models"] = [
            *BASES["readout"]["network"]["models"],
            str(_model_with(tmp_path, role, key, value)),
        ]
        path = tmp_path / "protocol.yaml"
        path.write_text(yaml.safe_dump(protocol))
        for command in (["validate", str(path)], ["run", str(path), "--out", str(tmp_path / "r")]):
            options = ["--set", "training.max_epochs=1", "--set", "device.name=runtime"]
            result = runner.invoke(main, [*command, *options])
            assert result.exit_code == 2, (key, result.output)
            assert ("Traceback" not in result.output and result.exception is None) or isinstance(
                result.exception, SystemExit
            ), (key, result.output)
    assert not marker.exists()


# --- generated mutations ---------------------------------------------------------------------

INVALID_NUMBERS = [math.nan, math.inf, -math.inf, "abc", "1j", [1, 2], {"a": 1}]
INVALID_DURATIONS = ["0 ms", "-5 ms", "1j ms", "10 mV", "nan ms", "1e400 ms", "ms", "5 ms ms"]
ANY_VALUES = [None, True, 0, -1, 1e29, -1e29, "", "x" * 500, [], {}, [None], "1 ms", 7]


def _leaves(tree: object, path: tuple = ()) -> list[tuple]:
    """Key paths of every leaf (a value that is not a mapping or a non-empty list)."""
    if isinstance(tree, dict):
        return [leaf for key, value in tree.items() for leaf in _leaves(value, (*path, key))]
    if isinstance(tree, list) and tree:
        return [leaf for i, value in enumerate(tree) for leaf in _leaves(value, (*path, i))]
    return [path]


def _sections(tree: object, path: tuple = ()) -> list[tuple]:
    if not isinstance(tree, dict):
        return []
    return [path, *(s for key, value in tree.items() for s in _sections(value, (*path, key)))]


def _get(tree: object, path: tuple) -> object:
    for key in path:
        tree = tree[key]
    return tree


def _set(tree: dict, path: tuple, value: object) -> None:
    _get(tree, path[:-1])[path[-1]] = value


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_duration(value: object) -> bool:
    try:
        return isinstance(value, str) and parse_quantity(value).dim.is_dimensionless is False
    except (ValueError, AttributeError):
        return False


def mutations(base: dict, rng: np.random.Generator, count: int) -> list[tuple[dict, bool]]:
    """(mutated protocol, known to be invalid) pairs; the rest may be valid or not."""
    leaves = _leaves(base)
    numbers = [p for p in leaves if _is_number(_get(base, p)) and p[0] != "sweep"]
    durations = [p for p in leaves if _is_duration(_get(base, p))]
    sections = _sections(base)
    out = []
    for index in range(count):
        mutated = copy.deepcopy(base)
        kind = index % 5
        if kind == 0:  # an unknown key in some section
            section = sections[rng.integers(len(sections))]
            _get(mutated, section)[f"unknown_{index}"] = 1
            invalid = True
        elif kind == 1:  # a number that is none
            path = numbers[rng.integers(len(numbers))]
            _set(mutated, path, INVALID_NUMBERS[rng.integers(len(INVALID_NUMBERS))])
            invalid = True
        elif kind == 2:  # a duration that is none
            path = durations[rng.integers(len(durations))]
            _set(mutated, path, INVALID_DURATIONS[rng.integers(len(INVALID_DURATIONS))])
            invalid = True
        elif kind == 3:  # a required key removed
            del mutated[("name", "data")[index % 2]]
            invalid = True
        else:  # anything anywhere: valid or not, but never a traceback
            path = leaves[rng.integers(len(leaves))]
            _set(mutated, path, ANY_VALUES[rng.integers(len(ANY_VALUES))])
            invalid = False
        out.append((mutated, invalid))
    return out


@pytest.mark.parametrize("kind", list(BASES))
def test_protocol_mutations_are_refused_in_one_line(kind, tmp_path):
    rng = np.random.default_rng(list(BASES).index(kind))
    accepted_invalid, outcomes = [], {"accepted": 0, "refused": 0}
    path = tmp_path / "mutated.yaml"
    for mutated, invalid in mutations(BASES[kind], rng, MUTATIONS_PER_KIND):
        path.write_text(yaml.safe_dump(mutated))
        try:
            load_protocol(path)
        except BrainsnnError as exc:
            assert "\n" not in str(exc), str(exc)
            outcomes["refused"] += 1
            continue
        outcomes["accepted"] += 1
        if invalid:
            accepted_invalid.append(mutated)
    assert not accepted_invalid, f"{len(accepted_invalid)} invalid protocols accepted"
    assert outcomes["refused"] >= 0.8 * MUTATIONS_PER_KIND  # four in five kinds are invalid


def test_accepted_mutations_run_one_epoch_without_traceback(tmp_path):
    """A sample of the accepted readout mutations, through ``brainsnn run`` (tiny, runtime)."""
    rng = np.random.default_rng(7)
    tiny = [
        "data.train_subset=60", "data.test_subset=30", "training.max_epochs=1",
        "training.chunk_size=50", "device.name=runtime",
    ]  # fmt: skip
    ran = 0
    for number, (mutated, invalid) in enumerate(mutations(BASES["readout"], rng, 60)):
        if invalid or ran == 2:
            continue
        path = tmp_path / f"m{number}.yaml"
        path.write_text(yaml.safe_dump(mutated))
        options = [part for item in tiny for part in ("--set", item)]
        result = CliRunner().invoke(
            main, ["run", str(path), "--out", str(tmp_path / f"run{number}"), "--quiet", *options]
        )
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            f"{mutated}: {result.exception!r}"
        )
        assert result.exit_code in (0, 1, 2) and "Traceback" not in result.output
        ran += 1
    assert ran == 2


# --- data no run can use ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "problem, expected",
    [
        ("empty", "holds no samples"),
        ("negative", "labels must be integers from 0"),
        ("nan", "NaN or infinite"),
        ("features", "training samples have shape"),
    ],
)
def test_unusable_data_is_a_one_line_error(tmp_path, problem, expected):
    rng = np.random.default_rng(0)
    train_t, train_y = rng.uniform(0, 1, (40, 6)), np.arange(40) % 2
    test_t, test_y = rng.uniform(0, 1, (20, 6)), np.arange(20) % 2
    if problem == "empty":
        test_t, test_y = test_t[:0], test_y[:0]
    elif problem == "negative":
        train_y = train_y - 1
    elif problem == "nan":
        train_t[3, 2] = np.nan
    else:
        test_t = test_t[:, :5]
    protocol = copy.deepcopy(BASES["readout"])
    protocol["data"] = {
        "source": "spikingdataset",
        "train_file": str(_arrays(tmp_path / "train.npy", train_t, train_y)),
        "test_file": str(_arrays(tmp_path / "test.npy", test_t, test_y)),
    }
    path = tmp_path / "protocol.yaml"
    path.write_text(yaml.safe_dump(protocol))
    result = CliRunner().invoke(main, ["run", str(path), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    assert expected in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def _arrays(path: Path, times: np.ndarray, labels: np.ndarray) -> Path:
    """A SpikingDataset file (SpikeNN's pickled dict) holding exactly these times and labels."""
    from brainsnn.data import features_to_spiking_dataset

    if len(times) == 0:
        empty = {"shape": (0, times.shape[1]), "max_time": 1.0, "data": [], "labels": labels}
        np.save(path, empty, allow_pickle=True)
        return path
    dataset = features_to_spiking_dataset(np.nan_to_num(times, nan=0.5), np.abs(labels))
    dataset["labels"] = np.asarray(labels)  # as given, even negative
    for row, sample in enumerate(dataset["data"]):
        if np.isnan(times[row]).any():
            sample["timestamps"][0] = np.nan
    np.save(path, dataset, allow_pickle=True)
    return path.with_suffix(".npy") if path.suffix != ".npy" else path
