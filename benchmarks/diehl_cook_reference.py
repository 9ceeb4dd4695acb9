"""Diehl & Cook 2015 as a plain Brian2 port (runtime or cpp_standalone), compared with brainsnn.

With ``--target cpp_standalone`` the reference is the plain standalone port (issue 14 item 7): the
same network compiled once, each presentation one run of the binary, with the rates, the
normalised weights and every carried state variable (membranes, conductances, theta, STDP traces,
last-event times shifted by one presentation) handed in through ``run_args`` and read back from
the results, which is how Brian2 documents repeated standalone runs. The report then splits its
time per example into the binary's simulation loop and the rest (starting the binary, the files).
``--check-carry`` runs both ports on input that spikes at every step (no randomness left): with a
gate that cannot round either way (``--gate-ms 50.25``) they agree on every example, so the
state is carried exactly; with the ports' 50 ms they part where a gate opens one step apart,
because ``t - lastspike`` rounds differently when t restarts at 0 in every binary run.

The runtime reference is written as the Brian2 ports are (spec unsupervised_stdp.md B.2-B.6, the
"runtime (cython), per-example run loop + Python normalisation" row of B.10): a PoissonGroup whose
rates are set in Python for each presentation, conductance-based LIF excitatory and inhibitory
neurons (adaptive theta, the ports' 50 ms gate written as ``(t - lastspike) > 50*ms``), all-to-all
input synapses with delays U[0, 10] ms and the trace STDP with the correct LTD sign, and a Python
loop per example: normalise every neuron's input weights to 78, run 350 ms of input, count the
excitatory spikes, run 150 ms of rest, and retry brighter (intensity + 1) while fewer than 5 spikes
fired (at most 20 retries, like brainsnn's presentation/retry). dt = 0.5 ms, single process.

Both implementations see the first N images of the training order that brainsnn uses for
``protocols/diehl_cook_fmnist.yaml --set data.train_subset=N`` (a stratified subset in stored
order, loaded with brainsnn's own data code), and start from the same initial weights and input
delays: ``numpy.random.default_rng(seed)`` drawn as 0.3 * (U[0, 1) + 0.01), then U[0, 10 ms), the
draws brainsnn makes. Only the Poisson inputs differ (different RNGs), so activity can agree only
statistically. It is very noisy: once weights have grown, a bright image can drive every
excitatory neuron to the 50 ms gate's ceiling (7 spikes each, 2800 for N_e = 400), and such
saturated examples come in bursts, so the examples of one run are not independent. Each side is
therefore run several times (other Poisson draws, same images and initial state), and the
spikes per example are compared as the mean over runs ± its standard error, next to the median
and the share of saturated examples.

brainsnn runs in child processes (it selects a standalone Brian2 device), on one compiled build:
- its training phase through the library (the code path of ``brainsnn run``; run 1 uses the same
  chunk seeds, runs 2.. offset them), for per-example spike counts and retries (results.nc keeps
  only their means);
- ``brainsnn run`` itself, whose results.nc gives the official training examples/s. Its timing,
  like the library runs', excludes compilation (the build happens before the training clock
  starts) but includes the presentations the chunk's retry budget adds (0.5 N, silent ones
  past the last sample).

The reference's first example of each run (Brian2 code generation, Cython compilation) is reported
apart and left out of its s/example. Spikes per example are excitatory spikes in the 350 ms input
window of the accepted presentation (brainsnn's ``train_spikes_per_sample``); retries per example
are failed presentations before the accepted one (``train_mean_retries``). With
``--no-plasticity`` both sides run with eta_ltd = eta_ltp = theta_plus = 0, which compares the
network dynamics alone.

Usage (from the repository root; about 0.5-1 s per reference example with N_e = 400):

    .venv/bin/python benchmarks/diehl_cook_reference.py [--examples 100] [--outputs 400]
        [--brainsnn-runs 5] [--reference-runs 1] [--seed 0] [--target cython|numpy|cpp_standalone]
        [--no-plasticity] [--no-cli] [--keep DIRECTORY]

One reference run cannot settle the spike counts: at N = 100 the mean spikes per example varies
between runs with a standard deviation of about 130 (about 110 for brainsnn), so use
``--reference-runs 5`` or more for a verdict (each run takes N times the reference's s/example).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PROTOCOL = ROOT / "protocols" / "diehl_cook_fmnist.yaml"
SMALL = 20  # labels.samples and data.test_subset of the CLI run (its assign / test phases)

# Spec B.2-B.6 constants of the reference.
DT_MS = 0.5
PRESENT_MS, REST_MS = 350.0, 150.0
INTENSITY_START, MIN_SPIKES, MAX_RETRIES = 2.0, 5, 20
NORM_TARGET = 78.0
MAX_DELAY_MS = 10.0
GATE_MS = 50.0  # the excitatory neurons' minimum time between spikes (the ports' timer)
SATURATED = 5  # spikes per neuron in one example that count as a saturated (runaway) response


def brainsnn_overrides(examples: int, outputs: int, seed: int, plastic: bool = True) -> list[str]:
    """``--set`` items of the brainsnn runs (the reference reads its images with the same)."""
    frozen = [
        f"network.parameters.{name}" for name in ("eta_ltd=0", "eta_ltp=0", "theta_plus=0 mV")
    ]
    return [
        *([] if plastic else frozen),
        f"data.train_subset={examples}",
        f"training.chunk_size={examples}",
        f"network.outputs={outputs}",
        f"labels.samples={min(SMALL, examples)}",
        f"data.test_subset={SMALL}",
        "test.repeats=1",
        f"seed={seed}",
    ]


def training_rates(protocol_path: Path, overrides: list[str]) -> np.ndarray:
    """Rates in Hz at intensity 1 (pixel / 8), shape (N, 784), in brainsnn's training order."""
    from brainsnn.protocol import load_protocol
    from brainsnn.unsupervised.data import prepare_unsupervised_data

    protocol = load_protocol(protocol_path, overrides)
    return np.asarray(prepare_unsupervised_data(protocol).train.values, dtype=np.float64)


