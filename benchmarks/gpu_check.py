"""GPU check: tiny cross-device agreement (runtime, cpp, cuda) and cuda-against-cpp timings.

Meant for a GPU machine (one H200, 16 cores) in at most 8 minutes, normally started through
``benchmarks/gpu_check.sh`` (which installs ``.[cuda]`` first). Parts, in this order:

1. agreement, each on runtime, cpp and cuda (child processes; the same seeds and data): the
   readout (``protocols/ncg_digits.yaml``, 100 training digits, 2 epochs), the unsupervised engine
   (``protocols/wta_stdp_digits.yaml``, 24 training digits, deterministic periodic inputs: Diehl &
   Cook's Poisson inputs draw each device's own random numbers, so they agree only statistically)
   and the gradient re-simulation (the AdLIF + BatchNorm -> CuLIF network of
   ``tests/test_gradient_resimulate.py``, 10 samples of 20 steps, needs JAX). cpp and cuda are
   compared with runtime: decisions and spikes (counts, first-spike times) equal, weights,
   thresholds and membranes within 1e-6;
2. batched k-fold timings (``brainsnn kfold --batch B``, B = 10, 100, 1000) on cpp and cuda, if
   ``brainsnn kfold`` has ``--batch`` (issue 14 item 1), else one skip line per B;
3. batched evaluation timings (``training.evaluation_lanes`` = 1 and 64) on cpp and cuda: one
   epoch of ``protocols/ncg_digits.yaml`` on 200 training digits; validation + test samples/s
   (the epoch's wall time less its training time, from results.nc; compilation excluded, the
   switches between the training and the evaluation build included: about 0.5 s each on cpp);
4. Diehl & Cook timings, N_e = 400 and 1600, on cpp and cuda: training examples/s from
   results.nc (compilation excluded), on Fashion-MNIST (``protocols/diehl_cook_fmnist.yaml``)
   where its Debian files are installed, else on digits (``protocols/diehl_cook_digits.yaml``);
5. SPSN against LIF (issue 18 item 6; the SPSN paper's headline, 46x per epoch on its GPU):
   forward + backward of one hidden layer of 128 neurons, batch 64, 1,400 steps
   (``benchmarks/neuron_layer_speed.py``) on JAX's cpu and cuda platforms, LIF's time over each
   parallel neuron's. The cuda platform needs JAX's GPU build (``pip install 'jax[cuda12]'``).

Without CUDA (``nvcc`` on PATH and brian2cuda importable; for part 5, JAX with a GPU backend)
every cuda run prints one line saying why it was skipped. A failing part is recorded (status
"failed" and a one-line reason) and the check goes on; no part starts after ``--budget-s``
(7.5 min) from ``--started``, and commands still running at ``--limit-s`` (8 min) are stopped.
Writes OUT_DIR/gpu_check.json, OUT_DIR/gpu_check.md, run directories under OUT_DIR/runs and
logs under OUT_DIR/logs. Exit code 1 if an agreement check that ran failed, else 0.

Usage (from the repository root)::

    python benchmarks/gpu_check.py OUT_DIR [--started EPOCH_SECONDS] [--jobs N]
        [--budget-s 450] [--limit-s 480] [--dc-examples 40]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import partial
from importlib.util import find_spec
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PROTOCOLS = ROOT / "protocols"
FMNIST_FILES = Path("/usr/share/datasets/fashion-mnist")
TOLERANCE = 1e-6  # weights, thresholds and membranes, cpp / cuda against runtime
KFOLD_BATCHES = (10, 100, 1000)
DC_OUTPUTS = (400, 1600)
EVALUATION_LANES = (1, 64)
NO_BATCH = "brainsnn kfold has no --batch yet (issue 14 item 1)"
NO_CUDA = "no CUDA here"
#: part 5: benchmarks/neuron_layer_speed.py's arguments, and JAX's platforms (JAX_PLATFORMS)
SPSN_LAYER_ARGS = ["--batch", "64", "--steps", "1400", "--neurons", "128", "--repeats", "3"]
JAX_PLATFORMS = ("cpu", "cuda")

READOUT_TINY = [
    "data.train_subset=100",
    "data.test_subset=40",
    "training.chunk_size=50",
    "training.max_epochs=2",
    "training.patience=0",
    "recording.traces=null",
]
UNSUPERVISED_TINY = [
    "data.train_subset=24",
    "data.test_subset=12",
    "training.chunk_size=12",
    "training.epochs=1",
    "recording.traces=null",
]
KFOLD_TINY = ["training.max_epochs=1", "training.patience=0", "data.train_subset=200"]
LANES_TINY = [*KFOLD_TINY, "recording.traces=null"]
LANES_VALIDATION_SAMPLES = 20  # validation_fraction 0.1 of the 200 training digits

#: results compared exactly (decisions, spikes) or within TOLERANCE (weights), by name
CRITERIA = {
    "decisions": ("prediction", "assignment", "accuracy"),
    "spikes": ("count", "wins", "spike", "retries"),
    "weights": ("weight", "threshold", "membrane", "potential"),
}
TIMING_WORDS = ("wall_time", "per_second")


class CheckError(Exception):
    """A part's run failed; the message is its one-line reason."""


