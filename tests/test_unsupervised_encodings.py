"""Input encodings of the unsupervised WTA-STDP classifiers (spec A.2, A.3, A.5, B.4)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from brainsnn.core.errors import ConfigError
from brainsnn.unsupervised import encodings
from brainsnn.unsupervised.encodings import (
    KERNELS,
    EncodedInputs,
    encode_for_network,
    max_coincident_inputs,
    periodic_spike_periods,
    periodic_spike_trains,
    poisson_rates,
    rate_from_potential,
    receptive_field_potential,
    row_normalised_probabilities,
)

# (row, col) of one tap per Manhattan distance d = 0..4 from the centre (2, 2)
TAPS = {0: [(2, 2)], 1: [(1, 2), (2, 3)], 2: [(0, 2), (1, 1), (3, 3)], 3: [(0, 1), (4, 3)],
        4: [(0, 0), (4, 4), (0, 4)]}  # fmt: skip


@pytest.mark.parametrize(
    ("name", "by_distance", "total"),
    [("classification", [1.0, 0.625, 0.25, -0.125, -0.5], 2.5),
     ("training", [1.0, 0.625, 0.125, -0.125, -0.5], 1.5)],
)  # fmt: skip
def test_kernel_depends_only_on_manhattan_distance(name, by_distance, total):
    kernel = KERNELS[name]
    assert kernel.shape == (5, 5)
    for d, taps in TAPS.items():
        for tap in taps:
            assert kernel[tap] == by_distance[d]
    assert kernel.sum() == pytest.approx(total)
    np.testing.assert_array_equal(kernel, kernel.T)


def test_single_bright_pixel_gives_the_kernel_around_it():
    image = np.zeros((1, 9, 9))
    image[0, 4, 4] = 1.0
    for name, kernel in KERNELS.items():
        potential = receptive_field_potential(image, name)
        expected = np.zeros((9, 9))
        expected[2:7, 2:7] = kernel
        np.testing.assert_allclose(potential[0], expected)


def test_pixel_at_the_border_gives_a_clipped_kernel():
    image = np.zeros((1, 5, 5))
    image[0, 0, 1] = 0.5
    potential = receptive_field_potential(image, "classification")
    expected = np.zeros((5, 5))
    expected[0:3, 0:4] = 0.5 * KERNELS["classification"][2:, 1:]
    np.testing.assert_allclose(potential[0], expected)


def test_uniform_image_potential_inside_and_in_the_corner():
    potential = receptive_field_potential(np.ones((1, 28, 28)), "training")
    assert potential[0, 14, 14] == pytest.approx(1.5)  # the whole kernel
    # corner: taps with dr, dc in {0, 1, 2}: 1 + 2*.625 + 3*.125 - 2*.125 - .5
    assert potential[0, 0, 0] == pytest.approx(1.875)
    assert potential[0, 27, 27] == pytest.approx(1.875)


def test_no_border_bug_and_no_mixing_between_samples():
    images = np.zeros((2, 28, 28))
    images[1, 20, 20] = 1.0  # outside the top-left 16x16 block of the original bug
    potential = receptive_field_potential(images)
    np.testing.assert_array_equal(potential[0], 0.0)
    np.testing.assert_allclose(potential[1, 18:23, 18:23], KERNELS["training"])


def test_rate_is_linear_in_potential_and_clamped():
    p = np.array([-1.069, 2.781, 0.856, -5.0, 10.0])
    np.testing.assert_allclose(rate_from_potential(p), [1.0, 20.0, 10.5, 1.0, 20.0])
    np.testing.assert_allclose(rate_from_potential(np.array([0.5]), (0, 1), (0, 10)), [5.0])


def test_periods_from_potential():
    # f = 1 + p on [0, 19]: p = 19 -> f = 20 -> 30; p = 11 -> f = 12 -> 50; p = 15 -> 37.5 -> 38
    potential = np.array([[[19.0, 11.0, 15.0], [0.0, -3.0, 1e-12]]])
    periods = periodic_spike_periods(potential, p_range=(0.0, 19.0), f_range=(1.0, 20.0))
    assert periods.dtype == np.int64
    np.testing.assert_array_equal(periods, [[30, 50, 38, 0, 0, 600]])
    assert periodic_spike_periods(np.array([[2.781]]))[0, 0] == 30
    assert periodic_spike_periods(np.array([[1.0]]), period_scale=300.0)[0, 0] == 27  # 26.76


def test_periods_of_a_single_pixel_image():
    image = np.zeros((1, 5, 5))
    image[0, 2, 2] = 1.0
    periods = periodic_spike_periods(receptive_field_potential(image)).reshape(5, 5)
    # p = 1 -> f = 11.21 -> 54; p = .625 -> f = 9.36 -> 65; p = .125 -> f = 6.89 -> 88; p < 0 -> 0
    expected = [[0, 0, 88, 0, 0], [0, 88, 65, 88, 0], [88, 65, 54, 65, 88],
                [0, 88, 65, 88, 0], [0, 0, 88, 0, 0]]  # fmt: skip
    np.testing.assert_array_equal(periods, expected)


def test_spike_trains_from_periods():
    trains = periodic_spike_trains(np.array([[30, 0, 38, 1]]), 200)
    assert trains.shape == (1, 4, 200) and trains.dtype == bool
    np.testing.assert_array_equal(np.flatnonzero(trains[0, 0]) + 1, [30, 60, 90, 120, 150, 180])
    assert not trains[0, 1].any()
    np.testing.assert_array_equal(np.flatnonzero(trains[0, 2]) + 1, [38, 76, 114, 152, 190])
    assert trains[0, 3].all()


def test_max_coincident_inputs_by_hand():
    periods = np.array([[2, 3, 0, 6], [4, 4, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(max_coincident_inputs(periods, 6), [3, 2, 0])
    np.testing.assert_array_equal(max_coincident_inputs(periods, 5), [1, 2, 0])
    np.testing.assert_array_equal(max_coincident_inputs(periods, 3), [1, 0, 0])


@pytest.mark.parametrize("time_steps", [1, 7, 60, 200])
def test_max_coincident_inputs_equals_brute_force(time_steps, monkeypatch):
    monkeypatch.setattr(encodings, "_CHUNK", 3)  # exercise the blocking over samples
    rng = np.random.default_rng(time_steps)
    periods = rng.integers(0, 50, size=(8, 40)) * (rng.random((8, 40)) < 0.7)
    brute = periodic_spike_trains(periods, time_steps).sum(axis=1).max(axis=1)
    np.testing.assert_array_equal(max_coincident_inputs(periods, time_steps), brute)


def test_row_normalisation_by_hand():
    images = np.array([[[3.0, 4.0], [0.0, 0.0]], [[1.0, 1.0], [0.0, 0.5]]])
    probabilities = row_normalised_probabilities(images)
    assert probabilities.shape == (2, 4)
    np.testing.assert_allclose(probabilities, [[0.6, 0.8, 0, 0], [2**-0.5, 2**-0.5, 0, 1]])


def test_poisson_rates_are_pixel_over_8_hz():
    rates = poisson_rates(np.array([[[255.0, 0.0], [8.0, 128.0]]]))
    np.testing.assert_allclose(rates, [[31.875, 0.0, 1.0, 16.0]])
    assert 2 * rates.max() == 63.75  # B.4: intensity 2 gives at most 63.75 Hz


def test_encode_periodic():
    image = np.zeros((1, 5, 5))
    image[0, 2, 2] = 1.0
    encoded = encode_for_network(image, "periodic", 200)
    periods = periodic_spike_periods(receptive_field_potential(image))
    assert encoded.kind == "periodic"
    assert encoded.values.dtype == np.float64
    np.testing.assert_array_equal(encoded.values, periods)
    # the 8 inputs with period 88 spike together at t = 88 and 176
    np.testing.assert_array_equal(encoded.coincidence, [8.0])
    assert encoded.coincidence.dtype == np.float64
    # 16 steps: nothing spikes at all
    np.testing.assert_array_equal(encode_for_network(image, "periodic", 16).coincidence, [0.0])


def test_encode_periodic_options():
    image = np.zeros((1, 5, 5))
    image[0, 2, 2] = 1.0
    encoded = encode_for_network(
        image, "periodic", 200, kernel="classification", period_scale=300.0,
        p_range=(0.0, 19.0), f_range=(1.0, 20.0),
    )  # fmt: skip
    # K(2) = .25 -> f = 1.25 -> 240; K(1) = .625 -> f = 1.625 -> 185 (184.6); K(0) = 1 -> 150
    assert encoded.values.reshape(5, 5)[2].tolist() == [240.0, 185.0, 150.0, 185.0, 240.0]
    assert encoded.values.reshape(5, 5)[1, 1] == 240.0


def test_encode_bernoulli_uses_raw_rows():
    images = np.array([[[3.0, 4.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.2]]])
    encoded = encode_for_network(images, "bernoulli", 200, kernel="classification")
    assert encoded.kind == "bernoulli"
    np.testing.assert_allclose(encoded.values, [[0.6, 0.8, 0, 0], [0, 0, 0, 1]])
    np.testing.assert_allclose(encoded.coincidence, [1.4, 1.0])


def test_encode_poisson_scales_to_0_255():
    encoded = encode_for_network(np.array([[[1.0, 0.5]]]), "poisson", 350)
    assert encoded.kind == "poisson"
    np.testing.assert_allclose(encoded.values, [[31.875, 15.9375]])
    np.testing.assert_array_equal(encoded.coincidence, [0.0])


def test_encoded_inputs_are_frozen():
    encoded = encode_for_network(np.zeros((1, 2, 2)), "poisson", 10)
    assert isinstance(encoded, EncodedInputs) and encoded.description
    with pytest.raises(dataclasses.FrozenInstanceError):
        encoded.kind = "other"  # type: ignore[misc]


def test_unknown_method_option_or_kernel_is_a_config_error():
    images = np.zeros((1, 5, 5))
    with pytest.raises(ConfigError, match="periodic, bernoulli, poisson") as info:
        encode_for_network(images, "rank-order", 200)
    assert "\n" not in str(info.value) and "rank-order" in str(info.value)
    with pytest.raises(ConfigError, match="kernal"):
        encode_for_network(images, "periodic", 200, kernal="training")
    with pytest.raises(ConfigError, match="classification, training"):
        encode_for_network(images, "periodic", 200, kernel="mexican-hat")


def test_wrong_shapes_are_rejected():
    with pytest.raises(ValueError, match="height, width"):
        receptive_field_potential(np.zeros((5, 5)))
    with pytest.raises(ValueError, match="time_steps"):
        max_coincident_inputs(np.ones((1, 3), dtype=int), 0)
