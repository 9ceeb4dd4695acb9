"""Independent NumPy reference ("oracle") of the NCG first-spike readout.

Single trainable fully-connected layer of single-spike, non-leaky integrate-and-fire neurons with
delta synapses, read out by the first spike and trained with S2-STDP, Neuronal Competition Groups
(intra-class WTA + non-target labelling) and CR-2 two-compartment thresholds. It follows
``/work/shared/specs/ncg.md`` sections 2-7 and is exact and event-driven: no time step.

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

from dataclasses import dataclass

import numpy as np

MAX_TIME = 1.0
"""T, the end of the coding window (dimensionless time unit)."""


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
        w_norm: rescale every updated row to its initial sum S_j after each update.
        annealing: factor applied to a+ and a- at the end of each epoch.
        thr_lr: CR-2 threshold learning rate η (potential units); 0 disables CR-2.
        thr_anneal: factor applied to η at the end of each epoch.
        constrain_all_rows: not in the brief's contract; if True, clip and renormalise *all* rows
            after every update, as SpikeNN does, instead of only the updated rows (default). The
            two differ only when an earlier rescale left a weight above ``w_max``.
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

    def __post_init__(self) -> None:
        if self.n_classes < 1 or self.neurons_per_class < 1:
            raise ValueError("n_classes and neurons_per_class must be >= 1")
        if not 0 <= self.n_nontarget < self.neurons_per_class:
            raise ValueError("n_nontarget must satisfy 0 <= n_nontarget < neurons_per_class")
        if self.w_min > self.w_max:
            raise ValueError("w_min must be <= w_max")

    @property
    def n_neurons(self) -> int:
        """N = C * M, number of output neurons."""
        return self.n_classes * self.neurons_per_class


@dataclass(frozen=True)
class TrainingRecord:
    """Result of :func:`train`.

    Attributes:
        train_acc: training accuracy of each epoch (fraction in [0, 1], decided on the fly with the
            training thresholds, while learning).
        val_acc: validation accuracy after each epoch (test mode).
        test_acc: test accuracy after each epoch (test mode).
        weights: final weights (N, D) (weight units); the best epoch is NOT restored.
        theta_train: final CR-2 training thresholds θ' (N,) (potential units).
        n_epochs: number of epochs run.
    """

    train_acc: tuple[float, ...]
    val_acc: tuple[float, ...]
    test_acc: tuple[float, ...]
    weights: np.ndarray
    theta_train: np.ndarray
    n_epochs: int


# --------------------------------------------------------------------------------------------
# Forward pass and decision
# --------------------------------------------------------------------------------------------


def forward(
    times: np.ndarray,
    weights: np.ndarray,
    thresholds: np.ndarray | float,
    *,
    last_spike_quirk: bool = False,
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
    active = np.ones(n_out, dtype=bool)

    spiking = np.flatnonzero(times < MAX_TIME)
    group_times = np.unique(times[spiking])  # sorted ascending
    for k, tau in enumerate(group_times):
        idx = spiking[times[spiking] == tau]  # ascending input index
        last = k == len(group_times) - 1
        if last and last_spike_quirk:
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


def initial_weights(
    n_out: int,
    n_in: int,
    mean: float,
    std: float,
    w_min: float,
    w_max: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw initial weights ~ Normal(mean, std), record row sums, then clip.

    Args:
        n_out: N, number of output neurons.
        n_in: D, number of inputs.
        mean: mean of the draw (weight units).
        std: standard deviation of the draw (weight units).
        w_min: lower clip (weight units).
        w_max: upper clip (weight units).
        rng: NumPy random generator.

    Returns:
        ``(weights, row_sums)``: (N, D) clipped weights and (N,) normalisation targets
        ``S_j = sum_i w_ji`` of the unclipped draw.
    """
    draw = rng.normal(mean, std, size=(n_out, n_in))
    return np.clip(draw, w_min, w_max), draw.sum(axis=1)


def group_winners(t_out: np.ndarray, v_out: np.ndarray, neurons_per_class: int) -> np.ndarray:
    """Index of the winner of each class group (min of ``(t, -V, index)`` inside the group).

    Args:
        t_out: (N,) output spike times (units of T).
        v_out: (N,) potentials (potential units).
        neurons_per_class: M.

    Returns:
        (C,) neuron indices, one per group, in class order.
    """
    m = neurons_per_class
    n_groups = len(t_out) // m
    return np.array(
        [
            c * m + decide(t_out[c * m : (c + 1) * m], v_out[c * m : (c + 1) * m])
            for c in range(n_groups)
        ],
        dtype=np.int64,
    )


# --------------------------------------------------------------------------------------------
# Learning
# --------------------------------------------------------------------------------------------


