"""Run the NumPy oracle (:mod:`brainsnn.reference`) on a protocol's data, seed and parameters.

Used by the tests and benchmarks to compare the compiled network with an independent reference:
same split, same initial weights (same seed), same parameters.
"""

from __future__ import annotations

import numpy as np

from brainsnn import reference
from brainsnn.datasets import PreparedData, Split
from brainsnn.protocol import Protocol, load_models, resolve_parameters
from brainsnn.reference import initial_weights


def split_times(split: Split, time_steps: int) -> np.ndarray:
    """Input spike times in units of T (1.0 = silent) of an encoded split, shape (n, D)."""
    return np.where(split.input_steps >= time_steps, 1.0, split.input_steps / time_steps)


def oracle_setup(
    protocol: Protocol, data: PreparedData
) -> tuple[reference.ReadoutParams, np.ndarray, np.ndarray]:
    """Oracle parameters, initial weights (N, D) and row sums, drawn as the engine draws them."""
    p = resolve_parameters(protocol, load_models(protocol))
    network = protocol.network
    n_out = data.n_classes * network.neurons_per_class
    weights, sums = initial_weights(
        n_out, data.n_inputs, network.weights.mean, network.weights.std,
        p["w_min"], p["w_max"], np.random.default_rng(protocol.seed),
    )  # fmt: skip
    params = reference.ReadoutParams(
        data.n_classes, network.neurons_per_class, network.nontarget_per_class,
        p["theta0"], p["gap"], p["a_plus"], p["a_minus"], p["w_min"], p["w_max"],
        bool(p["w_norm"]), p["annealing"], p.get("thr_lr", 0.0), p.get("thr_anneal", 1.0),
    )  # fmt: skip
    return params, weights, sums


def oracle_training(
    protocol: Protocol, data: PreparedData, epochs: int | None = None
) -> reference.TrainingRecord:
    """Train the oracle exactly as the protocol trains brainsnn (same early-stopping rule)."""
    params, weights, sums = oracle_setup(protocol, data)
    steps = data.time_steps
    return reference.train(
        split_times(data.train, steps), data.train.labels,
        split_times(data.validation, steps), data.validation.labels,
        split_times(data.test, steps), data.test.labels,
        weights, params, epochs or protocol.training.max_epochs, protocol.training.patience,
        row_sums=sums,
    )  # fmt: skip
