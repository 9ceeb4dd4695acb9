#!/usr/bin/env bash
# csnn_features.sh -- STDP-CSNN spike features of Fashion-MNIST with SpikeNN's original extractor.
#
# What it does
#   1. Copies SpikeNN's STDP-CSNN C++ extractor (ft-extract/STDP-CSNN, from the peer checkout,
#      default ../shared/peers/spikenn) into a build folder outside the peer tree and builds it
#      (cmake Release, -O3). No C++ source file is modified. To compile with g++ 12 and the
#      LAPACK >= 3.9.1 headers of Debian 12, one small header (csnn_compat.h, written into the
#      build folder) is force-included with `-include` via CMAKE_CXX_FLAGS:
#        - #include <limits>: Tensor.h uses std::numeric_limits without including <limits>
#          (older libstdc++ pulled it in transitively);
#        - #include <lapacke.h> + #define sgesvd_(...) LAPACK_sgesvd(__VA_ARGS__): newer
#          lapack.h declares sgesvd_ with two hidden Fortran string-length arguments; the
#          LAPACK_sgesvd macro appends them. Only process/Whiten*.cpp call sgesvd_, and
#          whitening is not used by the F-MNIST configuration.
#   2. Converts the Fashion-MNIST IDX files (gzipped or not) into the raw .bin format that the
#      extractor's dataset::ImageBin reader expects: no header, uint8 pixels, one image after
#      the other, each image in IDX (row-major) order -- exactly what SpikeNN's
#      ft-extract/dataset/get_fmnist.py writes; labels are one uint8 per sample, no header.
#   3. Runs `csnn_train X_train.bin y_train.bin csnn/config/F-MNIST.json RUN_DIR 0` (seed 0)
#      and `csnn_test X_test.bin y_test.bin RUN_DIR/model/ RUN_DIR`, like SpikeNN's
#      ft-extract/STDP-CSNN/run.py.
#      With --train-subset N, csnn_train sees only the first N training images; the features of
#      ALL 60000 training images are then extracted with csnn_test and the trained model.
#   4. Writes OUT_DIR/trainset.npy and OUT_DIR/testset.npy with SpikeNN's SpikingDataset
#      (from_numpy(X, y, max_time=1).save(...), imported from the peer checkout; its dataset.py
#      needs numpy only). If that import fails, the same file format is written with numpy.
#   5. Reads both files back with brainsnn.data.spikingdataset.read_spiking_dataset and prints
#      statistics (samples, features, mean spikes/sample, spike-time range, silent fraction).
#   The wall time of every stage is printed. OUT_DIR also receives csnn_config.json (the
#   config the model was trained with, seed included).
#   Full run measured on one busy x86-64 core (2026-12): ~7.2 min wall in total (build 70 s,
#   csnn_train 305 s, csnn_test 35 s), peak RSS ~10 GB (csnn_train keeps the whole training
#   set and its dense 60000x6x6x128 output in memory). Output: trainset.npy ~750 MB,
#   testset.npy ~125 MB, 4608 = 6*6*128 features per sample.
#
# Usage
#   bash benchmarks/csnn_features.sh [OUT_DIR] [--train-subset N]
#     OUT_DIR           default ~/data/spikenn/csnn/fmnist
#     --train-subset N  train the CSNN (STDP) on the first N training images only
#
# Environment (optional)
#   FMNIST_DIR      Fashion-MNIST IDX folder       (default /usr/share/datasets/fashion-mnist)
#   SPIKENN_DIR     SpikeNN peer checkout          (default <repo>/../shared/peers/spikenn)
#   PYTHON          python with numpy (+ brainsnn) (default <repo>/.venv/bin/python)
#   CSNN_BUILD_DIR  where the extractor is copied and built (default: a new temporary folder,
#                   removed at exit). If it already holds a build whose sources are identical
#                   to the peer's, that build is reused and kept.
#   MAKE_JOBS       parallel make jobs             (default 1)
#   WORK_DIR        scratch for .bin inputs and raw CSNN output (default: temporary, removed)
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT_DIR="${HOME}/data/spikenn/csnn/fmnist"
TRAIN_SUBSET=""
positional_set=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --train-subset) [[ $# -ge 2 ]] || { echo "--train-subset needs a value" >&2; exit 2; }
                        TRAIN_SUBSET="$2"; shift 2 ;;
        --train-subset=*) TRAIN_SUBSET="${1#*=}"; shift ;;
        -h|--help) awk 'NR > 1 && /^set -euo/ { exit } NR > 1' "$0"; exit 0 ;;
        -*) echo "unknown option: $1" >&2; exit 2 ;;
        *) if [[ $positional_set -eq 1 ]]; then echo "too many arguments" >&2; exit 2; fi
           OUT_DIR="$1"; positional_set=1; shift ;;
    esac
