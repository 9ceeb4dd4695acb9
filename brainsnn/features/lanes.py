"""Filter lanes: the extraction network keeps L filters of a convolution position in one neuron.

Without lanes the convolution has one synapse per (input, position, filter), 3.7 M on F-MNIST,
and every input spike is one event per filter, each loading its synapse's indices from memory.
With L lanes a convolution neuron holds the potentials, thresholds and first-spike times of L
neighbouring filters (``v_0`` ... ``v_{L-1}``), a kernel neuron the weights of L filters, and one
synapse per (input, position, group of L filters) runs the model's code once per lane: L times
fewer synapses and events, and per filter the same float32 operations in the same order (the
features are bit for bit those of one filter per neuron).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from brian2.utils.stringtools import word_substitute

#: Most filters per neuron; the lane count is the largest power of two up to this that
#: divides the filter count (8 for 128 filters; 1 for an odd count).
MOST_LANES = 8


def filter_lanes(filters: int, most: int = MOST_LANES) -> int:
    """Filters per neuron for ``filters`` filters."""
    lanes = most
    while filters % lanes:
        lanes //= 2
    return lanes


def lane_names(name: str, lanes: int) -> list[str]:
    """The per-lane copies of variable ``name``: name_0 ... name_{lanes-1}."""
    return [f"{name}_{lane}" for lane in range(lanes)]


def per_lane(code: str, names: Iterable[str], lanes: int) -> str:
    """``code`` once per lane, with each variable of ``names`` (also as name_pre, name_post)
    renamed to that lane's copy; other names (parameters, tin_pre) stay shared."""
    names = list(names)
    blocks = []
    for lane in range(lanes):
        renamed = {
            f"{name}{suffix}": f"{name}_{lane}{suffix}"
            for name in names
            for suffix in ("", "_pre", "_post")
        }
        blocks.append(word_substitute(code, renamed).rstrip())
    return "\n".join(blocks) + "\n"


def first_of_lanes(filter_index: np.ndarray, lanes: int) -> np.ndarray:
    """Which entries of a map over filters (flat indices, filter fastest) start a lane group."""
    return np.asarray(filter_index) % lanes == 0
