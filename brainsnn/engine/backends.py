"""Run one chunk of samples on a Brian2 device, handing state in and out between chunks.

``runtime`` rebuilds the (uncompiled) network for every chunk; ``cpp_standalone`` and
``cuda_standalone`` compile once per layout and feed each chunk through
``device.run(run_args=...)``.
Either way a chunk starts at t = 0 with the state handed in, so all devices share one code path.
"""

from __future__ import annotations

import atexit
import gc
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import brian2 as b2
import numpy as np
from brian2.utils.filelock import FileLock

from brainsnn.engine.layout import ReadoutLayout
from brainsnn.engine.network import ReadoutNetwork, build_network
from brainsnn.engine.traces import TraceRecord, read_trace, trace_assignments
from brainsnn.errors import BrainsnnError
from brainsnn.modellib import NEURON_ROLES, ComposedGroup

DEVICES = {
    "runtime": "runtime",
    "cpp": "cpp_standalone",
    "cpp_standalone": "cpp_standalone",
    "cuda": "cuda_standalone",
    "cuda_standalone": "cuda_standalone",
}


@dataclass
class ChunkInput:
    """One chunk of samples: input spike steps (n, D) (n_input_steps = silent) and labels (n,).

    Padding samples (to fill the fixed chunk size) have label -1 and never learn.
    """

    input_steps: np.ndarray
    labels: np.ndarray
    n_valid: int
    masks: np.ndarray | None = None  # (n, N) per-sample output masks, e.g. dropout (None: zeros)


@dataclass
class ChunkResult:
    """Per-sample records of the valid samples of a chunk, and the state after it."""

    prediction: np.ndarray  # (n,) predicted class
    first_spike_time: np.ndarray | None  # (n, N) units of T, 1 = silent
    potential: np.ndarray | None  # (n, N) at firing time, or final if silent
    state: dict[str, np.ndarray]
    trace: TraceRecord | None = None  # traced neurons, every step of the first samples
    winner: np.ndarray | None = None  # (n,) index of the deciding output neuron, if recorded


def per_sample(
    monitor: b2.EventMonitor, variable: str, layout: ReadoutLayout, n_valid: int, width: int
) -> np.ndarray:
    """Reshape an EventMonitor's records into (n_valid, width), ordered by sample then neuron."""
    steps = np.round(np.asarray(monitor.t_[:]) / float(monitor.clock.dt_)).astype(np.int64)
    sample = steps // layout.steps_per_sample
    neuron = np.asarray(monitor.i[:])
    values = np.asarray(getattr(monitor, variable)[:], dtype=float)
    order = np.lexsort((neuron, sample))
    table = values[order].reshape(-1, width)
    if table.shape[0] < n_valid:
        raise BrainsnnError(f"internal error: {table.shape[0]} records for {n_valid} samples")
    return table[:n_valid]


class BuiltNetwork(Protocol):
    """What a network builder returns: Brian2 objects plus how long one chunk runs."""

    network: b2.Network
    namespace: dict[str, object]
    duration: b2.Quantity
    seed_variable: tuple[b2.Group, str] | None  # state variable that seeds the RNG, if random


#: Builds the Brian2 objects of a network on the selected device.
Builder = Callable[[], BuiltNetwork]
#: What a chunk hands to a built network: TimedArray values and (group, variable, value).
ChunkValues = tuple[dict[b2.TimedArray, np.ndarray], list[tuple[b2.Group, str, object]]]
Filler = Callable[[BuiltNetwork], ChunkValues]


class DeviceRunner:
    """Simulates one chunk of a network on one Brian2 device; the network family fills it."""

    name = "base"

    def run(self, fill: Filler, seed: int | None = None) -> BuiltNetwork:
        """Build (or reuse), hand in the chunk's values, run; returns the net to read from.

        ``seed`` seeds Brian2's random numbers for this chunk (networks with ``seed_variable``).
        """
        raise NotImplementedError


class RuntimeRunner(DeviceRunner):
    """Brian2 runtime mode (NumPy code generation), rebuilt for every chunk."""

    name = "runtime"

    def __init__(self, build: Builder) -> None:
        self.build = build

    def run(self, fill: Filler, seed: int | None = None) -> BuiltNetwork:
        b2.set_device("runtime")
        b2.prefs.codegen.target = "numpy"
        net = self.build()
        arrays, values = fill(net)
        for timed_array, array in arrays.items():
            timed_array.values[:] = array
        for group, name, value in values:
            setattr(group, name, value)
        if seed is not None:
            b2.seed(seed)
        net.network.run(net.duration, namespace=net.namespace)
        return net


