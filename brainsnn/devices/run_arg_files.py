"""Names for a chunk's run_args files without hashing their contents.

Brian2 names each array it hands to a standalone binary after the MD5 of its bytes, so that a
project directory can keep and reuse them. brainsnn runs every process's chunks in a private
copy of the build and deletes the files after each run, so content addresses buy nothing there,
while hashing them costs about 35 ms per chunk of 2,000 Fashion-MNIST samples (25 MB). While a
chunk's values are written, the hash is replaced by a number unique in this process.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager

import brian2.devices.cpp_standalone.device as cpp_device

_NUMBERS = itertools.count()


class _Unique:
    """Stands in for a hash object: ``hexdigest()`` is a fresh name part."""

    def __init__(self, _data: object = None) -> None:
        self._name = f"p{os.getpid()}n{next(_NUMBERS)}"

    def hexdigest(self) -> str:
        return self._name


@contextmanager
def numbered_run_arg_files() -> Iterator[None]:
    """Within this block, run_args files get numbered names instead of MD5 ones (a no-op if
    Brian2 no longer hashes them through ``md5`` in its standalone device module)."""
    original = getattr(cpp_device, "md5", None)
    if original is None:
        yield
        return
    cpp_device.md5 = _Unique
    try:
        yield
    finally:
        cpp_device.md5 = original
