"""LIF vs SPSN-SB vs SPSN-GS vs ParaLIF-D vs non-spiking, trained one after another in ONE run.

Each variant is the protocol (default protocols/spsn_spoken.yaml) with the hidden neuron swapped
by overrides, as in the SPSN paper's table (spec B.5; ParaLIF-D: spec B.6); prints test
accuracy, hidden spikes per neuron, the mean training time per epoch (epoch 1, which includes
JAX compilation, excluded when there are more epochs) and the ratio LIF / SPSN of those times.
The SPSN paper measured 252.2 s vs 5.5 s per epoch (46x) on its GPU.

    python benchmarks/spsn_vs_lif.py [--protocol P] [--set key=value ...] [--only NAME ...]

Long comparisons (the paper trains 200 epochs) survive an interruption: ``--resume DIR`` (the
directory the first run printed, OUT/<start time>) continues each variant after its last
completed epoch, with the same --set and --only, and finished variants are only evaluated again.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np

from brainsnn.core.checkpoint import CHECKPOINT
from brainsnn.core.errors import BrainsnnError
from brainsnn.gradient.experiment import run_gradient_protocol
from brainsnn.protocol import load_protocol

OUT = Path(__file__).resolve().parent / "output" / "spsn_vs_lif"


def _hidden(count: int, **fields: object) -> list[str]:
    return [
        f"network.hidden.{i}.{key}={value}" for i in range(count) for key, value in fields.items()
    ]


def variants(layers: int) -> dict[str, list[str]]:
    """Overrides of each variant (the protocol itself is SPSN-SB with the regulariser)."""
    return {
        "LIF": [
            *_hidden(layers, neuron="gradient/lif", firing="threshold"),
            "loss.rate_threshold=null",
            # deterministic: re-simulated in Brian2 (cpp) on the first 64 test samples
            "recording.resimulate=true",
            "recording.resimulate_samples=64",
        ],
        "SPSN-SB": [],
        "SPSN-GS": [*_hidden(layers, firing="gumbel_softmax"), "loss.rate_threshold=0.1"],
        "ParaLIF-D": [
            *_hidden(layers, neuron="gradient/paralif", firing="paralif_D"),
            # ParaLIF v1's initial threshold: at v2's 0.1 the layers are silent from the start
            # on these data (0.03 spikes per neuron per sample in layer 1, none in layers 2-3,
            # at Kaiming initialisation), and 10 epochs never woke them; at 0.01 they fire on
            # 11-27 % of the steps at initialisation (measured on a training batch)
            *_hidden(layers, **{"parameters.theta": 0.01}),
            "loss.rate_threshold=null",
        ],
        "non-spiking": [
            *_hidden(layers, neuron="gradient/relu", firing="relu"),
            "network.readout.neuron=gradient/relu",
            "loss.rate_threshold=null",
        ],
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", default="protocols/spsn_spoken.yaml")
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    parser.add_argument("--only", action="append", default=[], help="run only these variants")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--resume",
        type=Path,
        metavar="DIR",
        help="continue the comparison in DIR (OUT/<start time> of an interrupted run)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    layers = len(load_protocol(args.protocol, args.overrides).network.hidden)
    rows = {}
    root = args.resume or args.out / time.strftime("%Y%m%d-%H%M%S")
    for name, overrides in variants(layers).items():
        if args.only and name not in args.only:
            continue
        protocol = load_protocol(args.protocol, [*args.overrides, *overrides])
        directory = root / name
        resume = args.resume is not None and (directory / CHECKPOINT).exists()
        print(f"--- {name}: {directory}{' (resumed)' if resume else ''}", flush=True)
        data = run_gradient_protocol(protocol, directory, resume=resume, show_progress=False)
        seconds = data.epoch_train_seconds.values
        rows[name] = {
            "accuracy": float(data.test_accuracy[0]),
            "spikes": data.spikes_per_neuron.values[:-1],
            "epoch_s": float(np.mean(seconds[1:] if len(seconds) > 1 else seconds)),
            "epochs": len(seconds),
        }
        if "resimulated_agreement" in data:
            agreement = float(data.resimulated_agreement[0])
            count = data.sizes["resimulated_sample"]
            print(f"{name}: Brian2 re-simulation agrees with JAX on {agreement:.4f} of {count}")
    print(f"\n{'variant':12s} {'test acc':>9s} {'epochs':>6s} {'s/epoch':>8s}  activity")
    for name, row in rows.items():
        activity = ", ".join(f"{v:.1f}" for v in row["spikes"])
        numbers = f"{row['accuracy']:9.4f} {row['epochs']:6d} {row['epoch_s']:8.2f}"
        print(f"{name:12s} {numbers}  {activity}")
    print("(activity: spikes, or ReLU output, per hidden neuron per test sample, by layer)")
    for spsn in ("SPSN-SB", "SPSN-GS"):
        if "LIF" in rows and spsn in rows:
            ratio = rows["LIF"]["epoch_s"] / rows[spsn]["epoch_s"]
            print(f"training time per epoch LIF / {spsn}: {ratio:.1f}x")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BrainsnnError as exc:
        sys.exit(f"error: {exc}")