# --------------------------------------------------------------------------------------------
# brainsnn side (run in a child process: brainsnn selects a standalone Brian2 device)


def brainsnn_worker(protocol_path: Path, overrides: list[str], repeats: int, output: Path) -> None:
    """Run brainsnn's training phase ``repeats`` times from the same initial state (the library
    code path of ``brainsnn run``; repeat r > 0 draws other Poisson inputs by offsetting the chunk
    seeds); write per-example spike counts, retries and wall times to ``output`` (JSON)."""
    import brainsnn.unsupervised.experiment as experiment
    from brainsnn.devices.registry import require_device
    from brainsnn.protocol import load_protocol
    from brainsnn.unsupervised.data import prepare_unsupervised_data

    protocol = load_protocol(protocol_path, overrides)
    composed, parameters = dict(protocol.resolved.composed), dict(protocol.resolved.parameters)
    data = prepare_unsupervised_data(protocol)
    require_device(protocol.device.name)
    layout = experiment.build_unsupervised_layout(protocol, data)

    def fresh_state() -> dict[str, np.ndarray]:
        return experiment.initial_unsupervised_state(protocol, layout, composed, parameters)

    started = time.perf_counter()
    backend = experiment.make_unsupervised_backend(protocol, layout, composed, fresh_state())
    build_seconds = time.perf_counter() - started
    chunks: list = []
    run_chunk = backend.run_chunk

    def recording_run_chunk(*args: object, **kwargs: object) -> object:
        records = run_chunk(*args, **kwargs)
        chunks.append(records)
        return records

    backend.run_chunk = recording_run_chunk  # type: ignore[method-assign]
    seed_of_chunk = experiment.chunk_seed
    runs = []
    for repeat in range(repeats):

        def offset_seed(seed: int, phase: str, start: int, repeat: int = repeat) -> int:
            return seed_of_chunk(seed, phase, start + repeat * 10**9)

        experiment.chunk_seed = offset_seed
        chunks.clear()
        progress = experiment.UnsupervisedProgress(state=fresh_state(), parameters=dict(parameters))
        run = experiment.UnsupervisedRun(protocol, backend, data, show_progress=False)
        run._run_phase(progress, None)
        runs.append(
            {
                "spikes": np.concatenate([c.counts.sum(axis=1) for c in chunks]).tolist(),
                "retries": np.concatenate([c.retries for c in chunks]).tolist(),
                "seconds": progress.seconds,
            }
        )
        print(f"brainsnn run {repeat + 1}/{repeats}: {progress.seconds:.1f} s", flush=True)
    experiment.chunk_seed = seed_of_chunk
    result = {"runs": runs, "build_seconds": build_seconds, "device": backend.name}
    output.write_text(json.dumps(result))


