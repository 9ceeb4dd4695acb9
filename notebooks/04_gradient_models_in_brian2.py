# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · Gradient-trained models re-simulated in Brian2
#
# `kind: gradient` protocols train spiking networks with surrogate gradients in JAX, from neuron
# model files written as Brian2 code (`models/gradient/*.yaml`). After training, the run directory
# holds the trained network (`network.yaml` + `network.npz`: weights with BatchNorm folded in, and
# every neuron parameter per neuron), and `recording.resimulate: true` runs the test set again in
# Brian2 from the same model files — so the toolkit's neuroscience tools (membrane traces, spike
# records, figures) apply to gradient-trained models too.
#
# This notebook
#
# 1. synthesises a tiny spoken-digit set (espeak-ng + a cochlea model; `brainsnn data
#    spoken-digits` makes the full one),
# 2. trains an AdLIF network with a CuLIF readout on the first-spike (FS) loss,
# 3. compares FS and FR (firing-rate) decoding and their accuracy over time,
# 4. re-simulates the trained network in Brian2 and checks it against JAX, spike for spike.
#
# Everything is written to a fresh temporary directory (or under `$BRAINSNN_NOTEBOOK_DIR`).

# %%
# %matplotlib inline
import os
import shutil
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import yaml

from brainsnn import open_results
from brainsnn.data import SpikeEvents, read_shd, synthesise_spoken_digits, write_shd
from brainsnn.figures import accuracy_over_time, membrane_trace
from brainsnn.gradient.data import load_gradient_data
from brainsnn.gradient.experiment import run_gradient_protocol
from brainsnn.gradient.export import load_network
from brainsnn.gradient.resimulate import resimulate
from brainsnn.protocol import load_protocol

WORK = Path(tempfile.mkdtemp(prefix="brainsnn-04-", dir=os.environ.get("BRAINSNN_NOTEBOOK_DIR")))
print("runs go to", WORK)

# %% [markdown]
# ## A tiny spoken-digit set
#
# Three English digits (0, 1, 2) said twice by each of 6 synthetic speakers, through a 64-channel
# cochlea (SHD has 700). One speaker in five is test-only, as in SHD. The files have SHD's HDF5
# layout, so `read_shd` reads them like the real SHD files. Speech needs Debian's espeak-ng
# (`apt-get install espeak-ng`); without it, this cell writes a stand-in in the same layout:
# each digit excites its own band of channels, later for larger digits, plus background spikes.


