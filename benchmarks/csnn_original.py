"""Build and drive SpikeNN's original STDP-CSNN C++ feature extractor from Python.

The extractor is ``ft-extract/STDP-CSNN`` of the SpikeNN peer checkout (default
``<repo>/../shared/peers/spikenn``); its sources are never modified. :func:`build_original`
copies them into a build folder outside the peer tree and builds ``csnn_train`` / ``csnn_test``
exactly like ``benchmarks/csnn_features.sh`` (cmake Release ``-O3``, one force-included
compatibility header ``csnn_compat.h``; needs ``apt-get install liblapacke-dev liblapack-dev
libblas-dev``).

Data layout (all facts from the C++ sources, paths relative to ``STDP-CSNN/csnn``):

* Input ``X_*.bin``: raw uint8, no header, one 28x28 image after the other in IDX row-major
  order; ``y_*.bin``: one uint8 label per sample. ``dataset::ImageBin::next``
  (src/dataset/ImageBin.cpp:29-35) reads the bytes with x slowest, so the C++ index x is the
  image row and y the column; pixels are divided by 255.
* Model folder ``<out>/model/``: ``config.json`` (the config, with ``"seed"`` added),
  ``Process.FeatureScaling/{mins,maxs}.npy`` (float32, shape (28*28*2,) = (1568,), flat C order
  of the DoG output (x=row, y=col, z) with z=0 ON, z=1 OFF; src/process/Scaling.cpp:43-55),
  ``Layer.Convolution.conv1/weights.npy`` (float32, (k, k, 2, C) indexed (x=row, y=col,
  z=ON/OFF input channel, filter); src/layer/Convolution.cpp:63-84) and ``thresholds.npy``
  (float32, (C,)).
* Dense features ``X_csnn_{train,test}.npy``: float32, shape (n, 6, 6, C) indexed
  (sample, x=pooled row, y=pooled col, filter) (src/analysis/SaveFeatureNumpy.cpp:29-53);
  values are first-spike times in [0, 1); a silent feature holds exactly 1.0 (SpikeTiming maps
  ``INFINITE_TIME`` = ``FLT_MAX`` to 1.0, src/OutputConverter.cpp:155-163). Labels
  ``y_{train,test}.npy`` are int32 (n,).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO_DIR = Path(__file__).resolve().parents[1]
DEFAULT_PEER_DIR = REPO_DIR.parent / "shared" / "peers" / "spikenn"
PEER_SUBDIR = Path("ft-extract") / "STDP-CSNN"
DEFAULT_BUILD_DIR = Path("/tmp/csnn_build")
DEFAULT_FMNIST_DIR = Path("/usr/share/datasets/fashion-mnist")

IMAGE_SHAPE = (28, 28)
SILENT_TIME = 1.0  # value of a feature that never spiked in the dense output
CONV_DIR = "Layer.Convolution.conv1"  # model sub-folders: factory.class.name
SCALING_DIR = "Process.FeatureScaling"
# keys csnn_train.cpp reads although F-MNIST.json does not set them
OPTIONAL_CONFIG_KEYS = frozenset({"whiten", "conv1_k_w", "conv1_k_h"})

COMPAT_HEADER = """\
/* Force-included build shim: no source file of the extractor is edited. */
#include <limits>       /* Tensor.h uses std::numeric_limits without including <limits> */
#include <lapacke.h>    /* LAPACK >= 3.9.1 headers declare sgesvd_ with 2 hidden Fortran */
#define sgesvd_(...) LAPACK_sgesvd(__VA_ARGS__)  /* string-length args; LAPACK_sgesvd appends them */
"""  # noqa: E501 (byte-identical to the shim of csnn_features.sh)


# ------------------------------------------------------------------------------------ build
def _tree_digest(root: Path) -> str:
    """SHA-256 over relative paths and contents of ``root``, skipping anything named ``build``.

    Same exclusion as ``diff -rq -x build`` in csnn_features.sh.
    """
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "build")
        for name in sorted(filenames):
            if name == "build":
                continue
            path = Path(dirpath) / name
            digest.update(str(path.relative_to(root)).encode() + b"\0")
            digest.update(path.read_bytes() if not path.is_symlink() else b"<link>")
            digest.update(b"\0")
    return digest.hexdigest()


def _tail(path: Path, lines: int = 30) -> str:
    """Return the last ``lines`` lines of a text file ('' if it does not exist)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def build_original(build_dir: Path, peer_dir: Path = DEFAULT_PEER_DIR, jobs: int = 2) -> Path:
    """Build SpikeNN's STDP-CSNN extractor (or reuse a build) and return its binary folder.

    Copies ``peer_dir/ft-extract/STDP-CSNN`` into ``build_dir`` (which must lie outside
    ``peer_dir``) and builds ``csnn_train`` and ``csnn_test`` in ``build_dir/csnn/build`` with
    ``make -j jobs``. An existing build is reused when both binaries exist and the copied
    sources are byte-identical to the peer's. Logs: ``cmake.log`` / ``make.log`` in the binary
    folder. Raises FileNotFoundError when the peer sources are missing and RuntimeError (with
    the log tail) when cmake or make fails. The build takes ~1-2 min on 2 cores.
    """
    peer_dir = Path(peer_dir).resolve()
    build_dir = Path(build_dir).resolve()
    src = peer_dir / PEER_SUBDIR
    if not (src / "csnn" / "CMakeLists.txt").is_file():
        raise FileNotFoundError(f"extractor source not found: {src}/csnn")
    if build_dir == peer_dir or peer_dir in build_dir.parents:
        raise ValueError(f"build_dir must be outside the peer tree {peer_dir}")
    bin_dir = build_dir / "csnn" / "build"
    binaries = [bin_dir / "csnn_train", bin_dir / "csnn_test"]
    src_digest = _tree_digest(src)
    binaries_ok = all(os.access(b, os.X_OK) for b in binaries)
    if binaries_ok and build_dir.is_dir() and _tree_digest(build_dir) == src_digest:
        return bin_dir

    if build_dir.exists():
        shutil.rmtree(build_dir)
    shutil.copytree(src, build_dir, symlinks=True, ignore=shutil.ignore_patterns("build"))
    bin_dir.mkdir(parents=True)
    compat = bin_dir / "csnn_compat.h"
    compat.write_text(COMPAT_HEADER)
    cmake_log, make_log = bin_dir / "cmake.log", bin_dir / "make.log"
    cmake_cmd = [
        "cmake",
        "..",
        "-DCMAKE_BUILD_TYPE=Release",
        f"-DCMAKE_CXX_FLAGS=-include {compat}",
        "-DCMAKE_CXX_FLAGS_RELEASE=-O3 -DNDEBUG",
    ]
    hint = ""
    if not Path("/usr/include/lapacke.h").exists():
        hint = " (lapacke.h missing: apt-get install liblapacke-dev liblapack-dev libblas-dev)"
    with cmake_log.open("w") as log:
        rc = subprocess.call(cmake_cmd, cwd=bin_dir, stdout=log, stderr=subprocess.STDOUT)
    if rc != 0:
        raise RuntimeError(f"cmake failed (exit {rc}){hint}; see {cmake_log}:\n{_tail(cmake_log)}")
    make_cmd = ["make", f"-j{int(jobs)}", "csnn_train", "csnn_test"]
    with make_log.open("w") as log:
        rc = subprocess.call(make_cmd, cwd=bin_dir, stdout=log, stderr=subprocess.STDOUT)
    if rc != 0 or not all(os.access(b, os.X_OK) for b in binaries):
        raise RuntimeError(f"make failed (exit {rc}){hint}; see {make_log}:\n{_tail(make_log)}")
    if _tree_digest(build_dir) != src_digest:
        raise RuntimeError(f"copied extractor sources in {build_dir} differ from {src}")
    return bin_dir