@dataclass
class Part:
    """One part of the check and what came of it."""

    name: str
    kind: str  # "agreement" or "timing"
    status: str = "pending"  # passed, failed (agreement); done, failed (timing); skipped
    reason: str = ""
    seconds: float = 0.0
    details: dict = field(default_factory=dict)


@dataclass
class Clock:
    """Seconds since the check started; the start budget and the hard limit."""

    started: float
    budget_s: float
    limit_s: float

    def elapsed(self) -> float:
        return time.time() - self.started

    def over_budget(self) -> bool:
        return self.elapsed() > self.budget_s

    def timeout(self) -> float:
        return max(1.0, self.limit_s - self.elapsed())

    def say(self, text: str) -> None:
        print(f"[{self.elapsed():6.1f} s] {text}", flush=True)


# --------------------------------------------------------------------------------------------
# environment


def cuda_availability() -> tuple[bool, str]:
    """Whether device cuda can run here (nvcc on PATH and brian2cuda importable), and why not."""
    if shutil.which("nvcc") is None:
        return False, "nvcc is not on PATH"
    try:
        from brainsnn.devices.cuda import check_brian2cuda

        check_brian2cuda()
    except Exception as error:  # BrainsnnError, or brian2cuda failing on import
        return False, one_line(str(error)) or type(error).__name__
    return True, "nvcc and brian2cuda found"


def environment() -> dict[str, str]:
    """Python, CPUs and what ``brainsnn doctor`` says about the cuda device."""
    from brainsnn.devices.cuda import cuda_report

    found = {"python": platform.python_version(), "cpus": str(os.cpu_count())}
    found.update(cuda_report())
    if shutil.which("nvcc"):  # its release line rather than its first ("nvcc: NVIDIA (R) ...")
        text = subprocess.run(["nvcc", "--version"], capture_output=True, text=True).stdout
        found["nvcc"] = next((line for line in text.splitlines() if "release" in line), text)
    return found


def jax_gpu_availability() -> str:
    """'' where JAX (in a child process) has a GPU backend, else why not."""
    if find_spec("jax") is None:
        return "JAX is not installed (pip install -e '.[gradient]')"
    probe = "import jax; print(jax.devices('gpu')[0])"
    env = {name: value for name, value in os.environ.items() if name != "JAX_PLATFORMS"}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
    if result.returncode != 0:
        why = one_line(result.stderr) or f"exit code {result.returncode}"
        return f"JAX has no GPU backend here ({why}); pip install 'jax[cuda12]'"
    return ""


def kfold_has_batch() -> bool:
    """Whether ``brainsnn kfold --help`` offers ``--batch`` (issue 14 item 1)."""
    result = subprocess.run(
        [*brainsnn_command(), "kfold", "--help"], capture_output=True, text=True, cwd=ROOT
    )
    return "--batch" in result.stdout


# --------------------------------------------------------------------------------------------
# commands


