"""Spoken digits: an offline, SHD-shaped substitute synthesised with espeak-ng and a cochlea.

The Spiking Heidelberg Digits (SHD) cannot be downloaded by brainsnn. ``brainsnn data
spoken-digits DIR`` makes a data set with SHD's classes, file layout and spike statistics
from synthetic speech:

* **Classes**: digits 0-9 in English (labels 0-9, keys ``english-zero`` ...) and German
  (labels 10-19, keys ``german-null`` ... ``german-fuenf`` ... ``german-neun``), as in SHD.
* **Speech**: Debian's espeak-ng (``apt-get install espeak-ng``) at its native 22,050 Hz
  (no resampling: the highest filter, 8 kHz, lies below the 11 kHz Nyquist frequency).
  A *speaker* is one espeak-ng voice variant (``m1``-``m7``, ``f1``-``f5``, ``klatt``,
  ``Annie``, ... 20 in all, half male, half female) that speaks both languages, English
  with a British (``en``) or American (``en-us``) accent, with its own base pitch
  (espeak-ng -p, 30-70) and speed (-s, 95-145 words per minute). Each utterance draws its
  pitch (base +- 8) and speed (base +- 15 wpm) from the seeded RNG. The test split is
  speaker-disjoint, as in SHD (where 2 of 12 speakers are test-only): a fifth of the
  speakers, chosen by the seed, are held out.
* **Audio**: leading and trailing silence (below 1 % of the peak) is trimmed, 10 ms of
  silence appended for the filters to ring out, the utterance cut at 1.4 s and scaled to an
  RMS of 0.05 (full scale 1). Spike times are seconds from the utterance start.
* **Cochlea**: a first-order pre-emphasis ``y[n] = x[n] - 0.8 x[n-1]`` (a crude outer and
  middle ear that lifts the fricatives into the high channels), then brian2hears'
  ``Gammatone`` filterbank (4th order, ERB bandwidths) with 700 centre frequencies
  ``erbspace(50 Hz, 8 kHz, 700)``; unit 0 is the lowest (50 Hz). The filters run through
  ``scipy.signal.sosfilt`` with brian2hears' coefficients (same output to 1e-14, about 5x
  faster than ``Gammatone.process``). The basilar-membrane output is half-wave rectified
  and compressed with a cube root.
* **Spiking**: one leaky integrate-and-fire neuron per channel,
  ``dv/dt = (gain * I(t) - v) / tau_m  (unless refractory)``, threshold ``v > 1``, reset
  ``v = 0``, tau_m = 1 ms, refractory 1 ms, gain 8, integrated exactly at the audio rate
  (dt = 1/22,050 s). The NumPy loop gives exactly the spikes of a Brian2 ``NeuronGroup``
  with ``method='exact'`` (checked by the tests).

Why NumPy and not Brian2 for the spiking: driving a Brian2 ``NeuronGroup`` through
brian2hears' ``FilterbankGroup`` took 1.9 s (numpy target) or 1.1 s (cython target, after an
11 s compilation) per 0.73 s utterance on one core, against about 0.25 s for sosfilt plus
the vectorised NumPy LIF; the default 2,000 utterances would take 20-30 min on two cores
instead of about 6.

The default set (20 speakers x 20 classes x 5 utterances; 16 training speakers, 4 test
speakers) took 6.5 min on 2 shared cores: 1,600 training and 400 test samples, on average
5,400 / 6,100 spikes per sample (5th-95th percentile 2,500-8,600 / 2,600-11,500; about
9,000 per second of speech, ~250 active channels), utterances 0.60 / 0.68 s long (at most
1.4 s), 46 MB in all.

Files: ``spoken_train.h5`` and ``spoken_test.h5`` in SHD's layout (``write_shd``);
``extra/speaker`` is the speaker index, ``extra/meta_info`` holds per-speaker arrays
(``voice_variant``, ``gender``, ``english_voice``, ``base_pitch``, ``base_speed_wpm``,
``test_only``; index = speaker, as in SHD) and per-utterance arrays (``utterance_pitch``,
``utterance_speed_wpm``, ``utterance_duration_s``; index = sample). The root attribute
``brainsnn_spoken_digits`` holds the generation settings (JSON): each split is written
atomically, and a rerun with the same settings reuses the finished splits.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from brainsnn.core.errors import ConfigError, DataError
from brainsnn.data.shd import SpikeEvents, import_h5py, read_shd, write_shd

#: Digit words per language code (= espeak-ng voice): (language name used in keys, words).
LANGUAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "en": (
        "english",
        ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    ),
    "de": (
        "german",
        ("null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun"),
    ),
}

#: Label offset of each language, as in SHD (English 0-9, German 10-19).
LABEL_OFFSET = {"en": 0, "de": 10}

#: Speakers: (espeak-ng voice variant, gender, English voice). Index = speaker id.
SPEAKERS: tuple[tuple[str, str, str], ...] = (
    ("m1", "male", "en"),
    ("f1", "female", "en-us"),
    ("m2", "male", "en-us"),
    ("f2", "female", "en"),
    ("m3", "male", "en"),
    ("f3", "female", "en-us"),
    ("m4", "male", "en-us"),
    ("f4", "female", "en"),
    ("m5", "male", "en"),
    ("f5", "female", "en-us"),
    ("m6", "male", "en-us"),
    ("Annie", "female", "en"),
    ("m7", "male", "en"),
    ("linda", "female", "en-us"),
    ("klatt", "male", "en-us"),
    ("steph", "female", "en"),
    ("klatt3", "male", "en"),
    ("Alicia", "female", "en-us"),
    ("Andy", "male", "en-us"),
    ("belinda", "female", "en"),
)

#: Sample rate of espeak-ng's output (Hz); the filterbank is designed for it.
ESPEAK_SAMPLERATE = 22050

SPLIT_FILES = {"train": "spoken_train.h5", "test": "spoken_test.h5"}

_CONFIG_ATTR = "brainsnn_spoken_digits"


@dataclass(frozen=True)
class CochleaParameters:
    """Filterbank and spiking parameters (SI units: Hz, seconds)."""

    n_channels: int = 700
    f_low_hz: float = 50.0
    f_high_hz: float = 8000.0
    rms: float = 0.05  # RMS of the utterance after scaling (full scale = 1)
    silence_fraction: float = 0.01  # trim where |audio| stays below this fraction of the peak
    tail_s: float = 0.01  # silence appended after trimming
    max_duration_s: float = 1.4
    pre_emphasis: float = 0.8  # middle ear: y[n] = x[n] - 0.8 x[n-1] (high-pass tilt)
    compression: float = 1 / 3  # exponent applied to the half-wave-rectified output
    gain: float = 8.0  # LIF drive per unit of compressed filter output
    tau_m_s: float = 1e-3
    refractory_s: float = 1e-3
    threshold: float = 1.0


@dataclass(frozen=True)
class Utterance:
    """One word to synthesise: espeak-ng voice (``en+m1``), speed (wpm) and pitch (0-99)."""

    word: str
    voice: str
    speed_wpm: int
    pitch: int


# --- speech ------------------------------------------------------------------------------


def espeak_path() -> str:
    """Path of the espeak-ng executable; DataError if it is not installed."""
    path = shutil.which("espeak-ng")
    if path is None:
        raise DataError(
            "espeak-ng not found: install it with 'apt-get install espeak-ng' "
            "(needed by brainsnn data spoken-digits)"
        )
    return path


def _parse_wav(raw: bytes) -> tuple[np.ndarray, int]:
    """16-bit mono WAV from espeak-ng --stdout (whose header sizes are placeholders)."""
    if raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        raise DataError("espeak-ng did not write a WAV file")
    samplerate = int.from_bytes(raw[24:28], "little")
    start = raw.find(b"data", 12)
    if start < 0:
        raise DataError("espeak-ng wrote a WAV file without a data chunk")
    payload = raw[start + 8 :]
    samples = np.frombuffer(payload[: len(payload) // 2 * 2], dtype="<i2")
    return samples.astype(np.float64) / 32768.0, samplerate


def speak(utterance: Utterance) -> tuple[np.ndarray, int]:
    """Synthesise one word with espeak-ng: (audio float64 in [-1, 1], sample rate in Hz)."""
    command = [
        espeak_path(),
        "-v",
        utterance.voice,
        "-s",
        str(utterance.speed_wpm),
        "-p",
        str(utterance.pitch),
        "--stdout",
        utterance.word,
    ]
    try:
        result = subprocess.run(command, capture_output=True, check=True, timeout=60)
    except subprocess.CalledProcessError as exc:
        message = exc.stderr.decode(errors="replace").strip()
        raise DataError(f"espeak-ng failed for {utterance}: {message}") from exc
    return _parse_wav(result.stdout)


def prepare_audio(audio: np.ndarray, samplerate: int, params: CochleaParameters) -> np.ndarray:
    """Trim silence, append ``tail_s`` of silence, cut at ``max_duration_s``, scale to ``rms``."""
    audio = np.asarray(audio, dtype=np.float64)
    peak = np.abs(audio).max() if audio.size else 0.0
    if peak == 0:
        raise DataError("the synthesised utterance is silent")
    loud = np.flatnonzero(np.abs(audio) >= params.silence_fraction * peak)
    audio = audio[loud[0] : loud[-1] + 1]
    audio = np.concatenate([audio, np.zeros(round(params.tail_s * samplerate))])
    audio = audio[: round(params.max_duration_s * samplerate)]
    return audio * (params.rms / np.sqrt(np.mean(audio**2)))


# --- cochlea -----------------------------------------------------------------------------


@lru_cache(maxsize=4)
def gammatone_sos(
    n_channels: int, samplerate: float, f_low_hz: float, f_high_hz: float
) -> tuple[np.ndarray, np.ndarray]:
    """brian2hears Gammatone filters as second-order sections (n_channels, 4, 6), and the
    centre frequencies (Hz) from ``erbspace(f_low, f_high, n_channels)`` (lowest first)."""
    try:
        import brian2hears as b2h
        from brian2 import Hz
    except ImportError as exc:
        raise DataError(
            "brian2hears is needed for the cochlea model: pip install 'brainsnn[gradient]'"
        ) from exc
    cf = b2h.erbspace(f_low_hz * Hz, f_high_hz * Hz, n_channels)
    silence = b2h.Sound(np.zeros(8), samplerate=samplerate * Hz)
    bank = b2h.Gammatone(silence, cf)
    b, a = np.asarray(bank.filt_b), np.asarray(bank.filt_a)  # (n_channels, 3, n_stages)
    sos = np.concatenate([b.transpose(0, 2, 1), a.transpose(0, 2, 1)], axis=2)
    sos = sos / sos[:, :, 3:4]
    return np.ascontiguousarray(sos), np.asarray(cf / Hz)


def filterbank(audio: np.ndarray, sos: np.ndarray) -> np.ndarray:
    """Basilar-membrane output (time, channel) float32 of each channel's filter ``sos[c]``."""
    from scipy.signal import sosfilt

    out = np.empty((len(audio), len(sos)), dtype=np.float32)
    for c in range(len(sos)):
        out[:, c] = sosfilt(sos[c], audio)
    return out


