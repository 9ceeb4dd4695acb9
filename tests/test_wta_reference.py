"""Hand-computed checks of the NumPy WTA-STDP oracle (brainsnn.unsupervised.wta_reference)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from brainsnn.unsupervised.wta_reference import WTAParameters, simulate, simulate_image

DEFAULT = WTAParameters()


def make_trains(n_steps: int, *spike_steps: list[int] | range) -> np.ndarray:
    """(D, T) bool trains; ``spike_steps[i]`` lists the 1-based steps at which input i spikes."""
    trains = np.zeros((len(spike_steps), n_steps), dtype=bool)
    for i, steps in enumerate(spike_steps):
        for t in steps:
            trains[i, t - 1] = True
    return trains


# --------------------------------------------------------------------------------------------
# Neuron dynamics
# --------------------------------------------------------------------------------------------


def test_single_neuron_spike_times_and_refractory_freeze() -> None:
    # Input spikes at 3, 6, 9, ...; w = 1, leak 0.15 applied only above rest (so not at t = 1, 2).
    # After the k-th input of a burst: P = k - 0.15 * (3k - 2) = 0.55 k + 0.3, i.e.
    # 0.85, 1.40, 1.95, 2.50 -> spike at the 4th input (t = 12). (P = 2.5 = theta exactly in real
    # arithmetic; the spike test is >=, so the spike does not depend on rounding.)
    # Refractory for 13..42 (inputs at 15..42 ignored), P frozen at 0; integration resumes at 43,
    # the next burst starts at 45 -> spike at 54, then 96.
    W = np.array([[1.0]])
    trains = make_trains(100, range(3, 101, 3))
    res = simulate_image(W, trains, 2.5, DEFAULT, learning=False, record_potential=True)
    assert res.spike_steps == [(12, 0), (54, 0), (96, 0)]
    np.testing.assert_array_equal(res.counts, [3])
    P = res.potential[0]
    np.testing.assert_allclose(P[[0, 1, 2, 3, 4, 5]], [0, 0, 0.85, 0.70, 0.55, 1.40], atol=1e-12)
    np.testing.assert_allclose(P[8], 1.95, atol=1e-12)  # t = 9
    np.testing.assert_array_equal(P[11:44], 0.0)  # t = 12 (reset) .. 44: frozen, then nothing in
    assert P[44] == pytest.approx(0.85)  # t = 45: first input after the freeze
    assert P[53] == 0.0 and P[54] == 0.0  # t = 54 spike, t = 55 refractory
    np.testing.assert_array_equal(W, [[1.0]])


def test_threshold_tie_spikes_without_wta_and_refractory_neurons_are_inhibited() -> None:
    # Dyadic values, exact in floating point. theta = 1, leak = 0.25, one input every step.
    # Neuron 0 (w = 1.25): t=1 P = 1.0 == theta -> no WTA (strict >) but it spikes (>=).
    # Neuron 1 (w = 0.875): t=1 0.625, t=2 1.25 > theta -> winner; neuron 0 (refractory, P = 0)
    # is set to p_min anyway, so after its refractory period it starts from -500 and never fires.
    params = WTAParameters(leak=0.25, t_ref=5)
    W = np.array([[1.25], [0.875]])
    trains = make_trains(12, range(1, 13))
    res = simulate_image(W, trains, 1.0, params, learning=False, record_potential=True)
    assert res.winner == 1
    assert res.spike_steps[:2] == [(1, 0), (2, 1)]
    assert all(j == 1 for _, j in res.spike_steps[1:])
    P0 = res.potential[0]
    assert P0[0] == 0.0  # reset after the spike at t = 1
    np.testing.assert_array_equal(P0[1:6], -500.0)  # t = 2..6: inhibited and frozen
    np.testing.assert_array_equal(P0[6:], -500.0 + 1.25 * np.arange(1, 7))  # t = 7..12: no leak


def test_wta_stronger_neuron_wins_and_loser_stays_at_p_min() -> None:
    # Same input (every step) to both. theta = 1, leak 0.15.
    # Neuron 0 (w = 0.5): 0.35, 0.70, 1.05 > 1 at t = 3 -> winner, spikes at 3; refractory 4..33,
    # restarts from 0 at t = 34: 0.35, 0.70, 1.05 -> spikes at 36.
    # Neuron 1 (w = 0.25): 0.10, 0.20, 0.30 -> p_min at t = 3, then -500 + 0.25 per step
    # (below rest: no leak; above p_min: no floor), never near theta.
    W = np.array([[0.5], [0.25]])
    trains = make_trains(40, range(1, 41))
    res = simulate_image(W, trains, 1.0, DEFAULT, learning=False, record_potential=True)
    assert res.winner == 0
    assert res.spike_steps == [(3, 0), (36, 0)]
    np.testing.assert_array_equal(res.counts, [2, 0])
    P1 = res.potential[1]
    np.testing.assert_allclose(P1[:2], [0.10, 0.20], atol=1e-12)
    assert P1[2] == -500.0  # the WTA step
    np.testing.assert_array_equal(P1[3:], -500.0 + 0.25 * np.arange(1, 38))


@pytest.mark.parametrize(
    ("weights", "winner"),
    [([0.5, 0.5, 0.25], 0), ([0.25, 0.5, 0.5], 1), ([0.5, 0.25, 0.5], 0)],
)
def test_wta_tie_goes_to_lowest_index(weights: list[float], winner: int) -> None:
    W = np.array(weights)[:, None]
    trains = make_trains(10, range(1, 11))
    res = simulate_image(W, trains, 1.0, DEFAULT, learning=False, record_potential=True)
    assert res.winner == winner
    assert res.spike_steps == [(3, winner)]
    others = [j for j in range(3) if j != winner]
    np.testing.assert_array_equal(res.potential[others, 2], -500.0)


def test_floor_resets_potential_below_p_min() -> None:
    # Neuron 1 is inhibited to -500 at t = 1, then its negative weight pushes it below p_min at
    # t = 2, where the floor resets it to p_rest = 0.
    W = np.array([[2.0, 0.0], [0.5, -1.0]])
    trains = make_trains(3, [1], [2])
    res = simulate_image(W, trains, 1.0, DEFAULT, learning=False, record_potential=True)
    assert res.winner == 0
    np.testing.assert_allclose(res.potential[1], [-500.0, 0.0, 0.0])


def test_no_winner_when_threshold_never_exceeded() -> None:
    W = np.array([[0.1, 0.1]])
    trains = make_trains(20, [5], [])
    res = simulate_image(W, trains, 5.0, DEFAULT)
    assert res.winner == -1 and res.spike_steps == []
    np.testing.assert_array_equal(W, [[0.1, 0.1]])  # no silent depression without a winner


# --------------------------------------------------------------------------------------------
# Plasticity
# --------------------------------------------------------------------------------------------


def test_ltp_window_and_nearest_pre_spike() -> None:
    # Input 0 (w = 10) drives a post spike at t = 30 (theta = 5); the others have w = 0.2 and
    # spike at t - s for s = 1, 2, 20, 21; input 5 spikes at 25 and 29: only its last spike
    # (s = 1) counts, so it is unchanged. Input 0 itself has s = 0: unchanged.
    W = np.array([[10.0, 0.2, 0.2, 0.2, 0.2, 0.2]])
    trains = make_trains(30, [30], [29], [28], [10], [9], [25, 29])
    res = simulate_image(W, trains, 5.0, DEFAULT)
    assert res.spike_steps == [(30, 0)]

    def ltp(w: float, s: int) -> float:
        return w + 0.1 * 0.3 * math.exp(-s / 5.0) * (1.5 - w)

    np.testing.assert_allclose(W[0], [10.0, 0.2, ltp(0.2, 2), ltp(0.2, 20), 0.2, 0.2], rtol=1e-14)
    assert W[0, 2] > 0.2 and W[0, 3] > 0.2


@pytest.mark.parametrize("bug_compatible", [False, True])
def test_ltd_fixed_vs_bug_compatible(bug_compatible: bool) -> None:
    # Post spike at t = 10 (driven by input 0), pre spike of input 1 (w = 0.5) at t = 15: s = 5,
    # Delta = 0.8 exp(-5/8). Fixed: w -= 0.1 Delta (0.5 + 1.2). Bug-compatible: bound 0.5 - 1.2 < 0,
    # so w increases by 0.1 Delta 0.7. With t_ref = 2 the neuron integrates again at t = 15, and
    # sees the weight after LTD (LTD precedes integration): P(15) = w_new - leak.
    params = WTAParameters(t_ref=2, bug_compatible_ltd=bug_compatible)
    W = np.array([[10.0, 0.5]])
    trains = make_trains(20, [10], [15])
    res = simulate_image(W, trains, 5.0, params, record_potential=True)
    assert res.spike_steps == [(10, 0)]
    delta = 0.8 * math.exp(-5 / 8)
    if bug_compatible:
        expected = 0.5 + 0.1 * delta * 0.7
        assert W[0, 1] > 0.5
    else:
        expected = 0.5 - 0.1 * delta * 1.7
        assert W[0, 1] < 0.5
    assert W[0, 1] == pytest.approx(expected, rel=1e-14)
    assert W[0, 0] == 10.0  # its only spike preceded the post spike at the same step: s = 0
    assert res.potential[0, 14] == pytest.approx(expected - 0.15, rel=1e-14)


def test_ltd_window_bounds_and_refractory_neurons() -> None:
    # Post spike at t = 1 (t_ref 30: refractory throughout). Pre spikes of inputs 1..4 at
    # s = 1, 2, 20, 21 after it: only s = 2 and s = 20 depress, although the neuron is refractory.
    W = np.array([[10.0, 0.5, 0.5, 0.5, 0.5]])
    trains = make_trains(25, [1], [2], [3], [21], [22])
    simulate_image(W, trains, 5.0, DEFAULT)

    def ltd(w: float, s: int) -> float:
        return w - 0.1 * 0.8 * math.exp(-s / 8.0) * (w + 1.2)

    np.testing.assert_allclose(W[0], [10.0, 0.5, ltd(0.5, 2), ltd(0.5, 20), 0.5], rtol=1e-14)


def test_weights_are_clipped() -> None:
    # Bug-compatible LTD with a huge rate overshoots w_max; LTP with a huge rate stays <= w_max.
    params = WTAParameters(sigma=100.0, t_ref=2, bug_compatible_ltd=True)
    W = np.array([[10.0, 0.0, 0.0]])
    trains = make_trains(20, [10], [15], [8])
    simulate_image(W, trains, 5.0, params)
    np.testing.assert_array_equal(W[0, 1:], [1.5, 1.5])
    # Fixed LTD with the same rate undershoots w_min.
    W = np.array([[10.0, 0.0]])
    simulate_image(W, trains[:2], 5.0, WTAParameters(sigma=100.0, t_ref=2))
    assert W[0, 1] == -1.2


def test_silent_depression_only_winner_row_and_silent_inputs() -> None:
    # Input 0 spikes once (t = 1) and makes neuron 0 win and spike at t = 1 (s = 0: no LTP);
    # inputs 1 and 2 are silent. Only W[0, 1:] change: 0.3 - 0.06 and max(-1.18 - 0.06, -1.2).
    W = np.array([[2.0, 0.3, -1.18], [0.5, 0.3, 0.3]])
    trains = make_trains(10, [1], [], [])
    res = simulate_image(W, trains, 1.0, DEFAULT)
    assert res.winner == 0
    np.testing.assert_allclose(W, [[2.0, 0.24, -1.2], [0.5, 0.3, 0.3]], rtol=1e-14)


def test_learning_false_leaves_weights_unchanged() -> None:
    rng = np.random.default_rng(0)
    W = rng.uniform(0.0, 0.4, size=(3, 12))
    W0 = W.copy()
    trains = rng.random((2, 12, 60)) < 0.2
    trains[:, :3] = False  # some silent inputs
    counts, winners = simulate(W, trains, np.array([0.5, 0.5]), DEFAULT, learning=False)
    assert counts.sum() > 0 and (winners >= 0).all()
    np.testing.assert_array_equal(W, W0)
    # Same run with learning changes the weights.
    simulate(W, trains, np.array([0.5, 0.5]), DEFAULT, learning=True)
    assert not np.array_equal(W, W0)


# --------------------------------------------------------------------------------------------
# Multi-image loop and validation
# --------------------------------------------------------------------------------------------


def test_simulate_matches_sequential_images_and_resets_state() -> None:
    rng = np.random.default_rng(1)
    W = rng.uniform(0.0, 0.6, size=(4, 10))
    W_seq = W.copy()
    trains = rng.random((3, 10, 50)) < 0.25
    thetas = np.array([0.8, 1.0, 0.6])
    counts, winners = simulate(W, trains, thetas, DEFAULT)
    assert counts.shape == (3, 4) and counts.dtype == np.int64 and winners.shape == (3,)
    for k in range(3):
        res = simulate_image(W_seq, trains[k], thetas[k], DEFAULT)
        np.testing.assert_array_equal(res.counts, counts[k])
        assert res.winner == winners[k]
    np.testing.assert_array_equal(W, W_seq)

    # Without learning, the state is reset between images: identical images, identical results.
    W_fixed = rng.uniform(0.0, 0.6, size=(4, 10))
    same = np.repeat(trains[:1], 2, axis=0)
    counts, winners = simulate(W_fixed, same, np.array([0.8, 0.8]), DEFAULT, learning=False)
    np.testing.assert_array_equal(counts[0], counts[1])
    assert winners[0] == winners[1]


def test_validation_errors() -> None:
    W = np.zeros((2, 3))
    with pytest.raises(TypeError):
        simulate_image(W.astype(np.float32), np.zeros((3, 5), dtype=bool), 1.0, DEFAULT)
    with pytest.raises(TypeError):
        simulate_image(W, np.zeros((3, 5)), 1.0, DEFAULT)
    with pytest.raises(ValueError):
        simulate_image(W, np.zeros((4, 5), dtype=bool), 1.0, DEFAULT)
    with pytest.raises(ValueError):
        simulate(W, np.zeros((2, 3, 5), dtype=bool), np.ones(3), DEFAULT)


def _naive_image(W: np.ndarray, trains: np.ndarray, theta: float, p: WTAParameters) -> list:
    """Scalar, loop-per-synapse transcription of the semantics (learning on), for cross-checks."""
    n_out, n_in = W.shape
    pot = [p.p_rest] * n_out
    t_rest = [0] * n_out
    last_post = [-math.inf] * n_out
    last_pre = [-math.inf] * n_in
    flag, winner, spikes = False, -1, []
    for t in range(1, trains.shape[1] + 1):
        for i in range(n_in):
            if trains[i, t - 1]:
                last_pre[i] = t
                for j in range(n_out):
                    s = t - last_post[j]
                    if p.window_min <= s <= p.window_max:
                        d = p.a_ltd * math.exp(-s / p.tau_ltd)
                        bound = W[j, i] - (abs(p.w_min) if p.bug_compatible_ltd else p.w_min)
                        W[j, i] = min(max(W[j, i] - p.sigma * d * bound, p.w_min), p.w_max)
        active = [t > t_rest[j] for j in range(n_out)]
        for j in range(n_out):
            if active[j]:
                for i in range(n_in):
                    if trains[i, t - 1]:
                        pot[j] += W[j, i]
                if pot[j] > p.p_rest:
                    pot[j] -= p.leak
        if not flag:
            cands = [j for j in range(n_out) if active[j] and pot[j] > theta]
            if cands:
                winner = max(cands, key=lambda j: (pot[j], -j))
                pot = [pot[j] if j == winner else p.p_min for j in range(n_out)]
                flag = True
        for j in range(n_out):
            if not active[j]:
                continue
            if pot[j] >= theta:
                pot[j], t_rest[j], last_post[j] = p.p_rest, t + p.t_ref, t
                spikes.append((t, j))
                for i in range(n_in):
                    s = t - last_pre[i]
                    if p.window_min <= s <= p.window_max:
                        d = p.a_ltp * math.exp(-s / p.tau_ltp)
                        w = W[j, i] + p.sigma * d * (p.w_max - W[j, i])
                        W[j, i] = min(max(w, p.w_min), p.w_max)
            elif pot[j] < p.p_min:
                pot[j] = p.p_rest
    if flag:
        for i in range(n_in):
            if not trains[i].any():
                W[winner, i] = max(W[winner, i] - p.silent_depression, p.w_min)
    return [winner, spikes]


@pytest.mark.parametrize("bug_compatible", [False, True])
def test_matches_scalar_transcription_on_random_images(bug_compatible: bool) -> None:
    rng = np.random.default_rng(7)
    params = WTAParameters(t_ref=6, sigma=0.3, bug_compatible_ltd=bug_compatible)
    W = rng.uniform(-0.3, 0.8, size=(5, 16))
    W_naive = W.copy()
    for _ in range(6):
        trains = rng.random((16, 80)) < 0.15
        trains[rng.random(16) < 0.3] = False  # some silent inputs
        theta = float(rng.uniform(0.5, 1.5))
        res = simulate_image(W, trains, theta, params)
        winner, spikes = _naive_image(W_naive, trains, theta, params)
        assert res.winner == winner and res.spike_steps == spikes
        np.testing.assert_allclose(W, W_naive, rtol=1e-12, atol=1e-12)
    assert len(spikes) > 0
