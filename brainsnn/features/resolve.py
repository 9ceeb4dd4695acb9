"""Resolve a features protocol's model file once (what ``brainsnn validate`` checks)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from brainsnn.core.errors import ConfigError
from brainsnn.core.protocol import Source
from brainsnn.features.modelfile import CsnnModel, load_csnn_model
from brainsnn.features.protocol import FeaturesProtocol


@dataclass(frozen=True)
class ResolvedExtractor:
    """The model file and every parameter's value (the protocol's, else the file's)."""

    model: CsnnModel
    values: dict[str, float]


def resolve_features(protocol: FeaturesProtocol, source: Source) -> ResolvedExtractor:
    """Read the model file and apply ``network.parameters``; errors name the protocol line."""
    base = Path(source.path).parent if source.path != "protocol" else None
    try:
        model = load_csnn_model(protocol.network.model, base)
        values = model.values(protocol.network.parameters)
    except ConfigError as exc:
        raise ConfigError(f"{source.where('network')}: {exc}") from None
    return ResolvedExtractor(model, values)