done
if [[ -n "$TRAIN_SUBSET" && ! "$TRAIN_SUBSET" =~ ^[1-9][0-9]*$ ]]; then
    echo "--train-subset needs a positive integer" >&2; exit 2
fi

FMNIST_DIR="${FMNIST_DIR:-/usr/share/datasets/fashion-mnist}"
SPIKENN_DIR="${SPIKENN_DIR:-${REPO_DIR}/../shared/peers/spikenn}"
PYTHON="${PYTHON:-${REPO_DIR}/.venv/bin/python}"
MAKE_JOBS="${MAKE_JOBS:-1}"
PEER_SRC="${SPIKENN_DIR}/ft-extract/STDP-CSNN"
SEED=0

[[ -d "$PEER_SRC/csnn" ]] || { echo "extractor source not found: $PEER_SRC" >&2; exit 1; }
[[ -x "$PYTHON" ]] || { echo "python not found: $PYTHON" >&2; exit 1; }
SPIKENN_DIR="$(cd "$SPIKENN_DIR" && pwd)"
PEER_SRC="$(cd "$PEER_SRC" && pwd)"
mkdir -p "$OUT_DIR"
OUT_DIR="$(cd "$OUT_DIR" && pwd)"

cleanup_dirs=()
cleanup() { for d in "${cleanup_dirs[@]}"; do rm -rf -- "$d"; done; }
trap cleanup EXIT
if [[ -z "${CSNN_BUILD_DIR:-}" ]]; then
    CSNN_BUILD_DIR="$(mktemp -d "${TMPDIR:-/tmp}/csnn-build.XXXXXX")"; cleanup_dirs+=("$CSNN_BUILD_DIR")
fi
if [[ -z "${WORK_DIR:-}" ]]; then
    WORK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/csnn-work.XXXXXX")"; cleanup_dirs+=("$WORK_DIR")
fi
case "$CSNN_BUILD_DIR" in "$SPIKENN_DIR"*) echo "CSNN_BUILD_DIR must be outside $SPIKENN_DIR" >&2; exit 1 ;; esac
mkdir -p "$WORK_DIR"

T_ALL=$(date +%s.%N)
stage_start() { STAGE="$1"; T0=$(date +%s.%N); echo "=== [$(date +%T)] $STAGE"; }
stage_end() { awk -v a="$T0" -v b="$(date +%s.%N)" -v s="$STAGE" 'BEGIN{printf "=== %s: %.1f s wall\n", s, b-a}'; }

echo "OUT_DIR=$OUT_DIR  TRAIN_SUBSET=${TRAIN_SUBSET:-all}  SEED=$SEED"
echo "PEER_SRC=$PEER_SRC"
echo "CSNN_BUILD_DIR=$CSNN_BUILD_DIR  WORK_DIR=$WORK_DIR"

# ---------------------------------------------------------------- 1. build
stage_start "build extractor"
BIN="$CSNN_BUILD_DIR/csnn/build"
if [[ -x "$BIN/csnn_train" && -x "$BIN/csnn_test" ]] \
   && diff -rq -x build "$PEER_SRC" "$CSNN_BUILD_DIR" >/dev/null; then
    echo "reusing existing build in $BIN (sources identical to the peer's)"
else
    rm -rf -- "$CSNN_BUILD_DIR"; mkdir -p "$CSNN_BUILD_DIR"
    cp -r "$PEER_SRC/." "$CSNN_BUILD_DIR/"
    rm -rf -- "$BIN"; mkdir -p "$BIN"
    # Compatibility shim, force-included (see header); no source file is edited.
    cat >"$BIN/csnn_compat.h" <<'EOF'
