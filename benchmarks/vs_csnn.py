"""brainsnn's STDP-CSNN extractor vs SpikeNN's original C++ one: side by side, one core each.

Both train on the same Fashion-MNIST images with the same F-MNIST configuration (DoG 7/1/2, 128
filters of 5x5, ``--epochs`` epochs, 4x4 pooling, seed 0) and extract features of the training
and test images, started at the same time: the C++ (``csnn_train`` then ``csnn_test``, built
by benchmarks/csnn_original.py, cached in ``--build-dir``) pinned to the first of ``--cores``,
brainsnn (``brainsnn run protocols/csnn_fmnist.yaml``) to the second. The C++ reads the first
``--train-subset`` / ``--test-subset`` images in file order; brainsnn reads IDX files holding
exactly those images (its ``data.*_subset`` keys take stratified subsets instead).

Printed:

1. wall time of each program, start to end (C++: training + train features + test features;
   brainsnn: the whole ``brainsnn run``; its compiled networks are built beforehand by a tiny
   warm-up run, as the C++ binaries are) and the ratio;
2. feature statistics of both on the training and test images: spikes per image, fraction
   of silent (image, feature) pairs, features that never fire, first-spike time quantiles;
3. an exactness check of the extraction: brainsnn's trained weights and thresholds written
   into the C++ model folder (``write_model``; float32, as the C++ stores them), the C++
   ``csnn_test`` run on the test images with them, and how far its features are from
   brainsnn's: the pairs firing in both or neither, the largest time difference (the C++
   DoG sums in another float32 order, with fused multiply-adds, so input times differ by a
   few ulps); and the input scaling (min/max per input) of both;
4. with ``--readout-epochs N``: the readout trained on each feature set. For each set,
   benchmarks/vs_spikenn.py trains SpikeNN's own readout (unmodified, ``--spikenn``) and
   brainsnn's side by side on one core each (S2-STDP + NCG, SpikeNN's F-MNIST ``s2stdp+ncg``
   values, N epochs, the same 54k / 6k / 10k rows); then one table of the four test
   accuracies. Each set took 6.5 min at 5 epochs here (its tables and files go to
   ``OUT/readout_original`` and ``OUT/readout_brainsnn``).

Both feature sets are left in ``--out`` as SpikingDataset files (``brainsnn/run/`` and
``original/``); step 4 alone, on an earlier ``--out``::

    .venv/bin/python benchmarks/vs_csnn.py --out OUT --readout-only --readout-epochs 5

Usage::

    .venv/bin/python benchmarks/vs_csnn.py [--epochs 100] [--train-subset 60000]
        [--test-subset 10000] [--out DIR] [--build-dir /tmp/csnn_build] [--cores 0,1]
        [--readout-epochs N [--spikenn PATH] [--readout-only]]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from csnn_original import (  # noqa: E402
    build_original,
    extract_original,
    train_original,
    write_model,
)

from brainsnn.data.idx import FASHION_MNIST_DIR, load_idx_dataset, write_idx  # noqa: E402
from brainsnn.data.spikingdataset import (  # noqa: E402
    features_to_spiking_dataset,
    read_spiking_dataset,
    write_spiking_dataset,
)

SILENT = 1.0


def _images(train_subset: int, test_subset: int) -> tuple[np.ndarray, ...]:
    train_x, train_y = load_idx_dataset(FASHION_MNIST_DIR, "train")
    test_x, test_y = load_idx_dataset(FASHION_MNIST_DIR, "test")
    train, test = slice(train_subset), slice(test_subset)
    return train_x[train], train_y[train], test_x[test], test_y[test]


def run_original(args: argparse.Namespace, out: Path) -> None:
    """One side: the C++ extractor (train, train features, test features), timed."""
    train_x, train_y, test_x, test_y = _images(args.train_subset, args.test_subset)
    bin_dir = build_original(Path(args.build_dir))
    started = time.perf_counter()
    model = train_original(
        bin_dir, train_x, train_y, out / "work", {"conv1_epochs": args.epochs}, seed=args.seed
    )
    test, _ = extract_original(bin_dir, model.model_dir, test_x, test_y, out / "work")
    wall = time.perf_counter() - started
    np.save(out / "train_dense.npy", model.train_features.reshape(len(train_x), -1))
    np.save(out / "test_dense.npy", test.reshape(len(test_x), -1))
    for name, dense, labels in (("train", model.train_features, train_y), ("test", test, test_y)):
        write_spiking_dataset(out / f"{name}set.npy", _to_dataset(dense, labels))
    (out / "timing.json").write_text(
        json.dumps({"wall_s": wall, "train_s": model.wall_s, "model_dir": str(model.model_dir)})
    )


def _to_dataset(dense: np.ndarray, labels: np.ndarray) -> dict:
    dense = dense.reshape(len(dense), -1)
    try:
        return features_to_spiking_dataset(dense, labels)
    except Exception:  # a silent image: build the dict without that check
        from brainsnn.data.spikingdataset import MAX_TIME, _sparse_sample

        return {
            "data": [_sparse_sample(row) for row in dense],
            "labels": np.searchsorted(np.unique(labels), labels).astype(np.int16),
            "shape": dense.shape,
            "max_time": MAX_TIME,
        }


def run_brainsnn(args: argparse.Namespace, out: Path) -> None:
    """The other side: ``brainsnn run protocols/csnn_fmnist.yaml`` on the same images."""
    train_x, train_y, test_x, test_y = _images(args.train_subset, args.test_subset)
    idx = out / "idx"
    idx.mkdir(parents=True, exist_ok=True)
    for name, array in (
        ("train-images-idx3-ubyte", train_x),
        ("train-labels-idx1-ubyte", train_y.astype(np.uint8)),
        ("t10k-images-idx3-ubyte", test_x),
        ("t10k-labels-idx1-ubyte", test_y.astype(np.uint8)),
    ):
        write_idx(idx / name, array)
    command = [
        str(REPO / ".venv" / "bin" / "brainsnn"), "run",
        str(REPO / "protocols" / "csnn_fmnist.yaml"),
        "--out", str(out / "run"), "--set", f"data.path={idx}",
        "--set", f"training.epochs={args.epochs}", "--set", f"seed={args.seed}",
    ]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(command, check=True)
    (out / "timing.json").write_text(json.dumps({"wall_s": time.perf_counter() - started}))


def _stats(times: np.ndarray) -> dict[str, float]:
    fired = times < SILENT
    t = times[fired]
    q = np.quantile(t, [0.1, 0.5, 0.9]) if t.size else [np.nan] * 3
    return {
        "spikes per image": fired.sum(axis=1).mean(),
        "silent (image, feature) pairs": 1 - fired.mean(),
        "features never firing": float((~fired.any(axis=0)).sum()),
        "first-spike time q10": q[0],
        "first-spike time median": q[1],
        "first-spike time q90": q[2],
    }


def compare(args: argparse.Namespace, out: Path) -> None:
    """Print the side-by-side table and the exactness check."""
    original = json.loads((out / "original" / "timing.json").read_text())
    ours = json.loads((out / "brainsnn" / "timing.json").read_text())
    ratio = ours["wall_s"] / original["wall_s"]
    print(
        f"\nwall time, start to end: C++ {original['wall_s']:.1f} s, brainsnn "
        f"{ours['wall_s']:.1f} s, brainsnn / C++ = {ratio:.2f}x"
    )
    run = out / "brainsnn" / "run"
    for split in ("train", "test"):
        theirs = np.load(out / "original" / f"{split}_dense.npy")
        mine, _ = read_spiking_dataset(run / f"{split}set.npy")
        print(f"\n{split} features ({len(mine)} images, {mine.shape[1]} features)")
        print(f"  {'':32} {'C++':>10} {'brainsnn':>10}")
        a, b = _stats(theirs), _stats(mine)
        for key in a:
            print(f"  {key:32} {a[key]:10.4f} {b[key]:10.4f}")
    import xarray as xr

    results = xr.open_dataset(run / "results.nc")
    from csnn_original import load_model_params

    params = load_model_params(Path(original["model_dir"]))
    for name, mine_values, theirs_values in (
        ("input min", results.input_min.values, params["scaling_min"]),
        ("input max", results.input_max.values, params["scaling_max"]),
    ):
        gap = np.abs(mine_values - theirs_values).max()
        print(f"\n{name}: largest difference brainsnn - C++ {gap:.3g}")
    _, _, test_x, test_y = _images(args.train_subset, args.test_subset)
    model = write_model(
        Path(original["model_dir"]), out / "brainsnn_weights_in_cpp", results.weights.values,
        results.thresholds.values,
    )  # fmt: skip
    cpp, _ = extract_original(
        build_original(Path(args.build_dir)), model, test_x, test_y, out / "exact_work"
    )
    mine, _ = read_spiking_dataset(run / "testset.npy")
    cpp = cpp.reshape(len(cpp), -1)
    same_set = ((cpp < SILENT) == (mine < SILENT)).mean()
    gap = np.abs(cpp - mine)
    print(
        "\nexactness: C++ csnn_test with brainsnn's trained weights vs brainsnn's test features:"
        f"\n  (image, feature) pairs firing in both or in neither: {same_set:.6f}"
        f"\n  largest time difference {gap.max():.3g} (units of T); equal within 1e-6: "
        f"{(gap <= 1e-6).mean():.6f}, within 1e-5: {(gap <= 1e-5).mean():.6f}"
        f"\n  (spikes: C++ {(cpp < SILENT).sum()}, brainsnn {(mine < SILENT).sum()})"
    )


#: The feature sets of one --out, by name: the folders holding trainset.npy / testset.npy.
FEATURE_SETS = {"C++ features": Path("original"), "brainsnn features": Path("brainsnn/run")}


def compare_readouts(args: argparse.Namespace, out: Path) -> None:
    """Train SpikeNN's readout and brainsnn's side by side on each feature set
    (benchmarks/vs_spikenn.py), then print the four test accuracies."""
    accuracies = {}
    for name, folder in FEATURE_SETS.items():
        keep = out / f"readout_{folder.parts[0]}"
        command = [
            sys.executable, str(REPO / "benchmarks" / "vs_spikenn.py"), "--workload", "csnn",
            "--features", str(out / folder), "--epochs", str(args.readout_epochs),
            "--seed", str(args.seed), "--cores", args.cores, "--keep", str(keep),
        ]  # fmt: skip
        if args.spikenn:
            command += ["--spikenn", args.spikenn]
        print(f"\n--- readouts on the {name}: {' '.join(command[1:])}", flush=True)
        if subprocess.run(command).returncode:
            sys.exit(f"the readout comparison on the {name} failed; its files: {keep}")
        table = json.loads((keep / "summary.json").read_text())["table"]
        accuracies[name] = next(row for row in table if row[0] == "final test accuracy")
    print(
        f"\ntest accuracy of the S2-STDP+NCG readout, {args.readout_epochs} epoch(s), "
        "by feature set (rows) and readout (columns):"
    )
    print(f"  {'':20} {'SpikeNN':>10} {'brainsnn':>10}")
    for name, (_, spikenn, brainsnn, _) in accuracies.items():
        print(f"  {name:20} {spikenn:>10} {brainsnn:>10}")


def warm_up(args: argparse.Namespace, out: Path) -> float:
    """Compile brainsnn's networks before the clock starts (a tiny run with the same build)."""
    small = argparse.Namespace(**{**vars(args), "train_subset": 50, "test_subset": 50, "epochs": 1})
    started = time.perf_counter()
    run_brainsnn(small, out / "warm_up")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=100, help="training epochs (both)")
    parser.add_argument(
        "--train-subset", type=int, default=60000, help="the first N training images"
    )
    parser.add_argument("--test-subset", type=int, default=10000, help="the first N test images")
    parser.add_argument("--seed", type=int, default=0, help="seed of both programs")
    parser.add_argument(
        "--out", default="benchmarks/output/vs_csnn", help="an empty folder for every output"
    )
    parser.add_argument(
        "--build-dir", default="/tmp/csnn_build", help="where the C++ original is built (cached)"
    )
    parser.add_argument("--cores", default="0,1", help="the C++'s core,brainsnn's core")
    parser.add_argument(
        "--readout-epochs", type=int, default=0,
        help="then train SpikeNN's and brainsnn's readouts on each feature set (0: skip)",
    )  # fmt: skip
    parser.add_argument("--spikenn", help="SpikeNN checkout (default: vs_spikenn.py's)")
    parser.add_argument(
        "--readout-only", action="store_true",
        help="only step 4, on the feature sets of an earlier --out",
    )  # fmt: skip
    parser.add_argument("--side", choices=("original", "brainsnn"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.readout_epochs < 0 or (args.readout_only and not args.readout_epochs):
        parser.error("--readout-epochs must be positive (and given with --readout-only)")
    out = Path(args.out).resolve()
    if args.readout_only:
        compare_readouts(args, out)
        return
    if args.side == "original":
        run_original(args, out / "original")
        return
    if args.side == "brainsnn":
        run_brainsnn(args, out / "brainsnn")
        return
    if out.exists() and any(out.iterdir()):
        sys.exit(f"{out} is not empty: choose another --out")
    for side in ("original", "brainsnn"):
        (out / side).mkdir(parents=True, exist_ok=True)
    build_original(Path(args.build_dir))  # before the clock starts (C++ build ~40 s)
    print(f"brainsnn build (warm-up run, not timed): {warm_up(args, out):.1f} s")
    cores = args.cores.split(",")
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    base = [sys.executable, __file__, *sys.argv[1:], "--out", str(out)]
    processes = [
        subprocess.Popen(["taskset", "-c", core, *base, "--side", side], env=environment)
        for core, side in zip(cores, ("original", "brainsnn"), strict=True)
    ]
    if any(process.wait() for process in processes):
        sys.exit("a side failed; see its output above")
    compare(args, out)
    if args.readout_epochs:
        compare_readouts(args, out)


if __name__ == "__main__":
    main()
