"""Label assignment and mean-per-class classification of spike counts (spec B.8)."""

from __future__ import annotations

import numpy as np
import pytest

from brainsnn.unsupervised.labels import accuracy, assign_labels, classify

# 4 samples (classes 0, 0, 1, 1) x 4 neurons; class 2 has no samples
COUNTS = np.array([[4, 0, 1, 0], [2, 0, 1, 0], [0, 3, 1, 0], [0, 1, 1, 0]])
LABELS = np.array([0, 0, 1, 1])


def test_assign_labels_by_hand():
    assignment, response = assign_labels(COUNTS, LABELS, 3)
    # neuron 0: mean 3 for class 0; neuron 1: mean 2 for class 1; neuron 2: tie 1 = 1 -> class 0;
    # neuron 3 never fires -> -1; class 2 has no samples -> response 0
    np.testing.assert_array_equal(response, [[3, 0, 0], [0, 2, 0], [1, 1, 0], [0, 0, 0]])
    np.testing.assert_array_equal(assignment, [0, 1, 0, -1])
    assert assignment.dtype == np.int64 and response.dtype == np.float64


def test_assignment_uses_the_mean_not_the_sum_over_a_class():
    # class 0 has 3 samples with 1 spike each (sum 3, mean 1), class 1 one sample with 2 spikes
    assignment, response = assign_labels(np.array([[1], [1], [1], [2]]), [0, 0, 0, 1], 2)
    np.testing.assert_array_equal(response, [[1.0, 2.0]])
    np.testing.assert_array_equal(assignment, [1])


def test_classify_by_hand():
    assignment = np.array([0, 1, 0, -1])
    counts = np.array([[2, 0, 0, 9], [0, 1, 0, 0], [1, 1, 1, 0], [0, 0, 0, 5]])
    # sample 0: class 0 scores (2+0)/2 = 1, class 1 scores 0; neuron 3 (-1) is ignored
    # sample 1: class 1 scores 1 > 0; sample 2: tie 1 = 1 -> class 0; sample 3: only -1 fires
    np.testing.assert_array_equal(classify(counts, assignment, 3), [0, 1, 0, -1])


def test_classify_uses_the_mean_per_class_where_the_sum_would_differ():
    assignment = np.array([0, 0, 0, 1])
    counts = np.array([[2, 2, 2, 5]])
    # sum: class 0 = 6 > class 1 = 5; mean: class 0 = 2 < class 1 = 5
    assert classify(counts, assignment, 2)[0] == 1


def test_class_without_neurons_never_beats_a_positive_score():
    # class 0 and 2 have no neurons (score 0); class 1 has a small positive mean score
    assignment = np.array([1, 1, 1, 1])
    assert classify(np.array([[0, 0, 0, 1]]), assignment, 3)[0] == 1


def test_no_spikes_means_no_decision():
    predictions = classify(np.zeros((3, 4)), np.array([0, 1, 2, 0]), 3)
    np.testing.assert_array_equal(predictions, [-1, -1, -1])
    assert predictions.dtype == np.int64
    np.testing.assert_array_equal(classify(np.ones((2, 2)), np.array([-1, -1]), 2), [-1, -1])


def test_assignment_then_classification_recovers_the_training_labels():
    assignment, _ = assign_labels(COUNTS, LABELS, 3)
    np.testing.assert_array_equal(classify(COUNTS, assignment, 3), [0, 0, 1, 1])


def test_accuracy_counts_no_decision_as_wrong():
    assert accuracy(np.array([0, 1, -1, 2]), np.array([0, 1, 2, 2])) == 0.75
    assert isinstance(accuracy(np.array([1]), np.array([1])), float)


def test_mismatched_shapes_are_rejected():
    with pytest.raises(ValueError, match="labels must have shape"):
        assign_labels(COUNTS, LABELS[:3], 3)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\)"):
        assign_labels(COUNTS, LABELS + 1, 2)
    with pytest.raises(ValueError, match="assignment must have shape"):
        classify(COUNTS, np.array([0, 1]), 3)
    with pytest.raises(ValueError, match="counts must have shape"):
        classify(np.zeros(4), np.array([0, 1, 0, 0]), 3)
    with pytest.raises(ValueError, match="equal length"):
        accuracy(np.array([0, 1]), np.array([0]))
