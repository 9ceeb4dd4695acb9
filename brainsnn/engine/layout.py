"""The build contract of chunked networks: a layout fixes a compiled build, named by its key."""

from __future__ import annotations

import hashlib
import json
from typing import Protocol


class ChunkedLayout(Protocol):
    """What every kind's layout offers: equal keys share one compiled build.

    A layout holds everything compiled into a build (sizes, schedule, model texts); values that
    change between chunks (state, parameters, inputs) are handed in through ``run_args``.
    """

    def key(self) -> str:
        """Short name of the build directory of this layout."""
        ...


def build_key(description: object, prefix: str = "") -> str:
    """``prefix`` + a 16-hex-digit hash of a JSON description of a layout."""
    text = json.dumps(description, sort_keys=True, default=str)
    return prefix + hashlib.sha256(text.encode()).hexdigest()[:16]
