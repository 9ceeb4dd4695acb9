"""Reading (and writing) IDX files: the MNIST / Fashion-MNIST file format.

An IDX file starts with a 4-byte magic number ``00 00 TT NN`` (TT = element type code,
NN = number of dimensions), then NN big-endian uint32 sizes, then the elements in
big-endian C order. Files may be plain or gzip-compressed.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import Literal

import numpy as np

from brainsnn.core.errors import ConfigError, DataError

#: Largest pixel intensity of 8-bit IDX images (MNIST, Fashion-MNIST).
MNIST_MAX_VALUE = 255

#: Where ``apt-get install dataset-fashion-mnist`` puts the four Fashion-MNIST files.
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")

_GZIP_MAGIC = b"\x1f\x8b"

#: IDX element type code -> big-endian numpy dtype.
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

#: Standard MNIST file names (without the optional ``.gz``) for each split.
IDX_FILE_NAMES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _read_bytes(path: Path) -> bytes:
    """Return the (decompressed) content of ``path``; gzip is detected by suffix or magic."""
    if not path.is_file():
        raise DataError(f"IDX file not found: {path}")
    try:
        raw = path.read_bytes()
        if path.suffix == ".gz" or raw[:2] == _GZIP_MAGIC:
            return gzip.decompress(raw)
        return raw
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"cannot read IDX file {path}: {exc}") from exc


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (plain or gzip) into a native-byte-order numpy array.

    The array's shape is the one stored in the header, e.g. (n, 28, 28) for MNIST images
    and (n,) for labels; the dtype follows the header's type code (0x08 -> uint8, ...).
    Raises DataError for a missing, truncated or malformed file.
    """
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] not in _IDX_DTYPES:
        raise DataError(f"{path} is not an IDX file (bad magic number {raw[:4].hex() or 'empty'})")
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise DataError(f"IDX file {path} is truncated: header needs {header_len} bytes")
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = header_len + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        state = "truncated" if len(raw) < expected else "longer than its header says"
        raise DataError(f"IDX file {path} is {state}: {len(raw)} bytes, expected {expected}")
    data = np.frombuffer(raw, dtype=dtype, offset=header_len).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file, gzip-compressed when ``path`` ends in ``.gz``.

    The element type must be one IDX supports (uint8, int8, int16, int32, float32, float64).
    """
    array = np.asarray(array)
    codes = {dt.newbyteorder("="): code for code, dt in _IDX_DTYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        raise ConfigError(f"IDX cannot store dtype {array.dtype}")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    payload = header + array.astype(_IDX_DTYPES[code]).tobytes()
    path = Path(path)
    path.write_bytes(gzip.compress(payload) if path.suffix == ".gz" else payload)


def _find_idx_file(directory: Path, name: str) -> Path | None:
    """Return ``directory/name`` or ``directory/name.gz``, whichever exists first."""
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def load_idx_dataset(
    directory: str | Path, split: Literal["train", "test"], hint: str = ""
) -> tuple[np.ndarray, np.ndarray]:
    """Load one split of an MNIST-format dataset stored as the four standard IDX files.

    Looks in ``directory`` for ``train-*`` / ``t10k-*`` image and label files, each plain or
    ``.gz``. Returns (images uint8 (n, rows, cols) -- (n, 28, 28) for MNIST -- , labels
    int64 (n,)). ``hint`` (how to obtain the files) is appended to the "not found" message.
    """
    if split not in IDX_FILE_NAMES:
        raise ConfigError(f"unknown split {split!r}: expected 'train' or 'test'")
    directory = Path(directory)
    names = IDX_FILE_NAMES[split]
    paths = [_find_idx_file(directory, name) for name in names]
    if None in paths:
        missing = ", ".join(f"{n}[.gz]" for n, p in zip(names, paths, strict=True) if p is None)
        message = f"{split} split not found: expected {missing} in {directory}"
        raise DataError(f"{message}; {hint}" if hint else message)
    images, labels = (read_idx(p) for p in paths)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise DataError(
            f"{paths[0]}: expected uint8 images (n, rows, cols), got {images.dtype} {images.shape}"
        )
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataError(f"{paths[1]}: expected {len(images)} labels, got shape {labels.shape}")
    return images, labels.astype(np.int64)
