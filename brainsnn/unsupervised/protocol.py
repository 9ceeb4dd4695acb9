"""Protocol schema of the unsupervised WTA-STDP networks (``kind: unsupervised``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from brainsnn.core.protocol import OutputSection, Section, TraceSection, sweep_field
from brainsnn.core.units import check_duration
from brainsnn.devices.section import DeviceSection

DEFAULT_MODELS = [
    "inputs/periodic",
    "rules/wta_stdp",
    "synapses/wta_delta",
    "neurons/wta_lif",
    "competition/one_shot_wta",
]


class UnsupervisedData(Section):
    """Which images, which classes, and the train / test split."""

    source: Literal["digits", "idx"] = Field(
        description="digits: scikit-learn's 8x8 digits (embedded); idx: MNIST-format IDX files"
    )
    path: str | None = Field(None, description="idx: directory of the IDX files")
    hint: str = Field("", description="how to obtain the data, shown when it is missing")
    classes: list[int] | None = Field(
        None, description="keep only these classes (e.g. [0, 1, 2]); null = all"
    )
    test_fraction: float = Field(
        0.2, gt=0, lt=1, description="digits only (no official test set): held-out share"
    )
    train_subset: int | None = Field(
        None, gt=0, description="use a stratified subset of n training samples (stored order)"
    )
    test_subset: int | None = Field(
        None, gt=0, description="use a stratified subset of n test samples (stored order)"
    )
    split_seed: int = Field(0, description="seed of the stratified splits and subsets")
    validation_fraction: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="share of the training set held out (stratified) and classified with frozen "
        "weights after label assignment, to choose hyperparameters on (brainsnn gridsearch "
        "ranks by it); 0 = no validation set",
    )
    folds: int | None = Field(
        None,
        ge=2,
        description="K-fold cross-validation: number of folds K; with data.fold, the network "
        "trains (and assigns labels) on the other folds of StratifiedKFold(K, no shuffling) over "
        "the training set (after train_subset), and fold data.fold is classified with frozen "
        "weights as the validation set (set by 'brainsnn kfold')",
    )
    fold: int | None = Field(
        None,
        ge=0,
        description="K-fold cross-validation: which fold (0 to K-1) is the validation set; "
        "needs data.folds (set by 'brainsnn kfold')",
    )


class UnsupervisedEncoding(Section):
    """How images become input spikes, and the presentation schedule."""

    method: Literal["periodic", "bernoulli", "poisson"] = Field(
        "periodic",
        description="periodic: receptive field + deterministic rate trains (spec A.2, A.3; use "
        "inputs/periodic); bernoulli: row-normalised spike probabilities per step (A.3; "
        "inputs/bernoulli); poisson: rate pixel/8 Hz x intensity (B.4; inputs/poisson)",
    )
    present_steps: int = Field(200, gt=0, description="steps of input per presentation")
    rest_steps: int = Field(
        3,
        ge=3,
        description="steps without input after each presentation (the first three hold the "
        "per-sample assess, learn and normalise stages)",
    )
    dt: str = Field("1 ms", description="simulation time step (one step of the schedule)")
    kernel: Literal["training", "classification"] = Field(
        "training",
        description="periodic: receptive-field kernel; training: K(2) = 0.125, classification: "
        "K(d) = 1 - 0.375 d",
    )
    period_scale: float = Field(
        600.0, gt=0, description="periodic: inter-spike period = ceil(period_scale / f) steps"
    )
    p_range: tuple[float, float] = Field(
        (-1.069, 2.781), description="periodic: potential range mapped linearly onto f_range"
    )
    f_range: tuple[float, float] = Field(
        (1.0, 20.0), description="periodic: frequency range (clamped)"
    )

    @field_validator("dt")
    @classmethod
    def _is_time(cls, value: str) -> str:
        check_duration(value)
        return value


class WeightRange(Section):
    """Initial weights: uniform in [low, high), optionally rescaled per output neuron."""

    low: float = Field(0.0, description="lower end of the uniform initial weights")
    high: float = Field(0.4, description="upper end of the uniform initial weights")
    column_sum: float | None = Field(
        None, description="rescale each output's input weights to this sum (Diehl & Cook: 78)"
    )

    @model_validator(mode="after")
    def _ordered(self) -> WeightRange:
        if self.high < self.low:
            raise ValueError("weights.high must not be below weights.low")
        return self


class UnsupervisedNetworkSection(Section):
    """Populations, model files and their parameter values."""

    outputs: int = Field(5, ge=1, description="number of output (excitatory) neurons")
    inhibitory: bool = Field(
        False, description="add one inhibitory neuron per output neuron (Diehl & Cook)"
    )
    models: list[str] = Field(
        default_factory=lambda: list(DEFAULT_MODELS),
        description="model files (names under models/ or paths), in order",
    )
    parameters: dict[str, float | int | str] = Field(
        default_factory=dict, description="values for model parameters"
    )
    weights: WeightRange = Field(default_factory=WeightRange)


class UnsupervisedTraining(Section):
    """Unsupervised training passes and chunking."""

    epochs: int = Field(1, ge=0, description="passes over the training set (in stored order)")
    chunk_size: int = Field(
        500, ge=1, description="samples per compiled run; a checkpoint follows every chunk"
    )
    retry_budget: float = Field(
        0.0,
        ge=0,
        description="extra presentations per chunk for retries, as a fraction of chunk_size "
        "(samples a chunk does not reach move to the next chunk)",
    )


class LabelSection(Section):
    """Label assignment with frozen weights (spec B.8), on training data only."""

    samples: int | None = Field(
        None,
        gt=0,
        description="the first n training samples are presented for label assignment; "
        "null = the whole training set",
    )


class TestSection(Section):
    """Evaluation on the test set with frozen weights."""

    repeats: int = Field(
        1, ge=1, description="test passes (stochastic inputs: reported as mean +- std)"
    )


class UnsupervisedRecording(Section):
    """What is stored in results.nc beyond the summaries."""

    test_counts: bool = Field(
        True, description="spike counts of every output neuron for every test sample and pass"
    )
    traces: TraceSection | None = Field(None, description="membrane traces (opt-in)")


class UnsupervisedProtocol(Section):
    """An unsupervised WTA-STDP experiment: train, assign labels, test."""

    kind: Literal["unsupervised"] = Field(
        description="unsupervised: WTA-STDP network (this schema); readout: the NCG readout"
    )
    name: str = Field(description="experiment name (used in the default run directory)")
    description: str = Field("", description="free text")
    data: UnsupervisedData
    encoding: UnsupervisedEncoding = Field(default_factory=UnsupervisedEncoding)
    network: UnsupervisedNetworkSection = Field(default_factory=UnsupervisedNetworkSection)
    training: UnsupervisedTraining = Field(default_factory=UnsupervisedTraining)
    labels: LabelSection = Field(default_factory=LabelSection)
    test: TestSection = Field(default_factory=TestSection)
    recording: UnsupervisedRecording = Field(default_factory=UnsupervisedRecording)
    device: DeviceSection = Field(default_factory=DeviceSection)
    seed: int = Field(0, description="seed of initial weights, delays and input noise")
    output: OutputSection = Field(default_factory=OutputSection)
    sweep: dict[str, list] | None = sweep_field()
