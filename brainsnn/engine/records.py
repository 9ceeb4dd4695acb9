"""Per-sample records of chunked networks: EventMonitor rows as (sample, neuron) tables."""

from __future__ import annotations

import brian2 as b2
import numpy as np

from brainsnn.core.errors import BrainsnnError


def per_sample(
    monitor: b2.EventMonitor, variable: str, steps_per_sample: int, n_valid: int, width: int
) -> np.ndarray:
    """Reshape an EventMonitor's records into (n_valid, width), ordered by sample then neuron.

    Records are taken once per sample (a ``record`` event); ``steps_per_sample`` is the length
    of one sample window in time steps.
    """
    steps = np.round(np.asarray(monitor.t_[:]) / float(monitor.clock.dt_)).astype(np.int64)
    sample = steps // steps_per_sample
    neuron = np.asarray(monitor.i[:])
    values = np.asarray(getattr(monitor, variable)[:], dtype=float)
    order = np.lexsort((neuron, sample))
    table = values[order].reshape(-1, width)
    if table.shape[0] < n_valid:
        raise BrainsnnError(f"internal error: {table.shape[0]} records for {n_valid} samples")
    return table[:n_valid]
