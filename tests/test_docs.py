"""The documentation cannot drift: protocols/README.md and models/README.md against the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from brainsnn.core.modellib import ROLES
from brainsnn.gradient.protocol import GradientProtocol, LayerSection
from brainsnn.readout.protocol import Protocol
from brainsnn.schema_docs import BEGIN, END, FALLBACK_DESCRIPTIONS, protocol_reference_markdown
from brainsnn.unsupervised.protocol import UnsupervisedProtocol

ROOT = Path(__file__).resolve().parent.parent
PROTOCOLS_README = ROOT / "protocols" / "README.md"
MODELS_README = ROOT / "models" / "README.md"
MODEL_FILES = sorted((ROOT / "models").rglob("*.yaml"))
REGENERATE = "python -m brainsnn.schema_docs --write protocols/README.md"


def _schema_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Dotted path of every field of the protocol schema, sections and nested sections included."""
    keys = []
    for name, info in model.model_fields.items():
        keys.append(f"{prefix}{name}")
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys += _schema_keys(annotation, f"{prefix}{name}.")
    return keys


@pytest.fixture(scope="module")
def reference() -> str:
    return protocol_reference_markdown()


def test_generated_block_is_current(reference: str) -> None:
    text = PROTOCOLS_README.read_text()
    assert BEGIN in text and END in text, f"markers {BEGIN} / {END} missing in {PROTOCOLS_README}"
    block = text.split(BEGIN, 1)[1].split(END, 1)[0]
    assert block.strip() == reference.strip(), (
        f"the key reference in protocols/README.md is out of date; regenerate it: {REGENERATE}"
    )


@pytest.mark.parametrize("key", _schema_keys(Protocol))
def test_every_schema_field_is_documented(key: str, reference: str) -> None:
    assert f"`{key}`" in reference


@pytest.mark.parametrize("key", _schema_keys(UnsupervisedProtocol))
def test_every_unsupervised_schema_field_is_documented(key: str, reference: str) -> None:
    unsupervised = reference.split("(`kind: unsupervised`)", 1)[1]
    assert f"`{key}`" in unsupervised


@pytest.mark.parametrize(
    "key",
    _schema_keys(GradientProtocol) + _schema_keys(LayerSection, "network.hidden.N."),
)
def test_every_gradient_schema_field_is_documented(key: str, reference: str) -> None:
    gradient = reference.split("(`kind: gradient`)", 1)[1]
    assert f"`{key}`" in gradient


def test_fallback_descriptions_name_real_keys() -> None:
    assert set(FALLBACK_DESCRIPTIONS) <= set(_schema_keys(Protocol))


@pytest.mark.parametrize("path", MODEL_FILES, ids=lambda p: p.stem)
def test_every_model_file_is_in_models_readme(path: Path) -> None:
    name = path.relative_to(ROOT / "models").with_suffix("").as_posix()
    assert f"`{name}`" in MODELS_README.read_text(), f"models/README.md does not mention {name}"


def test_every_model_parameter_is_documented() -> None:
    docs = PROTOCOLS_README.read_text() + MODELS_README.read_text()
    assert MODEL_FILES
    for path in MODEL_FILES:
        data = yaml.safe_load(path.read_text())
        if data.get("kind") == "gradient_neuron":
            sections = [data]
        else:
            sections = [data.get(role) or {} for role in ROLES]
        for section in sections:
            for parameter in section.get("parameters") or {}:
                assert re.search(rf"`{re.escape(parameter)}`", docs), (
                    f"parameter '{parameter}' of {path.relative_to(ROOT)} is documented in "
                    f"neither protocols/README.md nor models/README.md"
                )
