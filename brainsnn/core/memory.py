"""Handing freed memory back to the operating system, so peak RSS follows what is in use."""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache


@cache
def _malloc_trim() -> ctypes._CFuncPtr | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc: nothing to ask
        return None


def return_freed_memory() -> None:
    """Ask glibc's allocator to unmap the free pages inside its heap (``malloc_trim(0)``).

    Many small freed objects (the samples of a SpikeNN feature file) otherwise stay counted in
    the process's RSS. A no-op where the C library has no ``malloc_trim``.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