def one_line(text: str) -> str:
    """The last non-empty line of a text, shortened."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def brainsnn_command() -> list[str]:
    """The brainsnn command line of this interpreter."""
    return [sys.executable, "-m", "brainsnn.cli"]


def run_command(
    command: list[str], log: Path, timeout: float, env: dict[str, str] | None = None
) -> float:
    """Run a command (its output to ``log``) in its own process group; its wall seconds.

    Raises CheckError with a one-line reason on a non-zero exit or at the timeout (the whole
    process group, compilers included, is stopped then).
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with log.open("w") as handle:
        handle.write(" ".join(command) + "\n\n")
        handle.flush()
        process = subprocess.Popen(
            command,
            stdout=handle,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise CheckError(f"stopped at the time limit after {timeout:.0f} s") from None
    if code != 0:
        raise CheckError(f"exit code {code}: {one_line(log.read_text())} (log {log.name})")
    return time.perf_counter() - started


def brainsnn_run(
    protocol: str, overrides: list[str], device: str, out: Path, log: Path, timeout: float
) -> float:
    """``brainsnn run PROTOCOL --set ... --device DEVICE --out OUT --quiet``; wall seconds."""
    sets = [f"--set={item}" for item in overrides]
    command = [*brainsnn_command(), "run", str(PROTOCOLS / protocol), *sets, "--quiet"]
    return run_command([*command, "--device", device, "--out", str(out)], log, timeout)


def load_results(path: Path) -> dict[str, np.ndarray]:
    """Every variable of a results.nc (or of a .npz) as a NumPy array."""
    if path.suffix == ".npz":
        with np.load(path) as data:
            return {name: data[name] for name in data.files}
    import xarray as xr

    with xr.open_dataset(path) as data:
        return {str(name): data[name].values for name in data.data_vars}


# --------------------------------------------------------------------------------------------
# agreement


def criterion(name: str) -> str | None:
    """Which criterion a result variable falls under; None for timings."""
    if any(word in name for word in TIMING_WORDS):
        return None
    for what, words in CRITERIA.items():
        if any(word in name for word in words):
            return what
    return "other"


def largest_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Max |a - b| (inf for other shapes or NaNs in different places; 0 for equal non-numbers)."""
    if a.shape != b.shape:
        return float("inf")
    if a.dtype.kind not in "biuf" or b.dtype.kind not in "biuf":
        return 0.0 if np.array_equal(a, b) else float("inf")
    a, b = a.astype(np.float64), b.astype(np.float64)
    if not np.array_equal(np.isnan(a), np.isnan(b)):
        return float("inf")
    finite = ~np.isnan(a)
    return float(np.abs(a[finite] - b[finite]).max(initial=0.0))


def compare(reference: dict[str, np.ndarray], other: dict[str, np.ndarray]) -> dict[str, dict]:
    """Per criterion: largest difference, whether it passes, the variables that do not."""
    summary = {what: {"max_abs_diff": 0.0, "ok": True, "differing": []} for what in CRITERIA}
    summary["other"] = {"max_abs_diff": 0.0, "ok": True, "differing": []}  # reported only
    for name, values in reference.items():
        what = criterion(name)
        if what is None:
            continue
        diff = largest_difference(values, other[name]) if name in other else float("inf")
        entry = summary[what]
        entry["max_abs_diff"] = max(entry["max_abs_diff"], diff)
        allowed = TOLERANCE if what in ("weights", "other") else 0.0
        if diff > allowed:
            entry["differing"].append(name)
            entry["ok"] = entry["ok"] and what == "other"
    return summary


def describe(summary: dict[str, dict]) -> str:
    """One line per compared device: each criterion's verdict."""
    words = []
    for what in CRITERIA:
        entry = summary[what]
        differing = f" ({', '.join(entry['differing'])})" if not entry["ok"] else ""
        words.append(f"{what} {verdict(entry)}{differing}")
    return ", ".join(words)


Runner = Callable[[str, Path, Path, float], Path]  # device, run dir, log, timeout -> results


def cli_runner(protocol: str, overrides: list[str]) -> Runner:
    """A device run of ``brainsnn run``: results.nc of the run directory."""

    def run(device: str, out: Path, log: Path, timeout: float) -> Path:
        brainsnn_run(protocol, overrides, device, out, log, timeout)
        return out / "results.nc"

    return run


def gradient_runner(device: str, out: Path, log: Path, timeout: float) -> Path:
    """A device run of the gradient re-simulation (this script's ``--worker gradient``)."""
    result = out / "resimulation.npz"
    worker = [sys.executable, __file__, "--worker", "gradient", "--device", device]
    run_command([*worker, "--result", str(result)], log, timeout, {"JAX_PLATFORMS": "cpu"})
    return result


def agreement(
    part: Part, runner: Runner, devices: dict[str, str], out: Path, clock: Clock, jobs: int
) -> None:
    """Run a tiny case on every device (``devices``: name -> '' or why it is skipped) and compare
    cpp and cuda with runtime (run directories under OUT/runs, logs under OUT/logs)."""
    for device, why in devices.items():
        if why:
            print(f"    {device}: skipped: {why}", flush=True)
            part.details[device] = {"status": "skipped", "reason": why}
    usable = [device for device, why in devices.items() if not why]

    def one(device: str) -> tuple[str, Path | None, str]:
        started = time.perf_counter()
        log = out / "logs" / f"{part.name}-{device}.log"
        try:
            path = runner(device, out / "runs" / part.name / device, log, clock.timeout())
        except CheckError as error:
            print(f"    {device}: failed after {time.perf_counter() - started:.1f} s", flush=True)
            return device, None, str(error)
        print(f"    {device}: ran in {time.perf_counter() - started:.1f} s", flush=True)
        return device, path, ""

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        outcomes = list(pool.map(one, usable))
    results, failures = {}, []
    for device, path, error in outcomes:
        if path is None:
            failures.append(f"{device}: {error}")
            part.details[device] = {"status": "failed", "reason": error}
        else:
            results[device] = load_results(path)
    if "runtime" not in results:
        raise CheckError("; ".join(failures) or "runtime did not run")
    for device in (device for device in results if device != "runtime"):
        summary = compare(results["runtime"], results[device])
        passed = all(summary[what]["ok"] for what in CRITERIA)
        part.details[device] = {"status": "passed" if passed else "failed", **summary}
        print(f"    {device} vs runtime: {describe(summary)}", flush=True)
        if not passed:
            failures.append(f"{device} differs from runtime ({describe(summary)})")
    if failures:
        raise CheckError("; ".join(failures))
    if len(results) < 2:
        raise CheckError("nothing to compare runtime with")


def gradient_worker(device: str, result: Path) -> None:
    """Re-simulate the tiny AdLIF -> CuLIF network on one device; write its outputs (npz)."""
    import jax.numpy as jnp

    from brainsnn.gradient import metrics
    from brainsnn.gradient.network import GradientStack
    from brainsnn.gradient.protocol import GradientNetwork
    from brainsnn.gradient.resimulate import resimulate

    inputs, steps, samples, seed = 12, 20, 10, 6
    network = GradientNetwork(
        hidden=[{"size": 8, "neuron": "gradient/adlif", "batch_norm": True}],
        readout={"size": 3, "neuron": "gradient/culif"},
    )
    stack = GradientStack(network, inputs)
    params, constants, stats = stack.init_state(seed)
    rng = np.random.default_rng(seed)
    hidden, readout = params["layers"]
    hidden["weight"], readout["weight"] = hidden["weight"] * 2.0, readout["weight"] * 3.0
    hidden["bn_scale"] = jnp.asarray(rng.uniform(0.5, 1.5, 8), jnp.float32)
    hidden["bn_shift"] = jnp.asarray(rng.uniform(0.0, 0.4, 8), jnp.float32)
    stats[0] = {
        "mean": jnp.asarray(rng.normal(0.2, 0.2, 8), jnp.float32),
        "var": jnp.asarray(rng.uniform(0.3, 2.0, 8), jnp.float32),
    }
    counts = rng.integers(0, 3, (samples, steps, inputs)).astype(np.float32)
    start = rng.integers(0, 9, samples)
    counts[np.arange(steps)[None, :] < start[:, None]] = 0  # front padding
    exported = stack.inference_weights(params, constants, stats)
    outcome = resimulate(stack, exported, counts, device, start=start)
    result.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        result,
        test_prediction=metrics.decode_first_spike(
            outcome.readout_spikes, outcome.readout_membrane
        ),
        readout_spikes=outcome.readout_spikes,
        hidden_spike_counts=outcome.hidden_spike_counts,
        readout_membrane=outcome.readout_membrane,
    )


