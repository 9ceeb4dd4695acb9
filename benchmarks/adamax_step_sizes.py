"""How far Adam / Adamax can still move each layer: |m| / u per parameter, from run checkpoints.

Adamax's step is lr * m_hat / u, with m an average of recent gradients (beta1 = 0.9) and u the
largest gradient magnitude seen, forgotten by beta2 = 0.999 per update (1/e after 1,000
updates). A large gradient early on (a rate regulariser far above its bound) keeps u large and
the steps small long after it stopped. For each run directory (one of brainsnn's gradient
runs: protocol.yaml and checkpoint.npz), this prints the median over each hidden layer's and
the readout's weights of |m| / u (the normalised step, before lr and the bias correction) and of
u itself, from the last completed epoch's optimiser state.

    python benchmarks/adamax_step_sizes.py RUN_DIR [RUN_DIR ...]
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

from brainsnn.core.errors import BrainsnnError
from brainsnn.gradient.data import load_gradient_data
from brainsnn.gradient.experiment import GradientRun
from brainsnn.protocol import load_protocol


def moments(run: Path) -> tuple[int, list[np.ndarray], list[np.ndarray]]:
    """(updates done, m and u of each layer's weight matrix) from a run's checkpoint."""
    import jax
    import optax

    checkpoint = run / "checkpoint.npz"
    if not checkpoint.exists():
        raise BrainsnnError(f"{run}: no checkpoint.npz (not a gradient run directory?)")
    experiment = load_protocol(run / "protocol.yaml")
    data = load_gradient_data(experiment.protocol.data, experiment.protocol.seed)
    progress = GradientRun(experiment, data, show_progress=False).progress
    progress.load(checkpoint)
    found = [
        s
        for s in jax.tree.leaves(
            progress.state.opt_state, is_leaf=lambda x: isinstance(x, optax.ScaleByAdamState)
        )
        if isinstance(s, optax.ScaleByAdamState)
    ]
    if not found:
        raise BrainsnnError(f"{run}: the optimiser is not Adam or Adamax")
    state = found[0]
    first = [np.asarray(layer["weight"]) for layer in state.mu["layers"]]
    largest = [np.asarray(layer["weight"]) for layer in state.nu["layers"]]
    return int(state.count), first, largest


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    print(f"{'run':48s} {'updates':>7s}  median |m|/u (median u) per layer's weights")
    for run in args.runs:
        count, first, largest = moments(run)
        cells = [
            f"{np.median(np.abs(m) / np.maximum(u, 1e-30)):.5f} ({np.median(u):.1e})"
            for m, u in zip(first, largest, strict=True)
        ]
        label = "/".join(run.resolve().parts[-2:])
        print(f"{label:48s} {count:7d}  {'  '.join(cells)}")
    print("(last column: the readout; Adam's u is a second moment, compare only like with like)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BrainsnnError as exc:
        sys.exit(f"error: {exc}")