class StandaloneRunner(DeviceRunner):
    """Compiled C++ (or CUDA) build, reused for every chunk through ``run_args``."""

    def __init__(
        self, build: Builder, device: str, build_root: Path, key: str, threads: int = 0
    ) -> None:
        self.build = build
        self.name = device
        self.threads = threads
        self.directory = Path(build_root) / f"{device}-{key}"
        self._set_up()

    def _set_up(self) -> None:
        """Generate the project, compile it (make only recompiles what changed), copy it.

        Brian2 holds one standalone project per process: a runner whose project was replaced
        by another's sets itself up again (cheap when its build directory is up to date). Builds
        are shared between processes: generating, compiling and copying hold a lock on the build,
        because Brian2 rewrites a build's static arrays even when it is up to date.
        """
        self.directory.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.directory.parent / f".{self.directory.name}.lock")):
            self._generate_and_compile()
            self.run_dir = private_run_directory(self.directory)

    def _generate_and_compile(self) -> None:
        self.net = None  # free this runner's old objects: regenerated code keeps the same names
        gc.collect()
        select_device(self.name, self.directory, self.threads)
        self.net = self.build()
        self.device = b2.get_device()
        if self.net.seed_variable is not None:
            self.device.apply_run_args()
            reseed = self._reseed_code(*self.net.seed_variable)
            if reseed:
                self.device.insert_code("main", reseed)
        self.net.network.run(self.net.duration, namespace=self.net.namespace)
        try:
            if self.name == "cuda_standalone":
                compile_cuda_with_cpp17(self.device, self.directory)
            else:
                self.device.build(directory=str(self.directory), compile=True, run=False)
        except Exception as exc:  # compiler missing or failed: say so in one line
            first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise BrainsnnError(
                f"building the {self.name} project in {self.directory} failed: {first_line}"
                " (run 'brainsnn doctor' to check the compiler)"
            ) from exc
        _ACTIVE["owner"] = self

    def _reseed_code(self, group: b2.Group, variable: str) -> str:
        """C++ that seeds every RNG from a state variable set by run_args (after they apply).

        Without it, a standalone binary seeded with seed() replays the same random numbers in
        every run, and one left unseeded is not reproducible. brian2cuda draws with cuRAND,
        which this does not reach: on CUDA every chunk gets fresh random numbers.
        """
        if self.name == "cuda_standalone":
            return ""
        array = self.device.get_array_name(group.variables[variable])
        threads = max(self.threads, 1)
        return (
            f"for (int _i=0; _i<{threads}; _i++)\n"
            f"    brian::_random_generators[_i].seed((unsigned long) brian::{array}[0] + _i);"
        )

    def run(self, fill: Filler, seed: int | None = None) -> BuiltNetwork:
        if _ACTIVE.get("owner") is not self:
            self._set_up()
        net = self.net
        arrays, values = fill(net)
        run_args: dict = {ta: np.asarray(a, dtype=np.float64) for ta, a in arrays.items()}
        run_args.update({getattr(group, name): value for group, name, value in values})
        if net.seed_variable is not None and seed is not None:
            group, variable = net.seed_variable
            run_args[getattr(group, variable)] = float(seed)
        self.device.project_dir = str(self.run_dir)  # run_args files go to the private copy
        try:
            self.device.run(
                directory=str(self.run_dir),
                results_directory="results",
                run_args=run_args,
                with_output=False,
            )
            check_binary_output(self.run_dir / "results" / "stdout.txt")
        finally:
            self._delete_run_arg_files()
        return net

    def _delete_run_arg_files(self) -> None:
        static = self.run_dir / "static_arrays"
        for name in getattr(self.device, "run_args_arrays", []):
            for path in (static / name, static / f"{name}.lock"):
                path.unlink(missing_ok=True)


def make_runner(
    device: str, build: Builder, build_root: Path, key: str, threads: int = 0
) -> DeviceRunner:
    """The runner for a device name ('runtime', 'cpp', 'cuda' or Brian2's full names)."""
    if device not in DEVICES:
        raise BrainsnnError(f"unknown device '{device}': choose one of runtime, cpp, cuda")
    full = DEVICES[device]
    if full == "runtime":
        return RuntimeRunner(build)
    return StandaloneRunner(build, full, build_root, key, threads)


