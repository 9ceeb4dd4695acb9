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
# # 03 · Weights and receptive fields
#
# In a single-layer network on pixels, output neuron *n* receives one synapse per pixel, so its
# weight vector `weights.sel(output_neuron=n)` (dims `input`) can be drawn as an image of the
# input's shape. That image is the neuron's **receptive field**: the input pattern it responds
# to most. An integrate-and-fire neuron sums the weights of the inputs that have spiked, so
# (for a fixed number of input spikes) its potential grows fastest when the bright, early-spiking
# pixels fall where its weights are large. Learning rules that potentiate the inputs active
# before an output spike therefore turn the weights into templates of the inputs a neuron wins.
#
# This notebook draws the learnt weights of
#
# 1. the supervised NCG readout (`protocols/ncg_digits.yaml`, 8×8 digits), by reshaping
#    `weights` (output_neuron, input) to (output_neuron, 8, 8) with xarray/NumPy;
# 2. the unsupervised WTA-STDP network (`protocols/wta_stdp_digits.yaml`), with
#    `brainsnn.figures.weight_images`, which uses the image size saved in the dataset's attributes.
#
# Runs go to a fresh temporary directory (or under `$BRAINSNN_NOTEBOOK_DIR` when set).

# %%
# %matplotlib inline
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from brainsnn.run import run_protocol
from sklearn.datasets import load_digits

from brainsnn import open_results
from brainsnn.figures import assignment_summary, weight_images
from brainsnn.protocol import load_protocol
from brainsnn.unsupervised.experiment import run_unsupervised_protocol

ROOT = next(p for p in [Path.cwd(), *Path.cwd().parents] if (p / "protocols").is_dir())
WORK = Path(tempfile.mkdtemp(prefix="brainsnn-03-", dir=os.environ.get("BRAINSNN_NOTEBOOK_DIR")))

# %% [markdown]
# ## Readout weights (NCG, supervised)
#
# The short run of notebook 02 (same settings, so the cached build is reused): 6 epochs on 500
# digits. Initial weights are drawn around 0.3 (`network.weights`); S2-STDP keeps them in
# `[w_min, w_max] = [0, 1]`.

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
ncg = open_results(outcome.directory)
print(f"test accuracy {float(ncg.test_accuracy[-1]):.3f}")
ncg[["weights", "neuron_class", "neuron_nontarget"]]

# %% [markdown]
# The `input` index is the pixel index of the 8×8 image in row-major order (the image size is in
# the attributes `image_height` and `image_width`), so a reshape gives
# the images. Rows are class groups (neuron_class), columns the group's neurons; the first
# neuron of each group is its non-target neuron (`neuron_nontarget`), trained to fire late.

# %%
size = ncg.attrs["image_height"]
images = ncg.weights.values.reshape(ncg.sizes["output_neuron"], size, size)
classes = ncg.neuron_class.values
nontarget = ncg.neuron_nontarget.values.astype(bool)
per_class = ncg.sizes["output_neuron"] // (classes.max() + 1)

low, high = float(ncg.weights.min()), float(ncg.weights.max())
fig, axes = plt.subplots(
    classes.max() + 1, per_class, figsize=(per_class * 1.1, 11), layout="constrained"
)
for neuron, ax in enumerate(axes.flat):
    ax.imshow(images[neuron], cmap="gray", vmin=low, vmax=high)
    ax.set_xticks([])
    ax.set_yticks([])
    if neuron % per_class == 0:
        ax.set_ylabel(f"class {classes[neuron]}")
    if nontarget[neuron]:
        ax.set_title("non-target", fontsize=8)
fig.suptitle(f"NCG readout weights (black {low:.2f} → white {high:.2f})")
plt.show()

# %% [markdown]
# ### Do the receptive fields look like their class?
#
# Compare each neuron's weights with the mean image of each class (all 1797 digits), by Pearson
# correlation over the pixels (`xr.corr` along `input`). S2-STDP is error-driven: it
# potentiates the inputs that make a target neuron fire on time and depresses those that make
# it fire too early, so the weights stress what sets a class apart (the empty centre of a 0,
# for instance) rather than copying the mean digit. The correlations are moderate, but a target
# neuron should still resemble its own class more than the others. The non-target neurons,
# trained to fire late, stay close to their initial weights.

# %%
digits = load_digits()
mean_images = xr.DataArray(
    np.stack([digits.data[digits.target == c].mean(axis=0) for c in range(10)]),
    dims=("class", "input"),
    coords={"class": np.arange(10), "input": ncg.input.values},
)
similarity = xr.corr(ncg.weights, mean_images, dim="input")
best = similarity.argmax("class")
targets = ~ncg.neuron_nontarget.astype(bool)
matches = (best == ncg.neuron_class).where(targets, drop=True)
print(f"target neurons most similar to their own class mean: {int(matches.sum())}/{matches.size}")

fig, ax = plt.subplots(figsize=(5, 6))
similarity.plot(ax=ax, cmap="RdBu_r", vmin=-1, vmax=1, cbar_kwargs={"label": "correlation"})
ax.set_title("weights vs class-mean image")
plt.show()

# %% [markdown]
# Side by side: the mean image of each class and the mean receptive field of its target neurons.

# %%
target_means = ncg.weights.where(targets).groupby(ncg.neuron_class).mean("output_neuron")
fig, axes = plt.subplots(2, 10, figsize=(10, 2.4))
for c in range(10):
    axes[0, c].imshow(mean_images.sel({"class": c}).values.reshape(size, size), cmap="gray")
    axes[1, c].imshow(target_means.sel(neuron_class=c).values.reshape(size, size), cmap="gray")
    axes[0, c].set_title(str(c))
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
axes[0, 0].set_ylabel("mean digit")
axes[1, 0].set_ylabel("weights")
plt.show()

# %% [markdown]
# ## Unsupervised receptive fields (WTA-STDP)
#
# The hardware-efficient WTA-STDP network learns without labels: 5 LIF neurons with a one-shot
# winner-take-all on digits 0–2 (12 epochs). Labels are assigned afterwards, each neuron taking
# the class it responds to most (`assignment`; -1 for a neuron that never wins). The protocol is
# run as shipped (its `device.name` is `cpp`; the build is cached).
#
# With `image_height` and `image_width` in the attributes (both kinds of run have them),
# `weight_images` draws each neuron's weights as an image, titled with its assigned class, on the
# rule's weight range (these weights may be negative).

# %%
wta_protocol = load_protocol(ROOT / "protocols" / "wta_stdp_digits.yaml")
wta = run_unsupervised_protocol(wta_protocol, WORK / "wta", show_progress=False)
print(
    f"test accuracy {float(wta.test_accuracy.mean()):.3f};",
    f"image {wta.attrs['image_height']}x{wta.attrs['image_width']};",
    f"weights in [{wta.attrs['weight_min']}, {wta.attrs['weight_max']}]",
)
wta.assignment.to_pandas()

# %%
weight_images(wta)

# %%
assignment_summary(wta)

# %% [markdown]
# What to look for: a neuron that never wins a training sample never learns, keeps its initial
# random weights and is left unassigned (-1); pixels that are dark in every digit (the image
# border) only ever see depression. The WTA-STDP protocols are still being tuned (see README.md,
# "Unsupervised WTA-STDP networks"), so expect these images to change.
#
# The same figures, for any saved run, come from the command line:
# `brainsnn figures RUN_DIR --out DIR --format png` (see README.md, "Figures").
