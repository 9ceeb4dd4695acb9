"""The readout kind's protocol schema (``kind: readout``, the default)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from brainsnn.core.protocol import OutputSection, Section, TraceSection, sweep_field
from brainsnn.core.units import check_duration
from brainsnn.devices.section import DeviceSection

#: ``encoding.time_steps`` value of the exact time grid (see brainsnn.data.rank_times).
EXACT = "exact"
DEFAULT_MODELS = [
    "inputs/ttfs",
    "neurons/if_single_spike",
    "synapses/delta",
    "decision/first_spike",
    "competition/ncg",
    "rules/s2stdp",
    "regulation/cr2",
]


class DataSection(Section):
    """Which dataset, and how it is split into train / validation / test."""

    source: Literal["digits", "idx", "spikingdataset"] = Field(
        description="digits: scikit-learn's 8x8 digits (embedded); idx: MNIST-format IDX files; "
        "spikingdataset: SpikeNN feature files"
    )
    path: str | None = Field(None, description="idx: directory of the IDX files")
    train_file: str | None = Field(None, description="spikingdataset: training-set file")
    test_file: str | None = Field(None, description="spikingdataset: test-set file")
    validation_file: str | None = Field(
        None,
        description="spikingdataset: validation-set file (SpikeNN's valset.npy, e.g. a "
        "features run's); the whole training file is then trained on and "
        "validation_fraction is unused; not with data.folds",
    )
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

    @model_validator(mode="after")
    def _validation_file_alone(self) -> DataSection:
        if self.validation_file is not None:
            if self.source != "spikingdataset":
                raise ValueError("data.validation_file is for spikingdataset data")
            if self.folds is not None or self.fold is not None:
                raise ValueError("data.validation_file and data.folds exclude each other")
        return self


class EncodingSection(Section):
    """How samples become input spikes."""

    method: Literal["ttfs"] = Field("ttfs", description="time-to-first-spike: t = 1 - x/x_max")
    time_steps: Annotated[int, Field(gt=0)] | Literal["exact"] | None = Field(
        None,
        description="input steps L per sample window; "
        "'exact': step k of a sample is its k-th distinct spike time, so continuous "
        "times are kept exactly (L = the most distinct times of any sample; needs a "
        "neuron without time-continuous dynamics, e.g. neurons/if_single_spike); "
        "default, lossless: the number of intensity levels for images (16 for digits, "
        "255 for IDX), 'exact' for spikingdataset files",
    )
    sample_duration: str = Field(
        "10 ms",
        description="physical duration T of the input window "
        "(dt = T/L); each sample then takes 5 more steps for its "
        "per-sample stages",
    )

    @field_validator("time_steps", mode="before")
    @classmethod
    def _is_count_or_exact(cls, value: object) -> object:
        counts = isinstance(value, int) and not isinstance(value, bool) and value > 0
        if value is not None and value != EXACT and not counts:
            raise ValueError(f"must be a positive integer or '{EXACT}', got {value!r}")
        return value

    @field_validator("sample_duration")
    @classmethod
    def _is_time(cls, value: str) -> str:
        check_duration(value)
        return value


class WeightInit(Section):
    """Initial weights: Normal(mean, std), then clipped to [w_min, w_max]."""

    mean: float = Field(0.3, description="mean of the initial weights")
    std: float = Field(0.01, ge=0, description="standard deviation of the initial weights")


class NetworkSection(Section):
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


class TrainingSection(Section):
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
    evaluation_lanes: int = Field(
        1,
        ge=1,
        le=4096,
        description="validation and test samples simulated side by side, each in its own copy "
        "of the network holding the same frozen weights (a second build); decisions and "
        "records equal those of one sample after another. On CPUs more lanes were not faster "
        "(F-MNIST pixels: the same speed up to 16 lanes; STDP-CSNN features: 1,483, 950 and "
        "724 samples/s at 1, 4 and 16 lanes), and each switch between the two builds costs "
        "about 0.5 s, so 1 (the training build) is the default; meant for GPUs, where a time "
        "step costs about the same for one sample as for many. Membrane traces use 1",
    )
    stop_below: float | None = Field(
        None,
        description="abort rule for grid searches (SpikeNN's gridsearch_stop_acc): from epoch 3 "
        "on, stop when the epoch's training or validation accuracy (a fraction) is below this; "
        "null = never",
    )


class RecordingSection(Section):
    """What is stored per sample in results.nc."""

    test_outputs: bool = Field(
        True,
        description="first-spike times and potentials of every output neuron for every test sample",
    )
    traces: TraceSection | None = Field(None, description="membrane traces (opt-in)")


class Protocol(Section):
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
    sweep: dict[str, list] | None = sweep_field()
