"""Protocol files: a typed schema for experiments, ``--set`` overrides and parameter resolution."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from brainsnn.errors import ConfigError
from brainsnn.modellib import ModelFile, compose, load_model_file
from brainsnn.units import check_quantity
from brainsnn.yamlfile import format_validation_error, read_yaml

DEFAULT_MODELS = [
    "inputs/ttfs",
    "neurons/if_single_spike",
    "synapses/delta",
    "decision/first_spike",
    "competition/ncg",
    "rules/s2stdp",
    "regulation/cr2",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataSection(_Section):
    """Which dataset, and how it is split into train / validation / test."""

    source: Literal["digits", "idx", "spikingdataset"] = Field(
        description="digits: scikit-learn's 8x8 digits (embedded); idx: MNIST-format IDX files; "
        "spikingdataset: SpikeNN feature files"
    )
    path: str | None = Field(None, description="idx: directory of the IDX files")
    train_file: str | None = Field(None, description="spikingdataset: training-set file")
    test_file: str | None = Field(None, description="spikingdataset: test-set file")
    hint: str = Field("", description="how to obtain the data, shown when it is missing")
    validation_fraction: float = Field(
        0.1,
        gt=0,
        lt=1,
        description="share of the training set held out for early stopping (stratified)",
    )
    test_fraction: float = Field(
        0.2, gt=0, lt=1, description="digits only (no official test set): held-out share"
    )
    train_subset: int | None = Field(
        None,
        gt=0,
        description="use a stratified subset of n training samples (kept in stored order)",
    )
    test_subset: int | None = Field(
        None, gt=0, description="use a stratified subset of n test samples (kept in stored order)"
    )
    split_seed: int = Field(0, description="seed of the stratified splits")
    folds: int | None = Field(
        None,
        ge=2,
        description="K-fold cross-validation: number of folds K; with data.fold, the validation "
        "set is fold data.fold of StratifiedKFold(K, no shuffling) over the training set (after "
        "train_subset) and the other folds are trained on; validation_fraction is then unused "
        "(set by 'brainsnn kfold')",
    )
    fold: int | None = Field(
        None,
        ge=0,
        description="K-fold cross-validation: which fold (0 to K-1) is the validation set; "
        "needs data.folds (set by 'brainsnn kfold')",
    )


class EncodingSection(_Section):
    """How samples become input spikes."""

    method: Literal["ttfs"] = Field("ttfs", description="time-to-first-spike: t = 1 - x/x_max")
    time_steps: int | None = Field(
        None,
        gt=0,
        description="input steps L per sample window; "
        "default: the number of intensity levels for images (16 for "
        "digits, 255 for IDX: lossless), 1000 for spikingdataset files",
    )
    sample_duration: str = Field(
        "10 ms",
        description="physical duration T of the input window "
        "(dt = T/L); each sample then takes 5 more steps for its "
        "per-sample stages",
    )

    @field_validator("sample_duration")
    @classmethod
    def _is_time(cls, value: str) -> str:
        check_quantity(value, "second")
        return value


class WeightInit(_Section):
    """Initial weights: Normal(mean, std), then clipped to [w_min, w_max]."""

    mean: float = Field(0.3, description="mean of the initial weights")
    std: float = Field(0.01, ge=0, description="standard deviation of the initial weights")


class NetworkSection(_Section):
    """The readout: output layout, model files and their parameter values."""

    neurons_per_class: int = Field(5, ge=1, description="M, output neurons per class")
    nontarget_per_class: int = Field(
        1, ge=0, description="neurons per group labelled non-target (the NCG 'L')"
    )
    models: list[str] = Field(
        default_factory=lambda: list(DEFAULT_MODELS),
        description="model files (names under models/ or paths), in order",
    )
    parameters: dict[str, float | int | str] = Field(
        default_factory=dict, description="values for model parameters"
    )
    weights: WeightInit = Field(default_factory=WeightInit)


class TrainingSection(_Section):
    """Epochs, early stopping and chunking."""

    max_epochs: int = Field(100, ge=1, description="upper bound on training epochs")
    patience: int = Field(
        10,
        ge=0,
        description="epochs without strict improvement of validation "
        "accuracy before stopping; 0 = never stop early",
    )
    chunk_size: int = Field(
        1000,
        ge=1,
        description="samples simulated per compiled run (capped "
        "at the larger of the training and test set sizes); a checkpoint is "
        "written after each training chunk",
    )
    stop_below: float | None = Field(
        None,
        description="abort rule for grid searches (SpikeNN's gridsearch_stop_acc): from epoch 3 "
        "on, stop when the epoch's training or validation accuracy (a fraction) is below this; "
        "null = never",
    )


class TraceSection(_Section):
    """Membrane traces of a few output neurons, every step of the first test samples (opt-in)."""

    neurons: list[int] = Field(description="output neuron indices to record")
    samples: int = Field(3, ge=1, description="record the first n test samples (of one test pass)")
    potential: str = Field("v", description="output variable holding the membrane potential")
    threshold: str = Field(
        "theta", description="output variable holding the threshold (Diehl & Cook: vt)"
    )

    def checked_variables(self, n_outputs: int) -> tuple[str, str]:
        """(potential, threshold) variable names, after checking the neurons exist."""
        for neuron in self.neurons:
            if not 0 <= neuron < n_outputs:
                raise ConfigError(
                    f"recording.traces.neurons: {neuron} is not an output neuron "
                    f"(0 to {n_outputs - 1})"
                )
        return self.potential, self.threshold


class RecordingSection(_Section):
    """What is stored per sample in results.nc."""

    test_outputs: bool = Field(
        True,
        description="first-spike times and potentials of every output neuron for every test sample",
    )
    traces: TraceSection | None = Field(None, description="membrane traces (opt-in)")


class DeviceSection(_Section):
    """Where the network runs."""

    name: Literal["runtime", "cpp", "cuda"] = Field(
        "cpp", description="runtime (debugging), cpp (compiled C++), cuda (brian2cuda, needs a GPU)"
    )
    threads: int = Field(0, ge=0, description="OpenMP threads for cpp (0 = single thread)")
    build_dir: str | None = Field(
        None,
        description="build cache (default $BRAINSNN_CACHE/builds, else ~/.cache/brainsnn/builds)",
    )


class OutputSection(_Section):
    """Where results go."""

    directory: str = Field(
        "results/{name}/{timestamp}",
        description="run directory; {name} and {timestamp} are filled in",
    )


class Protocol(_Section):
    """A complete experiment."""

    kind: Literal["readout"] = Field(
        "readout",
        description="readout: the NCG readout (this schema); unsupervised: WTA-STDP networks "
        "(see the unsupervised keys)",
    )
    name: str = Field(description="experiment name (used in the default run directory)")
    description: str = Field("", description="free text")
    data: DataSection
    encoding: EncodingSection = Field(default_factory=EncodingSection)
    network: NetworkSection = Field(default_factory=NetworkSection)
    training: TrainingSection = Field(default_factory=TrainingSection)
    recording: RecordingSection = Field(default_factory=RecordingSection)
    device: DeviceSection = Field(default_factory=DeviceSection)
    seed: int = Field(0, description="seed of the initial weights")
    output: OutputSection = Field(default_factory=OutputSection)
    sweep: dict[str, list] | None = Field(
        None,
        description="grid for 'brainsnn gridsearch': dotted protocol keys (e.g. "
        "network.parameters.gap) mapped to lists of values; every combination (Cartesian "
        "product) is run; ignored by 'brainsnn run'",
    )


def parse_assignment(
    item: str, option: str = "--set", form: str = "key.path=value"
) -> tuple[str, Any]:
    """Split a ``key.path=value`` command-line item; the value is parsed as YAML."""
    key, sep, text = item.partition("=")
    if not sep or not all(key.split(".")):
        raise ConfigError(f"{option} {item}: expected {form}")
    try:
        return key, yaml.safe_load(text)
    except yaml.YAMLError:
        raise ConfigError(f"{option} {item}: value is not valid YAML") from None


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key.path=value`` overrides (values parsed as YAML) to raw protocol data.

    A number in the path indexes a list (``network.hidden.0.neuron=gradient/lif``).
    """
    for item in overrides:
        key, value = parse_assignment(item)
        node: Any = data
        parts = key.split(".")
        for part in parts[:-1]:
            if isinstance(node, list):
                child = node[_list_index(node, part, item)]
            else:
                child = node.setdefault(part, {})
            if not isinstance(child, dict | list):
                raise ConfigError(f"--set {item}: '{part}' is not a section")
            node = child
        if isinstance(node, list):
            node[_list_index(node, parts[-1], item)] = value
        else:
            node[parts[-1]] = value
    return data


