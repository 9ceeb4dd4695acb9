"""Protocol schema of gradient-trained SNNs (``kind: gradient``): data, layers, loss, training."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_serializer, field_validator, model_validator

from brainsnn.core.protocol import OutputSection, Section, TraceSection, sweep_field
from brainsnn.core.units import check_duration
from brainsnn.devices.section import DeviceSection
from brainsnn.gradient.modelfile import Firing


class GradientData(Section):
    """Spike files in SHD's HDF5 layout, binned into (steps, channels) counts per batch."""

    train: str = Field(description="training file (SHD layout, e.g. shd_train.h5)")
    test: str = Field(description="test file (SHD layout, e.g. shd_test.h5)")
    hint: str = Field("", description="how to obtain the files, shown when they are missing")
    dt: float = Field(
        description="bin width (a time, e.g. '10 ms'); one bin is one step of the network"
    )
    steps: int = Field(gt=0, description="bins per sample; later spikes are dropped")
    empty_steps: int = Field(
        0, ge=0, description="zero bins appended (FS_coding's T_empty: room for late spikes)"
    )
    rounding: Literal["floor", "ceil"] = Field(
        "floor", description="bin = floor(t / dt) (FS_coding, ParaLIF) or ceil (SPSN)"
    )
    align: Literal["start", "end"] = Field(
        "start",
        description="start: time 0 at step 0, zeros appended, every batch runs all steps "
        "(FS_coding); end: SPSN's batches: each sample at its own length (augmented at that "
        "length), zeros prepended up to the batch's longest sample; the network runs nothing "
        "before the batch begins, and mean / max readouts and the rate regulariser cover the "
        "batch's steps only",
    )
    bucket: int = Field(
        100,
        ge=0,
        description="align: end: a batch runs in the shortest multiple of this many steps "
        "that holds its longest sample (at most steps): the same results as the full frame "
        "for deterministic neurons, in less time, a compilation per frame length; 0 = always "
        "the full frame",
    )
    validation_fraction: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="share of the training file held out to pick the best epoch (stratified); "
        "0 = keep the last epoch (the originals select on the test set, which we do not)",
    )
    train_subset: int | None = Field(None, gt=0, description="use the first n training samples")
    test_subset: int | None = Field(None, gt=0, description="use the first n test samples")
    shift: float = Field(
        0.0, ge=0, lt=1, description="augmentation: random channel shift up to +-shift x channels"
    )
    scale: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="augmentation: random scale in [1 - scale, 1 + scale] of both "
        "axes, about the sample's own centre (align: end) or the window's (align: start)",
    )

    @field_validator("dt", mode="before")
    @classmethod
    def _time(cls, value: object) -> float:
        return check_duration(value)

    @field_serializer("dt")
    def _time_with_unit(self, value: float) -> str:
        """Saved with its unit, so that a run's protocol.yaml loads again."""
        return f"{value!r} second"


class LayerSection(Section):
    """One layer: a linear map of the previous layer's activity, then a gradient neuron."""

    size: int = Field(gt=0, description="number of neurons")
    neuron: str = Field(description="model file under models/ (gradient/adlif) or a .yaml path")
    firing: Firing | None = Field(None, description="override the model file's firing")
    parameters: dict[str, float | str] = Field(
        default_factory=dict, description="initial parameter values overriding the model file"
    )
    bias: bool = Field(False, description="the linear map has a bias (SPSN) or not (FS_coding)")
    batch_norm: bool = Field(
        False, description="BatchNorm1d on the input current, statistics over batch x time"
    )
    dropout: float = Field(
        0.0, ge=0, lt=1, description="dropout of the layer's activity, one mask per sample"
    )


class GradientNetwork(Section):
    """Hidden layers and the readout layer (whose size is the number of classes)."""

    hidden: list[LayerSection] = Field(min_length=0, description="hidden layers, input first")
    readout: LayerSection = Field(description="output layer; size = number of classes")
    init: Literal["xavier_uniform", "kaiming_uniform"] = Field(
        "xavier_uniform",
        description="weight initialisation: xavier_uniform (FS_coding), kaiming_uniform with "
        "gain 1 (SPSN); biases start at 0",
    )
    parallel: bool = Field(
        True, description="run reset-free linear neurons (SPSN) as FFT filters over all steps"
    )
    fuse_time_loops: bool = Field(
        True,
        description="run consecutive step-by-step layers in one time loop where the earlier "
        "one fires by threshold and the later one has no BatchNorm (the same maths, faster on "
        "CPU; false: one loop per layer, as before 2026-12-07)",
    )


