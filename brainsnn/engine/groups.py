"""Brian2 groups from composed model roles: pieces every chunked network family shares."""

from __future__ import annotations

import re

import brian2 as b2
import numpy as np

from brainsnn.core.errors import ConfigError
from brainsnn.core.modellib import ComposedGroup
from brainsnn.core.units import base_unit

LINKED = re.compile(r"^\s*(layer_(\w+))\s*:.*\(linked\)", re.MULTILINE)


def parameter_equations(group: ComposedGroup) -> str:
    """Declarations of a group's model parameters as shared variables (base units)."""
    return "".join(
        f"{name} : {base_unit(spec.unit)} (shared)\n" for name, spec in group.parameters.items()
    )


def set_chunk_start_values(groups: dict[str, b2.Group], composed: dict[str, ComposedGroup]) -> None:
    """Give non-persistent variables their ``chunk_start`` value (compiled into the build)."""
    for role, group in composed.items():
        for name, expression in group.chunk_start.items():
            if name in group.persistent:
                raise ConfigError(f"{role}: '{name}' is persistent; give its start in 'initial'")
            if role not in groups:
                raise ConfigError(f"{role}: chunk_start for a population this network lacks")
            setattr(groups[role], name, expression)


def link_layer_variables(
    target: b2.NeuronGroup, layer: b2.NeuronGroup, text: str, index: np.ndarray | None = None
) -> None:
    """Link every ``layer_X : ... (linked)`` variable declared in ``text`` to the layer's X
    (of the layer neuron ``index[k]`` for target neuron k; default: the first)."""
    for linked_name, layer_name in LINKED.findall(text):
        if layer_name not in layer.variables:
            raise ConfigError(
                f"{target.name} variable '{linked_name}' links to layer variable "
                f"'{layer_name}', which no model defines"
            )
        setattr(
            target,
            linked_name,
            b2.linked_var(
                layer,
                layer_name,
                index=np.zeros(len(target), dtype=np.int64) if index is None else index,
            ),
        )
