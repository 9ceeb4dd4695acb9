"""The model library: YAML files of Brian2 code fragments, validated and composed into one network.

A network has fixed roles (see ``models/README.md``): ``inputs``, ``outputs``, ``layer`` and (for
the unsupervised networks) ``inhibitory`` neuron groups, and ``feedforward`` (inputs→outputs),
``lateral`` (outputs→outputs), ``report_link`` (outputs→layer), ``to_inhibitory``
(outputs→inhibitory, one to one) and ``from_inhibitory`` (inhibitory→all other outputs) synapses.
Each model file contributes Brian2 fragments to some of these roles: equations, parameters,
threshold/reset, code to run at a per-sample *stage* (an event), and code for the synaptic
pathway that a stage event triggers. Fragments of several files are
concatenated in the order the protocol lists the models; conditions of the same stage are AND-ed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from brainsnn.core.errors import ConfigError
from brainsnn.core.results import VariableSpec
from brainsnn.core.yamlfile import is_file, load_model

#: Per-sample stages, in the order they happen after the sample's input window; the readout
#: engine uses the first seven, the unsupervised engine sample_start, the per-step stages
#: (integrate, contest, win, inhibit: every step, after the synapses) and assess/learn/normalise.
Stage = Literal[
    "sample_start",
    "compete",
    "report",
    "regulate",
    "error",
    "learn",
    "normalise",
    "integrate",
    "contest",
    "win",
    "inhibit",
    "assess",
]
STAGES: tuple[str, ...] = Stage.__args__
NEURON_ROLES = ("inputs", "outputs", "layer", "inhibitory")
SYNAPSE_ROLES = ("feedforward", "lateral", "report_link", "to_inhibitory", "from_inhibitory")
ROLES = NEURON_ROLES + SYNAPSE_ROLES
MODEL_DIR = Path(__file__).resolve().parents[2] / "models"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ParameterSpec(_Strict):
    """A tunable parameter: a shared variable of its group, set between chunks (no recompile)."""

    value: float | str = Field(description="default value; a string may carry a Brian2 unit")
    unit: str = Field("1", description="Brian2 unit the value must have ('1' = dimensionless)")
    description: str
    minimum: float | None = Field(None, description="smallest allowed value (base units)")
    maximum: float | None = Field(None, description="largest allowed value (base units)")


class RecordSpec(_Strict):
    """A results.nc variable the model file produces: one of its role's persistent state
    variables (or a parameter, broadcast) at the end of the run."""

    variable: str = Field(description="persistent state variable of the role, or a parameter")
    dims: tuple[str, ...] = Field(description="dimensions, e.g. [output_neuron, input]")
    units: str = Field(description="units of the stored values (after scale)")
    long_name: str = Field(description="what the variable is, one line")
    scale: float = Field(1.0, description="factor from Brian2 base units to units (volt→mV: 1000)")

    def spec(self) -> VariableSpec:
        """The declaration of the results variable."""
        return VariableSpec(tuple(self.dims), self.units, self.long_name)


class StageEvent(_Strict):
    """Code a neuron group runs at one per-sample stage, for the neurons meeting the condition."""

    condition: str | None = None
    code: str | None = None


class GroupFragment(_Strict):
    """What one model file adds to one role of the network."""

    equations: str = ""
    method: str | None = Field(
        None, description="Brian2 integration method for differential equations"
    )
    parameters: dict[str, ParameterSpec] = {}
    threshold: str | None = None
    spike_steps: Literal["input_steps"] | None = Field(
        None,
        description="inputs of the readout engine, instead of a threshold: each input fires "
        "once per sample at the grid step the engine's input_steps data gives it (none when "
        "silent), emitted from a per-chunk spike list sorted by time, so a step costs its "
        "spikes rather than a test of every input",
    )
    reset: str | None = None
    refractory: str | None = Field(
        None, description="Brian2 refractoriness (a time or a condition) of a neuron group"
    )
    spike_schedule: Literal["thresholds", "after_synapses"] | None = Field(
        None,
        description="when spikes are detected: Brian2's default slot, or after the synapses "
        "and the per-step stages (an input makes the neuron fire in the same step)",
    )
    on_pre: str | None = None
    on_post: str | None = Field(
        None, description="synapse code run at each postsynaptic spike (unsupervised engine)"
    )
    delay: str | None = Field(
        None,
        description="NumPy expression for the per-synapse delays in seconds (names: rng, n); "
        "drawn once from the protocol seed (unsupervised engine)",
    )
    events: dict[Stage, StageEvent] = {}
    pathways: dict[Stage, str] = {}
    sample_masks: str | None = Field(
        None,
        description="name of a parameter p: the engine hands in per-sample, per-neuron "
        "Bernoulli(p) masks for training samples as the TimedArray sample_masks(t, i) (outputs)",
    )
    persistent: list[str] = Field(
        default_factory=list, description="state carried from one chunk of samples to the next"
    )
    initial: dict[str, str] = Field(
        default_factory=dict, description="initial value expression of persistent variables"
    )
    chunk_start: dict[str, str] = Field(
        default_factory=dict,
        description="value of a non-persistent variable at the start of every chunk (a Brian2 "
        "expression of constants, e.g. '-1e6 * second'); Brian2 starts them at 0 otherwise",
    )
    epoch_start: dict[str, str] = Field(
        default_factory=dict, description="state reset at each epoch start (expressions)"
    )
    epoch_end: dict[str, str] = Field(
        default_factory=dict, description="parameter updates after each epoch (expressions)"
    )
    records: dict[str, RecordSpec] = Field(
        default_factory=dict,
        description="results.nc variables produced from this role's state (name -> declaration); "
        "a later model's record of the same name replaces an earlier one's",
    )


class ModelFile(_Strict):
    """A model file of ``models/``: neuron, input coding, synapse, rule, competition, regulation."""

    name: str
    kind: Literal[
        "input", "neuron", "synapse", "decision", "competition", "rule", "regulation", "threshold"
    ]
    description: str
    reference: str = ""
    requires: list[str] = []
    inputs: GroupFragment | None = None
    outputs: GroupFragment | None = None
    layer: GroupFragment | None = None
    feedforward: GroupFragment | None = None
    lateral: GroupFragment | None = None
    report_link: GroupFragment | None = None
    inhibitory: GroupFragment | None = None
    to_inhibitory: GroupFragment | None = None
    from_inhibitory: GroupFragment | None = None

    @model_validator(mode="after")
    def _fragments_fit_their_roles(self) -> ModelFile:
        for role in NEURON_ROLES:
            fragment = getattr(self, role)
            if fragment is not None and (
                fragment.pathways or fragment.on_pre or fragment.on_post or fragment.delay
            ):
                raise ValueError(
                    f"{role}: neuron groups take 'events', not synapse keys "
                    "('pathways', 'on_pre', 'on_post', 'delay')"
                )
        for role in SYNAPSE_ROLES:
            fragment = getattr(self, role)
            if fragment is not None and (
                fragment.events
                or fragment.threshold
                or fragment.spike_steps
                or fragment.reset
                or fragment.refractory
                or fragment.spike_schedule
            ):
                raise ValueError(
                    f"{role}: synapses take 'pathways'/'on_pre', not 'events'/'threshold'/'reset'"
                )
        for role in NEURON_ROLES:
            fragment = getattr(self, role)
            if role != "inputs" and fragment is not None and fragment.spike_steps:
                raise ValueError(f"{role}: only the inputs take 'spike_steps'")
        return self


def find_model_file(name: str, search_dirs: list[Path] | None = None) -> Path:
    """Resolve a model name (``rules/s2stdp``) or path to a file; ConfigError if it is missing."""
    candidate = Path(name)
    if candidate.suffix in (".yaml", ".yml") and is_file(candidate):
        return candidate
    for directory in [*(search_dirs or []), MODEL_DIR]:
        path = directory / f"{name}.yaml"
        if is_file(path):
            return path
    looked = ", ".join(str(d) for d in [*(search_dirs or []), MODEL_DIR])
    raise ConfigError(f"model file '{name}' not found (looked for {name}.yaml in {looked})")


def load_model_file(name: str, search_dirs: list[Path] | None = None) -> ModelFile:
    """Load and validate one model file by name or path."""
    return load_model(find_model_file(name, search_dirs), ModelFile)


@dataclass
class ComposedGroup:
    """All fragments for one role, merged in model order."""

    equations: list[str] = field(default_factory=list)
    method: str | None = None
    parameters: dict[str, ParameterSpec] = field(default_factory=dict)
    threshold: str | None = None
    spike_steps: str | None = None
    reset: list[str] = field(default_factory=list)
    refractory: str | None = None
    spike_schedule: str | None = None
    on_pre: list[str] = field(default_factory=list)
    on_post: list[str] = field(default_factory=list)
    delay: str | None = None
    conditions: dict[str, list[str]] = field(default_factory=dict)
    codes: dict[str, list[str]] = field(default_factory=dict)
    pathways: dict[str, list[str]] = field(default_factory=dict)
    sample_masks: str | None = None
    persistent: list[str] = field(default_factory=list)
    initial: dict[str, str] = field(default_factory=dict)
    chunk_start: dict[str, str] = field(default_factory=dict)
    epoch_start: dict[str, str] = field(default_factory=dict)
    epoch_end: dict[str, str] = field(default_factory=dict)
    records: dict[str, RecordSpec] = field(default_factory=dict)

    def stage_condition(self, stage: str) -> str | None:
        """The AND of all fragments' conditions for a stage (None if no fragment sets one)."""
        parts = self.conditions.get(stage, [])
        return " and ".join(f"({part})" for part in parts) if parts else None

    def stages(self) -> list[str]:
        """Stages at which this group has code, a condition or a pathway, in schedule order."""
        used = set(self.codes) | set(self.conditions) | set(self.pathways)
        return [stage for stage in STAGES if stage in used]

    def is_empty(self) -> bool:
        """True if no model contributes anything to this role."""
        return not (
            any(self.equations)
            or self.parameters
            or self.threshold
            or self.on_pre
            or self.on_post
            or self.stages()
            or self.persistent
        )


