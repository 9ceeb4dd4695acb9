"""brainsnn vs SpikeNN: the same NCG readout trained side by side, one core each, in ONE run.

SpikeNN (the peer, GPL-3, run unmodified from ``--spikenn``, default ../shared/peers/spikenn
beside the repository) and brainsnn train the same S2-STDP + NCG + CR-2 readout on the same
samples, started at the same time, SpikeNN pinned to the first of ``--cores`` (``taskset -c
0``) and brainsnn to the second (``-c 1``). Printed: final test accuracy, training samples/s
(steady epochs: the epochs after the first, which includes SpikeNN's Numba JIT and brainsnn's
C++ build; the first when it is the only one), evaluation (validation + test) samples/s, wall
time from start to exit, peak RSS, and each ratio brainsnn / SpikeNN.

Workloads (``--workload``):

- ``pixels``: protocols/ncg_fmnist.yaml on Fashion-MNIST pixels (Debian's IDX files, ``apt-get
  install dataset-fashion-mnist``). brainsnn's own splits (``prepare_data``: stratified
  subsets, stratified 10 % validation) are written as SpikeNN's trainset / valset / testset
  from the grid steps (TTFS of 8-bit pixels on a 255-step grid is lossless: both see
  identical spike times). SpikeNN's JSON config is derived from the protocol's values and
  checked by importing it back (brainsnn.spikenn_configs) against the protocol.
- ``csnn``: protocols/spikenn/csnn/fmnist/s2stdp+ncg.yaml (generated from SpikeNN's own
  config/STDP-CSNN/F-MNIST/s2stdp+ncg.json, which SpikeNN runs) on STDP-CSNN features
  (``--features DIR`` with trainset.npy / testset.npy from benchmarks/csnn_features.sh).
  brainsnn reads those files (``--set data.train_file=...``); SpikeNN gets files holding the
  same rows (brainsnn's row selection, recomputed as ``prepare_data`` does it) with the exact
  times. Both keep them exact: the protocol says ``encoding.time_steps: exact`` (one step per
  distinct spike time of a sample).

How it is measured: SpikeNN logs accuracies but no timings, so every line it prints is time
stamped as it arrives (unbuffered pipe): epoch e trains from its config line (e = 0) or the
last evaluation line of epoch e - 1 to its "training set" line, and evaluates from there to
its last "validation" / "test" line. brainsnn's times come from its results.nc
(train_samples_per_second, epoch_wall_time = training + evaluation). Peak RSS: the largest
single process of each program's tree (``/usr/bin/time -f %M``, GNU time's "maximum resident
set size"; brainsnn's compiled C++ binary is a child process of its Python), and the peak of
the whole tree summed, sampled every 0.5 s from /proc. Both wall times include loading data
(only SpikeNN's input files are made beforehand by this script) and brainsnn's C++ build when
it is not in its cache yet (then said under the table). Both run with one thread
(OMP/NUMBA/BLAS_NUM_THREADS=1). A row whose value is "-" could not be measured.

``--kfold``: afterwards, K-fold cross-validation (default 10) side by side, each on its core:
SpikeNN's app/kfold.py (``--n_proc 1``: folds one after another) on fold folders written from
brainsnn's folds (StratifiedKFold, no shuffling, over the training subset; fold i validates
and early-stops on fold i, seed i) vs ``brainsnn kfold --workers 1``; mean test accuracies and
wall times. ``--seed`` does not apply there (both use seed i for fold i).

Differences that remain: initial weights come from each program's own generator (same Normal
distribution, not the same draw) and SpikeNN computes in float32; see also the notes printed
with the table. SpikeNN runs in its own venv, benchmarks/output/peer_venvs/spikenn, made on first
use from ``--python`` (default the system ``python3``) with ``pip install numpy numba tqdm``.

Usage::

    .venv/bin/python benchmarks/vs_spikenn.py [--workload pixels|csnn] [--epochs N]
        [--train-subset N] [--test-subset N] [--seed S] [--spikenn PATH] [--features DIR]
        [--keep DIR] [--kfold [--k K]] [--cores A,B] [--python PYTHON]

    e.g. --workload pixels --epochs 2 --train-subset 10000 --test-subset 2000
         --workload csnn --epochs 1 --train-subset 5000 --features /tmp/csnn_features/fmnist
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from peer_venv import create_venv, last_line

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
VENV = HERE / "output" / "peer_venvs" / "spikenn"
DEFAULT_SPIKENN = REPO.parent / "shared" / "peers" / "spikenn"
DEFAULT_FEATURES = Path("~/data/spikenn/csnn/fmnist").expanduser()
PROTOCOLS = {
    "pixels": REPO / "protocols" / "ncg_fmnist.yaml",
    "csnn": REPO / "protocols" / "spikenn" / "csnn" / "fmnist" / "s2stdp+ncg.yaml",
}
#: SpikeNN's shipped config that the csnn protocol was generated from.
CSNN_CONFIG = Path("config", "STDP-CSNN", "F-MNIST", "s2stdp+ncg.json")
IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
PEER_MODULES = ("numpy", "numba", "tqdm")
SINGLE_THREAD = {
    name: "1"
    for name in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
}
ACCURACY = re.compile(
    r"Accuracy on (training|validation|test) set after epoch (\d+): ([0-9.eE+-]+)"
)
SPLIT_SIZES = re.compile(r"(\d+) train / (\d+) validation / (\d+) test samples")
#: Rows up to which csnn's row selection is cross-checked against prepare_data itself.
CROSSCHECK_ROWS = 20_000
SAMPLE_INTERVAL = 0.5  # s between /proc samples of the process trees
GNU_TIME = "/usr/bin/time"


class Failure(Exception):
    """A problem reported as one line, without a traceback."""


# --------------------------------------------------------------------------- SpikeNN's venv


def _peer_versions(python: Path) -> dict[str, str] | None:
    """Versions of the peer's modules in ``python``, or None when one does not import."""
    if not python.exists():
        return None
    code = (
        "import importlib, json, platform, sys\n"
        "v = {m: importlib.import_module(m).__version__ for m in sys.argv[1:]}\n"
        "print(json.dumps({'python': platform.python_version(), **v}))"
    )
    done = subprocess.run([python, "-c", code, *PEER_MODULES], capture_output=True, text=True)
    return json.loads(done.stdout) if done.returncode == 0 else None


