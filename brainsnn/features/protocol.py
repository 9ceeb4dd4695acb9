"""Protocol schema of the feature extractors (``kind: features``): STDP-CSNN from raw images."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from brainsnn.core.protocol import OutputSection, Section, sweep_field
from brainsnn.devices.section import DeviceSection


class FeaturesData(Section):
    """Which images, and the train / validation / test split."""

    source: Literal["digits", "idx"] = Field(
        description="digits: scikit-learn's 8x8 digits (embedded); idx: MNIST-format IDX files "
        "(uint8 pixels / 255, as the C++ extractor reads them)"
    )
    path: str | None = Field(None, description="idx: directory of the IDX files")
    hint: str = Field("", description="how to obtain the data, shown when it is missing")
    test_fraction: float = Field(
        0.2, gt=0, lt=1, description="digits only (no official test set): held-out share"
    )
    train_subset: int | None = Field(
        None, gt=0, description="use a stratified subset of n training images (stored order)"
    )
    test_subset: int | None = Field(
        None, gt=0, description="use a stratified subset of n test images (stored order)"
    )
    validation_fraction: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="share of the training images held out (stratified): the extractor neither "
        "trains on them nor fits its input scaling on them, and their features go to "
        "valset.npy (SpikeNN's validation file); 0 = no validation set",
    )
    split_seed: int = Field(0, description="seed of the stratified splits and subsets")
    folds: int | None = Field(
        None,
        ge=2,
        description="K-fold cross-validation as SpikeNN runs it (features extracted per fold): "
        "with data.fold, fold data.fold of StratifiedKFold(K, no shuffling) over the training "
        "images (after train_subset) is the validation set (valset.npy) and the extractor "
        "trains on the other folds; set seed to the fold as SpikeNN does",
    )
    fold: int | None = Field(
        None, ge=0, description="K-fold: which fold (0 to K-1) is the validation set"
    )


class DogSection(Section):
    """Difference-of-Gaussians ON/OFF filtering (``OnOffFilter.cpp``; config ``dog``)."""

    size: int = Field(7, ge=1, description="kernel side (pixels)")
    center_std: float = Field(1.0, gt=0, description="centre Gaussian standard deviation (pixels)")
    surround_std: float = Field(
        2.0, gt=0, description="surround Gaussian standard deviation (pixels)"
    )


class FeaturesNetwork(Section):
    """The extractor's architecture, model file and parameter values."""

    model: str = Field(
        "features/stdp_csnn",
        description="kind: csnn model file (a name under models/ or a path to a .yaml file)",
    )
    kernel: int = Field(5, ge=1, description="convolution kernel side (config conv1_k)")
    filters: int = Field(128, ge=2, description="convolution filters (config conv1_c)")
    pool: int = Field(4, ge=1, description="pooling window side and stride (config pool1_size)")
    parameters: dict[str, float] = Field(
        default_factory=dict, description="values for the model file's parameters"
    )


class FeaturesTraining(Section):
    """Unsupervised STDP training of the convolution on random patches."""

    epochs: int = Field(
        100,
        ge=0,
        description="passes over the training images (config conv1_epochs); one random "
        "kernel-sized patch of each image per pass, images in stored order",
    )
    chunk_size: int = Field(
        20_000, ge=1, description="patches per compiled run; a checkpoint follows every chunk"
    )


class FeaturesExtraction(Section):
    """Feature extraction over whole images with the trained convolution."""

    chunk_size: int = Field(
        2000,
        ge=1,
        description="images per compiled run; each chunk's features are saved at once (a run "
        "also loads the convolution's synapses, 0.46 M on F-MNIST: larger chunks share that)",
    )


class FeaturesProtocol(Section):
    """A feature-extraction experiment: train the extractor, write SpikingDataset files."""

    kind: Literal["features"] = Field(
        description="features: train a feature extractor and write its spike features (this schema)"
    )
    name: str = Field(description="experiment name (used in the default run directory)")
    description: str = Field("", description="free text")
    data: FeaturesData
    dog: DogSection = Field(default_factory=DogSection)
    network: FeaturesNetwork = Field(default_factory=FeaturesNetwork)
    training: FeaturesTraining = Field(default_factory=FeaturesTraining)
    extraction: FeaturesExtraction = Field(default_factory=FeaturesExtraction)
    device: DeviceSection = Field(default_factory=DeviceSection)
    seed: int = Field(0, description="seed of the initial weights and of the training patches")
    output: OutputSection = Field(default_factory=OutputSection)
    sweep: dict[str, list] | None = sweep_field()

    @model_validator(mode="after")
    def _fits(self) -> FeaturesProtocol:
        data = self.data
        if data.source == "idx" and not data.path:
            raise ValueError("data.path: the directory of the IDX files is required for idx data")
        if (data.folds is None) != (data.fold is None):
            raise ValueError("data.folds and data.fold go together")
        if data.folds is not None and data.validation_fraction > 0:
            raise ValueError("data.folds and data.validation_fraction exclude each other")
        return self
