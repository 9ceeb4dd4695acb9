"""Gradient neuron model files (``models/gradient/*.yaml``): one source of truth for JAX and Brian2.

A model file states a neuron's discrete-time update as Brian2 abstract code (one step = one time
bin, time constants in steps): ``step`` runs once per step with the layer input ``x`` (this step's
weighted input spikes plus bias), then ``threshold`` decides the spike and ``reset`` runs for the
neurons that spiked. The gradient engine parses the same statements with Brian2's sympy parser and
prints them as JAX (``compile_neuron``); the Brian2 re-simulation hands the text to a
``NeuronGroup`` unchanged. Keys are documented in ``models/README.md`` ("Gradient neurons").
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
import sympy
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from brainsnn.core.errors import BrainsnnError, ConfigError
from brainsnn.core.expressions import check_expression, evaluate_expression
from brainsnn.core.modellib import MODEL_DIR
from brainsnn.core.yamlfile import is_file, load_model

Firing = Literal[
    "threshold",
    "sigmoid_bernoulli",
    "gumbel_softmax",
    "relu",
    "none",
    "paralif_TRB",
    "paralif_D",
    "paralif_SD",
    "paralif_TD",
    "paralif_TRD",
    "paralif_T",
    "paralif_ST",
    "paralif_TT",
    "paralif_TRT",
]
#: Names a model's code may use besides its state, parameters and temporaries.
INPUT_NAME = "x"
_RESERVED = {INPUT_NAME, "t", "dt", "i", "N"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Surrogate(_Strict):
    """Surrogate derivative of the threshold's Heaviside step, as a function of u = lhs - rhs."""

    function: Literal["fast_sigmoid", "atan"] = Field(
        description="fast_sigmoid: 1 / (scale |u| + 1)^2 (SuperSpike, peak 1); "
        "atan: (scale / 2) / (1 + (pi scale u / 2)^2)"
    )
    scale: float = Field(gt=0, description="steepness k of the surrogate")


class GradientParameter(_Strict):
    """A neuron parameter: a constant, or trained per neuron / per layer through a constraint."""

    value: float | str = Field(
        description="initial value: a number, a NumPy expression of numbers (exp(-1/5)), or "
        "uniform(low, high) drawn per neuron"
    )

    @field_validator("value")
    @classmethod
    def _an_expression(cls, value: float | str) -> float | str:
        if isinstance(value, str):
            try:
                check_expression(value, ("uniform",))
            except BrainsnnError as exc:
                raise ValueError(str(exc)) from None
        return value

    trainable: Literal["neuron", "layer"] | None = Field(
        None, description="trained with one value per neuron or one per layer; null = constant"
    )
    constraint: Literal["sigmoid", "unit_interval", "positive", "none"] = Field(
        "none",
        description="sigmoid: stored as a logit, used as sigmoid(raw) (decays); unit_interval: "
        "clamped into [0, 1] before every step (AdLIF a, b); positive: used as relu(raw) "
        "(ParaLIF's learnable theta); none: used as stored",
    )
    description: str


class GradientNeuron(_Strict):
    """A ``kind: gradient_neuron`` model file."""

    name: str
    kind: Literal["gradient_neuron"]
    description: str
    reference: str = ""
    state: dict[str, str] = Field(description="per-neuron state variables (0 at sample start)")
    step: str = Field(description="abstract code run every step; the layer input is x")
    threshold: str | None = Field(None, description="spike condition 'a >= b' or 'a > b'")
    reset: str | None = Field(None, description="code run for neurons that spiked")
    spike: str | None = Field(
        None, description="state variable set to this step's spike (with its surrogate gradient)"
    )
    membrane: str = Field(description="state variable recorded as the membrane potential")
    firing: Firing = Field(
        "threshold",
        description="threshold: deterministic Heaviside with surrogate; sigmoid_bernoulli / "
        "gumbel_softmax: stochastic SPSN firing from the membrane; relu: max(membrane, 0) "
        "(non-spiking); none: no output (readout); paralif_<mode>: ParaLIF's spike functions "
        "(TRB, D, SD, TD, TRD, T, ST, TT, TRT; need a theta parameter and a surrogate)",
    )
    surrogate: Surrogate | None = None
    parameters: dict[str, GradientParameter] = {}

    @model_validator(mode="after")
    def _consistent(self) -> GradientNeuron:
        if self.membrane not in self.state:
            raise ValueError(f"membrane '{self.membrane}' is not a state variable")
        if self.spike is not None and self.spike not in self.state:
            raise ValueError(f"spike '{self.spike}' is not a state variable")
        if self.firing == "threshold" and (self.threshold is None or self.surrogate is None):
            raise ValueError("firing: threshold needs a threshold and a surrogate")
        clash = (set(self.state) & set(self.parameters)) | (set(self.state) & _RESERVED)
        if clash:
            raise ValueError(f"names used twice or reserved: {sorted(clash)}")
        return self


@dataclass(frozen=True)
class Statement:
    """One assignment ``target = expression`` of abstract code, parsed by Brian2 into sympy."""

    target: str
    expression: sympy.Expr


def parse_code(code: str, where: str) -> list[Statement]:
    """Brian2 abstract code -> statements (``#`` comments and blank lines ignored)."""
    from brian2.parsing.sympytools import str_to_sympy

    statements = []
    for line in code.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        target, sep, expression = line.partition("=")
        target = target.strip()
        if not sep or not target.isidentifier() or expression.startswith("="):
            raise ConfigError(f"{where}: expected 'name = expression', got '{line}'")
        try:
            statements.append(Statement(target, str_to_sympy(expression.strip())))
        except Exception as exc:  # Brian2 raises several types for bad syntax
            raise ConfigError(f"{where}: cannot parse '{line}': {exc}") from None
    return statements


