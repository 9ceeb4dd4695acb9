"""What fixes a compiled build: sizes, the per-sample schedule and the model files."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

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
    T/n_input_steps each, then one step per stage. With ``exact_times``, step k of a sample is
    instead its k-th distinct input spike time, handed in with the chunk.

    ``lanes`` independent copies of the network run side by side in one build: sample s of a
    chunk goes to lane s % lanes in sample window s // lanes, so a chunk of ``chunk_size``
    samples (a multiple of ``lanes``) takes ``chunk_size / lanes`` windows. Evaluation uses this
    with every lane holding the same frozen weights.
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
    lanes: int = 1  # copies of the network side by side, one sample each per window
    exact_times: bool = False  # step k of a sample is its k-th distinct spike time (step_times)

    def __post_init__(self) -> None:
        if self.lanes < 1 or self.chunk_size % self.lanes:
            raise ValueError(f"chunk_size {self.chunk_size} not a multiple of lanes={self.lanes}")
        if self.lanes > 1 and self.trace_variables:
            raise ValueError("membrane traces are recorded with one lane only")

    def with_lanes(self, lanes: int) -> ReadoutLayout:
        """This layout with ``lanes`` lanes, its chunk rounded up to a multiple of them (traces
        are recorded with one lane only, so none)."""
        chunk_size = lanes * -(-self.chunk_size // lanes)
        return replace(self, lanes=lanes, chunk_size=chunk_size, trace_variables=())

    @property
    def windows(self) -> int:
        """Sample windows per chunk: chunk_size / lanes."""
        return self.chunk_size // self.lanes

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

    def feedforward_order(self) -> np.ndarray:
        """State index (output-major, j * n_inputs + i) of each feedforward synapse of a lane.

        A lane's synapses are input-major (i * n_outputs + j): the synapses an input spike
        reaches are adjacent in memory, while the state keeps the weight matrix's (N, D) order.
        """
        return np.arange(self.n_outputs * self.n_inputs).reshape(self.n_outputs, -1).T.ravel()

    def lane_of(self, size: int) -> np.ndarray:
        """Lane of each element of a group of ``size`` = lanes x (size of one lane)."""
        return np.repeat(np.arange(self.lanes), size // self.lanes)

    def per_lane(self, values: np.ndarray) -> np.ndarray:
        """One lane's values repeated for every lane (the lanes' groups are lane after lane)."""
        return np.tile(np.asarray(values), self.lanes)

    def by_window(self, per_sample: np.ndarray) -> np.ndarray:
        """A chunk's (chunk_size, ...) per-sample table as (windows, lanes x ...) rows."""
        return np.asarray(per_sample).reshape(self.windows, -1)
