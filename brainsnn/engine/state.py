"""Persistent state of chunked networks, keyed ``role.variable`` in every kind.

State is what a chunk hands on to the next (weights, adaptive thresholds): NumPy arrays in
Python, Brian2 variables of the role's group during a chunk. Keys name the role, so two roles
may each have a ``v``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from brainsnn.core.expressions import evaluate_expression
from brainsnn.core.modellib import ComposedGroup


def state_key(role: str, name: str) -> str:
    """The state key of a role's variable: ``feedforward.w``."""
    return f"{role}.{name}"


def persistent_variables(composed: Mapping[str, ComposedGroup]) -> list[tuple[str, str]]:
    """(role, variable) of every persistent variable, in model order."""
    return [(role, name) for role, group in composed.items() for name in group.persistent]


def bare_names(state: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """State by variable name alone, for model expressions; a name two roles share is left out."""
    by_name: dict[str, list[np.ndarray]] = {}
    for key, value in state.items():
        by_name.setdefault(key.rpartition(".")[2], []).append(value)
    return {name: values[0] for name, values in by_name.items() if len(values) == 1}


def initial_state(
    composed: Mapping[str, ComposedGroup],
    parameters: dict[str, float],
    sizes: Mapping[str, int],
    names: Mapping[str, object],
    given: Mapping[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Persistent variables before training: ``given`` ones as they are, the others from the
    models' ``initial`` expressions (default 0) over ``names`` and the parameters.

    An ``initial`` expression that names a parameter (R-STDP's reward factor) sets that
    parameter in ``parameters`` (in place).
    """
    state = {key: np.array(value, dtype=float) for key, value in given.items()}
    for role, group in composed.items():
        for name, expression in group.initial.items():
            if name in parameters:
                parameters[name] = float(evaluate_expression(expression, {**names, **parameters}))
        for name in group.persistent:
            key = state_key(role, name)
            if key in state:
                continue
            scope = {**names, **parameters, **bare_names(state)}
            value = evaluate_expression(group.initial.get(name, "0"), scope)
            state[key] = np.full(sizes[role], value, dtype=float)
    return state