/* Force-included build shim: no source file of the extractor is edited. */
#include <limits>       /* Tensor.h uses std::numeric_limits without including <limits> */
#include <lapacke.h>    /* LAPACK >= 3.9.1 headers declare sgesvd_ with 2 hidden Fortran */
#define sgesvd_(...) LAPACK_sgesvd(__VA_ARGS__)  /* string-length args; LAPACK_sgesvd appends them */
EOF
    (cd "$BIN" && cmake .. -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS="-include $BIN/csnn_compat.h" \
        -DCMAKE_CXX_FLAGS_RELEASE="-O3 -DNDEBUG" >cmake.log 2>&1 \
        && make -j"$MAKE_JOBS" csnn_train csnn_test >make.log 2>&1) \
        || { echo "build failed; see $BIN/cmake.log and $BIN/make.log" >&2; tail -20 "$BIN/make.log" >&2 || true; exit 1; }
fi
diff -rq -x build "$PEER_SRC" "$CSNN_BUILD_DIR" >/dev/null \
    || { echo "copied extractor sources differ from the peer's" >&2; exit 1; }
stage_end

# ---------------------------------------------------------------- 2. IDX -> .bin
stage_start "convert IDX to .bin"
"$PYTHON" - "$FMNIST_DIR" "$WORK_DIR" "${TRAIN_SUBSET:-0}" <<'PY'
import gzip, os, sys
import numpy as np

src, dst, subset = sys.argv[1], sys.argv[2], int(sys.argv[3])

def read_idx(stem):
    for name in (stem + ".gz", stem):
        path = os.path.join(src, name)
        if os.path.exists(path):
            opener = gzip.open if name.endswith(".gz") else open
            with opener(path, "rb") as f:
                raw = f.read()
            break
    else:
        raise FileNotFoundError(os.path.join(src, stem) + "[.gz]")
    magic = int.from_bytes(raw[0:4], "big")
    assert magic >> 8 == 0x08, f"{stem}: not uint8 IDX (magic {magic:#x})"
    ndim = magic & 0xFF
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    return data.reshape(dims)

# ImageBin (csnn/src/dataset/ImageBin.cpp): raw uint8, no header, width*height*depth bytes per
# image, labels one uint8 per sample. Same bytes as SpikeNN's get_fmnist.py (x.ravel()).
def write(prefix, X, y):
    assert X.shape[0] == y.shape[0] and X.shape[1:] == (28, 28)
    np.ascontiguousarray(X, dtype=np.uint8).tofile(os.path.join(dst, f"X_{prefix}.bin"))
    np.ascontiguousarray(y, dtype=np.uint8).tofile(os.path.join(dst, f"y_{prefix}.bin"))
    print(f"X_{prefix}.bin: {X.shape[0]} images, labels {np.bincount(y, minlength=10).tolist()}")

Xtr, ytr = read_idx("train-images-idx3-ubyte"), read_idx("train-labels-idx1-ubyte")
Xte, yte = read_idx("t10k-images-idx3-ubyte"), read_idx("t10k-labels-idx1-ubyte")
write("train", Xtr, ytr)
write("test", Xte, yte)
if subset:
    if subset > Xtr.shape[0]:
        sys.exit(f"--train-subset {subset} > {Xtr.shape[0]} training images")
    write("trainsub", Xtr[:subset], ytr[:subset])
PY
stage_end

# ---------------------------------------------------------------- 3. CSNN train / extract
RUN_DIR="$WORK_DIR/run"
rm -rf -- "$RUN_DIR"; mkdir -p "$RUN_DIR"
CONFIG="$CSNN_BUILD_DIR/csnn/config/F-MNIST.json"
if [[ -z "$TRAIN_SUBSET" ]]; then
    stage_start "csnn_train (60000 images, seed $SEED) + train features"
    "$BIN/csnn_train" "$WORK_DIR/X_train.bin" "$WORK_DIR/y_train.bin" "$CONFIG" "$RUN_DIR" "$SEED"
    stage_end
    mv "$RUN_DIR/X_csnn_train.npy" "$WORK_DIR/X_feat_train.npy"
    mv "$RUN_DIR/y_train.npy" "$WORK_DIR/y_feat_train.npy"
else
    stage_start "csnn_train (first $TRAIN_SUBSET images, seed $SEED)"
    "$BIN/csnn_train" "$WORK_DIR/X_trainsub.bin" "$WORK_DIR/y_trainsub.bin" "$CONFIG" "$RUN_DIR" "$SEED"
    stage_end
    rm -f "$RUN_DIR/X_csnn_train.npy" "$RUN_DIR/y_train.npy"   # subset features; replaced below
    stage_start "csnn_test on all 60000 training images (trained model)"
    "$BIN/csnn_test" "$WORK_DIR/X_train.bin" "$WORK_DIR/y_train.bin" "$RUN_DIR/model/" "$RUN_DIR"
    stage_end
    mv "$RUN_DIR/X_csnn_test.npy" "$WORK_DIR/X_feat_train.npy"
    mv "$RUN_DIR/y_test.npy" "$WORK_DIR/y_feat_train.npy"
