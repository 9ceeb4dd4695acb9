"""Let Brian2 check a network's model code before anything is compiled or run."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import brian2 as b2

from brainsnn.core.errors import ConfigError
from brainsnn.core.modellib import ComposedGroup
from brainsnn.devices.runners import model_code_errors

_ASSIGNMENT = re.compile(r"^\s*([A-Za-z_]\w*)\s*=(?!=)")


def _blocks(group: ComposedGroup) -> list[str]:
    """Every block of statements of a composed role: resets, stage code, synaptic code."""
    return [
        *group.reset,
        *(code for codes in group.codes.values() for code in codes),
        *group.on_pre,
        *group.on_post,
        *(code for codes in group.pathways.values() for code in codes),
    ]


def check_assignments(composed: Mapping[str, ComposedGroup], groups: Mapping[str, object]) -> None:
    """Refuse a statement that assigns a name which is no variable of its group and is never
    read afterwards in its block: Brian2 takes it as a temporary, so a typo (``vv = 0`` for
    ``v = 0``) would silently do nothing."""
    for role, group in composed.items():
        if role not in groups:
            continue
        known = set(groups[role].variables)
        for block in _blocks(group):
            lines = block.splitlines()
            for number, line in enumerate(lines):
                match = _ASSIGNMENT.match(line.split("#")[0])
                if match is None or match[1] in known:
                    continue
                later = "\n".join(lines[number + 1 :])
                if not re.search(rf"\b{match[1]}\b", later):
                    raise ConfigError(
                        f"{role}: '{line.strip()}' assigns '{match[1]}', which is not a variable "
                        f"of {role} and is never read afterwards (a misspelt name?)"
                    )


def check_network(build: Callable[[], object], where: str) -> None:
    """Build a network on the runtime device and let Brian2 prepare its code (units, names,
    equations, resets, pathways) without running a step; ConfigError in one line if it refuses.

    ``build`` returns an object with ``network`` and ``namespace`` (a BuiltNetwork).
    """
    b2.set_device("runtime")
    b2.prefs.codegen.target = "numpy"
    b2.BrianLogger.suppress_name("unused_brian_object")  # a failed build leaves objects behind
    try:
        with model_code_errors(where):
            built = build()  # the kinds' builders also run check_assignments
            built.network.run(0 * b2.second, namespace=built.namespace)  # prepares, no step
    except ConfigError as exc:
        message = str(exc)
        raise ConfigError(message if message.startswith(where) else f"{where}: {message}") from None