# --------------------------------------------------------------------------------------------
# timings


def diehl_cook_protocol() -> tuple[str, str]:
    """The Diehl & Cook protocol to time, and why it was chosen."""
    if FMNIST_FILES.is_dir() and any(FMNIST_FILES.iterdir()):
        return "diehl_cook_fmnist.yaml", f"Fashion-MNIST ({FMNIST_FILES})"
    return "diehl_cook_digits.yaml", f"digits: no Fashion-MNIST files in {FMNIST_FILES}"


def diehl_cook_overrides(examples: int, outputs: int) -> list[str]:
    """A short training phase (one chunk) with token label and test phases."""
    return [
        f"data.train_subset={examples}",
        f"training.chunk_size={examples}",
        f"network.outputs={outputs}",
        "labels.samples=10",
        "data.test_subset=10",
        "test.repeats=1",
        "recording.traces=null",
        "seed=0",
    ]


def time_devices(
    part: Part, devices: dict[str, str], clock: Clock, measure: Callable[[str], dict]
) -> None:
    """Time cpp and cuda (``devices``: name -> '' or why it is skipped); cuda/cpp ratio."""
    for device, why in devices.items():
        if not why and clock.over_budget():
            why = f"time budget: would start at {clock.elapsed():.0f} s > {clock.budget_s:.0f} s"
        if why:
            print(f"    {device}: skipped: {why}", flush=True)
            part.details[device] = {"status": "skipped", "reason": why}
            continue
        try:
            found = measure(device)
        except CheckError as error:
            print(f"    {device}: failed: {error}", flush=True)
            part.details[device] = {"status": "failed", "reason": str(error)}
            continue
        part.details[device] = {"status": "done", **found}
        rate, what = _rate(found)
        text = f"{found[rate]:.3g} {what}/s, " if rate else ""
        print(f"    {device}: {text}{found['wall_s']:.1f} s wall (build included)", flush=True)
    failed = [d for d, found in part.details.items() if found["status"] == "failed"]
    done = {d: found for d, found in part.details.items() if found["status"] == "done"}
    if {"cpp", "cuda"} <= done.keys():  # cuda's throughput over cpp's: > 1 where cuda is faster
        cpp, cuda = done["cpp"], done["cuda"]
        rate, _ = _rate(cpp)
        ratio = cuda[rate] / cpp[rate] if rate else cpp["wall_s"] / cuda["wall_s"]
        part.details["cuda_over_cpp"] = ratio
    if failed:
        raise CheckError("; ".join(f"{d}: {part.details[d]['reason']}" for d in failed))