class LossSection(Section):
    """The training objective."""

    kind: Literal["first_spike", "firing_rate", "membrane"] = Field(
        description="first_spike: CE of -alpha x first-spike times (FS); firing_rate: CE of "
        "alpha x output rates (FR); membrane: CE of the readout membrane reduced over time"
    )
    alpha: float = Field(1.0, gt=0, description="logit scale (FS alpha 0.2 / FR alpha 20 on SHD)")
    spread: int = Field(16, gt=0, description="FS: Gaussian error spread sigma = T // spread")
    amplitude: float = Field(200.0, gt=0, description="FS: amplitude A of the spread error")
    time_lambda: float = Field(0.01, ge=0, description="FS: silent-target regulariser lambda")
    time_beta: float = Field(0.02, ge=0, description="FS: silent-target regulariser beta")
    reduction: Literal["mean", "max", "last"] = Field(
        "mean", description="membrane: how the readout membrane is reduced over time"
    )
    rate_threshold: float | None = Field(
        None,
        gt=0,
        description="SPSN spike-rate regulariser: penalise (expected spikes per step over the "
        "hidden layers - threshold x hidden neurons)^2; null = off",
    )


class GradientTraining(Section):
    """Optimiser and schedule."""

    epochs: int = Field(10, gt=0, description="passes over the training set")
    batch_size: int = Field(128, gt=0, description="samples per gradient step")
    optimizer: Literal["amsgrad", "adam", "adamax"] = Field(
        "amsgrad", description="amsgrad (FS_coding), adam, adamax (SPSN, ParaLIF)"
    )
    learning_rate: float = Field(1e-3, gt=0, description="step size")
    weight_decay: float = Field(0.0, ge=0, description="L2 term added to the gradient (PyTorch)")
    clip_norm: float | None = Field(None, gt=0, description="clip the gradient's global norm")
    step_lr: tuple[int, float] | None = Field(
        None, description="[epochs, factor]: multiply the learning rate every epochs (ParaLIF)"
    )
    accumulate_gradients: bool = Field(
        False,
        description="FS_coding's missing zero_grad: feed the optimiser the clipped running sum "
        "of all gradients (spec A.6); off = the usual per-batch gradient",
    )


class GradientTest(Section):
    """Evaluation after training."""

    batch_size: int = Field(256, gt=0, description="samples per forward pass")


class GradientRecording(Section):
    """Brian2 re-simulation of the trained network (test phase)."""

    resimulate: bool = Field(
        False,
        description="re-run the test set in Brian2 on device.name and compare predictions "
        "(stochastic firings draw Brian2's own random numbers, seeded by the protocol's seed: "
        "their predictions agree in distribution, not sample by sample)",
    )
    resimulate_samples: int | None = Field(
        None, gt=0, description="re-simulate only the first n test samples"
    )
    traces: TraceSection | None = Field(
        None, description="membrane traces of the re-simulation (opt-in)"
    )


class GradientProtocol(Section):
    """A gradient-trained SNN: train in JAX, evaluate FS / FR decoding, re-simulate in Brian2."""

    kind: Literal["gradient"] = Field(
        description="gradient: surrogate-gradient SNNs trained in JAX (this schema)"
    )
    name: str = Field(description="experiment name (used in the default run directory)")
    description: str = Field("", description="free text")
    data: GradientData
    network: GradientNetwork
    loss: LossSection
    training: GradientTraining = Field(default_factory=GradientTraining)
    test: GradientTest = Field(default_factory=GradientTest)
    recording: GradientRecording = Field(default_factory=GradientRecording)
    device: DeviceSection = Field(default_factory=DeviceSection)
    seed: int = Field(0, description="seed of weights, dropout, augmentation, stochastic spikes")
    output: OutputSection = Field(default_factory=OutputSection)
    sweep: dict[str, list] | None = sweep_field()

    @model_validator(mode="after")
    def _readout_fits_loss(self) -> GradientProtocol:
        firing = self.network.readout.firing
        if self.loss.kind in ("first_spike", "firing_rate") and firing not in (None, "threshold"):
            raise ValueError(f"loss {self.loss.kind} needs a spiking readout (firing: threshold)")
        if self.loss.kind == "membrane" and firing not in ("none",):
            raise ValueError(
                "loss membrane needs a non-firing readout (network.readout.firing: none)"
            )
        return self
