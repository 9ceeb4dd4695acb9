"""STDP-CSNN model files (``models/features/*.yaml``, ``kind: csnn``): the rules as data.

A file gives the Brian2 abstract code of each event of the extractor (see
``models/features/stdp_csnn.yaml`` and ``models/README.md``, "STDP-CSNN feature extractors") and
its parameters. The code is handed to Brian2 as text and parsed by Brian2; nothing in a model
file is evaluated as Python.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from brainsnn.core.errors import ConfigError
from brainsnn.core.modellib import MODEL_DIR
from brainsnn.core.yamlfile import is_file, load_model

#: Names the engine defines in the extractor's code; a parameter must not reuse them.
ENGINE_NAMES = frozenset(
    {
        "v",
        "theta",
        "tin",
        "tconv",
        "tpool",
        "tcross",
        "kcross",
        "tmin",
        "kmin",
        "w",
        "winner",
        "twin",
        "wins",
        "fires",
        "i",
        "j",
        "N",
    }
)
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class CsnnParameter(_Strict):
    """A dimensionless parameter; a shared variable of the network, set for every chunk."""

    value: float
    description: str


class Thresholds(_Strict):
    """When a neuron fires (a condition on ``v_post`` and ``theta_post``), in each network."""

    extract: str = Field(description="extraction: the convolution neurons")
    train: str = Field(description="training: the filters competing for a patch")


class CsnnModel(_Strict):
    """A ``kind: csnn`` model file."""

    name: str
    kind: Literal["csnn"]
    description: str
    reference: str = ""
    integrate: str = Field(
        description="on_pre of input -> neuron synapses: per input spike (in time order), for "
        "every neuron it reaches, in both networks"
    )
    threshold: Thresholds
    pool: str = Field(description="on_pre of convolution -> feature synapses, per fired neuron")
    learn: str = Field(description="code of the winner filter's synapses, once per won patch")
    adapt: str = Field(description="code of every filter, once per won patch")
    annealed: tuple[str, ...] = Field(
        (), description="parameters multiplied by the 'annealing' parameter after every epoch"
    )
    parameters: dict[str, CsnnParameter]

    @model_validator(mode="after")
    def _consistent(self) -> CsnnModel:
        for name in self.parameters:
            if not _IDENTIFIER.match(name) or name in ENGINE_NAMES:
                raise ValueError(f"parameter '{name}': not a name, or one the engine defines")
        for name in ("theta0", "w_mean", "w_std"):
            if name not in self.parameters:
                raise ValueError(f"parameters: '{name}' is required (initial state)")
        unknown = [name for name in self.annealed if name not in self.parameters]
        if unknown:
            raise ValueError(f"annealed: {', '.join(unknown)} are not parameters")
        if self.annealed and "annealing" not in self.parameters:
            raise ValueError("annealed parameters need an 'annealing' parameter")
        return self

    def values(self, overrides: dict[str, float] | None = None) -> dict[str, float]:
        """Every parameter's value, with ``overrides`` (unknown names are a ConfigError)."""
        values = {name: spec.value for name, spec in self.parameters.items()}
        for name, value in (overrides or {}).items():
            if name not in values:
                raise ConfigError(
                    f"parameters: '{name}' is not a parameter of {self.name} "
                    f"(it has {', '.join(values)})"
                )
            values[name] = float(value)
        return values

    @property
    def text(self) -> str:
        """All code of the file, for build keys: a change gives a new compiled build."""
        return self.model_dump_json(
            include={"integrate", "threshold", "pool", "learn", "adapt", "annealed"}
        )


def load_csnn_model(name: str, base: Path | None = None) -> CsnnModel:
    """Read a ``kind: csnn`` model file: a name under ``models/`` or a path to a ``.yaml`` file."""
    candidates = [Path(name)] if name.endswith((".yaml", ".yml")) else []
    if base is not None and candidates:
        candidates.insert(0, base / name)
    candidates.append(MODEL_DIR / f"{name}.yaml")
    for path in candidates:
        if is_file(path):
            return load_model(path, CsnnModel)
    raise ConfigError(f"model file '{name}' not found (looked in {MODEL_DIR})")