# --------------------------------------------------------------------------------------------
# the check


def attempt(part: Part, clock: Clock, body: Callable[[], None], done: str) -> None:
    """Run one part under the start budget: record its status, reason and seconds."""
    if clock.over_budget():
        part.status = "skipped"
        part.reason = (
            f"time budget: would start at {clock.elapsed():.0f} s > {clock.budget_s:.0f} s"
        )
        clock.say(f"{part.name}: skipped: {part.reason}")
        return
    clock.say(f"{part.name}: started")
    started = time.perf_counter()
    try:
        body()
        part.status = done
    except CheckError as error:
        part.status, part.reason = "failed", str(error)
    except Exception as error:  # a bug or a broken environment: record it, go on
        part.status, part.reason = "failed", f"{type(error).__name__}: {one_line(str(error))}"
    part.seconds = time.perf_counter() - started
    tail = f": {part.reason}" if part.reason else ""
    clock.say(f"{part.name}: {part.status} in {part.seconds:.1f} s{tail}")


def kfold_timer(out: Path, scratch: Path, clock: Clock, batch: int) -> Callable[[str], dict]:
    """Wall seconds of ``brainsnn kfold --batch BATCH`` on a device (builds included)."""

    def measure(device: str) -> dict:
        sets = [f"--set={item}" for item in KFOLD_TINY]
        command = [*brainsnn_command(), "kfold", str(PROTOCOLS / "ncg_digits.yaml"), *sets]
        command += ["--k", "10", "--batch", str(batch), "--device", device]
        command += ["--out", str(scratch / f"kfold-batch-{batch}" / device)]
        log = out / "logs" / f"kfold-batch-{batch}-{device}.log"
        return {"wall_s": run_command(command, log, clock.timeout())}

    return measure


def _rate(found: dict) -> tuple[str | None, str]:
    """The throughput a timing reports (its key and what it counts), or (None, '')."""
    for key, what in (
        ("train_samples_per_second", "training examples"),
        ("evaluation_samples_per_second", "evaluation samples"),
    ):
        if key in found:
            return key, what
    return None, ""