class ReferenceReadout:
    """Stateful readout: weights, row sums S_j, CR-2 thresholds θ' and current rates.

    Attributes:
        params: the hyperparameters.
        weights: (N, D) current weights (weight units).
        row_sums: (N,) normalisation targets S_j (weight units).
        theta_train: (N,) CR-2 training thresholds θ' (potential units).
        a_plus: current LTP rate (annealed each epoch).
        a_minus: current LTD rate (annealed each epoch).
        thr_lr: current CR-2 rate η (potential units, annealed each epoch).
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
        self.a_plus = float(params.a_plus)
        self.a_minus = float(params.a_minus)
        self.thr_lr = float(params.thr_lr)
        self.last_spike_quirk = last_spike_quirk

    # ---- layout helpers -------------------------------------------------------------------

    def group_targets(self, label: int) -> np.ndarray:
        """Indices of the TGT-labelled neurons of class ``label`` (the set G of CR-2)."""
        m, n_nt = self.params.neurons_per_class, self.params.n_nontarget
        return np.arange(label * m + n_nt, (label + 1) * m)

    def is_target(self, neurons: np.ndarray, label: int) -> np.ndarray:
        """Boolean mask: neuron is in group ``label`` and TGT-labelled."""
        m, n_nt = self.params.neurons_per_class, self.params.n_nontarget
        neurons = np.asarray(neurons)
        return (neurons // m == label) & (neurons % m >= n_nt)

    def test_thresholds(self) -> np.ndarray:
        """(N,) test thresholds: θ0 for every neuron (potential units)."""
        return np.full(self.params.n_neurons, float(self.params.theta0))

    def training_thresholds(self, label: int) -> np.ndarray:
        """(N,) thresholds of a training sample: θ' for the TGT neurons of ``label``, θ0 else."""
        theta = self.test_thresholds()
        g = self.group_targets(label)
        theta[g] = self.theta_train[g]
        return theta

    # ---- one training sample ----------------------------------------------------------------

    def train_sample(self, times: np.ndarray, label: int) -> bool:
        """Forward (training thresholds), decide, CR-2 update, S2-STDP update.

        Args:
            times: (D,) input spike times (units of T; ``>= 1.0`` = silent).
            label: class index y.

        Returns:
            Whether the winner's class was ``label`` (before learning).
        """
        times = np.asarray(times, dtype=float)
        label = int(label)
        t_out, v_out = forward(
            times,
            self.weights,
            self.training_thresholds(label),
            last_spike_quirk=self.last_spike_quirk,
        )
        correct = decide(t_out, v_out) // self.params.neurons_per_class == label
        self._regulate_thresholds(t_out, v_out, label)
        self._update_weights(times, t_out, v_out, label)
        return bool(correct)

    def _regulate_thresholds(self, t_out: np.ndarray, v_out: np.ndarray, label: int) -> None:
        """CR-2: winner of G gets +η(K-1)/K, the rest of G -η/K, then θ' >= θ0."""
        g = self.group_targets(label)
        k = len(g)
        if self.thr_lr <= 0.0 or k < 2:
            return
        delta = np.full(k, -self.thr_lr / k)
        delta[decide(t_out[g], v_out[g])] = self.thr_lr * (k - 1) / k
        self.theta_train[g] += delta
        np.maximum(self.theta_train, self.params.theta0, out=self.theta_train)

    def _update_weights(
        self, times: np.ndarray, t_out: np.ndarray, v_out: np.ndarray, label: int
    ) -> None:
        """S2-STDP on the updated set U (group winners), then clip and renormalise."""
        p = self.params
        n_cls = p.n_classes
        # U: the winner of each group (with M == 1 this is every neuron, i.e. "no WTA").
        upd = group_winners(t_out, v_out, p.neurons_per_class)
        t_upd = t_out[upd]
        g_t = p.gap * (n_cls - 1) / n_cls  # target gap
        g_nt = p.gap / n_cls  # non-target gap
        fired = t_upd < MAX_TIME
        t_base = MAX_TIME - g_nt
        if fired.any():
            t_base = min(float(t_upd[fired].mean()), t_base)
        t_star = np.where(self.is_target(upd, label), t_base - g_t, t_base + g_nt)
        err = (t_upd - t_star) / MAX_TIME
        keep = err != 0.0
        rows, err, t_rows = upd[keep], err[keep], t_upd[keep]

        s_in = np.minimum(times, MAX_TIME)  # silent inputs at T
        causal = s_in[None, :] <= t_rows[:, None]
        self.weights[rows] += err[:, None] * np.where(causal, self.a_plus, self.a_minus)

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
        """CR-2 epoch start: reset θ' to θ0."""
        self.theta_train[:] = self.params.theta0

    def end_epoch(self) -> None:
        """Anneal a+ and a- (x annealing) and η (x thr_anneal)."""
        self.a_plus *= self.params.annealing
        self.a_minus *= self.params.annealing
        self.thr_lr *= self.params.thr_anneal

    def train_epoch(self, times: np.ndarray, labels: np.ndarray) -> float:
        """One epoch in stored order (no shuffle): reset θ', per-sample loop, anneal.

        Args:
            times: (n, D) input spike times (units of T).
            labels: (n,) class indices.

        Returns:
            Training accuracy of the epoch (fraction in [0, 1]).
        """
        self.start_epoch()
        n_correct = sum(self.train_sample(x, y) for x, y in zip(times, labels, strict=True))
        self.end_epoch()
        return n_correct / len(labels)

    def predict(self, times: np.ndarray) -> np.ndarray:
        """(n,) predicted classes in test mode (θ0 everywhere, no learning)."""
        pred, _, _ = predict(
            times,
            self.weights,
            self.test_thresholds(),
            self.params.neurons_per_class,
            last_spike_quirk=self.last_spike_quirk,
        )
        return pred

    def evaluate(self, times: np.ndarray, labels: np.ndarray) -> float:
        """Accuracy (fraction in [0, 1]) in test mode (θ0 everywhere, no learning)."""
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

    Returns:
        A :class:`TrainingRecord`.
    """
    model = ReferenceReadout(params, weights0, row_sums, last_spike_quirk=last_spike_quirk)
    train_acc: list[float] = []
    val_acc: list[float] = []
    test_acc: list[float] = []
    best, counter = 0.0, 0
    for _ in range(max_epochs):
        train_acc.append(model.train_epoch(times_train, y_train))
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
    )
