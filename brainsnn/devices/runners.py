"""Run one chunk of a network on a Brian2 device, handing values in and out between chunks.

``runtime`` rebuilds the (uncompiled) network for every chunk; standalone devices
(``cpp_standalone``, ``cuda_standalone``) compile once per build key and feed each chunk through
``device.run(run_args=...)``. Either way a chunk starts at t = 0 with the values handed in, so
every kind and device shares one code path. The network family (a kind's engine) says what to
build and what to hand in; this module only runs it.
"""

from __future__ import annotations

import atexit
import gc
import json
import logging
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import brian2 as b2
import numpy as np
from brian2.utils.filelock import FileLock

from brainsnn.core.errors import BrainsnnError, ConfigError
from brainsnn.devices.profiling import add_chunk_profile, profiling_enabled, read_standalone_profile
from brainsnn.devices.registry import get_device, require_device
from brainsnn.devices.run_arg_files import numbered_run_arg_files


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


@contextmanager
def model_code_errors(where: str) -> Iterator[None]:
    """Brian2's errors while building or generating a network (the model files' code: parse,
    unit and name errors) as one-line ConfigErrors naming ``where``."""
    try:
        yield
    except BrainsnnError:
        raise
    except Exception as exc:
        original = exc
        while getattr(original, "__cause__", None) is not None:
            original = original.__cause__
        text = " ".join(f"{type(original).__name__}: {original}".split())
        message = text[:300] + ("..." if len(text) > 300 else "")
        raise ConfigError(f"{where}: Brian2 rejects the model code: {message}") from None


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
        with model_code_errors("the network"):
            net = self.build()
        arrays, values = fill(net)
        for timed_array, array in arrays.items():
            timed_array.values[:] = array
        for group, name, value in values:
            setattr(group, name, value)
        if seed is not None:
            b2.seed(seed)
        profile = profiling_enabled()
        with model_code_errors("the network"):
            net.network.run(net.duration, namespace=net.namespace, profile=profile)
        if profile:
            add_chunk_profile((name, float(time)) for name, time in net.network.profiling_info)
        return net


class StandaloneRunner(DeviceRunner):
    """Compiled C++ (or CUDA) build, reused for every chunk through ``run_args``."""

    def __init__(
        self, build: Builder, device: str, build_root: Path, key: str, threads: int = 0
    ) -> None:
        self.build = build
        self.name = device
        self.threads = threads
        self.profile = profiling_enabled()  # a profiled build lives apart from the plain one
        self.directory = Path(build_root) / f"{device}-{key}{'-profiled' if self.profile else ''}"
        if not self._adopt_active():
            self._set_up()

    def _adopt_active(self) -> bool:
        """Take over the loaded project of the active runner when it is this one's build (a
        later run of a sweep batch, or of a test session, with the same layout): no code is
        generated again. True if it did."""
        owner = _ACTIVE.get("owner")
        same = (
            isinstance(owner, StandaloneRunner)
            and owner is not self
            and owner.directory == self.directory
            and owner.threads == self.threads
            and owner.net is not None
            and owner.run_dir.is_dir()
            and build_is_complete(self.directory)
        )
        if not same:
            return False
        self.net, self.device, self.run_dir = owner.net, owner.device, owner.run_dir
        owner.net = None  # it sets itself up again if it is used later
        _ACTIVE["owner"] = self
        return True

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
        discard_broken_build(self.directory)
        (self.directory / BUILD_MARKER).unlink(missing_ok=True)  # until this compile completes
        select_device(self.name, self.directory, self.threads)
        with model_code_errors("the network"):
            self.net = self.build()
            self.device = b2.get_device()
            if self.net.seed_variable is not None:
                self.device.apply_run_args()
                reseed = self._reseed_code(*self.net.seed_variable)
                if reseed:
                    self.device.insert_code("main", reseed)
            self.net.network.run(
                self.net.duration, namespace=self.net.namespace, profile=self.profile
            )
        try:
            compile_project = get_device(self.name).compile
            if compile_project is not None:
                compile_project(self.device, self.directory)
            else:
                self.device.build(directory=str(self.directory), compile=True, run=False)
        except Exception as exc:  # compiler missing or failed: say so in one line
            raise BrainsnnError(
                f"building the {self.name} project in {self.directory} failed: "
                f"{first_line(exc)}"
                " (run 'brainsnn doctor' to check the compiler)"
            ) from exc
        mark_build_complete(self.directory)
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
        stdout = self.run_dir / "results" / "stdout.txt"
        try:
            with numbered_run_arg_files():  # private run directory, files deleted after the run
                self.device.run(
                    directory=str(self.run_dir),
                    results_directory="results",
                    run_args=run_args,
                    with_output=False,
                )
        except RuntimeError as exc:  # the binary died or exited non-zero
            raise BrainsnnError(
                f"the compiled simulation in {self.run_dir} failed: {first_line(exc)}"
                f"{last_lines(stdout)}"
            ) from None
        finally:
            self._delete_run_arg_files()
        check_binary_output(stdout)
        if self.profile:
            add_chunk_profile(read_standalone_profile(self.run_dir / "results"))
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
    chosen = get_device(device)
    if not chosen.standalone:
        return RuntimeRunner(build)
    return StandaloneRunner(build, chosen.brian2_name, build_root, key, threads)