def run_brainsnn_library(
    protocol_path: Path, overrides: list[str], repeats: int, directory: Path
) -> dict:
    """The worker in a child process; returns its JSON result."""
    output = directory / "brainsnn_library.json"
    command = [sys.executable, __file__, "--worker", str(output), "--protocol", str(protocol_path)]
    command += ["--brainsnn-runs", str(repeats)]
    subprocess.run(command + [f"--set={item}" for item in overrides], check=True, cwd=ROOT)
    return json.loads(output.read_text())


def run_brainsnn_cli(
    protocol_path: Path, overrides: list[str], directory: Path
) -> dict[str, float | str]:
    """``brainsnn run`` (quiet); returns the training figures of its results.nc and run.log."""
    import xarray as xr

    out = directory / "cli"
    command = [str(ROOT / ".venv" / "bin" / "brainsnn"), "run", str(protocol_path)]
    command += ["--out", str(out), "--quiet"]
    for item in overrides:
        command += ["--set", item]
    started = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT)
    wall = time.perf_counter() - started
    with xr.open_dataset(out / "results.nc") as ds:
        figures: dict[str, float | str] = {
            "samples_per_second": float(ds.train_samples_per_second[0]),
            "spikes_per_sample": float(ds.train_spikes_per_sample[0]),
            "mean_retries": float(ds.train_mean_retries[0]),
            "epoch_wall_time": float(ds.epoch_wall_time[0]),
        }
    log = (out / "run.log").read_text().splitlines()
    figures["log_line"] = next((line for line in log if "train-1:" in line), "")
    figures["wall"] = wall
    return figures


# --------------------------------------------------------------------------------------------
# The reference: a plain Brian2 runtime-mode port


def choose_target(target: str) -> str:
    """Set Brian2's runtime code-generation target; 'cython' falls back to 'numpy' if it fails."""
    import brian2 as b2

    b2.prefs.codegen.target = target
    if target == "cython":
        try:
            probe = b2.NeuronGroup(
                1, "dv/dt = -v / (10*ms) : 1", method="exact", name="cython_probe"
            )
            b2.Network(probe).run(b2.defaultclock.dt)
        except Exception as exc:  # no compiler or a broken Cython: plain NumPy code
            print(f"cython target failed ({type(exc).__name__}: {exc}); using numpy", flush=True)
            b2.prefs.codegen.target = "numpy"
            return "numpy"
    return target


def initial_weights_and_delays(outputs: int, inputs: int, seed: int) -> tuple[np.ndarray, ...]:
    """Weights 0.3 (U + 0.01) and delays U[0, 10 ms) in seconds, both shape (outputs, inputs)."""
    rng = np.random.default_rng(seed)
    weights = 0.3 * (rng.random((outputs, inputs)) + 0.01)
    delays = MAX_DELAY_MS * 1e-3 * rng.random((outputs, inputs))
    return weights, delays


class ReferenceNetwork(NamedTuple):
    """The Brian2 objects of the port (all in ``network``) and the namespace of its equations."""

    network: Any
    poisson: Any
    exc: Any
    inh: Any
    stdp: Any
    monitor: Any
    namespace: dict


