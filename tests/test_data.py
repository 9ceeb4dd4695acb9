"""Tests for brainsnn.data: IDX files, digits, TTFS encoding and SpikeNN SpikingDatasets."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from brainsnn.core.errors import ConfigError, DataError
from brainsnn.data import (
    DIGITS_MAX_VALUE,
    FASHION_MNIST_DIR,
    MNIST_MAX_VALUE,
    convert_features,
    features_to_spiking_dataset,
    grid_times,
    load_digits_dataset,
    load_idx_dataset,
    open_spiking_dataset,
    quantise_times,
    read_idx,
    read_spiking_dataset,
    ttfs_encode,
    write_idx,
    write_spiking_dataset,
)

RNG = np.random.default_rng(0)


# --- IDX --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
@pytest.mark.parametrize(
    "array",
    [
        RNG.integers(0, 256, size=(5, 4, 3), dtype=np.uint8),
        RNG.integers(-128, 128, size=(7,), dtype=np.int8),
        RNG.integers(-30000, 30000, size=(2, 3), dtype=np.int16),
        RNG.integers(-(2**31), 2**31 - 1, size=(4,), dtype=np.int32),
        RNG.standard_normal((3, 2)).astype(np.float32),
        RNG.standard_normal((2, 2, 2)),
    ],
    ids=["ubyte", "byte", "short", "int", "float", "double"],
)
def test_idx_round_trip(tmp_path: Path, name: str, array: np.ndarray) -> None:
    path = tmp_path / name
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == array.dtype and back.dtype.isnative
    np.testing.assert_array_equal(back, array)


def test_idx_ubyte_header_is_mnist_layout(tmp_path: Path) -> None:
    path = tmp_path / "x"
    write_idx(path, np.arange(6, dtype=np.uint8).reshape(1, 2, 3))
    assert path.read_bytes()[:16] == bytes.fromhex("00000803000000010000000200000003")


def test_idx_gzip_detected_by_magic_without_suffix(tmp_path: Path) -> None:
    array = np.arange(10, dtype=np.uint8)
    write_idx(tmp_path / "a.gz", array)
    (tmp_path / "a.gz").rename(tmp_path / "no-suffix")
    np.testing.assert_array_equal(read_idx(tmp_path / "no-suffix"), array)


def test_idx_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        read_idx(tmp_path / "nope")


@pytest.mark.parametrize("cut", [2, 10, 20])
def test_idx_truncated(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "t"
    write_idx(path, np.zeros((2, 3, 3), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:-cut])
    with pytest.raises(DataError, match=r"truncated|not an IDX"):
        read_idx(path)


def test_idx_truncated_gzip_stream(tmp_path: Path) -> None:
    path = tmp_path / "t.gz"
    write_idx(path, RNG.integers(0, 256, size=(50, 50), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(DataError, match="cannot read IDX"):
        read_idx(path)


@pytest.mark.parametrize("head", [b"\x01\x00\x08\x01", b"\x00\x00\x07\x01", b"PK\x03\x04", b""])
def test_idx_bad_magic(tmp_path: Path, head: bytes) -> None:
    path = tmp_path / "bad"
    path.write_bytes(head + b"\x00\x00\x00\x01\x05")
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(path)


def _write_split(directory: Path, prefix: str, images: np.ndarray, labels: np.ndarray) -> None:
    write_idx(directory / f"{prefix}-images-idx3-ubyte.gz", images)
    write_idx(directory / f"{prefix}-labels-idx1-ubyte", labels)


def test_load_idx_dataset(tmp_path: Path) -> None:
    images = RNG.integers(0, 256, size=(6, 28, 28), dtype=np.uint8)
    labels = np.arange(6, dtype=np.uint8)
    _write_split(tmp_path, "t10k", images, labels)
    got_images, got_labels = load_idx_dataset(tmp_path, "test")
    np.testing.assert_array_equal(got_images, images)
    assert got_labels.dtype == np.int64
    np.testing.assert_array_equal(got_labels, labels)


def test_load_idx_dataset_label_count_mismatch(tmp_path: Path) -> None:
    _write_split(tmp_path, "train", np.zeros((3, 28, 28), np.uint8), np.zeros(2, np.uint8))
    with pytest.raises(DataError, match="expected 3 labels"):
        load_idx_dataset(tmp_path, "train")


def test_load_idx_dataset_missing_lists_names_dir_and_hint(tmp_path: Path) -> None:
    hint = "apt-get install dataset-fashion-mnist"
    with pytest.raises(DataError) as info:
        load_idx_dataset(tmp_path, "train", hint=hint)
    message = str(info.value)
    assert "train-images-idx3-ubyte" in message and "train-labels-idx1-ubyte" in message
    assert str(tmp_path) in message and message.endswith(hint) and "\n" not in message


def test_load_idx_dataset_bad_split(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown split"):
        load_idx_dataset(tmp_path, "val")  # type: ignore[arg-type]


@pytest.mark.skipif(not FASHION_MNIST_DIR.is_dir(), reason="apt-get install dataset-fashion-mnist")
@pytest.mark.parametrize("split, n", [("train", 60000), ("test", 10000)])
def test_real_fashion_mnist(split: str, n: int) -> None:
    images, labels = load_idx_dataset(FASHION_MNIST_DIR, split)  # type: ignore[arg-type]
    assert images.shape == (n, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (n,) and set(np.unique(labels)) == set(range(10))


# --- digits -------------------------------------------------------------------------------


def test_digits_dataset() -> None:
    images, labels = load_digits_dataset()
    assert images.shape == (1797, 8, 8) and labels.shape == (1797,)
    assert images.max() == DIGITS_MAX_VALUE and images.min() == 0
    assert labels.dtype == np.int64 and set(np.unique(labels)) == set(range(10))


# --- TTFS ---------------------------------------------------------------------------------


def test_ttfs_formula_known_values() -> None:
    images = np.array([[[0, 1], [128, 255]], [[-3, 51], [255, 0]]])
    times = ttfs_encode(images, max_value=255)
    assert times.shape == (2, 4) and times.dtype == np.float64
    expected = [[1.0, 1 - 1 / 255, 1 - 128 / 255, 0.0], [1.0, 0.8, 0.0, 1.0]]
    np.testing.assert_allclose(times, expected, rtol=0, atol=1e-15)


def test_ttfs_leaves_float_images_unchanged() -> None:
    """The encoding works on a copy in place: a caller's float array is not overwritten."""
    images = RNG.uniform(0, 255, (3, 4, 4))
    kept = images.copy()
    times = ttfs_encode(images, max_value=255)
    np.testing.assert_array_equal(images, kept)
    np.testing.assert_array_equal(times, np.where(kept > 0, 1.0 - kept / 255, 1.0).reshape(3, 16))


