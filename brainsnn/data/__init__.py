"""Dataset loading and spike-time encoding."""

from brainsnn.data.digits import DIGITS_MAX_VALUE, load_digits_dataset
from brainsnn.data.idx import (
    FASHION_MNIST_DIR,
    MNIST_MAX_VALUE,
    load_idx_dataset,
    read_idx,
    write_idx,
)
from brainsnn.data.spikingdataset import (
    convert_features,
    features_to_spiking_dataset,
    read_spiking_dataset,
    write_spiking_dataset,
)
from brainsnn.data.ttfs import grid_times, quantise_times, ttfs_encode

__all__ = [
    "DIGITS_MAX_VALUE",
    "FASHION_MNIST_DIR",
    "MNIST_MAX_VALUE",
    "convert_features",
    "features_to_spiking_dataset",
    "grid_times",
    "load_digits_dataset",
    "load_idx_dataset",
    "quantise_times",
    "read_idx",
    "read_spiking_dataset",
    "ttfs_encode",
    "write_idx",
    "write_spiking_dataset",
]