def build_reference_network(
    n_inputs: int,
    outputs: int,
    seed: int,
    plastic: bool,
    rates: object,
    spike_times: bool,
    gate_ms: float = GATE_MS,
) -> ReferenceNetwork:
    """The port's network on the current Brian2 device; ``rates`` are the PoissonGroup's rates
    (a quantity, or an expression such as ``"stimulus(t, i)"`` naming a TimedArray that the
    caller adds to ``namespace``). Initial weights and delays come from ``seed``; the excitatory
    spike monitor records spike times only if ``spike_times``; ``gate_ms`` is the excitatory
    neurons' minimum time between spikes (the ports' 50 ms)."""
    import brian2 as b2
    from brian2 import ms, mV

    excitatory_equations = """
    dv/dt = ((v_rest_e - v) + ge*(E_exc - v) + gi*(E_inh_e - v)) / tau_e : volt (unless refractory)
    dge/dt = -ge / (1*ms) : 1
    dgi/dt = -gi / (2*ms) : 1
    dtheta/dt = -theta / tau_theta : volt
    """
    inhibitory_equations = """
    dv/dt = ((v_rest_i - v) + ge*(E_exc - v) + gi*(E_inh_i - v)) / tau_i : volt (unless refractory)
    dge/dt = -ge / (1*ms) : 1
    dgi/dt = -gi / (2*ms) : 1
    """
    namespace = {
        "v_rest_e": -65 * mV,
        "v_reset_e": -65 * mV,
        "v_thresh_e": -52 * mV,
        "v_rest_i": -60 * mV,
        "v_reset_i": -45 * mV,
        "v_thresh_i": -40 * mV,
        "E_exc": 0 * mV,
        "E_inh_e": -100 * mV,
        "E_inh_i": -85 * mV,
        "tau_e": 100 * ms,
        "tau_i": 10 * ms,
        "tau_theta": 1e7 * ms,
        "theta_plus": 0.05 * mV * plastic,
        "eta_pre": 1e-4 * plastic,
        "eta_post": 1e-2 * plastic,
        "offset": 20 * mV,
        "gate": gate_ms * ms,
    }
    poisson = b2.PoissonGroup(n_inputs, rates=rates, name="Xe")
    exc = b2.NeuronGroup(
        outputs,
        excitatory_equations,
        threshold="v > v_thresh_e + theta - offset and (t - lastspike) > gate",
        reset="v = v_reset_e\ntheta += theta_plus",
        refractory=5 * ms,
        method="euler",
        namespace=namespace,
        name="Ae",
    )
    inh = b2.NeuronGroup(
        outputs,
        inhibitory_equations,
        threshold="v > v_thresh_i",
        reset="v = v_reset_i",
        refractory=2 * ms,
        method="euler",
        namespace=namespace,
        name="Ai",
    )
    exc.v = namespace["v_rest_e"] - 40 * mV
    exc.theta = 20 * mV
    inh.v = namespace["v_rest_i"] - 40 * mV

    stdp = b2.Synapses(
        poisson,
        exc,
        """
        w : 1
        post2before : 1
        dpre/dt = -pre / (20*ms) : 1 (event-driven)
        dpost1/dt = -post1 / (20*ms) : 1 (event-driven)
        dpost2/dt = -post2 / (40*ms) : 1 (event-driven)
        """,
        on_pre="ge_post += w\npre = 1.\nw = clip(w - eta_pre * post1, 0, 1)",
        namespace=namespace,
        on_post="post2before = post2\nw = clip(w + eta_post * pre * post2before, 0, 1)\n"
        "post1 = 1.\npost2 = 1.",
        method="exact",
        name="XeAe",
    )
    # Input-major synapse order: synapse k = input * outputs + output.
    stdp.connect(i=np.repeat(np.arange(n_inputs), outputs), j=np.tile(np.arange(outputs), n_inputs))
    weights, delays = initial_weights_and_delays(outputs, n_inputs, seed)
    stdp.w = weights.T.ravel()
    stdp.delay = delays.T.ravel() * b2.second
    to_inh = b2.Synapses(exc, inh, on_pre="ge_post += 10.4", name="AeAi")
    to_inh.connect(j="i")
    from_inh = b2.Synapses(inh, exc, on_pre="gi_post += 17.0", name="AiAe")
    from_inh.connect(condition="i != j")
    monitor = b2.SpikeMonitor(exc, record=spike_times, name="Ae_spikes")
    network = b2.Network(poisson, exc, inh, stdp, to_inh, from_inh, monitor)
    return ReferenceNetwork(network, poisson, exc, inh, stdp, monitor, namespace)


def normalised(weights: np.ndarray, outputs: int) -> np.ndarray:
    """Input-major synaptic weights with every neuron's input weights scaled to sum 78."""
    w = weights.reshape(-1, outputs)
    sums = w.sum(axis=0)
    return (w * (NORM_TARGET / np.where(sums == 0, 1, sums))).ravel()


def progress_line(run: int, index: int, count: int, records: dict[str, list]) -> None:
    """Print the reference's progress every 10 examples."""
    if (index + 1) % 10 == 0 or index == 0:
        print(
            f"reference run {run + 1}: {index + 1}/{count} examples, "
            f"last {records['seconds'][-1]:.2f} s, mean spikes {np.mean(records['spikes']):.1f}, "
            f"mean retries {np.mean(records['retries']):.2f}",
            flush=True,
        )