def spikenn_venv(base_python: str) -> tuple[Path, dict[str, str]]:
    """SpikeNN's venv python and its versions, created on first use (Failure: why not)."""
    python = VENV / "bin" / "python"
    versions = _peer_versions(python)
    if versions is not None:
        return python, versions
    print(f"--- SpikeNN: installing numpy, numba, tqdm into {VENV} (once)", flush=True)
    try:
        create_venv(base_python, VENV, [list(PEER_MODULES)])
    except RuntimeError as exc:
        raise Failure(f"cannot make SpikeNN's venv: {exc}") from None
    versions = _peer_versions(python)
    if versions is None:
        raise Failure(f"{VENV} does not import {', '.join(PEER_MODULES)} after installing them")
    return python, versions


# --------------------------------------------------------------------------- configs


def spikenn_config_of(protocol: Any, n_classes: int) -> dict[str, Any]:
    """SpikeNN's JSON config with the values of an S2-STDP + NCG + CR-2 readout protocol."""
    from brainsnn.readout.protocol import DEFAULT_MODELS  # S2-STDP + NCG + CR-2

    network, training = protocol.network, protocol.training
    if list(network.models) != DEFAULT_MODELS:
        raise Failure(f"{protocol.name}: models {network.models} are not {DEFAULT_MODELS}")
    p = network.parameters
    try:
        return {
            "network": [
                {
                    "n_neurons": n_classes * network.neurons_per_class,
                    "firing_threshold": float(p["theta0"]),
                    "w_init_normal": True,
                    "w_init_mean": float(network.weights.mean),
                    "w_init_std": float(network.weights.std),
                    "w_norm": bool(p["w_norm"]),
                    "w_min": float(p["w_min"]),
                    "w_max": float(p["w_max"]),
                }
            ],
            "optimizer": {
                "method": "s2stdp",
                "stdp": "additive",
                "class_inhib": True,
                "t_gap": float(p["gap"]),
                "ap": float(p["a_plus"]),
                "am": float(p["a_minus"]),
                "annealing": float(p["annealing"]),
            },
            "regularizer": {"thr_lr": float(p["thr_lr"]), "thr_anneal": float(p["thr_anneal"])},
            "trainer": {
                "epochs": training.max_epochs,
                "nt_neurons": network.nontarget_per_class,
                "early_stopping": training.patience,
            },
        }
    except KeyError as exc:
        raise Failure(f"{protocol.name}: network.parameters lacks {exc}") from None


def check_same_settings(config: dict[str, Any], protocol: Any, n_classes: int) -> None:
    """Failure unless ``config``, imported by brainsnn.spikenn_configs, gives ``protocol``'s
    network and training values."""
    from brainsnn.core.errors import ConfigError
    from brainsnn.spikenn_configs import import_config

    try:
        imported = import_config(config, name=protocol.name, n_classes=n_classes, features=".")
    except ConfigError as exc:
        raise Failure(f"SpikeNN config not importable: {exc}") from None
    want, network = imported.protocol, protocol.network
    have: dict[str, Any] = {
        "neurons_per_class": network.neurons_per_class,
        "nontarget_per_class": network.nontarget_per_class,
        "models": list(network.models),
        "weights.mean": network.weights.mean,
        "weights.std": network.weights.std,
        "max_epochs": protocol.training.max_epochs,
        "patience": protocol.training.patience,
    }
    have |= {f"parameters.{key}": value for key, value in network.parameters.items()}
    expected = {key: want["network"].get(key) for key in list(have)[:3]}
    expected |= {f"weights.{k}": v for k, v in want["network"].get("weights", {}).items()}
    expected |= {f"parameters.{k}": v for k, v in want["network"]["parameters"].items()}
    expected |= {key: want["training"].get(key) for key in ("max_epochs", "patience")}
    differ = [key for key in {**have, **expected} if have.get(key) != expected.get(key)]
    if differ:
        listed = "; ".join(
            f"{k}: brainsnn {have.get(k)} vs SpikeNN {expected.get(k)}" for k in differ
        )
        raise Failure(f"the brainsnn protocol and the SpikeNN config differ: {listed}")


# --------------------------------------------------------------------------- data


@dataclass
class Splits:
    """SpikingDataset dicts of one train / validation / test split, as SpikeNN reads them."""

    train: dict[str, Any]
    validation: dict[str, Any]
    test: dict[str, Any]

    @property
    def sizes(self) -> tuple[int, int, int]:
        """(train, validation, test) samples."""
        return len(self.train["labels"]), len(self.validation["labels"]), len(self.test["labels"])


def _grid_dataset(steps: np.ndarray, labels: np.ndarray, time_steps: int) -> dict[str, Any]:
    """A SpikingDataset dict of grid steps (times k / time_steps), block by block (memory)."""
    from brainsnn.data import features_to_spiking_dataset, grid_times

    data: list[np.recarray] = []
    for start in range(0, len(labels), 4096):
        block = slice(start, start + 4096)
        made = features_to_spiking_dataset(grid_times(steps[block], time_steps), labels[block])
        data += list(made["data"])
    # labels as brainsnn has them (0..C-1): a block's own remapping could drop a class
    return {"data": data, "labels": labels.astype(np.int16), "shape": steps.shape, "max_time": 1}


