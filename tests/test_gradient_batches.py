"""SPSN's data path: each sample augmented at its own length, batches front-padded to their
longest sample, and a batch at the end of the fixed frame equal to the batch alone."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

from brainsnn.data.shd import SpikeEvents, augment_shift_scale, batch_events  # noqa: E402
from brainsnn.gradient import losses  # noqa: E402
from brainsnn.gradient.data import (  # noqa: E402
    EventBatch,
    GradientDataset,
    SpikeSplit,
    event_capacity,
)
from brainsnn.gradient.network import GradientStack  # noqa: E402
from brainsnn.gradient.protocol import GradientData, GradientNetwork  # noqa: E402
from brainsnn.gradient.trainer import sparse_input  # noqa: E402


class _Draws:
    """A stand-in for np.random.Generator whose uniform() returns given values in turn."""

    def __init__(self, *values: np.ndarray):
        self.values = list(values)

    def uniform(self, low, high, size):
        value = np.asarray(self.values.pop(0), np.float64)
        assert value.shape == (size,) and ((low <= value) & (value <= high)).all()
        return value


def test_a_short_sample_is_scaled_about_its_own_centre_and_stays_in_its_window():
    """Hand-made: a 4-step sample at the end of a 10-step frame, 4 channels, scale 0.5.

    Its own image is rows 6..9 of the frame. Output row k of the sample samples row
    rint((k + 0.5 - 2) / 0.5 + 1.5) = -2 (empty), 0, 2, 4 (empty), and the channels alike; the
    frame's rows 0..5 stay empty. Scaling about the frame's centre (the old behaviour) would
    have moved the sample towards step 5 and out of its own rows.
    """
    sample = np.arange(1, 17, dtype=np.float32).reshape(4, 4)  # rows = steps, columns = channels
    x = np.zeros((1, 10, 4), np.float32)
    x[0, 6:] = sample
    out = augment_shift_scale(x, _Draws([0.0], [0.5]), shift=0.1, scale=0.5, lengths=[4])
    expected = np.zeros((10, 4), np.float32)
    expected[7, 1:3] = sample[0, [0, 2]]
    expected[8, 1:3] = sample[2, [0, 2]]
    np.testing.assert_array_equal(out[0], expected)
    whole_frame = augment_shift_scale(x, _Draws([0.0], [0.5]), shift=0.1, scale=0.5)
    assert not np.array_equal(whole_frame[0], expected)


def test_augmenting_in_the_frame_equals_augmenting_each_sample_then_padding():
    rng = np.random.default_rng(0)
    batch, frame, channels = 6, 30, 12
    lengths = np.array([30, 17, 5, 1, 0, 24])
    x = np.zeros((batch, frame, channels), np.float32)
    for b, length in enumerate(lengths):
        x[b, frame - length :] = rng.integers(0, 3, (length, channels))
    shifts = np.rint(rng.uniform(-2.4, 2.4, batch))
    factors = rng.uniform(0.6, 1.4, batch)
    out = augment_shift_scale(x, _Draws(shifts, factors), 0.2, 0.4, lengths=lengths)
    for b, length in enumerate(lengths):
        own = x[b : b + 1, frame - length :]
        alone = augment_shift_scale(own, _Draws(shifts[[b]], factors[[b]]), 0.2, 0.4)
        np.testing.assert_array_equal(out[b, frame - length :], alone[0])
        assert not out[b, : frame - length].any()
    assert (factors > 1.2).any() and (factors < 0.8).any() and out.any()


def _dataset(align: str) -> GradientDataset:
    """Three samples of 2 channels at 1 ms (ceil binning: bins 0, 3 | 1, 5 | 1): own lengths
    4, 6 and 2 steps."""
    events = SpikeEvents(
        times=[np.array([0.0, 0.0021]), np.array([0.001, 0.0049]), np.array([0.0004])],
        units=[np.array([0, 1]), np.array([1, 0]), np.array([1])],
        labels=np.array([0, 1, 0]),
        n_units=2,
    )
    section = GradientData(
        train="unused.h5", test="unused.h5", dt="1 ms", steps=8, rounding="ceil", align=align
    )
    split = SpikeSplit(events, np.arange(3))
    return GradientDataset(section, split, None, split)


def test_a_batch_is_front_padded_to_its_longest_sample():
    data = _dataset("end")
    both = data.dense(data.train, np.array([0, 2]))
    assert both.counts.shape == (2, 8, 2) and both.start.tolist() == [4, 4]  # 8 - 4
    np.testing.assert_array_equal(both.counts[0, 4:], [[1, 0], [0, 0], [0, 0], [0, 1]])
    np.testing.assert_array_equal(both.counts[1, 4:], [[0, 0], [0, 0], [0, 0], [0, 1]])
    assert not both.counts[:, :4].any()
    assert data.dense(data.train, np.arange(3)).start.tolist() == [2, 2, 2]  # 8 - 6
    fixed = _dataset("start").dense(data.train, np.array([0, 2]))
    assert fixed.start.tolist() == [0, 0]  # FS_coding: a fixed window from time 0
    np.testing.assert_array_equal(fixed.counts[0, :4], [[1, 0], [0, 0], [0, 0], [0, 1]])


NETWORK = {
    "hidden": [
        {"size": 10, "neuron": "gradient/lif", "bias": True, "batch_norm": True},
        {
            "size": 10,
            "neuron": "gradient/paralif",
            "firing": "paralif_SD",
            "bias": True,
            "parameters": {"theta": 0.02},
        },
    ],
    "readout": {"size": 3, "neuron": "gradient/lif", "firing": "none", "bias": True},
}


def _objective(stack, constants, stats, x, labels, start):
    """SPSN's loss (membrane mean + rate regulariser) and the forward pass it came from."""

    def loss(params):
        forward = stack.forward(params, constants, stats, x, jax.random.PRNGKey(0), True, start)
        membrane = jnp.swapaxes(forward.readout_membrane, 1, 2)
        value = losses.membrane_loss(membrane, labels, "mean", forward.valid)
        value = value + losses.spike_rate_penalty(forward.hidden, 0.01, forward.valid)
        return value, (forward.hidden, forward.readout_membrane, forward.batch_stats)

    return loss


