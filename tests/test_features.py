"""The STDP-CSNN feature extractor (``kind: features``): coding, reference, engine, runs.

The NumPy reference (brainsnn/features/reference.py) is checked against independent
formulations here (hand-computed updates, a dense cumulative-sum extraction); the Brian2
engine is checked against the reference on runtime and cpp_standalone, exactly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from brainsnn.core.errors import BrainsnnError, ConfigError
from brainsnn.data.spikingdataset import read_spiking_dataset
from brainsnn.features.engine import CsnnEngine, CsnnState, patch_corners
from brainsnn.features.geometry import CsnnGeometry, patch_times
from brainsnn.features.lanes import filter_lanes, per_lane
from brainsnn.features.modelfile import load_csnn_model
from brainsnn.features.preprocess import (
    SILENT,
    dog_kernel,
    fit_input_coding,
    latency_times,
    on_off,
)
from brainsnn.features.reference import extract_reference, train_reference
from brainsnn.protocol import load_protocol
from brainsnn.run import run_protocol

ROOT = Path(__file__).resolve().parent.parent
DIGITS = ROOT / "protocols" / "csnn_digits.yaml"
TINY = CsnnGeometry(rows=7, columns=6, kernel=3, filters=4, pool=2)
TINY_VALUES = {"theta0": 1.5, "min_th": 0.5}


def _random_times(rng: np.random.Generator, n: int, geometry: CsnnGeometry) -> np.ndarray:
    """Coded samples with ~25 % silent inputs and some exactly tied spike times."""
    times = rng.uniform(0, 1.3, (n, geometry.rows, geometry.columns, 2)).clip(max=SILENT)
    times[:, 0, :2] = 0.25  # ties
    return times.astype(np.float32)


# ---------------------------------------------------------------- input coding


def test_on_off_follows_the_cpp_loop():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (2, 6, 5)).astype(np.float32)
    kernel = dog_kernel(3, 0.5, 1.0)
    size, half = 3, 1
    expected = np.zeros((2, 6, 5, 2), dtype=np.float32)
    for s in range(2):  # OnOffFilter.cpp:95-110, edges clamped
        for x in range(6):
            for y in range(5):
                v = np.float32(0)
                for fx in range(size):
                    for fy in range(size):
                        xi = min(x + fx - half, 5) if x + fx > half else 0
                        yi = min(y + fy - half, 4) if y + fy > half else 0
                        v = np.float32(v + images[s, xi, yi] * kernel[fx, fy])
                expected[s, x, y] = max(v, 0), max(-v, 0)
    np.testing.assert_array_equal(on_off(images, kernel), expected)
    assert abs(float(kernel.sum())) < 1e-6  # two unit-sum Gaussians


def test_input_scaling_is_fitted_on_training_images_and_latency_coded():
    images = np.zeros((3, 5, 5), dtype=np.uint8)
    images[0, 2, 2], images[1, 1, 1] = 255, 128
    coding = fit_input_coding(images, 3, 0.5, 1.0)
    filtered = on_off(images.astype(np.float32) / 255, coding.kernel).reshape(3, -1)
    np.testing.assert_array_equal(coding.minimum, filtered.min(axis=0))
    never = filtered.max(axis=0) == 0
    assert never.any() and (coding.maximum[never] == np.finfo(np.float32).tiny).all()
    times = coding.encode(images).reshape(3, -1)
    assert (times[:, never] == SILENT).all()  # scaled to 0: never fires
    assert times.min() == 0 and (times[0] < SILENT).any()  # the largest response fires at 0
    np.testing.assert_array_equal(latency_times(np.array([1.5, 1.0, 0.25, 0.0])), [0, 0, 0.75, 1])


# ---------------------------------------------------------------- geometry


def test_synapse_maps_match_the_layer_definitions():
    g = TINY
    pre, post, element = g.convolution_synapses()
    shapes = ((g.rows, g.columns, 2), (g.conv_rows, g.conv_columns, g.filters))
    elements = (g.kernel, g.kernel, 2, g.filters)
    expected = set()
    for ox, oy, kx, ky, z, c in np.ndindex(g.conv_rows, g.conv_columns, 3, 3, 2, g.filters):
        expected.add((
            np.ravel_multi_index((ox + kx, oy + ky, z), shapes[0]),
            np.ravel_multi_index((ox, oy, c), shapes[1]),
            np.ravel_multi_index((kx, ky, z, c), elements),
        ))  # fmt: skip
    assert set(zip(pre.tolist(), post.tolist(), element.tolist(), strict=True)) == expected
    assert (np.diff(pre) >= 0).all()  # one input's synapses are adjacent
    conv, feature = g.pooling_synapses()
    assert (g.pool_rows, g.pool_columns) == (2, 2)  # 5 x 4 convolution, 2 x 2 windows
    assert len(conv) == g.pool_rows * g.pool * g.pool_columns * g.pool * g.filters
    ox, oy, c = np.unravel_index(conv, (g.conv_rows, g.conv_columns, g.filters))
    np.testing.assert_array_equal(
        feature, np.ravel_multi_index((ox // 2, oy // 2, c), (2, 2, g.filters))
    )


@pytest.mark.parametrize("lanes", [2, 4])
def test_lane_maps_group_neighbouring_filters(lanes):
    """With L filters per neuron, every synapse of the full map is its lane group's synapse."""
    full = TINY.convolution_synapses()
    grouped = TINY.convolution_synapses(lanes)
    assert len(grouped[0]) * lanes == len(full[0])
    expected = {
        (i, j // lanes, e // lanes) for i, j, e in zip(*(a.tolist() for a in full), strict=True)
    }
    assert set(zip(*(a.tolist() for a in grouped), strict=True)) == expected
    assert (np.diff(grouped[0]) >= 0).all()
    conv, feature = TINY.pooling_synapses()
    pairs = set(zip(*(a.tolist() for a in TINY.pooling_synapses(lanes)), strict=True))
    assert pairs == {
        (c // lanes, f // lanes) for c, f in zip(conv.tolist(), feature.tolist(), strict=True)
    }
    assert len(pairs) * lanes == len(conv)


def test_filter_lanes_and_per_lane_code():
    assert [filter_lanes(f) for f in (128, 12, 6, 3, 2)] == [8, 4, 2, 1, 2]
    code = per_lane(
        "v_post += w * g\ntconv_post = clip(tconv_post, 0, tin_pre)", ("v", "w", "tconv"), 2
    )
    assert code == (
        "v_0_post += w_0 * g\ntconv_0_post = clip(tconv_0_post, 0, tin_pre)\n"
        "v_1_post += w_1 * g\ntconv_1_post = clip(tconv_1_post, 0, tin_pre)\n"
    )


@pytest.mark.parametrize("filters", [3, 8])
def test_extraction_with_any_lane_count_equals_the_reference(filters, build_root):
    """1 lane (3 filters) and 8 lanes (8 filters) on the runtime device, bit for bit."""
    g = CsnnGeometry(rows=6, columns=6, kernel=3, filters=filters, pool=2)
    model = load_csnn_model("features/stdp_csnn")
    state = CsnnState.initial(model, g, model.values(TINY_VALUES), seed=1)
    rng = np.random.default_rng(filters)
    state.weights = rng.uniform(0, 0.6, state.weights.shape)
    state.thresholds = rng.uniform(2, 8, filters)
    times = _random_times(rng, 5, g)
    engine = CsnnEngine(model, g, "runtime", build_root, train_chunk=4, extract_chunk=3)
    features = engine.extract(state, times).dense()
    reference = extract_reference(times, state.weights, state.thresholds, g)
    np.testing.assert_array_equal(features, reference)
    assert (features < SILENT).mean() > 0.1 and (features == SILENT).any()


def test_patch_corners_stay_where_the_cpp_draws_them():
    rows, columns = patch_corners(CsnnGeometry(28, 28, 5, 8, 4), 20000, 0, 3)
    assert rows.min() == 0 and rows.max() == 24 - 5 and columns.max() == 19
    again = patch_corners(CsnnGeometry(28, 28, 5, 8, 4), 20000, 0, 3)
    np.testing.assert_array_equal(rows, again[0])  # a resumed epoch draws the same patches


# ---------------------------------------------------------------- reference


def test_training_reference_by_hand():
    p = {"lr_th": 1.0, "t_obj": 0.8, "min_th": 2.0, "a_plus": 0.1, "a_minus": 0.1, "beta": 1.0}
    # 3 inputs (t = 0.3, 0.1, silent), 3 filters; filter 1 crosses (strictly) at the second spike
    weights = np.array([[0.5, 1.0, 0.2], [0.5, 1.5, 0.2], [0.5, 0.5, 0.5]])
    thresholds = np.array([5.0, 2.0, 1.0])
    w, th, winners = train_reference(np.array([[0.3, 0.1, 1.0]]), weights, thresholds, p)
    assert winners.tolist() == [1]  # filter 2 (threshold 1) never exceeds 0.4
    lr, t = 1.0, 0.3
    expected_th = (
        thresholds - lr * (t - 0.8) - lr / 2 * np.array([1, 0, 1]) + lr * np.array([0, 1, 0])
    )
    np.testing.assert_allclose(th, np.maximum(expected_th, 2.0), rtol=0, atol=1e-15)
    col = weights[:, 1]
    ltp = col + 0.1 * np.exp(-col)
    ltd = col - 0.1 * np.exp(col - 1)
    np.testing.assert_allclose(w[:, 1], np.clip([ltp[0], ltp[1], ltd[2]], 0, 1), atol=1e-15)
    np.testing.assert_array_equal(w[:, [0, 2]], weights[:, [0, 2]])  # only the winner learns


def test_extraction_reference_equals_a_dense_cumulative_formulation():
    rng = np.random.default_rng(3)
    g = TINY
    times = _random_times(rng, 4, g)
    weights = rng.uniform(0, 1, (g.kernel, g.kernel, 2, g.filters)).astype(np.float32)
    thresholds = np.array([1.0, 2.5, 4.0, 9.0], dtype=np.float32)
    expected = np.full((4, g.conv_rows, g.conv_columns, g.filters), SILENT, dtype=np.float32)
    for s in range(4):
        for ox in range(g.conv_rows):
            for oy in range(g.conv_columns):
                field = times[s, ox : ox + g.kernel, oy : oy + g.kernel]  # (k, k, 2)
                flat_index = np.ravel_multi_index(
                    np.meshgrid(np.arange(ox, ox + 3), np.arange(oy, oy + 3), np.arange(2),
                                indexing="ij"), (g.rows, g.columns, 2),
                ).ravel()  # fmt: skip
                order = np.lexsort((flat_index, field.ravel()))  # time, then input index
                t = field.ravel()[order]
                for c in range(g.filters):
                    sums = np.cumsum(weights[..., c].ravel()[order], dtype=np.float32)
                    crossing = np.flatnonzero((sums >= thresholds[c]) & (t < SILENT))
                    if crossing.size:
                        expected[s, ox, oy, c] = t[crossing[0]]
    pooled = expected[:, :4, :4].reshape(4, 2, 2, 2, 2, g.filters).min(axis=(2, 4))
    got = extract_reference(times, weights, thresholds, g)
    np.testing.assert_array_equal(got, pooled.reshape(4, -1))
    assert (got < SILENT).any() and (got == SILENT).any()


# ---------------------------------------------------------------- engine vs reference


@pytest.fixture(scope="module")
def engine_runs(build_root):
    """Two training epochs and one extraction, on runtime and cpp (chunks smaller than the
    data, a padded last chunk)."""
    model = load_csnn_model("features/stdp_csnn")
    values = model.values(TINY_VALUES)
    times = _random_times(np.random.default_rng(7), 26, TINY)
    runs = {}
    for device in ("runtime", "cpp"):
        engine = CsnnEngine(model, TINY, device, build_root, train_chunk=10, extract_chunk=8)
        state = CsnnState.initial(model, TINY, values, seed=4)
        stats = [engine.train_epoch(state, times, seed=2, epoch=e) for e in range(2)]
        runs[device] = (state, stats, engine.extract(state, times[:19]).dense())
    return model, values, times, runs


@pytest.mark.parametrize("device", ["runtime", "cpp"])
def test_engine_trains_and_extracts_exactly_as_the_reference(engine_runs, device):
    model, values, times, runs = engine_runs
    state, stats, features = runs[device]
    expected = CsnnState.initial(model, TINY, values, seed=4)
    w, th = expected.weights.reshape(-1, TINY.filters), expected.thresholds
    for epoch in range(2):
        rows, columns = patch_corners(TINY, len(times), 2, epoch)
        rates = {**values, **{k: v * values["annealing"] ** epoch
                              for k, v in values.items() if k in model.annealed}}  # fmt: skip
        w, th, winners = train_reference(patch_times(times, rows, columns, 3), w, th, rates)
        np.testing.assert_array_equal(
            stats[epoch].wins, np.bincount(winners[winners >= 0], minlength=TINY.filters)
        )
        assert stats[epoch].no_winner == (winners < 0).sum()
    assert len(set(winners.tolist())) > 1  # the competition is not trivial
    np.testing.assert_allclose(state.weights.reshape(w.shape), w, rtol=0, atol=1e-12)
    np.testing.assert_allclose(state.thresholds, th, rtol=0, atol=1e-12)
    assert state.rates["lr_th"] == pytest.approx(values["lr_th"] * values["annealing"] ** 2)
    reference = extract_reference(times[:19], state.weights, state.thresholds, TINY)
    np.testing.assert_array_equal(features, reference)
    assert (features < SILENT).mean() > 0.1 and (features == SILENT).any()


def test_runtime_and_cpp_agree(engine_runs):
    runs = engine_runs[3]
    np.testing.assert_array_equal(runs["runtime"][2], runs["cpp"][2])
    np.testing.assert_allclose(runs["runtime"][0].weights, runs["cpp"][0].weights, atol=1e-12)


# ---------------------------------------------------------------- protocol runs

QUICK = ["training.epochs=2", "training.chunk_size=600", "extraction.chunk_size=400"]


def _load(build_root: Path, *overrides: str):
    return load_protocol(DIGITS, [*QUICK, f"device.build_dir={build_root}", *overrides])


@pytest.fixture(scope="module")
def digits_run(build_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("csnn_digits")
    return run_protocol(_load(build_root), out=out, show_progress=False)


def test_run_writes_spiking_datasets_a_readout_reads(digits_run):
    directory, data = digits_run.directory, digits_run.dataset
    for split, file in (("train", "trainset.npy"), ("validation", "valset.npy"),
                        ("test", "testset.npy")):  # fmt: skip
        times, labels = read_spiking_dataset(directory / file)
        assert times.shape == (data.sizes[f"{split}_sample"], 144)
        np.testing.assert_array_equal((times < 1).sum(axis=1), data[f"{split}_feature_spikes"])
        assert set(np.unique(labels)) <= set(range(10))
    assert data.filter_wins.dims == ("epoch", "filter") and data.sizes["epoch"] == 2
    assert (data.filter_wins.sum("filter") + data.samples_without_winner == 1293).all()
    assert data.weights.shape == (3, 3, 2, 16) and data.weights.attrs["long_name"]
    assert not (directory / "feature_parts").exists()
    reread = xr.open_dataset(directory / "results.nc")
    assert list(reread.split.values) == ["train", "validation", "test"]


def test_interrupted_run_resumes_to_the_same_features(
    digits_run, build_root, tmp_path, monkeypatch
):
    calls = {"train": 0, "extract": 0}
    train, extract = CsnnEngine.train_chunk, CsnnEngine.extract_chunk

    def failing(kind, limit, method):
        def call(self, *args):
            calls[kind] += 1
            if calls[kind] == limit:
                raise KeyboardInterrupt
            return method(self, *args)

        return call

    monkeypatch.setattr(CsnnEngine, "train_chunk", failing("train", 3, train))  # epoch 1, chunk 3
    with pytest.raises(KeyboardInterrupt):
        run_protocol(_load(build_root), out=tmp_path, show_progress=False)
    monkeypatch.setattr(CsnnEngine, "extract_chunk", failing("extract", 3, extract))
    with pytest.raises(KeyboardInterrupt):  # resumed training ends; extraction is cut
        run_protocol(_load(build_root), out=tmp_path, resume=True, show_progress=False)
    monkeypatch.setattr(CsnnEngine, "extract_chunk", extract)
    resumed = run_protocol(_load(build_root), out=tmp_path, resume=True, show_progress=False)
    for file in ("trainset.npy", "valset.npy", "testset.npy"):
        a, _ = read_spiking_dataset(digits_run.directory / file)
        b, _ = read_spiking_dataset(tmp_path / file)
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(resumed.dataset.weights, digits_run.dataset.weights)


def test_bad_protocols_are_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match="theta_zero"):
        load_protocol(DIGITS, ["network.parameters.theta_zero=3"])
    with pytest.raises(ConfigError, match="not found"):
        load_protocol(DIGITS, ["network.model=features/nothing"])
    with pytest.raises(ConfigError, match="kernel_size"):
        load_protocol(DIGITS, ["network.kernel_size=3"])
    bad = tmp_path / "bad.yaml"
    text = (ROOT / "models" / "features" / "stdp_csnn.yaml").read_text()
    bad.write_text(text.replace("  t_obj:", "  winner:"))
    with pytest.raises(ConfigError, match="winner"):
        load_protocol(DIGITS, [f"network.model={bad}"])
    with pytest.raises(BrainsnnError, match="does not fit"):
        from brainsnn.features.data import prepare_feature_images

        prepare_feature_images(load_protocol(DIGITS, ["network.kernel=9"]).protocol)


def test_validate_lets_brian2_check_the_model_code(tmp_path):
    from brainsnn.kinds import get_kind

    bad = tmp_path / "typo.yaml"
    text = (ROOT / "models" / "features" / "stdp_csnn.yaml").read_text()
    bad.write_text(text.replace("integrate: |\n  v_post += w\n", "integrate: |\n  v_post += ww\n"))
    experiment = load_protocol(DIGITS, [f"network.model={bad}"])
    with pytest.raises(ConfigError, match="ww"):
        get_kind("features").check(experiment)


def test_a_readout_validates_on_the_features_validation_file(digits_run):
    from brainsnn.readout.data import prepare_data

    directory = digits_run.directory
    names = {"train": "trainset.npy", "test": "testset.npy", "validation": "valset.npy"}
    files = [f"data.{key}_file={directory / name}" for key, name in names.items()]
    readout = ROOT / "protocols" / "ncg_digits.yaml"
    data = prepare_data(load_protocol(readout, ["data.source=spikingdataset", *files]).protocol)
    sizes = digits_run.dataset.sizes
    assert len(data.train.labels) == sizes["train_sample"]  # the whole training file
    assert len(data.validation.labels) == sizes["validation_sample"]
    held = prepare_data(load_protocol(readout, ["data.source=spikingdataset", *files[:2]]).protocol)
    assert len(held.train.labels) + len(held.validation.labels) == sizes["train_sample"]
    with pytest.raises(ConfigError, match="exclude each other"):
        load_protocol(
            readout, ["data.source=spikingdataset", *files, "data.folds=5", "data.fold=0"]
        )


def test_a_fold_of_the_training_images_is_the_validation_set():
    from brainsnn.core.splits import kfold_split
    from brainsnn.features.data import load_feature_images

    whole = load_feature_images(load_protocol(DIGITS, ["data.validation_fraction=0"]).data)
    fold = load_feature_images(
        load_protocol(DIGITS, ["data.validation_fraction=0", "data.folds=5", "data.fold=2"]).data
    )
    fit, held = kfold_split(whole.labels["train"], 5, 2)
    np.testing.assert_array_equal(fold.images["validation"], whole.images["train"][held])
    np.testing.assert_array_equal(fold.images["train"], whole.images["train"][fit])
    with pytest.raises(ConfigError, match="exclude each other"):
        load_protocol(DIGITS, ["data.folds=5", "data.fold=2"])  # validation_fraction 0.1 too
