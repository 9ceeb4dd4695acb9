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
# # 01 · Membrane traces
#
# Every run leaves an xarray dataset (`results.nc`). With `recording.traces` set, it also holds
# the membrane potential and the firing threshold of a few output neurons at **every time step**
# of the first test samples:
#
# | variable | dims | meaning |
# |---|---|---|
# | `trace_v` | (trace_neuron, trace_time) | membrane potential (`recording.traces.potential`) |
# | `trace_threshold` | (trace_neuron, trace_time) | threshold (`recording.traces.threshold`) |
# | `trace_sample` | (trace_time) | index of the test sample shown at that time |
#
# `trace_neuron` holds output-neuron indices and `trace_time` is in ms; `units` and `long_name`
# are in each variable's attributes. This notebook runs two tiny protocols with traces on (a few
# seconds each once compiled) and explores them with xarray selections:
#
# 1. the NCG readout on scikit-learn's 8×8 digits (`protocols/ncg_digits.yaml`): single-spike
#    integrate-and-fire neurons, potentials in dimensionless weight units, threshold `theta`;
# 2. Diehl & Cook 2015 (`protocols/diehl_cook_digits.yaml`): conductance-based LIF neurons in mV
#    with the adaptive threshold `vt = v_thresh + theta`.
#
# Everything is written to a fresh temporary directory (or under `$BRAINSNN_NOTEBOOK_DIR` when set);
# the compiled networks go to the usual build cache (`$BRAINSNN_CACHE/builds`, else
# `~/.cache/brainsnn/builds`), so later runs of the same layout skip the C++ compilation.

# %%
# %matplotlib inline
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from brainsnn.run import run_protocol

from brainsnn import open_results
from brainsnn.figures import membrane_trace
from brainsnn.protocol import load_protocol
from brainsnn.unsupervised.experiment import run_unsupervised_protocol

ROOT = next(p for p in [Path.cwd(), *Path.cwd().parents] if (p / "protocols").is_dir())
WORK = Path(tempfile.mkdtemp(prefix="brainsnn-01-", dir=os.environ.get("BRAINSNN_NOTEBOOK_DIR")))
print("runs go to", WORK)

# %% [markdown]
# ## A tiny NCG readout run with traces
#
# `load_protocol` reads a protocol and applies `--set`-style overrides (every key is documented in
# `protocols/README.md`). We train for two epochs on 150 digits and test on 60, and trace every
# output neuron (10 classes × 5 neurons) during the first two test samples.
# `device.name=cpp` compiles the network once per layout (tens of seconds) and then runs fast;
# `device.name=runtime` needs no compilation but is slower per sample.

# %%
ALL_NEURONS = list(range(50))
ncg_protocol = load_protocol(
    ROOT / "protocols" / "ncg_digits.yaml",
    [
        "data.train_subset=150",
        "data.test_subset=60",
        "training.max_epochs=2",
        "training.patience=0",
        "training.chunk_size=100",
        f"recording.traces={{neurons: {ALL_NEURONS}, samples: 2}}",
        "device.name=cpp",
    ],
)
outcome = run_protocol(ncg_protocol, out=str(WORK / "ncg"), show_progress=False)
print(sorted(path.name for path in outcome.directory.iterdir()))

# %% [markdown]
# `open_results` accepts a `results.nc`, its run directory, or a sweep's summary. The trace
# variables sit next to the per-epoch accuracies and the per-sample test records.

# %%
ncg = open_results(outcome.directory)
ncg[["trace_v", "trace_threshold", "trace_sample"]]

# %% [markdown]
# ### Selecting neurons and samples
#
# `trace_sample` tells which test sample each time point belongs to; `test_label` gives its class.
# In the NCG layout, output neuron `n` belongs to class group `neuron_class[n]`, and one neuron
# per group is the *non-target* neuron (`neuron_nontarget`), which learns to fire late. Let us
# pick the group of the first traced sample's class.

# %%
sample = 0
label = int(ncg.test_label.sel(test_sample=sample))
group = ncg.output_neuron[ncg.neuron_class == label].values
nontarget = ncg.neuron_nontarget.sel(output_neuron=group).values.astype(bool)
print(f"test sample {sample} is a {label}; its class group is neurons {group.tolist()}")
print("non-target neuron(s):", group[nontarget].tolist())

one_sample = ncg.sel(trace_neuron=group).where(ncg.trace_sample == sample, drop=True)
one_sample.trace_v.to_pandas().round(2)

# %% [markdown]
# ### v(t) against the threshold
#
# Inputs are time-to-first-spike encoded: a bright pixel spikes early in the 10 ms window, a dark
# one late or never. Each output neuron integrates the weights of the input spikes it has
# received; it fires (once) when `v` reaches `theta`, and the first output spike decides the
# class. The traced potential stops rising at the neuron's first spike.

# %%
fig, ax = plt.subplots(figsize=(7, 3.5))
for index, neuron in enumerate(group):
    colour = f"C{index}"
    trace = one_sample.sel(trace_neuron=neuron)
    role = "non-target" if nontarget[index] else "target"
    ax.plot(trace.trace_time, trace.trace_v, color=colour, label=f"n{neuron} ({role})")
    ax.plot(trace.trace_time, trace.trace_threshold, color=colour, linestyle="--", linewidth=0.8)
