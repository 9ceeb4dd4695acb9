"""Publication figures drawn from saved results (``results.nc``) only; never imports Brian2.

``brainsnn figures RUN_DIR --out DIR`` draws every figure a run's dataset supports; in Python::

    import xarray as xr
    from brainsnn.figures import save, weight_images

    ds = xr.load_dataset("results/run/results.nc")
    save(weight_images(ds), "figures", "run_weights")

Attributes are imported on first use, so ``import brainsnn.figures`` (done by the CLI) stays cheap.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "weight_images": "unsupervised",
    "membrane_trace": "unsupervised",
    "class_response_bars": "unsupervised",
    "assignment_summary": "unsupervised",
    "test_accuracy_table": "unsupervised",
    "learning_curves": "readout",
    "confusion_heatmap": "readout",
    "first_spike_raster": "readout",
    "first_spike_times": "readout",
    "neuron_thresholds": "readout",
    "neuron_wins": "readout",
    "competition_over_training": "readout",
    "accuracy_over_time": "gradient",
    "training_curves": "gradient",
    "layer_activity": "gradient",
    "FIGURES": "registry",
    "FigureSpec": "registry",
    "available": "registry",
    "SINGLE_COLUMN": "style",
    "DOUBLE_COLUMN": "style",
    "OKABE_ITO": "style",
    "STYLE_PATH": "style",
    "new_figure": "style",
    "save": "style",
    "styled": "style",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
