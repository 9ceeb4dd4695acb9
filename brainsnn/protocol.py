"""Load a protocol file: read, apply ``--set`` overrides, validate against its kind's schema,
and resolve its model files once, into one :class:`~brainsnn.core.experiment.Experiment`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from brainsnn.core.errors import ConfigError
from brainsnn.core.experiment import Experiment
from brainsnn.core.protocol import Source, apply_overrides
from brainsnn.core.yamlfile import format_validation_error, read_yaml
from brainsnn.kinds import DEFAULT_KIND, get_kind


def protocol_schema(data: dict[str, Any]) -> type[BaseModel]:
    """The schema for raw protocol data, chosen by its ``kind`` (default: readout)."""
    return get_kind(data.get("kind", DEFAULT_KIND)).schema


def load_protocol(path: str | Path, overrides: list[str] | None = None) -> Experiment:
    """Read, override and validate a protocol file, then resolve its model files (once).

    Every error is a one-line :class:`ConfigError` naming the file, the key and its line.
    """
    data, lines = read_yaml(path)
    data = apply_overrides(data, overrides or [])
    kind = get_kind(data.get("kind", DEFAULT_KIND))
    try:
        protocol = kind.schema.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(path, exc, lines)) from None
    source = Source(str(path), lines)
    return Experiment(protocol, kind.name, kind.resolve(protocol, source), source)


def resolve(protocol: BaseModel | Experiment) -> Experiment:
    """An experiment from a protocol validated in code (an experiment is returned as it is)."""
    if isinstance(protocol, Experiment):
        return protocol
    kind = get_kind(getattr(protocol, "kind", DEFAULT_KIND))
    source = Source(getattr(protocol, "name", "protocol"))
    return Experiment(protocol, kind.name, kind.resolve(protocol, source), source)
