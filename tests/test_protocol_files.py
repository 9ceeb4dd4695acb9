"""Every shipped protocol and model file loads and validates; absent data gives a helpful DataError.

Parametrised over the files in the repository, so new protocols and models are covered
automatically. Nothing is compiled or simulated.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from brainsnn.core.errors import DataError
from brainsnn.core.modellib import MODEL_DIR, compose, load_model_file
from brainsnn.core.rundir import protocol_text
from brainsnn.data.idx import IDX_FILE_NAMES
from brainsnn.protocol import load_protocol
from brainsnn.readout.data import prepare_data
from brainsnn.readout.protocol import DEFAULT_MODELS, Protocol
from brainsnn.unsupervised.protocol import UnsupervisedProtocol

ROOT = Path(__file__).resolve().parent.parent


def _kind(path: Path) -> str | None:
    """The ``kind`` of a YAML file, read leniently (collection must not fail on a bad file)."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")).get("kind")
    except Exception:
        return None


ALL_PROTOCOLS = sorted((ROOT / "protocols").glob("**/*.yaml"))
#: Readout and unsupervised protocols (Brian2 model lists); gradient and features ones are
#: tested below.
PROTOCOLS = [path for path in ALL_PROTOCOLS if _kind(path) not in ("gradient", "features")]
GRADIENT_PROTOCOLS = [path for path in ALL_PROTOCOLS if _kind(path) == "gradient"]
FEATURES_PROTOCOLS = [path for path in ALL_PROTOCOLS if _kind(path) == "features"]
ALL_MODELS = sorted(MODEL_DIR.rglob("*.yaml"))
MODELS = [path for path in ALL_MODELS if _kind(path) not in ("gradient_neuron", "csnn")]
GRADIENT_MODELS = [path for path in ALL_MODELS if _kind(path) == "gradient_neuron"]
CSNN_MODELS = [path for path in ALL_MODELS if _kind(path) == "csnn"]


def _ids(paths: list[Path], root: Path) -> list[str]:
    return [str(path.relative_to(root)) for path in paths]


def test_files_are_found():
    assert ROOT / "protocols" / "ncg_digits.yaml" in PROTOCOLS
    assert MODELS, f"no model files under {MODEL_DIR}"


@pytest.mark.parametrize("path", PROTOCOLS, ids=_ids(PROTOCOLS, ROOT))
def test_protocol_loads_and_validates(path):
    protocol = load_protocol(path)
    assert isinstance(protocol.protocol, Protocol | UnsupervisedProtocol)
    assert protocol.name == path.stem, "a protocol's name should match its file name"
    parameters = protocol.resolved.parameters
    # every parameter the protocol sets is a model parameter (load_protocol checks), and the
    # resolved set holds every model parameter, not just those the protocol spells out
    assert set(protocol.network.parameters) <= set(parameters)
    assert all(isinstance(value, float) for value in parameters.values())


@pytest.mark.parametrize("path", PROTOCOLS, ids=_ids(PROTOCOLS, ROOT))
def test_protocol_with_external_data_says_how_to_get_it(path):
    protocol = load_protocol(path)
    if protocol.data.source != "digits":
        assert protocol.data.hint.strip(), f"{path}: data.hint should say how to obtain the data"


@pytest.mark.parametrize("path", ALL_PROTOCOLS, ids=_ids(ALL_PROTOCOLS, ROOT))
def test_saved_protocol_loads_as_the_same_protocol(path, tmp_path):
    """A run directory's protocol.yaml is a protocol too (reloaded by analyses and sweeps)."""
    protocol = load_protocol(path).protocol
    saved = tmp_path / "protocol.yaml"
    saved.write_text(protocol_text(protocol))
    assert load_protocol(saved).protocol == protocol


def test_model_files_are_found():
    names = {str(path.relative_to(MODEL_DIR).with_suffix("")) for path in MODELS}
    assert set(DEFAULT_MODELS) <= names


@pytest.mark.parametrize("path", MODELS, ids=_ids(MODELS, MODEL_DIR))
def test_model_file_loads(path):
    model = load_model_file(str(path))
    assert model.name == str(path.relative_to(MODEL_DIR).with_suffix("")), (
        "a model's name should be its path under models/"
    )
    assert model.description.strip()
    for role in ("inputs", "outputs", "layer", "feedforward", "lateral", "report_link"):
        fragment = getattr(model, role)
        if fragment is not None:
            for name, spec in fragment.parameters.items():
                assert spec.description.strip(), f"{path}: parameter {name} has no description"


def test_model_file_loads_by_name():
    for name in DEFAULT_MODELS:
        assert load_model_file(name).name == name


def test_default_models_compose():
    composed = compose([load_model_file(name) for name in DEFAULT_MODELS])
    assert composed["outputs"].threshold is not None
    assert composed["inputs"].spike_steps == "input_steps"  # event-driven, no threshold
    parameters = {name for group in composed.values() for name in group.parameters}
    assert {"theta0", "gap", "a_plus", "a_minus", "thr_lr"} <= parameters


def _idx_present(directory: Path) -> bool:
    return all(
        (directory / name).is_file() or (directory / f"{name}.gz").is_file()
        for names in IDX_FILE_NAMES.values()
        for name in names
    )


