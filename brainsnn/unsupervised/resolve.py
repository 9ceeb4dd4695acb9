"""Resolve an unsupervised protocol's model files once (what ``brainsnn validate`` checks)."""

from __future__ import annotations

from brainsnn.core.errors import ConfigError
from brainsnn.core.modelset import ModelSet, resolve_models
from brainsnn.core.protocol import Source
from brainsnn.unsupervised.layout import UNSUPERVISED_ROLES, UNSUPERVISED_STAGES
from brainsnn.unsupervised.protocol import UnsupervisedProtocol

#: Variables the engine reads from the model files' equations, by role.
REQUIRED_VARIABLES = {"outputs": ("v",)}


def resolve_unsupervised(protocol: UnsupervisedProtocol, source: Source) -> ModelSet:
    """The protocol's composed model files and parameter values, checked for this engine."""
    models = resolve_models(
        protocol.network.models,
        protocol.network.parameters,
        source,
        UNSUPERVISED_ROLES,
        UNSUPERVISED_STAGES,
        "unsupervised",
    )
    for role, group in models.composed.items():
        if group.epoch_start or group.epoch_end or group.sample_masks:
            raise ConfigError(
                f"{source.where('network', 'models')}: network.models: {role}: epoch_start, "
                "epoch_end and sample_masks are readout-kind keys"
            )
    required = dict(REQUIRED_VARIABLES)
    traces = protocol.recording.traces
    if traces is not None:  # the traced variables must exist too
        required["outputs"] = (*required["outputs"], traces.potential, traces.threshold)
    models.require_variables(required, "unsupervised", source)
    return models
