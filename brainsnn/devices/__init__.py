"""The device registry: the only place that knows which Brian2 devices brainsnn can run on.

A device is registered once with its short name (used in protocols and on the command line),
Brian2's name for it, a description, and how to check that it can be used here. ``runtime`` and
``cpp`` are built in; ``cuda`` registers itself from :mod:`brainsnn.devices.cuda` (it needs
brian2cuda only when used). A new device is one module here that calls
:func:`register_device`, and one import line below.
"""

# Devices beyond the built-in ones register themselves when imported:
from brainsnn.devices import cuda  # noqa: F401
from brainsnn.devices.registry import (
    Device,
    describe_devices,
    device_names,
    device_report,
    get_device,
    register_device,
    require_device,
)

__all__ = [
    "Device",
    "describe_devices",
    "device_names",
    "device_report",
    "get_device",
    "register_device",
    "require_device",
]
