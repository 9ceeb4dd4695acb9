"""Forward + backward time of one hidden layer alone, sequential LIF vs parallel (FFT) neurons.

The per-epoch times of benchmarks/spsn_vs_lif.py include what every variant shares (binning,
augmentation, the 700 -> 128 input projection over all steps, the readout); this isolates the
neuron dynamics the SPSN paper's speed-up is about: input (batch, T, N) -> spikes, gradient of
their sum. Times are the median of --repeats calls after one compiling call, measured in one run.

    python benchmarks/neuron_layer_speed.py [--batch 64] [--steps 1400] [--neurons 128]
        [--repeats 5] [--json PATH]

``--json`` also writes the times (ms) and LIF's time over each other neuron's to PATH, with the
JAX device they ran on (``benchmarks/gpu_check.py`` runs it on JAX's CPU and GPU platforms).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from brainsnn.gradient.modelfile import load_neuron
from brainsnn.gradient.neurons import NeuronLayer

BASELINE = "LIF (scan)"

VARIANTS = {
    BASELINE: ("gradient/lif", None),
    "SPSN-SB (FFT)": ("gradient/spsn", "sigmoid_bernoulli"),
    "SPSN-GS (FFT)": ("gradient/spsn", "gumbel_softmax"),
    "ParaLIF-D (FFT)": ("gradient/paralif", "paralif_D"),
}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=1400)
    parser.add_argument("--neurons", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the times to this JSON file")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(0.0, 1.0, (args.batch, args.steps, args.neurons)), jnp.float32)
    times = {}
    for name, (model, firing) in VARIANTS.items():
        layer = NeuronLayer(load_neuron(model, firing), args.neurons, {})
        trainable, constants = layer.init_parameters(rng)
        values = layer.effective(trainable, constants)

        noise = jnp.asarray(rng.random(x.shape, dtype=np.float32)) if layer.stochastic else None

        def total(x, v, layer=layer, noise=noise):
            return layer(x, v, noise)[0].sum()

        step = jax.jit(jax.grad(total))
        step(x, values).block_until_ready()
        samples = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            step(x, values).block_until_ready()
            samples.append(time.perf_counter() - start)
        times[name] = statistics.median(samples)
        print(f"{name:16s} {1e3 * times[name]:8.1f} ms per forward + backward", flush=True)
    base = times[BASELINE]
    ratios = {name: base / seconds for name, seconds in times.items() if name != BASELINE}
    for name, ratio in ratios.items():
        print(f"LIF / {name}: {ratio:.1f}x")
    print(f"(batch {args.batch}, {args.steps} steps, {args.neurons} neurons, {jax.devices()[0]})")
    if args.json is not None:
        found = {
            "device": str(jax.devices()[0]),
            "shape": {"batch": args.batch, "steps": args.steps, "neurons": args.neurons},
            "ms": {name: 1e3 * seconds for name, seconds in times.items()},
            "lif_over": ratios,
        }
        args.json.write_text(json.dumps(found, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
