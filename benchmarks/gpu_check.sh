#!/usr/bin/env bash
# GPU check in at most 8 minutes (one H200, 16 cores): installs '.[cuda]', then runs
# benchmarks/gpu_check.py (cross-device agreement runtime / cpp / cuda; batched k-fold and
# Diehl & Cook timings, cuda against cpp; one SPSN and one LIF layer timed on JAX's cpu and cuda
# platforms), which writes OUT_DIR/gpu_check.json and gpu_check.md.
# Without a GPU it runs to the end on CPU: the cpp parts run, each cuda part says why it skipped.
#
# Usage: bash benchmarks/gpu_check.sh OUT_DIR [--python PYTHON] [--no-install] [--wheels DIR]
#                                            [--jax-gpu]
#   --python PYTHON  the interpreter (of a venv) to install into and run with; default the
#                    repository's .venv, created from python3.12 where there is none
#   --no-install     skip 'pip install -e .[cuda]'
#   --wheels DIR     install from these wheels only (pip --no-index --find-links DIR), for a
#                    machine without a package index
#   --jax-gpu        also install JAX's GPU build, 'jax[cuda12]' (about 2 GB from PyPI), for the
#                    SPSN-against-LIF part's cuda run; without it that run says why it skipped
# Exit code: 1 if an agreement check that ran failed (or on a usage error), else 0.
set -uo pipefail

started=$(date +%s.%N)  # the 7.5-minute start budget counts from here, the install included
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out="" python="" install=1 wheels=() jax_gpu=0
while (($#)); do
    case $1 in
        --python) python=${2:?--python needs a value}; shift 2 ;;
        --no-install) install=0; shift ;;
        --jax-gpu) jax_gpu=1; shift ;;
        --wheels) wheels=(--no-index --find-links "${2:?--wheels needs a directory}"); shift 2 ;;
        -h|--help) sed -n '2,17s/^# \{0,1\}//p' "$0"; exit 0 ;;
        -*) echo "gpu_check: unknown option $1" >&2; exit 2 ;;
        *) [[ -z $out ]] || { echo "gpu_check: one OUT_DIR only" >&2; exit 2; }
           out=$1; shift ;;
    esac
done
[[ -n $out ]] || { echo "usage: bash benchmarks/gpu_check.sh OUT_DIR [--python PYTHON] [--no-install] [--wheels DIR] [--jax-gpu]" >&2; exit 2; }
mkdir -p "$out/logs" && out=$(cd "$out" && pwd)

if [[ -z $python ]]; then
    python=$repo/.venv/bin/python
    if [[ ! -x $python ]]; then
        echo "gpu_check: creating $repo/.venv from python3.12"
        python3.12 -m venv "$repo/.venv" || { echo "gpu_check: cannot create the venv" >&2; exit 2; }
    fi
fi
echo "gpu_check: python $python ($("$python" --version 2>&1))"

if ((install)); then
    log=$out/logs/pip-install.log
    echo "gpu_check: pip install -e '.[cuda]' (log: $log)"
    if ! "$python" -m pip install "${wheels[@]}" -e "$repo[cuda]" >"$log" 2>&1; then
        echo "gpu_check: installing the cuda extra failed ($(tail -n 1 "$log")); continuing CPU-only"
        "$python" -c 'import brainsnn' 2>/dev/null \
            || "$python" -m pip install "${wheels[@]}" -e "$repo" >>"$log" 2>&1 \
            || echo "gpu_check: installing brainsnn failed too (see $log)"
    fi
fi
if ((jax_gpu)); then
    log=$out/logs/pip-install-jax.log
    echo "gpu_check: pip install 'jax[cuda12]' (log: $log)"
    "$python" -m pip install "${wheels[@]}" "jax[cuda12]" >"$log" 2>&1 \
        || echo "gpu_check: installing JAX's GPU build failed ($(tail -n 1 "$log")); its run will skip"
fi

cd "$repo" && exec "$python" benchmarks/gpu_check.py "$out" --started "$started"
