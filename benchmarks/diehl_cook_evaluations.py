"""Diehl & Cook test accuracy under two evaluations, from one finished run (issue 16, point 5).

The original's evaluation (spec B.7, B.8) assigns labels from a frozen pass over the whole
training set and reports the mean over 10 Poisson passes of the test set; the cheaper one that
``protocols/diehl_cook_*.yaml`` use by default assigns from the first 10k training images and
tests once. A run made with the original's settings holds both: its checkpoint keeps every
training image's spike counts from the assignment pass, so the first 10k of them give the cheaper
assignment, and results.nc keeps the spike counts of every test pass.

Usage (the run: ``brainsnn run protocols/diehl_cook_fmnist.yaml --out RUN --set
training.epochs=3 --set labels.samples=null --set test.repeats=10``)::

    python benchmarks/diehl_cook_evaluations.py RUN [--first 10000]

Reads RUN/results.nc, RUN/checkpoint.npz and RUN/protocol.yaml (for the training labels).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import xarray as xr

from brainsnn.core.checkpoint import CHECKPOINT
from brainsnn.core.errors import BrainsnnError
from brainsnn.protocol import load_protocol
from brainsnn.unsupervised.data import prepare_unsupervised_data
from brainsnn.unsupervised.labels import accuracy, assign_labels, classify
from brainsnn.unsupervised.progress import UnsupervisedProgress


def test_accuracies(
    test_counts: np.ndarray, test_labels: np.ndarray, assignment: np.ndarray, n_classes: int
) -> np.ndarray:
    """Accuracy of each test pass: ``test_counts`` (passes, samples, neurons)."""
    return np.array(
        [accuracy(classify(counts, assignment, n_classes), test_labels) for counts in test_counts]
    )


def evaluations(run: Path, first: int) -> list[tuple[str, np.ndarray, int]]:
    """(evaluation, per-pass test accuracies, neurons assigned) for both evaluations."""
    results = xr.open_dataset(run / "results.nc")
    progress = UnsupervisedProgress.load(run / CHECKPOINT)
    counts = progress.records.get("assign/counts")
    if counts is None:
        raise BrainsnnError(f"{run / CHECKPOINT} holds no assignment-pass counts")
    protocol = load_protocol(run / "protocol.yaml").protocol
    train_labels = prepare_unsupervised_data(protocol).train.labels
    if len(counts) != len(train_labels):
        raise BrainsnnError(
            f"the assignment pass covered {len(counts)} of {len(train_labels)} training images: "
            "run with --set labels.samples=null for the original's evaluation"
        )
    if first > len(counts):
        raise BrainsnnError(f"--first {first} is more than the {len(counts)} training images")
    n_classes = results.sizes["class"]
    test_counts = results["test_counts"].values
    test_labels = results["test_label"].values
    full = results["assignment"].values
    cheap, _ = assign_labels(counts[:first], train_labels[:first], n_classes)
    return [
        (
            f"labels from all {len(counts)} training images, {len(test_counts)} test passes",
            test_accuracies(test_counts, test_labels, full, n_classes),
            int((full >= 0).sum()),
        ),
        (
            f"labels from the first {first} training images, each test pass alone",
            test_accuracies(test_counts, test_labels, cheap, n_classes),
            int((cheap >= 0).sum()),
        ),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="run directory of the Diehl & Cook run")
    parser.add_argument(
        "--first", type=int, default=10000, help="training images of the cheaper assignment"
    )
    args = parser.parse_args(argv)
    for name, accuracies, assigned in evaluations(args.run, args.first):
        print(f"{name}: {assigned} neurons assigned")
        print(
            f"  test accuracy {accuracies.mean():.4f} +- {accuracies.std():.4f} "
            f"(min {accuracies.min():.4f}, max {accuracies.max():.4f}, pass 1 {accuracies[0]:.4f})"
        )


if __name__ == "__main__":
    try:
        main()
    except (BrainsnnError, OSError) as exc:
        sys.exit(f"error: {exc}")
