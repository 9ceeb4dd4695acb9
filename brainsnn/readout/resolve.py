"""Resolve a readout protocol's model files once (what ``brainsnn validate`` checks)."""

from __future__ import annotations

from brainsnn.core.experiment import Experiment
from brainsnn.core.modelset import ModelSet, resolve_models
from brainsnn.core.protocol import Source
from brainsnn.readout.layout import READOUT_REQUIRED_VARIABLES, READOUT_ROLES, READOUT_STAGES
from brainsnn.readout.protocol import Protocol


def resolve_readout(protocol: Protocol, source: Source) -> ModelSet:
    """The protocol's composed model files and parameter values, checked for the readout."""
    models = resolve_models(
        protocol.network.models,
        protocol.network.parameters,
        source,
        READOUT_ROLES,
        READOUT_STAGES,
        "readout",
    )
    required = dict(READOUT_REQUIRED_VARIABLES)
    traces = protocol.recording.traces
    if traces is not None:  # the traced variables must exist too
        required["outputs"] = (*required["outputs"], traces.potential, traces.threshold)
    models.require_variables(required, "readout", source)
    return models


def as_experiment(protocol: Experiment | Protocol) -> Experiment:
    """An experiment as it is, or a protocol validated in code, resolved now."""
    if isinstance(protocol, Experiment):
        return protocol
    source = Source(protocol.name)
    return Experiment(protocol, "readout", resolve_readout(protocol, source), source)
