"""A network's model files, read once: texts, validated files, composed roles, parameter values.

:func:`resolve_models` is the only place that reads a protocol's model files. Everything after
it (the build key, the Brian2 network, the initial state, the results catalog) is derived from
the :class:`ModelSet` it returns, which the loaded experiment carries down.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from brainsnn.core.errors import BrainsnnError, ConfigError
from brainsnn.core.expressions import check_expression
from brainsnn.core.modellib import ComposedGroup, ModelFile, check_roles, compose, find_model_file
from brainsnn.core.protocol import Source
from brainsnn.core.results import VariableSpec
from brainsnn.core.units import check_quantity
from brainsnn.core.yamlfile import load_model, parse_yaml


@dataclass(frozen=True)
class ModelSet:
    """The composed model files of one network (read once, never re-read)."""

    names: tuple[str, ...]  # as the protocol lists them
    texts: tuple[tuple[str, str], ...]  # (name, file text): a change means a rebuild
    files: tuple[ModelFile, ...]
    composed: MappingProxyType  # role -> ComposedGroup
    parameters: MappingProxyType  # parameter -> value in Brian2 base units

    @property
    def key(self) -> str:
        """Short hash of the model texts (part of every build key)."""
        digest = hashlib.sha256(repr(self.texts).encode()).hexdigest()
        return digest[:16]

    def group(self, role: str) -> ComposedGroup:
        """The composed fragments of one role."""
        return self.composed[role]

    def records(self) -> dict[str, VariableSpec]:
        """Result variables the model files declare (``records:``), by result name."""
        return {
            name: record.spec()
            for group in self.composed.values()
            for name, record in group.records.items()
        }

    def record_values(
        self, state_of: Callable[[str, str], np.ndarray | None], sizes: dict[str, int]
    ) -> dict[str, np.ndarray]:
        """The declared records' values at the end of a run, shaped by their dims.

        ``state_of(role, variable)`` returns a persistent state variable (None if it is not
        one: the record then broadcasts the parameter of that name); ``sizes`` gives each
        dimension's length.
        """
        values = {}
        for role, group in self.composed.items():
            for name, record in group.records.items():
                shape = tuple(sizes[dim] for dim in record.dims)
                value = state_of(role, record.variable)
                if value is None:
                    value = np.full(shape, self.parameters[record.variable])
                values[name] = np.asarray(value, dtype=float).reshape(shape) * record.scale
        return values

    def require_variables(
        self, required: dict[str, tuple[str, ...]], kind: str, source: Source
    ) -> None:
        """ConfigError if a role's equations do not parse, or lack a variable the kind reads."""
        for role, names in required.items():
            text = "\n".join(self.composed[role].equations)
            try:
                declared = _declared_names(text)
            except Exception as exc:  # Brian2's parse errors: one line, naming the role
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise ConfigError(
                    f"{source.where('network', 'models')}: network.models: the {role} "
                    f"equations do not parse: {first}"
                ) from None
            missing = [name for name in names if name not in declared]
            if missing:
                raise ConfigError(
                    f"{source.where('network', 'models')}: network.models: the {kind} kind "
                    f"reads {role} variable(s) {', '.join(missing)}, which no model file declares"
                )


def read_model_files(names: list[str], source: Source) -> tuple[tuple, tuple]:
    """((name, text), ...) and the validated files; errors name the network.models entry."""
    texts, files = [], []
    for position, name in enumerate(names):
        try:
            path = find_model_file(name)
            text = path.read_text(encoding="utf-8")
            data, lines = parse_yaml(text, path)
            files.append(load_model(path, ModelFile, data, lines))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"{source.where('network', 'models', position)}: network.models[{position}]: "
                f"cannot read {name}: {exc}"
            ) from None
        except ConfigError as exc:
            where = source.where("network", "models", position)
            raise ConfigError(f"{where}: network.models[{position}]: {exc}") from None
        texts.append((name, text))
    return tuple(texts), tuple(files)


def resolve_parameters(
    composed: dict[str, ComposedGroup], given: dict[str, object], source: Source
) -> dict[str, float]:
    """Model defaults overridden by the protocol, checked for unknown names and units.

    Returns values in Brian2 base units (plain floats).
    """
    specs = {name: spec for group in composed.values() for name, spec in group.parameters.items()}
    for name in given:
        if name not in specs:
            raise ConfigError(
                f"{source.where('network', 'parameters', name)}: network.parameters.{name}: "
                f"unknown parameter; the models define {', '.join(sorted(specs))}"
            )
    values = {}
    for name, spec in specs.items():
        where = source.where("network", "parameters", name)
        try:
            values[name] = check_quantity(given.get(name, spec.value), spec.unit)
        except ValueError as exc:
            raise ConfigError(f"{where}: network.parameters.{name}: {exc}") from None
        low, high = spec.minimum, spec.maximum
        if (low is not None and values[name] < low) or (high is not None and values[name] > high):
            bounds = f"[{'-inf' if low is None else low}, {'inf' if high is None else high}]"
            raise ConfigError(
                f"{where}: network.parameters.{name}: {values[name]:g} is outside {bounds}"
            )
    if values.get("w_min", -np.inf) > values.get("w_max", np.inf):
        raise ConfigError(
            f"{source.where('network', 'parameters')}: network.parameters: w_min "
            f"({values['w_min']:g}) is above w_max ({values['w_max']:g})"
        )
    return values


def resolve_models(
    names: list[str],
    parameters: dict[str, object],
    source: Source,
    roles: tuple[str, ...],
    stages: tuple[str, ...],
    kind: str,
) -> ModelSet:
    """Read, validate and compose a network's model files and resolve its parameter values.

    ``roles`` and ``stages`` are what the kind's engine builds: a model file meant for another
    kind fails here, at load, in one line.
    """
    texts, files = read_model_files(names, source)
    try:
        composed = compose(list(files))
        check_roles(composed, roles, stages, kind)
    except ConfigError as exc:
        raise ConfigError(f"{source.where('network', 'models')}: network.models: {exc}") from None
    values = resolve_parameters(composed, parameters, source)
    _check_records(composed, values, source)
    _check_expressions(composed, source)
    return ModelSet(
        tuple(names), texts, files, MappingProxyType(composed), MappingProxyType(values)
    )


def _check_records(
    composed: dict[str, ComposedGroup], parameters: dict[str, float], source: Source
) -> None:
    """Every record names a persistent variable of its role or a parameter."""
    for role, group in composed.items():
        for name, record in group.records.items():
            if record.variable not in group.persistent and record.variable not in parameters:
                raise ConfigError(
                    f"{source.where('network', 'models')}: network.models: record '{name}' of "
                    f"{role} reads '{record.variable}', which is neither a persistent variable "
                    "of that role nor a parameter"
                )


def _check_expressions(composed: dict[str, ComposedGroup], source: Source) -> None:
    """Every epoch-level expression (initial, epoch_start, epoch_end, delay) stays inside the
    expression language; checked at load, evaluated only between chunks."""
    for role, group in composed.items():
        expressions = [
            *group.initial.values(),
            *group.epoch_start.values(),
            *group.epoch_end.values(),
            *([group.delay] if group.delay else []),
        ]
        for expression in expressions:
            try:
                check_expression(expression)
            except BrainsnnError as exc:
                where = source.where("network", "models")
                raise ConfigError(f"{where}: network.models: {role}: {exc}") from None


@functools.lru_cache(maxsize=256)
def _declared_names(equations: str) -> frozenset[str]:
    """The variables Brian2 parses out of an equations text (cached: protocols share models)."""
    from brian2 import Equations

    return frozenset(Equations(equations).names)