# %%
def stand_in_digits(path: Path, count: int, seed: int, channels: int = 64) -> Path:
    """Spike trains in SHD's layout where class c fires channel band c (no speech needed)."""
    rng = np.random.default_rng(seed)
    times, units = [], []
    for index in range(count):
        band = np.arange(index % 3 * channels // 3, (index % 3 + 1) * channels // 3)
        unit = np.concatenate([rng.choice(band, 60), rng.integers(0, channels, 20)])
        time = np.concatenate([rng.uniform(0, 0.2, 60) + 0.1 * (index % 3), rng.uniform(0, 0.5, 20)])
        order = np.argsort(time)
        times.append(time[order])
        units.append(unit[order])
    labels = np.arange(count) % 3
    keys = ["zero", "one", "two"]
    write_shd(path, SpikeEvents(times, units, labels, np.zeros(count, int), keys, channels))
    return path


if shutil.which("espeak-ng"):
    report = synthesise_spoken_digits(
        WORK / "spoken",
        per_class_speaker=2,
        n_speakers=6,
        languages=["en"],
        digits=[0, 1, 2],
        channels=64,
        workers=1,
        show_progress=False,
    )
else:
    print("espeak-ng is not installed: using stand-in spike trains in SHD's layout")
    (WORK / "spoken").mkdir()
    report = {
        "train": stand_in_digits(WORK / "spoken" / "spoken_train.h5", 30, 0),
        "test": stand_in_digits(WORK / "spoken" / "spoken_test.h5", 12, 1),
    }
train = read_shd(report["train"])
print(len(train), "training utterances; keys:", train.keys[:3])
first = 0
fig, ax = plt.subplots(figsize=(6, 2.5))
ax.scatter(train.times[first], train.units[first], s=1, color="k")
ax.set_xlabel("time (s)")
ax.set_ylabel("cochlea channel")
ax.set_title(f"'{train.keys[int(train.labels[first])]}' as spikes")
plt.show()

# %% [markdown]
# ## Train with the first-spike loss
#
# One hidden layer of 32 AdLIF neurons (BatchNorm, dropout) and a CuLIF readout of 3 neurons
# (labels 0–2). The FS loss makes the correct readout neuron fire first; `recording.resimulate`
# re-runs the test set in Brian2 (here on the `runtime` device, which needs no compiler; use
# `cpp` for large sets) and records the readout membrane `h` of all three neurons during the
# first two test samples.

# %%
protocol_data = {
    "kind": "gradient",
    "name": "spoken_tiny",
    "data": {
        "train": str(WORK / "spoken" / "spoken_train.h5"),
        "test": str(WORK / "spoken" / "spoken_test.h5"),
        "dt": "10 ms",
        "steps": 80,
    },
    "network": {
        "hidden": [{"size": 32, "neuron": "gradient/adlif", "batch_norm": True, "dropout": 0.1}],
        "readout": {
            "size": 3,
            "neuron": "gradient/culif",
            "parameters": {"tau_m": 20, "tau_s": 20, "theta": 1.0},
        },
    },
    "loss": {"kind": "first_spike", "alpha": 0.2, "spread": 8, "amplitude": 50},
    "training": {"epochs": 25, "batch_size": 8, "learning_rate": 0.005, "clip_norm": 10},
    "recording": {
        "resimulate": True,
        "traces": {"neurons": [0, 1, 2], "samples": 2, "potential": "h"},
    },
    "device": {"name": "runtime"},
}
(WORK / "spoken_tiny.yaml").write_text(yaml.safe_dump(protocol_data))
protocol = load_protocol(WORK / "spoken_tiny.yaml")
run = run_gradient_protocol(protocol, WORK / "run", show_progress=False)
print(run.test_accuracy.to_pandas())

# %% [markdown]
# ## FS vs FR decoding
#
# Every spiking readout is decoded both ways: FS = the neuron that spikes first (silent neurons
# ranked by their peak potential), FR = the neuron with most spikes. `accuracy_over_time` is the
# accuracy if the decision had to be made by time t; `latency_50` / `latency_90` are the steps
# at which it reaches 50 % / 90 % of its maximum.

# %%
accuracy_over_time(run)

# %%
print("latency to 90 % of the final accuracy (ms):")
print((run.latency_90 * 1e3 * run.attrs["dt_s"]).to_pandas())
print("spikes per neuron per test sample (hidden, readout):", run.spikes_per_neuron.values.round(2))

# %% [markdown]
# ## The same network in Brian2
#
# The re-simulation ran during the run; its predictions agree with JAX's on this share of the
# test samples:

# %%
run.resimulated_agreement.to_pandas()

# %% [markdown]
# The traced readout membranes come from Brian2 (`trace_v`, with the threshold `theta` as
# `trace_threshold`), in ms, like any other brainsnn trace:

# %%
membrane_trace(open_results(WORK / "run"))

# %% [markdown]
# The trained network can also be loaded and re-simulated by hand: `load_network` returns the
# layer stack and the exported weights, `resimulate` runs any input counts in Brian2 and returns
# the readout spikes and membranes per step. Spike counts against the JAX forward pass on the
# same samples:

# %%
stack, exported, description = load_network(WORK / "run")
data = load_gradient_data(protocol.data, protocol.seed)
batch = data.dense(data.test, np.arange(4))  # counts, and where the batch starts
brian = resimulate(stack, exported, batch.counts, device="runtime", start=batch.start)
print("Brian2 readout spikes per sample:", brian.readout_spikes.sum(axis=(1, 2)))
print("JAX readout spikes per sample:   ", run.output_spike_count.values[:4].sum(axis=1))

fig, ax = plt.subplots(figsize=(6, 2.5))
for neuron in range(3):
    ax.plot(brian.readout_membrane[0, neuron], label=f"readout {neuron}")
ax.axhline(1.0, color="grey", linestyle="--", linewidth=0.8)
ax.set_xlabel("step (10 ms)")
ax.set_ylabel("membrane h")
ax.set_title(f"Brian2, test sample 0 (label {int(data.test.labels[0])})")
ax.legend(fontsize=8)
plt.show()