def test_a_batch_at_the_end_of_a_longer_frame_equals_the_batch_alone():
    """LIF + BatchNorm (scan) and ParaLIF-SD (FFT filter, D spikes) layers with biases: a batch
    of 25 steps placed at the end of a 60-step frame gives the loss, gradients, spikes and
    membranes of the 25-step batch (its first step is the frame's step 35)."""
    stack = GradientStack(GradientNetwork(**NETWORK), 6)
    params, constants, stats = stack.init_state(3)
    params["layers"][0]["bn_scale"] = jnp.full(10, 2.0)  # so that both layers fire
    params["layers"][0]["bn_shift"] = jnp.full(10, 0.5)
    params["layers"][1]["weight"] = params["layers"][1]["weight"] * 5
    params["layers"][1]["bias"] = jnp.full(10, 0.5)
    rng = np.random.default_rng(2)
    short = rng.integers(0, 2, (4, 25, 6)).astype(np.float32)
    short[1, :9] = 0  # a shorter sample of the batch: padded inside the batch, as in SPSN
    frame = np.concatenate([np.zeros((4, 35, 6), np.float32), short], axis=1)
    labels = jnp.asarray([0, 1, 2, 1])
    alone = _objective(stack, constants, stats, jnp.asarray(short), labels, None)
    padded = _objective(stack, constants, stats, jnp.asarray(frame), labels, jnp.full(4, 35))
    (loss_a, fwd_a), grad_a = jax.value_and_grad(alone, has_aux=True)(params)
    (loss_p, fwd_p), grad_p = jax.value_and_grad(padded, has_aux=True)(params)

    np.testing.assert_allclose(float(loss_p), float(loss_a), rtol=1e-5)
    for a, p in zip(jax.tree.leaves(grad_a), jax.tree.leaves(grad_p), strict=True):
        # float32 FFTs of 25 and 60 steps round differently, by a fraction of the array's
        # largest element rather than of each element (jax 0.12.1: 1.6e-5 on an element of 0.036)
        scale = max(float(np.abs(a).max()), 0.01)  # leaves that are zero up to rounding: 1e-6
        np.testing.assert_allclose(p, a, rtol=2e-4, atol=1e-4 * scale)
    (hidden_a, membrane_a, stats_a), (hidden_p, membrane_p, stats_p) = fwd_a, fwd_p
    for a, p in zip(hidden_a, hidden_p, strict=True):
        np.testing.assert_array_equal(p[:, 35:], a)
        assert not p[:, :35].any()
        assert 0.05 < float(a.mean()) < 0.9  # both layers fire, not always
    np.testing.assert_allclose(membrane_p[:, 35:], membrane_a, atol=1e-5)
    for a, p in zip(stats_a, stats_p, strict=True):
        for key in a:
            np.testing.assert_allclose(p[key], a[key], rtol=1e-5)

    unmasked = _objective(stack, constants, stats, jnp.asarray(frame), labels, None)
    loss_u, (hidden_u, _, _) = unmasked(params)
    assert hidden_u[1][:, :35].any()  # the biases make the padding fire without the mask
    assert abs(float(loss_u) - float(loss_a)) > 1e-3


