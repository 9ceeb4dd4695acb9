"""Evaluation speed against the number of lanes (``training.evaluation_lanes``), one build each.

Prepares a protocol's data, then for every lane count builds the network with that many lanes
and times a test pass (learning off, the protocol's initial weights) after one warm-up pass. It
prints samples/s and whether the decisions equal the first lane count's. Lane counts run one
after the other in this process, on the device the protocol names (compiled builds cached).

    python benchmarks/evaluation_lanes.py [PROTOCOL] [--lanes 1,4,8,16] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from brainsnn.core.builds import build_root
from brainsnn.protocol import load_protocol
from brainsnn.readout.backend import make_backend
from brainsnn.readout.data import prepare_data
from brainsnn.readout.experiment import build_layout, fresh_progress
from brainsnn.readout.training import ReadoutTrainer

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    """Parse the arguments, time one test pass per lane count, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("protocol", nargs="?", default=str(ROOT / "protocols/ncg_fmnist.yaml"))
    parser.add_argument("--lanes", default="1,4,8,16", help="lane counts, comma-separated")
    parser.add_argument("--set", action="append", default=[], help="protocol override")
    args = parser.parse_args()
    experiment = load_protocol(args.protocol, args.set)
    protocol = experiment.protocol
    data = prepare_data(protocol)
    layout = build_layout(experiment, data)
    composed = dict(experiment.resolved.composed)
    progress = fresh_progress(protocol, layout, experiment.resolved)
    root = build_root(protocol.device.build_dir)
    print(f"{protocol.name}: {len(data.test)} test samples on {protocol.device.name}")
    first = None
    for lanes in (int(text) for text in args.lanes.split(",")):
        lane_layout = layout.with_lanes(lanes)
        chunk = lane_layout.chunk_size
        backend = make_backend(protocol.device.name, lane_layout, composed, root)
        trainer = ReadoutTrainer(backend, data, chunk, 1, 0, show_progress=False)
        trainer.present(data.test, progress, False, False, "warm-up")
        started = time.perf_counter()
        results = trainer.present(data.test, progress, False, False, "test")
        seconds = time.perf_counter() - started
        decisions = np.concatenate([result.prediction for result in results])
        first = decisions if first is None else first
        same = "same decisions" if np.array_equal(decisions, first) else "DIFFERENT decisions"
        rate = len(decisions) / seconds
        print(f"lanes {lanes:5d}  chunk {chunk:6d}  {rate:9.0f} samples/s  {same}")


if __name__ == "__main__":
    main()