def train_one_by_one(
    rates: np.ndarray, run: int, present: Callable[[np.ndarray, float], tuple[int, float]]
) -> dict[str, list]:
    """Present each example of ``rates`` (N, 784; Hz at intensity 1) until at least 5 excitatory
    spikes fire in its 350 ms (at most 20 retries, one intensity step brighter each).
    ``present(example, intensity)`` runs one presentation and returns its spike count and the
    seconds its simulation loop took. Per-example records: spikes, retries, seconds (wall) and
    loop_seconds."""
    records: dict[str, list] = {"spikes": [], "retries": [], "seconds": [], "loop_seconds": []}
    for index, example in enumerate(rates):
        started = time.perf_counter()
        intensity, failed, loop = INTENSITY_START, 0, 0.0
        while True:
            fired, seconds = present(example, intensity)
            loop += seconds
            if fired >= MIN_SPIKES or failed >= MAX_RETRIES:
                break
            intensity += 1.0
            failed += 1
        records["seconds"].append(time.perf_counter() - started)
        records["loop_seconds"].append(loop)
        records["spikes"].append(fired)
        records["retries"].append(failed)
        progress_line(run, index, len(rates), records)
    return records


def run_reference(
    rates: np.ndarray,
    outputs: int,
    seed: int,
    target: str,
    plastic: bool = True,
    run: int = 0,
    gate_ms: float = GATE_MS,
) -> dict:
    """Train the Brian2 runtime port on ``rates`` (N, 784) one example at a time.

    Initial weights and delays come from ``seed``, the Poisson inputs from Brian2's seed
    ``seed + run``. ``plastic=False`` sets the STDP rates and theta_plus to 0 (a check of the
    dynamics alone). Returns per-example records.
    """
    import brian2 as b2
    from brian2 import Hz, ms

    b2.set_device("runtime")
    b2.start_scope()
    b2.defaultclock.dt = DT_MS * ms
    target = choose_target(target)
    b2.seed(seed + run)
    port = build_reference_network(rates.shape[1], outputs, seed, plastic, 0 * Hz, False, gate_ms)
    stdp, monitor = port.stdp, port.monitor

    def present(example: np.ndarray, intensity: float) -> tuple[int, float]:
        stdp.w_[:] = normalised(np.asarray(stdp.w_[:]), outputs)
        port.poisson.rates = example * intensity * Hz
        before = int(np.sum(monitor.count[:]))
        port.network.run(PRESENT_MS * ms, namespace=port.namespace)
        fired = int(np.sum(monitor.count[:])) - before
        port.poisson.rates = 0 * Hz
        port.network.run(REST_MS * ms, namespace=port.namespace)
        return fired, 0.0

    records = train_one_by_one(rates, run, present)
    return {**records, "target": target}


# State the standalone port carries from one presentation to the next. The binary starts each
# presentation at t = 0, so the times of last events are shifted back by one presentation.
CARRIED = {
    "exc": ("v", "ge", "gi", "theta"),
    "inh": ("v", "ge", "gi"),
    "stdp": ("w", "pre", "post1", "post2"),
}
SHIFTED = {"exc": "lastspike", "inh": "lastspike", "stdp": "lastupdate"}


