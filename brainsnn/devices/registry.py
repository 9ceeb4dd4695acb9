"""Registered devices by short and Brian2 name (see :mod:`brainsnn.devices`)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

from brainsnn.core.errors import BrainsnnError


@dataclass(frozen=True)
class Device:
    """A Brian2 device brainsnn can run a network on."""

    name: str  # short name: protocols' device.name and --device
    brian2_name: str  # Brian2's name (set_device)
    description: str  # one line for help texts
    standalone: bool  # compiled once per build and fed chunks through run_args
    check: Callable[[], None] = lambda: None  # raises BrainsnnError if unusable here
    #: generate and compile a standalone project: (brian2 device, build directory) -> None
    compile: Callable[[object, object], None] | None = None
    #: what ``brainsnn doctor`` says about this device here: [(what, finding), ...]
    report: Callable[[], list[tuple[str, str]]] = lambda: []
    #: generated code can end a run early (brainsnn.engine.chunk_end): padding is skipped
    ends_chunks_early: bool = False


_DEVICES: dict[str, Device] = {}


def register_device(device: Device) -> None:
    """Make a device known under its short name and its Brian2 name."""
    _DEVICES[device.name] = device
    _DEVICES[device.brian2_name] = device


def device_names() -> tuple[str, ...]:
    """Short names of every registered device, in registration order."""
    return tuple(dict.fromkeys(device.name for device in _DEVICES.values()))


def get_device(name: str) -> Device:
    """The device of a short or Brian2 name; one-line error for an unknown one."""
    try:
        return _DEVICES[name]
    except KeyError:
        raise BrainsnnError(
            f"unknown device '{name}': choose one of {', '.join(device_names())}"
        ) from None


def require_device(name: str) -> Device:
    """The device, after checking (in one line, early) that it can be used here."""
    device = get_device(name)
    device.check()
    return device


def device_report() -> list[tuple[str, str]]:
    """Every registered device's ``brainsnn doctor`` lines."""
    seen = dict.fromkeys(_DEVICES.values())
    return [line for device in seen for line in device.report()]


def tool_version(command: list[str]) -> str:
    """First line of a tool's version output, or 'not found'."""
    if shutil.which(command[0]) is None:
        return "not found"
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return "not found"
    text = (result.stdout or result.stderr).strip().splitlines()
    return text[0] if text else "not found"


def _cpp_report() -> list[tuple[str, str]]:
    found = tool_version(["g++", "--version"])
    if found == "not found":
        found = "not found: install g++ (apt-get install g++) for device cpp"
    return [("c++ compiler", found)]


def describe_devices() -> str:
    """``runtime (…), cpp (…), cuda (…)`` for help texts."""
    seen = dict.fromkeys(_DEVICES.values())
    return ", ".join(device.description for device in seen)


# The built-in devices (cuda registers itself from brainsnn.devices.cuda).
register_device(
    Device(
        "runtime",
        "runtime",
        "runtime (NumPy code generation; debugging, slow)",
        False,
        ends_chunks_early=True,
    )
)
register_device(
    Device(
        "cpp",
        "cpp_standalone",
        "cpp (compiled C++)",
        True,
        report=_cpp_report,
        ends_chunks_early=True,
    )
)