def parse_threshold(condition: str, where: str) -> tuple[sympy.Expr, bool]:
    """'lhs >= rhs' -> (lhs - rhs, fires_at_equality)."""
    from brian2.parsing.sympytools import str_to_sympy

    for operator, inclusive in ((">=", True), (">", False)):
        lhs, sep, rhs = condition.partition(operator)
        if sep and not rhs.startswith("="):
            try:
                return str_to_sympy(lhs) - str_to_sympy(rhs), inclusive
            except Exception as exc:
                raise ConfigError(f"{where}: cannot parse '{condition}': {exc}") from None
    raise ConfigError(f"{where}: threshold must read 'a >= b' or 'a > b', got '{condition}'")


@dataclass(frozen=True)
class NeuronModel:
    """A loaded gradient neuron with its parsed code."""

    spec: GradientNeuron
    path: Path
    firing: Firing

    @cached_property
    def step(self) -> list[Statement]:
        return parse_code(self.spec.step, f"{self.path}: step")

    @cached_property
    def reset(self) -> list[Statement]:
        return parse_code(self.spec.reset or "", f"{self.path}: reset")

    @cached_property
    def threshold(self) -> tuple[sympy.Expr, bool] | None:
        if self.spec.threshold is None:
            return None
        return parse_threshold(self.spec.threshold, f"{self.path}: threshold")

    @property
    def spikes(self) -> bool:
        """Whether the neuron emits spikes (0/1) rather than a graded value or nothing."""
        return self.firing not in ("relu", "none")

    @property
    def resets(self) -> bool:
        return self.firing == "threshold" and bool(self.reset)

    def check_names(self) -> None:
        """Every name in the code is a state variable, parameter, x, or an earlier temporary."""
        known = set(self.spec.state) | set(self.spec.parameters) | {INPUT_NAME}
        code = [("step", s) for s in self.step] + [("reset", s) for s in self.reset]
        for section, statement in code:
            unknown = {str(s) for s in statement.expression.free_symbols} - known
            if unknown:
                raise ConfigError(
                    f"{self.path}: {section}: unknown name(s) {sorted(unknown)} in "
                    f"'{statement.target} = ...' (known: state, parameters, x, temporaries)"
                )
            if statement.target in set(self.spec.parameters) | {INPUT_NAME}:
                raise ConfigError(f"{self.path}: {section} assigns to '{statement.target}'")
            known.add(statement.target)
        if self.threshold is not None:
            unknown = {str(s) for s in self.threshold[0].free_symbols} - known
            if unknown:
                raise ConfigError(f"{self.path}: threshold: unknown name(s) {sorted(unknown)}")

    def is_linear(self) -> bool:
        """True when the step is linear in (state, x), has memory (some statement reads the
        state) and nothing resets: a causal filter the engine applies by FFT."""
        state = set(self.spec.state)
        reads_state = any(
            {str(symbol) for symbol in statement.expression.free_symbols} & state
            for statement in self.step
        )
        if self.resets or not reads_state:
            return False
        names = {*self.spec.state, INPUT_NAME}
        for statement in self.step:
            # Brian2's parser gives its symbols assumptions: match them by name
            variables = [s for s in statement.expression.free_symbols if str(s) in names]
            if not variables:
                return False
            try:
                polynomial = sympy.Poly(statement.expression, *variables)
            except sympy.PolynomialError:
                return False
            if polynomial.total_degree() > 1 or polynomial.coeff_monomial(1) != 0:
                return False
            if any(c.free_symbols & set(variables) for c in polynomial.coeffs()):
                return False
        return True


def resolve_model_path(name: str) -> Path:
    """A model name under ``models/`` (``gradient/adlif``) or a path to a .yaml file."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml"):
        return path
    return MODEL_DIR / f"{name}.yaml"


def load_neuron(name: str, firing: Firing | None = None) -> NeuronModel:
    """Load and check a gradient neuron model file; ``firing`` overrides the file's firing."""
    path = resolve_model_path(name)
    if not is_file(path):
        available = sorted(p.stem for p in (MODEL_DIR / "gradient").glob("*.yaml"))
        raise ConfigError(
            f"gradient neuron '{name}' not found ({path}); available: "
            + ", ".join(f"gradient/{n}" for n in available)
        )
    spec = load_model(path, GradientNeuron)
    model = NeuronModel(spec, path, firing or spec.firing)
    if model.firing == "threshold" and (spec.threshold is None or spec.surrogate is None):
        raise ConfigError(f"{path}: firing: threshold needs the file's threshold and surrogate")
    if model.firing.startswith("paralif_") and (
        "theta" not in spec.parameters or spec.surrogate is None or spec.reset
    ):
        raise ConfigError(
            f"{path}: firing {model.firing} needs a reset-free neuron with a theta parameter "
            "and a surrogate (e.g. gradient/paralif)"
        )
    model.check_names()
    return model


def initial_parameter(value: float | str, size: int, rng: np.random.Generator) -> np.ndarray:
    """The initial value of a parameter for ``size`` neurons (float64 array)."""
    if isinstance(value, (int, float)):
        return np.full(size, float(value))
    result = evaluate_expression(value, {}, {"uniform": lambda low, high: (low, high)})
    if isinstance(result, tuple):  # uniform(low, high): one draw per neuron
        low, high = (float(bound) for bound in result)
        return rng.uniform(low, high, size)
    return np.full(size, float(result))
