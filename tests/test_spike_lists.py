"""Event-driven inputs: a chunk's spike list, and the model-file key that selects it."""

from __future__ import annotations

import numpy as np
import pytest

from brainsnn.core.errors import ConfigError
from brainsnn.core.modellib import ModelFile, compose, load_model_file
from brainsnn.engine.spike_lists import NEVER, chunk_spike_list


def test_spike_list_is_sorted_by_step_and_skips_silent_inputs():
    # two samples of 3 inputs, 4 input steps (4 = silent), 6 steps per sample
    steps = np.array([[2, 4, 0], [1, 1, 4]])
    indices, bins = chunk_spike_list(steps, steps_per_sample=6, silent=4, capacity=6)
    # sample 0: input 2 at step 0, input 0 at step 2; sample 1: inputs 0 and 1 at step 6 + 1
    np.testing.assert_array_equal(bins, [0, 2, 7, 7, NEVER, NEVER])
    np.testing.assert_array_equal(indices[:4], [2, 0, 0, 1])


def test_spike_list_larger_than_its_capacity_is_refused():
    with pytest.raises(ValueError, match="3 input spikes"):
        chunk_spike_list(np.zeros((1, 3)), steps_per_sample=5, silent=4, capacity=2)


def test_inputs_take_a_threshold_or_spike_steps_not_both():
    ttfs = load_model_file("inputs/ttfs")
    neuron = load_model_file("neurons/if_single_spike")
    inputs = ttfs.inputs.model_copy(update={"threshold": "sample_step == k_in"})
    both = ttfs.model_copy(update={"inputs": inputs})
    with pytest.raises(ConfigError, match="both a threshold and spike_steps"):
        compose([both, neuron])
    assert compose([ttfs, neuron])["inputs"].spike_steps == "input_steps"


def test_only_inputs_take_spike_steps():
    with pytest.raises(ValueError, match="only the inputs take 'spike_steps'"):
        ModelFile.model_validate(
            {
                "name": "x",
                "kind": "neuron",
                "description": "",
                "outputs": {"spike_steps": "input_steps"},
            }
        )


@pytest.mark.parametrize("dtype", [np.int16, np.int32, np.int64, np.float64])
def test_spike_list_equals_a_sort_of_every_spike(dtype):
    """Against a plain lexsort of (time step, input), with ties and steps beyond silent."""
    rng = np.random.default_rng(4)
    steps = rng.integers(0, 12, (40, 30))  # silent = 9: 9, 10 and 11 do not spike
    sample, neuron = np.nonzero(steps < 9)
    when = sample * 15 + steps[sample, neuron]
    order = np.lexsort((neuron, when))
    indices, bins = chunk_spike_list(steps.astype(dtype), 15, 9, capacity=len(order) + 5)
    np.testing.assert_array_equal(indices[: len(order)], neuron[order])
    np.testing.assert_array_equal(bins[: len(order)], when[order])
    assert (bins[len(order) :] == NEVER).all() and (indices[len(order) :] == 0).all()
