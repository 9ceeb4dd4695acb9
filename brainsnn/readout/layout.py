"""What fixes a compiled build: sizes, the per-sample schedule and the model files."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from brainsnn.engine.layout import build_key

#: Steps after the input window, one per stage, in schedule order (see models/README.md).
STAGE_OFFSETS = {"compete": 0, "report": 1, "regulate": 1, "error": 2, "learn": 3, "normalise": 4}
RECORD_OFFSET = 2  # per-sample records are taken at the end of the 'error' step
#: The populations and projections the readout engine builds, and the stages it schedules.
READOUT_ROLES = ("inputs", "outputs", "layer", "feedforward", "lateral", "report_link")
READOUT_STAGES = ("sample_start", *STAGE_OFFSETS)
#: Variables the engine reads from the model files' equations, by role.
READOUT_REQUIRED_VARIABLES = {"outputs": ("v", "tspike"), "layer": ("prediction",)}


@dataclass(frozen=True)
class ReadoutLayout:
    """Structure of a readout network; two runs with equal layouts share one compiled build.

    Times are in units of the sample duration T: the input window has ``n_input_steps`` steps of
    T/n_input_steps each, then one step per stage.
    """

    n_inputs: int
    n_classes: int
    neurons_per_class: int
    n_nontarget: int
    n_input_steps: int
    chunk_size: int
    sample_duration_s: float
    model_texts: tuple[tuple[str, str], ...]  # (model name, file text): a change means a rebuild
    trace_variables: tuple[str, ...] = ()  # output variables recorded every step when traced

    @property
    def n_outputs(self) -> int:
        """Number of output neurons N = C * M."""
        return self.n_classes * self.neurons_per_class

    @property
    def steps_per_sample(self) -> int:
        """Input window plus one step per stage."""
        return self.n_input_steps + max(STAGE_OFFSETS.values()) + 1

    def stage_step(self, stage: str) -> int:
        """Time step (within a sample) at which a stage happens; sample_start is step 0."""
        return 0 if stage == "sample_start" else self.n_input_steps + STAGE_OFFSETS[stage]

    def key(self) -> str:
        """Short hash naming the build directory of this layout."""
        return build_key(asdict(self))

    def constants(self) -> dict[str, int]:
        """Layout constants that model files' epoch-level expressions may use."""
        return {
            "n_classes": self.n_classes,
            "neurons_per_class": self.neurons_per_class,
            "n_nontarget": self.n_nontarget,
            "n_outputs": self.n_outputs,
        }

    def class_of_neuron(self) -> np.ndarray:
        """Class group of each output neuron, shape (N,)."""
        return np.arange(self.n_outputs) // self.neurons_per_class

    def position_in_class(self) -> np.ndarray:
        """Index of each output neuron inside its class group, shape (N,)."""
        return np.arange(self.n_outputs) % self.neurons_per_class
