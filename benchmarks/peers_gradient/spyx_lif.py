"""spyx peer of benchmarks/vs_peers_gradient.py: the LIF network of spsn_spoken.yaml.

Reads the events that vs_peers_gradient.py exported, densifies each batch with NumPy (inside
the timed epoch), trains with ``spyx.optimize.make_train_step`` (nnx.jit) and optax.adamax and
prints one JSON line: peer, epoch_seconds, test_accuracy, versions. Runs in its own venv
(spyx, Flax NNX, JAX), not brainsnn's.

Hidden layer: ``nnx.Linear`` (variance_scaling(1, fan_in, uniform) = Kaiming-uniform with gain
1, bias 0) times (1 - beta) -> ``spyx.nn.CuBaLIF(alpha, beta)`` with
``spyx.axn.superspike(100)`` (= fast_sigmoid, scale 100). CuBaLIF has no (1 - beta) on the
current (hence the factor on the Linear output), fires on the membrane it starts the step
with and resets by subtraction (see vs_peers_gradient.py for what that changes). Readout:
``nnx.Linear`` times (1 - beta) -> ``spyx.nn.LI(alpha)`` (the synaptic current) ->
``spyx.nn.LI(beta)`` (the membrane): the non-firing LIF exactly. alpha and beta are fixed (not
trained). The whole stack is one step of ``spyx.nn.run``'s scan over the full frame.

    python benchmarks/peers_gradient/spyx_lif.py --data NPZ --epochs N --batch 64 --threads K
"""

from __future__ import annotations

import argparse
import importlib.metadata
import itertools
import math
import platform
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import spyx
import spyx.nn as snn
from events import batches, load, report
from flax import nnx
from spyx.optimize import make_train_step

ALPHA = math.exp(-1 / 20)  # tau_syn = 20 steps
BETA = math.exp(-1 / 20)  # tau_mem = 20 steps


class Fixed(nnx.Variable):
    """A neuron constant that the optimiser leaves alone (spyx makes them nnx.Param)."""


class Network(nnx.Module):
    """Linear + CuBaLIF hidden layers, Linear + LI + LI readout; one step of spyx.nn.run."""

    def __init__(self, sizes: list[int], rngs: nnx.Rngs):
        init = nnx.initializers.variance_scaling(1.0, "fan_in", "uniform")
        self.linears = nnx.List(
            nnx.Linear(a, b, kernel_init=init, rngs=rngs) for a, b in itertools.pairwise(sizes)
        )
        spike = spyx.axn.superspike(k=100)
        self.neurons = nnx.List(
            snn.CuBaLIF((n,), alpha=ALPHA, beta=BETA, activation=spike, rngs=rngs)
            for n in sizes[1:-1]
        )
        self.synapse = snn.LI((sizes[-1],), beta=ALPHA, rngs=rngs)
        self.membrane = snn.LI((sizes[-1],), beta=BETA, rngs=rngs)
        for neuron in [*self.neurons, self.synapse, self.membrane]:
            for name in ("alpha", "beta"):
                if hasattr(neuron, name):
                    setattr(neuron, name, Fixed(getattr(neuron, name)[...]))

    def initial_state(self, batch: int) -> list[jax.Array]:
        layers = [*self.neurons, self.synapse, self.membrane]
        return [layer.initial_state(batch) for layer in layers]

    def __call__(self, inputs: tuple[jax.Array, jax.Array], state: list[jax.Array]):
        """One step: inputs (x (batch, channels), valid (batch,)) -> readout membrane.
        Before the batch begins (valid 0) the input current is 0, so the state stays 0."""
        x, live = inputs
        live = live[:, None] * (1 - BETA)
        new = []
        for linear, neuron, old in zip(self.linears, self.neurons, state, strict=False):
            x, updated = neuron(linear(x) * live, old)
            new.append(updated)
        syn, syn_state = self.synapse(self.linears[-1](x) * live, state[-2])
        mem, mem_state = self.membrane(syn, state[-1])
        return mem, [*new, syn_state, mem_state]


def logits(model: Network, x: jax.Array, valid: jax.Array) -> jax.Array:
    """Readout membrane averaged over the valid steps: (batch, classes)."""
    membrane, _ = snn.run(model, (x, valid), state=model.initial_state(x.shape[1]))
    return (membrane * valid[..., None]).sum(0) / jnp.maximum(valid.sum(0), 1)[:, None]


def loss_fn(model: Network, x: jax.Array, valid: jax.Array, labels: jax.Array) -> jax.Array:
    return optax.softmax_cross_entropy_with_integer_labels(logits(model, x, valid), labels).mean()


@nnx.jit
def predict(model: Network, x: jax.Array, valid: jax.Array) -> jax.Array:
    return logits(model, x, valid).argmax(-1)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="set by the caller via NPROC")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    train, test, steps, channels, classes, test_batch = load(args.data)
    model = Network([channels, 128, 128, 128, classes], nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adamax(1e-3), wrt=nnx.Param)
    train_step = make_train_step(loss_fn)
    epoch_seconds = []
    for epoch in range(1, args.epochs + 1):
        started = time.perf_counter()
        losses = []
        for x, valid, labels in batches(train, args.batch, steps, channels, rng):
            losses.append(train_step(model, optimizer, x, valid, labels))
        mean_loss = float(jnp.mean(jnp.stack(losses)))  # waits for the last step
        epoch_seconds.append(time.perf_counter() - started)
        print(f"spyx epoch {epoch}: {epoch_seconds[-1]:.1f} s, loss {mean_loss:.4f}", flush=True)
    correct = 0
    for x, valid, labels in batches(test, test_batch, steps, channels):
        correct += int((np.asarray(predict(model, x, valid)) == labels).sum())
    versions = {name: importlib.metadata.version(name) for name in ("spyx", "flax", "jax", "optax")}
    versions["python"] = platform.python_version()
    report("spyx", epoch_seconds, correct / len(test), versions)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
