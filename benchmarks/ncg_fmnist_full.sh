#!/usr/bin/env bash
# Full Fashion-MNIST run of the NCG readout (54k train / 6k validation / 10k test, early stopping):
# prints the test accuracy, the number of epochs and the training samples/s from results.nc.
#   bash benchmarks/ncg_fmnist_full.sh [extra brainsnn run options, e.g. --set ...]
set -euo pipefail
cd "$(dirname "$0")/.."
out=benchmarks/output/ncg_fmnist_full
.venv/bin/brainsnn run protocols/ncg_fmnist.yaml --out "$out" --quiet "$@"
.venv/bin/python - "$out/results.nc" <<'PY'
import sys
import xarray as xr
run = xr.open_dataset(sys.argv[1])
print(f"epochs {run.sizes['epoch']}, final test accuracy {float(run.test_accuracy[-1]):.4f}, "
      f"best validation {float(run.validation_accuracy.max()):.4f}, "
      f"training {run.attrs['mean_train_samples_per_second']:.0f} samples/s "
      f"({run.attrs['device']}, 1 thread), wall {run.attrs['wall_time_s'] / 60:.1f} min")
PY
