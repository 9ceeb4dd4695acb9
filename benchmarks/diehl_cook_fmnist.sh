#!/usr/bin/env bash
# Diehl & Cook N_e = 400 on Fashion-MNIST: one epoch of the 60k training images, labels assigned on
# the first 10k training images (frozen), then the 10k test images (2 Poisson passes). Prints wall
# time and examples/s from results.nc; the spec's Brian2 runtime-mode port took 0.40 s/example on
# the project's 2-core machine kind, so the ratio below is 0.40 s / (our s/example).
# Usage: bash benchmarks/diehl_cook_fmnist.sh [extra brainsnn run options, e.g. --set ...]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=benchmarks/output/diehl_cook_fmnist
mkdir -p "$(dirname "$OUT")"
if [[ -f "$OUT/checkpoint.npz" && ! -f "$OUT/results.nc" ]]; then RESUME=--resume; else RESUME=; rm -rf "$OUT"; fi
start=$(date +%s)
.venv/bin/brainsnn run protocols/diehl_cook_fmnist.yaml --out "$OUT" $RESUME \
    --set test.repeats=2 "$@"
echo "total wall time: $(( $(date +%s) - start )) s"
.venv/bin/python - "$OUT/results.nc" <<'PY'
import sys
import xarray as xr

ds = xr.open_dataset(sys.argv[1])
rate = float(ds.train_samples_per_second[0])
print(f"training: {int(ds.epoch_wall_time[0])} s for the epoch, {rate:.1f} examples/s "
      f"({1 / rate:.4f} s/example; spec's Brian2 runtime port 0.40 s/example: {0.40 * rate:.1f}x)")
print(f"retries per training example {float(ds.train_mean_retries[0]):.3f}, "
      f"output spikes per example {float(ds.train_spikes_per_sample[0]):.1f}")
print(f"neurons assigned: {int((ds.assignment >= 0).sum())} of {ds.sizes['output_neuron']}")
print(f"test accuracy: {ds.attrs['test_accuracy_mean']:.4f} +- {ds.attrs['test_accuracy_std']:.4f} "
      f"over {ds.sizes['repeat']} passes")
PY