def lanes_timer(out: Path, scratch: Path, clock: Clock, lanes: int) -> Callable[[str], dict]:
    """Validation + test samples/s of one readout epoch with ``lanes`` evaluation lanes: the
    epoch's wall time less its training time (training samples = the epoch's wins)."""

    def measure(device: str) -> dict:
        directory = scratch / f"evaluation-lanes-{lanes}" / device
        log = out / "logs" / f"evaluation-lanes-{lanes}-{device}.log"
        overrides = [*LANES_TINY, f"training.evaluation_lanes={lanes}"]
        wall = brainsnn_run("ncg_digits.yaml", overrides, device, directory, log, clock.timeout())
        results = load_results(directory / "results.nc")
        trained = float(np.sum(results["train_wins"][0]))
        training_s = trained / float(results["train_samples_per_second"][0])
        evaluation_s = float(results["epoch_wall_time"][0]) - training_s
        evaluated = len(results["test_label"]) + LANES_VALIDATION_SAMPLES
        return {"evaluation_samples_per_second": evaluated / evaluation_s, "wall_s": wall}

    return measure


def diehl_cook_timer(
    out: Path, scratch: Path, clock: Clock, protocol: str, examples: int, outputs: int
) -> Callable[[str], dict]:
    """Training examples/s of a short Diehl & Cook run on a device, from its results.nc."""

    def measure(device: str) -> dict:
        directory = scratch / f"diehl-cook-{outputs}" / device
        log = out / "logs" / f"diehl-cook-{outputs}-{device}.log"
        overrides = diehl_cook_overrides(examples, outputs)
        wall = brainsnn_run(protocol, overrides, device, directory, log, clock.timeout())
        rate = load_results(directory / "results.nc")["train_samples_per_second"]
        return {"train_samples_per_second": float(rate[0]), "wall_s": wall}

    return measure


def spsn_timer(out: Path, clock: Clock) -> Callable[[str], dict]:
    """One hidden layer's forward + backward ms per neuron on a JAX platform, and LIF's time
    over each parallel neuron's (``benchmarks/neuron_layer_speed.py --json``)."""

    def measure(platform: str) -> dict:
        result = out / "logs" / f"spsn-vs-lif-{platform}.json"
        log = out / "logs" / f"spsn-vs-lif-{platform}.log"
        command = [sys.executable, str(ROOT / "benchmarks" / "neuron_layer_speed.py")]
        command += [*SPSN_LAYER_ARGS, "--json", str(result)]
        wall = run_command(command, log, clock.timeout(), env={"JAX_PLATFORMS": platform})
        return {"wall_s": wall, **json.loads(result.read_text())}

    return measure


