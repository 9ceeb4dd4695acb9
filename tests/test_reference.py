"""Hand-computed checks of the NumPy reference readout (brainsnn.reference)."""

from __future__ import annotations

import numpy as np
import pytest

from brainsnn.reference import (
    ReadoutParams,
    ReferenceReadout,
    decide,
    forward,
    group_winners,
    initial_weights,
    predict,
    train,
)

# --------------------------------------------------------------------------------------------
# Forward pass
# --------------------------------------------------------------------------------------------


def test_forward_threshold_is_strict() -> None:
    w = np.array([[0.5, 0.5]])
    t, v = forward(np.array([0.1, 0.2]), w, 1.0)
    assert t[0] == 1.0 and v[0] == pytest.approx(1.0)  # V == θ does not fire
    t, v = forward(np.array([0.1, 0.2]), w, 0.99)
    assert t[0] == 0.2 and v[0] == pytest.approx(1.0)


def test_forward_simultaneous_inputs_summed_before_test() -> None:
    # Sequentially 1.5 would cross θ=1; summed with -1.0 at the same time it does not.
    w = np.array([[1.5, -1.0], [0.6, 0.6]])
    t, v = forward(np.array([0.3, 0.3]), w, 1.0)
    np.testing.assert_allclose(t, [1.0, 0.3])
    np.testing.assert_allclose(v, [0.5, 1.2])


def test_forward_potential_frozen_after_spike() -> None:
    w = np.array([[0.7, 0.5, 0.4]])
    t, v = forward(np.array([0.1, 0.2, 0.3]), w, 1.0)
    assert t[0] == 0.2
    assert v[0] == pytest.approx(1.2)  # not 1.6: the third input is not integrated


def test_forward_silent_neuron_and_silent_inputs() -> None:
    w = np.array([[0.3, 0.4, 5.0, 5.0]])
    t, v = forward(np.array([0.5, 0.1, 1.0, np.inf]), w, 1.0)
    assert t[0] == 1.0
    assert v[0] == pytest.approx(0.7)  # silent inputs (>= T) are not integrated


def test_forward_per_neuron_thresholds_and_last_group() -> None:
    w = np.array([[0.5, 0.6], [0.5, 0.6]])
    t, v = forward(np.array([0.1, 0.2]), w, np.array([1.0, 1.2]))
    np.testing.assert_allclose(t, [0.2, 1.0])  # the last group is tested
    np.testing.assert_allclose(v, [1.1, 1.1])


def test_forward_last_spike_quirk() -> None:
    w = np.array([[0.5, 0.6]])
    t, v = forward(np.array([0.1, 0.2]), w, 1.0, last_spike_quirk=True)
    assert t[0] == 1.0 and v[0] == pytest.approx(1.1)
    # Last group of 3 spikes: tested with the first two only, the last one is just integrated.
    w = np.array([[0.6, 0.6, 5.0], [0.4, 0.4, 5.0]])
    t, v = forward(np.array([0.2, 0.2, 0.2]), w, 1.0, last_spike_quirk=True)
    np.testing.assert_allclose(t, [0.2, 1.0])
    np.testing.assert_allclose(v, [1.2, 5.8])