# ------------------------------------------------------------------------------------ data
def write_bin(images: np.ndarray, labels: np.ndarray, prefix: Path) -> tuple[Path, Path]:
    """Write ``images`` / ``labels`` in the extractor's raw ImageBin format.

    ``images``: (n, 28, 28) uint8 pixels (IDX order, row-major); ``labels``: (n,) integers in
    [0, 255]. ``prefix`` = folder/NAME gives ``folder/X_NAME.bin`` (n*784 bytes, no header)
    and ``folder/y_NAME.bin`` (n bytes). Returns the two paths.
    """
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise ValueError(f"images must be (n, 28, 28), got {images.shape}")
    if labels.shape != (images.shape[0],):
        raise ValueError(f"labels must be ({images.shape[0]},), got {labels.shape}")
    if images.shape[0] == 0:
        raise ValueError("no images")
    if images.dtype != np.uint8 and (
        images.min() < 0 or images.max() > 255 or not np.array_equal(images, np.rint(images))
    ):
        raise ValueError(f"images must be uint8 pixels, got {images.dtype}")
    if labels.min() < 0 or labels.max() > 255:
        raise ValueError("labels must lie in [0, 255]")
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    x_path = prefix.parent / f"X_{prefix.name}.bin"
    y_path = prefix.parent / f"y_{prefix.name}.bin"
    np.ascontiguousarray(images, dtype=np.uint8).tofile(x_path)
    np.ascontiguousarray(labels, dtype=np.uint8).tofile(y_path)
    return x_path, y_path


