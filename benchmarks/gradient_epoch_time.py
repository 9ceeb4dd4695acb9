"""Training time per epoch of a gradient protocol, split into batch preparation and train steps.

Runs ``GradientRun.train_epoch`` for a few epochs (epoch 1 includes JAX compilation) and prints,
per epoch, the wall time, the time spent building batches (binning and augmentation, on a
worker thread, so it overlaps the steps) and the time in train steps (until their results are
ready). Compare two versions side by side by running it from each checkout in turn.

    python benchmarks/gradient_epoch_time.py protocols/spsn_spoken.yaml --epochs 3 [--set k=v ...]
"""

from __future__ import annotations

import argparse
import sys
import time

import jax
import numpy as np

from brainsnn.core.errors import BrainsnnError
from brainsnn.gradient.data import GradientDataset, load_gradient_data
from brainsnn.gradient.experiment import GradientRun
from brainsnn.gradient.trainer import GradientTrainer
from brainsnn.protocol import load_protocol


def _timed(totals: dict[str, float], name: str, function):
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        result = jax.block_until_ready(function(*args, **kwargs))
        totals[name] += time.perf_counter() - started
        return result

    return wrapper


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("protocol")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    args = parser.parse_args(argv)
    try:
        experiment = load_protocol(args.protocol, args.overrides)
        data = load_gradient_data(experiment.protocol.data, experiment.protocol.seed)
    except BrainsnnError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    totals = {"prepare": 0.0, "step": 0.0}
    GradientDataset.events = _timed(totals, "prepare", GradientDataset.events)
    GradientTrainer.train_step = _timed(totals, "step", GradientTrainer.train_step)
    run = GradientRun(experiment, data, show_progress=False)
    walls = []
    for epoch in range(1, args.epochs + 1):
        totals.update(prepare=0.0, step=0.0)
        started = time.perf_counter()
        run.train_epoch(epoch)
        walls.append(time.perf_counter() - started)
        loss = run.progress.history["train_loss"][-1]
        print(
            f"epoch {epoch}: {walls[-1]:.1f} s wall, batches built in {totals['prepare']:.1f} s, "
            f"train steps {totals['step']:.1f} s, loss {loss:.4f}",
            flush=True,
        )
    if len(walls) > 1:
        print(f"mean of epochs 2-{len(walls)}: {np.mean(walls[1:]):.1f} s per epoch")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