def private_run_directory(build: Path) -> Path:
    """A copy of the compiled binary and its static arrays for this process alone.

    Several processes may share one cached build (a sweep, a benchmark next to a run): each
    runs the binary in its own directory, so its run_args files and results never mix with
    another's. The copy is removed at exit; copies left by killed processes are pruned here.
    """
    runs = build / "runs"
    runs.mkdir(exist_ok=True)
    for stale in runs.iterdir():
        if _is_stale_copy(stale):
            shutil.rmtree(stale, ignore_errors=True)
    prefix = f"{socket.gethostname()}-{os.getpid()}-"
    private = Path(tempfile.mkdtemp(prefix=prefix, dir=runs))
    shutil.copy2(build / "main", private / "main")
    shutil.copytree(build / "static_arrays", private / "static_arrays")
    atexit.register(shutil.rmtree, private, ignore_errors=True)
    _RUN_COPIES.append(private)
    return private


def _is_stale_copy(copy: Path) -> bool:
    """A private copy of a process of this host that has ended, or one untouched for a day."""
    host, _, rest = copy.name.rpartition("-")[0].rpartition("-")
    try:
        if host == socket.gethostname() and not _alive(int(rest)):
            return True
        return time.time() - copy.stat().st_mtime > STALE_RUN_SECONDS
    except (ValueError, OSError):
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def mark_build_complete(build: Path) -> None:
    """Record that the build's binary is complete (its size and modification time)."""
    binary = build / "main"
    stat = binary.stat()
    (build / BUILD_MARKER).write_text(json.dumps([stat.st_size, stat.st_mtime_ns]))


def build_is_complete(build: Path) -> bool:
    """Whether the build holds the binary its last completed compile left."""
    try:
        size, mtime = json.loads((build / BUILD_MARKER).read_text())
        stat = (build / "main").stat()
    except (OSError, ValueError, TypeError):
        return False
    return stat.st_size == size > 0 and stat.st_mtime_ns == mtime


def discard_broken_build(build: Path) -> None:
    """Delete a build whose last compile did not complete (killed, full disk): one warning."""
    if build.exists() and (build / "main").exists() and not build_is_complete(build):
        log.warning("the cached build %s is incomplete (interrupted compile); rebuilding", build)
        shutil.rmtree(build, ignore_errors=True)


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type if it has none)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def last_lines(path: Path, count: int = 3) -> str:
    """``; last output: ...`` with the last lines of a file, or nothing."""
    try:
        lines = [line.strip() for line in path.read_text(errors="replace").splitlines()]
    except OSError:
        return ""
    lines = [line for line in lines if line][-count:]
    return f"; last output: {' | '.join(lines)}" if lines else ""


def private_run_copies() -> list[Path]:
    """The private run directories this process made (to remove them if it is killed)."""
    return list(_RUN_COPIES)


def check_binary_output(stdout: Path) -> None:
    """The compiled program reports unreadable inputs on stdout but exits 0: make it an error."""
    text = stdout.read_text(errors="replace") if stdout.exists() else ""
    problems = [line for line in text.splitlines() if line.startswith("Error")]
    if problems:
        raise BrainsnnError(f"the compiled simulation failed: {problems[0]}")


#: File in a build directory written after a completed compile (size, mtime of ``main``).
BUILD_MARKER = ".brainsnn-complete"
log = logging.getLogger("brainsnn")
_ACTIVE: dict[str, object] = {}
_RUN_COPIES: list[Path] = []
STALE_RUN_SECONDS = 24 * 3600


def select_device(device: str, directory: Path, threads: int = 0) -> None:
    """Reset Brian2's standalone state and select a standalone device building in ``directory``."""
    reinitialised = _ACTIVE.get("owner") is not None
    if reinitialised:
        previous = _ACTIVE.pop("owner")
        previous.device.reinit()
        previous.net = None  # free the object names, so the regenerated code is identical
        gc.collect()
    require_device(device)
    directory.mkdir(parents=True, exist_ok=True)
    b2.set_device(device, directory=str(directory), build_on_run=False)
    if reinitialised:
        # A fresh process's main() sets the default clock's dt once more than a reinitialised
        # device's (Brian2 asks to set it again after reinit): without this line, a build made
        # by one and then used by the other recompiles main.cpp each time.
        b2.defaultclock.dt = b2.defaultclock.dt
    b2.prefs.devices.cpp_standalone.openmp_threads = threads
    b2.prefs.codegen.cpp.extra_compile_args_gcc = ["-w", "-O3", "-march=native", "-std=c++17"]