def check_fmnist(protocol: Any) -> None:
    """Failure in one line when the Fashion-MNIST IDX files are missing."""
    folder = Path(protocol.data.path or "").expanduser()
    missing = [n for n in IDX_FILES if not any((folder / f"{n}{s}").is_file() for s in ("", ".gz"))]
    if missing:
        raise Failure(
            f"Fashion-MNIST IDX files not found in {folder}: apt-get install dataset-fashion-mnist"
        )


def pixel_splits(protocol_path: Path, overrides: list[str]) -> Splits:
    """brainsnn's prepare_data splits of the pixels protocol, as SpikingDataset dicts."""
    from brainsnn.protocol import load_protocol
    from brainsnn.readout.data import prepare_data

    data = prepare_data(load_protocol(protocol_path, overrides).protocol)
    made = [
        _grid_dataset(split.input_steps, split.labels, data.time_steps)
        for split in (data.train, data.validation, data.test)
    ]
    return Splits(*made)


def load_feature_file(path: Path) -> dict[str, Any]:
    """A SpikingDataset file of STDP-CSNN features (Failure when missing or unreadable)."""
    if not path.is_file():
        raise Failure(
            f"{path} not found: make the features with "
            f"'bash benchmarks/csnn_features.sh {path.parent}' or pass --features DIR"
        )
    try:
        dataset = np.load(path, allow_pickle=True).item()
    except (OSError, ValueError, EOFError) as exc:
        raise Failure(f"cannot read {path}: {exc}") from None
    if not isinstance(dataset, dict) or not {"data", "labels", "shape"} <= set(dataset):
        raise Failure(f"{path} is not a SpikingDataset file")
    return dataset


def brainsnn_rows(
    data: Any, train_y: np.ndarray, test_y: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fit, validation, test) rows of the files, selected as brainsnn's prepare_data does."""
    from brainsnn.core.splits import kfold_split, stratified_split, stratified_subset

    train_rows = stratified_subset(train_y, data.train_subset, data.split_seed)
    test_rows = stratified_subset(test_y, data.test_subset, data.split_seed)
    if data.folds is None and data.fold is None:
        fit, val = stratified_split(train_y[train_rows], data.validation_fraction, data.split_seed)
    else:
        fit, val = kfold_split(train_y[train_rows], data.folds, data.fold)
    return train_rows[fit], train_rows[val], test_rows


def _rows(dataset: dict[str, Any], rows: np.ndarray) -> dict[str, Any]:
    """The SpikingDataset dict of some rows of ``dataset``, spikes as stored (exact times)."""
    width = int(dataset["shape"][1])
    return {
        "data": [dataset["data"][int(i)] for i in rows],
        "labels": np.asarray(dataset["labels"])[rows],
        "shape": (len(rows), width),
        "max_time": dataset.get("max_time", 1),
    }


def _dense(dataset: dict[str, Any], row: int) -> np.ndarray:
    times = np.ones(int(dataset["shape"][1]))
    sample = dataset["data"][row]
    times[np.asarray(sample["indices"], dtype=np.int64)] = sample["timestamps"]
    return times


def crosscheck_rows(protocol: Any, splits: Splits) -> None:
    """Failure unless prepare_data gives the same labels, and the same grid steps (exact grid:
    the same times) for the first rows, as the files written for SpikeNN."""
    from brainsnn.data import quantise_times
    from brainsnn.readout.data import prepare_data

    data = prepare_data(protocol)
    prepared = (data.train, data.validation, data.test)
    written = (splits.train, splits.validation, splits.test)
    for name, split, dataset in zip(
        ("train", "validation", "test"), prepared, written, strict=True
    ):
        if not np.array_equal(split.labels, np.asarray(dataset["labels"], dtype=np.int64)):
            raise Failure(f"csnn {name} rows differ from brainsnn's prepare_data (labels)")
        for row in range(min(3, len(split))):
            times = _dense(dataset, row)
            if data.exact_times:  # the exact grid keeps the times as stored
                same = np.array_equal(split.times(data.time_steps)[row], times)
            else:
                steps = quantise_times(times, data.time_steps)
                same = np.array_equal(steps, split.input_steps[row])
            if not same:
                raise Failure(f"csnn {name} row {row} differs from brainsnn's prepare_data")


def feature_splits(
    protocol: Any, train: dict[str, Any], test: dict[str, Any], check: bool
) -> Splits:
    """SpikeNN's files for the csnn protocol: the rows brainsnn uses, exact times."""
    train_y = np.asarray(train["labels"], dtype=np.int64)
    test_y = np.asarray(test["labels"], dtype=np.int64)
    fit, val, rows = brainsnn_rows(protocol.data, train_y, test_y)
    splits = Splits(_rows(train, fit), _rows(train, val), _rows(test, rows))
    if check and len(fit) + len(val) <= CROSSCHECK_ROWS:
        crosscheck_rows(protocol, splits)
    return splits


def write_splits(splits: Splits, folder: Path, test: Path | None = None) -> None:
    """trainset.npy, valset.npy, testset.npy in ``folder`` (testset: a link to ``test``)."""
    from brainsnn.data import write_spiking_dataset

    folder.mkdir(parents=True, exist_ok=True)
    write_spiking_dataset(folder / "trainset.npy", splits.train)
    write_spiking_dataset(folder / "valset.npy", splits.validation)
    if test is None:
        write_spiking_dataset(folder / "testset.npy", splits.test)
    else:
        (folder / "testset.npy").symlink_to(test)


# --------------------------------------------------------------------------- running


