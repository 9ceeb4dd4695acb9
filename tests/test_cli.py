"""The ``brainsnn`` command line: bad input gives one clear line and exit code 2, never a traceback.

Every test is fast: nothing is compiled or simulated (validate/show only, or ``run --device
runtime`` where it fails while loading data, before the network is built).
"""

from __future__ import annotations

import logging
from pathlib import Path

import click
import numpy as np
import pytest
import yaml
from click.testing import CliRunner, Result

from brainsnn.cli import main
from brainsnn.data import read_spiking_dataset

ROOT = Path(__file__).resolve().parent.parent
DIGITS = ROOT / "protocols" / "ncg_digits.yaml"


# --- helpers --------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _restore_brainsnn_logging():
    """``brainsnn run`` attaches log handlers (console, run.log): detach and close them after."""
    logger = logging.getLogger("brainsnn")
    handlers, level = list(logger.handlers), logger.level
    yield
    for handler in list(logger.handlers):
        if handler not in handlers:
            logger.removeHandler(handler)
            handler.close()
    logger.setLevel(level)


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(arg) for arg in args], catch_exceptions=False)


def assert_clean_error(result: Result, *expected: str) -> str:
    """Exit code 2, no traceback, a single 'error: ...' line naming every ``expected`` text."""
    assert "Traceback" not in result.output, result.output
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    message = lines[0]
    assert message.startswith("error: "), message
    for text in expected:
        assert text in message, f"{text!r} not in {message!r}"
    return message


