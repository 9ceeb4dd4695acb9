"""brainsnn vs spyx vs snnTorch: the same LIF network trained one after another in ONE run.

The network is protocols/spsn_spoken.yaml with LIF hidden layers (spsn_vs_lif.py's "LIF"
variant, without augmentation, re-simulation or validation split): 700 input channels binned at
1 ms (ceil), each sample front-padded into a 1,400-step frame; three hidden layers Linear(bias,
Kaiming-uniform gain 1, bias 0) + LIF (syn = a syn + x; mem = b mem + (1 - b) syn; spike =
mem > 1; mem = 0 where it spiked, a detached reset; a = b = exp(-1/20); surrogate
1 / (100 |u| + 1)^2); a Linear(128 -> 20) readout into the same LIF without firing, whose
membrane averaged over the batch's steps gives the logits; softmax cross-entropy; Adamax 1e-3,
batch 64. Printed: seconds per training epoch (mean of the epochs after the first, which
includes compilation; the only one when there is one), test accuracy after the same number of
epochs, and each row's time / brainsnn's (both brainsnn rows).

Rows: brainsnn (GradientRun.train_epoch, as gradient_epoch_time.py; a batch runs in the
shortest multiple of data.bucket = 100 steps holding its longest sample), brainsnn-full-frame
(data.bucket=0: every batch in the full 1,400-step frame, the peers' work), spyx and snntorch
(benchmarks/peers_gradient/*.py, run with their own venvs under
benchmarks/output/peer_venvs/<name>, made on first use: spyx==1.0.0 from this interpreter,
snntorch==1.0.0 from --torch-python, after --torch-wheel if given; without it pip installs
``torch`` from PyPI, a multi-GB download with its CUDA libraries). The train / test events are
brainsnn's split and binning (batch_events), exported once to an .npz in the run directory;
each peer densifies its batches from it with NumPy inside its timed epochs (brainsnn builds
them on a worker thread, also timed). Test accuracy: brainsnn's evaluate_split / decisions;
the peers test in brainsnn's test batches (128, in order) with the same mean over valid steps.

Both peers run every batch in the full frame, mask the Linear output (bias included) to 0
before the batch's longest sample begins (so the state stays 0 there, as brainsnn runs nothing
before a batch begins) and average the readout membrane over the valid steps only, as
brainsnn does. snnTorch (``snn.Leaky(reset_mechanism="zero")`` + the synaptic current kept in
the loop, ``surrogate.fast_sigmoid(slope=100)``) matches brainsnn's equations exactly,
detached reset included; it runs the stack step by step in Python, as its tutorials do.
Remaining differences of spyx (``spyx.nn.CuBaLIF`` hidden, ``spyx.nn.LI`` x 2 readout, exact,
``spyx.axn.superspike(100)``, one ``spyx.nn.run`` scan of the whole stack per step):
- CuBaLIF has no (1 - b) on the current: the Linear output is multiplied by (1 - b) (exact);
- it fires on the membrane it starts a step with, i.e. the spike of step t leaves at step
  t + 1: one step of delay per hidden layer (3 in all), and the last membrane of a sample
  never fires;
- it resets by subtraction (mem - 1), not to 0, and its reset is not detached (the gradient
  flows through the reset term with the surrogate).
Other differences: initial weights are drawn by each library's own generator (same
distribution), the shuffling differs, and all use float32. Threads: --threads K (default
os.cpu_count()) sets NPROC=K, which sizes XLA's CPU thread pools, for brainsnn (in this process)
and spyx, and torch.set_num_threads(K) plus OMP_NUM_THREADS=K for snnTorch. On a machine
busy with other work, torch's OpenMP threads spin-wait for cores (one 16-sample batch took 50 s
instead of 2.5 s here); OMP_WAIT_POLICY=PASSIVE in the environment (passed on) avoids that.

    python benchmarks/vs_peers_gradient.py [--epochs N] [--only NAME ...] [--subset N]
        [--threads K] [--torch-python PATH] [--torch-wheel PATH] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from peer_venv import create_venv, last_line

from brainsnn.core.errors import BrainsnnError
from brainsnn.data.shd import batch_events
from brainsnn.gradient.data import SpikeSplit, load_gradient_data
from brainsnn.gradient.protocol import GradientData
from brainsnn.protocol import load_protocol

HERE = Path(__file__).resolve().parent
OUT = HERE / "output" / "vs_peers_gradient"
VENVS = HERE / "output" / "peer_venvs"
PEERS = HERE / "peers_gradient"
PROTOCOL = "protocols/spsn_spoken.yaml"
ROWS = ("brainsnn", "brainsnn-full-frame", "spyx", "snntorch")
#: per peer: the pinned distribution, its version and the modules its script imports
PINS = {
    "spyx": ("spyx", "1.0.0", ["spyx", "flax", "jax", "optax", "numpy"]),
    "snntorch": ("snntorch", "1.0.0", ["snntorch", "torch", "numpy"]),
}
CHECK = """import importlib, importlib.metadata, sys
name, version, *modules = sys.argv[1:]
for module in modules:
    importlib.import_module(module)
