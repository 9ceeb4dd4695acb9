"""Ending a chunk's run after its last sample instead of simulating the padding after it.

A compiled build runs a fixed number of sample windows per chunk. A chunk with fewer samples
(the last chunk of a split, or a validation or test split smaller than the training chunk) is
padded with silent samples, and a silent window costs nearly as much as a real one: the code
objects run at every time step whether or not any input spikes (F-MNIST pixels, 260 steps per
sample: 153 µs per silent sample against 189 µs per real one). The network instead ends its own
run: at the start of the first window without samples, ``end_chunk`` stops Brian2's network
loop after that step (``Network::_globally_stopped`` in C++ standalone, the same flag in
runtime mode). Nothing in that step changes persistent state that a padded run would not also
have changed, and the records of the samples before it are complete.

brian2cuda's run loop cannot be stopped from device code, so on ``cuda`` the padding still
runs (the device registry's ``ends_chunks_early``); the results are the same either way.
"""

from __future__ import annotations

import brian2 as b2
import numpy as np
from brian2.devices.device import all_devices

from brainsnn.devices.registry import get_device

#: Declarations the group that ends the chunk needs (one element per lane).
CHUNK_END_EQUATIONS = """
chunk_windows : integer (shared)
chunk_ended : integer
"""
#: Run at the start of every sample window: ends the run at the first window without samples.
END_CHUNK_CODE = "chunk_ended = end_chunk(int(sample_index >= chunk_windows))"

_CPP_END_CHUNK = """
static inline int32_t end_chunk(const int32_t ended)
{
    if (ended)
        Network::_globally_stopped = true;  // the run loop ends after the current step
    return ended;
}
"""


def _end_runtime_chunk(ended: np.ndarray) -> np.ndarray:
    """Runtime mode: stop the running network after the current step if any lane has ended."""
    if np.any(ended):
        b2.Network._globally_stopped = True
    return np.asarray(ended, dtype=np.int32)


def end_chunk_function() -> b2.Function:
    """The Brian2 function ``end_chunk(ended)`` (returns ``ended``), for runtime and C++."""
    function = b2.Function(
        _end_runtime_chunk,
        arg_units=[1],
        return_unit=1,
        arg_types=["integer"],
        return_type="integer",
        stateless=False,
        auto_vectorise=False,
    )
    function.implementations.add_implementation(
        "cpp", _CPP_END_CHUNK, name="end_chunk", compiler_kwds={"headers": ['"network.h"']}
    )
    return function


def ends_chunks_early() -> bool:
    """Whether the selected Brian2 device's run can be ended by ``end_chunk``."""
    active = b2.get_device()
    name = next(name for name, device in all_devices.items() if device is active)
    return get_device(name).ends_chunks_early