fi
stage_start "csnn_test on the 10000 test images"
"$BIN/csnn_test" "$WORK_DIR/X_test.bin" "$WORK_DIR/y_test.bin" "$RUN_DIR/model/" "$RUN_DIR"
stage_end
mv "$RUN_DIR/X_csnn_test.npy" "$WORK_DIR/X_feat_test.npy"
mv "$RUN_DIR/y_test.npy" "$WORK_DIR/y_feat_test.npy"
cp "$RUN_DIR/model/config.json" "$OUT_DIR/csnn_config.json"

# ---------------------------------------------------------------- 4. SpikingDataset files
stage_start "write SpikingDataset trainset.npy / testset.npy"
"$PYTHON" - "$SPIKENN_DIR" "$WORK_DIR" "$OUT_DIR" <<'PY'
import sys
import numpy as np

spikenn_dir, work, out = sys.argv[1:4]
try:
    sys.path.insert(0, spikenn_dir)
    from spikenn.dataset import SpikingDataset   # numpy-only module of SpikeNN

    def save(X, y, path):
        SpikingDataset.from_numpy(X, y, max_time=1).save(path)
    print("using spikenn.dataset.SpikingDataset from", spikenn_dir)
except Exception as exc:  # same format as SpikingDataset.from_numpy(...).save(...)
    print("spikenn import failed (%r); writing the same format with numpy" % (exc,))
    DATA_TYPE = [("indices", np.int16), ("timestamps", np.float32)]

    def save(X, y, path, max_time=1):
        X = X.reshape(X.shape[0], -1)
        data = []
        for sample in X:
            order = sample.argsort()
            ts = sample[order]
            mask = ts < max_time
            rec = np.recarray(np.count_nonzero(mask), dtype=DATA_TYPE)
            rec.indices = order[mask]
            rec.timestamps = ts[mask]
            data.append(rec)
        labels = np.searchsorted(np.unique(y), y).astype(np.int16)
        np.save(path, {"data": data, "labels": labels, "shape": X.shape, "max_time": max_time})

for split in ("train", "test"):
    X = np.load(f"{work}/X_feat_{split}.npy", mmap_mode="r")
    y = np.load(f"{work}/y_feat_{split}.npy")
    print(f"{split}: dense CSNN output {X.shape} {X.dtype}, labels {y.shape}")
    save(X, y, f"{out}/{split}set.npy")
PY
stage_end

# ---------------------------------------------------------------- 5. verify with brainsnn
stage_start "verify (read back with brainsnn)"
"$PYTHON" - "$OUT_DIR" "$REPO_DIR" <<'PY'
import sys
import numpy as np

out, repo = sys.argv[1:3]
sys.path.insert(0, repo)
from brainsnn.data.spikingdataset import read_spiking_dataset

for split, n_expected in (("train", 60000), ("test", 10000)):
    times, labels = read_spiking_dataset(f"{out}/{split}set.npy")   # silent features read as 1.0
    n, d = times.shape
    fired = times < 1.0
    n_spk = fired.sum(axis=1)
    t = times[fired]
    print(f"{split}: samples={n} (expected {n_expected}) features={d} (expected 4608) "
          f"labels={np.bincount(labels).tolist()}")
    print(f"  spikes/sample: mean={n_spk.mean():.1f} min={n_spk.min()} max={n_spk.max()} "
          f"(fraction of features firing {n_spk.mean() / d:.4f})")
    print(f"  spike times: min={t.min():.7g} max={t.max():.7g} mean={t.mean():.4f}")
    print(f"  silent (feature, sample) pairs: {1 - fired.mean():.4f}; "
          f"features silent on every sample: {int((~fired.any(axis=0)).sum())}/{d}")
    assert n == n_expected and d == 4608
    del times, fired
PY
stage_end

awk -v a="$T_ALL" -v b="$(date +%s.%N)" 'BEGIN{printf "=== total: %.1f s wall\n", b-a}'
ls -l "$OUT_DIR"