def _list_index(items: list, part: str, item: str) -> int:
    if not part.isdigit() or int(part) >= len(items):
        raise ConfigError(f"--set {item}: '{part}' is not an index of a list of {len(items)}")
    return int(part)


def protocol_schema(data: dict[str, Any]) -> type[BaseModel]:
    """The schema for raw protocol data, chosen by its ``kind`` (default: readout)."""
    kind = data.get("kind", "readout")
    if kind == "unsupervised":
        from brainsnn.unsupervised.protocol import UnsupervisedProtocol

        return UnsupervisedProtocol
    if kind == "gradient":
        from brainsnn.gradient.protocol import GradientProtocol

        return GradientProtocol
    if kind != "readout":
        raise ConfigError(
            f"kind: unknown protocol kind '{kind}'; choose readout, unsupervised or gradient"
        )
    return Protocol


def load_protocol(path: str | Path, overrides: list[str] | None = None) -> Protocol:
    """Read, override and validate a protocol file; then check its models and parameters.

    Returns a readout ``Protocol`` or, for ``kind: unsupervised``, an ``UnsupervisedProtocol``,
    for ``kind: gradient`` a ``GradientProtocol``.
    """
    data, lines = read_yaml(path)
    data = apply_overrides(data, overrides or [])
    try:
        protocol = protocol_schema(data).model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(path, exc, lines)) from None
    if getattr(protocol, "kind", "readout") == "gradient":
        from brainsnn.gradient.protocol import check_layer_models

        check_layer_models(protocol, str(path), lines)
        return protocol
    resolve_parameters(
        protocol, load_models(protocol, str(path), lines), source=str(path), lines=lines
    )
    return protocol