def lif_spikes(
    drive: np.ndarray, dt: float, tau_m: float, refractory: float, threshold: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Spikes of LIF neurons ``dv/dt = (drive - v) / tau_m (unless refractory)``.

    ``drive`` (steps, neurons) is held constant over each step of dt seconds. Exact
    integration ``v <- drive - drive * exp(-dt/tau_m) + v * exp(-dt/tau_m)``, spike when
    v > threshold, reset to 0, then no integration for ``int(refractory/dt + 1e-3)`` steps
    counted from the spike step (Brian2's update order, formula and refractoriness).
    Returns (step indices, neuron indices) int64, sorted by step.
    """
    decay = math.exp(-dt / tau_m)
    n_ref = int(refractory / dt + 1e-3)
    n_steps, n_neurons = drive.shape
    v = np.zeros(n_neurons)
    free_at = np.zeros(n_neurons, dtype=np.int64)  # first step at which a neuron integrates
    steps: list[np.ndarray] = []
    units: list[np.ndarray] = []
    settle = drive - drive * decay  # written as Brian2's exact update, for equal rounding
    for k in range(n_steps):
        v *= decay
        v += settle[k]
        v[free_at > k] = 0.0
        fired = np.flatnonzero(v > threshold)
        if fired.size:
            v[fired] = 0.0
            free_at[fired] = k + n_ref
            steps.append(np.full(fired.size, k, dtype=np.int64))
            units.append(fired)
    if not steps:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(steps), np.concatenate(units)


def cochlea_spikes(
    audio: np.ndarray, samplerate: int, params: CochleaParameters, sos: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Spike (times in s, channels) of prepared audio through the filterbank ``sos``."""
    if params.pre_emphasis:
        audio = np.concatenate([audio[:1], audio[1:] - params.pre_emphasis * audio[:-1]])
    bm = filterbank(audio, sos)
    np.maximum(bm, 0, out=bm)
    compressed = np.cbrt(bm) if params.compression == 1 / 3 else bm**params.compression
    drive = params.gain * compressed
    steps, units = lif_spikes(
        drive, 1.0 / samplerate, params.tau_m_s, params.refractory_s, params.threshold
    )
    return steps / samplerate, units


# --- data set ----------------------------------------------------------------------------

_WORKER_SOS: np.ndarray | None = None


def _init_worker(sos: np.ndarray) -> None:
    global _WORKER_SOS
    _WORKER_SOS = sos


def _utterance_spikes(
    task: tuple[Utterance, CochleaParameters],
) -> tuple[np.ndarray, np.ndarray, float]:
    """(times float32 s, units uint16, duration s) of one utterance (runs in a worker)."""
    utterance, params = task
    assert _WORKER_SOS is not None
    audio, samplerate = speak(utterance)
    if samplerate != ESPEAK_SAMPLERATE:
        raise DataError(f"espeak-ng wrote {samplerate} Hz audio, expected {ESPEAK_SAMPLERATE}")
    audio = prepare_audio(audio, samplerate, params)
    times, units = cochlea_spikes(audio, samplerate, params, _WORKER_SOS)
    return times.astype(np.float32), units.astype(np.uint16), len(audio) / samplerate


def class_keys() -> list[str]:
    """SHD's 20 class names (index = label): ``english-zero`` ... ``german-neun``."""
    keys = [""] * 20
    for lang, (name, words) in LANGUAGES.items():
        for digit, word in enumerate(words):
            keys[LABEL_OFFSET[lang] + digit] = f"{name}-{word.replace('ü', 'ue')}"
    return keys


def _check_options(
    languages: tuple[str, ...],
    digits: tuple[int, ...],
    n_speakers: int,
    per_class_speaker: int,
    channels: int,
    test_fraction: float,
) -> None:
    unknown = [lang for lang in languages if lang not in LANGUAGES]
    if unknown or not languages:
        raise ConfigError(f"languages must be among {', '.join(LANGUAGES)}, got {languages}")
    if not digits or any(d not in range(10) for d in digits) or len(set(digits)) != len(digits):
        raise ConfigError(f"digits must be distinct values in 0..9, got {digits}")
    if not 2 <= n_speakers <= len(SPEAKERS):
        raise ConfigError(f"speakers must be in 2..{len(SPEAKERS)}, got {n_speakers}")
    if per_class_speaker < 1:
        raise ConfigError(f"per-class-speaker must be >= 1, got {per_class_speaker}")
    if not 1 <= channels <= 65536:
        raise ConfigError(f"channels must be in 1..65536, got {channels}")
    if not 0 < test_fraction < 1:
        raise ConfigError(f"test_fraction must be in (0, 1), got {test_fraction}")


def _plan(
    languages: tuple[str, ...],
    digits: tuple[int, ...],
    n_speakers: int,
    per_class_speaker: int,
    test_fraction: float,
    seed: int,
) -> tuple[dict[str, list[tuple[int, int, Utterance]]], dict[str, np.ndarray]]:
    """Utterances per split as (label, speaker, Utterance), and the per-speaker table."""
    rng = np.random.default_rng(seed)
    base_pitch = rng.integers(30, 71, size=n_speakers)
    base_speed = rng.integers(95, 146, size=n_speakers)
    n_test = min(n_speakers - 1, max(1, round(test_fraction * n_speakers)))
    test_speakers = set(rng.permutation(n_speakers)[:n_test].tolist())
    plan: dict[str, list[tuple[int, int, Utterance]]] = {"train": [], "test": []}
    for speaker in range(n_speakers):
        variant, _, english = SPEAKERS[speaker]
        split = "test" if speaker in test_speakers else "train"
        for lang in languages:
            base_voice = english if lang == "en" else lang
            for digit in digits:
                word = LANGUAGES[lang][1][digit]
                for _ in range(per_class_speaker):
                    pitch = int(np.clip(base_pitch[speaker] + rng.integers(-8, 9), 0, 99))
                    speed = int(base_speed[speaker] + rng.integers(-15, 16))
                    utterance = Utterance(word, f"{base_voice}+{variant}", speed, pitch)
                    plan[split].append((LABEL_OFFSET[lang] + digit, speaker, utterance))
    table = {
        "voice_variant": np.array([s[0] for s in SPEAKERS[:n_speakers]]),
        "gender": np.array([s[1] for s in SPEAKERS[:n_speakers]]),
        "english_voice": np.array([s[2] for s in SPEAKERS[:n_speakers]]),
        "base_pitch": base_pitch.astype(np.int16),
        "base_speed_wpm": base_speed.astype(np.int16),
        "test_only": np.array([s in test_speakers for s in range(n_speakers)]),
    }
    return plan, table


def _existing_split(path: Path, config: str) -> SpikeEvents | None:
    """The events of an earlier run with the same settings, None if there is no file."""
    if not path.is_file():
        return None
    h5py = import_h5py()
    try:
        with h5py.File(path, "r") as f:
            stored = f.attrs.get(_CONFIG_ATTR)
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc}; delete it to regenerate") from exc
    if stored != config:
        raise DataError(
            f"{path} exists but was made with other settings; delete it or choose another "
            "output directory"
        )
    return read_shd(path)


def _spawn_pool(workers: int, sos: np.ndarray) -> ProcessPoolExecutor:
    """Worker processes (spawned: no fork of a threaded parent) that know the filterbank."""
    import multiprocessing

    return ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(sos,),
    )


