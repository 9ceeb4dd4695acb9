"""Exact discrete-step NumPy reference ("oracle") of the hardware-efficient WTA-STDP network.

The network of ``/work/shared/specs/unsupervised_stdp.md`` section A (Shikhargupta's
"hardware-efficient SNN"): N output neurons, fully connected to D inputs with weights W (N, D),
simplified LIF neurons with a constant leak applied only above rest, a refractory freeze, a one-shot
winner-take-all per image, a windowed pair STDP and a "silent input" depression of the winner.

The semantics are the fixed contract against which the Brian2 implementation is tested; they follow
the spec's mechanism with these explicit choices:

* Time is an integer step t = 1..T (1 step = 1 "time unit", nominally 5 ms in the original code).
  Column ``t - 1`` of an input train holds step t.
* Potentials, weights and thresholds share one arbitrary potential unit: one input spike adds its
  weight to the potential of every non-refractory output neuron.
* STDP pairs are nearest-neighbour: LTP at a post spike uses only the *last* pre spike of each input
  in the current image (which may be the same step, s = 0, hence excluded); LTD at a pre spike uses
  only the last post spike of each neuron in the current image. Pairs are never carried across
  images.
* LTD is applied at the pre spike, before that spike is integrated, for every neuron (refractory or
  not). ``bug_compatible_ltd`` keeps the original soft bound ``(w - |w_min|)``, which *raises*
  weights below ``|w_min|``; the default uses the correct ``(w - w_min)``.
* The WTA test is strict (``P > theta``) but the spike test is not (``P >= theta``): a neuron that
  lands exactly on the threshold spikes without triggering the inhibition.

Per step t the order is: (1) pre spikes and LTD, (2) integration and leak, (3) one-shot WTA,
(4) spikes (reset, refractory, LTP) or the floor at ``p_min``; after step T, (5) the silent-input
depression of the winner. Only the weights carry over between images.

The code favours clarity (it is a test oracle): it loops over images and steps and vectorises over
inputs and neurons inside a step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ImageResult", "WTAParameters", "simulate", "simulate_image"]


@dataclass(frozen=True)
class WTAParameters:
    """Constants of the WTA-STDP network (defaults: spec A, ``training/`` folder).

    Time is in integer steps, potentials and weights in one arbitrary potential unit.

    Attributes:
        leak: D, constant leak subtracted per step while P > p_rest (potential units per step).
        t_ref: refractory period (steps); a neuron spiking at t is frozen for steps t+1..t+t_ref.
        p_rest: resting / reset potential (potential units).
        p_min: inhibition value given to the WTA losers, and the floor below which P is reset
            to p_rest (potential units).
        a_ltp: LTP amplitude A (dimensionless), applied as a_ltp * exp(-s / tau_ltp).
        tau_ltp: LTP time constant (steps).
        a_ltd: LTD amplitude (dimensionless), applied as a_ltd * exp(-s / tau_ltd).
        tau_ltd: LTD time constant (steps).
        window_min: smallest |t_post - t_pre| (steps) that counts as a pair (inclusive).
        window_max: largest |t_post - t_pre| (steps) that counts as a pair (inclusive).
        sigma: learning rate (dimensionless).
        w_min: lower weight bound (potential units).
        w_max: upper weight bound (potential units).
        silent_depression: amount subtracted after an image from the winner's weights of inputs
            that never spiked in that image (potential units).
        bug_compatible_ltd: if True, the LTD soft bound is (w - |w_min|) as in the original code
            (it potentiates weights below |w_min|); if False, (w - w_min).
    """

    leak: float = 0.15
    t_ref: int = 30
    p_rest: float = 0.0
    p_min: float = -500.0
    a_ltp: float = 0.3
    tau_ltp: float = 5.0
    a_ltd: float = 0.8
    tau_ltd: float = 8.0
    window_min: int = 2
    window_max: int = 20
    sigma: float = 0.1
    w_min: float = -1.2
    w_max: float = 1.5
    silent_depression: float = 0.06
    bug_compatible_ltd: bool = False


@dataclass
class ImageResult:
    """Outcome of one image.

    Attributes:
        counts: (N,) int, number of output spikes of each neuron during the image.
        winner: index of the WTA winner, or -1 if no neuron ever exceeded the threshold.
        potential: (N, T) float64, P after step 4 of each step t (column t - 1), or None when not
            recorded (potential units).
        spike_steps: output spikes as (t, j) pairs, t in 1..T, in order of t then j.
    """

    counts: np.ndarray
    winner: int
    potential: np.ndarray | None
    spike_steps: list[tuple[int, int]]


def _check_weights(W: np.ndarray) -> None:
    if not isinstance(W, np.ndarray) or W.ndim != 2 or W.dtype != np.float64:
        raise TypeError("W must be a 2-D float64 NumPy array of shape (N, D) (updated in place)")


def _check_trains(trains: np.ndarray, n_inputs: int, ndim: int) -> None:
    if not isinstance(trains, np.ndarray) or trains.dtype != np.bool_ or trains.ndim != ndim:
        raise TypeError(f"trains must be a {ndim}-D bool NumPy array")
    if trains.shape[-2] != n_inputs:
        raise ValueError(
            f"trains have {trains.shape[-2]} inputs but W has {n_inputs} columns (inputs)"
        )


def simulate_image(
    W: np.ndarray,
    trains: np.ndarray,
    theta: float,
    params: WTAParameters,
    learning: bool = True,
    record_potential: bool = False,
) -> ImageResult:
    """Simulate one image, updating ``W`` in place when ``learning`` is True.

    Args:
        W: (N, D) float64 weights (potential units), modified in place by the STDP rules.
        trains: (D, T) bool; ``trains[i, t - 1]`` is True iff input i spikes at step t.
        theta: the image's firing threshold (potential units).
        params: network constants.
        learning: apply LTD, LTP and the silent-input depression; the dynamics (WTA included) are
            the same either way.
        record_potential: also return the (N, T) potential trace.

    Returns:
        The image's spike counts, winner, optional potential trace and spike list.
    """
    _check_weights(W)
    _check_trains(trains, W.shape[1], ndim=2)
    p = params
    theta = float(theta)
    n_out = W.shape[0]
    n_steps = trains.shape[1]

    pot = np.full(n_out, p.p_rest, dtype=np.float64)  # P_j (potential units)
    t_rest = np.zeros(n_out, dtype=np.int64)
    last_post = np.full(n_out, -np.inf)
    last_pre = np.full(W.shape[1], -np.inf)
    flag = False
    winner = -1
    counts = np.zeros(n_out, dtype=np.int64)
    spike_steps: list[tuple[int, int]] = []
    trace = np.empty((n_out, n_steps), dtype=np.float64) if record_potential else None
    ltd_shift = abs(p.w_min) if p.bug_compatible_ltd else p.w_min

    for t in range(1, n_steps + 1):
        pre = trains[:, t - 1]

        # 1. Pre spikes, then LTD against each neuron's last post spike (all neurons).
        last_pre[pre] = t
        if learning and pre.any():
            s = t - last_post
            rows = (s >= p.window_min) & (s <= p.window_max)
            if rows.any():
                delta = p.a_ltd * np.exp(-s[rows] / p.tau_ltd)  # (n_rows,)
                block = W[np.ix_(rows, pre)]
                block = block - p.sigma * delta[:, None] * (block - ltd_shift)
                W[np.ix_(rows, pre)] = np.clip(block, p.w_min, p.w_max)

        # 2. Integration and leak of the non-refractory neurons; refractory ones are frozen.
        active = t > t_rest
        if pre.any():
            pot[active] += W[np.ix_(active, pre)].sum(axis=1)
        pot[active & (pot > p.p_rest)] -= p.leak

        # 3. One-shot winner-take-all.
        if not flag:
            candidates = active & (pot > theta)
            if candidates.any():
                winner = int(np.argmax(np.where(candidates, pot, -np.inf)))  # ties: lowest index
                others = np.arange(n_out) != winner
                pot[others] = p.p_min
                flag = True

        # 4. Spikes (reset, refractory, LTP) or the floor, for the non-refractory neurons.
        fired = active & (pot >= theta)
        floored = active & ~fired & (pot < p.p_min)
        pot[floored] = p.p_rest
        if fired.any():
            pot[fired] = p.p_rest
            t_rest[fired] = t + p.t_ref
            last_post[fired] = t
            counts[fired] += 1
            spike_steps.extend((t, int(j)) for j in np.flatnonzero(fired))
            if learning:
                s = t - last_pre
                cols = (s >= p.window_min) & (s <= p.window_max)
                if cols.any():
                    delta = p.a_ltp * np.exp(-s[cols] / p.tau_ltp)  # (n_cols,)
                    block = W[np.ix_(fired, cols)]
                    block = block + p.sigma * delta[None, :] * (p.w_max - block)
                    W[np.ix_(fired, cols)] = np.clip(block, p.w_min, p.w_max)

        if trace is not None:
            trace[:, t - 1] = pot

    # 5. Silent-input depression of the winner.
    if learning and flag:
        silent = ~trains.any(axis=1)
        W[winner, silent] = np.maximum(W[winner, silent] - p.silent_depression, p.w_min)

    return ImageResult(counts=counts, winner=winner, potential=trace, spike_steps=spike_steps)


def simulate(
    W: np.ndarray,
    trains_per_image: np.ndarray,
    thetas: np.ndarray,
    params: WTAParameters,
    learning: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Simulate images one after another; only ``W`` (updated in place) carries over.

    Args:
        W: (N, D) float64 weights (potential units), modified in place when learning.
        trains_per_image: (n, D, T) bool input trains, one (D, T) block per image.
        thetas: (n,) threshold of each image (potential units).
        params: network constants.
        learning: apply the plasticity rules.

    Returns:
        ``(counts, winners)``: (n, N) int64 spike counts and (n,) int64 winners (-1: none).
    """
    _check_weights(W)
    _check_trains(trains_per_image, W.shape[1], ndim=3)
    thetas = np.asarray(thetas, dtype=np.float64)
    n_images = trains_per_image.shape[0]
    if thetas.shape != (n_images,):
        raise ValueError(f"thetas must have shape ({n_images},), got {thetas.shape}")
    counts = np.zeros((n_images, W.shape[0]), dtype=np.int64)
    winners = np.full(n_images, -1, dtype=np.int64)
    for k in range(n_images):
        result = simulate_image(W, trains_per_image[k], thetas[k], params, learning=learning)
        counts[k] = result.counts
        winners[k] = result.winner
    return counts, winners
