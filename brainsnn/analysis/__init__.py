"""Analysis of saved results (``results.nc``, ``summary.nc``): xarray and NumPy only, no Brian2.

::

    from brainsnn import open_results
    from brainsnn.analysis import accuracy_table, confusion_matrix, win_counts

    run = open_results("results/ncg_digits/<timestamp>")         # a run's results.nc
    confusion_matrix(run)                                       # (true_class, predicted_class)
    win_counts(run).sum("true_class")                           # test samples won per neuron
    print(accuracy_table(open_results("results/ncg_digits/kfold-<time>")).markdown())

Attributes are imported on first use, so ``import brainsnn.analysis`` stays cheap.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "open_results": "loading",
    "combine_runs": "loading",
    "results_file": "loading",
    "Table": "tables",
    "MeanStd": "tables",
    "accuracy_table": "tables",
    "grid_table": "tables",
    "summary_table": "tables",
    "final_values": "tables",
    "confusion_matrix": "readout",
    "winners": "readout",
    "win_counts": "readout",
    "decision_times": "readout",
    "first_spike_distribution": "readout",
    "threshold_summary": "readout",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
