"""The protocol-kind registry: one line per kind.

A kind is a sibling package (``brainsnn/readout``, ``brainsnn/unsupervised``,
``brainsnn/gradient``, ``brainsnn/features``) whose ``kind.py`` defines ``KIND``, a
:class:`brainsnn.core.experiment.Kind`.
The CLI, the sweeps, the schema documentation and the figures iterate over this registry; no
other module names a kind. Kinds are imported on first use, so a readout run never loads JAX.
"""

from __future__ import annotations

import importlib

from brainsnn.core.errors import ConfigError
from brainsnn.core.experiment import Kind

KIND_MODULES: dict[str, str] = {
    "readout": "brainsnn.readout.kind",
    "unsupervised": "brainsnn.unsupervised.kind",
    "gradient": "brainsnn.gradient.kind",
    "features": "brainsnn.features.kind",
}
DEFAULT_KIND = "readout"


def kind_names() -> tuple[str, ...]:
    """Every registered kind, in registry order."""
    return tuple(KIND_MODULES)


def get_kind(name: object) -> Kind:
    """The registered kind of this name; one-line ConfigError for an unknown one."""
    if not isinstance(name, str) or name not in KIND_MODULES:
        raise ConfigError(f"kind: unknown protocol kind '{name}'; choose {', '.join(KIND_MODULES)}")
    return importlib.import_module(KIND_MODULES[name]).KIND


def all_kinds() -> list[Kind]:
    """Every registered kind (imports them all)."""
    return [get_kind(name) for name in KIND_MODULES]