def run_standalone_reference(
    rates: np.ndarray,
    outputs: int,
    seed: int,
    plastic: bool,
    run: int,
    directory: Path,
    gate_ms: float = GATE_MS,
) -> dict:
    """Train the plain ``cpp_standalone`` port on ``rates`` (N, 784), one presentation per
    binary run.

    The network is compiled once. Each presentation (350 ms input, 150 ms rest) is one
    ``device.run`` whose ``run_args`` hand in the rates (a TimedArray), the normalised weights
    and the state carried from the previous run (membranes, conductances, theta, STDP traces,
    last-event times), read back from its results. ``seed()`` is not called, so the binary draws
    new Poisson inputs every presentation. Per-example records as ``run_reference``.
    """
    import brian2 as b2
    from brian2 import Hz, ms

    b2.set_device("cpp_standalone", build_on_run=False, directory=str(directory))
    b2.device.reinit()
    b2.set_device("cpp_standalone", build_on_run=False, directory=str(directory))
    b2.start_scope()
    b2.defaultclock.dt = DT_MS * ms
    n_inputs = rates.shape[1]
    stimulus = b2.TimedArray(np.zeros((2, n_inputs)) * Hz, dt=PRESENT_MS * ms)
    port = build_reference_network(
        n_inputs, outputs, seed, plastic, "stimulus(t, i)", True, gate_ms
    )
    port.namespace["stimulus"] = stimulus
    port.network.run((PRESENT_MS + REST_MS) * ms, namespace=port.namespace)
    started = time.perf_counter()
    b2.device.build(run=False, directory=str(directory))
    compile_seconds = time.perf_counter() - started
    groups = {"exc": port.exc, "inh": port.inh, "stdp": port.stdp}
    pairs = [(key, name) for key, names in CARRIED.items() for name in names]
    views = {pair: groups[pair[0]].state(pair[1]) for pair in pairs + list(SHIFTED.items())}
    weights = views["stdp", "w"]
    carried: dict = {weights: initial_weights_and_delays(outputs, n_inputs, seed)[0].T.ravel()}
    presentation = (PRESENT_MS + REST_MS) * ms
    static_arrays = directory / "static_arrays"

    def present(example: np.ndarray, intensity: float) -> tuple[int, float]:
        carried[weights] = normalised(np.asarray(carried[weights]), outputs)
        values = np.stack([example * intensity, np.zeros(n_inputs)]) * Hz
        b2.device.run(run_args={stimulus: values, **carried}, with_output=False)
        for name in b2.device.run_args_arrays:  # this presentation's inputs, used up
            (static_arrays / name).unlink(missing_ok=True)
        fired = int(np.sum(port.monitor.t[:] < PRESENT_MS * ms))
        for (key, name), view in views.items():
            carried[view] = view[:] - presentation if SHIFTED.get(key) == name else view[:]
        return fired, b2.device._last_run_time  # the binary's own simulation loop

    records = train_one_by_one(rates, run, present)
    return {**records, "target": "cpp_standalone", "compile_seconds": compile_seconds}


# --------------------------------------------------------------------------------------------
# Report


def summary(runs: list[dict], outputs: int) -> dict[str, float]:
    """Pooled and per-run figures of one implementation's runs (dicts of per-example lists)."""
    spikes = [np.asarray(run["spikes"], dtype=np.float64) for run in runs]
    retries = [np.asarray(run["retries"], dtype=np.float64) for run in runs]
    pooled = np.concatenate(spikes)
    means = np.array([s.mean() for s in spikes])
    if len(runs) > 1:  # between-run spread: the examples of one run are not independent
        se = means.std(ddof=1) / np.sqrt(len(runs))
    else:
        se = pooled.std(ddof=1) / np.sqrt(len(pooled))
    return {
        "runs": len(runs),
        "examples": len(spikes[0]),
        "mean": float(means.mean()),
        "se": float(se),
        "median": float(np.median(pooled)),
        "saturated": float((pooled >= SATURATED * outputs).mean()),
        "retries": float(np.concatenate(retries).mean()),
        "retries_se": float(np.concatenate(retries).std(ddof=1) / np.sqrt(len(pooled))),
    }