class Backend:
    """A readout network on one device: puts a chunk's values in, reads records and state back."""

    def __init__(
        self, layout: ReadoutLayout, composed: dict[str, ComposedGroup], runner: DeviceRunner
    ) -> None:
        self.layout = layout
        self.composed = composed
        self.runner = runner

    @property
    def name(self) -> str:
        """Brian2 device name."""
        return self.runner.name

    def state_variables(self, net: ReadoutNetwork) -> list[tuple[str, str]]:
        """(role, variable) of every persistent state variable."""
        return [(role, name) for name, role in net.persistent_owner.items()]

    def _read(
        self, net: ReadoutNetwork, chunk: ChunkInput, record_outputs: bool, traced: bool
    ) -> ChunkResult:
        layout = self.layout
        layer_records = net.monitors["layer"]
        prediction = per_sample(layer_records, "prediction", layout, chunk.n_valid, 1)[:, 0]
        winner = None
        if "winner" in layer_records.record_variables:
            winner = per_sample(layer_records, "winner", layout, chunk.n_valid, 1)[:, 0]
        tspike = potential = None
        if record_outputs:
            mon = net.monitors["outputs"]
            tspike = per_sample(mon, "tspike", layout, chunk.n_valid, layout.n_outputs)
            potential = per_sample(mon, "v", layout, chunk.n_valid, layout.n_outputs)
        state = {
            name: np.array(getattr(net.groups[role], name)[:])
            for role, name in self.state_variables(net)
        }
        trace = None
        if traced:
            variables = layout.trace_variables
            trace = read_trace(
                net.monitors["trace"], net.groups["outputs"], variables, "sample_index"
            )
        return ChunkResult(
            prediction.astype(np.int64),
            tspike,
            potential,
            state,
            trace,
            None if winner is None else winner.astype(np.int64),
        )

    def chunk_values(
        self,
        net: ReadoutNetwork,
        chunk: ChunkInput,
        state: dict[str, np.ndarray],
        parameters: dict[str, float],
        learning: bool,
        record_outputs: bool,
        trace: tuple[list[int], int] | None = None,
    ) -> ChunkValues:
        """What a chunk hands to the network: TimedArray values and (group, variable, value).

        ``trace`` = (neurons, n_samples): record the layout's trace variables of these output
        neurons for the chunk's first n_samples samples (layouts with trace variables only).
        """
        arrays = {net.input_steps: chunk.input_steps, net.sample_labels: chunk.labels}
        if chunk.masks is not None:
            arrays[net.sample_masks] = chunk.masks
        groups = net.groups
        values: list[tuple[b2.Group, str, object]] = [
            (groups[net.parameter_owner[name]], name, float(value))
            for name, value in parameters.items()
        ]
        values += [
            (groups[role], name, np.asarray(state[name], dtype=np.float64))
            for role, name in self.state_variables(net)
        ]
        values += [
            (groups[role], "learning", float(learning)) for role in NEURON_ROLES if role in groups
        ]
        values.append((groups["outputs"], "record_outputs", float(record_outputs)))
        if self.layout.trace_variables:
            neurons, samples = trace or ([], 0)
            samples = min(samples, chunk.n_valid)
            values += trace_assignments(groups["outputs"], self.layout.n_outputs, neurons, samples)
        return arrays, values

    def run_chunk(
        self,
        chunk: ChunkInput,
        state: dict[str, np.ndarray],
        parameters: dict[str, float],
        learning: bool,
        record_outputs: bool,
        trace: tuple[list[int], int] | None = None,
    ) -> ChunkResult:
        """Simulate one chunk and return its records and the final state (see chunk_values)."""
        net = self.runner.run(
            lambda net: self.chunk_values(
                net, chunk, state, parameters, learning, record_outputs, trace
            )
        )
        return self._read(net, chunk, record_outputs, bool(trace and trace[0]))


class RuntimeBackend(Backend):
    """Brian2 runtime mode (NumPy code generation): for debugging and cross-device checks."""

    def __init__(self, layout: ReadoutLayout, composed: dict[str, ComposedGroup]) -> None:
        super().__init__(layout, composed, RuntimeRunner(lambda: build_network(layout, composed)))


class StandaloneBackend(Backend):
    """Compiled C++ (or CUDA) build, reused for every chunk through ``run_args``."""

    def __init__(
        self,
        layout: ReadoutLayout,
        composed: dict[str, ComposedGroup],
        device: str,
        build_root: Path,
        threads: int = 0,
    ) -> None:
        runner = StandaloneRunner(
            lambda: build_network(layout, composed), device, build_root, layout.key(), threads
        )
        super().__init__(layout, composed, runner)

    @property
    def directory(self) -> Path:
        """The cached build directory."""
        return self.runner.directory


