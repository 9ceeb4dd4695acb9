"""Shared fixtures: tiny layouts and one compiled cpp_standalone build per layout per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from brainsnn.core.modellib import compose, load_model_file
from brainsnn.readout.backend import make_backend
from brainsnn.readout.layout import ReadoutLayout
from brainsnn.readout.protocol import DEFAULT_MODELS

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def composed_default():
    """The default S2-STDP + NCG + CR-2 model set, composed."""
    return compose([load_model_file(name) for name in DEFAULT_MODELS])


@pytest.fixture(scope="session")
def tiny_layout() -> ReadoutLayout:
    """20 inputs, 3 classes x 3 neurons (1 non-target), 8 input steps, chunks of 12 samples."""
    return ReadoutLayout(
        n_inputs=20,
        n_classes=3,
        neurons_per_class=3,
        n_nontarget=1,
        n_input_steps=8,
        chunk_size=12,
        sample_duration_s=0.01,
        model_texts=tuple((name, "") for name in DEFAULT_MODELS),
    )


@pytest.fixture(scope="session")
def build_root(tmp_path_factory) -> Path:
    """Build cache shared by all tests of the session."""
    return tmp_path_factory.mktemp("builds")


@pytest.fixture(scope="session")
def tiny_backends(tiny_layout, composed_default, build_root):
    """runtime and cpp_standalone backends of the tiny layout (one compilation per session)."""
    return {
        "runtime": make_backend("runtime", tiny_layout, composed_default, build_root),
        "cpp": make_backend("cpp", tiny_layout, composed_default, build_root),
    }


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