def write_protocol(tmp_path: Path, old: str, new: str, name: str = "protocol.yaml") -> Path:
    """A copy of ncg_digits.yaml with the text ``old`` replaced by ``new``."""
    text = DIGITS.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is no longer in {DIGITS}: update this test"
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def line_of(path: Path, text: str) -> int:
    """1-based number of the first line of ``path`` containing ``text``."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not in {path}")


# --- bad input: one line, exit code 2 -------------------------------------------------------------


def test_unknown_top_level_key(tmp_path):
    path = write_protocol(tmp_path, "seed: 0\n", "seed: 0\nsed: 1\n")
    assert_clean_error(
        invoke("validate", path), f"{path}:{line_of(path, 'sed: 1')}:", "sed", "unknown key"
    )


def test_unknown_nested_key_names_its_line(tmp_path):
    path = write_protocol(tmp_path, "  max_epochs: 30", "  max_epoch: 30")
    line = line_of(path, "max_epoch: 30")
    assert_clean_error(
        invoke("validate", path), f"{path}:{line}:", "training.max_epoch", "unknown key"
    )


def test_wrong_unit_of_sample_duration(tmp_path):
    path = write_protocol(tmp_path, "sample_duration: 10 ms", "sample_duration: 10 mV")
    line = line_of(path, "sample_duration")
    assert_clean_error(
        invoke("validate", path), f"{path}:{line}:", "encoding.sample_duration", "10 mV", "second"
    )


def test_wrong_unit_of_model_parameter(tmp_path):
    path = write_protocol(tmp_path, "gap: 0.2", "gap: 5 ms")
    line = line_of(path, "gap: 5 ms")
    assert_clean_error(
        invoke("validate", path),
        f"{path}:{line}:",
        "network.parameters.gap",
        "5 ms",
        "dimensionless",
    )


def test_malformed_model_parameter_value(tmp_path):
    path = write_protocol(tmp_path, "gap: 0.2", 'gap: "(1, 2)"')
    assert_clean_error(
        invoke("validate", path),
        str(path),
        "network.parameters.gap",
        "not a number with a Brian2 unit",
    )


def test_wrong_type(tmp_path):
    path = write_protocol(tmp_path, "max_epochs: 30", "max_epochs: many")
    line = line_of(path, "max_epochs")
    assert_clean_error(
        invoke("validate", path), f"{path}:{line}:", "training.max_epochs", "integer"
    )


def test_unknown_model_parameter(tmp_path):
    path = write_protocol(tmp_path, "thr_lr: 0.5", "thr_rate: 0.5")
    line = line_of(path, "thr_rate")
    message = assert_clean_error(
        invoke("validate", path),
        f"{path}:{line}:",
        "network.parameters.thr_rate",
        "unknown parameter",
    )
    assert "thr_lr" in message  # lists the parameters the models define


def test_missing_idx_data_fails_before_building(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "no-such-dir"
    hint = "fetch the four IDX files into data.path"
    path = write_protocol(
        tmp_path, "  source: digits\n", f"  source: idx\n  path: {missing}\n  hint: {hint}\n"
    )
    result = invoke("run", path, "--device", "runtime", "--out", tmp_path / "run", "--quiet")
    assert_clean_error(result, str(missing), "train-images-idx3-ubyte", hint)


def test_missing_model_file(tmp_path):
    path = write_protocol(tmp_path, "regulation/cr2]", "regulation/cr2, rules/nonexistent]")
    assert_clean_error(
        invoke("validate", path), str(path), "network.models", "rules/nonexistent", "not found"
    )


def test_malformed_model_file(tmp_path):
    model = tmp_path / "broken.yaml"
    model.write_text("name: broken\nkind: rule\ndescription: x\nouputs: {}\n", encoding="utf-8")
    path = write_protocol(tmp_path, "regulation/cr2]", f"regulation/cr2, {model}]")
    assert_clean_error(invoke("validate", path), f"{model}:4:", "ouputs", "unknown key")


def test_malformed_yaml_names_the_line(tmp_path):
    path = write_protocol(tmp_path, "std: 0.01}", "std: 0.01")  # unbalanced '{'
    opened = line_of(path, "weights: {")
    message = assert_clean_error(invoke("validate", path), f"{path}:", "malformed YAML")
    reported = int(message.removeprefix(f"error: {path}:").split(":")[0])
    assert opened <= reported <= opened + 1
    assert f"line {opened}" in message  # where the unclosed mapping starts


def test_unbalanced_bracket(tmp_path):
    path = write_protocol(tmp_path, "regulation/cr2]", "regulation/cr2")
    opened = line_of(path, "models: [")
    assert_clean_error(
        invoke("validate", path), f"{path}:", "malformed YAML", "]", f"line {opened}"
    )


def test_protocol_file_does_not_exist(tmp_path):
    path = tmp_path / "absent.yaml"
    assert_clean_error(invoke("validate", path), str(path), "not found")


def test_protocol_file_not_utf8(tmp_path):
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"\xff\xfe\x00name: x\n")
    assert_clean_error(invoke("validate", path), str(path), "UTF-8")


@pytest.mark.parametrize(
    ("text", "found"), [("- a\n- b\n", "list"), ("", "empty"), ("just text\n", "str")]
)
def test_top_level_not_a_mapping(tmp_path, text, found):
    path = tmp_path / "list.yaml"
    path.write_text(text, encoding="utf-8")
    assert_clean_error(invoke("validate", path), str(path), "mapping", found)


@pytest.mark.parametrize("item", ["training.max_epochs", "=5", ".max_epochs=5"])
def test_set_without_key_path_and_value(item):
    assert_clean_error(invoke("validate", DIGITS, "--set", item), f"--set {item}", "key.path=value")


def test_set_unknown_key():
    assert_clean_error(
        invoke("validate", DIGITS, "--set", "training.max_epoch=5"),
        "training.max_epoch",
        "unknown key",
    )


def test_set_unknown_model_parameter():
    assert_clean_error(
        invoke("show", DIGITS, "--set", "network.parameters.gapp=0.1"),
        "network.parameters.gapp",
        "unknown parameter",
    )


def test_set_value_not_yaml():
    assert_clean_error(
        invoke("validate", DIGITS, "--set", "training.max_epochs=[1"),
        "training.max_epochs",
        "not valid YAML",
    )


def test_set_into_a_value_that_is_not_a_section():
    assert_clean_error(invoke("validate", DIGITS, "--set", "name.first=x"), "name", "not a section")


def test_run_resume_needs_out():
    assert_clean_error(invoke("run", DIGITS, "--resume"), "--resume", "--out")


def test_run_resume_without_checkpoint(tmp_path):
    out = tmp_path / "run"
    assert_clean_error(
        invoke("run", DIGITS, "--device", "runtime", "--resume", "--out", out),
        "--resume",
        "checkpoint",
        str(out),
    )


# --- working commands -----------------------------------------------------------------------------


def test_validate_ok():
    result = invoke("validate", DIGITS)
    assert result.exit_code == 0, result.output
    assert "valid protocol 'ncg_digits'" in result.output


def test_show_prints_resolved_protocol():
    result = invoke("show", DIGITS)
    assert result.exit_code == 0, result.output
    shown = yaml.safe_load(result.stdout)
    parameters = shown["network"]["parameters"]
    for name in (
        "theta0",
        "gap",
        "a_plus",
        "a_minus",
        "w_min",
        "w_max",
        "w_norm",
        "annealing",
        "thr_lr",
        "thr_anneal",
    ):
        assert name in parameters
    assert parameters["gap"] == pytest.approx(0.2)
    # defaults the file does not spell out are shown too
    assert shown["training"]["chunk_size"] == 1000
    assert shown["device"]["threads"] == 0
    assert shown["data"]["train_subset"] is None
    assert shown["encoding"]["sample_duration"] == "10 ms"


def test_show_includes_model_defaults_not_in_the_protocol(tmp_path):
    path = write_protocol(tmp_path, "    thr_lr: 0.5\n", "")
    result = invoke("show", path)
    assert result.exit_code == 0, result.output
    assert "thr_lr" in yaml.safe_load(result.stdout)["network"]["parameters"]


def test_show_reflects_set():
    result = invoke(
        "show", DIGITS, "--set", "network.parameters.gap=0.05", "--set", "training.max_epochs=3"
    )
    assert result.exit_code == 0, result.output
    shown = yaml.safe_load(result.stdout)
    assert shown["network"]["parameters"]["gap"] == pytest.approx(0.05)
    assert shown["training"]["max_epochs"] == 3


def test_doctor():
    result = invoke("doctor")
    assert result.exit_code == 0, result.output
    assert "brian2" in result.output
    assert "compiler" in result.output


def test_data_convert_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=(6, 5))
    x[:, 2] = 1.0  # a silent feature
    y = np.array([3, 1, 3, 7, 1, 7])
    np.save(tmp_path / "X.npy", x)
    np.save(tmp_path / "y.npy", y)
    out = tmp_path / "train.dataset"
    result = invoke("data", "convert", tmp_path / "X.npy", tmp_path / "y.npy", out)
    assert result.exit_code == 0, result.output
    assert "wrote 6 samples" in result.output
    times, labels = read_spiking_dataset(out)
    np.testing.assert_allclose(times, x.astype(np.float32), rtol=0, atol=1e-7)
    np.testing.assert_array_equal(labels, [1, 0, 1, 2, 0, 2])


def test_data_convert_missing_file(tmp_path):
    np.save(tmp_path / "y.npy", np.arange(3))
    missing = tmp_path / "X.npy"
    result = invoke("data", "convert", missing, tmp_path / "y.npy", tmp_path / "out.dataset")
    assert_clean_error(result, str(missing), "not found")
    assert not (tmp_path / "out.dataset").exists()


def test_data_convert_bad_values(tmp_path):
    np.save(tmp_path / "X.npy", np.full((2, 3), 2.0))
    np.save(tmp_path / "y.npy", np.arange(2))
    result = invoke("data", "convert", tmp_path / "X.npy", tmp_path / "y.npy", tmp_path / "o")
    assert_clean_error(result, "[0, 1]")


# --- help -----------------------------------------------------------------------------------------

COMMANDS = [["run"], ["validate"], ["show"], ["doctor"], ["data", "convert"], ["data"],
            ["import"], ["import", "spikenn-config"], []]  # fmt: skip


def _command(path: list[str]) -> click.Command:
    command: click.Command = main
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


@pytest.mark.parametrize("path", COMMANDS, ids=lambda path: " ".join(path) or "brainsnn")
def test_help_documents_every_option(path):
    result = invoke(*path, "--help")
    assert result.exit_code == 0, result.output
    command = _command(path)
    assert command.help, f"{path} has no help text"
    for param in command.params:
        if isinstance(param, click.Option):
            for opt in param.opts:
                assert opt in result.output, f"{opt} missing from help of {path}"
            assert param.help, f"{param.opts} has no help text"
        elif isinstance(param, click.Argument):
            assert param.human_readable_name in result.output


def test_run_help_lists_its_options():
    output = invoke("run", "--help").output
    for option in ("--set", "--device", "--out", "--seed", "--resume", "--quiet"):
        assert option in output
    for device in ("runtime", "cpp", "cuda"):
        assert device in output


def test_main_help_lists_every_command():
    output = invoke("--help").output
    for name in ("run", "validate", "show", "doctor", "data", "import"):
        assert name in output
    assert "convert" in invoke("data", "--help").output


def test_run_refuses_to_overwrite_an_existing_run(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "results.nc").write_bytes(b"earlier results")
    result = invoke("run", str(DIGITS), "--out", str(run_dir))
    assert result.exit_code == 2
    assert "already holds a run" in result.stderr
    assert (run_dir / "results.nc").read_bytes() == b"earlier results"


def test_os_errors_are_one_line(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    result = invoke(
        "run", str(DIGITS), "--device", "runtime",
        "--out", str(blocked / "run"),
    )  # fmt: skip
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error:")


def test_cuda_without_brian2cuda_fails_before_writing(tmp_path: Path) -> None:
    try:
        import brian2cuda  # noqa: F401
    except ImportError:
        result = invoke("run", str(DIGITS), "--device", "cuda", "--out", str(tmp_path / "run"))
        assert_clean_error(result, "brian2cuda")
        assert not (tmp_path / "run").exists()
    else:
        pytest.skip("brian2cuda is installed")
