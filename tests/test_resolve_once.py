"""Loading and running a protocol reads each of its model files exactly once, and a model file
meant for another kind fails at load, in one line."""

from __future__ import annotations

import builtins
import io
import pathlib
from collections import Counter
from pathlib import Path

import pytest
import yaml

from brainsnn.core.errors import ConfigError
from brainsnn.core.modellib import MODEL_DIR
from brainsnn.protocol import load_protocol
from brainsnn.run import run_protocol

ROOT = Path(__file__).resolve().parent.parent
NCG_DIGITS = ROOT / "protocols" / "ncg_digits.yaml"


@pytest.fixture
def model_reads(monkeypatch) -> Counter:
    """Counts every opening of a file under models/ (Path.read_text and Path.open go through
    io.open, which is builtins.open)."""
    reads: Counter = Counter()
    models = str(MODEL_DIR.resolve())

    def note(file: object) -> None:
        if isinstance(file, str | pathlib.PurePath):
            path = str(Path(file).resolve())
            if path.startswith(models):
                reads[Path(path).relative_to(models).as_posix()] += 1

    original_open = builtins.open

    def counted_open(file, *args, **kwargs):
        note(file)
        return original_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", counted_open)
    monkeypatch.setattr(io, "open", counted_open)
    return reads


def test_loading_and_running_ncg_digits_reads_each_model_file_once(model_reads, tmp_path):
    overrides = [
        "training.max_epochs=1",
        "data.train_subset=200",
        "data.test_subset=60",
        "device.name=runtime",  # no compile: the reads are the same on every device
    ]
    experiment = load_protocol(NCG_DIGITS, overrides)
    run_protocol(experiment, out=tmp_path / "run", show_progress=False)
    expected = {f"{name}.yaml": 1 for name in experiment.network.models}
    assert len(expected) == 7
    assert dict(model_reads) == expected


def test_a_model_file_of_another_kind_fails_at_load(tmp_path):
    protocol = yaml.safe_load(NCG_DIGITS.read_text())
    protocol["network"]["models"].append("presentation/retry")  # an unsupervised-only stage
    path = tmp_path / "mixed.yaml"
    path.write_text(yaml.safe_dump(protocol))
    with pytest.raises(ConfigError, match=r"network\.models: .*not part of the readout"):
        load_protocol(path)


def test_a_variable_the_engine_reads_must_be_declared(tmp_path):
    model = yaml.safe_load((MODEL_DIR / "neurons" / "if_single_spike.yaml").read_text())
    model["outputs"]["equations"] = model["outputs"]["equations"].replace("tspike", "t_first")
    (tmp_path / "renamed.yaml").write_text(yaml.safe_dump(model))
    protocol = yaml.safe_load(NCG_DIGITS.read_text())
    models = protocol["network"]["models"]
    models[models.index("neurons/if_single_spike")] = str(tmp_path / "renamed.yaml")
    path = tmp_path / "protocol.yaml"
    path.write_text(yaml.safe_dump(protocol))
    with pytest.raises(ConfigError, match=r"reads outputs variable\(s\) tspike"):
        load_protocol(path)