ax.set_xlabel("time (ms)")
ax.set_ylabel(f"membrane potential ({ncg.trace_v.attrs['units']})")
ax.set_title(f"Class-{label} group on test sample {sample} (dashed: threshold theta)")
ax.legend(fontsize=8, loc="upper left")
plt.show()

# %% [markdown]
# The traces agree with the per-sample records: `test_first_spike_time` (units of the sample
# duration T = 10 ms; 1 means no spike) and `test_potential` (the potential at the decision).
# The neuron with the earliest spike (ties broken by the highest potential) wins.

# %%
record = ncg[["test_first_spike_time", "test_potential"]].sel(
    test_sample=sample, output_neuron=group
)
record.to_dataframe().assign(
    fired_in_trace=(one_sample.trace_v >= one_sample.trace_threshold).any("trace_time").values
)

# %% [markdown]
# ### Every traced neuron at once
#
# `brainsnn.figures.membrane_trace` draws all traced neurons (thin vertical lines where the
# presented sample changes). With 50 neurons a heatmap of `v / theta` is easier to read: it
# reaches 1 where a neuron fires.

# %%
ratio = (ncg.trace_v / ncg.trace_threshold).rename("v / theta")
fig, ax = plt.subplots(figsize=(7, 4))
ratio.plot(ax=ax, x="trace_time", y="trace_neuron", vmin=0, vmax=1, cmap="magma")
for boundary in ncg.trace_time.values[np.flatnonzero(np.diff(ncg.trace_sample.values)) + 1]:
    ax.axvline(boundary, color="white", linewidth=0.8)
ax.set_title("v / theta of every output neuron, two test samples")
plt.show()

# %% [markdown]
# ## A tiny Diehl & Cook run with traces
#
# The same recording works for unsupervised protocols (`kind: unsupervised`). Diehl & Cook's
# excitatory neurons have a potential `v` in mV and an adaptive threshold `vt`, so the protocol
# names them in `recording.traces`. This run is deliberately minute (12 training digits of three
# classes, 4 excitatory neurons, 50 ms presentations), on `device.name=runtime`: it needs no
# compilation. A sample whose presentation gives fewer than `min_spikes` output spikes is shown
# again with a stronger input (a *retry*); the traces include every presentation.

# %%
dc_protocol = load_protocol(
    ROOT / "protocols" / "diehl_cook_digits.yaml",
    [
        "data.classes=[0, 1, 2]",
        "data.train_subset=12",
        "data.test_subset=6",
        "training.chunk_size=12",
        "network.outputs=4",
        "encoding.present_steps=100",
        "encoding.rest_steps=20",
        "test.repeats=1",
        "network.parameters.min_spikes=1",
        "recording.traces={neurons: [0, 1, 2, 3], samples: 2, potential: v, threshold: vt}",
        "device.name=runtime",
    ],
)
dc = run_unsupervised_protocol(dc_protocol, WORK / "diehl_cook", show_progress=False)
print("test retries of the traced samples:", dc.test_retries.isel(repeat=0).values[:2])
dc[["trace_v", "trace_threshold", "trace_sample"]]

# %% [markdown]
# The figure function draws every traced neuron with its threshold (dashed); vertical lines mark
# a change of sample.

# %%
membrane_trace(dc)

# %% [markdown]
# ### Zoom on one sample
#
# Select the time points of sample 1 and one neuron. Each presentation lasts
# `present_steps + rest_steps` steps of `dt_s` (shaded: input on). When `v` reaches `vt` the
# neuron spikes and `v` is reset. During training each spike also raises the neuron's threshold
# (`theta` grows by `theta_plus`, homeostasis); in the test pass shown here learning is off and
# `vt` stays flat. With this tiny protocol's 10 ms rest, `v` barely decays between presentations
# (the full protocol rests 150 ms, so that each presentation starts from rest).

# %%
zoom = dc[["trace_v", "trace_threshold"]].where(dc.trace_sample == 1, drop=True)
presentation_ms = (dc.attrs["present_steps"] + dc.attrs["rest_steps"]) * dc.attrs["dt_s"] * 1e3
neuron = int(zoom.trace_v.max("trace_time").idxmax())  # the most depolarised traced neuron
fig, ax = plt.subplots(figsize=(7, 3))
zoom.trace_v.sel(trace_neuron=neuron).plot(ax=ax, label="v")
zoom.trace_threshold.sel(trace_neuron=neuron).plot(ax=ax, linestyle="--", label="vt")
ax.set_ylabel("mV")
start = float(zoom.trace_time[0])
for onset in np.arange(start, float(zoom.trace_time[-1]), presentation_ms):
    ax.axvspan(onset, onset + dc.attrs["present_steps"] * dc.attrs["dt_s"] * 1e3, alpha=0.1)
ax.set_title(f"Neuron {neuron}, test sample 1 (shaded: input on)")
ax.legend()
plt.show()

# %% [markdown]
# The per-sample records say the same: `test_retries` counts the failed presentations before the
# accepted one, and `test_counts` the output spikes of each neuron during the accepted one.

# %%
dc[["test_retries", "test_counts"]].isel(repeat=0, test_sample=1).to_dataframe()