def report(reference: list[dict], library: dict, cli: dict | None, outputs: int) -> None:
    """Print the comparison table, the per-run means and the speed ratios."""
    ref, lib = summary(reference, outputs), summary(library["runs"], outputs)
    # The reference's first example of each run (code generation, Cython) is not timed.
    warm = np.concatenate([np.asarray(run["seconds"][1:]) for run in reference])
    first = [run["seconds"][0] for run in reference]
    ref_rate = len(warm) / warm.sum()
    lib_rate = sum(len(run["spikes"]) for run in library["runs"]) / sum(
        run["seconds"] for run in library["runs"]
    )
    header = (
        f"{'implementation':<34} {'runs x ex.':>10} {'s/example':>9} {'ex./s':>7} "
        f"{'spikes/example':>16} {'median':>6} {'saturated':>9} {'retries/example':>16}"
    )
    print()
    print(header)
    print("-" * len(header))

    def row(name: str, figures: dict[str, float], rate: float, single: bool) -> None:
        mark = "†" if single else " "
        print(
            f"{name:<34} {figures['runs']:>4.0f} x {figures['examples']:<3.0f} {1 / rate:>9.4f} "
            f"{rate:>7.2f} {figures['mean']:>8.1f} ± {figures['se']:<5.1f}{mark}"
            f"{figures['median']:>6.0f} {100 * figures['saturated']:>8.1f}% "
            f"{figures['retries']:>8.3f} ± {figures['retries_se']:.3f}"
        )

    row(f"reference Brian2 ({reference[0]['target']})", ref, ref_rate, ref["runs"] == 1)
    row(f"brainsnn {library['device']} (library)", lib, lib_rate, lib["runs"] == 1)
    if cli is not None:
        rate = float(cli["samples_per_second"])
        print(
            f"{'brainsnn run (results.nc)':<34} {1:>4} x {lib['examples']:<3.0f} {1 / rate:>9.4f} "
            f"{rate:>7.2f} {float(cli['spikes_per_sample']):>8.1f}{'':>31}"
            f"{float(cli['mean_retries']):>8.3f}"
        )
    print(
        "spikes/example: excitatory spikes in the 350 ms window of the accepted presentation; "
        "± is the SE of the\nmean over runs († one run: SE over its examples, which understates "
        "the noise: saturated examples\ncome in bursts). saturated: examples with >= "
        f"{SATURATED} spikes per neuron (ceiling 7 with the 50 ms gate)."
    )
    print(
        "reference s/example: all examples but the first of each run (runtime generates its "
        "code in it; "
        f"{', '.join(f'{x:.1f}' for x in first)} s). brainsnn: training phase without its build "
        f"({float(library['build_seconds']):.1f} s)."
    )
    if reference[0]["target"] == "cpp_standalone":
        loop = np.concatenate([np.asarray(run["loop_seconds"][1:]) for run in reference])
        compiled = ", ".join(f"{run['compile_seconds']:.0f}" for run in reference)
        print(
            f"reference cpp_standalone: {loop.sum() / len(warm):.4f} s/example in the binary's "
            f"simulation loop, the rest ({(warm.sum() - loop.sum()) / len(warm):.4f} s) in "
            f"starting it and passing the state through files; compiled in {compiled} s (untimed)."
        )
    for name, runs in (("reference", reference), ("brainsnn", library["runs"])):
        means = ", ".join(f"{np.mean(run['spikes']):.0f}" for run in runs)
        print(f"spikes/example of each run, {name}: {means}")
    difference = lib["mean"] - ref["mean"]
    combined = np.hypot(lib["se"], ref["se"])
    print(
        f"brainsnn - reference: {difference:+.1f} ± {combined:.1f} spikes/example "
        f"({difference / combined:+.1f} SE), {lib['retries'] - ref['retries']:+.3f} "
        "retries/example"
    )
    # Paired by image: log(1 + spikes) averaged over each side's runs, brainsnn - reference.
    # Without plasticity the examples are close to independent, so this is the sharper test.
    paired = np.log1p([run["spikes"] for run in library["runs"]]).mean(axis=0) - np.log1p(
        [run["spikes"] for run in reference]
    ).mean(axis=0)
    print(
        f"paired by image, log(1 + spikes): brainsnn - reference {paired.mean():+.3f} ± "
        f"{paired.std(ddof=1) / np.sqrt(len(paired)):.3f} "
        f"({paired.mean() / (paired.std(ddof=1) / np.sqrt(len(paired))):+.1f} SE)"
    )
    if cli is not None:
        print(f"brainsnn run.log: {str(cli['log_line']).split(' INFO ')[-1].strip()}")
        print(
            "speed ratio brainsnn / reference (examples/s, this run): "
            f"{float(cli['samples_per_second']) / ref_rate:.1f}x (brainsnn run, results.nc), "
            f"{lib_rate / ref_rate:.1f}x (library runs)"
        )
    else:
        print(
            f"speed ratio brainsnn / reference (examples/s, this run): {lib_rate / ref_rate:.1f}x"
        )


