"""A trained network on disk: ``network.yaml`` (layers, model files, steps) + ``network.npz``.

The weights are the inference weights (BatchNorm folded into weight and bias) and the neuron
parameters are effective per-neuron values, so the files are all a Brian2 re-simulation needs.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import yaml

from brainsnn.core.errors import BrainsnnError, DataError
from brainsnn.gradient.network import GradientStack
from brainsnn.gradient.protocol import GradientNetwork, GradientProtocol

NETWORK_YAML = "network.yaml"
NETWORK_NPZ = "network.npz"


def save_network(
    directory: Path,
    protocol: GradientProtocol,
    stack: GradientStack,
    exported: list[dict],
    steps: int,
) -> None:
    """Write network.yaml and network.npz into a run directory (atomically)."""
    description = {
        "inputs": stack.inputs,
        "steps": steps,
        "dt_s": protocol.data.dt,
        "network": protocol.network.model_dump(),
    }
    arrays = {}
    for index, layer in enumerate(exported):
        arrays[f"layer{index}/weight"] = layer["weight"]
        arrays[f"layer{index}/bias"] = layer["bias"]
        for name, value in layer["parameters"].items():
            arrays[f"layer{index}/parameter/{name}"] = value
    handle, temporary = tempfile.mkstemp(dir=directory, suffix=".tmp.npz")
    os.close(handle)
    try:
        np.savez(temporary, **arrays)
        os.replace(temporary, directory / NETWORK_NPZ)
        (directory / NETWORK_YAML).write_text(yaml.safe_dump(description, sort_keys=False))
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise BrainsnnError(f"could not write the trained network to {directory}: {exc}") from None


def load_network(directory: str | Path) -> tuple[GradientStack, list[dict], dict]:
    """(stack, exported layers, description) of a run directory written by save_network."""
    directory = Path(directory)
    if not (directory / NETWORK_YAML).is_file() or not (directory / NETWORK_NPZ).is_file():
        raise DataError(
            f"{directory} holds no trained network ({NETWORK_YAML} and {NETWORK_NPZ}); run a "
            "kind: gradient protocol first"
        )
    description = yaml.safe_load((directory / NETWORK_YAML).read_text())
    stack = GradientStack(
        GradientNetwork.model_validate(description["network"]), description["inputs"]
    )
    exported = []
    with np.load(directory / NETWORK_NPZ) as stored:
        for index in range(len(stack.layers)):
            prefix = f"layer{index}/parameter/"
            exported.append(
                {
                    "weight": stored[f"layer{index}/weight"],
                    "bias": stored[f"layer{index}/bias"],
                    "parameters": {
                        key[len(prefix) :]: stored[key]
                        for key in stored.files
                        if key.startswith(prefix)
                    },
                }
            )
    return stack, exported, description
