"""What flooring continuous spike times onto brainsnn's time grid costs, by the exact oracle.

SpikeNN simulates continuous (float) input times. brainsnn keeps them on its exact grid
(``encoding.time_steps: exact``, the default for feature files; tests/test_exact_times.py and
benchmarks/ncg_agreement.py show it equals the oracle on the float times). With a number,
``encoding.time_steps = L``, it floors each time onto L steps per sample
(``brainsnn.data.quantise_times``) and is then equal to the oracle run on those floored times
(tests/test_rules.py). This script measures what that uniform grid costs: the oracle on exact
times stands for SpikeNN (and the exact grid), the oracle on floored times for a uniform grid.

For each gap g and each L, both are trained from the same initial weights, in the same order,
for the same epochs (no early stopping), with a protocol's other values. Printed per row: test
accuracy of each, the fraction of test samples on which the two trained readouts decide the same
class, and ``frozen``: the same for the exact-trained weights, evaluated on exact vs floored test
times (the grid's effect on inference alone). ``--perturb EPS`` adds a row trained on exact
times scaled by (1 - EPS), which keeps their order and ties: training is chaotic, so this row is
the noise floor of the trained comparison.

    python benchmarks/time_grid_agreement.py ~/data/spikenn/csnn/fmnist \
        --protocol protocols/spikenn/csnn/fmnist/s2stdp+ncg.yaml \
        --gaps 0.0005 0.001 0.005 --steps 1000 10000 --train-subset 10000 --test-subset 2000

FEATURES holds SpikeNN's trainset.npy and testset.npy (benchmarks/csnn_features.sh makes them).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from brainsnn.data import grid_times, quantise_times, read_spiking_dataset
from brainsnn.protocol import load_protocol
from brainsnn.readout import reference
from brainsnn.readout.crosscheck import oracle_params
from brainsnn.readout.weights import initial_weights


def _subset(times: np.ndarray, labels: np.ndarray, n: int | None, rng: np.random.Generator):
    """A random subset of n samples (all, shuffled, if n is None)."""
    order = rng.permutation(len(labels))[:n]
    return times[order], labels[order]


def _train(params, weights0, sums, times, labels, epochs: int) -> reference.ReferenceReadout:
    model = reference.ReferenceReadout(params, weights0, sums)
    for _ in range(epochs):
        model.train_epoch(times, labels)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("features", type=Path, help="folder of trainset.npy and testset.npy")
    parser.add_argument(
        "--protocol",
        type=Path,
        default=Path("protocols/spikenn/csnn/fmnist/s2stdp+ncg.yaml"),
        help="readout protocol whose values (other than g) are used",
    )
    parser.add_argument("--gaps", type=float, nargs="+", default=[0.0005, 0.001, 0.005])
    parser.add_argument("--steps", type=int, nargs="*", default=[1000, 10000])
    parser.add_argument(
        "--perturb",
        type=float,
        default=None,
        metavar="EPS",
        help="also train on exact times x (1 - EPS) (row L = 'perturb'; order and ties kept): "
        "how far two runs drift apart for a change far below any grid (the noise floor)",
    )
    parser.add_argument("--train-subset", type=int, default=10000)
    parser.add_argument("--test-subset", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=3, help="training epochs (no early stop)")
    parser.add_argument("--seed", type=int, default=0, help="subsets and initial weights")
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    train_t, train_y = _subset(*read_spiking_dataset(args.features / "trainset.npy"),
                               args.train_subset, rng)  # fmt: skip
    test_t, test_y = _subset(*read_spiking_dataset(args.features / "testset.npy"),
                             args.test_subset, rng)  # fmt: skip
    n_classes = int(max(train_y.max(), test_y.max())) + 1
    fired = train_t < 1.0
    print(f"{len(train_y)} training and {len(test_y)} test samples, {train_t.shape[1]} inputs, "
          f"{fired.sum(axis=1).mean():.0f} input spikes per sample; {args.epochs} epochs; "
          f"values of {args.protocol}")  # fmt: skip
    print("| g | L | exact test acc | grid test acc | Δ acc (pp) | decisions agree | frozen |")
    print("|---|---|---|---|---|---|---|")
    for gap in args.gaps:
        protocol = load_protocol(args.protocol, [f"network.parameters.gap={gap}"])
        params = oracle_params(protocol, n_classes)
        weights0, sums = initial_weights(
            params.n_neurons, train_t.shape[1], protocol.network.weights.mean,
            protocol.network.weights.std, params.w_min, params.w_max,
            np.random.default_rng(protocol.seed),
        )  # fmt: skip
        start = time.perf_counter()
        exact = _train(params, weights0, sums, train_t, train_y, args.epochs)
        exact_pred = exact.predict(test_t)
        variants: list[tuple[str, dict]] = [
            (str(steps), {name: grid_times(quantise_times(t, steps), steps)
                          for name, t in (("train", train_t), ("test", test_t))})
            for steps in args.steps
        ]  # fmt: skip
        if args.perturb is not None:
            scale = 1.0 - args.perturb
            variants.append((f"perturb {args.perturb:g}", {
                name: np.where(t < 1.0, t * scale, 1.0)
                for name, t in (("train", train_t), ("test", test_t))
            }))  # fmt: skip
        for label, floored in variants:
            grid = _train(params, weights0, sums, floored["train"], train_y, args.epochs)
            grid_pred = grid.predict(floored["test"])
            frozen = np.mean(exact.predict(floored["test"]) == exact_pred)
            exact_acc, grid_acc = np.mean(exact_pred == test_y), np.mean(grid_pred == test_y)
            agree = np.mean(grid_pred == exact_pred)
            print(f"| {gap:g} | {label} | {100 * exact_acc:.2f} % | {100 * grid_acc:.2f} % | "
                  f"{100 * (grid_acc - exact_acc):+.2f} | {100 * agree:.2f} % "
                  f"| {100 * frozen:.2f} % |", flush=True)  # fmt: skip
        print(f"<!-- g = {gap:g}: {time.perf_counter() - start:.0f} s -->", flush=True)


if __name__ == "__main__":
    main()
