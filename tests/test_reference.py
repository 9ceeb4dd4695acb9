"""Hand-computed checks of the NumPy reference readout (brainsnn.reference)."""

from __future__ import annotations

import numpy as np
import pytest

from brainsnn.readout.reference import (
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


# --------------------------------------------------------------------------------------------
# Rule variants: SSTDP, R-STDP, S4NN, class_inhib override
# --------------------------------------------------------------------------------------------

# C = 2, M = 1, inputs (0.1, 0.4, silent): n0 fires 0.1 (V 1.2), n1 fires 0.4 (V 1.1).
_W_TWO = np.array([[1.2, 0.0, 0.1], [0.5, 0.6, 0.1]])
_X_TWO = np.array([0.1, 0.4, 1.0])


def test_sstdp_inside_range_not_updated() -> None:
    # T_base = 0.25, g_t = g_nt = 0.1. Label 0: target n0 at 0.1 <= 0.15 and non-target n1 at
    # 0.4 >= 0.35 are already inside their ranges: no update (S2-STDP would pull both).
    model = ReferenceReadout(_params(rule="sstdp"), _W_TWO)
    assert model.train_sample(_X_TWO, 0) is True
    np.testing.assert_array_equal(model.weights, _W_TWO)
    s2 = ReferenceReadout(_params(), _W_TWO)
    s2.train_sample(_X_TWO, 0)
    assert not np.any(s2.weights == _W_TWO)


def test_sstdp_outside_range_updated() -> None:
    model = ReferenceReadout(_params(rule="sstdp"), _W_TWO)
    model.train_sample(_X_TWO, 1)
    # n1 target: t* = min(0.4, 0.15), e = 0.25 -> causal +0.025, silent input -0.0125.
    # n0 non-target: t* = max(0.1, 0.35), e = -0.25 -> causal -0.025, the others +0.0125.
    np.testing.assert_allclose(model.weights, [[1.175, 0.0125, 0.1125], [0.525, 0.625, 0.0875]])


def test_sstdp_silent_non_target_not_updated() -> None:
    w = np.array([[1.2, 0.0, 0.1], [0.1, 0.1, 0.1]])
    model = ReferenceReadout(_params(rule="sstdp"), w)
    model.train_sample(_X_TWO, 0)
    # T_base = 0.1: n0 target t* = min(0.1, 0.0), e = 0.1 -> +0.01 causal, -0.005 the others
    # (0.0 - 0.005 clipped at w_min = 0); n1: t* = max(1.0, 0.2) = t, e = 0.
    np.testing.assert_allclose(model.weights, [[1.21, 0.0, 0.095], w[1]])


def _rstdp(**kw: object) -> ReadoutParams:
    cfg: dict[str, object] = {
        "rule": "rstdp",
        "neurons_per_class": 2,
        "anti_a_plus": -0.2,
        "anti_a_minus": 0.04,
        "w_min": -1.0,
    }
    return _params(**(cfg | kw))


@pytest.mark.parametrize("class_inhib", [None, True, False])
def test_rstdp_reward_updates_global_winner_only(class_inhib: bool | None) -> None:
    # Global winner n0 (0.1, V 1.2); n1 (class 0) also fires at 0.1 but is not updated.
    model = ReferenceReadout(_rstdp(class_inhib=class_inhib), _W_WTA)
    model.reward_factor, model.punish_factor = 0.8, 0.3
    assert model.train_sample(_X_WTA, 0) is True
    expected = _W_WTA.copy()
    expected[0] = [1.2 + 0.8 * 0.1, 0.8 * -0.05]  # causal a+, later input a-
    np.testing.assert_allclose(model.weights, expected)


def test_rstdp_punishment_uses_anti_rates() -> None:
    model = ReferenceReadout(_rstdp(), _W_WTA)
    model.reward_factor, model.punish_factor = 0.8, 0.3
    assert model.train_sample(_X_WTA, 1) is False
    expected = _W_WTA.copy()
    expected[0] = [1.2 + 0.3 * -0.2, 0.3 * 0.04]  # depressed causal, potentiated later input
    np.testing.assert_allclose(model.weights, expected)


def test_rstdp_initial_factors() -> None:
    w = np.zeros((8, 2))
    model = ReferenceReadout(_rstdp(n_classes=4), w)
    assert model.reward_factor == pytest.approx(0.75) and model.punish_factor == pytest.approx(0.25)
    model = ReferenceReadout(_rstdp(n_classes=4, adaptive_lr=False), w)
    assert model.reward_factor == 1.0 and model.punish_factor == 1.0


@pytest.mark.parametrize("adaptive", [True, False])
def test_rstdp_adaptive_factors_and_annealing(adaptive: bool) -> None:
    # Large margins: n0 (class 0) wins every sample, so 3 of the 4 samples are correct.
    w = np.array([[3.0, 0.0], [2.5, 0.0], [0.5, 0.6], [0.9, 0.0]])
    model = ReferenceReadout(_rstdp(annealing=0.5, adaptive_lr=adaptive), w)
    acc = model.train_epoch(np.tile(_X_WTA, (4, 1)), np.array([0, 0, 0, 1]))
    assert acc == 0.75
    m_r, m_p = (0.25, 0.75) if adaptive else (1.0, 1.0)
    assert model.reward_factor == pytest.approx(m_r) and model.punish_factor == pytest.approx(m_p)
    rates = (model.a_plus, model.a_minus, model.anti_a_plus, model.anti_a_minus)
    np.testing.assert_allclose(rates, [0.05, -0.025, -0.1, 0.02])
    model.end_epoch(train_accuracy=0.9)
    if adaptive:
        assert model.reward_factor == pytest.approx(0.1) and model.punish_factor == 0.9


def test_s4nn_causal_only_and_unit_norm() -> None:
    model = ReferenceReadout(_params(rule="s4nn", lr=0.1, w_min=-10.0, w_max=10.0), _W_TWO)
    model.train_sample(_X_TWO, 1)
    # T_base = min(0.1, 0.4) = 0.1; n0 non-target t* = 0.3, e = -0.2; n1 target t* = 0.1, e = 0.3.
    e = np.array([-0.2, 0.3]) / np.sqrt(0.13)
    expected = _W_TWO.copy()
    expected[0, 0] += 0.1 * e[0]  # only input 0 is causal for n0 (no LTD on inputs 1, 2)
    expected[1, :2] += 0.1 * e[1]  # inputs 0, 1 causal for n1, silent input unchanged
    np.testing.assert_allclose(model.weights, expected)
    assert np.hypot(*((model.weights - _W_TWO)[:, 0] / 0.1)) == pytest.approx(1.0)


def test_s4nn_norm_over_group_winners() -> None:
    p = _params(rule="s4nn", lr=0.1, neurons_per_class=2, w_min=-10.0, w_max=10.0)
    model = ReferenceReadout(p, _W_WTA)
    t, v = forward(_X_WTA, _W_WTA, 1.0)
    upd = model.updated_neurons(t, v)
    np.testing.assert_array_equal(upd, [0, 2])
    err = model.timing_errors(upd, t[upd], 1)
    # U = {n0, n2}, T_base = 0.1: n0 e = 0.1 - 0.3, n2 e = 0.5 - 0.1; losers n1, n3 not counted.
    np.testing.assert_allclose(err, np.array([-0.2, 0.4]) / np.sqrt(0.2))
    assert np.linalg.norm(err) == pytest.approx(1.0)
    model.train_sample(_X_WTA, 1)
    expected = _W_WTA.copy()
    expected[0, 0] += 0.1 * err[0]
    expected[2] += 0.1 * err[1]
    np.testing.assert_allclose(model.weights, expected)


def test_s4nn_base_time_cap() -> None:
    # n0 fires at 0.9: T_base = 0.9 would exceed T - g = 0.8, so T_base = 0.8; n0 target e = 0.1
    # (0 without the cap), n1 silent non-target t* = 1.0, e = 0; normalised e0 = 1.
    w = np.array([[0.6, 0.6, 0.0], [0.1, 0.1, 0.1]])
    model = ReferenceReadout(_params(rule="s4nn", lr=0.1, w_min=-10.0, w_max=10.0), w)
    model.train_sample(np.array([0.5, 0.9, 1.0]), 0)
    np.testing.assert_allclose(model.weights, [[0.7, 0.7, 0.0], w[1]])
    # Nobody fires: T_base = T capped to 0.8; the silent target gets e = 1 on every input.
    model = ReferenceReadout(_params(rule="s4nn", lr=0.1, theta0=5.0), w)
    model.train_sample(np.array([0.5, 0.9, 1.0]), 1)
    np.testing.assert_allclose(model.weights, [w[0], [0.2, 0.2, 0.2]])


@pytest.mark.parametrize("time_ranges", [True, False])
def test_s4nn_late_or_silent_nontarget_is_not_potentiated(time_ranges: bool) -> None:
    # SpikeNN's default use_time_ranges (spikenn/_impl.py:241,247): t* = max(t, T_base + g) for a
    # non-target. n0 (target of class 0) fires at 0.1 = T_base, so its e = 0; n1 (non-target)
    # fires late at 0.4 > T_base + g = 0.3 in the first case and stays silent in the second.
    late = np.array([[1.2, 0.0, 0.0], [0.5, 0.6, 0.0]])
    silent = np.array([[1.2, 0.0, 0.0], [0.1, 0.1, 0.1]])
    for w, t_n1 in ((late, 0.4), (silent, 1.0)):
        p = _params(rule="s4nn", lr=0.1, w_min=-10.0, w_max=10.0, time_ranges=time_ranges)
        model = ReferenceReadout(p, w)
        model.train_sample(_X_TWO, 0)
        expected = w.copy()
        if not time_ranges:  # two-sided: e1 = t - 0.3 > 0, normalised to 1, on causal inputs
            expected[1] += 0.1 * (t_n1 >= _X_TWO)
        np.testing.assert_allclose(model.weights, expected)


def test_class_inhib_false_updates_every_neuron() -> None:
    model = ReferenceReadout(_params(neurons_per_class=2, class_inhib=False), _W_WTA)
    model.train_sample(_X_WTA, 1)
    assert np.all(np.any(model.weights != _W_WTA, axis=1))  # losers n1, n3 updated too


# --------------------------------------------------------------------------------------------
# CR-1
# --------------------------------------------------------------------------------------------


def test_cr1_thresholds_for_all_neurons_and_no_clip() -> None:
    model = _cr_model(a_plus=0.0, a_minus=0.0, regulation="cr1")
    model.train_sample(np.array([0.1, 0.2]), 0)
    # Same winner/loser update as CR-2 but losers go below θ0.
    np.testing.assert_allclose(model.theta_train, [1.0, 0.8, 1.4, 0.8, 1, 1, 1, 1])
    np.testing.assert_allclose(model.theta_test, 1.0)  # copied only at the epoch end
    model.theta_train[:] = np.arange(8) + 10.0
    for label in (0, 1):
        np.testing.assert_allclose(model.training_thresholds(label), np.arange(8) + 10.0)


def test_cr1_persists_across_epochs_and_copies_to_test() -> None:
    model = _cr_model(a_plus=0.0, a_minus=0.0, regulation="cr1", thr_anneal=0.5)
    x, y = np.array([[0.1, 0.2]]), np.array([0])
    model.train_epoch(x, y)
    np.testing.assert_allclose(model.theta_train, [1.0, 0.8, 1.4, 0.8, 1, 1, 1, 1])
    np.testing.assert_allclose(model.theta_test, model.theta_train)
    model.train_epoch(x, y)  # no reset: η = 0.3 on top of the previous thresholds
    np.testing.assert_allclose(model.theta_train, [1.0, 0.7, 1.6, 0.7, 1, 1, 1, 1])
    np.testing.assert_allclose(model.theta_test, model.theta_train)
    assert model.thr_lr == pytest.approx(0.15)


@pytest.mark.parametrize("regulation", ["cr1", "cr2"])
def test_test_thresholds_used_by_evaluate(regulation: str) -> None:
    model = _cr_model(regulation=regulation)
    x = np.array([[0.1, 0.2]])
    assert model.evaluate(x, np.array([0])) == 1.0  # neuron 2 (class 0) fires first
    model.theta_train[:4] = 100.0
    model.end_epoch()
    if regulation == "cr1":  # class-0 neurons now silent in test mode: class 1 wins
        np.testing.assert_allclose(model.theta_test, model.theta_train)
        assert model.evaluate(x, np.array([1])) == 1.0
    else:
        np.testing.assert_allclose(model.theta_test, 1.0)
        assert model.evaluate(x, np.array([0])) == 1.0


# --------------------------------------------------------------------------------------------
# Output dropout
# --------------------------------------------------------------------------------------------


def _mask(*idx: int, n: int = 4) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[list(idx)] = True
    return mask


def test_forward_dropped_neuron_silent_at_zero() -> None:
    t, v = forward(_X_WTA, _W_WTA, 1.0, dropped=_mask(0))
    np.testing.assert_allclose(t, [1.0, 0.1, 0.5, 1.0])
    np.testing.assert_allclose(v, [0.0, 1.1, 1.1, 0.9])


# Group 1 is silent: n2 (V 0.4), n3 (V -0.2). n0 wins group 0 (0.1, V 1.2).
_W_DROP = np.array([[1.2, 0.0], [1.1, 0.0], [0.2, 0.2], [-0.1, -0.1]])


@pytest.mark.parametrize("can_win", [True, False])
def test_dropped_neuron_and_group_winner(can_win: bool) -> None:
    p = _params(neurons_per_class=2, w_min=-1.0, dropped_can_win=can_win)
    model = ReferenceReadout(p, _W_DROP)
    model.train_sample(_X_WTA, 0, _mask(2))
    # T_base = 0.1 (n0 only); n0 target e = 0.1; group-1 winner non-target silent, e = 0.8.
    # can_win: dropped n2 (V 0) beats n3 (V -0.2) and is updated; else n3 wins.
    expected = _W_DROP.copy()
    expected[0] = [1.21, -0.005]
    expected[2 if can_win else 3] += 0.08
    np.testing.assert_allclose(model.weights, expected)


@pytest.mark.parametrize("can_win", [True, False])
def test_fully_dropped_group(can_win: bool) -> None:
    p = _params(neurons_per_class=2, w_min=-1.0, dropped_can_win=can_win)
    model = ReferenceReadout(p, _W_DROP)
    model.train_sample(_X_WTA, 0, _mask(2, 3))
    expected = _W_DROP.copy()
    expected[0] = [1.21, -0.005]
    if can_win:
        expected[2] += 0.08  # tie at (T, V 0): lower index
    np.testing.assert_allclose(model.weights, expected)


def test_rstdp_dropout_global_winner() -> None:
    model = ReferenceReadout(_rstdp(), _W_WTA)
    model.reward_factor = 1.0
    assert model.train_sample(_X_WTA, 0, _mask(0)) is True  # n1 (class 0) wins instead of n0
    expected = _W_WTA.copy()
    expected[1] = [1.2, -0.05]
    np.testing.assert_allclose(model.weights, expected)
    # Everything dropped: the decision still picks n0 (class 0); without dropped_can_win no update.
    model = ReferenceReadout(_rstdp(dropped_can_win=False), _W_WTA)
    assert model.train_sample(_X_WTA, 0, _mask(0, 1, 2, 3)) is True
    np.testing.assert_array_equal(model.weights, _W_WTA)
    model = ReferenceReadout(_rstdp(), _W_WTA)
    model.train_sample(_X_WTA, 0, _mask(0, 1, 2, 3))
    assert np.any(model.weights[0] != _W_WTA[0])  # n0 wins the all-silent tie and is updated


def test_dropout_changes_training_decision() -> None:
    model = ReferenceReadout(_params(neurons_per_class=2), _W_WTA)
    assert model.train_sample(_X_WTA, 1, _mask(0, 1)) is True  # n2 fires first
    model = ReferenceReadout(_params(neurons_per_class=2), _W_WTA)
    assert model.train_sample(_X_WTA, 1) is False


def test_train_passes_dropout_masks_per_epoch() -> None:
    rng = np.random.default_rng(5)
    x, y = rng.uniform(0.0, 1.2, size=(6, 4)), rng.integers(0, 2, 6)
    masks = rng.random((2, 6, 4)) < 0.3
    calls: list[tuple[int, int]] = []

    def draw(epoch: int, n: int) -> np.ndarray:
        calls.append((epoch, n))
        return masks[epoch]

    w0 = rng.uniform(0.2, 0.6, size=(4, 4))
    p = _params(neurons_per_class=2, p_drop=0.3)
    rec = train(x, y, x, y, x, y, w0, p, max_epochs=2, patience=0, dropout_masks=draw)
    assert calls == [(0, 6), (1, 6)]
    model = ReferenceReadout(p, w0)
    acc = [model.train_epoch(x, y, masks[e]) for e in range(2)]
    assert rec.train_acc == tuple(acc)
    np.testing.assert_array_equal(rec.weights, model.weights)
    with pytest.raises(ValueError, match="dropout_masks"):
        train(x, y, x, y, x, y, w0, p, max_epochs=1, patience=0)
    with pytest.raises(ValueError):
        model.train_epoch(x, y, masks[0][:, :3])


# --------------------------------------------------------------------------------------------
# Every rule learns a separable task
# --------------------------------------------------------------------------------------------

_RULE_CASES: dict[str, tuple[dict[str, object], float]] = {
    # name: (ReadoutParams overrides, initial weight mean)
    "sstdp": ({"rule": "sstdp", "a_minus": -0.01, "w_norm": False}, 0.5),
    "rstdp": (
        {
            "rule": "rstdp",
            "neurons_per_class": 2,
            "anti_a_plus": -0.05,
            "anti_a_minus": 0.05,
            "w_min": 0.2,
            "w_max": 0.8,
            "w_norm": False,
        },
        0.5,
    ),
    "s4nn": ({"rule": "s4nn", "lr": 0.05, "w_min": -10.0, "w_max": 10.0, "w_norm": False}, 0.5),
    "cr1": ({"neurons_per_class": 3, "n_nontarget": 1, "thr_lr": 0.5, "regulation": "cr1"}, 0.3),
    "dropout": ({"neurons_per_class": 3, "n_nontarget": 1, "p_drop": 0.2}, 0.3),
    "dropout-no-win": (
        {"neurons_per_class": 3, "n_nontarget": 1, "p_drop": 0.2, "dropped_can_win": False},
        0.3,
    ),
}


@pytest.mark.parametrize("case", list(_RULE_CASES))
def test_every_variant_learns(case: str) -> None:
    overrides, mean = _RULE_CASES[case]
    rng = np.random.default_rng(0)
    n_cls, dim = 3, 24
    xtr, ytr = _separable(120, n_cls, dim, rng)
    xva, yva = _separable(60, n_cls, dim, rng)
    xte, yte = _separable(60, n_cls, dim, rng)
    base: dict[str, object] = {
        "neurons_per_class": 1,
        "n_nontarget": 0,
        "theta0": 2.0,
        "gap": 0.1,
        "a_plus": 0.05,
        "a_minus": -0.05,
        "thr_anneal": 0.9,
    }
    p = ReadoutParams(n_cls, **(base | overrides))  # type: ignore[arg-type]
    w0, s = initial_weights(p.n_neurons, dim, mean, 0.01, p.w_min, p.w_max, rng)
    assert ReferenceReadout(p, w0, s).evaluate(xte, yte) < 0.8
    mask_rng = np.random.default_rng(1)

    def draw(epoch: int, n: int) -> np.ndarray:
        return mask_rng.random((n, p.n_neurons)) < p.p_drop

    masks = draw if p.p_drop > 0 else None
    rec = train(xtr, ytr, xva, yva, xte, yte, w0, p, 5, 0, row_sums=s, dropout_masks=masks)
    assert rec.test_acc[-1] >= 0.95 and rec.train_acc[-1] >= 0.9
    if p.regulation == "cr1":
        np.testing.assert_array_equal(rec.theta_test, rec.theta_train)
        assert np.any(rec.theta_train < p.theta0)  # no lower clip
    else:
        np.testing.assert_array_equal(rec.theta_test, p.theta0)


def test_invalid_variant_params() -> None:
    with pytest.raises(ValueError):
        _params(rule="stdp")
    with pytest.raises(ValueError):
        _params(regulation="cr3")
    with pytest.raises(ValueError):
        _params(p_drop=1.0)


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
