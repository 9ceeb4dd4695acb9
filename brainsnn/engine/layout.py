"""The build contract of chunked networks: a layout (everything compiled into a build: sizes,
schedule, model texts) is named by its key, and equal keys share one compiled build; values that
change between chunks (state, parameters, inputs) are handed in through ``run_args``."""

from __future__ import annotations

import hashlib
import json


def build_key(description: object, prefix: str = "") -> str:
    """``prefix`` + a 16-hex-digit hash of a JSON description of a layout."""
    text = json.dumps(description, sort_keys=True, default=str)
    return prefix + hashlib.sha256(text.encode()).hexdigest()[:16]
