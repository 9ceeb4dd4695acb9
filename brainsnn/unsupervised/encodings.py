"""Input encodings for the unsupervised WTA-STDP classifiers (spec sections A.2, A.3, A.5, B.4).

Images are float arrays of shape (n, height, width) with values in [0, 1]; the caller normalises
them (pixel/255 for MNIST, pixel/16 for the sklearn digits). Time is counted in integer time steps
t = 1..T (spec A.1); rates are in Hz only for the Poisson encoding (B.4).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from brainsnn.core.errors import ConfigError

_MANHATTAN = np.abs(np.arange(-2, 3))[:, None] + np.abs(np.arange(-2, 3))[None, :]


def _kernel_from_table(values: dict[int, float]) -> np.ndarray:
    kernel = np.vectorize(values.__getitem__, otypes=[np.float64])(_MANHATTAN)
    kernel.setflags(write=False)
    return kernel


#: 5x5 on-centre receptive fields K(d), d = Manhattan distance of the tap from the centre (A.2).
#: "classification": K(d) = 1 - 0.375 d; "training": the same but K(2) = 0.125 (sums to 1.5).
KERNELS: dict[str, np.ndarray] = {
    "classification": _kernel_from_table({0: 1.0, 1: 0.625, 2: 0.25, 3: -0.125, 4: -0.5}),
    "training": _kernel_from_table({0: 1.0, 1: 0.625, 2: 0.125, 3: -0.125, 4: -0.5}),
}

DEFAULT_P_RANGE: tuple[float, float] = (-1.069, 2.781)
DEFAULT_F_RANGE: tuple[float, float] = (1.0, 20.0)
DEFAULT_PERIOD_SCALE = 600.0
METHODS = ("periodic", "bernoulli", "poisson")
_CHUNK = 1024  # samples per block in max_coincident_inputs (bounds memory)


def _kernel(kernel: str | np.ndarray) -> np.ndarray:
    if isinstance(kernel, str):
        if kernel not in KERNELS:
            raise ConfigError(
                f"unknown receptive-field kernel '{kernel}'; choose one of: {', '.join(KERNELS)}"
            )
        return KERNELS[kernel]
    return np.asarray(kernel, dtype=np.float64)


def _images(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 3:
        raise ValueError(f"images must have shape (n, height, width), got shape {images.shape}")
    return images


def receptive_field_potential(
    images: np.ndarray, kernel: str | np.ndarray = "training"
) -> np.ndarray:
    """Receptive-field potential p (dimensionless), shape (n, h, w), of images in [0, 1] (A.2).

    Zero-padded 5x5 correlation of each image with ``kernel`` (a name in ``KERNELS`` or an array);
    taps outside the image contribute 0 on every border (no 15-vs-27 border bug).
    """
    images = _images(images)
    weights = _kernel(kernel)[None, :, :]  # no mixing across samples
    return ndimage.correlate(images, weights, mode="constant", cval=0.0)


def rate_from_potential(
    potential: np.ndarray,
    p_range: tuple[float, float] = DEFAULT_P_RANGE,
    f_range: tuple[float, float] = DEFAULT_F_RANGE,
) -> np.ndarray:
    """Linear map of potential onto a rate f (spikes per ``period_scale`` steps), clamped (A.3)."""
    return np.interp(np.asarray(potential, dtype=np.float64), p_range, f_range)


def periodic_spike_periods(
    potential: np.ndarray,
    period_scale: float = DEFAULT_PERIOD_SCALE,
    p_range: tuple[float, float] = DEFAULT_P_RANGE,
    f_range: tuple[float, float] = DEFAULT_F_RANGE,
) -> np.ndarray:
    """Inter-spike periods in time steps, int64 shape (n, h*w); 0 means silent (A.3).

    P_s = ceil(period_scale / f) where p > 0 and 0 where p <= 0. An input with period P_s > 0
    spikes at t = P_s, 2 P_s, ... <= T (t counted from 1).
    """
    potential = np.asarray(potential, dtype=np.float64)
    if potential.ndim < 2:
        raise ValueError(f"potential must have shape (n, ...), got shape {potential.shape}")
    potential = potential.reshape(potential.shape[0], -1)
    rate = rate_from_potential(potential, p_range, f_range)
    spiking = (potential > 0) & (rate > 0)
    periods = np.ceil(period_scale / np.where(spiking, rate, 1.0))
    return np.where(spiking, periods, 0).astype(np.int64)


def _periods_and_steps(periods: np.ndarray, time_steps: int) -> np.ndarray:
    periods = np.asarray(periods)
    if periods.ndim != 2:
        raise ValueError(f"periods must have shape (n, inputs), got shape {periods.shape}")
    if int(time_steps) < 1:
        raise ValueError(f"time_steps must be at least 1, got {time_steps}")
    return periods.astype(np.int64)


def periodic_spike_trains(periods: np.ndarray, time_steps: int) -> np.ndarray:
    """Boolean spike trains (n, inputs, T): S[k, i, t-1] iff periods[k, i] > 0 divides t, t = 1..T.

    A dense helper for tests and oracles; the engine works from the periods directly.
    """
    periods = _periods_and_steps(periods, time_steps)
    t = np.arange(1, int(time_steps) + 1)
    safe = np.where(periods > 0, periods, 1)[:, :, None]
    return (periods[:, :, None] > 0) & (t[None, None, :] % safe == 0)


def max_coincident_inputs(periods: np.ndarray, time_steps: int) -> np.ndarray:
    """Largest number of inputs that spike in the same step t = 1..T, int64 shape (n,) (A.5).

    Equal to ``periodic_spike_trains(periods, T).sum(1).max(1)`` but computed per distinct
    period: count(t) = sum over periods p that divide t of (number of inputs with period p).
    """
    periods = _periods_and_steps(periods, time_steps)
    t = np.arange(1, int(time_steps) + 1)
    result = np.zeros(periods.shape[0], dtype=np.int64)
    for start in range(0, periods.shape[0], _CHUNK):
        chunk = periods[start : start + _CHUNK]
        n = chunk.shape[0]
        distinct, inverse = np.unique(chunk, return_inverse=True)
        per_period = np.bincount(
            (np.arange(n)[:, None] * len(distinct) + inverse.reshape(chunk.shape)).ravel(),
            minlength=n * len(distinct),
        ).reshape(n, len(distinct))
        safe = np.where(distinct > 0, distinct, 1)
        divides = (distinct[:, None] > 0) & (t[None, :] % safe[:, None] == 0)
        result[start : start + n] = (per_period @ divides.astype(np.int64)).max(axis=1)
    return result


def row_normalised_probabilities(images: np.ndarray) -> np.ndarray:
    """Per-step spike probabilities, shape (n, h*w), of the stochastic encoding (A.3).

    Each image row (along the width) is L2-normalised, as sklearn ``normalize`` does; rows of
    zeros stay zero. Pixel (r, c) then spikes in each time step with probability p[r, c].
    """
    images = _images(images)
    norms = np.linalg.norm(images, axis=2, keepdims=True)
    probabilities = np.divide(images, norms, out=np.zeros_like(images), where=norms > 0)
    return probabilities.reshape(images.shape[0], -1)


def poisson_rates(images_0_255: np.ndarray) -> np.ndarray:
    """Poisson rates in Hz at intensity 1, shape (n, D), from RAW pixel values 0..255 (B.4).

    rate = pixel / 8 Hz per unit of intensity; Diehl & Cook start at intensity 2, so a pixel of
    255 fires at 63.75 Hz there. The input is (n, h, w) or (n, D) and is flattened per sample.
    """
    pixels = np.asarray(images_0_255, dtype=np.float64)
    if pixels.ndim < 2:
        raise ValueError(f"images must have shape (n, ...), got shape {pixels.shape}")
    return pixels.reshape(pixels.shape[0], -1) / 8.0


@dataclass(frozen=True)
class EncodedInputs:
    """Network inputs for n samples.

    ``values`` (n, D) float64: periods in time steps ("periodic"), per-step spike probabilities
    ("bernoulli") or rates in Hz at intensity 1 ("poisson"). ``coincidence`` (n,) float64: the
    per-image count that sets the variable threshold of A.5 (0 for "poisson"). ``kind`` is the
    method name; ``description`` says in words what ``values`` holds.
    """

    values: np.ndarray
    coincidence: np.ndarray
    kind: str
    description: str


_OPTIONS = frozenset({"kernel", "period_scale", "p_range", "f_range"})


def encode_for_network(
    images: np.ndarray, method: str, time_steps: int, **options: Any
) -> EncodedInputs:
    """Encode images in [0, 1], shape (n, h, w), for a network run of ``time_steps`` steps.

    - "periodic" (A.2 + A.3): receptive-field potential (option ``kernel``, default "training"),
      then periods (options ``period_scale``, ``p_range``, ``f_range``); coincidence = the
      largest number of inputs spiking in one step.
    - "bernoulli" (A.3 ``encode_stochastic``): row-normalised raw images as per-step spike
      probabilities (no receptive field); coincidence = expected inputs spiking per step.
    - "poisson" (B.4): rates in Hz at intensity 1 from pixel = 255 x; coincidence = 0.

    Options that do not apply to ``method`` are ignored; unknown names raise ConfigError.
    """
    unknown = sorted(set(options) - _OPTIONS)
    if unknown:
        raise ConfigError(
            f"unknown encoding option(s) {', '.join(unknown)}; "
            f"choose from: {', '.join(sorted(_OPTIONS))}"
        )
    images = _images(images)
    if method == "periodic":
        kernel = options.get("kernel", "training")
        potential = receptive_field_potential(images, kernel)
        periods = periodic_spike_periods(
            potential,
            period_scale=float(options.get("period_scale", DEFAULT_PERIOD_SCALE)),
            p_range=tuple(options.get("p_range", DEFAULT_P_RANGE)),
            f_range=tuple(options.get("f_range", DEFAULT_F_RANGE)),
        )
        return EncodedInputs(
            values=periods.astype(np.float64),
            coincidence=max_coincident_inputs(periods, time_steps).astype(np.float64),
            kind="periodic",
            description="inter-spike periods in time steps (0 = silent)",
        )
    if method == "bernoulli":
        probabilities = row_normalised_probabilities(images)
        return EncodedInputs(
            values=probabilities,
            coincidence=probabilities.sum(axis=1),
            kind="bernoulli",
            description="spike probabilities per time step (row-wise L2-normalised pixels)",
        )
    if method == "poisson":
        rates = poisson_rates(255.0 * images)
        return EncodedInputs(
            values=rates,
            coincidence=np.zeros(images.shape[0], dtype=np.float64),
            kind="poisson",
            description="Poisson rates in Hz at intensity 1 (pixel / 8)",
        )
    raise ConfigError(f"unknown encoding method '{method}'; choose one of: {', '.join(METHODS)}")
