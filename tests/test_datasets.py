"""Protocol data sections -> encoded, stratified train / validation / test splits."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

import brainsnn.readout.data as readout_data
from brainsnn.core.errors import DataError
from brainsnn.data import convert_features, load_digits_dataset, quantise_times, ttfs_encode
from brainsnn.readout.data import encode_rows, grid_dtype, prepare_data
from brainsnn.readout.protocol import Protocol


def make_protocol(**data) -> Protocol:
    return Protocol.model_validate({"name": "t", "data": data})


def test_digits_splits_are_stratified_disjoint_and_lossless():
    data = prepare_data(make_protocol(source="digits", test_fraction=0.2, validation_fraction=0.1))
    images, labels = load_digits_dataset()
    assert len(data.train) + len(data.validation) + len(data.test) == len(labels)
    assert data.time_steps == 16 and data.n_inputs == 64 and data.n_classes == 10
    for split in (data.train, data.validation, data.test):
        counts = np.bincount(split.labels, minlength=10) / len(split)
        np.testing.assert_allclose(counts, np.bincount(labels) / len(labels), atol=0.02)
    # Lossless grid: every step is 16 - pixel intensity, silent (16) exactly for black pixels.
    flat = images.reshape(len(images), -1).astype(int)
    encoded = {tuple(row) for row in data.test.input_steps}
    assert {tuple(16 - row) for row in flat} >= encoded


def test_subsets_keep_class_balance_and_order():
    data = prepare_data(make_protocol(source="digits", train_subset=300, test_subset=100))
    assert len(data.train) + len(data.validation) == 300
    assert len(data.test) == 100
    assert set(np.unique(data.test.labels)) == set(range(10))


def test_spikingdataset_source(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((60, 12))
    x[x > 0.8] = 1.0  # silent features
    y = np.repeat([3, 7, 9], 20)  # labels are remapped to 0..C-1
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    convert_features(tmp_path / "x.npy", tmp_path / "y.npy", tmp_path / "train.npy")
    convert_features(tmp_path / "x.npy", tmp_path / "y.npy", tmp_path / "test.npy")
    protocol = Protocol.model_validate({
        "name": "t", "encoding": {"time_steps": 100},
        "data": {"source": "spikingdataset", "train_file": str(tmp_path / "train.npy"),
                 "test_file": str(tmp_path / "test.npy")},
    })  # fmt: skip
    data = prepare_data(protocol)
    assert data.n_classes == 3 and data.time_steps == 100
    expected = np.where(x >= 1.0, 100, np.floor(x * 100 + 1e-9)).astype(int)
    np.testing.assert_array_equal(data.test.input_steps, expected)
    np.testing.assert_array_equal(data.test.labels, np.repeat([0, 1, 2], 20))


def test_missing_spikingdataset_file_is_a_data_error(tmp_path):
    protocol = make_protocol(
        source="spikingdataset",
        train_file=str(tmp_path / "no.npy"),
        test_file=str(tmp_path / "no.npy"),
    )
    with pytest.raises(DataError, match=r"no\.npy"):
        prepare_data(protocol)


def test_too_small_a_split_is_a_data_error():
    with pytest.raises(DataError, match="stratified"):
        prepare_data(make_protocol(source="digits", train_subset=60, validation_fraction=0.1))


def test_encoding_in_blocks_equals_encoding_at_once(monkeypatch):
    """Splits are encoded block by block into a compact integer type, with the same steps."""
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (50, 6, 6)).astype(np.uint8)
    rows = rng.permutation(50)[:37]
    monkeypatch.setattr(readout_data, "ENCODE_BLOCK", 8 * 36)  # 8 rows: 5 blocks, one partial
    encoded = encode_rows(images, rows, 255, partial(ttfs_encode, max_value=255))
    assert encoded.dtype == np.int16
    np.testing.assert_array_equal(encoded, quantise_times(ttfs_encode(images[rows], 255), 255))
    assert grid_dtype(32767) == np.int16 and grid_dtype(32768) == np.int32


def test_prepared_splits_and_their_chunks_are_compact():
    """Stored splits take the compact type, and so do the chunks handed to the engine."""
    from brainsnn.readout.training import chunks

    data = prepare_data(make_protocol(source="digits", test_fraction=0.2, validation_fraction=0.1))
    assert data.train.input_steps.dtype == np.int16
    parts = list(chunks(data.test, 100, data.time_steps, first=1))
    assert all(part.input_steps.dtype == np.int16 for part in parts)  # not widened
    assert len(parts) == -(-len(data.test) // 100) - 1  # chunk 0 skipped
    np.testing.assert_array_equal(parts[0].input_steps, data.test.input_steps[100:200])