def check_carry(outputs: int, examples: int, gate_ms: float, directory: Path) -> bool:
    """The runtime port against the plain standalone port on input that spikes at every step.

    The brightest 10 % of the first images' pixels fire at every step (rate * dt = 1 from the
    first intensity on), the rest never, so the only randomness left is gone and both ports
    must give the same spikes and retries per example if the standalone port carries the
    whole state from one binary run to the next. Prints both and returns whether they agree.
    """
    overrides = brainsnn_overrides(max(examples, 10), outputs, 0)
    rates = training_rates(PROTOCOL, overrides)[:examples]
    bright = rates > np.quantile(rates, 0.90)
    always = np.where(bright, 1e3 / (DT_MS * INTENSITY_START), 0.0)  # Hz: rate * dt = 1
    runtime = run_reference(always, outputs, 0, "numpy", True, 0, gate_ms)
    standalone = run_standalone_reference(always, outputs, 0, True, 0, directory, gate_ms)
    for name, run in (("runtime (numpy)", runtime), ("cpp_standalone", standalone)):
        print(f"{name:<16} spikes {run['spikes']}, retries {run['retries']}")
    pairs = zip(runtime["spikes"], standalone["spikes"], strict=True)
    differing = [k for k, (a, b) in enumerate(pairs) if a != b]
    agree = not differing and runtime["retries"] == standalone["retries"]
    print(
        f"gate {gate_ms} ms: "
        + (
            "the two ports agree on every example"
            if agree
            else f"first difference at example {differing[0] if differing else '(retries)'}"
        )
    )
    return agree


def parse_arguments() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100, help="training examples N")
    parser.add_argument("--outputs", type=int, default=400, help="excitatory neurons N_e")
    parser.add_argument("--seed", type=int, default=0, help="brainsnn seed and reference seed")
    parser.add_argument(
        "--brainsnn-runs", type=int, default=5, help="brainsnn training runs (other Poisson draws)"
    )
    parser.add_argument(
        "--reference-runs", type=int, default=1, help="reference training runs (other draws)"
    )
    parser.add_argument("--protocol", type=Path, default=PROTOCOL)
    parser.add_argument(
        "--target",
        choices=("cython", "numpy", "cpp_standalone"),
        default="cython",
        help="the reference: Brian2 runtime with this code-generation target, or the plain "
        "cpp_standalone port (one binary run per presentation, state through run_args)",
    )
    parser.add_argument("--no-cli", action="store_true", help="skip the 'brainsnn run' row")
    parser.add_argument(
        "--no-plasticity",
        action="store_true",
        help="both sides: eta_ltd = eta_ltp = theta_plus = 0 (compares the dynamics alone)",
    )
    parser.add_argument("--keep", type=Path, help="keep brainsnn outputs in this directory")
    parser.add_argument(
        "--check-carry",
        action="store_true",
        help="only compare the runtime and standalone ports on input that spikes at every "
        "step (--examples of them), which must agree when the state is carried exactly",
    )
    parser.add_argument(
        "--gate-ms",
        type=float,
        default=GATE_MS,
        help="the reference's minimum time between excitatory spikes (ms; the ports' 50)",
    )
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--set", action="append", default=[], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.examples < 10:  # the stratified subset takes at least one image of each class
        parser.error("--examples must be at least 10")
    return args


def main() -> None:
    """Run brainsnn (library, CLI) and the reference one after another; print the comparison."""
    args = parse_arguments()
    if args.worker:
        brainsnn_worker(args.protocol, args.set, args.brainsnn_runs, args.worker)
        return
    if args.check_carry:
        with tempfile.TemporaryDirectory(prefix="diehl_cook_carry_") as scratch:
            agree = check_carry(args.outputs, args.examples, args.gate_ms, Path(scratch))
        sys.exit(0 if agree else 1)
    plastic = not args.no_plasticity
    overrides = brainsnn_overrides(args.examples, args.outputs, args.seed, plastic)
    rates = training_rates(args.protocol, overrides)
    print(
        f"{len(rates)} Fashion-MNIST training examples (brainsnn's order), N_e = {args.outputs}, "
        f"seed {args.seed}{'' if plastic else ', no plasticity'}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="diehl_cook_compare_") as scratch:
        directory = args.keep or Path(scratch)
        directory.mkdir(parents=True, exist_ok=True)
        library = run_brainsnn_library(args.protocol, overrides, args.brainsnn_runs, directory)
        cli = None if args.no_cli else run_brainsnn_cli(args.protocol, overrides, directory)
        reference = []
        for run in range(args.reference_runs):
            if args.target == "cpp_standalone":
                build = directory / "reference_build"
                reference.append(
                    run_standalone_reference(
                        rates, args.outputs, args.seed, plastic, run, build, args.gate_ms
                    )
                )
            else:
                reference.append(
                    run_reference(
                        rates, args.outputs, args.seed, args.target, plastic, run, args.gate_ms
                    )
                )
        if args.keep:
            (directory / "reference.json").write_text(json.dumps(reference))
    report(reference, library, cli, args.outputs)


if __name__ == "__main__":
    main()
