#!/usr/bin/env bash
# Four SpikeNN configurations on Fashion-MNIST pixels (54k/6k/10k, early stopping, patience 10),
# each as ncg_fmnist.yaml with overrides; prints one line per configuration from its results.nc.
# Hyperparameters: a short grid per configuration on a 10k-sample subset (5-6 epochs), then, for
# SSTDP and R-STDP, which drifted (SSTDP) or fell silent (R-STDP) on the full set with those
# rates, rates 5x smaller.
#   bash benchmarks/spikenn_fmnist_pixels.sh [CONFIG...]   (default: all four, two at a time)
set -euo pipefail
cd "$(dirname "$0")/.."
base=(inputs/ttfs neurons/if_single_spike synapses/delta decision/first_spike)
models() { local IFS=,; echo "network.models=[$*]"; }
declare -A sets
sets[s2stdp+ncg]=""  # the protocol as shipped
sets[s2stdp]="--set network.neurons_per_class=1 --set network.nontarget_per_class=0
  --set network.parameters.thr_lr=0"
sets[sstdp+ncg]="--set $(models "${base[@]}" competition/ncg rules/s2stdp rules/time_ranges regulation/cr2)
  --set network.nontarget_per_class=0 --set network.weights.mean=0.5
  --set network.parameters.w_norm=0 --set network.parameters.theta0=80
  --set network.parameters.a_plus=0.01 --set network.parameters.a_minus=-0.001"
sets[rstdp-5n]="--set $(models "${base[@]}" rules/rstdp) --set network.parameters={}
  --set network.nontarget_per_class=0 --set network.weights.mean=0.8
  --set network.parameters.theta0=100 --set network.parameters.a_plus=0.002
  --set network.parameters.a_minus=-0.0002 --set network.parameters.anti_a_plus=-0.002
  --set network.parameters.anti_a_minus=0.0002"
configs=("$@")
[[ ${#configs[@]} -gt 0 ]] || configs=(s2stdp+ncg s2stdp sstdp+ncg rstdp-5n)
run() {
    local out="benchmarks/output/fmnist_pixels/$1"
    [[ -f "$out/results.nc" ]] && return 0
    # shellcheck disable=SC2086
    .venv/bin/brainsnn run protocols/ncg_fmnist.yaml --out "$out" --quiet ${sets[$1]} \
        > "benchmarks/output/fmnist_pixels/$1.log" 2>&1
}
mkdir -p benchmarks/output/fmnist_pixels
for ((k = 0; k < ${#configs[@]}; k += 2)); do
    run "${configs[k]}" & first=$!
    [[ -n ${configs[k + 1]:-} ]] && run "${configs[k + 1]}"
    wait "$first"
done
for config in "${configs[@]}"; do
    .venv/bin/python - "$config" "benchmarks/output/fmnist_pixels/$config/results.nc" <<'PY'
import sys
import xarray as xr
run = xr.open_dataset(sys.argv[2])
print(f"{sys.argv[1]:>12}: test {float(run.test_accuracy[-1]):.4f} after {run.sizes['epoch']} "
      f"epochs, {run.attrs['mean_train_samples_per_second']:.0f} training samples/s, "
      f"wall {run.attrs['wall_time_s'] / 60:.1f} min")
PY
done