def check_roles(
    composed: dict[str, ComposedGroup], roles: tuple[str, ...], stages: tuple[str, ...], engine: str
) -> None:
    """ConfigError if models use a role or stage that this engine does not build."""
    for role, group in composed.items():
        if role not in roles and not group.is_empty():
            raise ConfigError(f"the {engine} engine has no '{role}' population or projection")
        unknown = [stage for stage in group.stages() if stage not in stages]
        if unknown:
            raise ConfigError(
                f"{role}: stage(s) {unknown} are not part of the {engine} engine's schedule"
            )


def _merge(
    target: ComposedGroup, fragment: GroupFragment, where: str, names: dict[str, str]
) -> None:
    target.equations.append(fragment.equations)
    target.method = fragment.method or target.method
    for pname, spec in fragment.parameters.items():
        if pname in names:
            raise ConfigError(f"{where}: parameter '{pname}' is already defined by {names[pname]}")
        names[pname] = where
        target.parameters[pname] = spec
    if fragment.threshold is not None:
        if target.threshold is not None:
            raise ConfigError(f"{where}: a second model sets the threshold of this group")
        target.threshold = fragment.threshold
    target.reset += [fragment.reset] if fragment.reset else []
    target.on_pre += [fragment.on_pre] if fragment.on_pre else []
    target.on_post += [fragment.on_post] if fragment.on_post else []
    for attribute in ("refractory", "spike_schedule", "delay", "spike_steps"):
        value = getattr(fragment, attribute)
        if value is not None:
            if getattr(target, attribute) not in (None, value):
                raise ConfigError(f"{where}: a second model sets '{attribute}' of this group")
            setattr(target, attribute, value)
    for stage, event in fragment.events.items():
        if event.condition:
            target.conditions.setdefault(stage, []).append(event.condition)
        if event.code:
            target.codes.setdefault(stage, []).append(event.code)
    for stage, code in fragment.pathways.items():
        target.pathways.setdefault(stage, []).append(code)
    target.persistent += fragment.persistent
    target.sample_masks = fragment.sample_masks or target.sample_masks
    target.initial.update(fragment.initial)
    target.chunk_start.update(fragment.chunk_start)
    target.epoch_start.update(fragment.epoch_start)
    target.epoch_end.update(fragment.epoch_end)
    target.records.update(fragment.records)


def compose(models: list[ModelFile]) -> dict[str, ComposedGroup]:
    """Merge the fragments of several model files role by role; checks ``requires``."""
    present = {model.name for model in models}
    for model in models:
        missing = [name for name in model.requires if name not in present]
        if missing:
            raise ConfigError(
                f"model '{model.name}' requires model(s) {missing} in the same network"
            )
    groups = {role: ComposedGroup() for role in ROLES}
    parameter_owner: dict[str, str] = {}
    for model in models:
        for role in ROLES:
            fragment = getattr(model, role)
            if fragment is not None:
                _merge(groups[role], fragment, f"model '{model.name}' ({role})", parameter_owner)
    if groups["outputs"].threshold is None:
        raise ConfigError("no model sets the threshold of the output neurons (add a neuron model)")
    if groups["inputs"].threshold is not None and groups["inputs"].spike_steps is not None:
        raise ConfigError("the inputs have both a threshold and spike_steps: choose one")
    if groups["inputs"].threshold is None and groups["inputs"].spike_steps is None:
        raise ConfigError("no model sets how inputs spike (add an input model such as inputs/ttfs)")
    return groups
