"""Run the NumPy oracle (:mod:`brainsnn.readout.reference`) on an experiment's data and seed.

Used by the tests and benchmarks to compare the compiled network with an independent reference:
same split, same initial weights (same seed), same parameters, same dropout masks. The rule and
regulation are read off the protocol's model files.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from brainsnn.core.experiment import Experiment
from brainsnn.readout import reference
from brainsnn.readout.data import PreparedData, Split
from brainsnn.readout.training import epoch_sample_masks
from brainsnn.readout.weights import initial_weights

RULES = {"rules/rstdp": "rstdp", "rules/s4nn": "s4nn", "rules/time_ranges": "sstdp"}
OPTIONAL = ("thr_lr", "thr_anneal", "anti_a_plus", "anti_a_minus", "adaptive_lr", "lr", "p_drop",
            "dropped_can_win", "gap", "w_norm", "time_ranges")  # fmt: skip


def split_times(split: Split, time_steps: int) -> np.ndarray:
    """Input spike times in units of T (1.0 = silent) of an encoded split, shape (n, D)."""
    return split.times(time_steps)


def oracle_params(protocol: Experiment, n_classes: int) -> reference.ReadoutParams:
    """The oracle's parameters for a protocol: rule, regulation and values from its models."""
    p = protocol.resolved.parameters
    models = protocol.network.models
    rule = next((RULES[name] for name in models if name in RULES), "s2stdp")
    optional = {name: p[name] for name in OPTIONAL if name in p}
    for flag in ("adaptive_lr", "dropped_can_win", "w_norm", "time_ranges"):
        if flag in optional:
            optional[flag] = bool(optional[flag])
    network = protocol.network
    return reference.ReadoutParams(
        n_classes=n_classes, neurons_per_class=network.neurons_per_class,
        n_nontarget=network.nontarget_per_class, theta0=p["theta0"],
        a_plus=p.get("a_plus", 0.0), a_minus=p.get("a_minus", 0.0),
        w_min=p.get("w_min", 0.0), w_max=p.get("w_max", 1.0), annealing=p.get("annealing", 0.98),
        rule=rule, regulation="cr1" if "regulation/cr1" in models else "cr2",
        **{"gap": 0.0, "w_norm": False, **optional},
    )  # fmt: skip


def oracle_setup(
    protocol: Experiment, data: PreparedData
) -> tuple[reference.ReadoutParams, np.ndarray, np.ndarray]:
    """Oracle parameters, initial weights (N, D) and row sums, drawn as the engine draws them."""
    params = oracle_params(protocol, data.n_classes)
    network = protocol.network
    weights, sums = initial_weights(
        params.n_neurons, data.n_inputs, network.weights.mean, network.weights.std,
        params.w_min, params.w_max, np.random.default_rng(protocol.seed),
    )  # fmt: skip
    return params, weights, sums


def dropout_masks(
    protocol: Experiment, params: reference.ReadoutParams, chunk_size: int
) -> Callable[[int, int], np.ndarray] | None:
    """The engine's dropout masks, epoch by epoch, for the oracle (None without dropout)."""
    if params.p_drop <= 0:
        return None

    def masks(epoch: int, n_samples: int) -> np.ndarray:
        return epoch_sample_masks(
            protocol.seed, epoch, n_samples, chunk_size, params.n_neurons, params.p_drop
        )

    return masks


def oracle_training(
    protocol: Experiment, data: PreparedData, epochs: int | None = None, chunk_size: int = 0
) -> reference.TrainingRecord:
    """Train the oracle exactly as the protocol trains brainsnn (same early-stopping rule).

    ``chunk_size`` is the engine's (needed only to reproduce its dropout masks).
    """
    params, weights, sums = oracle_setup(protocol, data)
    steps = data.time_steps
    return reference.train(
        split_times(data.train, steps), data.train.labels,
        split_times(data.validation, steps), data.validation.labels,
        split_times(data.test, steps), data.test.labels,
        weights, params, epochs or protocol.training.max_epochs, protocol.training.patience,
        row_sums=sums, dropout_masks=dropout_masks(protocol, params, chunk_size),
    )  # fmt: skip