def test_a_batch_runs_in_the_shortest_bucket_that_holds_it():
    data = _dataset("end")
    data.section = data.section.model_copy(update={"bucket": 3})
    both = data.dense(data.train, np.array([0, 2]))  # longest 4 steps: a frame of 6
    assert both.counts.shape == (2, 6, 2) and both.start.tolist() == [2, 2]
    full = _dataset("end").dense(data.train, np.array([0, 2]))  # frame 8 (bucket 100 > steps)
    np.testing.assert_array_equal(data.full_frame(both.counts, 1), full.counts)
    assert data.dense(data.train, np.arange(3)).counts.shape == (3, 6, 2)  # longest 6
    assert data.dense(data.train, np.array([2])).counts.shape == (1, 3, 2)  # longest 2


def _random_dataset(
    rng: np.random.Generator, n: int, channels: int, steps: int, shift: float, scale: float
) -> GradientDataset:
    """n random samples (0-24 events, each sample up to 2-30 ms long) as train and test split,
    binned at 1 ms (ceil) into ``steps`` steps, end-aligned, no buckets."""
    times = [
        np.sort(rng.uniform(0, rng.uniform(0.002, 0.03), rng.integers(0, 25))) for _ in range(n)
    ]
    units = [rng.integers(0, channels, len(t)) for t in times]
    events = SpikeEvents(times, units, np.zeros(n, int), n_units=channels)
    section = GradientData(
        train="unused.h5", test="unused.h5", dt="1 ms", steps=steps, rounding="ceil",
        align="end", shift=shift, scale=scale, bucket=0,
    )  # fmt: skip
    split = SpikeSplit(events, np.arange(n))
    return GradientDataset(section, split, None, split)


def test_augmented_events_equal_the_dense_augmentation_of_each_sample():
    """The batch built from events equals augment_shift_scale on the dense samples with their
    own lengths (the reference above), for random samples, shifts and scales."""
    rng = np.random.default_rng(4)
    n = 40
    data = _random_dataset(rng, n, channels=9, steps=30, shift=0.3, scale=0.45)
    split, events = data.train, data.train.events
    changed = 0
    for seed in range(5):
        batch = rng.permutation(n)[:8]
        built = data.dense(split, batch, np.random.default_rng(seed))
        plain = data.dense(split, batch)
        own = batch_events(events, 0.001, 30, "ceil", batch).lengths
        reference = augment_shift_scale(
            plain.counts, np.random.default_rng(seed), 0.3, 0.45, lengths=own
        )
        np.testing.assert_array_equal(built.counts, reference)
        changed += not np.array_equal(built.counts, plain.counts)
    assert changed == 5


def _scattered(events: EventBatch) -> np.ndarray:
    """The dense counts an EventBatch stands for."""
    batch, steps, channels = events.shape
    out = np.zeros((batch * steps, channels), np.float32)
    np.add.at(out, (events.rows, events.units), events.counts)
    return out.reshape(events.shape)


def test_an_event_batch_holds_the_dense_batch_in_sorted_padded_rows():
    """Random samples with augmentation: the events scatter back to exactly ``dense``'s counts
    (same generator state), rows are sorted, and the padding is zero counts in the last row."""
    rng = np.random.default_rng(7)
    n = 30
    data = _random_dataset(rng, n, channels=5, steps=25, shift=0.2, scale=0.3)
    split = data.train
    for seed in range(4):
        batch = rng.permutation(n)[:9]
        dense = data.dense(split, batch, np.random.default_rng(seed))
        sparse = data.events(split, batch, np.random.default_rng(seed))
        assert sparse.shape == dense.counts.shape
        np.testing.assert_array_equal(sparse.start, dense.start)
        np.testing.assert_array_equal(_scattered(sparse), dense.counts)
        filled = int((sparse.counts > 0).sum())
        assert filled == int((dense.counts > 0).sum())
        assert len(sparse.rows) == event_capacity(filled)
        assert (np.diff(sparse.rows) >= 0).all()
        assert (sparse.rows[filled:] == 9 * dense.counts.shape[1] - 1).all()
        assert not sparse.counts[filled:].any()


def test_event_capacity_is_the_next_power_of_two_and_at_least_1024():
    counts = np.arange(0, 200_000, 37)
    capacities = np.array([event_capacity(int(c)) for c in counts])
    assert (capacities >= counts).all() and (capacities >= 1024).all()
    assert (capacities[counts > 1024] < 2 * counts[counts > 1024]).all()
    assert (np.diff(capacities) >= 0).all()
    assert event_capacity(1024) == 1024 and event_capacity(1025) == 2048
    assert len(np.unique(capacities)) == 9  # 1,024 ... 262,144: few sizes, few compilations


