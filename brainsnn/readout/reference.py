"""Independent NumPy reference ("oracle") of the NCG first-spike readout.

Single trainable fully-connected layer of single-spike, non-leaky integrate-and-fire neurons with
delta synapses, read out by the first spike. Learning rules: S2-STDP (default), SSTDP, R-STDP and
S4NN; Neuronal Competition Groups (intra-class WTA + non-target labelling); competition regulation
CR-2 (two-compartment thresholds, default) or CR-1 (one persistent threshold per neuron); output
dropout with masks given by the caller. It follows ``/work/shared/specs/ncg.md`` sections 2-7 and is
exact and event-driven: no time step.

Units and conventions
---------------------
* Time is dimensionless, in units of the coding window T = 1.0 (``MAX_TIME``). An input time
  ``>= 1.0`` means that the input is silent; a silent output neuron reports ``t_out = 1.0``.
* Potentials, weights and thresholds share one arbitrary potential unit (a weight is the jump of V
  caused by one input spike).
* Output layout: ``N = C * M`` neurons, neuron ``j`` belongs to class group ``j // M``; inside each
  group the first ``n_nontarget`` neurons are labelled non-target (NT), the others target (TGT).

The code is written for clarity (it is a test oracle), vectorised over neurons and looping over
samples and input time groups.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from brainsnn.readout.weights import initial_weights  # noqa: F401  (re-exported for tests)

MAX_TIME = 1.0
"""T, the end of the coding window (dimensionless time unit)."""

Rule = Literal["s2stdp", "sstdp", "rstdp", "s4nn"]
"""Learning rule: S2-STDP (spec 5.1), SSTDP (5.2), R-STDP (5.3) or S4NN (5.4)."""

Regulation = Literal["cr2", "cr1"]
"""Competition regulation: two-compartment thresholds (spec 6.3) or one per neuron (6.4)."""


@dataclass(frozen=True)
class ReadoutParams:
    """Hyperparameters of the readout (one value per run, no units unless stated).

    Attributes:
        n_classes: C, number of classes.
        neurons_per_class: M, neurons per class group (M > 1 switches on the intra-class WTA).
        n_nontarget: n_nt, NT-labelled neurons at the start of each group (0 <= n_nt < M).
        theta0: firing threshold θ0 (potential units); the test threshold of every neuron.
        gap: S2-STDP time gap g (units of T).
        a_plus: LTP rate a+ (weight units per unit of error, > 0 in configs).
        a_minus: LTD rate a- (weight units per unit of error, < 0 in configs).
        w_min: lower weight clip (weight units).
        w_max: upper weight clip (weight units).
        w_norm: rescale every updated row to its initial sum S_j after each update (all rules,
            S4NN and R-STDP included, as SpikeNN's layer constraint; their configs set it False).
        annealing: factor applied at the end of each epoch to a+, a-, anti_a+, anti_a- and lr.
        thr_lr: threshold learning rate η (potential units); 0 disables the regulation.
        thr_anneal: factor applied to η at the end of each epoch.
        constrain_all_rows: not in the brief's contract; if True, clip and renormalise *all* rows
            after every update, as SpikeNN does, instead of only the updated rows (default). The
            two differ only when an earlier rescale left a weight above ``w_max``.
        rule: learning rule, see :data:`Rule`.
        regulation: ``"cr2"`` (θ' for the own-class TGT neurons, reset each epoch, lower clip at
            θ0, test thresholds θ0) or ``"cr1"`` (one persistent threshold per neuron for all
            neurons, no clip, copied to the test thresholds at each epoch end). Active only when
            ``thr_lr > 0`` and the class has at least 2 TGT neurons.
        class_inhib: intra-class WTA for learning (only each group's winner is updated); None means
            ``neurons_per_class > 1``. R-STDP ignores it (it updates the global winner only).
        anti_a_plus: R-STDP punishment rate on causal inputs (< 0 in configs).
        anti_a_minus: R-STDP punishment rate on the other inputs (> 0 in configs).
        adaptive_lr: R-STDP: scale the reward rates by m_r and the punishment rates by m_p, with
            m_r = 1 - 1/C, m_p = 1/C at first and m_r = 1 - acc, m_p = acc after each epoch; if
            False, m_r = m_p = 1 always.
        lr: S4NN learning rate (weight units per unit of normalised error).
        time_ranges: S4NN: one-sided desired times, t* = min(t, T_base) for targets and
            max(t, T_base + g) otherwise (SpikeNN's default ``use_time_ranges``); if False,
            t* = T_base and T_base + g.
        p_drop: output dropout probability of the run. The oracle never draws masks: the caller
            passes them (see :meth:`ReferenceReadout.train_sample` and :func:`train`).
        dropped_can_win: if True (SpikeNN), dropped neurons (V = 0, t = T) still take part in the
            choice of the group / global winner and can be updated; if False they are excluded
            from it and never updated.
    """

    n_classes: int
    neurons_per_class: int
    n_nontarget: int
    theta0: float
    gap: float
    a_plus: float
    a_minus: float
    w_min: float = 0.0
    w_max: float = 1.0
    w_norm: bool = True
    annealing: float = 0.98
    thr_lr: float = 0.0
    thr_anneal: float = 1.0
    constrain_all_rows: bool = False
    rule: Rule = "s2stdp"
    regulation: Regulation = "cr2"
    class_inhib: bool | None = None
    anti_a_plus: float = 0.0
    anti_a_minus: float = 0.0
    adaptive_lr: bool = True
    lr: float = 0.0
    time_ranges: bool = True
    p_drop: float = 0.0
    dropped_can_win: bool = True

    def __post_init__(self) -> None:
        if self.n_classes < 1 or self.neurons_per_class < 1:
            raise ValueError("n_classes and neurons_per_class must be >= 1")
        if not 0 <= self.n_nontarget < self.neurons_per_class:
            raise ValueError("n_nontarget must satisfy 0 <= n_nontarget < neurons_per_class")
        if self.w_min > self.w_max:
            raise ValueError("w_min must be <= w_max")
        if self.rule not in get_args(Rule):
            raise ValueError(f"rule must be one of {get_args(Rule)}, got {self.rule!r}")
        if self.regulation not in get_args(Regulation):
            raise ValueError(
                f"regulation must be one of {get_args(Regulation)}, got {self.regulation!r}"
            )
        if not 0.0 <= self.p_drop < 1.0:
            raise ValueError("p_drop must satisfy 0 <= p_drop < 1")

    @property
    def n_neurons(self) -> int:
        """N = C * M, number of output neurons."""
        return self.n_classes * self.neurons_per_class

    @property
    def intra_class_wta(self) -> bool:
        """Resolved ``class_inhib``: the given value, else ``neurons_per_class > 1``."""
        return self.neurons_per_class > 1 if self.class_inhib is None else self.class_inhib


@dataclass(frozen=True)
class TrainingRecord:
    """Result of :func:`train`.

    Attributes:
        train_acc: training accuracy of each epoch (fraction in [0, 1], decided on the fly with the
            training thresholds, while learning).
        val_acc: validation accuracy after each epoch (test mode).
        test_acc: test accuracy after each epoch (test mode).
        weights: final weights (N, D) (weight units); the best epoch is NOT restored.
        theta_train: final training thresholds (N,) (potential units): CR-2 θ' or CR-1 θ^tr.
        n_epochs: number of epochs run.
        theta_test: final test thresholds (N,) (potential units): θ0 under CR-2, the last copy of
            θ^tr under CR-1.
    """

    train_acc: tuple[float, ...]
    val_acc: tuple[float, ...]
    test_acc: tuple[float, ...]
    weights: np.ndarray
    theta_train: np.ndarray
    n_epochs: int
    theta_test: np.ndarray


# --------------------------------------------------------------------------------------------
# Forward pass and decision
# --------------------------------------------------------------------------------------------


def forward(
    times: np.ndarray,
    weights: np.ndarray,
    thresholds: np.ndarray | float,
    *,
    last_spike_quirk: bool = False,
    dropped: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Simulate one sample exactly (event-driven, non-leaky IF, one spike per neuron at most).

    Input spikes are grouped by identical timestamp in ascending order. For each group the weights
    of all its spikes are added to V of every still-active neuron, then ``V > threshold`` (strict)
    is tested; a neuron that passes gets ``t_out`` = the group's time and stops integrating (its V
    stays frozen). The test also runs after the last group.

    Args:
        times: (D,) input spike times (units of T); ``>= 1.0`` means silent.
        weights: (N, D) weights (potential units).
        thresholds: scalar or (N,) firing thresholds (potential units).
        last_spike_quirk: reproduce SpikeNN's loop, where the very last input spike (highest input
            index among the latest timestamp) is integrated but never tested. Off by default.
        dropped: optional (N,) bool output-dropout mask: a dropped neuron never integrates nor
            fires (V = 0, t = T).

    Returns:
        ``(t_out, v_out)``: (N,) output spike times (units of T, 1.0 if silent) and (N,)
        potentials (at firing time for fired neurons, final value for silent ones).
    """
    times = np.asarray(times, dtype=float)
    weights = np.asarray(weights, dtype=float)
    n_out = weights.shape[0]
    theta = np.broadcast_to(np.asarray(thresholds, dtype=float), (n_out,))
    v = np.zeros(n_out)
    t_out = np.full(n_out, MAX_TIME)
    active = np.ones(n_out, dtype=bool) if dropped is None else ~np.asarray(dropped, dtype=bool)

    spiking = np.flatnonzero(times < MAX_TIME)
    if last_spike_quirk:
        return _forward_quirk(times, weights, theta, spiking, v, t_out, active)
    if spiking.size == 0:
        return t_out, v
    order = spiking[np.argsort(times[spiking], kind="stable")]  # by time, then input index
    sorted_times = times[order]
    starts = np.flatnonzero(np.r_[True, sorted_times[1:] != sorted_times[:-1]])
    # V after each group of identical timestamps: the group's weights summed, then accumulated
    potential = np.cumsum(np.add.reduceat(weights[:, order], starts, axis=1), axis=1)
    above = (potential > theta[:, None]) & active[:, None]
    fired = above.any(axis=1)
    first = above.argmax(axis=1)  # the first group after which V > threshold
    t_out[fired] = sorted_times[starts[first[fired]]]
    v = np.where(fired, potential[np.arange(n_out), first], potential[:, -1])
    v[~active] = 0.0
    return t_out, v


def _forward_quirk(
    times: np.ndarray,
    weights: np.ndarray,
    theta: np.ndarray,
    spiking: np.ndarray,
    v: np.ndarray,
    t_out: np.ndarray,
    active: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`forward` with SpikeNN's last-spike quirk, group by group."""
    group_times = np.unique(times[spiking])  # sorted ascending
    for k, tau in enumerate(group_times):
        idx = spiking[times[spiking] == tau]  # ascending input index
        if k == len(group_times) - 1:
            # SpikeNN tests before integrating each spike, so the final spike is never tested.
            if len(idx) > 1:
                v[active] += weights[np.ix_(active, idx[:-1])].sum(axis=1)
                fire = active & (v > theta)
                t_out[fire] = tau
                active &= ~fire
            v[active] += weights[active, idx[-1]]
            break
        v[active] += weights[np.ix_(active, idx)].sum(axis=1)
        fire = active & (v > theta)
        t_out[fire] = tau
        active &= ~fire
    return t_out, v


def decide(t_out: np.ndarray, v_out: np.ndarray) -> int:
    """Index of the winner: the lexicographic minimum of ``(t_out, -v_out, index)``.

    Args:
        t_out: (N,) output spike times (units of T).
        v_out: (N,) potentials (potential units).

    Returns:
        The winning neuron index (earliest spike, then highest V, then lowest index).
    """
    t_out = np.asarray(t_out, dtype=float)
    v_out = np.asarray(v_out, dtype=float)
    order = np.lexsort((np.arange(t_out.size), -v_out, t_out))  # last key is the primary key
    return int(order[0])


def predict(
    times: np.ndarray,
    weights: np.ndarray,
    thresholds: np.ndarray | float,
    neurons_per_class: int,
    *,
    last_spike_quirk: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Forward pass and decision for a batch of samples (no learning).

    Args:
        times: (n, D) input spike times (units of T; ``>= 1.0`` = silent).
        weights: (N, D) weights (potential units).
        thresholds: scalar or (N,) thresholds (potential units).
        neurons_per_class: M; predicted class = winner // M.
        last_spike_quirk: see :func:`forward`.

    Returns:
        ``(pred, t_out, v_out)`` with shapes (n,), (n, N), (n, N).
    """
    times = np.atleast_2d(np.asarray(times, dtype=float))
    n_out = np.asarray(weights).shape[0]
    t_all = np.empty((times.shape[0], n_out))
    v_all = np.empty((times.shape[0], n_out))
    pred = np.empty(times.shape[0], dtype=np.int64)
    for s, x in enumerate(times):
        t_all[s], v_all[s] = forward(x, weights, thresholds, last_spike_quirk=last_spike_quirk)
        pred[s] = decide(t_all[s], v_all[s]) // neurons_per_class
    return pred, t_all, v_all


def group_winners(
    t_out: np.ndarray,
    v_out: np.ndarray,
    neurons_per_class: int,
    *,
    excluded: np.ndarray | None = None,
) -> np.ndarray:
    """Index of the winner of each class group (min of ``(t, -V, index)`` inside the group).

    With ``neurons_per_class = N`` this is the global winner (a single group).

    Args:
        t_out: (N,) output spike times (units of T).
        v_out: (N,) potentials (potential units).
        neurons_per_class: M.
        excluded: optional (N,) bool mask of neurons that cannot win; a group whose neurons are
            all excluded has no winner.

    Returns:
        Neuron indices, one per group that has a winner, in class order ((C,) if none excluded).
    """
    m = neurons_per_class
    winners = []
    for c in range(len(t_out) // m):
        members = np.arange(c * m, (c + 1) * m)
        if excluded is not None:
            members = members[~np.asarray(excluded, dtype=bool)[members]]
        if members.size:
            winners.append(members[decide(t_out[members], v_out[members])])
    return np.array(winners, dtype=np.int64)


# --------------------------------------------------------------------------------------------
# Learning
# --------------------------------------------------------------------------------------------


class ReferenceReadout:
    """Stateful readout: weights, row sums S_j, thresholds and current rates.

    Attributes:
        params: the hyperparameters.
        weights: (N, D) current weights (weight units).
        row_sums: (N,) normalisation targets S_j (weight units).
        theta_train: (N,) training thresholds (potential units): CR-2 θ' (used for the own-class
            TGT neurons, reset to θ0 each epoch) or CR-1 θ^tr (used for every neuron, persistent).
        theta_test: (N,) test thresholds (potential units): θ0 under CR-2; under CR-1 a copy of
            θ^tr taken at each epoch end (θ0 before the first one).
        a_plus: current LTP rate (annealed each epoch).
        a_minus: current LTD rate (annealed each epoch).
        anti_a_plus: current R-STDP punishment rate on causal inputs (annealed each epoch).
        anti_a_minus: current R-STDP punishment rate on the other inputs (annealed each epoch).
        lr: current S4NN learning rate (annealed each epoch).
        reward_factor: R-STDP m_r (1 - 1/C at first, then 1 - previous epoch's training accuracy;
            1 without ``adaptive_lr``).
        punish_factor: R-STDP m_p (1/C at first, then the previous epoch's training accuracy;
            1 without ``adaptive_lr``).
        thr_lr: current regulation rate η (potential units, annealed each epoch).
        last_spike_quirk: see :func:`forward`.
    """

    def __init__(
        self,
        params: ReadoutParams,
        weights: np.ndarray,
        row_sums: np.ndarray | None = None,
        *,
        last_spike_quirk: bool = False,
    ) -> None:
        """Create a readout from initial weights (N, D) and optional targets S_j (N,).

        If ``row_sums`` is None the row sums of ``weights`` are used.
        """
        weights = np.array(weights, dtype=float)  # private copy
        if weights.ndim != 2 or weights.shape[0] != params.n_neurons:
            raise ValueError(
                f"weights must have shape ({params.n_neurons}, D), got {weights.shape}"
            )
        self.params = params
        self.weights = weights
        self.row_sums = weights.sum(axis=1) if row_sums is None else np.array(row_sums, dtype=float)
        self.theta_train = np.full(params.n_neurons, float(params.theta0))
        self.theta_test = np.full(params.n_neurons, float(params.theta0))
        self.a_plus = float(params.a_plus)
        self.a_minus = float(params.a_minus)
        self.anti_a_plus = float(params.anti_a_plus)
        self.anti_a_minus = float(params.anti_a_minus)
        self.lr = float(params.lr)
        chance = 1.0 / params.n_classes
        self.reward_factor = 1.0 - chance if params.adaptive_lr else 1.0
        self.punish_factor = chance if params.adaptive_lr else 1.0
        self.thr_lr = float(params.thr_lr)
        self.last_spike_quirk = last_spike_quirk

    # ---- layout helpers -------------------------------------------------------------------

    def group_targets(self, label: int) -> np.ndarray:
        """Indices of the TGT-labelled neurons of class ``label`` (the set G of CR-1/CR-2)."""
        m, n_nt = self.params.neurons_per_class, self.params.n_nontarget
        return np.arange(label * m + n_nt, (label + 1) * m)

    def is_target(self, neurons: np.ndarray, label: int) -> np.ndarray:
        """Boolean mask: neuron is in group ``label`` and TGT-labelled."""
        m, n_nt = self.params.neurons_per_class, self.params.n_nontarget
        neurons = np.asarray(neurons)
        return (neurons // m == label) & (neurons % m >= n_nt)

    def test_thresholds(self) -> np.ndarray:
        """(N,) test thresholds (a copy of ``theta_test``; θ0 everywhere under CR-2)."""
        return self.theta_test.copy()

    def training_thresholds(self, label: int) -> np.ndarray:
        """(N,) thresholds of a training sample of class ``label``.

        CR-2: θ' for the TGT neurons of ``label``, the test threshold θ0 for the others.
        CR-1: θ^tr for every neuron, whatever the label.
        """
        if self.params.regulation == "cr1":
            return self.theta_train.copy()
        theta = self.test_thresholds()
        g = self.group_targets(label)
        theta[g] = self.theta_train[g]
        return theta

    # ---- one training sample ----------------------------------------------------------------

    def train_sample(
        self, times: np.ndarray, label: int, dropped: np.ndarray | None = None
    ) -> bool:
        """Forward (training thresholds, dropout), decide, threshold update, weight update.

        Args:
            times: (D,) input spike times (units of T; ``>= 1.0`` = silent).
            label: class index y.
            dropped: optional (N,) bool output-dropout mask of this sample (True = dropped).

        Returns:
            Whether the decision (normal rule over all N neurons, dropped ones at t = T, V = 0)
            gave class ``label`` (before learning).
        """
        times = np.asarray(times, dtype=float)
        label = int(label)
        if dropped is not None:
            dropped = np.asarray(dropped, dtype=bool)
            if dropped.shape != (self.params.n_neurons,):
                raise ValueError(f"dropped must have shape ({self.params.n_neurons},)")
        t_out, v_out = forward(
            times,
            self.weights,
            self.training_thresholds(label),
            last_spike_quirk=self.last_spike_quirk,
            dropped=dropped,
        )
        correct = decide(t_out, v_out) // self.params.neurons_per_class == label
        self._regulate_thresholds(t_out, v_out, label)
        excluded = None if self.params.dropped_can_win else dropped
        self._update_weights(times, t_out, v_out, label, excluded)
        return bool(correct)

    def _regulate_thresholds(self, t_out: np.ndarray, v_out: np.ndarray, label: int) -> None:
        """CR-1/CR-2: winner of G gets +η(K-1)/K, the rest of G -η/K; CR-2 then θ' >= θ0.

        G = the TGT neurons of class ``label`` and the winner w* is taken inside G only, whatever
        the dropout (dropped members of G take part with t = T, V = 0).
        """
        g = self.group_targets(label)
        k = len(g)
        if self.thr_lr <= 0.0 or k < 2:
            return
        delta = np.full(k, -self.thr_lr / k)
        delta[decide(t_out[g], v_out[g])] = self.thr_lr * (k - 1) / k
        self.theta_train[g] += delta
        if self.params.regulation == "cr2":
            np.maximum(self.theta_train, self.params.theta0, out=self.theta_train)

    def updated_neurons(
        self, t_out: np.ndarray, v_out: np.ndarray, excluded: np.ndarray | None = None
    ) -> np.ndarray:
        """The set U of neurons that may be updated on this sample (ascending indices).

        R-STDP: the global winner (none if every neuron is excluded). Other rules: the winner of
        each group under the intra-class WTA, every neuron otherwise; excluded neurons (dropped,
        with ``dropped_can_win=False``) are never in U.
        """
        p = self.params
        if p.rule == "rstdp":
            return group_winners(t_out, v_out, p.n_neurons, excluded=excluded)
        if p.intra_class_wta:
            return group_winners(t_out, v_out, p.neurons_per_class, excluded=excluded)
        every = np.arange(p.n_neurons)
        return every if excluded is None else every[~excluded]

    def timing_errors(self, upd: np.ndarray, t_upd: np.ndarray, label: int) -> np.ndarray:
        """Errors e_j = (t_j - t*_j) / T of the neurons ``upd`` (times ``t_upd``) for S2-STDP,
        SSTDP and S4NN.

        S2-STDP: T_base = min(mean of the fired times in U, T - g_nt) (T - g_nt if none fired),
        t* = T_base - g_t for targets, T_base + g_nt otherwise, with g_t = g(C-1)/C, g_nt = g/C.
        SSTDP: the same but one-sided, t* = min(t, T_base - g_t) or max(t, T_base + g_nt).
        S4NN: T_base = the earliest time in U (T if none fired), lowered to T - g if T_base + g > T,
        t* = min(t, T_base) for targets and max(t, T_base + g) otherwise (one-sided, SpikeNN's
        ``use_time_ranges``), or T_base and T_base + g if ``time_ranges`` is False; e is then
        divided by its L2 norm over U (that is, over exactly the neurons ``upd``; skipped when the
        norm is 0).
        """
        p = self.params
        target = self.is_target(upd, label)
        if p.rule == "s4nn":
            t_base = float(t_upd.min(initial=MAX_TIME))
            if t_base + p.gap > MAX_TIME:
                t_base = MAX_TIME - p.gap
            t_star = np.where(target, t_base, t_base + p.gap)
            if p.time_ranges:
                t_star = np.where(target, np.minimum(t_upd, t_star), np.maximum(t_upd, t_star))
        else:
            g_t = p.gap * (p.n_classes - 1) / p.n_classes  # target gap
            g_nt = p.gap / p.n_classes  # non-target gap
            fired = t_upd < MAX_TIME
            t_base = MAX_TIME - g_nt
            if fired.any():
                t_base = min(float(t_upd[fired].mean()), t_base)
            t_star = np.where(target, t_base - g_t, t_base + g_nt)
            if p.rule == "sstdp":
                t_star = np.where(target, np.minimum(t_upd, t_star), np.maximum(t_upd, t_star))
        err = (t_upd - t_star) / MAX_TIME
        if p.rule == "s4nn":
            norm = float(np.linalg.norm(err))
            if norm > 0.0:
                err = err / norm
        return err

    def _update_weights(
        self,
        times: np.ndarray,
        t_out: np.ndarray,
        v_out: np.ndarray,
        label: int,
        excluded: np.ndarray | None = None,
    ) -> None:
        """Weight update of the rule on the set U, then clip and (if ``w_norm``) renormalise.

        Every rule uses the kernel of spec 5.0, Δw_ji = f_j · (ltp if s_i <= t_j else ltd):
        S2-STDP/SSTDP f = e, (a+, a-); S4NN f = lr · e, (1, 0); R-STDP f = m_r with (a+, a-) if the
        global winner is a TGT neuron of class y, else f = m_p with (anti_a+, anti_a-).
        """
        p = self.params
        upd = self.updated_neurons(t_out, v_out, excluded)
        if upd.size == 0:
            return
        t_upd = t_out[upd]
        if p.rule == "rstdp":
            if self.is_target(upd, label)[0]:
                factor, ltp, ltd = self.reward_factor, self.a_plus, self.a_minus
            else:
                factor, ltp, ltd = self.punish_factor, self.anti_a_plus, self.anti_a_minus
            self._stdp(times, upd, t_upd, np.array([factor]), ltp, ltd)
        elif p.rule == "s4nn":
            self._stdp(times, upd, t_upd, self.lr * self.timing_errors(upd, t_upd, label), 1.0, 0.0)
        else:
            err = self.timing_errors(upd, t_upd, label)
            self._stdp(times, upd, t_upd, err, self.a_plus, self.a_minus)

    def _stdp(
        self,
        times: np.ndarray,
        rows: np.ndarray,
        t_rows: np.ndarray,
        factor: np.ndarray,
        ltp: float,
        ltd: float,
    ) -> None:
        """Additive kernel on ``rows`` (rows with factor 0 are skipped), then the constraints."""
        p = self.params
        keep = factor != 0.0
        rows, factor, t_rows = rows[keep], factor[keep], t_rows[keep]
        s_in = np.minimum(times, MAX_TIME)  # silent inputs at T
        causal = s_in[None, :] <= t_rows[:, None]
        self.weights[rows] += factor[:, None] * np.where(causal, ltp, ltd)

        if p.constrain_all_rows:
            rows = np.arange(p.n_neurons)
        w = np.clip(self.weights[rows], p.w_min, p.w_max)
        if p.w_norm:
            norm = np.abs(w).sum(axis=1)
            scale = np.divide(self.row_sums[rows], norm, out=np.ones_like(norm), where=norm > 0)
            w *= scale[:, None]
        self.weights[rows] = w

    # ---- epochs ---------------------------------------------------------------------------

    def start_epoch(self) -> None:
        """Epoch start: CR-2 resets θ' to θ0; CR-1 keeps θ^tr."""
        if self.params.regulation == "cr2":
            self.theta_train[:] = self.params.theta0

    def end_epoch(self, train_accuracy: float | None = None) -> None:
        """Anneal the rule rates, re-modulate R-STDP, anneal η, then (CR-1) copy θ^tr to θ.

        a+, a-, anti_a+, anti_a- and lr are multiplied by ``annealing`` and η by ``thr_anneal``.
        With ``adaptive_lr`` and a given ``train_accuracy`` (fraction of the epoch's training
        samples decided correctly), m_r = 1 - acc and m_p = acc; without it they are kept.
        """
        p = self.params
        self.a_plus *= p.annealing
        self.a_minus *= p.annealing
        self.anti_a_plus *= p.annealing
        self.anti_a_minus *= p.annealing
        self.lr *= p.annealing
        if p.adaptive_lr and train_accuracy is not None:
            self.reward_factor = 1.0 - float(train_accuracy)
            self.punish_factor = float(train_accuracy)
        self.thr_lr *= p.thr_anneal
        if p.regulation == "cr1":
            self.theta_test = self.theta_train.copy()

    def train_epoch(
        self, times: np.ndarray, labels: np.ndarray, dropped: np.ndarray | None = None
    ) -> float:
        """One epoch in stored order (no shuffle): epoch start, per-sample loop, epoch end.

        Args:
            times: (n, D) input spike times (units of T).
            labels: (n,) class indices.
            dropped: optional (n, N) bool output-dropout masks, one row per sample.

        Returns:
            Training accuracy of the epoch (fraction in [0, 1]).
        """
        n = len(labels)
        if dropped is not None:
            dropped = np.asarray(dropped, dtype=bool)
            if dropped.shape != (n, self.params.n_neurons):
                raise ValueError(f"dropped must have shape ({n}, {self.params.n_neurons})")
        masks = [None] * n if dropped is None else list(dropped)
        self.start_epoch()
        n_correct = sum(
            self.train_sample(x, y, d) for x, y, d in zip(times, labels, masks, strict=True)
        )
        accuracy = n_correct / n
        self.end_epoch(accuracy)
        return accuracy

    def predict(self, times: np.ndarray) -> np.ndarray:
        """(n,) predicted classes in test mode (test thresholds, no dropout, no learning)."""
        pred, _, _ = predict(
            times,
            self.weights,
            self.test_thresholds(),
            self.params.neurons_per_class,
            last_spike_quirk=self.last_spike_quirk,
        )
        return pred

    def evaluate(self, times: np.ndarray, labels: np.ndarray) -> float:
        """Accuracy (fraction in [0, 1]) in test mode (test thresholds, no learning)."""
        return float(np.mean(self.predict(times) == np.asarray(labels)))


def train(
    times_train: np.ndarray,
    y_train: np.ndarray,
    times_val: np.ndarray,
    y_val: np.ndarray,
    times_test: np.ndarray,
    y_test: np.ndarray,
    weights0: np.ndarray,
    params: ReadoutParams,
    max_epochs: int,
    patience: int,
    *,
    row_sums: np.ndarray | None = None,
    last_spike_quirk: bool = False,
    dropout_masks: Callable[[int, int], np.ndarray] | None = None,
) -> TrainingRecord:
    """Full training protocol with early stopping on validation accuracy.

    Per epoch: train over all samples in stored order, anneal, then evaluate validation and test
    accuracy in test mode. Early stopping: best validation accuracy starts at 0, the counter resets
    on a strict improvement, and training stops once ``patience`` epochs in a row did not improve
    (``patience <= 0`` disables it). The final model is kept (the best one is not restored).

    Args:
        times_train, times_val, times_test: (n, D) input spike times (units of T).
        y_train, y_val, y_test: (n,) class indices.
        weights0: (N, D) initial (clipped) weights (weight units).
        params: hyperparameters.
        max_epochs: maximum number of epochs.
        patience: early-stopping patience (epochs).
        row_sums: (N,) normalisation targets S_j; default: row sums of ``weights0``. Pass the
            second output of :func:`initial_weights` to follow the spec exactly.
        last_spike_quirk: see :func:`forward`.
        dropout_masks: called as ``dropout_masks(epoch, n_train)`` (epoch from 0) before each
            epoch; returns that epoch's (n_train, N) bool output-dropout masks. Required when
            ``params.p_drop > 0`` (the oracle never draws masks itself).

    Returns:
        A :class:`TrainingRecord`.
    """
    if params.p_drop > 0.0 and dropout_masks is None:
        raise ValueError("p_drop > 0 needs dropout_masks: the oracle does not draw masks")
    model = ReferenceReadout(params, weights0, row_sums, last_spike_quirk=last_spike_quirk)
    train_acc: list[float] = []
    val_acc: list[float] = []
    test_acc: list[float] = []
    best, counter = 0.0, 0
    for epoch in range(max_epochs):
        masks = None if dropout_masks is None else dropout_masks(epoch, len(y_train))
        train_acc.append(model.train_epoch(times_train, y_train, masks))
        val_acc.append(model.evaluate(times_val, y_val))
        test_acc.append(model.evaluate(times_test, y_test))
        if val_acc[-1] > best:
            best, counter = val_acc[-1], 0
        else:
            counter += 1
        if patience > 0 and counter >= patience:
            break
    return TrainingRecord(
        train_acc=tuple(train_acc),
        val_acc=tuple(val_acc),
        test_acc=tuple(test_acc),
        weights=model.weights.copy(),
        theta_train=model.theta_train.copy(),
        n_epochs=len(train_acc),
        theta_test=model.theta_test.copy(),
    )
