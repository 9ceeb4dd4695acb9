"""Tests for brainsnn.data.shd: SHD files, dense binning and the shift/scale augmentation."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

from brainsnn.core.errors import DataError
from brainsnn.data import (
    SpikeEvents,
    augment_shift_scale,
    bin_events,
    n_steps_needed,
    read_shd,
    write_shd,
)

h5py = pytest.importorskip("h5py")

# Times exactly representable in float16, so a write/read round trip keeps them.
TIMES = [np.array([0.0, 0.25, 0.3125, 0.3125, 0.875]), np.array([]), np.array([0.5])]
UNITS = [np.array([0, 1, 2, 2, 3]), np.array([], dtype=np.int64), np.array([1])]


def _events(n_units: int = 4) -> SpikeEvents:
    return SpikeEvents(
        times=[t.copy() for t in TIMES],
        units=[u.copy() for u in UNITS],
        labels=np.array([3, 0, 17]),
        speakers=np.array([1, 0, 1]),
        keys=["english-zero", "english-one"],
        n_units=n_units,
    )


def _objects(rows: list, dtype: type) -> np.ndarray:
    out = np.empty(len(rows), dtype=object)
    for i, row in enumerate(rows):
        out[i] = np.asarray(row, dtype=dtype)
    return out


def _write_official(path: Path, times: list, units: list, labels: np.ndarray) -> None:
    """A file in the official layout written with h5py directly (no n_units attribute)."""
    with h5py.File(path, "w") as f:
        f.create_dataset(
            "spikes/times", data=_objects(times, np.float16), dtype=h5py.vlen_dtype(np.float16)
        )
        f.create_dataset(
            "spikes/units", data=_objects(units, np.uint16), dtype=h5py.vlen_dtype(np.uint16)
        )
        f.create_dataset("labels", data=labels.astype(np.uint16))
        f.create_dataset("extra/speaker", data=np.zeros(len(labels), np.uint16))
        f.create_dataset("extra/keys", data=np.array([b"english-zero", b"german-neun"]))
        f.create_dataset("extra/meta_info/gender", data=np.array([b"female"]))


# --- files ----------------------------------------------------------------------------------


def test_write_read_round_trip_in_the_official_layout_and_dtypes(tmp_path):
    path = tmp_path / "shd_train.h5"
    meta = {"gender": np.array(["female", "male"]), "age": np.array([30, 41])}
    write_shd(path, _events(), meta_info=meta)
    assert [p.name for p in tmp_path.iterdir()] == ["shd_train.h5"]  # no temporary file left
    umask = os.umask(0o022)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600
    with h5py.File(path, "r") as f:
        assert h5py.check_vlen_dtype(f["spikes/times"].dtype) == np.float16
        assert h5py.check_vlen_dtype(f["spikes/units"].dtype) == np.uint16
        assert f["labels"].dtype == np.uint16 and f["extra/speaker"].dtype == np.uint16
        assert f["extra/keys"].dtype.kind == "S" and f["extra/meta_info/gender"].dtype.kind == "S"
    events = read_shd(path)
    assert len(events) == 3 and events.n_units == 4
    for got, want in zip(events.times, TIMES, strict=True):
        assert got.dtype == np.float16
        np.testing.assert_array_equal(got, want)
    for got, want in zip(events.units, UNITS, strict=True):
        assert got.dtype == np.uint16
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(events.labels, [3, 0, 17])
    np.testing.assert_array_equal(events.speakers, [1, 0, 1])
    assert events.keys == ["english-zero", "english-one"]
    assert events.meta_info["gender"].tolist() == [b"female", b"male"]
    np.testing.assert_array_equal(events.meta_info["age"], [30, 41])


def test_reads_a_file_written_like_the_official_ones(tmp_path):
    path = tmp_path / "shd_test.h5"
    _write_official(path, TIMES, UNITS, np.array([1, 2, 19]))
    events = read_shd(path)
    assert events.n_units == 700 and events.keys == ["english-zero", "german-neun"]
    np.testing.assert_array_equal(events.labels, [1, 2, 19])
    np.testing.assert_array_equal(events.times[0], TIMES[0])
    assert events.meta_info["gender"].tolist() == [b"female"]


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "a.h5"
    write_shd(path, _events())
    with pytest.raises(TypeError):
        write_shd(path, _events(), meta_info={"bad": np.array([object()])})
    assert [p.name for p in tmp_path.iterdir()] == ["a.h5"]
    assert len(read_shd(path)) == 3
    bad = _events()
    bad.units[0][0] = 9  # >= n_units
    with pytest.raises(DataError, match="unit ids"):
        write_shd(tmp_path / "b.h5", bad)
    assert not (tmp_path / "b.h5").exists()


def test_missing_file_says_where_shd_comes_from(tmp_path):
    with pytest.raises(DataError) as info:
        read_shd(tmp_path / "shd_train.h5")
    message = str(info.value)
    assert "https://zenkelab.org/datasets/" in message and "gunzip" in message
    assert "brainsnn data spoken-digits" in message and "\n" not in message


def test_gzipped_file_asks_to_gunzip(tmp_path):
    (tmp_path / "shd_train.h5.gz").write_bytes(gzip.compress(b"x"))
    with pytest.raises(DataError, match="gunzip it first"):
        read_shd(tmp_path / "shd_train.h5")
    with pytest.raises(DataError, match="gzip-compressed"):
        read_shd(tmp_path / "shd_train.h5.gz")


def test_malformed_files_name_the_file_and_the_problem(tmp_path):
    no_labels = tmp_path / "no_labels.h5"
    with h5py.File(no_labels, "w") as f:
        f.create_dataset("spikes/times", data=np.zeros(2))
        f.create_dataset("spikes/units", data=np.zeros(2))
    with pytest.raises(DataError, match=r"no_labels\.h5 is not an SHD file: no dataset labels"):
        read_shd(no_labels)

    flat = tmp_path / "flat.h5"
    with h5py.File(flat, "w") as f:
        f.create_dataset("spikes/times", data=np.zeros(2))
        f.create_dataset("spikes/units", data=np.zeros(2))
        f.create_dataset("labels", data=np.zeros(2))
    with pytest.raises(DataError, match=r"flat\.h5: spikes/times must be a ragged dataset"):
        read_shd(flat)

    ragged = tmp_path / "ragged.h5"
    _write_official(ragged, TIMES, [UNITS[0], np.array([5]), UNITS[2]], np.array([0, 1, 2]))
    with pytest.raises(DataError, match=r"ragged\.h5: sample 1 has 0 spike times but 1 spike"):
        read_shd(ragged)

    short = tmp_path / "short.h5"
    _write_official(short, TIMES, UNITS, np.array([0, 1]))
    with pytest.raises(DataError, match=r"short\.h5: 3 spikes/times and 3 spikes/units rows"):
        read_shd(short)

    not_hdf5 = tmp_path / "text.h5"
    not_hdf5.write_text("hello")
    with pytest.raises(DataError, match=r"cannot read .*text\.h5 as HDF5"):
        read_shd(not_hdf5)

    too_few_units = tmp_path / "units.h5"
    _write_official(too_few_units, TIMES, UNITS, np.array([0, 1, 2]))
    with pytest.raises(DataError, match=r"units\.h5: unit id 3 out of range 0\.\.2"):
        read_shd(too_few_units, n_units=3)


# --- binning ----------------------------------------------------------------------------------
# Sample 0: t = 0, 0.25, 0.3125, 0.3125, 0.875 s on units 0, 1, 2, 2, 3; dt = 0.25 s.
#   floor bins 0, 1, 1, 1, 3;  ceil bins 0, 1, 2, 2, 4 (t = 0 stays in bin 0).
# Sample 1: no spike. Sample 2: t = 0.5 s on unit 1 (bin 2 both ways: 0.5 / 0.25 = 2).


def _dense(n_steps: int, entries: dict[tuple[int, int], float]) -> np.ndarray:
    """(n_steps, 4) with entries {(step, unit): count}."""
    out = np.zeros((n_steps, 4), dtype=np.float32)
    for (step, unit), count in entries.items():
        out[step, unit] = count
    return out


def test_floor_start_counts_duplicates_and_drops_late_events():
    x = bin_events(_events(), dt=0.25, n_steps=3)
    assert x.shape == (3, 3, 4) and x.dtype == np.float32
    # the t = 0.875 s spike (bin 3) is dropped; the two spikes on unit 2 in bin 1 add up
    np.testing.assert_array_equal(x[0], _dense(3, {(0, 0): 1, (1, 1): 1, (1, 2): 2}))
    np.testing.assert_array_equal(x[1], np.zeros((3, 4)))
    np.testing.assert_array_equal(x[2], _dense(3, {(2, 1): 1}))
    full = bin_events(_events(), dt=0.25, n_steps=5)
    np.testing.assert_array_equal(full[0], _dense(5, {(0, 0): 1, (1, 1): 1, (1, 2): 2, (3, 3): 1}))


def test_ceil_start_and_ceil_end():
    x = bin_events(_events(), dt=0.25, n_steps=5, rounding="ceil")
    np.testing.assert_array_equal(x[0], _dense(5, {(0, 0): 1, (1, 1): 1, (2, 2): 2, (4, 3): 1}))
    # end alignment: the last occupied bin lands on the final step, zeros before
    x = bin_events(_events(), dt=0.25, n_steps=6, rounding="ceil", align="end")
    np.testing.assert_array_equal(x[0], _dense(6, {(1, 0): 1, (2, 1): 1, (3, 2): 2, (5, 3): 1}))
    np.testing.assert_array_equal(x[1], np.zeros((6, 4)))
    np.testing.assert_array_equal(x[2], _dense(6, {(5, 1): 1}))
    # late events are dropped first, then the remaining ones are aligned to the end
    x = bin_events(_events(), dt=0.25, n_steps=4, rounding="ceil", align="end")
    np.testing.assert_array_equal(x[0], _dense(4, {(1, 0): 1, (2, 1): 1, (3, 2): 2}))


def test_floor_end_and_index_subset():
    x = bin_events(_events(), dt=0.25, n_steps=5, align="end", indices=np.array([2, 0]))
    assert x.shape == (2, 5, 4)
    np.testing.assert_array_equal(x[0], _dense(5, {(4, 1): 1}))
    np.testing.assert_array_equal(x[1], _dense(5, {(1, 0): 1, (2, 1): 1, (2, 2): 2, (4, 3): 1}))


def test_n_steps_needed_and_decimal_times():
    assert n_steps_needed(_events(), 0.25) == 4
    assert n_steps_needed(_events(), 0.25, rounding="ceil") == 5
    assert n_steps_needed(_events(), 0.25, indices=np.array([1])) == 1
    # 0.003 / 0.001 = 2.9999999999999996 and 0.007 / 0.001 = 7.000000000000001 in floating point
    events = SpikeEvents([np.array([0.003, 0.007])], [np.array([0, 1])], np.array([0]), n_units=2)
    for rounding in ("floor", "ceil"):
        x = bin_events(events, dt=0.001, n_steps=8, rounding=rounding)
        assert x[0, 3, 0] == 1 and x[0, 7, 1] == 1 and x.sum() == 2


# --- augmentation -----------------------------------------------------------------------------


def test_augment_is_the_identity_without_shift_and_scale():
    x = np.random.default_rng(0).integers(0, 3, size=(4, 7, 11)).astype(np.float32)
    out = augment_shift_scale(x, np.random.default_rng(1), shift=0.0, scale=0.0)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, x)


def test_augment_shift_moves_channels_by_the_drawn_amount():
    b, t, c, shift = 8, 5, 20, 0.2
    x = np.random.default_rng(0).integers(1, 9, size=(b, t, c)).astype(np.float32)
    out = augment_shift_scale(x, np.random.default_rng(3), shift=shift, scale=0.0)
    drawn = np.rint(np.random.default_rng(3).uniform(-shift * c, shift * c, size=b)).astype(int)
    assert len(set(drawn.tolist())) > 2 and np.abs(drawn).max() <= 4
    for i, k in enumerate(drawn):
        expected = np.zeros((t, c), dtype=np.float32)
        if k >= 0:
            expected[:, k:] = x[i, :, : c - k]
        else:
            expected[:, :k] = x[i, :, -k:]
        np.testing.assert_array_equal(out[i], expected)


def test_augment_scale_zooms_both_axes_about_the_centre():
    b, t, c, scale = 16, 20, 40, 0.4
    x = np.ones((b, t, c), dtype=np.float32)
    out = augment_shift_scale(x, np.random.default_rng(5), shift=0.0, scale=scale)
    rng = np.random.default_rng(5)
    rng.uniform(0, 0, size=b)  # the (zero) translations come first
    factors = rng.uniform(1 - scale, 1 + scale, size=b)
    for sample, factor in zip(out, factors, strict=True):
        if factor >= 1:
            assert sample.min() == 1  # zoomed in: no zero fill
        else:
            rows, cols = np.nonzero(sample)
            for size, idx in ((t, rows), (c, cols)):
                kept = idx.max() - idx.min() + 1
                assert abs(kept - factor * size) <= 1.5
                assert abs((idx.min() - 0) - (size - 1 - idx.max())) <= 1  # centred
