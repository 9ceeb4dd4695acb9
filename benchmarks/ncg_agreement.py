"""brainsnn's compiled NCG readout against the NumPy oracle, on one protocol's data.

forward : for the same inputs, weights and thresholds, compare first-spike decisions on the whole
          test set (weights: the final weights of a results.nc, or a fresh random draw).
training: train both from the same split, seed and initial weights; compare test accuracy and
          the last epoch's test decisions (with encoding.time_steps=exact on continuous times,
          the oracle runs on the untouched float times).
Both print a speed ratio measured in the same run (samples/s of brainsnn / of the oracle).

    python benchmarks/ncg_agreement.py forward protocols/ncg_fmnist.yaml [--weights results.nc]
    python benchmarks/ncg_agreement.py training protocols/ncg_fmnist.yaml \
        --set data.train_subset=10000 --set training.max_epochs=20
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import xarray as xr

from brainsnn.core.builds import default_build_root
from brainsnn.engine.state import state_key
from brainsnn.protocol import load_protocol
from brainsnn.readout import reference
from brainsnn.readout.backend import make_backend
from brainsnn.readout.crosscheck import oracle_training, split_times
from brainsnn.readout.data import prepare_data
from brainsnn.readout.experiment import build_layout, fresh_progress
from brainsnn.readout.training import ReadoutTrainer
from brainsnn.run import run_protocol

WEIGHTS = state_key("feedforward", "w")


def forward(args: argparse.Namespace) -> None:
    protocol = load_protocol(args.protocol, args.set)
    models = protocol.resolved
    data = prepare_data(protocol)
    layout = build_layout(protocol, data)
    progress = fresh_progress(protocol, layout, models)
    if args.weights:
        with xr.open_dataset(args.weights) as results:
            progress.state[WEIGHTS] = results.weights.values.reshape(-1)
        source = f"trained weights from {args.weights}"
    else:
        rng = np.random.default_rng(protocol.seed)
        weights = np.clip(rng.normal(0.3, args.std, (layout.n_outputs, layout.n_inputs)), 0, 1)
        progress.state[WEIGHTS] = weights.reshape(-1)
        source = f"random weights N(0.3, {args.std}) clipped to [0, 1]"
    backend = make_backend(
        protocol.device.name, layout, dict(models.composed), default_build_root()
    )
    trainer = ReadoutTrainer(backend, data, layout.chunk_size, 1, 0, show_progress=True)
    start = time.perf_counter()
    ours = trainer.present(data.test, progress, False, True, "brainsnn test pass")
    ours_seconds = time.perf_counter() - start
    prediction = np.concatenate([r.prediction for r in ours])
    spike_times = np.concatenate([r.first_spike_time for r in ours])
    weights = progress.state[WEIGHTS].reshape(layout.n_outputs, layout.n_inputs)
    start = time.perf_counter()
    oracle_pred, oracle_times, _ = reference.predict(
        split_times(data.test, data.time_steps), weights, models.parameters["theta0"],
        layout.neurons_per_class,
    )  # fmt: skip
    oracle_seconds = time.perf_counter() - start
    n = len(data.test)
    same_times = np.mean(np.all(np.abs(spike_times - oracle_times) <= 1e-12, axis=1))
    print(
        f"{protocol.name}: forward pass on {n} test samples, {source}, theta0 "
        f"{models.parameters['theta0']}, dt = T/{data.time_steps} (lossless for 8-bit TTFS)"
    )
    print(f"  same decision:                 {np.mean(prediction == oracle_pred):.4%}")
    print(f"  same first-spike vectors (1e-12): {same_times:.4%}")
    print(
        f"  accuracy brainsnn {np.mean(prediction == data.test.labels):.4f}, oracle "
        f"{np.mean(oracle_pred == data.test.labels):.4f}"
    )
    print(
        f"  speed: brainsnn {n / ours_seconds:.0f} samples/s, oracle {n / oracle_seconds:.0f} "
        f"samples/s, ratio {oracle_seconds / ours_seconds:.1f}x"
    )


def training(args: argparse.Namespace) -> None:
    protocol = load_protocol(args.protocol, args.set)
    data = prepare_data(protocol)
    out = Path(args.out or f"benchmarks/output/{protocol.name}-training")
    start = time.perf_counter()
    ours = run_protocol(protocol, out=str(out), show_progress=True).dataset
    ours_seconds = time.perf_counter() - start
    start = time.perf_counter()
    oracle = oracle_training(protocol, data)
    oracle_seconds = time.perf_counter() - start
    ours_test, oracle_test = float(ours.test_accuracy[-1]), oracle.test_acc[-1]
    print(
        f"{protocol.name}: training on {len(data.train)} samples (validation "
        f"{len(data.validation)}, test {len(data.test)}), same split, seed and initial weights"
    )
    print(f"  epochs: brainsnn {ours.sizes['epoch']}, oracle {oracle.n_epochs}")
    print(
        f"  test accuracy: brainsnn {ours_test:.4f}, oracle {oracle_test:.4f}, "
        f"difference {100 * abs(ours_test - oracle_test):.2f} points"
    )
    oracle_pred, _, _ = reference.predict(
        split_times(data.test, data.time_steps), oracle.weights, oracle.theta_test,
        protocol.network.neurons_per_class,
    )  # fmt: skip
    same = np.mean(ours.test_prediction.values == oracle_pred)
    print(f"  same test decisions after the last epoch: {same:.4%}")
    print(f"  per-epoch test accuracy brainsnn {np.round(ours.test_accuracy.values, 4).tolist()}")
    print(f"  per-epoch test accuracy oracle   {np.round(oracle.test_acc, 4).tolist()}")
    print(
        f"  max |weight difference| at the end: "
        f"{np.abs(ours.weights.values - oracle.weights).max():.2e}"
    )
    print(
        f"  wall time (incl. validation/test passes): brainsnn {ours_seconds:.0f} s "
        f"(incl. build), oracle {oracle_seconds:.0f} s, ratio {oracle_seconds / ours_seconds:.1f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mode", choices=["forward", "training"])
    parser.add_argument("protocol", type=Path)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--weights", type=Path, help="results.nc whose weights to use (forward)")
    parser.add_argument("--std", type=float, default=0.1, help="std of random weights (forward)")
    parser.add_argument("--out", help="run directory of the brainsnn run (training)")
    args = parser.parse_args()
    {"forward": forward, "training": training}[args.mode](args)


if __name__ == "__main__":
    main()