def _run_tasks(
    tasks: list[tuple[Utterance, CochleaParameters]],
    sos: np.ndarray,
    pool: ProcessPoolExecutor | None,
    desc: str,
    show_progress: bool,
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Spikes of every task, in order: in ``pool``, or in this process when it is None."""
    from tqdm import tqdm

    if pool is None:
        _init_worker(sos)
        results_iter = map(_utterance_spikes, tasks)
    else:
        results_iter = pool.map(_utterance_spikes, tasks, chunksize=4)
    results = []
    with tqdm(total=len(tasks), desc=desc, unit="utt", disable=not show_progress) as bar:
        for result in results_iter:
            results.append(result)
            bar.update()
    return results


def _split_events(
    items: list[tuple[int, int, Utterance]],
    results: list[tuple[np.ndarray, np.ndarray, float]],
    speaker_table: dict[str, np.ndarray],
    keys: list[str],
    channels: int,
) -> SpikeEvents:
    """SHD-shaped events of one split, with per-speaker and per-utterance meta_info."""
    meta = dict(speaker_table)
    meta["utterance_pitch"] = np.array([u.pitch for _, _, u in items], dtype=np.int16)
    meta["utterance_speed_wpm"] = np.array([u.speed_wpm for _, _, u in items], dtype=np.int16)
    meta["utterance_duration_s"] = np.array([r[2] for r in results], dtype=np.float32)
    return SpikeEvents(
        times=[r[0] for r in results],
        units=[r[1] for r in results],
        labels=np.array([label for label, _, _ in items], dtype=np.int64),
        speakers=np.array([speaker for _, speaker, _ in items], dtype=np.int64),
        keys=keys,
        n_units=channels,
        meta_info=meta,
    )


def _split_stats(events: SpikeEvents) -> dict[str, float]:
    counts = np.array([len(t) for t in events.times])
    ends = np.array([float(np.max(t)) if len(t) else 0.0 for t in events.times])
    durations = events.meta_info.get("utterance_duration_s")
    return {
        "samples": len(events),
        "mean_spikes": float(counts.mean()) if counts.size else 0.0,
        "min_spikes": int(counts.min()) if counts.size else 0,
        "max_spikes": int(counts.max()) if counts.size else 0,
        "mean_duration_s": float(np.mean(durations)) if durations is not None else math.nan,
        "max_spike_time_s": float(ends.max()) if ends.size else 0.0,
    }


def synthesise_spoken_digits(
    out_dir: str | Path,
    per_class_speaker: int = 5,
    n_speakers: int = 20,
    languages: tuple[str, ...] | list[str] = ("en", "de"),
    digits: tuple[int, ...] | list[int] = tuple(range(10)),
    channels: int = 700,
    seed: int = 0,
    test_fraction: float = 0.2,
    workers: int | None = None,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Write ``spoken_train.h5`` and ``spoken_test.h5`` (SHD layout) into ``out_dir``.

    Each of ``n_speakers`` speakers says each of ``digits`` in each language
    ``per_class_speaker`` times; ``test_fraction`` of the speakers are test-only. Labels and
    keys are SHD's 20 classes whatever the subset. ``channels`` filterbank channels
    (700 like SHD). ``workers`` processes (default: the CPU count) synthesise in parallel;
    the result does not depend on it. Each split is written atomically; a split already
    written with the same settings is reused. Returns the paths, per-split statistics
    (samples, mean/min/max spikes, mean duration in s) and the run time in seconds.
    """
    start = time.perf_counter()
    languages = tuple(languages)
    digits = tuple(int(d) for d in digits)
    _check_options(languages, digits, n_speakers, per_class_speaker, channels, test_fraction)
    espeak_path()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    params = CochleaParameters(n_channels=channels)
    settings = {
        "per_class_speaker": per_class_speaker,
        "n_speakers": n_speakers,
        "languages": list(languages),
        "digits": list(digits),
        "seed": seed,
        "test_fraction": test_fraction,
        "cochlea": asdict(params),
    }
    config = json.dumps(settings, sort_keys=True)
    plan, speaker_table = _plan(
        languages, digits, n_speakers, per_class_speaker, test_fraction, seed
    )
    keys = class_keys()
    workers = workers or os.cpu_count() or 1
    report: dict[str, Any] = {"out_dir": str(out_dir)}
    with ExitStack() as stack:
        sos, pool = None, None
        for split, items in plan.items():
            path = out_dir / SPLIT_FILES[split]
            events = _existing_split(path, config)
            if events is None:
                if sos is None:
                    sos, _ = gammatone_sos(
                        channels, ESPEAK_SAMPLERATE, params.f_low_hz, params.f_high_hz
                    )
                if pool is None and workers > 1:
                    pool = stack.enter_context(_spawn_pool(workers, sos))
                tasks = [(utterance, params) for _, _, utterance in items]
                results = _run_tasks(tasks, sos, pool, split, show_progress)
                events = _split_events(items, results, speaker_table, keys, channels)
                write_shd(path, events, attrs={_CONFIG_ATTR: config})
                events = read_shd(path)  # statistics of what was stored (float16 times)
            report[split] = str(path)
            report[f"{split}_stats"] = _split_stats(events)
            report[f"{split}_speakers"] = sorted({int(s) for s in np.asarray(events.speakers)})
    report["seconds"] = time.perf_counter() - start
    return report