def _children() -> dict[int, list[int]]:
    """Parent pid → child pids, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        ppid = int(stat[stat.rfind(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def _tree_rss(root: int, children: dict[int, list[int]]) -> int:
    """Resident bytes of ``root`` and all its descendants."""
    total, stack, page = 0, [root], os.sysconf("SC_PAGE_SIZE")
    while stack:
        pid = stack.pop()
        stack += children.get(pid, [])
        try:
            with open(f"/proc/{pid}/statm") as handle:
                total += int(handle.read().split()[1]) * page
        except (OSError, IndexError, ValueError):
            pass
    return total


@dataclass
class Child:
    """A program run to its end: its time-stamped output lines and resource use."""

    name: str
    command: list[str]
    cwd: Path
    env: dict[str, str]
    log: Path
    lines: list[tuple[float, str]] = field(default_factory=list)
    returncode: int | None = None
    started: float = 0.0
    wall: float = 0.0
    max_rss: int = 0  # bytes: the largest single process of the tree (GNU time's %M)
    tree_rss: int = 0  # bytes: the peak of the tree's sum (sampled)
    process: subprocess.Popen[str] | None = None
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        """Start the program, its output reader and its waiter."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.started = time.perf_counter()
        try:
            self.process = subprocess.Popen(
                self.command,
                cwd=self.cwd,
                env=self.env,
                text=True,
                bufsize=1,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        except OSError as exc:
            raise Failure(f"cannot start {self.name}: {self.command[0]}: {exc.strerror}") from None
        self.threads = [threading.Thread(target=f) for f in (self._read, self._wait)]
        for thread in self.threads:
            thread.start()

    def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        with open(self.log, "w") as log:
            for line in self.process.stdout:
                stamp = time.perf_counter() - self.started
                self.lines.append((stamp, line.rstrip("\n")))
                log.write(f"{stamp:10.3f} {line}")
                log.flush()

    def _wait(self) -> None:
        assert self.process is not None
        self.returncode = self.process.wait()
        self.wall = time.perf_counter() - self.started
        self.max_rss = read_max_rss(self.command)

    @property
    def running(self) -> bool:
        """Whether the program has not ended yet."""
        return self.returncode is None

    def join(self) -> None:
        """Wait for the output reader and the waiter."""
        for thread in self.threads:
            thread.join()

    def stop(self) -> None:
        """Terminate the program (Ctrl-C of this script)."""
        if self.process is not None and self.running:
            self.process.terminate()

    def failure(self) -> str | None:
        """Why the program failed, or None."""
        if self.returncode == 0:
            return None
        text = "\n".join(line for _, line in self.lines)
        return f"{self.name} failed (exit {self.returncode}): {last_line(text)} ({self.log.name})"


def run_side_by_side(children: list[Child]) -> None:
    """Start every child at once, sample their process trees until all have ended."""
    for child in children:
        child.start()
    try:
        while any(child.running for child in children):
            if Path("/proc/self/stat").exists():
                tree = _children()
                for child in children:
                    if child.running and child.process is not None:
                        rss = _tree_rss(child.process.pid, tree)
                        child.tree_rss = max(child.tree_rss, rss)
            time.sleep(SAMPLE_INTERVAL)
    except KeyboardInterrupt:
        for child in children:
            child.stop()
        raise
    finally:
        for child in children:
            child.join()


def pinned(core: int, command: list[str], rss: Path) -> list[str]:
    """``command`` pinned to one core, under GNU time writing its peak RSS (KiB) to ``rss``.

    Not ``wait4`` on the child itself: Linux carries the peak RSS of the process image that
    exec replaces (this script, brainsnn and data loaded) over into the child's.
    """
    timed = [GNU_TIME, "-f", "%M", "-o", str(rss)] if Path(GNU_TIME).is_file() else []
    return ["taskset", "-c", str(core), *timed, *command]


def read_max_rss(command: list[str]) -> int:
    """Bytes of the peak RSS that GNU time wrote for a ``pinned`` command (0: unknown)."""
    if GNU_TIME not in command:
        return 0
    rss = Path(command[command.index("-o") + 1])
    try:
        return int(rss.read_text().split()[-1]) * 1024
    except (OSError, ValueError, IndexError):
        return 0


def brainsnn_command() -> list[str]:
    """The brainsnn CLI of this interpreter's environment."""
    script = Path(sys.executable).with_name("brainsnn")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from brainsnn.cli import main; main()"]


# --------------------------------------------------------------------------- results


@dataclass
class Epochs:
    """Per-epoch training / evaluation seconds and test accuracy of one program."""

    train_seconds: list[float]
    eval_seconds: list[float]
    test_accuracy: list[float]


@dataclass
class Result:
    """One program's measurements."""

    name: str
    sizes: tuple[int, int, int]  # train, validation, test samples
    epochs: Epochs | None = None
    wall: float = 0.0
    max_rss: int = 0
    tree_rss: int = 0
    error: str | None = None
    versions: dict[str, str] = field(default_factory=dict)

    def _steady(self) -> list[int]:
        assert self.epochs is not None
        count = len(self.epochs.train_seconds)
        return list(range(1, count)) if count > 1 else list(range(count))

    def train_rate(self) -> float | None:
        """Training samples/s over the steady epochs."""
        if not self.epochs or not self.epochs.train_seconds:
            return None
        steady = self._steady()
        seconds = sum(self.epochs.train_seconds[i] for i in steady)
        return self.sizes[0] * len(steady) / seconds if seconds > 0 else None

    def eval_rate(self) -> float | None:
        """Validation + test samples/s over the steady epochs."""
        if not self.epochs or len(self.epochs.eval_seconds) != len(self.epochs.train_seconds):
            return None
        steady = self._steady()
        seconds = sum(self.epochs.eval_seconds[i] for i in steady)
        return (self.sizes[1] + self.sizes[2]) * len(steady) / seconds if seconds > 0 else None

    def accuracy(self) -> float | None:
        """Test accuracy after the last epoch."""
        return self.epochs.test_accuracy[-1] if self.epochs and self.epochs.test_accuracy else None


def spikenn_epochs(lines: list[tuple[float, str]]) -> Epochs:
    """Epoch times from SpikeNN's time-stamped output (see the module docstring)."""
    start = next((stamp for stamp, line in lines if line.startswith("{")), None)
    if start is None:
        raise Failure("SpikeNN printed no config line: cannot time its epochs")
    trained: dict[int, float] = {}
    evaluated: dict[int, float] = {}
    tests: dict[int, float] = {}
    for stamp, line in lines:
        found = ACCURACY.search(line)
        if not found:
            continue
        kind, epoch, value = found.group(1), int(found.group(2)), float(found.group(3))
        if kind == "training":
            trained[epoch] = stamp
        else:
            evaluated[epoch] = stamp
            if kind == "test":
                tests[epoch] = value
    epochs = Epochs([], [], [])
    before = start
    for epoch in sorted(trained):
        epochs.train_seconds.append(trained[epoch] - before)
        before = evaluated.get(epoch, trained[epoch])
        if epoch in evaluated:
            epochs.eval_seconds.append(evaluated[epoch] - trained[epoch])
        if epoch in tests:
            epochs.test_accuracy.append(tests[epoch])
    return epochs


def brainsnn_epochs(run_dir: Path, sizes: tuple[int, int, int]) -> tuple[Epochs, dict[str, str]]:
    """Epoch times, accuracies and versions from brainsnn's results.nc."""
    import xarray as xr

    with xr.open_dataset(run_dir / "results.nc") as results:
        speed = results.train_samples_per_second.values
        wall = results.epoch_wall_time.values
        tests = results.test_accuracy.values
        attrs = dict(results.attrs)
    train = [sizes[0] / float(s) for s in speed]
    epochs = Epochs(
        train, [float(w) - t for w, t in zip(wall, train, strict=True)], [float(a) for a in tests]
    )
    keys = ("brainsnn_version", "brian2_version", "numpy_version", "python_version", "device")
    return epochs, {key: str(attrs[key]) for key in keys if key in attrs}


def check_brainsnn_sizes(run_dir: Path, sizes: tuple[int, int, int]) -> str | None:
    """A warning when brainsnn's run.log reports other split sizes than SpikeNN's files."""
    log = run_dir / "run.log"
    found = SPLIT_SIZES.search(log.read_text()) if log.is_file() else None
    if found is None:
        return "brainsnn's run.log does not state its split sizes"
    theirs = tuple(int(found.group(i)) for i in (1, 2, 3))
    if theirs != sizes:
        return f"split sizes differ: brainsnn {theirs} vs SpikeNN {sizes}"
    return None


def _ratio(brainsnn: float | None, spikenn: float | None) -> str:
    if brainsnn is None or spikenn is None or spikenn == 0:
        return "-"
    return f"{brainsnn / spikenn:.3f}"


def print_table(rows: list[tuple[str, str, str, str]]) -> None:
    """Rows of (measure, SpikeNN, brainsnn, ratio)."""
    width = max(len(row[0]) for row in rows)
    print(f"\n{'':{width}s} {'SpikeNN':>12s} {'brainsnn':>12s} {'brainsnn/SpikeNN':>17s}")
    for measure, spikenn, brainsnn, ratio in rows:
        print(f"{measure:{width}s} {spikenn:>12s} {brainsnn:>12s} {ratio:>17s}")


def _fmt(value: float | None, form: str) -> str:
    return "-" if value is None else format(value, form)


def _mb(value: int) -> float | None:
    return value / 2**20 if value else None


def run_table(spikenn: Result, brainsnn: Result) -> list[tuple[str, str, str, str]]:
    """The single run's table rows."""
    rows = []
    for label, get, form in (
        ("final test accuracy", Result.accuracy, ".4f"),
        ("training samples/s (steady)", Result.train_rate, ".1f"),
        ("val+test samples/s (steady)", Result.eval_rate, ".1f"),
        ("wall time start-end (s)", lambda r: r.wall or None, ".1f"),
        ("peak RSS, largest process (MiB)", lambda r: _mb(r.max_rss), ".0f"),
        ("peak RSS, process tree (MiB)", lambda r: _mb(r.tree_rss), ".0f"),
    ):
        values = [
            None if r.error and label != "wall time start-end (s)" else get(r)
            for r in (spikenn, brainsnn)
        ]
        ratio = "-" if spikenn.error or brainsnn.error else _ratio(*values[::-1])
        rows.append((label, _fmt(values[0], form), _fmt(values[1], form), ratio))
    counts = [str(len(r.epochs.train_seconds)) if r.epochs else "-" for r in (spikenn, brainsnn)]
    rows.append(("epochs run", *counts, "-"))
    return rows


# --------------------------------------------------------------------------- main


@dataclass
class Setup:
    """What both programs run: brainsnn's protocol and overrides, SpikeNN's config."""

    protocol_path: Path
    overrides: list[str]
    protocol: Any
    config: dict[str, Any]
    n_classes: int
    notes: list[str]


def overrides_of(args: argparse.Namespace) -> list[str]:
    """brainsnn --set values for the command-line options."""
    values = [f"training.max_epochs={args.epochs}"]
    if args.train_subset is not None:
        values.append(f"data.train_subset={args.train_subset}")
    if args.test_subset is not None:
        values.append(f"data.test_subset={args.test_subset}")
    if args.workload == "csnn":
        features = args.features.resolve()
        values += [
            f"data.train_file={features / 'trainset.npy'}",
            f"data.test_file={features / 'testset.npy'}",
        ]
    return values


def make_setup(args: argparse.Namespace, spikenn: Path) -> Setup:
    """Load the workload's protocol and SpikeNN config and check that they agree."""
    from brainsnn.core.errors import BrainsnnError
    from brainsnn.protocol import load_protocol
    from brainsnn.spikenn_configs import read_config

    path = PROTOCOLS[args.workload]
    overrides = overrides_of(args)
    try:
        protocol = load_protocol(path, overrides).protocol
        n_classes = 10
        if args.workload == "pixels":
            check_fmnist(protocol)
            config = spikenn_config_of(protocol, n_classes)
            notes = [
                "SpikeNN config derived from protocols/ncg_fmnist.yaml (checked by importing it "
                "back with brainsnn.spikenn_configs)",
                f"identical spike times: TTFS of 8-bit pixels on brainsnn's "
                f"{protocol.encoding.time_steps or 255}-step grid, written for SpikeNN as k/255",
            ]
        else:
            config = read_config(spikenn / CSNN_CONFIG)
            config["trainer"]["epochs"] = args.epochs
            notes = [
                f"SpikeNN config: its own {CSNN_CONFIG} with trainer.epochs = {args.epochs}; "
                f"brainsnn: {path.relative_to(REPO)} (generated from it)",
                f"brainsnn's time grid: encoding.time_steps = {protocol.encoding.time_steps} "
                "('exact': one step per distinct spike time, the times as stored); SpikeNN uses "
                "the exact (float32) times",
                "brainsnn reads the whole feature files (then selects its rows), SpikeNN files "
                "with only the selected rows: brainsnn's wall time and RSS include that",
            ]
        check_same_settings(config, protocol, n_classes)
    except BrainsnnError as exc:
        raise Failure(str(exc)) from None
    notes.append(
        "initial weights: same Normal distribution, each program's own generator (not the "
        "same draw); SpikeNN computes in float32"
    )
    return Setup(path, overrides, protocol, config, n_classes, notes)


def check_inputs(args: argparse.Namespace) -> Path:
    """SpikeNN's folder, after checking every input this run needs (Failure: which not)."""
    spikenn = args.spikenn.expanduser().resolve()
    if not (spikenn / "app" / "run.py").is_file() or not (spikenn / "spikenn").is_dir():
        raise Failure(f"SpikeNN not found at {spikenn} (no app/run.py): pass --spikenn PATH")
    if args.workload == "csnn":
        for name in ("trainset.npy", "testset.npy"):
            if not (args.features / name).is_file():
                raise Failure(
                    f"{args.features / name} not found: make the STDP-CSNN features "
                    f"with 'bash benchmarks/csnn_features.sh {args.features}' or pass "
                    "--features DIR"
                )
    if shutil.which("taskset") is None:
        raise Failure("taskset not found (apt-get install util-linux)")
    cores = os.sched_getaffinity(0)
    if len(args.cores) != 2 or not set(args.cores) <= cores or args.cores[0] == args.cores[1]:
        raise Failure(f"--cores needs two different cores of {sorted(cores)}, got {args.cores}")
    if args.keep is not None and args.keep.exists() and any(args.keep.iterdir()):
        raise Failure(f"--keep {args.keep}: the folder is not empty")
    return spikenn


def environments(spikenn: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Environments of SpikeNN (its package importable, no bytecode written into its tree)
    and brainsnn, both single-threaded and unbuffered."""
    base = os.environ | SINGLE_THREAD | {"PYTHONUNBUFFERED": "1"}
    peer = base | {"PYTHONPATH": str(spikenn), "PYTHONDONTWRITEBYTECODE": "1"}
    peer.pop("PYTHONHOME", None)
    return peer, dict(base)


def build_cache(protocol: Any) -> Path:
    """Where brainsnn caches its compiled builds for ``protocol``."""
    from brainsnn.core.builds import build_root

    return build_root(protocol.device.build_dir)


def pair(
    cores: list[int],
    spikenn: Path,
    work: Path,
    tag: str,
    peer_command: list[str],
    own_command: list[str],
) -> tuple[Child, Child]:
    """SpikeNN (from its app/ folder) and brainsnn (from the repository), each on its core."""
    peer_env, own_env = environments(spikenn)
    peer_rss, own_rss = work / f"spikenn{tag}.rss", work / f"brainsnn{tag}.rss"
    peer = Child(
        "SpikeNN", pinned(cores[0], peer_command, peer_rss), spikenn / "app", peer_env,
        work / f"spikenn{tag}.log",
    )  # fmt: skip
    own = Child(
        "brainsnn", pinned(cores[1], own_command, own_rss), REPO, own_env,
        work / f"brainsnn{tag}.log",
    )  # fmt: skip
    return peer, own


def single_run(
    args: argparse.Namespace, setup: Setup, spikenn: Path, python: Path, work: Path
) -> tuple[Result, Result, list[str]]:
    """Write SpikeNN's files, run both side by side, parse their results."""
    data_dir = work / "spikenn_data"
    print("--- writing SpikeNN's input files", flush=True)
    if args.workload == "pixels":
        splits = pixel_splits(setup.protocol_path, setup.overrides)
    else:
        train = load_feature_file(args.features / "trainset.npy")
        test = load_feature_file(args.features / "testset.npy")
        splits = feature_splits(setup.protocol, train, test, check=True)
        del train, test
    write_splits(splits, data_dir)
    sizes = splits.sizes
    del splits
    config_path = work / "spikenn_config.json"
    config_path.write_text(json.dumps(setup.config, indent=4) + "\n")
    sets = [item for value in setup.overrides for item in ("--set", value)]
    peer_command = [str(python), "run.py", str(data_dir), str(work / "spikenn"), str(config_path)]
    peer_command += ["--seed", str(args.seed)]
    own_command = [*brainsnn_command(), "run", str(setup.protocol_path), *sets]
    own_command += ["--seed", str(args.seed), "--out", str(work / "brainsnn"), "--quiet"]
    peer, own = pair(args.cores, spikenn, work, "", peer_command, own_command)
    print(
        f"--- {sizes[0]} train / {sizes[1]} validation / {sizes[2]} test samples; running "
        f"SpikeNN on core {args.cores[0]} and brainsnn on core {args.cores[1]}",
        flush=True,
    )
    cache = build_cache(setup.protocol)
    cached = set(os.listdir(cache)) if cache.is_dir() else set()
    run_side_by_side([peer, own])
    results, warnings = [], []
    if cache.is_dir() and set(os.listdir(cache)) - cached:
        warnings.append(
            f"brainsnn compiled a new C++ build (into {cache}) in this run: its wall time and "
            "first epoch include g++; a second run takes it from the cache"
        )
    for child in (peer, own):
        result = Result(child.name, sizes, None, child.wall, child.max_rss, child.tree_rss)
        result.error = child.failure()
        if result.error is None:
            try:
                if child is peer:
                    result.epochs = spikenn_epochs(child.lines)
                else:
                    result.epochs, result.versions = brainsnn_epochs(work / "brainsnn", sizes)
                    warning = check_brainsnn_sizes(work / "brainsnn", sizes)
                    if warning:
                        warnings.append(warning)
            except (Failure, OSError, KeyError, ValueError) as exc:
                result.error = f"{child.name}: cannot read its results: {exc}"
        results.append(result)
    return results[0], results[1], warnings


@dataclass
class KfoldResult:
    """One program's K-fold run."""

    name: str
    accuracies: list[float] = field(default_factory=list)
    epochs: list[int] = field(default_factory=list)
    wall: float = 0.0
    max_rss: int = 0
    tree_rss: int = 0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


def kfold_splits(args: argparse.Namespace, setup: Setup, k: int) -> Iterator[Splits]:
    """SpikeNN's data of fold 0 .. k-1: brainsnn's folds of the training subset."""
    from brainsnn.protocol import load_protocol

    features: tuple[dict[str, Any], dict[str, Any]] | None = None
    if args.workload == "csnn":
        features = (
            load_feature_file(args.features / "trainset.npy"),
            load_feature_file(args.features / "testset.npy"),
        )
    for fold in range(k):
        overrides = [*setup.overrides, f"data.folds={k}", f"data.fold={fold}"]
        if features is None:
            yield pixel_splits(setup.protocol_path, overrides)
        else:
            protocol = load_protocol(setup.protocol_path, overrides).protocol
            yield feature_splits(protocol, *features, check=False)


def spikenn_kfold(out: Path, k: int) -> tuple[list[float], list[int]]:
    """Final test accuracies and epochs of each fold, from SpikeNN's readout_log.txt files."""
    accuracies, epochs = [], []
    for fold in range(k):
        log = out / str(fold) / "readout_log.txt"
        if not log.is_file():
            raise Failure(f"SpikeNN wrote no {log}")
        found = [ACCURACY.search(line) for line in log.read_text().splitlines()]
        tests = [float(m.group(3)) for m in found if m and m.group(1) == "test"]
        trained = [m for m in found if m and m.group(1) == "training"]
        if not tests:
            raise Failure(f"{log} holds no test accuracy")
        accuracies.append(tests[-1])
        epochs.append(len(trained))
    return accuracies, epochs


def kfold_run(
    args: argparse.Namespace, setup: Setup, spikenn: Path, python: Path, work: Path
) -> tuple[KfoldResult, KfoldResult]:
    """Both programs' K-fold cross-validation, side by side."""
    import xarray as xr

    k = args.k
    data_dir = work / "kfold_data"
    print(f"--- writing SpikeNN's {k} fold folders", flush=True)
    test_file = data_dir / "testset.npy"
    sizes = []
    for fold, splits in enumerate(kfold_splits(args, setup, k)):
        if fold == 0:
            from brainsnn.data import write_spiking_dataset

            data_dir.mkdir(parents=True, exist_ok=True)
            write_spiking_dataset(test_file, splits.test)
        write_splits(splits, data_dir / str(fold), test=test_file)
        sizes.append(splits.sizes)
    config_path = work / "spikenn_config.json"
    config_path.write_text(json.dumps(setup.config, indent=4) + "\n")
    sets = [item for value in setup.overrides for item in ("--set", value)]
    peer_command = [str(python), "kfold.py", str(data_dir), str(work / "spikenn_kfold")]
    peer_command += [str(config_path), "--K", str(k), "--n_proc", "1"]
    own_command = [*brainsnn_command(), "kfold", str(setup.protocol_path), *sets, "--k", str(k)]
    own_command += ["--workers", "1", "--out", str(work / "brainsnn_kfold")]
    peer, own = pair(args.cores, spikenn, work, "_kfold", peer_command, own_command)
    print(
        f"--- {k}-fold: SpikeNN on core {args.cores[0]}, brainsnn on core {args.cores[1]}",
        flush=True,
    )
    run_side_by_side([peer, own])
    results = []
    for child in (peer, own):
        result = KfoldResult(
            child.name,
            wall=child.wall,
            max_rss=child.max_rss,
            tree_rss=child.tree_rss,
            error=child.failure(),
        )
        try:
            if child is peer:
                result.accuracies, result.epochs = spikenn_kfold(work / "spikenn_kfold", k)
                result.error = None  # a failed pool worker still leaves the finished folds
            elif result.error is None:
                with xr.open_dataset(work / "brainsnn_kfold" / "summary.nc") as summary:
                    result.accuracies = [float(a) for a in summary.test_accuracy.values]
                    result.epochs = [int(e) for e in summary.epochs.values]
                for fold, fold_sizes in enumerate(sizes):
                    folder = work / "brainsnn_kfold" / f"fold-{fold}"
                    warning = check_brainsnn_sizes(folder, fold_sizes)
                    if warning:
                        result.warnings.append(f"fold {fold}: {warning}")
        except (Failure, OSError, KeyError, ValueError) as exc:
            result.error = result.error or f"{child.name}: cannot read its results: {exc}"
        results.append(result)
    return results[0], results[1]


def kfold_table(k: int, spikenn: KfoldResult, brainsnn: KfoldResult) -> list[tuple[str, ...]]:
    """The K-fold table rows."""
    both = (spikenn, brainsnn)

    def mean(r: KfoldResult) -> float | None:
        return float(np.mean(r.accuracies)) if r.accuracies and not r.error else None

    def std(r: KfoldResult) -> float | None:
        return float(np.std(r.accuracies)) if r.accuracies and not r.error else None

    rows = []
    for label, get, form in (
        (f"{k}-fold mean test accuracy", mean, ".4f"),
        (f"{k}-fold test accuracy std", std, ".4f"),
        (f"{k}-fold mean epochs", lambda r: float(np.mean(r.epochs)) if r.epochs else None, ".1f"),
        (f"{k}-fold wall time (s)", lambda r: r.wall or None, ".1f"),
        (f"{k}-fold peak RSS, largest process (MiB)", lambda r: _mb(r.max_rss), ".0f"),
        (f"{k}-fold peak RSS, process tree (MiB)", lambda r: _mb(r.tree_rss), ".0f"),
    ):
        values = [None if r.error and "wall" not in label else get(r) for r in both]
        failed = spikenn.error or brainsnn.error
        ratio = "-" if get is std or failed else _ratio(*values[::-1])
        rows.append((label, _fmt(values[0], form), _fmt(values[1], form), ratio))
    return rows


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", choices=sorted(PROTOCOLS), default="pixels")
    parser.add_argument("--epochs", type=int, default=3, help="epochs (both; default 3)")
    parser.add_argument("--train-subset", type=int, help="N training samples (10 %% validate)")
    parser.add_argument("--test-subset", type=int, help="N test samples")
    parser.add_argument("--seed", type=int, default=0, help="initial-weight seed of both")
    parser.add_argument("--spikenn", type=Path, default=DEFAULT_SPIKENN, help="SpikeNN checkout")
    parser.add_argument(
        "--features",
        type=Path,
        default=DEFAULT_FEATURES,
        help="csnn: folder of STDP-CSNN trainset.npy / testset.npy",
    )
    parser.add_argument("--keep", type=Path, help="keep every file of the run in DIR")
    parser.add_argument("--kfold", action="store_true", help="then K-fold cross-validation")
    parser.add_argument("--k", type=int, default=10, help="folds of --kfold (default 10)")
    parser.add_argument("--cores", default="0,1", help="SpikeNN's core,brainsnn's core")
    parser.add_argument("--python", default="python3", help="base python of SpikeNN's venv")
    args = parser.parse_args(argv)
    try:
        args.cores = [int(core) for core in args.cores.split(",")]
    except ValueError:
        parser.error(f"--cores: two core numbers like 0,1, got {args.cores!r}")
    for name in ("epochs", "train_subset", "test_subset"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.k < 2:
        parser.error("--k must be at least 2")
    args.features = args.features.expanduser()
    return args


def main(argv: list[str]) -> int:
    """Run the comparison; 0 when both programs finished."""
    args = parse_args(argv)
    spikenn = check_inputs(args)
    setup = make_setup(args, spikenn)
    python, peer_versions = spikenn_venv(args.python)
    work = args.keep.resolve() if args.keep else Path(tempfile.mkdtemp(prefix="vs_spikenn-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        print(
            f"--- workload {args.workload}: brainsnn {setup.protocol_path.relative_to(REPO)} "
            f"--set {' --set '.join(setup.overrides)} --seed {args.seed}"
        )
        print("--- SpikeNN config:")
        for section, value in setup.config.items():
            print(f"    {section}: {json.dumps(value)}")
        spikenn_result, brainsnn_result, warnings = single_run(args, setup, spikenn, python, work)
        spikenn_result.versions = peer_versions
        rows = run_table(spikenn_result, brainsnn_result)
        kfold = None
        if args.kfold:
            kfold = kfold_run(args, setup, spikenn, python, work)
        print(
            f"\nworkload {args.workload}, {args.epochs} epoch(s), seed {args.seed}; "
            f"{spikenn_result.sizes[0]} train / {spikenn_result.sizes[1]} validation / "
            f"{spikenn_result.sizes[2]} test samples"
        )
        print_table(rows + (kfold_table(args.k, *kfold) if kfold else []))
        print(
            "(ratio > 1: brainsnn higher; steady = the epochs after the first, or the first "
            "alone when only one ran, which then includes JIT / C++ build)"
        )
        errors = [r.error for r in (spikenn_result, brainsnn_result, *(kfold or ())) if r.error]
        if kfold:
            warnings += [f"{args.k}-fold: {line}" for r in kfold for line in r.warnings]
            setup.notes.append(
                f"{args.k}-fold: fold i validates and stops early on fold i, seed i, in both; "
                "SpikeNN's folds run one after another in one pool worker (--n_proc 1), "
                "brainsnn's in one Dask worker (--workers 1), as one batch in one process"
            )
        for line in [*errors, *warnings]:
            print(f"! {line}")
        for note in setup.notes:
            print(f"- {note}")
        for result in (spikenn_result, brainsnn_result):
            listed = ", ".join(f"{k} {v}" for k, v in result.versions.items())
            print(f"{result.name}: {listed}")
        summary = {
            "args": {k: str(v) for k, v in vars(args).items()},
            "config": setup.config,
            "overrides": setup.overrides,
            "table": rows + (kfold_table(args.k, *kfold) if kfold else []),
            "errors": errors,
            "warnings": warnings,
            "runs": [
                {
                    "name": r.name,
                    "sizes": r.sizes,
                    "wall": r.wall,
                    "max_rss": r.max_rss,
                    "tree_rss": r.tree_rss,
                    "epochs": r.epochs and r.epochs.__dict__,
                }
                for r in (spikenn_result, brainsnn_result)
            ],
            "kfold": [r.__dict__ for r in kfold] if kfold else None,
        }
        (work / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
        if args.keep:
            print(f"run files: {work}")
        elif errors:
            print("(--keep DIR keeps the programs' logs)")
        return 1 if errors else 0
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    from brainsnn.core.errors import BrainsnnError

    try:
        sys.exit(main(sys.argv[1:]))
    except (Failure, BrainsnnError) as exc:
        sys.exit(f"error: {exc}")
    except KeyboardInterrupt:
        sys.exit("interrupted")
