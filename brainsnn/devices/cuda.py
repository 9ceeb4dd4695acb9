"""brian2cuda's ``cuda_standalone``: registered here, usable where brian2cuda is installed."""

from __future__ import annotations

import re
from pathlib import Path

from brainsnn.core.errors import BrainsnnError
from brainsnn.devices.registry import Device, register_device, tool_version


def check_brian2cuda() -> None:
    """Fail early, in one line, if brian2cuda (which registers the Brian2 device) is missing."""
    try:
        import brian2cuda  # noqa: F401  (registers the device)
    except ImportError:
        raise BrainsnnError(
            "device 'cuda' needs brian2cuda: pip install 'brainsnn[cuda]'"
        ) from None


def compile_cuda_with_cpp17(device: object, directory: Path) -> None:
    """Generate the brian2cuda project, switch its makefile to C++17, then compile.

    brian2cuda 1.0b1's makefile template hard-codes ``-std=c++11``, which CUDA 13 rejects.
    """
    from brian2.codegen.cpp_prefs import get_compiler_and_args

    device.build(directory=str(directory), compile=False, run=False)
    for makefile in Path(directory).glob("[Mm]akefile*"):
        makefile.write_text(re.sub(r"-std=c\+\+11\b", "-std=c++17", makefile.read_text()))
    compiler, _ = get_compiler_and_args()
    device.compile_source(str(directory), compiler, False, False)


def cuda_report() -> list[tuple[str, str]]:
    """nvcc, the GPU and brian2cuda, for ``brainsnn doctor``."""
    nvcc = tool_version(["nvcc", "--version"])
    gpu = tool_version(["nvidia-smi", "-L"])
    try:
        import brian2cuda

        package = brian2cuda.__version__
    except ImportError:
        package = "not installed (pip install 'brainsnn[cuda]')"
    return [
        ("nvcc", nvcc if nvcc != "not found" else "not found (device cuda unavailable)"),
        ("gpu", gpu if gpu != "not found" else "none found"),
        ("brian2cuda", package),
    ]


register_device(
    Device(
        "cuda",
        "cuda_standalone",
        "cuda (brian2cuda, needs a GPU and 'pip install brainsnn[cuda]')",
        True,
        check=check_brian2cuda,
        compile=compile_cuda_with_cpp17,
        report=cuda_report,
    )
)