def test_the_stack_gives_the_same_outputs_and_gradients_from_events_as_from_dense_counts():
    """LIF + BatchNorm and ParaLIF-SD on a front-padded batch: the sparse projection of the
    first layer (a sum of weight rows per event) matches counts @ weight."""
    rng = np.random.default_rng(3)
    batch, steps, channels = 4, 25, 6
    counts = (rng.random((batch, steps, channels)) < 0.2) * rng.integers(1, 3, (1, 1, 1))
    counts = counts.astype(np.float32)
    counts[:, :5] = 0  # before the batch starts
    cells = np.flatnonzero(counts)
    capacity = event_capacity(len(cells))
    events = EventBatch(
        *(np.pad(a, (0, capacity - len(cells)), constant_values=fill).astype(dtype)
          for a, fill, dtype in ((cells // channels, batch * steps - 1, np.int32),
                                 (cells % channels, 0, np.int32),
                                 (counts.reshape(-1)[cells], 0, np.float32))),
        start=np.full(batch, 5, np.int32),
        shape=counts.shape,
    )  # fmt: skip
    stack = GradientStack(GradientNetwork(**NETWORK), channels)
    params, constants, stats = stack.init_state(0)
    labels = jnp.asarray([0, 1, 2, 1])
    start = jnp.asarray(events.start)
    (dense_loss, dense_out), dense_grads = jax.value_and_grad(
        _objective(stack, constants, stats, jnp.asarray(counts), labels, start), has_aux=True
    )(params)
    (sparse_loss, sparse_out), sparse_grads = jax.value_and_grad(
        _objective(stack, constants, stats, sparse_input(events), labels, start), has_aux=True
    )(params)
    np.testing.assert_allclose(float(sparse_loss), float(dense_loss), rtol=1e-6)
    for dense_hidden, sparse_hidden in zip(dense_out[0], sparse_out[0], strict=True):
        np.testing.assert_array_equal(np.asarray(sparse_hidden), np.asarray(dense_hidden))
    np.testing.assert_allclose(sparse_out[1], dense_out[1], rtol=1e-5, atol=1e-6)
    for dense_leaf, sparse_leaf in zip(
        jax.tree.leaves(dense_grads), jax.tree.leaves(sparse_grads), strict=True
    ):
        np.testing.assert_allclose(sparse_leaf, dense_leaf, rtol=1e-4, atol=1e-6)
    assert float(jnp.abs(dense_grads["layers"][0]["weight"]).max()) > 0


@pytest.mark.parametrize("chunk", [8192, 256, 3])
def test_the_sparse_projection_equals_the_dense_product_in_any_chunking(monkeypatch, chunk):
    """1,100 events in a capacity of 2,048: one chunk, eight of 256, or chunks of 1 (gcd with
    3); the weight gradient too."""
    from brainsnn.gradient import network

    monkeypatch.setattr(network, "EVENT_CHUNK", chunk)
    rng = np.random.default_rng(5)
    shape = (3, 40, 30)
    cells = np.sort(rng.choice(np.prod(shape), 1100, replace=False))
    counts = rng.integers(1, 4, len(cells)).astype(np.float32)
    dense = np.zeros(np.prod(shape), np.float32)
    dense[cells] = counts
    dense = jnp.asarray(dense.reshape(shape))
    capacity = event_capacity(len(cells))
    assert capacity == 2048
    pad = capacity - len(cells)
    events = network.SparseInput(
        jnp.asarray(np.pad(cells // shape[2], (0, pad), constant_values=shape[0] * shape[1] - 1)),
        jnp.asarray(np.pad(cells % shape[2], (0, pad))),
        jnp.asarray(np.pad(counts, (0, pad))),
        shape,
    )
    weight = jnp.asarray(rng.normal(size=(shape[2], 7)).astype(np.float32))
    cotangent = jnp.asarray(rng.normal(size=(*shape[:2], 7)).astype(np.float32))
    np.testing.assert_allclose(events.project(weight), dense @ weight, rtol=1e-5, atol=1e-5)
    sparse_grad = jax.grad(lambda w: (events.project(w) * cotangent).sum())(weight)
    dense_grad = jax.grad(lambda w: ((dense @ w) * cotangent).sum())(weight)
    np.testing.assert_allclose(sparse_grad, dense_grad, rtol=1e-5, atol=1e-5)
