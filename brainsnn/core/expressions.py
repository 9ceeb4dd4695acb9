"""Epoch-level expressions of model files (``initial``, ``epoch_start``, ``epoch_end``)."""

from __future__ import annotations

import numpy as np

from brainsnn.core.errors import BrainsnnError


def evaluate_expression(expression: str, names: dict[str, object]) -> object:
    """Evaluate a model file's epoch-level expression over parameters and state (NumPy)."""
    try:
        return eval(expression, {"__builtins__": {}, "np": np}, names)
    except Exception as exc:
        raise BrainsnnError(f"cannot evaluate model expression '{expression}': {exc}") from None
