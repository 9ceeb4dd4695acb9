"""Dataset loading and spike-time encoding."""

from brainsnn.data.digits import DIGITS_MAX_VALUE, load_digits_dataset
from brainsnn.data.idx import (
    FASHION_MNIST_DIR,
    MNIST_MAX_VALUE,
    load_idx_dataset,
    read_idx,
    write_idx,
)
from brainsnn.data.shd import (
    SHD_UNITS,
    BatchEvents,
    SpikeEvents,
    augment_events,
    augment_shift_scale,
    batch_events,
    bin_events,
    dense_counts,
    n_steps_needed,
    read_shd,
    write_shd,
)
from brainsnn.data.spikingdataset import (
    SparseSpikeTimes,
    convert_features,
    features_to_spiking_dataset,
    open_spiking_dataset,
    read_spiking_dataset,
    write_spiking_dataset,
)
from brainsnn.data.spoken_digits import synthesise_spoken_digits
from brainsnn.data.ttfs import grid_times, quantise_times, rank_times, ttfs_encode

__all__ = [
    "DIGITS_MAX_VALUE",
    "FASHION_MNIST_DIR",
    "MNIST_MAX_VALUE",
    "SHD_UNITS",
    "BatchEvents",
    "SparseSpikeTimes",
    "SpikeEvents",
    "augment_events",
    "augment_shift_scale",
    "batch_events",
    "bin_events",
    "convert_features",
    "dense_counts",
    "features_to_spiking_dataset",
    "grid_times",
    "load_digits_dataset",
    "load_idx_dataset",
    "n_steps_needed",
    "open_spiking_dataset",
    "quantise_times",
    "rank_times",
    "read_idx",
    "read_shd",
    "read_spiking_dataset",
    "synthesise_spoken_digits",
    "ttfs_encode",
    "write_idx",
    "write_shd",
    "write_spiking_dataset",
]