sys.exit(importlib.metadata.version(name) != version)
"""


@dataclass
class Row:
    """One library's result, or why it has none."""

    name: str
    epoch_seconds: list[float] = field(default_factory=list)
    accuracy: float | None = None
    versions: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def seconds(self) -> float:
        values = self.epoch_seconds
        return float(np.mean(values[1:] if len(values) > 1 else values))


def overrides(layers: int, epochs: int, subset: int | None, full_frame: bool) -> list[str]:
    """spsn_vs_lif.py's LIF variant, no augmentation, validation split nor re-simulation."""
    hidden = [
        f"network.hidden.{i}.{key}={value}"
        for i in range(layers)
        for key, value in (("neuron", "gradient/lif"), ("firing", "threshold"))
    ]
    values = [
        *hidden,
        "loss.rate_threshold=null",
        "data.shift=0",
        "data.scale=0",
        "data.validation_fraction=0",
        "recording.resimulate=false",
        f"training.epochs={epochs}",
    ]
    if subset is not None:
        values += [f"data.train_subset={subset}", f"data.test_subset={subset}"]
    return [*values, "data.bucket=0"] if full_frame else values


def _split_events(section: GradientData, split: SpikeSplit, name: str) -> dict[str, np.ndarray]:
    found = batch_events(split.events, section.dt, section.steps, section.rounding, split.indices)
    return {
        f"{name}_sample": found.sample.astype(np.int32),
        f"{name}_step": found.step.astype(np.int32),
        f"{name}_unit": found.unit.astype(np.int32),
        f"{name}_lengths": found.lengths.astype(np.int32),
        f"{name}_labels": split.labels.astype(np.int32),
    }


def export_events(protocol_overrides: list[str], path: Path) -> None:
    """brainsnn's train / test split, binned per sample, with the frame and test batch size."""
    protocol = load_protocol(PROTOCOL, protocol_overrides).protocol
    data = load_gradient_data(protocol.data, protocol.seed)
    arrays = _split_events(protocol.data, data.train, "train")
    arrays |= _split_events(protocol.data, data.test, "test")
    scalars = {
        "steps": data.steps,
        "channels": data.channels,
        "classes": protocol.network.readout.size,
        "test_batch": protocol.test.batch_size,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays, **{k: np.asarray(v) for k, v in scalars.items()})


def run_brainsnn(name: str, protocol_overrides: list[str]) -> Row:
    """Train epoch by epoch (wall time of GradientRun.train_epoch), then test."""
    import jax

    from brainsnn.gradient.experiment import GradientRun, decisions, evaluate_split

    experiment = load_protocol(PROTOCOL, protocol_overrides)
    protocol = experiment.protocol
    data = load_gradient_data(protocol.data, protocol.seed)
    run = GradientRun(experiment, data, show_progress=False)
    row = Row(name, versions={"jax": jax.__version__})
    for epoch in range(1, protocol.training.epochs + 1):
        started = time.perf_counter()
        run.train_epoch(epoch)
        row.epoch_seconds.append(time.perf_counter() - started)
        loss = run.progress.history["train_loss"][-1]
        print(f"{name} epoch {epoch}: {row.epoch_seconds[-1]:.1f} s, loss {loss:.4f}", flush=True)
    evaluation = evaluate_split(run.trainer, run.progress.best, data, data.test, protocol.seed + 1)
    predicted = decisions(protocol, evaluation)["membrane"]
    row.accuracy = float((predicted == evaluation.labels).mean())
    return row


def _installed(python: Path, name: str) -> bool:
    """Whether the venv has the pinned version and imports every module the peer needs."""
    if not python.exists():
        return False
    distribution, version, modules = PINS[name]
    command = [python, "-c", CHECK, distribution, version, *modules]
    return subprocess.run(command, capture_output=True).returncode == 0