def private_run_directory(build: Path) -> Path:
    """A copy of the compiled binary and its static arrays for this process alone.

    Several processes may share one cached build (a sweep, a benchmark next to a run): each
    runs the binary in its own directory, so its run_args files and results never mix with
    another's. The copy is removed at exit; copies left by killed processes are pruned here.
    """
    runs = build / "runs"
    runs.mkdir(exist_ok=True)
    for stale in runs.iterdir():
        if time.time() - stale.stat().st_mtime > STALE_RUN_SECONDS:
            shutil.rmtree(stale, ignore_errors=True)
    private = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=runs))
    shutil.copy2(build / "main", private / "main")
    shutil.copytree(build / "static_arrays", private / "static_arrays")
    atexit.register(shutil.rmtree, private, ignore_errors=True)
    _RUN_COPIES.append(private)
    return private


def private_run_copies() -> list[Path]:
    """The private run directories this process made (to remove them if it is killed)."""
    return list(_RUN_COPIES)


def check_binary_output(stdout: Path) -> None:
    """The compiled program reports unreadable inputs on stdout but exits 0: make it an error."""
    text = stdout.read_text(errors="replace") if stdout.exists() else ""
    problems = [line for line in text.splitlines() if line.startswith("Error")]
    if problems:
        raise BrainsnnError(f"the compiled simulation failed: {problems[0]}")


_ACTIVE: dict[str, object] = {}
_RUN_COPIES: list[Path] = []
STALE_RUN_SECONDS = 24 * 3600


def select_device(device: str, directory: Path, threads: int = 0) -> None:
    """Reset Brian2's standalone state and select a standalone device building in ``directory``."""
    if _ACTIVE.get("owner") is not None:
        previous = _ACTIVE.pop("owner")
        previous.device.reinit()
        previous.net = None  # free the object names, so the regenerated code is identical
        gc.collect()
    require_device(device)
    directory.mkdir(parents=True, exist_ok=True)
    b2.set_device(device, directory=str(directory), build_on_run=False)
    b2.prefs.devices.cpp_standalone.openmp_threads = threads
    b2.prefs.codegen.cpp.extra_compile_args_gcc = ["-w", "-O3", "-march=native", "-std=c++17"]


def compile_cuda_with_cpp17(device: object, directory: Path) -> None:
    """Generate the brian2cuda project, switch its makefile to C++17, then compile.

    brian2cuda 1.0b1's makefile template hard-codes ``-std=c++11``, which CUDA 13 rejects.
    """
    from brian2.codegen.cpp_prefs import get_compiler_and_args

    device.build(directory=str(directory), compile=False, run=False)
    for makefile in directory.glob("[Mm]akefile*"):
        makefile.write_text(re.sub(r"-std=c\+\+11\b", "-std=c++17", makefile.read_text()))
    compiler, _ = get_compiler_and_args()
    device.compile_source(str(directory), compiler, False, False)


def require_device(device: str) -> None:
    """Fail early, in one line, if a device cannot be used here."""
    if DEVICES.get(device, device) == "cuda_standalone":
        try:
            import brian2cuda  # noqa: F401  (registers the device)
        except ImportError:
            raise BrainsnnError(
                "device 'cuda' needs brian2cuda: pip install 'brainsnn[cuda]'"
            ) from None


def make_backend(
    device: str,
    layout: ReadoutLayout,
    composed: dict[str, ComposedGroup],
    build_root: Path,
    threads: int = 0,
) -> Backend:
    """The backend for a device name ('runtime', 'cpp', 'cuda' or Brian2's full names)."""
    if device not in DEVICES:
        raise BrainsnnError(f"unknown device '{device}': choose one of runtime, cpp, cuda")
    full = DEVICES[device]
    if full == "runtime":
        return RuntimeBackend(layout, composed)
    return StandaloneBackend(layout, composed, full, build_root, threads)


def default_build_root() -> Path:
    """Where compiled builds are cached (``$BRAINSNN_CACHE`` or ``~/.cache/brainsnn``)."""
    root = os.environ.get("BRAINSNN_CACHE") or Path.home() / ".cache" / "brainsnn"
    return Path(root) / "builds"


def clear_build_cache(root: Path | None = None) -> None:
    """Delete every cached build."""
    shutil.rmtree(root or default_build_root(), ignore_errors=True)