def check(out: Path, scratch: Path, clock: Clock, jobs: int, examples: int) -> dict:
    """Every part in order (timing runs, with their large weights, under ``scratch``); the JSON
    summary."""
    cuda_ok, cuda_why = cuda_availability()
    env = environment()
    print(f"gpu_check: cuda {'available' if cuda_ok else 'unavailable'}: {cuda_why}", flush=True)
    no_cuda = "" if cuda_ok else f"{NO_CUDA} ({cuda_why})"
    three, two = {"runtime": "", "cpp": "", "cuda": no_cuda}, {"cpp": "", "cuda": no_cuda}
    no_jax = "" if find_spec("jax") else "JAX is not installed (pip install -e '.[gradient]')"
    batched = kfold_has_batch()
    protocol, why = diehl_cook_protocol()

    planned: list[tuple[Part, Callable[[], None] | str, str]] = []
    cases: list[tuple[str, Runner, str]] = [
        ("readout", cli_runner("ncg_digits.yaml", READOUT_TINY), ""),
        ("unsupervised", cli_runner("wta_stdp_digits.yaml", UNSUPERVISED_TINY), ""),
        ("gradient", gradient_runner, no_jax),
    ]
    for name, runner, skip in cases:
        part = Part(f"agreement-{name}", "agreement")
        body = partial(agreement, part, runner, three, out, clock, jobs)
        planned.append((part, skip or body, "passed"))
    for batch in KFOLD_BATCHES:
        part = Part(f"kfold-batch-{batch}", "timing")
        body = partial(time_devices, part, two, clock, kfold_timer(out, scratch, clock, batch))
        planned.append((part, body if batched else NO_BATCH, "done"))
    for lanes in EVALUATION_LANES:
        part = Part(f"evaluation-lanes-{lanes}", "timing")
        timer = lanes_timer(out, scratch, clock, lanes)
        planned.append((part, partial(time_devices, part, two, clock, timer), "done"))
    for outputs in DC_OUTPUTS:
        part = Part(f"diehl-cook-{outputs}", "timing")
        timer = diehl_cook_timer(out, scratch, clock, protocol, examples, outputs)
        planned.append((part, partial(time_devices, part, two, clock, timer), "done"))

    part = Part("spsn-vs-lif", "jax-timing")
    platforms = {"cpu": no_jax, "cuda": no_jax or jax_gpu_availability()}
    body = partial(time_devices, part, platforms, clock, spsn_timer(out, clock))
    planned.append((part, no_jax or body, "done"))

    for part, body, done in planned:
        if isinstance(body, str):
            part.status, part.reason = "skipped", body
            clock.say(f"{part.name}: skipped: {body}")
        else:
            attempt(part, clock, body, done)
    return {
        "environment": env,
        "cuda": {"available": cuda_ok, "reason": cuda_why},
        "kfold_batch": batched,
        "diehl_cook": {"protocol": protocol, "why": why, "train_examples": examples},
        "budget_s": clock.budget_s,
        "limit_s": clock.limit_s,
        "parts": [asdict(part) for part, _, _ in planned],
        "total_s": clock.elapsed(),
    }


def verdict(entry: dict | None) -> str:
    """A criterion's table cell: 'equal', or the largest difference (FAIL beyond the limit)."""
    if entry is None:
        return ""
    text = "equal" if entry["max_abs_diff"] == 0 else f"max {entry['max_abs_diff']:.1e}"
    return text if entry["ok"] else f"{text} FAIL"


def short(found: dict) -> str:
    """A skipped or failed run's table cell (cuda's common reason is given once, above)."""
    reason = found.get("reason", "")
    if reason.startswith(NO_CUDA):
        reason = "no CUDA, see above"
    return f"{found.get('status', '')}: {reason}".strip(": ")


