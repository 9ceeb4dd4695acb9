"""User-facing errors: one clear line, no traceback, non-zero exit code."""

from __future__ import annotations


class BrainsnnError(Exception):
    """An error caused by user input (a file, a key, a value) that the CLI prints as one line.

    The message should name what was wrong (file, key, line where known) and what was expected.
    """


class ConfigError(BrainsnnError):
    """A protocol or model file is malformed, has an unknown key, or a wrongly typed value."""


class DataError(BrainsnnError):
    """A dataset file is missing or unreadable; the message says how to obtain it."""