def test_ttfs_rejects_values_above_max() -> None:
    with pytest.raises(DataError, match="exceeds max_value 16"):
        ttfs_encode(np.array([[17]]), max_value=16)
    with pytest.raises(ConfigError):
        ttfs_encode(np.array([[1]]), max_value=0)


@pytest.mark.parametrize("max_value", [MNIST_MAX_VALUE, DIGITS_MAX_VALUE])
def test_ttfs_grid_is_lossless(max_value: int) -> None:
    x = np.arange(max_value + 1).reshape(1, -1)
    steps = quantise_times(ttfs_encode(x, max_value), steps=max_value)
    np.testing.assert_array_equal(steps[0], max_value - x[0])  # x = 0 -> max_value = silent
    grid = grid_times(steps, max_value)
    np.testing.assert_allclose(grid, ttfs_encode(x, max_value), rtol=0, atol=1e-15)
    np.testing.assert_array_equal(quantise_times(grid, max_value), steps)


def test_digits_grid_is_lossless() -> None:
    images, _ = load_digits_dataset()
    steps = quantise_times(ttfs_encode(images, DIGITS_MAX_VALUE), DIGITS_MAX_VALUE)
    np.testing.assert_array_equal(steps, DIGITS_MAX_VALUE - images.reshape(len(images), -1))


def test_quantise_edges() -> None:
    times = np.array([0.0, 0.2499999999999, 0.5, 0.999, 1.0, 3.0])
    np.testing.assert_array_equal(quantise_times(times, 4), [0, 1, 2, 3, 4, 4])
    np.testing.assert_array_equal(grid_times([0, 3, 4, 9], 4), [0.0, 0.75, 1.0, 1.0])
    with pytest.raises(DataError):
        quantise_times([-0.1], 4)
    with pytest.raises(ConfigError):
        quantise_times([0.1], 0)


# --- SpikeNN SpikingDataset -------------------------------------------------------------------


def _features() -> tuple[np.ndarray, np.ndarray]:
    """Three samples, four features; 1.0 = silent. Times are exact in float32."""
    x = np.array([[0.5, 1.0, 0.25, 0.75], [1.0, 0.0, 1.0, 0.125], [0.5, 0.5, 0.5, 1.0]])
    return x, np.array([7, 3, 7])


