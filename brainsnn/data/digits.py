"""scikit-learn's 8x8 handwritten digits (embedded in the package, no download)."""

from __future__ import annotations

import numpy as np

#: Largest pixel intensity of the digits images (4-bit counts, 0..16), not 255.
DIGITS_MAX_VALUE = 16


def load_digits_dataset() -> tuple[np.ndarray, np.ndarray]:
    """Return (images uint8 (1797, 8, 8) with values 0..DIGITS_MAX_VALUE, labels int64 (1797,)).

    Pass ``max_value=DIGITS_MAX_VALUE`` (16) to the TTFS encoder for these images.
    """
    from sklearn.datasets import load_digits  # deferred: importing sklearn is slow

    bunch = load_digits()
    images = np.rint(bunch.images).astype(np.uint8)
    return images, np.asarray(bunch.target, dtype=np.int64)