def markdown(summary: dict) -> str:
    """The Markdown summary of the JSON one."""
    cuda = summary["cuda"]
    lines = [
        "# GPU check",
        "",
        f"- cuda: {'available' if cuda['available'] else 'unavailable'} ({cuda['reason']})",
        *(f"- {what}: {found}" for what, found in summary["environment"].items()),
        f"- total: {summary['total_s']:.0f} s (no part starts after {summary['budget_s']:.0f} s)",
        "",
        "## Agreement (cpp and cuda against runtime)",
        "",
        "Decisions and spikes must be equal, weights (thresholds, membranes) within "
        f"{TOLERANCE:g}.",
        "",
        "| part | status | device | decisions | spikes | weights | seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    parts = summary["parts"]
    for part in (p for p in parts if p["kind"] == "agreement"):
        rows = [(d, part["details"][d]) for d in ("cpp", "cuda") if d in part["details"]]
        rows = rows or [("", {})]
        for device, found in rows:
            cells = [verdict(found.get(what)) for what in CRITERIA]
            if "reason" in found:  # it did not run
                cells = [short(found), "", ""]
            row = [part["name"], part["status"], device, *cells, f"{part['seconds']:.0f}"]
            lines.append(f"| {' | '.join(row)} |")
        if part["reason"]:
            lines.append(f"| | | | {part['reason']} | | | |")
    dc = summary["diehl_cook"]
    lines += [
        "",
        "## Timings, cuda against cpp",
        "",
        "cuda/cpp: cuda's throughput over cpp's (> 1 where cuda is faster). Batched k-fold: "
        "`brainsnn kfold protocols/ncg_digits.yaml --k 10 --batch B`, wall time with builds. "
        "Evaluation lanes: one epoch of protocols/ncg_digits.yaml on 200 training digits with "
        "`training.evaluation_lanes` = L, validation + test samples/s. "
        f"Diehl & Cook: {dc['protocol']} ({dc['why']}), {dc['train_examples']} training "
        "examples in one chunk, training examples/s from results.nc (compilation excluded).",
        "",
        "| part | status | cpp | cuda | cuda/cpp |",
        "|---|---|---|---|---|",
    ]
    for part in (p for p in parts if p["kind"] == "timing"):
        cells = []
        for device in ("cpp", "cuda"):
            found = part["details"].get(device, {})
            if found.get("status") == "done":
                rate, _ = _rate(found)
                unit = "ex/s" if rate == "train_samples_per_second" else "samples/s"
                cells.append(
                    f"{found[rate]:.2f} {unit}" if rate else f"{found['wall_s']:.1f} s wall"
                )
            else:
                cells.append(short(found))
        ratio = part["details"].get("cuda_over_cpp")
        ratio_text = f"{ratio:.2f}x" if ratio else (part["reason"] if not cells[0] else "")
        lines.append(f"| {part['name']} | {part['status']} | {' | '.join(cells)} | {ratio_text} |")
    lines += spsn_markdown([p for p in parts if p["kind"] == "jax-timing"])
    lines.append("")
    return "\n".join(lines)


def spsn_markdown(parts: list[dict]) -> list[str]:
    """The SPSN-against-LIF section (part 5): per JAX platform, ms per neuron and LIF/SPSN."""
    lines = [
        "",
        "## SPSN against LIF (JAX), one hidden layer",
        "",
        "Forward + backward of one hidden layer, `python benchmarks/neuron_layer_speed.py "
        f"{' '.join(SPSN_LAYER_ARGS)}`; LIF/X is LIF's time over X's (the SPSN paper: 46x per "
        "epoch on SHD on its GPU).",
        "",
        "| platform | status | device | ms per forward + backward | LIF/X |",
        "|---|---|---|---|---|",
    ]
    for part in parts:
        if part["reason"] and not part["details"]:
            lines.append(f"| | {part['status']}: {part['reason']} | | | |")
        for name in JAX_PLATFORMS:
            found = part["details"].get(name, {})
            if found.get("status") != "done":
                lines.append(f"| {name} | {short(found)} | | | |")
                continue
            times = ", ".join(f"{neuron} {ms:.1f}" for neuron, ms in found["ms"].items())
            ratios = ", ".join(f"{neuron} {x:.2f}x" for neuron, x in found["lif_over"].items())
            lines.append(f"| {name} | done | {found['device']} | {times} | {ratios} |")
    return lines


def main() -> int:
    """Parse arguments, run the check (or a worker), write the summaries; the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, help="directory for the summaries and runs")
    parser.add_argument("--started", type=float, default=None, help="start time (epoch seconds)")
    parser.add_argument("--budget-s", type=float, default=450.0, help="no part starts after it")
    parser.add_argument("--limit-s", type=float, default=480.0, help="commands stop at it")
    jobs = 3 if (os.cpu_count() or 1) >= 8 else 1
    parser.add_argument("--jobs", type=int, default=jobs, help="devices run at once (agreement)")
    parser.add_argument("--dc-examples", type=int, default=40, help="Diehl & Cook examples")
    parser.add_argument("--worker", choices=["gradient"], help=argparse.SUPPRESS)
    parser.add_argument("--device", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker == "gradient":
        gradient_worker(args.device, args.result)
        return 0
    if args.out is None:
        parser.error("OUT_DIR is required")
    args.out.mkdir(parents=True, exist_ok=True)
    clock = Clock(args.started or time.time(), args.budget_s, args.limit_s)
    scratch = Path(tempfile.mkdtemp(prefix="gpu_check-"))
    try:
        summary = check(args.out, scratch, clock, max(1, args.jobs), args.dc_examples)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    agreements = [part for part in summary["parts"] if part["kind"] == "agreement"]
    failed = [part["name"] for part in agreements if part["status"] == "failed"]
    summary["exit_code"] = 1 if failed else 0
    (args.out / "gpu_check.json").write_text(json.dumps(summary, indent=2) + "\n")
    (args.out / "gpu_check.md").write_text(markdown(summary))
    clock.say(f"wrote {args.out / 'gpu_check.json'} and {args.out / 'gpu_check.md'}")
    if failed:
        print(f"gpu_check: agreement failed: {', '.join(failed)}", flush=True)
    return summary["exit_code"]


if __name__ == "__main__":
    sys.exit(main())
