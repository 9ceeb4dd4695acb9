"""The ``device:`` section every protocol kind shares."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from brainsnn.core.protocol import Section
from brainsnn.devices.registry import describe_devices, device_names

DeviceName = Literal[device_names()]  # the registered devices' short names


class DeviceSection(Section):
    """Where the network runs."""

    name: DeviceName = Field("cpp", description=describe_devices())
    threads: int = Field(0, ge=0, description="OpenMP threads for cpp (0 = single thread)")
    build_dir: str | None = Field(
        None,
        description="build cache (default $BRAINSNN_CACHE/builds, else ~/.cache/brainsnn/builds)",
    )