def test_features_to_spiking_dataset_layout() -> None:
    dataset = features_to_spiking_dataset(*_features())
    assert dataset["shape"] == (3, 4) and dataset["max_time"] == 1
    assert dataset["labels"].dtype == np.int16
    np.testing.assert_array_equal(dataset["labels"], [1, 0, 1])
    first = dataset["data"][0]
    assert first.dtype.names == ("indices", "timestamps")
    assert first.indices.dtype == np.int16 and first.timestamps.dtype == np.float32
    np.testing.assert_array_equal(first.indices, [2, 0, 3])  # silent feature 1 dropped
    np.testing.assert_array_equal(first.timestamps, [0.25, 0.5, 0.75])
    for sample in dataset["data"]:
        assert np.all(np.diff(sample.timestamps) >= 0) and np.all(sample.timestamps < 1)


def test_spiking_dataset_round_trip(tmp_path: Path) -> None:
    x, y = _features()
    path = tmp_path / "trainset.npy"
    write_spiking_dataset(path, features_to_spiking_dataset(x, y))
    assert [p.name for p in tmp_path.iterdir()] == ["trainset.npy"]  # no temp file left
    times, labels = read_spiking_dataset(path)
    np.testing.assert_array_equal(times, x)
    np.testing.assert_array_equal(labels, [1, 0, 1])
    assert times.dtype == np.float64 and labels.dtype == np.int64


def test_sparse_spiking_dataset_gives_rows_dense_on_demand(tmp_path: Path) -> None:
    """open_spiking_dataset keeps samples sparse; any rows come out as read_spiking_dataset's."""
    times = ttfs_encode(RNG.integers(0, 256, size=(30, 5, 5)), MNIST_MAX_VALUE)
    path = tmp_path / "set.npy"
    write_spiking_dataset(path, features_to_spiking_dataset(times, np.arange(30) % 3))
    sparse, labels = open_spiking_dataset(path)
    dense, dense_labels = read_spiking_dataset(path)
    assert len(sparse) == 30 and sparse.shape == (30, 25) and sparse.dtype == np.float64
    rows = np.array([29, 0, 7, 7])
    np.testing.assert_array_equal(sparse[rows], dense[rows])
    np.testing.assert_array_equal(labels, dense_labels)


def test_spiking_dataset_round_trip_of_ttfs_images(tmp_path: Path) -> None:
    images = RNG.integers(0, 256, size=(20, 6, 6))
    times = ttfs_encode(images, MNIST_MAX_VALUE)
    path = tmp_path / "set.npy"
    write_spiking_dataset(path, features_to_spiking_dataset(times, np.zeros(20)))
    back, _ = read_spiking_dataset(path)
    np.testing.assert_array_equal(back, times.astype(np.float32))
    steps = quantise_times(back, MNIST_MAX_VALUE)  # float32 storage keeps the grid lossless
    np.testing.assert_array_equal(steps, MNIST_MAX_VALUE - images.reshape(20, -1))


def test_zero_spike_sample_is_named() -> None:
    x, y = _features()
    x[2] = 1.0
    with pytest.raises(DataError, match="sample 2 has no spike"):
        features_to_spiking_dataset(x, y)


@pytest.mark.parametrize("bad", [-0.1, 1.5, np.nan])
def test_features_out_of_range(bad: float) -> None:
    x, y = _features()
    x[0, 0] = bad
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        features_to_spiking_dataset(x, y)


def test_read_spiking_dataset_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        read_spiking_dataset(tmp_path / "missing.npy")
    np.save(tmp_path / "plain.npy", np.zeros(3))
    with pytest.raises(DataError, match="SpikingDataset"):
        read_spiking_dataset(tmp_path / "plain.npy")
    (tmp_path / "junk.npy").write_bytes(gzip.compress(b"junk"))
    with pytest.raises(DataError, match="cannot read"):
        read_spiking_dataset(tmp_path / "junk.npy")


def test_convert_features_end_to_end(tmp_path: Path) -> None:
    x, y = _features()
    np.save(tmp_path / "X.npy", x.astype(np.float32))
    np.save(tmp_path / "y.npy", y)
    out = tmp_path / "out.npy"
    assert convert_features(tmp_path / "X.npy", tmp_path / "y.npy", out) == 3
    times, labels = read_spiking_dataset(out)
    np.testing.assert_array_equal(times, x)
    np.testing.assert_array_equal(labels, [1, 0, 1])


def test_convert_features_errors(tmp_path: Path) -> None:
    x, y = _features()
    np.save(tmp_path / "X.npy", x)
    np.save(tmp_path / "y.npy", y[:2])
    out = tmp_path / "out.npy"
    with pytest.raises(DataError, match="not found"):
        convert_features(tmp_path / "missing.npy", tmp_path / "y.npy", out)
    with pytest.raises(DataError, match="same n"):
        convert_features(tmp_path / "X.npy", tmp_path / "y.npy", out)
    np.save(tmp_path / "y.npy", y)
    np.save(tmp_path / "X.npy", x * 2)
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        convert_features(tmp_path / "X.npy", tmp_path / "y.npy", out)
    assert not out.exists()