# ------------------------------------------------------------------------------------ run
@dataclass
class OriginalModel:
    """A model trained by ``csnn_train`` plus its dense training-set features.

    weights: float32 (k, k, 2, C) indexed (x=row, y=col, ON/OFF channel, filter).
    thresholds: float32 (C,). scaling_min / scaling_max: float32 (28*28*2,) FeatureScaling
    min/max of the DoG output (flat C order of (row, col, ON/OFF)); None when the config
    disables feature scaling. train_features: float32 (n, 6, 6, C) first-spike times in [0, 1),
    1.0 = silent. train_labels: int32 (n,). wall_s: seconds csnn_train ran (wall clock).
    """

    model_dir: Path
    weights: np.ndarray
    thresholds: np.ndarray
    scaling_min: np.ndarray | None
    scaling_max: np.ndarray | None
    train_features: np.ndarray
    train_labels: np.ndarray
    wall_s: float
    config: dict[str, Any] = field(default_factory=dict)
    log_path: Path | None = None


def _run_logged(cmd: list[str], log_path: Path) -> float:
    """Run ``cmd`` with stdout+stderr to ``log_path``; return its wall time in seconds."""
    with log_path.open("w") as log:
        t0 = time.perf_counter()
        rc = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT)
        wall = time.perf_counter() - t0
    if rc != 0:
        raise RuntimeError(
            f"{Path(cmd[0]).name} failed (exit {rc}); see {log_path}:\n{_tail(log_path)}"
        )
    return wall