def peer_venv(name: str, base_python: str, installs: list[list[str]]) -> Path:
    """The peer's venv python, created and installed on first use (RuntimeError: why not)."""
    venv = VENVS / name
    python = venv / "bin" / "python"
    if _installed(python, name):
        return python
    print(f"--- {name}: installing into {venv} (a few minutes, once)", flush=True)
    create_venv(base_python, venv, installs)
    if not _installed(python, name):
        distribution, version, modules = PINS[name]
        raise RuntimeError(
            f"install failed: {venv} lacks {distribution}=={version} or one of {modules}"
        )
    return python


def run_peer(name: str, python: Path, data: Path, epochs: int, batch: int, threads: int) -> Row:
    """Run a peer script; its output is echoed, its last line is its JSON result."""
    script = PEERS / f"{name}_lif.py"
    command = [str(python), str(script), "--data", str(data), "--epochs", str(epochs)]
    command += ["--batch", str(batch), "--threads", str(threads)]
    env = os.environ | {
        "NPROC": str(threads),
        "OMP_NUM_THREADS": str(threads),
        "PYTHONUNBUFFERED": "1",
    }
    lines = []
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if not line.startswith('{"peer"'):
                print(f"  {line}", end="", flush=True)
    results = [line for line in lines if line.startswith('{"peer"')]
    if process.returncode != 0 or not results:
        reason = last_line("\n".join(lines))
        return Row(name, error=f"failed (exit {process.returncode}): {reason}")
    result = json.loads(results[-1])
    return Row(name, result["epoch_seconds"], result["test_accuracy"], result["versions"])


def print_table(rows: list[Row]) -> None:
    bases = {
        row.name: row.seconds
        for row in rows
        if row.name.startswith("brainsnn") and row.error is None
    }
    ratios = "".join(f" {'/ ' + name:>22s}" for name in bases)
    print(f"\n{'row':20s} {'epochs':>6s} {'s/epoch':>8s} {'test acc':>9s}{ratios}")
    for row in rows:
        if row.error is not None:
            print(f"{row.name:20s} {row.error}")
            continue
        numbers = f"{len(row.epoch_seconds):6d} {row.seconds:8.2f} {row.accuracy:9.4f}"
        shares = "".join(f" {row.seconds / value:21.2f}x" for value in bases.values())
        print(f"{row.name:20s} {numbers}{shares}")
    print("(s/epoch: mean over the epochs after the first, which includes compilation)")
    for row in rows:
        if row.versions:
            listed = ", ".join(f"{k} {v}" for k, v in row.versions.items())
            print(f"{row.name}: {listed}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--only", action="append", default=[], choices=ROWS, help="repeatable")
    parser.add_argument("--subset", type=int, help="only the first N train and N test samples")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--torch-python", default="python3", help="interpreter of snnTorch's venv")
    parser.add_argument("--torch-wheel", help="local torch wheel installed before snntorch")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    os.environ["NPROC"] = str(args.threads)  # before JAX starts its CPU client
    layers = len(load_protocol(PROTOCOL).protocol.network.hidden)
    plain = overrides(layers, args.epochs, args.subset, full_frame=False)
    directory = args.out / time.strftime("%Y%m%d-%H%M%S")
    events = directory / "spoken_digits_events.npz"
    export_events(plain, events)
    batch = load_protocol(PROTOCOL, plain).protocol.training.batch_size
    print(f"--- events: {events}; {args.threads} threads", flush=True)
    installs = {
        "spyx": (sys.executable, [["spyx==1.0.0"]]),
        "snntorch": (
            args.torch_python,
            [[args.torch_wheel or "torch", "numpy"], ["snntorch==1.0.0"]],
        ),
    }
    rows = []
    for name in ROWS:
        if args.only and name not in args.only:
            continue
        print(f"--- {name}", flush=True)
        try:
            if name.startswith("brainsnn"):
                full = name == "brainsnn-full-frame"
                rows.append(run_brainsnn(name, overrides(layers, args.epochs, args.subset, full)))
            else:
                python = peer_venv(name, *installs[name])
                rows.append(run_peer(name, python, events, args.epochs, batch, args.threads))
        except (BrainsnnError, RuntimeError) as exc:
            rows.append(Row(name, error=str(exc)))
        except Exception as exc:  # a brainsnn row that crashed: report it, run the others
            rows.append(Row(name, error=f"failed: {type(exc).__name__}: {exc}"))
        if rows[-1].error is not None:
            print(f"{name}: {rows[-1].error}", flush=True)
    print_table(rows)
    summary = [row.__dict__ | ({} if row.error else {"seconds": row.seconds}) for row in rows]
    (directory / "results.json").write_text(json.dumps(summary, indent=1) + "\n")
    return 1 if any(row.error is not None for row in rows) else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BrainsnnError as exc:
        sys.exit(f"error: {exc}")
