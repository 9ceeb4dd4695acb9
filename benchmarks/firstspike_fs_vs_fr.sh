#!/usr/bin/env bash
# First-spike (FS) vs firing-rate (FR) coding (spec gradient_snn.md A.7): the AdLIF 2x256 + CuLIF
# network of firstspike_spoken.yaml trained once with the FS loss and once with the FR loss
# (alpha 20, as FS_coding on SHD), each decoded both ways on the test set; prints accuracy,
# spikes per neuron per sample, 50 % / 90 % latency, training time per epoch and the Brian2
# re-simulation agreement. Runs that finished are kept (delete the directory to rerun).
#   bash benchmarks/firstspike_fs_vs_fr.sh [PROTOCOL] [extra brainsnn run options]
set -euo pipefail
cd "$(dirname "$0")/.."
PROTOCOL=${1:-protocols/firstspike_spoken.yaml}
shift || true
OUT=benchmarks/output/firstspike_fs_vs_fr/$(basename "$PROTOCOL" .yaml)
for loss in fs fr; do
    [[ -f "$OUT/$loss/results.nc" ]] && continue
    extra=()
    [[ $loss == fr ]] && extra=(--set loss.kind=firing_rate --set loss.alpha=20)
    resume=()
    [[ -f "$OUT/$loss/checkpoint.npz" ]] && resume=(--resume)
    .venv/bin/brainsnn run "$PROTOCOL" --out "$OUT/$loss" --quiet "${extra[@]}" "${resume[@]}" "$@"
done
.venv/bin/python - "$OUT" <<'PY'
import sys
from pathlib import Path

import xarray as xr

print(f"{'trained':8s} {'decoding':8s} {'accuracy':>8s} {'lat50 ms':>8s} {'lat90 ms':>8s}"
      "  spikes/neuron/sample (hidden..., readout)  s/epoch  Brian2 agreement")
for loss in ("fs", "fr"):
    ds = xr.open_dataset(Path(sys.argv[1]) / loss / "results.nc")
    step_ms = 1e3 * ds.attrs["dt_s"]
    seconds = ds.epoch_train_seconds.values[1:].mean()
    activity = ", ".join(f"{v:.2f}" for v in ds.spikes_per_neuron.values)
    for decoding in ds.decoding.values:
        d = ds.sel(decoding=decoding)
        agree = f"{float(d.resimulated_agreement):.4f}" if "resimulated_agreement" in ds else "-"
        print(f"{loss:8s} {decoding:8s} {float(d.test_accuracy):8.4f} "
              f"{int(d.latency_50) * step_ms:8.0f} {int(d.latency_90) * step_ms:8.0f}  "
              f"{activity:41s}  {seconds:7.1f}  {agree}")
PY
