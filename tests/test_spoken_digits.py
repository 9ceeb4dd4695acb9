"""Tests for brainsnn.data.spoken_digits: the espeak-ng + cochlea substitute for SHD."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from brainsnn.cli import main
from brainsnn.core.errors import DataError
from brainsnn.data import read_shd, synthesise_spoken_digits
from brainsnn.data import spoken_digits as sd

pytest.importorskip("h5py")
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")

TINY = {
    "per_class_speaker": 2,
    "n_speakers": 3,
    "digits": (0, 7),
    "channels": 32,
    "seed": 1,
    "workers": 1,
    "show_progress": False,
}


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory):
    """2 digits x 2 languages x 3 speakers x 2 repetitions, 32 channels (24 utterances)."""
    pytest.importorskip("brian2hears")
    if shutil.which("espeak-ng") is None:
        pytest.skip("needs espeak-ng")
    out = tmp_path_factory.mktemp("spoken")
    return out, synthesise_spoken_digits(out, **TINY)


@needs_espeak
def test_tiny_set_reads_back_in_shd_layout(tiny_set):
    out, report = tiny_set
    train, test = read_shd(out / "spoken_train.h5"), read_shd(out / "spoken_test.h5")
    assert report["train_stats"]["samples"] == len(train) == 16  # 2 speakers x 4 classes x 2
    assert report["test_stats"]["samples"] == len(test) == 8  # 1 held-out speaker
    assert len(train.keys) == 20 and train.keys == test.keys
    assert (train.keys[0], train.keys[7]) == ("english-zero", "english-seven")
    assert (train.keys[10], train.keys[15], train.keys[17]) == (
        "german-null",
        "german-fuenf",
        "german-sieben",
    )
    for events in (train, test):
        assert events.n_units == 32
        assert sorted(set(events.labels.tolist())) == [0, 7, 10, 17]
        assert np.bincount(events.labels.astype(int)).max() == len(events) // 4
        for t, u in zip(events.times, events.units, strict=True):
            assert t.dtype == np.float16 and u.dtype == np.uint16
            assert len(t) > 20 and t.min() >= 0 and t.max() < 1.4 and u.max() < 32
        assert len(events.meta_info["utterance_pitch"]) == len(events)
        assert events.meta_info["voice_variant"].tolist()[:3] == [b"m1", b"f1", b"m2"]
    assert set(train.speakers.tolist()).isdisjoint(test.speakers.tolist())
    assert set(train.speakers.tolist()) | set(test.speakers.tolist()) == {0, 1, 2}


@needs_espeak
def test_different_digits_give_different_spike_patterns(tiny_set):
    out, _ = tiny_set
    events = read_shd(out / "spoken_train.h5")

    def profile(i: int) -> np.ndarray:
        """Spike counts per channel, normalised to sum 1."""
        counts = np.bincount(events.units[i].astype(int), minlength=32).astype(float)
        return counts / counts.sum()

    labels = events.labels.astype(int)
    zero, seven = np.flatnonzero(labels == 0), np.flatnonzero(labels == 7)
    same = np.mean([np.abs(profile(a) - profile(b)).sum() for a in zero for b in zero if a < b])
    other = np.mean([np.abs(profile(a) - profile(b)).sum() for a in zero for b in seven])
    assert other > 0.3 and other > 1.5 * same


@needs_espeak
def test_rerun_reuses_the_splits_and_other_settings_are_refused(tiny_set):
    out, report = tiny_set
    before = (out / "spoken_train.h5").stat().st_mtime_ns
    again = synthesise_spoken_digits(out, **TINY)
    assert (out / "spoken_train.h5").stat().st_mtime_ns == before
    assert again["train_stats"] == report["train_stats"]
    with pytest.raises(DataError, match="other settings"):
        synthesise_spoken_digits(out, **{**TINY, "seed": 2})


def test_missing_espeak_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setattr(sd.shutil, "which", lambda name: None)
    with pytest.raises(DataError, match="apt-get install espeak-ng"):
        synthesise_spoken_digits(tmp_path, **TINY)
    result = CliRunner().invoke(main, ["data", "spoken-digits", str(tmp_path / "x")])
    assert result.exit_code == 2 and "apt-get install espeak-ng" in result.output
    assert not (tmp_path / "x" / "spoken_train.h5").exists()


def test_lif_matches_a_brian2_neurongroup():
    """The NumPy LIF spikes exactly like Brian2's NeuronGroup (exact method, refractory)."""
    import brian2 as b2

    dt, tau, refractory = 1 / 22050, 1e-3, 1e-3
    drive = np.random.default_rng(0).uniform(0, 2.5, size=(300, 6))
    drive[:, 0] = 0.5  # never reaches threshold 1
    steps, units = sd.lif_spikes(drive, dt, tau, refractory)

    b2.set_device("runtime")  # an earlier test may have left a standalone device selected
    b2.start_scope()
    stimulus = b2.TimedArray(drive, dt=dt * b2.second)
    group = b2.NeuronGroup(
        6,
        "dv/dt = (stimulus(t, i) - v) / tau : 1 (unless refractory)",
        threshold="v > 1",
        reset="v = 0",
        refractory=refractory * b2.second,
        method="exact",
        dt=dt * b2.second,
        namespace={"stimulus": stimulus, "tau": tau * b2.second},
    )
    monitor = b2.SpikeMonitor(group)
    target = b2.prefs.codegen.target
    b2.prefs.codegen.target = "numpy"  # no compilation
    try:
        b2.run(300 * dt * b2.second)
    finally:
        b2.prefs.codegen.target = target
    brian_steps = np.round(monitor.t / b2.second / dt).astype(int).tolist()
    expected = sorted(zip(brian_steps, monitor.i[:].tolist(), strict=True))
    assert len(expected) > 20 and 0 not in units
    assert sorted(zip(steps.tolist(), units.tolist(), strict=True)) == expected


def test_filterbank_matches_brian2hears_gammatone():
    b2h = pytest.importorskip("brian2hears")
    from brian2 import Hz

    audio = np.random.default_rng(0).normal(0, 0.05, 600)
    sos, cf = sd.gammatone_sos(8, 22050.0, 50.0, 8000.0)
    assert cf[0] == pytest.approx(50) and cf[-1] == pytest.approx(8000)
    reference = b2h.Gammatone(b2h.Sound(audio, samplerate=22050 * Hz), cf * Hz).process()
    np.testing.assert_allclose(sd.filterbank(audio, sos), reference, rtol=1e-4, atol=1e-7)
