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
# # 02 · NCG learning dynamics
#
# The NCG readout (Goupy, Tirilly & Bilasco, NeurIPS 2024) is one layer of single-spike
# integrate-and-fire neurons on time-to-first-spike inputs. The output neurons form one
# **Neuronal Competition Group** per class (here 5 neurons, one of them *non-target*); the first
# output spike decides the class. Training uses **S2-STDP** (weights move so that the winner's
# spike time approaches a target) and **CR-2** (each neuron's threshold is regulated during
# training); the learning rates anneal every epoch.
#
# This notebook trains a small run of `protocols/ncg_digits.yaml` for a few epochs and reads
# everything from its saved dataset with `brainsnn.analysis` (plain xarray, no Brian2) and the
# figure functions of `brainsnn.figures.readout` (the figures of `brainsnn figures RUN --out DIR`).
# Runs go to a fresh temporary directory (or under `$BRAINSNN_NOTEBOOK_DIR` when set).

# %%
# %matplotlib inline
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
from brainsnn.run import run_protocol
from IPython.display import Markdown

from brainsnn import open_results
from brainsnn.analysis import (
    accuracy_table,
    confusion_matrix,
    decision_times,
    first_spike_distribution,
    threshold_summary,
    win_counts,
    winners,
)
from brainsnn.figures import readout as readout_figures
from brainsnn.protocol import load_protocol

ROOT = next(p for p in [Path.cwd(), *Path.cwd().parents] if (p / "protocols").is_dir())
WORK = Path(tempfile.mkdtemp(prefix="brainsnn-02-", dir=os.environ.get("BRAINSNN_NOTEBOOK_DIR")))

# %% [markdown]
# ## A short training run
#
# 500 training digits (10 % of them held out for validation), 200 test digits, 6 epochs without
# early stopping. The chunk size and the (one-neuron) trace keep the compiled layout of notebook
# 01, so the cached C++ build is reused; `brainsnn show protocols/ncg_digits.yaml` lists every
# key with its default.

# %%
protocol = load_protocol(
    ROOT / "protocols" / "ncg_digits.yaml",
    [
        "data.train_subset=500",
        "data.test_subset=200",
        "training.max_epochs=6",
        "training.patience=0",
        "training.chunk_size=100",
        "recording.traces={neurons: [0], samples: 1}",
        "device.name=cpp",
    ],
)
outcome = run_protocol(protocol, out=str(WORK / "ncg"), show_progress=False)
run = open_results(outcome.directory)
print(f"{run.attrs['epochs']} epochs on {run.attrs['device']}, {run.attrs['wall_time_s']:.1f} s")

# %% [markdown]
# ## Learning curves
#
# Accuracies are saved per epoch (`train_accuracy` is measured while learning, `validation_` and
# `test_accuracy` with learning off after each epoch), next to the annealed learning rates
# `a_plus`, `a_minus` (S2-STDP) and `thr_lr` (CR-2).

# %%
per_epoch = ["train_accuracy", "validation_accuracy", "test_accuracy", "a_plus", "thr_lr"]
run[per_epoch].to_dataframe().round(4)

# %%
readout_figures.learning_curves(run)

# %% [markdown]
# `accuracy_table` gives the last epoch (for a k-fold or multi-seed directory, mean ± std over
# runs), as Markdown or LaTeX (booktabs).

# %%
Markdown(accuracy_table(run).markdown())

# %% [markdown]
# ## Which classes get confused
#
# `confusion_matrix` counts test samples per (true_class, predicted_class); a column `-1` would
# appear for samples without any output spike. `normalize=True` gives fractions of each true
# class.

# %%
confusion_matrix(run).to_pandas()

# %%
readout_figures.confusion_heatmap(run)

# %% [markdown]
# ## Decision times
#
# A TTFS network decides at its first output spike. `decision_times` gives it per test sample
# (units of the sample duration T; 1 = no spike), `first_spike_distribution` histograms it per
# true class on the network's time grid (`dt_in_units_of_T`).

# %%
times = decision_times(run)
print("median decision time per class (T):")
print(times.groupby(run.test_label).median().to_pandas().round(3).to_dict())
distribution = first_spike_distribution(run, normalize=True)
distribution.where(distribution.sum("class") > 0, drop=True).to_pandas().round(2)

# %%
readout_figures.first_spike_times(run)

# %% [markdown]
# ## Threshold regulation
#
# CR-2 regulates the *training* thresholds of the target neurons: after each training sample of
# its class, the group's winner gets `+thr_lr (K-1)/K` and the other K-1 targets `-thr_lr/K`
# (never below `theta0`), so that no single neuron takes every sample of its class. The training
# threshold restarts from `theta0` every epoch and `thr_lr` anneals; test thresholds stay
# `theta0` (see `models/README.md`). `epoch_training_threshold` is its value at the end of each
# epoch; `threshold_summary` summarises the final thresholds of each class group, target and
# non-target neurons apart.

# %%
thresholds = run.epoch_training_threshold
roles = thresholds.groupby(run.neuron_nontarget.rename("non-target"))
fig, ax = plt.subplots(figsize=(6, 3))
for nontarget, group in roles:
    label = "non-target" if nontarget else "target"
    mean, std = group.mean("output_neuron"), group.std("output_neuron")
    ax.errorbar(mean.epoch, mean, yerr=std, marker="o", capsize=3, label=f"{label} (mean ± std)")
ax.set_xlabel("epoch")
ax.set_ylabel(f"training threshold ({thresholds.attrs.get('units', '1')})")
ax.legend(loc="center right")
plt.show()

# %%
threshold_summary(run).training_threshold.sel(statistic=["mean", "std"]).to_dataframe().unstack(
    ["role", "statistic"]
).round(3)

# %%
readout_figures.neuron_thresholds(run)

# %% [markdown]
# ## Who wins
#
# `winners` applies the decision rule (earliest spike, then highest potential, then lowest index)
# and returns the deciding neuron of each test sample; `win_counts` counts per (neuron,
# true_class). In a healthy NCG, the target neurons of each group share the wins on their class
# and the non-target neuron rarely wins. `train_wins` records the same during training, per
# epoch.

# %%
counts = win_counts(run)
assert (run.neuron_class[winners(run)].values == run.test_prediction.values).all()
per_neuron = counts.sum("true_class")
own_class = counts.where(counts.true_class == counts.neuron_class, 0).sum("true_class")
wins = per_neuron.to_dataframe(name="test wins").assign(
    of_own_class=own_class.values, neuron_class=counts.neuron_class.values
)
wins.groupby(["neuron_class", counts.neuron_nontarget.values]).sum()[["test wins", "of_own_class"]]

# %%
readout_figures.neuron_wins(run)
