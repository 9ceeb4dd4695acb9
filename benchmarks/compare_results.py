"""Compare two results.nc files variable by variable: identical values, dims and attributes.

Provenance attributes that differ between any two runs (wall time, creation time, speeds, git
revision) are ignored. Exit code 0 when every data variable and coordinate is identical.

    python benchmarks/compare_results.py RUN_A/results.nc RUN_B/results.nc
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import xarray as xr

#: Dataset attributes that describe the run, not its results.
VOLATILE_ATTRS = {
    "created",
    "wall_time_s",
    "git_revision",
    "mean_train_samples_per_second",
    "mean_epoch_train_seconds",
}
#: Variables that hold wall-clock measurements, not results.
TIMING_VARIABLES = {
    "epoch_wall_time",
    "train_samples_per_second",
    "epoch_train_seconds",
}


def differences(a: xr.Dataset, b: xr.Dataset) -> list[str]:
    """One line per variable, coordinate or attribute that is not identical."""
    lines = []
    for name in sorted(set(a.variables) | set(b.variables)):
        if name in TIMING_VARIABLES:
            continue
        if name not in a.variables or name not in b.variables:
            lines.append(f"{name}: only in {'first' if name in a.variables else 'second'}")
            continue
        va, vb = a[name], b[name]
        if va.dims != vb.dims or va.attrs != vb.attrs:
            lines.append(
                f"{name}: dims/attrs differ ({va.dims} {va.attrs} vs {vb.dims} {vb.attrs})"
            )
        elif not np.array_equal(va.values, vb.values, equal_nan=va.dtype.kind == "f"):
            lines.append(f"{name}: values differ")
    for key in sorted((set(a.attrs) | set(b.attrs)) - VOLATILE_ATTRS):
        if a.attrs.get(key) != b.attrs.get(key):
            lines.append(f"attribute {key}: {a.attrs.get(key)!r} vs {b.attrs.get(key)!r}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first")
    parser.add_argument("second")
    args = parser.parse_args()
    for path in (args.first, args.second):
        if not Path(path).is_file():
            parser.error(f"no results file at {path}")
    with xr.open_dataset(args.first) as a, xr.open_dataset(args.second) as b:
        lines = differences(a, b)
        count = len(set(a.variables) - TIMING_VARIABLES)
    for line in lines:
        print(line)
    print(f"{'identical' if not lines else 'DIFFERENT'}: {count} variables compared")
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
