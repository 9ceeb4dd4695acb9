"""What fixes a compiled unsupervised build: sizes, the presentation schedule, the model files."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from brainsnn.engine.layout import build_key

#: Stages run in every step of a presentation, after the synapses, in this order.
STEP_STAGES = ("integrate", "contest", "win", "inhibit")
#: Stages at fixed steps after the input window (inside the rest period), in schedule order.
END_OFFSETS = {"assess": 0, "learn": 1, "normalise": 2}
#: Stages the unsupervised engine schedules (see models/README.md).
UNSUPERVISED_STAGES = ("sample_start", *STEP_STAGES, *END_OFFSETS)
#: The populations and projections the unsupervised engine builds.
UNSUPERVISED_ROLES = (
    "inputs",
    "outputs",
    "layer",
    "inhibitory",
    "feedforward",
    "lateral",
    "report_link",
    "to_inhibitory",
    "from_inhibitory",
)
#: Steps the end stages need after the input window: the rest period must be at least this long.
MIN_REST_STEPS = len(END_OFFSETS)


@dataclass(frozen=True)
class UnsupervisedLayout:
    """Structure of an unsupervised WTA network; equal layouts share one compiled build.

    A *presentation* shows one sample for ``present_steps`` steps of ``dt_s`` seconds, then
    ``rest_steps`` steps without input. A sample may be presented again (a retry) when a model
    says so at the 'assess' stage; a chunk is ``presentations`` presentations long and covers
    up to ``chunk_size`` samples.
    """

    n_inputs: int
    n_outputs: int
    n_inhibitory: int
    present_steps: int
    rest_steps: int
    dt_s: float
    chunk_size: int
    presentations: int
    model_texts: tuple[tuple[str, str], ...]  # (model name, file text): a change means a rebuild
    trace_variables: tuple[str, ...] = ()  # output variables recorded every step when traced
    delay_digest: str = ""  # hash of the input delays, which are compiled into the build

    def __post_init__(self) -> None:
        if self.rest_steps < MIN_REST_STEPS:
            raise ValueError(f"rest_steps must be at least {MIN_REST_STEPS}")
        if self.presentations < self.chunk_size:
            raise ValueError("presentations must be at least chunk_size")

    @property
    def steps_per_presentation(self) -> int:
        """Input window plus rest."""
        return self.present_steps + self.rest_steps

    def stage_step(self, stage: str) -> int:
        """Step (within a presentation) of an end stage; sample_start is step 0."""
        return 0 if stage == "sample_start" else self.present_steps + END_OFFSETS[stage]

    def key(self) -> str:
        """Short hash naming the build directory of this layout."""
        return build_key(asdict(self), "wta-")

    def constants(self) -> dict[str, int]:
        """Layout constants that model files' expressions may use."""
        return {
            "n_inputs": self.n_inputs,
            "n_outputs": self.n_outputs,
            "present_steps": self.present_steps,
        }
