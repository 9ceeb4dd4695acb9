"""Resolve a gradient protocol's layer models once (what ``brainsnn validate`` checks)."""

from __future__ import annotations

import numpy as np

from brainsnn.core.errors import BrainsnnError, ConfigError
from brainsnn.core.protocol import Source
from brainsnn.gradient.modelfile import NeuronModel, initial_parameter, load_neuron
from brainsnn.gradient.protocol import GradientProtocol


def resolve_layers(protocol: GradientProtocol, source: Source) -> tuple[NeuronModel, ...]:
    """Every layer's neuron model (hidden layers, then the readout), read once; parameter
    overrides the model does not define are rejected."""
    layers = [("hidden", i, s) for i, s in enumerate(protocol.network.hidden)]
    layers.append(("readout", None, protocol.network.readout))
    models = []
    for group, position, section in layers:
        keys = ("network", group) if position is None else ("network", group, position)
        where = source.where(*keys)
        key = "network." + group + ("" if position is None else f"[{position}]")
        try:
            model = load_neuron(section.neuron, section.firing)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {key}.neuron: {exc}") from None
        unknown = set(section.parameters) - set(model.spec.parameters)
        if unknown:
            raise ConfigError(
                f"{where}: {key}.parameters: unknown {sorted(unknown)}; {section.neuron} defines "
                f"{', '.join(sorted(model.spec.parameters)) or 'no parameters'}"
            )
        for name, value in section.parameters.items():
            try:  # a number, an expression of numbers or uniform(low, high)
                initial_parameter(value, 1, np.random.default_rng(0))
            except (BrainsnnError, TypeError, ValueError) as exc:
                raise ConfigError(f"{where}: {key}.parameters.{name}: {exc}") from None
        models.append(model)
    return tuple(models)