def _fresh_dir(path: Path) -> Path:
    """Remove ``path`` if it exists and create it empty."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def load_model_params(model_dir: Path) -> dict[str, np.ndarray | None]:
    """Read weights, thresholds and FeatureScaling mins/maxs (None if absent) of a model folder."""
    model_dir = Path(model_dir)
    conv = model_dir / CONV_DIR
    scaling = model_dir / SCALING_DIR
    has_scaling = (scaling / "mins.npy").is_file()
    return {
        "weights": np.load(conv / "weights.npy"),
        "thresholds": np.load(conv / "thresholds.npy"),
        "scaling_min": np.load(scaling / "mins.npy") if has_scaling else None,
        "scaling_max": np.load(scaling / "maxs.npy") if has_scaling else None,
    }


def train_original(
    bin_dir: Path,
    images: np.ndarray,
    labels: np.ndarray,
    work_dir: Path,
    config_overrides: dict[str, Any] | None = None,
    seed: int = 0,
    base_config: Path | None = None,
) -> OriginalModel:
    """Train the original CSNN with ``csnn_train`` on ``images`` (n, 28, 28) uint8.

    The config is ``base_config`` (default: the build's ``csnn/config/F-MNIST.json``) updated
    with ``config_overrides`` (e.g. ``{"conv1_epochs": 2, "conv1_c": 16}``; unknown keys raise
    KeyError). Writes ``work_dir/{X,y}_train.bin``, ``work_dir/csnn_config.json`` and the run
    output to ``work_dir/out`` (replaced if present; model in ``work_dir/out/model``).
    ``csnn_train`` runs single-threaded and keeps all n samples in memory.
    """
    bin_dir = Path(bin_dir).resolve()
    work_dir = Path(work_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    base = Path(base_config) if base_config else bin_dir.parent / "config" / "F-MNIST.json"
    config = json.loads(base.read_text())
    overrides = dict(config_overrides or {})
    unknown = set(overrides) - set(config) - OPTIONAL_CONFIG_KEYS
    if unknown:
        raise KeyError(f"unknown config keys {sorted(unknown)}; known: {sorted(config)}")
    config.update(overrides)
    config_path = work_dir / "csnn_config.json"
    config_path.write_text(json.dumps(config, indent=4))
    x_path, y_path = write_bin(images, labels, work_dir / "train")
    out_dir = _fresh_dir(work_dir / "out")
    log_path = work_dir / "csnn_train.log"
    cmd = [
        str(bin_dir / "csnn_train"),
        str(x_path),
        str(y_path),
        str(config_path),
        str(out_dir),
        str(int(seed)),
    ]
    wall = _run_logged(cmd, log_path)
    model_dir = out_dir / "model"
    params = load_model_params(model_dir)
    return OriginalModel(
        model_dir=model_dir,
        weights=params["weights"],
        thresholds=params["thresholds"],
        scaling_min=params["scaling_min"],
        scaling_max=params["scaling_max"],
        train_features=np.load(out_dir / "X_csnn_train.npy"),
        train_labels=np.load(out_dir / "y_train.npy"),
        wall_s=wall,
        config=json.loads((model_dir / "config.json").read_text()),
        log_path=log_path,
    )


def extract_original(
    bin_dir: Path,
    model_dir: Path,
    images: np.ndarray,
    labels: np.ndarray,
    work_dir: Path,
) -> tuple[np.ndarray, float]:
    """Extract dense features of ``images`` (n, 28, 28) uint8 with ``csnn_test`` and a model.

    Returns (features float32 (n, 6, 6, C): first-spike times in [0, 1), 1.0 = silent;
    wall seconds of the csnn_test process). Writes ``work_dir/{X,y}_test.bin``,
    ``work_dir/csnn_test.log`` and the run output to ``work_dir/test_out`` (replaced).
    """
    bin_dir = Path(bin_dir).resolve()
    model_dir = Path(model_dir).resolve()
    work_dir = Path(work_dir).resolve()
    if not (model_dir / "config.json").is_file():
        raise FileNotFoundError(f"no config.json in model folder {model_dir}")
    x_path, y_path = write_bin(images, labels, work_dir / "test")
    out_dir = _fresh_dir(work_dir / "test_out")
    cmd = [str(bin_dir / "csnn_test"), str(x_path), str(y_path), f"{model_dir}/", str(out_dir)]
    wall = _run_logged(cmd, work_dir / "csnn_test.log")
    features = np.load(out_dir / "X_csnn_test.npy")
    out_labels = np.load(out_dir / "y_test.npy")
    if features.shape[0] != len(images) or not np.array_equal(out_labels, np.asarray(labels)):
        raise RuntimeError(
            f"csnn_test returned {features.shape[0]} samples / labels differing from the input"
        )
    return features, wall


def write_model(
    model_dir_template: Path,
    out_dir: Path,
    weights: np.ndarray,
    thresholds: np.ndarray,
    scaling_min: np.ndarray | None = None,
    scaling_max: np.ndarray | None = None,
) -> Path:
    """Copy a trained model folder to ``out_dir`` and overwrite its conv parameters.

    ``weights`` (k, k, 2, C) and ``thresholds`` (C,) must have the template's shapes; they are
    saved as C-order little-endian float32 .npy, the only form ``npy::LoadArrayFromNumpy``
    reads correctly (it checks the dtype but ignores ``fortran_order``). Optionally also
    replaces the FeatureScaling min/max (same shape as saved). ``out_dir`` must not exist.
    Returns ``out_dir``, usable as ``model_dir`` of :func:`extract_original`.
    """
    template = Path(model_dir_template)
    out_dir = Path(out_dir)
    if out_dir.exists():
        raise FileExistsError(f"{out_dir} exists")
    shutil.copytree(template, out_dir)
    replacements = [
        (out_dir / CONV_DIR / "weights.npy", weights),
        (out_dir / CONV_DIR / "thresholds.npy", thresholds),
        (out_dir / SCALING_DIR / "mins.npy", scaling_min),
        (out_dir / SCALING_DIR / "maxs.npy", scaling_max),
    ]
    for path, value in replacements:
        if value is None:
            continue
        old = np.load(path, mmap_mode="r")
        new = np.ascontiguousarray(value, dtype="<f4")
        if new.shape != old.shape:
            raise ValueError(f"{path.name}: shape {new.shape} != saved shape {old.shape}")
        if not np.all(np.isfinite(new)):
            raise ValueError(f"{path.name}: non-finite values")
        del old
        np.save(path, new)
    return out_dir


# ------------------------------------------------------------------------------------ CLI
def feature_stats(features: np.ndarray) -> dict[str, float]:
    """Statistics of dense features (n, ...): spikes are values < 1.0 (1.0 = silent)."""
    flat = features.reshape(features.shape[0], -1)
    fired = flat < SILENT_TIME
    times = flat[fired]
    return {
        "samples": float(flat.shape[0]),
        "features": float(flat.shape[1]),
        "spikes_per_sample": float(fired.sum(axis=1).mean()),
        "fraction_silent": float(1.0 - fired.mean()),
        "never_fire": float((~fired.any(axis=0)).sum()),
        "t_min": float(times.min()) if times.size else float("nan"),
        "t_max": float(times.max()) if times.size else float("nan"),
        "t_mean": float(times.mean()) if times.size else float("nan"),
    }


def _print_stats(name: str, features: np.ndarray) -> None:
    s = feature_stats(features)
    print(
        f"{name}: shape {features.shape} {features.dtype}; features/sample {int(s['features'])}; "
        f"spikes/sample mean {s['spikes_per_sample']:.1f}; fraction silent "
        f"{s['fraction_silent']:.4f}; never-firing features {int(s['never_fire'])}; "
        f"spike time min {s['t_min']:.7g} max {s['t_max']:.7g} mean {s['t_mean']:.4f}"
    )


def main(argv: list[str] | None = None) -> int:
    """CLI: build, train on the first N Fashion-MNIST images, extract the first M test images."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-subset", type=int, default=1000, help="N training images")
    parser.add_argument("--test-subset", type=int, default=1000, help="M test images")
    parser.add_argument("--epochs", type=int, default=2, help="conv1_epochs (STDP epochs)")
    parser.add_argument("--channels", type=int, default=128, help="conv1_c (filters)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--build-dir", type=Path, default=DEFAULT_BUILD_DIR)
    parser.add_argument("--peer-dir", type=Path, default=DEFAULT_PEER_DIR)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_FMNIST_DIR)
    parser.add_argument("--work-dir", type=Path, default=None, help="default: temporary")
    parser.add_argument("--jobs", type=int, default=2, help="make -j")
    parser.add_argument(
        "--roundtrip",
        action="store_true",
        help="also check write_model with the trained weights gives identical test features",
    )
    args = parser.parse_args(argv)

    sys.path.insert(0, str(REPO_DIR))
    from brainsnn.data.idx import load_idx_dataset

    t0 = time.perf_counter()
    bin_dir = build_original(args.build_dir, args.peer_dir, jobs=args.jobs)
    print(f"build (or reuse) {bin_dir}: {time.perf_counter() - t0:.1f} s wall")

    x_train, y_train = load_idx_dataset(args.data_dir, "train")
    x_test, y_test = load_idx_dataset(args.data_dir, "test")
    x_train, y_train = x_train[: args.train_subset], y_train[: args.train_subset]
    x_test, y_test = x_test[: args.test_subset], y_test[: args.test_subset]

    tmp = None
    work = args.work_dir
    if work is None:
        tmp = tempfile.TemporaryDirectory(prefix="csnn-work.")
        work = Path(tmp.name)
    try:
        overrides = {"conv1_epochs": args.epochs, "conv1_c": args.channels}
        model = train_original(bin_dir, x_train, y_train, work / "train", overrides, args.seed)
        print(
            f"csnn_train ({len(x_train)} images, {args.epochs} epochs, {args.channels} "
            f"filters, seed {args.seed}): {model.wall_s:.1f} s wall"
        )
        print(
            f"model {model.model_dir}: weights {model.weights.shape} {model.weights.dtype}, "
            f"thresholds {model.thresholds.shape} (min {model.thresholds.min():.3f} max "
            f"{model.thresholds.max():.3f})"
        )
        _print_stats("train features", model.train_features)
        feats, wall = extract_original(bin_dir, model.model_dir, x_test, y_test, work / "test")
        print(f"csnn_test ({len(x_test)} images): {wall:.1f} s wall")
        _print_stats("test features", feats)
        if args.roundtrip:
            copy = write_model(
                model.model_dir,
                work / "model_copy",
                model.weights,
                model.thresholds,
                model.scaling_min,
                model.scaling_max,
            )
            feats2, wall2 = extract_original(bin_dir, copy, x_test, y_test, work / "test2")
            same = np.array_equal(feats, feats2)
            print(f"round trip write_model -> csnn_test ({wall2:.1f} s): identical={same}")
            if not same:
                return 1
    finally:
        if tmp is not None:
            tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