def _spike_loop(
    times: np.ndarray, w: np.ndarray, theta: float, quirk: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Spike-by-spike loop in SpikeNN's style: test when the timestamp changes (and at the end)."""
    order = np.argsort(times, kind="stable")
    order = order[times[order] < 1.0]
    v, t = np.zeros(len(w)), np.ones(len(w))
    active = np.ones(len(w), dtype=bool)
    for pos, i in enumerate(order):
        if pos > 0 and times[i] != times[order[pos - 1]]:
            fire = active & (v > theta)
            t[fire], active = times[order[pos - 1]], active & ~fire
        if quirk and pos == len(order) - 1 and pos > 0 and times[i] == times[order[pos - 1]]:
            fire = active & (v > theta)
            t[fire], active = times[i], active & ~fire
        v[active] += w[active, i]
    if not quirk and len(order):
        fire = active & (v > theta)
        t[fire] = times[order[-1]]
    return t, v


@pytest.mark.parametrize("quirk", [False, True])
def test_forward_matches_spike_by_spike_loop(quirk: bool) -> None:
    rng = np.random.default_rng(1)
    for _ in range(200):
        times = rng.integers(0, 12, size=8) / 10.0  # many ties, some silent inputs
        w = rng.uniform(-0.2, 0.8, size=(5, 8))
        t, v = forward(times, w, 1.0, last_spike_quirk=quirk)
        t_ref, v_ref = _spike_loop(times, w, 1.0, quirk)
        np.testing.assert_array_equal(t, t_ref)
        np.testing.assert_allclose(v, v_ref, rtol=0, atol=1e-12)


def test_decide_tie_breaks() -> None:
    assert decide(np.array([0.5, 0.2, 0.3]), np.array([9.0, 1.0, 2.0])) == 1  # earliest
    assert decide(np.array([0.2, 0.2, 0.5]), np.array([1.1, 1.3, 2.0])) == 1  # tie: higher V
    assert decide(np.array([0.5, 0.2, 0.2]), np.array([2.0, 1.3, 1.3])) == 1  # then lower index
    assert decide(np.ones(3), np.array([0.3, 0.9, 0.9])) == 1  # nobody fired: highest V


def test_predict_matches_forward() -> None:
    rng = np.random.default_rng(0)
    times = rng.uniform(0.0, 1.3, size=(7, 5))
    w = rng.uniform(0.0, 1.0, size=(6, 5))
    pred, t_all, v_all = predict(times, w, 1.2, 3)
    assert pred.shape == (7,) and t_all.shape == (7, 6) and v_all.shape == (7, 6)
    for s in range(7):
        t, v = forward(times[s], w, 1.2)
        np.testing.assert_array_equal(t_all[s], t)
        np.testing.assert_array_equal(v_all[s], v)
        assert pred[s] == decide(t, v) // 3


# --------------------------------------------------------------------------------------------
# S2-STDP
# --------------------------------------------------------------------------------------------


def _params(**kw: object) -> ReadoutParams:
    base: dict[str, object] = {
        "n_classes": 2,
        "neurons_per_class": 1,
        "n_nontarget": 0,
        "theta0": 1.0,
        "gap": 0.2,
        "a_plus": 0.1,
        "a_minus": -0.05,
        "w_min": 0.0,
        "w_max": 2.0,
        "w_norm": False,
    }
    return ReadoutParams(**(base | kw))  # type: ignore[arg-type]


def test_s2stdp_single_sample_by_hand() -> None:
    # n0 fires at 0.4 (V 1.2); n1 is silent (V 0.6). Input 2 is silent.
    w = np.array([[0.6, 0.6, 0.1], [0.3, 0.3, 0.3]])
    model = ReferenceReadout(_params(), w)
    correct = model.train_sample(np.array([0.1, 0.4, 1.0]), 1)
    assert not correct  # n0 (class 0) wins
    # g_t = g_nt = 0.2/2 = 0.1; T_base = min(0.4, 1 - 0.1) = 0.4.
    # n0 non-target: t* = 0.5, e = -0.1 -> causal -0.1*0.1, silent input (LTD side) -0.1*-0.05.
    # n1 target, silent: t* = 0.3, e = 0.7 -> every input (silent too) gets +0.7*0.1.
    np.testing.assert_allclose(model.weights, [[0.59, 0.59, 0.105], [0.37, 0.37, 0.37]])


def test_s2stdp_nobody_fired_uses_capped_base() -> None:
    w = np.array([[0.2, 0.2], [0.1, 0.1]])
    model = ReferenceReadout(_params(gap=0.4), w)
    model.train_sample(np.array([0.1, 0.2]), 0)
    # T_base = 1 - 0.4/2 = 0.8; n0 target t* = 0.6, e = 0.4; n1 non-target t* = 1.0, e = 0.
    np.testing.assert_allclose(model.weights, [[0.24, 0.24], [0.1, 0.1]])


def test_s2stdp_clip_then_normalise_to_initial_sum() -> None:
    w = np.array([[0.6, 0.6, 0.1], [0.3, 0.3, 0.3]])
    s = np.array([1.3, 0.9])
    model = ReferenceReadout(_params(w_norm=True, w_max=0.35), w, s)
    model.train_sample(np.array([0.1, 0.4, 1.0]), 1)
    # Row 0: [0.59, 0.59, 0.105] -> clip [0.35, 0.35, 0.105] -> x 1.3/0.805.
    np.testing.assert_allclose(model.weights[0], np.array([0.35, 0.35, 0.105]) * 1.3 / 0.805)
    # Row 1: [0.37]*3 -> clip 0.35 -> x 0.9/1.05 = 0.3.
    np.testing.assert_allclose(model.weights[1], [0.3, 0.3, 0.3])
    np.testing.assert_allclose(model.weights.sum(axis=1), s)


def test_constrain_all_rows_option() -> None:
    # Row 1 holds a weight above w_max (as a previous rescale can leave); it is not updated
    # (e = 0), so only constrain_all_rows clips and renormalises it.
    w = np.array([[0.2, 0.2], [1.5, 0.1]])
    s = np.array([0.4, 1.6])
    sample = np.array([0.1, 0.2])  # nobody fires (θ0 = 10): T_base = 0.8, n1 has e = 0
    model = ReferenceReadout(_params(gap=0.4, theta0=10.0, w_max=1.0, w_norm=True), w, s)
    model.train_sample(sample, 0)
    np.testing.assert_array_equal(model.weights[1], [1.5, 0.1])
    model = ReferenceReadout(
        _params(gap=0.4, theta0=10.0, w_max=1.0, w_norm=True, constrain_all_rows=True), w, s
    )
    model.train_sample(sample, 0)
    np.testing.assert_allclose(model.weights[1], np.array([1.0, 0.1]) * 1.6 / 1.1)


def test_normalisation_keeps_row_sums_during_training() -> None:
    rng = np.random.default_rng(3)
    p = ReadoutParams(3, 3, 1, theta0=1.5, gap=0.1, a_plus=0.05, a_minus=-0.05, thr_lr=0.5)
    w, s = initial_weights(9, 12, 0.3, 0.01, 0.0, 1.0, rng)
    model = ReferenceReadout(p, w, s)
    times = rng.uniform(0.0, 1.2, size=(20, 12))
    labels = rng.integers(0, 3, size=20)
    model.train_epoch(times, labels)
    np.testing.assert_allclose(np.abs(model.weights).sum(axis=1), s, rtol=1e-12)


# --------------------------------------------------------------------------------------------
# NCG: intra-class WTA and non-target labelling
# --------------------------------------------------------------------------------------------

# Two classes, M = 2, inputs at 0.1 and 0.5, θ0 = 1:
# n0 fires 0.1 (V 1.2) and wins group 0 over n1 (fires 0.1, V 1.1);
# n2 fires 0.5 (V 1.1) and wins group 1 over n3 (silent, V 0.9).
_W_WTA = np.array([[1.2, 0.0], [1.1, 0.0], [0.5, 0.6], [0.9, 0.0]])
_X_WTA = np.array([0.1, 0.5])


def test_group_winners() -> None:
    t, v = forward(_X_WTA, _W_WTA, 1.0)
    np.testing.assert_allclose(t, [0.1, 0.1, 0.5, 1.0])
    np.testing.assert_array_equal(group_winners(t, v, 2), [0, 2])


def test_wta_updates_one_neuron_per_group() -> None:
    model = ReferenceReadout(_params(neurons_per_class=2), _W_WTA)
    model.train_sample(_X_WTA, 1)
    # T_base = mean(0.1, 0.5) = 0.3 over group winners only (loser n1 also fired at 0.1).
    # n0 non-target: t* = 0.4, e = -0.3: causal input 0 -> -0.03, later input 1 -> +0.015.
    # n2 target: t* = 0.2, e = 0.3: both inputs causal -> +0.03.
    expected = _W_WTA.copy()
    expected[0] = [1.17, 0.015]
    expected[2] = [0.53, 0.63]
    np.testing.assert_allclose(model.weights, expected)


def test_nt_labelled_winner_trains_as_non_target() -> None:
    # Same sample, n_nt = 1: n2 is the NT neuron of group 1 and wins it.
    model = ReferenceReadout(_params(neurons_per_class=2, n_nontarget=1), _W_WTA)
    assert model.train_sample(_X_WTA, 1) is False  # n0 (class 0) fires first
    expected = _W_WTA.copy()
    expected[0] = [1.17, 0.015]
    expected[2] = [0.51, 0.61]  # t* = 0.3 + 0.1 = 0.4, e = 0.1 -> +0.01 (not pulled earlier)
    np.testing.assert_allclose(model.weights, expected)


def test_nt_neuron_still_votes() -> None:
    model = ReferenceReadout(_params(neurons_per_class=2, n_nontarget=1), _W_WTA)
    assert model.predict(_X_WTA[None, :])[0] == 0
    w = _W_WTA.copy()
    w[0] = w[1] = 0.0
    model = ReferenceReadout(_params(neurons_per_class=2, n_nontarget=1), w)
    assert model.predict(_X_WTA[None, :])[0] == 1  # NT neuron n2 fires first


# --------------------------------------------------------------------------------------------
# CR-2
# --------------------------------------------------------------------------------------------


def _cr_model(**kw: object) -> ReferenceReadout:
    # C = 2, M = 4, n_nt = 1: G(0) = {1, 2, 3}, G(1) = {5, 6, 7}. With θ0 = 1 and inputs at
    # (0.1, 0.2): neurons 1, 2, 5 fire at 0.2 with V 1.2, 1.8, 1.6; the others are silent.
    w = np.full((8, 2), 0.3)
    w[2] = 0.9
    w[1] = 0.6
    w[5] = 0.8  # fires at 0.2 with V 1.6 (< 1.8 of neuron 2)
    cfg: dict[str, object] = {"neurons_per_class": 4, "n_nontarget": 1, "thr_lr": 0.6}
    return ReferenceReadout(_params(**(cfg | kw)), w)


def test_cr2_training_thresholds_only_for_own_class_targets() -> None:
    model = _cr_model()
    model.theta_train[:] = np.arange(8) + 10.0
    np.testing.assert_allclose(model.training_thresholds(0), [1, 11, 12, 13, 1, 1, 1, 1])
    np.testing.assert_allclose(model.training_thresholds(1), [1, 1, 1, 1, 1, 15, 16, 17])
    np.testing.assert_allclose(model.test_thresholds(), np.ones(8))


def test_cr2_forward_uses_training_thresholds() -> None:
    model = _cr_model(a_plus=0.0, a_minus=0.0)
    x = np.array([0.1, 0.2])
    # With θ0, neuron 2 (class 0) fires first at 0.2 (V 1.8).
    assert decide(*forward(x, model.weights, 1.0)) == 2
    # A high θ' silences the TGT neurons of class 0 on class-0 samples: class 1 wins (wrong).
    model.theta_train[:4] = 100.0
    assert model.train_sample(x, 0) is False
    # On class-1 samples class 0 uses θ0 again, so neuron 2 wins.
    model.theta_train[:4] = 100.0
    assert model.train_sample(x, 1) is False
    assert model.evaluate(x[None, :], np.array([0])) == 1.0  # test mode: θ0 everywhere


def test_cr2_update_from_theta0_and_lower_clip() -> None:
    model = _cr_model(a_plus=0.0, a_minus=0.0)
    model.train_sample(np.array([0.1, 0.2]), 0)
    # K = 3, winner of G = neuron 2: +0.6*2/3 = 0.4; losers -0.2 clipped at θ0.
    np.testing.assert_allclose(model.theta_train, [1.0, 1.0, 1.4, 1.0, 1, 1, 1, 1])


def test_cr2_conserves_sum_without_clip() -> None:
    model = _cr_model(a_plus=0.0, a_minus=0.0)
    model.theta_train[[1, 2, 3]] = [1.5, 1.5, 1.7]
    model.train_sample(np.array([0.1, 0.2]), 0)
    np.testing.assert_allclose(model.theta_train[[1, 2, 3]], [1.3, 1.9, 1.5])
    assert model.theta_train[[1, 2, 3]].sum() == pytest.approx(4.7)
    np.testing.assert_allclose(model.theta_train[[0, 4, 5, 6, 7]], 1.0)


def test_cr2_winner_taken_within_targets_only() -> None:
    # The NT neuron 0 fires first, but w* is taken inside G = {1, 2, 3}.
    model = _cr_model(a_plus=0.0, a_minus=0.0)
    model.weights[0] = 5.0
    model.train_sample(np.array([0.1, 0.2]), 0)
    np.testing.assert_allclose(model.theta_train[:4], [1.0, 1.0, 1.4, 1.0])


def test_epoch_start_reset_and_annealing() -> None:
    x = np.array([[0.1, 0.2], [0.3, 0.1]])
    y = np.array([0, 1])
    fresh = _cr_model(annealing=0.5, thr_anneal=0.25)
    stale = _cr_model(annealing=0.5, thr_anneal=0.25)
    stale.theta_train[:] = 7.0
    fresh.train_epoch(x, y)
    stale.train_epoch(x, y)
    np.testing.assert_array_equal(fresh.theta_train, stale.theta_train)
    np.testing.assert_array_equal(fresh.weights, stale.weights)
    assert fresh.a_plus == pytest.approx(0.05) and fresh.a_minus == pytest.approx(-0.025)
    assert fresh.thr_lr == pytest.approx(0.15)


def test_cr2_disabled_when_rate_zero() -> None:
    model = _cr_model(thr_lr=0.0)
    model.train_sample(np.array([0.1, 0.2]), 0)
    np.testing.assert_allclose(model.theta_train, 1.0)


# --------------------------------------------------------------------------------------------
# Training loop
# --------------------------------------------------------------------------------------------


def _separable(
    n: int, n_cls: int, dim: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    y = rng.integers(0, n_cls, n)
    times = rng.uniform(0.4, 1.2, size=(n, dim))  # background: late or silent
    block = dim // n_cls
    for s in range(n):
        times[s, y[s] * block : (y[s] + 1) * block] = rng.uniform(0.0, 0.4, block)
    return times, y


@pytest.mark.parametrize("m, n_nt, thr_lr", [(1, 0, 0.0), (3, 1, 1.0)])
def test_training_on_separable_data(m: int, n_nt: int, thr_lr: float) -> None:
    rng = np.random.default_rng(0)
    n_cls, dim = 3, 24
    xtr, ytr = _separable(120, n_cls, dim, rng)
    xva, yva = _separable(60, n_cls, dim, rng)
    xte, yte = _separable(60, n_cls, dim, rng)
    p = ReadoutParams(
        n_cls,
        m,
        n_nt,
        theta0=2.0,
        gap=0.1,
        a_plus=0.05,
        a_minus=-0.05,
        thr_lr=thr_lr,
        thr_anneal=0.9,
    )
    w0, s = initial_weights(n_cls * m, dim, 0.3, 0.01, 0.0, 1.0, np.random.default_rng(1))
    assert ReferenceReadout(p, w0, s).evaluate(xte, yte) < 0.8
    rec = train(xtr, ytr, xva, yva, xte, yte, w0, p, max_epochs=8, patience=2, row_sums=s)
    assert rec.test_acc[-1] >= 0.95 and rec.val_acc[-1] >= 0.95
    assert len(rec.train_acc) == len(rec.val_acc) == len(rec.test_acc) == rec.n_epochs
    # Replay the early-stopping rule on the recorded validation accuracies.
    best, counter, stop = 0.0, 0, 8
    for e, acc in enumerate(rec.val_acc):
        best, counter = (acc, 0) if acc > best else (best, counter + 1)
        if counter >= 2:
            stop = e + 1
            break
    assert rec.n_epochs == stop
    assert rec.weights.shape == (n_cls * m, dim) and rec.theta_train.shape == (n_cls * m,)


def test_initial_weights_row_sums_from_unclipped_draw() -> None:
    w, s = initial_weights(4, 50, 0.5, 1.0, 0.0, 1.0, np.random.default_rng(0))
    draw = np.random.default_rng(0).normal(0.5, 1.0, size=(4, 50))
    np.testing.assert_allclose(s, draw.sum(axis=1))
    np.testing.assert_allclose(w, np.clip(draw, 0.0, 1.0))


def test_invalid_params() -> None:
    with pytest.raises(ValueError):
        ReadoutParams(2, 1, 1, theta0=1.0, gap=0.1, a_plus=0.1, a_minus=-0.1)
    with pytest.raises(ValueError):
        ReferenceReadout(_params(), np.zeros((3, 2)))