def _data_present(protocol: Protocol) -> bool:
    data = protocol.data
    if data.source == "idx":
        return bool(data.path) and _idx_present(Path(data.path).expanduser())
    if data.source == "spikingdataset":
        return all(
            name and Path(name).expanduser().is_file() for name in (data.train_file, data.test_file)
        )
    return True


@pytest.mark.parametrize("path", PROTOCOLS, ids=_ids(PROTOCOLS, ROOT))
def test_absent_data_gives_data_error_with_hint(path):
    protocol = load_protocol(path)
    if protocol.data.source == "digits":
        pytest.skip("embedded data set")
    if _data_present(protocol):
        pytest.skip("the protocol's data is installed")
    with pytest.raises(DataError) as caught:
        prepare_data(protocol)
    message = str(caught.value)
    assert "\n" not in message
    if protocol.data.source == "idx":
        assert str(Path(protocol.data.path).expanduser()) in message
        assert protocol.data.hint in message


def _source(path: Path) -> str | None:
    """data.source of a protocol file, read leniently (collection must not fail on a bad file)."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))["data"]["source"]
    except Exception:
        return None


IDX_PROTOCOLS = [path for path in PROTOCOLS if _source(path) == "idx"]


@pytest.mark.parametrize("path", IDX_PROTOCOLS, ids=_ids(IDX_PROTOCOLS, ROOT))
def test_idx_protocol_in_an_empty_directory_gives_its_hint(path, tmp_path):
    """Whether or not the data is installed: pointed at an empty directory, the hint is shown."""
    protocol = load_protocol(path, [f"data.path={tmp_path}"])
    with pytest.raises(DataError) as caught:
        prepare_data(protocol)
    message = str(caught.value)
    assert "\n" not in message
    assert str(tmp_path) in message
    assert "train-images-idx3-ubyte" in message
    assert protocol.data.hint and protocol.data.hint in message


# --- gradient-trained SNNs (kind: gradient) ------------------------------------------------------


def test_gradient_files_are_found():
    assert ROOT / "protocols" / "firstspike_spoken.yaml" in GRADIENT_PROTOCOLS
    assert MODEL_DIR / "gradient" / "adlif.yaml" in GRADIENT_MODELS


@pytest.mark.parametrize("path", GRADIENT_PROTOCOLS, ids=_ids(GRADIENT_PROTOCOLS, ROOT))
def test_gradient_protocol_loads_and_says_how_to_get_its_data(path, tmp_path, monkeypatch):
    from brainsnn.gradient.data import load_gradient_data

    protocol = load_protocol(path)
    assert protocol.name == path.stem, "a protocol's name should match its file name"
    assert protocol.data.hint.strip(), f"{path}: data.hint should say how to obtain the data"
    monkeypatch.chdir(tmp_path)  # the data paths are relative: nothing is there
    with pytest.raises(DataError) as caught:
        load_gradient_data(protocol.data, protocol.seed)
    message = str(caught.value)
    assert "\n" not in message and " ".join(protocol.data.hint.split()) in message


@pytest.mark.parametrize("path", GRADIENT_MODELS, ids=_ids(GRADIENT_MODELS, MODEL_DIR))
def test_gradient_model_file_loads(path):
    from brainsnn.gradient.modelfile import load_neuron

    model = load_neuron(str(path.relative_to(MODEL_DIR).with_suffix("")))
    assert model.spec.name == str(path.relative_to(MODEL_DIR).with_suffix(""))
    assert model.spec.description.strip()
    for name, spec in model.spec.parameters.items():
        assert spec.description.strip(), f"{path}: parameter {name} has no description"


# --- feature extractors (kind: features) ---------------------------------------------------------


def test_features_files_are_found():
    assert ROOT / "protocols" / "csnn_fmnist.yaml" in FEATURES_PROTOCOLS
    assert MODEL_DIR / "features" / "stdp_csnn.yaml" in CSNN_MODELS


@pytest.mark.parametrize("path", FEATURES_PROTOCOLS, ids=_ids(FEATURES_PROTOCOLS, ROOT))
def test_features_protocol_loads_and_says_how_to_get_its_data(path, tmp_path):
    from brainsnn.features.data import prepare_feature_images

    protocol = load_protocol(path)
    assert protocol.name == path.stem, "a protocol's name should match its file name"
    assert set(protocol.network.parameters) <= set(protocol.resolved.values)
    if protocol.data.source != "idx":
        return
    with pytest.raises(DataError) as caught:
        prepare_feature_images(load_protocol(path, [f"data.path={tmp_path}"]).protocol)
    message = str(caught.value)
    assert "\n" not in message and str(tmp_path) in message and protocol.data.hint in message


@pytest.mark.parametrize("path", CSNN_MODELS, ids=_ids(CSNN_MODELS, MODEL_DIR))
def test_csnn_model_file_loads(path):
    from brainsnn.features.modelfile import load_csnn_model

    model = load_csnn_model(str(path.relative_to(MODEL_DIR).with_suffix("")))
    assert model.name == str(path.relative_to(MODEL_DIR).with_suffix(""))
    assert model.description.strip()
    assert all(spec.description.strip() for spec in model.parameters.values())
