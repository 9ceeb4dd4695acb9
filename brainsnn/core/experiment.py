"""The contract between the core and a protocol kind, and a loaded, resolved experiment."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xarray as xr
from pydantic import BaseModel

from brainsnn.core.protocol import Source
from brainsnn.core.results import VariableSpec


@dataclass(frozen=True)
class Experiment:
    """A protocol as loaded: validated, with its model files read and resolved exactly once.

    ``resolved`` is what the kind worked out from the model files (a
    :class:`~brainsnn.core.modelset.ModelSet` for the Brian2 kinds, the layer models for the
    gradient kind); it is passed down to the engine, which never reads a model file again.
    Attribute access falls through to the validated protocol, so ``experiment.training.epochs``
    reads the protocol.
    """

    protocol: BaseModel
    kind: str
    resolved: Any
    source: Source = field(default_factory=Source)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "protocol":  # copy/pickle probe before __init__
            raise AttributeError(name)
        return getattr(self.protocol, name)

    def model_dump(self) -> dict[str, Any]:
        """The validated protocol as plain data (what protocol.yaml holds)."""
        return self.protocol.model_dump()


@dataclass(frozen=True)
class Kind:
    """One protocol kind (readout, unsupervised, gradient): everything the CLI, the sweeps,
    the schema documentation and the figures need to know about it.

    A kind lives in its own package ``brainsnn/<kind>/`` with a ``kind.py`` that defines
    ``KIND``; :mod:`brainsnn.kinds` lists it in one line.
    """

    name: str
    title: str  # heading of the kind's protocol reference
    description: str  # one line for help texts
    schema: type[BaseModel]  # the protocol schema (its ``kind`` field names this kind)
    #: read and check the model files once: (protocol, source) -> what the engine needs
    resolve: Callable[[BaseModel, Source], Any]
    #: load, check and encode the protocol's data (``brainsnn validate --data``; the run does
    #: the same before it writes anything)
    prepare: Callable[[BaseModel], Any]
    #: run in a directory: (experiment, directory, resume, show_progress) -> results dataset
    run: Callable[[Experiment, Path, bool, bool], xr.Dataset]
    #: lines printed after a run: (experiment, results, directory) -> lines
    report: Callable[[Experiment, xr.Dataset, Path], list[str]]
    #: the line ``brainsnn validate`` prints for a valid protocol
    summary: Callable[[Experiment], str]
    #: last-epoch scores of a finished run, for sweep summaries (accuracies as fractions)
    final_scores: Callable[[xr.Dataset], dict[str, float]]
    #: results.nc variables the kind's engine records (model files add theirs)
    variables: Mapping[str, VariableSpec]
    #: figures of ``brainsnn figures`` that apply to this kind's results
    figures: tuple[str, ...] = ()
    #: ``--set`` overrides that make a run fold i of K, or None when k-fold is not offered
    fold_overrides: Callable[[int, int], tuple[str, ...]] | None = None
    #: why k-fold is not offered (when fold_overrides is None)
    no_kfold_reason: str = ""
    #: let Brian2 check the model code without running (``brainsnn validate``); None: no check
    check: Callable[[Experiment], None] | None = None
    #: the protocol's resolved values for ``brainsnn show`` (default: the protocol as is)
    show: Callable[[Experiment], dict[str, Any]] = field(default=lambda e: e.model_dump())


def model_files_summary(experiment: Experiment) -> str:
    """``valid protocol 'NAME' (N model files)``: the validate line of the Brian2 kinds."""
    return f"valid protocol '{experiment.name}' ({len(experiment.resolved.names)} model files)"


def show_with_parameters(experiment: Experiment) -> dict[str, Any]:
    """The protocol with network.parameters replaced by every resolved model parameter."""
    resolved = experiment.model_dump()
    resolved["network"]["parameters"] = dict(experiment.resolved.parameters)
    return resolved


def fold_and_seed_overrides(k: int, fold: int) -> tuple[str, ...]:
    """The overrides that make a run fold ``fold`` of ``k``, seeded with the fold (SpikeNN)."""
    return (f"data.folds={k}", f"data.fold={fold}", f"seed={fold}")


def deferred(module: str, name: str) -> Callable[..., Any]:
    """``module.name``, imported when first called: a kind's engine (Brian2, JAX) loads only
    when the kind runs, not when the registry lists it."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call
