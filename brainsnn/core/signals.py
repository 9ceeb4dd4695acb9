"""SIGTERM ends a run the way Ctrl-C does."""

from __future__ import annotations

import signal


def _interrupt(number: int, frame: object) -> None:
    raise KeyboardInterrupt


def stop_on_sigterm() -> None:
    """Make SIGTERM raise KeyboardInterrupt: Python's subprocess then kills the compiled child,
    and the run stays resumable from its last checkpoint."""
    signal.signal(signal.SIGTERM, _interrupt)
