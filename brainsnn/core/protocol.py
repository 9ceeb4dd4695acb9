"""What every protocol kind shares: strict sections, trace and output sections, ``--set``
overrides, and where in a protocol file a key is (for one-line errors)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from brainsnn.core.errors import ConfigError

#: A Brian2 variable name.
IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"


class Section(BaseModel):
    """A protocol section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # NaN and inf are errors


def sweep_field() -> object:
    """The ``sweep:`` key every kind's protocol has (read by ``brainsnn gridsearch``)."""
    return Field(
        None,
        description="grid for 'brainsnn gridsearch': dotted protocol keys (e.g. "
        "network.parameters.gap) mapped to lists of values; every combination (Cartesian "
        "product) is run; ignored by 'brainsnn run'",
    )


@dataclass(frozen=True)
class Source:
    """A protocol file and the line of each key path (``("network", "models", 2)``)."""

    path: str = "protocol"
    lines: dict = field(default_factory=dict)

    def where(self, *keys: object) -> str:
        """``file:line`` of a key path, or just the file when the line is unknown."""
        line = self.lines.get(tuple(keys))
        return f"{self.path}:{line}" if line else self.path


class TraceSection(Section):
    """Membrane traces of a few output neurons, every step of the first test samples (opt-in)."""

    neurons: list[int] = Field(description="output neuron indices to record")
    samples: int = Field(3, ge=1, description="record the first n test samples (of one test pass)")
    potential: str = Field(
        "v", pattern=IDENTIFIER, description="output variable holding the membrane potential"
    )
    threshold: str = Field(
        "theta",
        pattern=IDENTIFIER,
        description="output variable holding the threshold (Diehl & Cook: vt)",
    )

    def checked_variables(self, n_outputs: int) -> tuple[str, str]:
        """(potential, threshold) variable names, after checking the neurons exist."""
        for neuron in self.neurons:
            if not 0 <= neuron < n_outputs:
                raise ConfigError(
                    f"recording.traces.neurons: {neuron} is not an output neuron "
                    f"(0 to {n_outputs - 1})"
                )
        return self.potential, self.threshold


class OutputSection(Section):
    """Where results go."""

    directory: str = Field(
        "results/{name}/{timestamp}",
        description="run directory; {name} and {timestamp} are filled in",
    )


def parse_assignment(
    item: str, option: str = "--set", form: str = "key.path=value"
) -> tuple[str, Any]:
    """Split a ``key.path=value`` command-line item; the value is parsed as YAML."""
    key, sep, text = item.partition("=")
    if not sep or not all(key.split(".")):
        raise ConfigError(f"{option} {item}: expected {form}")
    try:
        return key, yaml.safe_load(text)
    except yaml.YAMLError:
        raise ConfigError(f"{option} {item}: value is not valid YAML") from None


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key.path=value`` overrides (values parsed as YAML) to raw protocol data.

    A number in the path indexes a list (``network.hidden.0.neuron=gradient/lif``).
    """
    for item in overrides:
        key, value = parse_assignment(item)
        node: Any = data
        parts = key.split(".")
        for part in parts[:-1]:
            if isinstance(node, list):
                child = node[_list_index(node, part, item)]
            else:
                child = node.setdefault(part, {})
            if not isinstance(child, dict | list):
                raise ConfigError(f"--set {item}: '{part}' is not a section")
            node = child
        if isinstance(node, list):
            node[_list_index(node, parts[-1], item)] = value
        else:
            node[parts[-1]] = value
    return data


def _list_index(items: list, part: str, item: str) -> int:
    if not part.isdigit() or int(part) >= len(items):
        raise ConfigError(f"--set {item}: '{part}' is not an index of a list of {len(items)}")
    return int(part)
