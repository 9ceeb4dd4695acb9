"""snnTorch peer of benchmarks/vs_peers_gradient.py: the LIF network of spsn_spoken.yaml.

Reads the events that vs_peers_gradient.py exported, densifies each batch with NumPy (inside
the timed epoch), trains with Adamax and prints one JSON line: peer, epoch_seconds,
test_accuracy, versions. Runs in its own venv (torch CPU + snntorch), not brainsnn's.

Hidden layer: Linear (Kaiming-uniform, gain 1, bias 0) -> synaptic current kept here
(syn = alpha syn + (1 - beta) cur) -> ``snn.Leaky(beta, reset_mechanism="zero")`` with
``surrogate.fast_sigmoid(slope=100)``: Leaky integrates the current of the same step, fires on
mem > 1 and zeroes the membrane before the next step's integration with a detached reset, which
is brainsnn's gradient/lif exactly. The readout is the same with ``reset_mechanism="none"``.
The network runs step by step over the full frame, as snnTorch's tutorials do.

    python benchmarks/peers_gradient/snntorch_lif.py --data NPZ --epochs N --batch 64 --threads K
"""

from __future__ import annotations

import argparse
import itertools
import math
import platform
import sys
import time

import numpy as np
import snntorch as snn
import torch
from events import batches, load, report
from snntorch import surrogate

ALPHA = math.exp(-1 / 20)  # tau_syn = 20 steps
BETA = math.exp(-1 / 20)  # tau_mem = 20 steps


class Network(torch.nn.Module):
    """Linear + LIF hidden layers, Linear + non-firing LIF readout."""

    def __init__(self, sizes: list[int]):
        super().__init__()
        self.fc = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in itertools.pairwise(sizes))
        for layer in self.fc:
            torch.nn.init.kaiming_uniform_(layer.weight, nonlinearity="linear")
            torch.nn.init.zeros_(layer.bias)
        spike = surrogate.fast_sigmoid(slope=100)
        self.lif = torch.nn.ModuleList(
            snn.Leaky(beta=BETA, spike_grad=spike, reset_mechanism="zero") for _ in sizes[1:-1]
        )
        self.readout = snn.Leaky(beta=BETA, reset_mechanism="none")

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """x (T, batch, inputs), valid (T, batch) -> readout membrane (T, batch, classes).
        Before the batch begins (valid 0) the input current is 0, so the state stays 0."""
        neurons = [*self.lif, self.readout]
        mem = [neuron.reset_mem() for neuron in neurons]
        syn = [0.0] * len(neurons)
        trace = []
        for t in range(x.shape[0]):
            activity, live = x[t], valid[t, :, None]
            for i, (fc, neuron) in enumerate(zip(self.fc, neurons, strict=True)):
                syn[i] = ALPHA * syn[i] + (1 - BETA) * fc(activity) * live
                activity, mem[i] = neuron(syn[i], mem[i])
            trace.append(mem[-1])
        return torch.stack(trace)


def logits(membrane: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Readout membrane averaged over the valid steps: (batch, classes)."""
    return (membrane * valid[..., None]).sum(0) / valid.sum(0).clamp(min=1)[:, None]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    train, test, steps, channels, classes, test_batch = load(args.data)
    model = Network([channels, 128, 128, 128, classes])
    optimizer = torch.optim.Adamax(model.parameters(), lr=1e-3)
    epoch_seconds = []
    for epoch in range(1, args.epochs + 1):
        started = time.perf_counter()
        losses = []
        for arrays in batches(train, args.batch, steps, channels, rng):
            x, valid, labels = (torch.from_numpy(a) for a in arrays)
            loss = torch.nn.functional.cross_entropy(logits(model(x, valid), valid), labels.long())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        epoch_seconds.append(time.perf_counter() - started)
        print(f"snntorch epoch {epoch}: {epoch_seconds[-1]:.1f} s, loss {np.mean(losses):.4f}")
        sys.stdout.flush()
    correct = 0
    with torch.no_grad():
        for x, valid, labels in batches(test, test_batch, steps, channels):
            x, valid = torch.from_numpy(x), torch.from_numpy(valid)
            predicted = logits(model(x, valid), valid).argmax(-1).numpy()
            correct += int((predicted == labels).sum())
    versions = {
        "snntorch": snn.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    report("snntorch", epoch_seconds, correct / len(test), versions)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