def load_models(
    protocol: Protocol, source: str | None = None, lines: dict | None = None
) -> list[ModelFile]:
    """Load the protocol's model files (names under models/, or paths).

    With ``source`` (the protocol file), errors name it and the network.models entry's line.
    """
    models = []
    for position, name in enumerate(protocol.network.models):
        try:
            models.append(load_model_file(name))
        except ConfigError as exc:
            if source is None:
                raise
            line = (lines or {}).get(("network", "models", position))
            where = f"{source}:{line}" if line else source
            raise ConfigError(f"{where}: network.models[{position}]: {exc}") from None
    return models


def resolve_parameters(
    protocol: Protocol, models: list[ModelFile], source: str = "protocol", lines: dict | None = None
) -> dict[str, float]:
    """Model defaults overridden by the protocol, checked for unknown names and units.

    Returns values in Brian2 base units (plain floats).
    """
    composed = compose(models)
    specs = {name: spec for group in composed.values() for name, spec in group.parameters.items()}
    values = {}
    for name in protocol.network.parameters:
        if name not in specs:
            line = (lines or {}).get(("network", "parameters", name))
            where = f"{source}:{line}" if line else source
            raise ConfigError(
                f"{where}: network.parameters.{name}: unknown parameter; the models "
                f"define {', '.join(sorted(specs))}"
            )
    for name, spec in specs.items():
        given = protocol.network.parameters.get(name, spec.value)
        try:
            values[name] = check_quantity(given, spec.unit)
        except ValueError as exc:
            line = (lines or {}).get(("network", "parameters", name))
            where = f"{source}:{line}" if line else source
            raise ConfigError(f"{where}: network.parameters.{name}: {exc}") from None
    return values
