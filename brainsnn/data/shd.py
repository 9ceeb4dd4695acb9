"""Spiking Heidelberg Digits (SHD) / Spiking Speech Commands (SSC) files, binning, augmentation.

The official HDF5 layout (Cramer et al. 2020, https://zenkelab.org/datasets/)::

    spikes/times       ragged (vlen) float16, one array of spike times in seconds per sample
    spikes/units       ragged (vlen) uint16, the channel (0..699) of each spike
    labels             uint16 (n,), class index
    extra/speaker      uint16 (n,), speaker index
    extra/keys         fixed-length byte strings, class names (index = label)
    extra/meta_info/*  optional per-speaker arrays (gender, age, body_height, ...)

Times are float16 in the official files: steps of 0.5 ms between 0.5 and 1 s, 1 ms above.
``read_shd`` keeps the file's dtypes (about 4 bytes per spike); ``bin_events`` turns the
events of a batch into dense (batch, time step, channel) spike counts.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from brainsnn.core.errors import ConfigError, DataError

#: Input channels of SHD and SSC (the cochlea model's 700 channels).
SHD_UNITS = 700

#: dtypes of the official files (spikes/times and spikes/units are ragged arrays of these).
TIME_DTYPE = np.dtype(np.float16)
UNIT_DTYPE = np.dtype(np.uint16)
LABEL_DTYPE = np.dtype(np.uint16)
SPEAKER_DTYPE = np.dtype(np.uint16)

SHD_SOURCE_HINT = (
    "SHD cannot be downloaded by brainsnn: download shd_train.h5.gz and shd_test.h5.gz from "
    "https://zenkelab.org/datasets/ and gunzip them, or make an offline substitute with "
    "'brainsnn data spoken-digits DIR'"
)

#: t / dt within this many bins of an integer counts as that integer (decimal rounding).
_BIN_EPS = 1e-9

_REQUIRED = ("spikes/times", "spikes/units", "labels")
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class SpikeEvents:
    """Spike events of n samples, as stored in an SHD file.

    ``times[i]`` (seconds) and ``units[i]`` (channel ids 0..n_units-1) have equal lengths;
    ``labels`` (n,) are class indices into ``keys``; ``speakers`` (n,) or None;
    ``meta_info`` holds the optional ``extra/meta_info`` arrays (per speaker in SHD).
    """

    times: list[np.ndarray]
    units: list[np.ndarray]
    labels: np.ndarray
    speakers: np.ndarray | None = None
    keys: list[str] = field(default_factory=list)
    n_units: int = SHD_UNITS
    meta_info: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, indices: np.ndarray) -> SpikeEvents:
        """The samples at ``indices`` (keys, n_units and meta_info are shared)."""
        idx = np.asarray(indices, dtype=np.int64)
        return SpikeEvents(
            times=[self.times[i] for i in idx],
            units=[self.units[i] for i in idx],
            labels=np.asarray(self.labels)[idx],
            speakers=None if self.speakers is None else np.asarray(self.speakers)[idx],
            keys=list(self.keys),
            n_units=self.n_units,
            meta_info=dict(self.meta_info),
        )


def import_h5py() -> Any:
    """The h5py module; DataError if it is not installed (the 'gradient' extra)."""
    try:
        import h5py
    except ImportError as exc:  # optional dependency (the 'gradient' extra)
        raise DataError("h5py is needed for SHD files: pip install 'brainsnn[gradient]'") from exc
    return h5py


def _check_events(events: SpikeEvents, where: str) -> None:
    """Raise DataError unless times/units/labels/speakers have consistent lengths."""
    n = len(events.labels)
    if len(events.times) != n or len(events.units) != n:
        raise DataError(
            f"{where}: {len(events.times)} spikes/times and {len(events.units)} spikes/units "
            f"rows for {n} labels"
        )
    if events.speakers is not None and len(events.speakers) != n:
        raise DataError(f"{where}: {len(events.speakers)} speakers for {n} labels")
    for i, (t, u) in enumerate(zip(events.times, events.units, strict=True)):
        if len(t) != len(u):
            raise DataError(
                f"{where}: sample {i} has {len(t)} spike times but {len(u)} spike units"
            )


def _decode(values: np.ndarray) -> list[str]:
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values.tolist()]


def _rows(f: Any, name: str, path: Path) -> list[np.ndarray]:
    """One array per sample from a ragged (variable-length) or 2-D dataset."""
    h5py = import_h5py()
    dataset = f[name]
    ragged = isinstance(dataset, h5py.Dataset) and (
        (dataset.ndim == 1 and h5py.check_vlen_dtype(dataset.dtype) is not None)
        or dataset.ndim == 2
    )
    if not ragged:
        raise DataError(f"{path}: {name} must be a ragged dataset with one array per sample")
    return list(dataset[()])


def read_shd(path: str | Path, n_units: int | None = None) -> SpikeEvents:
    """Read an SHD/SSC HDF5 file (the official layout, see the module docstring).

    Times and units keep the file's dtypes (float16 seconds and uint16 in the official files).
    ``n_units`` defaults to the file's ``n_units`` attribute (written by ``write_shd``), else
    700. A missing file or one that is not SHD-shaped raises DataError.
    """
    path = Path(path)
    if not path.is_file():
        gz = path.with_name(path.name + ".gz")
        if gz.is_file():
            raise DataError(f"SHD file not found: {path}, but {gz} is there: gunzip it first")
        raise DataError(f"SHD file not found: {path}. {SHD_SOURCE_HINT}")
    with path.open("rb") as handle:
        if handle.read(2) == _GZIP_MAGIC:
            raise DataError(f"{path} is gzip-compressed: gunzip it first")
    h5py = import_h5py()
    try:
        with h5py.File(path, "r") as f:
            missing = [name for name in _REQUIRED if name not in f]
            if missing:
                raise DataError(f"{path} is not an SHD file: no dataset {', '.join(missing)}")
            times = _rows(f, "spikes/times", path)
            units = _rows(f, "spikes/units", path)
            labels = np.asarray(f["labels"][()])
            speakers = np.asarray(f["extra/speaker"][()]) if "extra/speaker" in f else None
            keys = _decode(np.asarray(f["extra/keys"][()])) if "extra/keys" in f else []
            meta: dict[str, np.ndarray] = {}
            if "extra/meta_info" in f:
                for name, dataset in f["extra/meta_info"].items():
                    if isinstance(dataset, h5py.Dataset):
                        meta[name] = np.asarray(dataset[()])
            stored_units = int(f.attrs.get("n_units", SHD_UNITS))
    except OSError as exc:
        raise DataError(f"cannot read {path} as HDF5: {exc}") from exc
    if labels.ndim != 1:
        raise DataError(f"{path}: labels must be one-dimensional, got shape {labels.shape}")
    events = SpikeEvents(
        times=times,
        units=units,
        labels=labels,
        speakers=speakers,
        keys=keys,
        n_units=stored_units if n_units is None else int(n_units),
        meta_info=meta,
    )
    _check_events(events, str(path))
    top = max((int(u.max()) for u in units if len(u)), default=-1)
    if top >= events.n_units:
        raise DataError(f"{path}: unit id {top} out of range 0..{events.n_units - 1}")
    return events


def _ragged(rows: list[np.ndarray], dtype: np.dtype) -> np.ndarray:
    out = np.empty(len(rows), dtype=object)
    for i, row in enumerate(rows):
        out[i] = np.asarray(row).astype(dtype)
    return out


def _check_writable(events: SpikeEvents) -> None:
    """Raise DataError for values the official dtypes cannot hold."""
    _check_events(events, "the events to write")
    if not 0 < events.n_units <= np.iinfo(UNIT_DTYPE).max + 1:
        raise DataError(f"n_units must be in 1..65536, got {events.n_units}")
    for i, (t, u) in enumerate(zip(events.times, events.units, strict=True)):
        t = np.asarray(t, dtype=np.float64)
        if len(t) and not (np.isfinite(t).all() and t.min() >= 0 and t.max() < 65504):
            raise DataError(f"sample {i}: spike times must be finite, >= 0 s and < 65504 s")
        u = np.asarray(u)
        if len(u) and (u.min() < 0 or u.max() >= events.n_units):
            raise DataError(f"sample {i}: unit ids must be in 0..{events.n_units - 1}")


def _text_array(values: Any) -> np.ndarray:
    """Strings as fixed-length UTF-8 byte strings (h5py stores them as HDF5 strings)."""
    array = np.asarray(values)
    if array.dtype.kind == "U":
        return np.array([str(v).encode("utf-8") for v in array.ravel()]).reshape(array.shape)
    return array


def _default_file_mode() -> int:
    """Permissions of a newly created file under the current umask (0644 for umask 022)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def write_shd(
    path: str | Path,
    events: SpikeEvents,
    meta_info: dict[str, Any] | None = None,
    attrs: dict[str, Any] | None = None,
) -> None:
    """Write ``events`` to ``path`` in the official SHD layout and dtypes.

    Times are stored as float16 seconds (as in the official files: 1 ms steps above 1 s),
    units as uint16; ``meta_info`` (default ``events.meta_info``) goes to
    ``extra/meta_info/<name>`` (string arrays as byte strings). ``n_units`` and ``attrs`` are
    stored as root attributes (SHD readers ignore them). The file is written to a temporary
    file in the same directory and renamed, so an interrupted write never leaves a half file.
    """
    h5py = import_h5py()
    _check_writable(events)
    path = Path(path)
    meta = events.meta_info if meta_info is None else meta_info
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        with h5py.File(tmp_name, "w") as f:
            f.attrs["n_units"] = int(events.n_units)
            for name, value in (attrs or {}).items():
                f.attrs[name] = value
            f.create_dataset(
                "spikes/times",
                data=_ragged(events.times, TIME_DTYPE),
                dtype=h5py.vlen_dtype(TIME_DTYPE),
            )
            f.create_dataset(
                "spikes/units",
                data=_ragged(events.units, UNIT_DTYPE),
                dtype=h5py.vlen_dtype(UNIT_DTYPE),
            )
            f.create_dataset("labels", data=np.asarray(events.labels).astype(LABEL_DTYPE))
            if events.speakers is not None:
                speakers = np.asarray(events.speakers).astype(SPEAKER_DTYPE)
                f.create_dataset("extra/speaker", data=speakers)
            keys = _text_array(list(events.keys)) if events.keys else np.zeros(0, dtype="S1")
            f.create_dataset("extra/keys", data=keys)
            for name, values in meta.items():
                f.create_dataset(f"extra/meta_info/{name}", data=_text_array(values))
        os.chmod(tmp_name, _default_file_mode())  # mkstemp makes 0600 files
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


# --- dense binning ------------------------------------------------------------------------


def _check_binning(dt: float, rounding: str, align: str) -> None:
    if not dt > 0:
        raise ConfigError(f"dt must be > 0 seconds, got {dt!r}")
    if rounding not in ("floor", "ceil"):
        raise ConfigError(f"rounding must be 'floor' or 'ceil', got {rounding!r}")
    if align not in ("start", "end"):
        raise ConfigError(f"align must be 'start' or 'end', got {align!r}")


def _event_bins(
    events: SpikeEvents, dt: float, rounding: str, indices: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row in ``indices``, time bin, unit) of every event of the selected samples."""
    times = [np.asarray(events.times[i], dtype=np.float64) for i in indices]
    units = [np.asarray(events.units[i], dtype=np.int64) for i in indices]
    counts = np.array([len(t) for t in times], dtype=np.int64)
    rows = np.repeat(np.arange(len(indices)), counts)
    t = np.concatenate(times) if times else np.zeros(0)
    u = np.concatenate(units) if units else np.zeros(0, dtype=np.int64)
    if t.size and not (np.isfinite(t).all() and t.min() >= 0):
        raise DataError("spike times must be finite and >= 0 seconds")
    if u.size and (u.min() < 0 or u.max() >= events.n_units):
        raise DataError(f"unit ids must be in 0..{events.n_units - 1}, got {u.min()}..{u.max()}")
    x = t / dt
    b = np.floor(x + _BIN_EPS) if rounding == "floor" else np.ceil(x - _BIN_EPS)
    return rows, np.maximum(b, 0).astype(np.int64), u


def _indices(events: SpikeEvents, indices: np.ndarray | None) -> np.ndarray:
    if indices is None:
        return np.arange(len(events))
    idx = np.asarray(indices, dtype=np.int64).ravel()
    if idx.size and (idx.min() < -len(events) or idx.max() >= len(events)):
        raise ConfigError(f"sample indices out of range for {len(events)} samples")
    return idx


@dataclass
class BatchEvents:
    """Events of selected samples, each with its own length, ready to place in a dense frame.

    ``sample`` (row in the selection), ``step`` (bin within the sample's own window of
    ``lengths[sample]`` steps) and ``unit``, one entry per spike (int64); ``lengths``
    (n_selected,): the last kept bin + 1 (0 for a sample without events).
    """

    sample: np.ndarray
    step: np.ndarray
    unit: np.ndarray
    lengths: np.ndarray


def batch_events(
    events: SpikeEvents,
    dt: float,
    n_steps: int,
    rounding: Literal["floor", "ceil"] = "floor",
    indices: np.ndarray | None = None,
) -> BatchEvents:
    """The binned events of the selected samples (bins >= ``n_steps`` dropped). SPSN's dense
    sample is (length, channels); its front-padded batch is as long as its longest sample."""
    _check_binning(dt, rounding, "start")
    idx = _indices(events, indices)
    rows, bins, units = _event_bins(events, dt, rounding, idx)
    keep = bins < n_steps
    rows, bins, units = rows[keep], bins[keep], units[keep]
    lengths = np.zeros(len(idx), dtype=np.int64)
    np.maximum.at(lengths, rows, bins + 1)
    return BatchEvents(rows, bins, units, lengths)


def dense_counts(
    sample: np.ndarray, step: np.ndarray, unit: np.ndarray, shape: tuple[int, int, int]
) -> np.ndarray:
    """Spike counts float32 of ``shape`` (batch, steps, units) from events; duplicates add."""
    out = np.zeros(shape, dtype=np.float32)
    cells, counts = cell_counts(sample, step, unit, shape)
    out.reshape(-1)[cells] = counts
    return out


def cell_counts(
    sample: np.ndarray, step: np.ndarray, unit: np.ndarray, shape: tuple[int, int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """The non-empty cells of ``dense_counts``: flat indices into ``shape`` (sorted, int64) and
    their counts (int64)."""
    _, steps, units = shape
    flat = (np.asarray(sample, np.int64) * steps + np.asarray(step)) * units + np.asarray(unit)
    return np.unique(flat, return_counts=True)  # much faster than np.add.at


def n_steps_needed(
    events: SpikeEvents,
    dt: float,
    rounding: Literal["floor", "ceil"] = "floor",
    indices: np.ndarray | None = None,
) -> int:
    """Steps that hold every event of the selected samples: last bin + 1 (at least 1).

    With ``rounding='ceil'`` and dt = 1 ms over a whole split this is SPSN's
    ``max_duration + 1``; over one batch it is SPSN's / ParaLIF's padded batch length.
    """
    _check_binning(dt, rounding, "start")
    _, bins, _ = _event_bins(events, dt, rounding, _indices(events, indices))
    return int(bins.max()) + 1 if bins.size else 1


def bin_events(
    events: SpikeEvents,
    dt: float,
    n_steps: int,
    rounding: Literal["floor", "ceil"] = "floor",
    align: Literal["start", "end"] = "start",
    indices: np.ndarray | None = None,
) -> np.ndarray:
    """Dense spike COUNTS float32 of shape (n_selected, n_steps, n_units); dt in seconds.

    Only the samples at ``indices`` (default: all) are binned: the full SHD training set at
    100 steps is 8156 x 100 x 700 x 4 B = 2.3 GB, so bin per batch. Duplicate
    (bin, unit) events add up (values can exceed 1).

    rounding:
      ``'floor'``: bin = floor(t / dt) -- FS_coding (``floor(t * 1000 / dt_ms)``) and ParaLIF.
      ``'ceil'``: bin = ceil(t / dt), a spike at t = 0 stays in bin 0 -- SPSN
      (``np.digitize(t / dt, bins, right=True)``).
      t / dt within 1e-9 of an integer counts as that integer (decimal rounding).
    Events with bin >= n_steps are dropped (FS_coding keeps only the first T bins).
    align:
      ``'start'``: time 0 is step 0, zeros appended after the last event -- FS_coding.
      ``'end'``: each sample is shifted so that its last occupied bin (after dropping) lands
      on step n_steps - 1, zeros prepended -- SPSN / ParaLIF front padding when n_steps is
      the batch's ``n_steps_needed``.
    """
    _check_binning(dt, rounding, align)
    if isinstance(n_steps, bool) or not isinstance(n_steps, int | np.integer) or n_steps < 1:
        raise ConfigError(f"n_steps must be a positive integer, got {n_steps!r}")
    idx = _indices(events, indices)
    rows, bins, units = _event_bins(events, dt, rounding, idx)
    keep = bins < n_steps
    rows, bins, units = rows[keep], bins[keep], units[keep]
    if align == "end" and rows.size:
        last = np.full(len(idx), -1, dtype=np.int64)
        np.maximum.at(last, rows, bins)
        bins = bins + (n_steps - 1 - last)[rows]
    return dense_counts(rows, bins, units, (len(idx), n_steps, events.n_units))


# --- augmentation -------------------------------------------------------------------------


def _nearest_source(
    n: int, offset: np.ndarray, scale: np.ndarray, lengths: np.ndarray | None = None
) -> tuple[np.ndarray, ...]:
    """Source index (B, n) and validity mask of an affine map about each sample's own centre.

    Sample b occupies the last ``lengths[b]`` of the n positions (default: all n; front
    padding before). Its output pixel k (centre at k + 0.5 - L/2 relative to the sample's
    centre) samples the sample at (x - offset) / scale, rounded half-to-even like
    torch.grid_sample(mode='nearest', align_corners=False), which torchvision's RandomAffine
    uses. Positions in the padding, and sources outside the sample, are invalid (zero fill).
    """
    size = np.full(len(scale), n, np.int64) if lengths is None else np.asarray(lengths, np.int64)
    first = n - size  # the sample's first position in the padded axis
    local = np.arange(n)[None, :] - first[:, None]
    x = local + 0.5 - size[:, None] / 2
    src = (x - offset[:, None]) / scale[:, None] + size[:, None] / 2 - 0.5
    src = np.rint(src).astype(np.int64)
    valid = (local >= 0) & (src >= 0) & (src < size[:, None])
    return np.clip(src + first[:, None], 0, n - 1), valid


def _draw_affine(
    rng: np.random.Generator, batch: int, channels: int, shift: float, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """(channel translations, scale factors), drawn in this order, B of each."""
    if not (0 <= shift < 1 and 0 <= scale < 1):
        raise ConfigError(f"shift and scale must be in [0, 1), got {shift!r}, {scale!r}")
    max_dx = shift * channels
    dx = np.rint(rng.uniform(-max_dx, max_dx, size=batch))
    return dx, rng.uniform(1 - scale, 1 + scale, size=batch)


def _targets(
    sample: np.ndarray,
    position: np.ndarray,
    sizes: np.ndarray,
    offset: np.ndarray,
    factor: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of the nearest-neighbour map along one axis: for each event at ``position`` of
    sample ``sample`` (axis length ``sizes[sample]``), the output positions that sample it:
    ``index`` into the events and ``target`` position, one entry per copy (an event has 0, 1
    or, when zoomed in, more copies)."""
    top = int(sizes.max(initial=0))
    src, valid = _nearest_source(top, offset, factor, sizes)
    local = src - (top - sizes)[:, None]  # source position within the sample
    width = top + 2
    # key of each output position: sample * width + (source + 1), or an unmatched key
    key = np.where(valid, local + 1, 0) + (np.arange(len(sizes)) * width)[:, None]
    first = top - sizes  # output positions < first are padding, keyed 0: never matched
    order = np.argsort(key, axis=None, kind="stable")
    per_key = np.bincount(key.ravel(), minlength=len(sizes) * width)
    starts = np.cumsum(per_key) - per_key  # where each key's output positions begin in order
    wanted = sample * width + position + 1
    lo, copies = starts[wanted], per_key[wanted]
    index = np.repeat(np.arange(len(position)), copies)
    within = np.arange(copies.sum()) - np.repeat(np.cumsum(copies) - copies, copies)
    target = order[lo[index] + within] % top - first[sample[index]]
    return index, target


def augment_events(
    sample: np.ndarray,
    step: np.ndarray,
    unit: np.ndarray,
    lengths: np.ndarray,
    channels: int,
    rng: np.random.Generator,
    shift: float,
    scale: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``augment_shift_scale`` on events: the same map, the same draws, no dense array.

    Events (sample, step, unit) with steps counted within each sample's own length
    ``lengths[sample]`` become the events of the augmented samples (a count is one event per
    copy): the dense counts of the result equal ``augment_shift_scale`` of the dense counts
    with ``lengths``, front-padded to any frame.
    """
    sample, step, unit = (np.asarray(a, np.int64) for a in (sample, step, unit))
    lengths = np.asarray(lengths, np.int64)
    dx, factor = _draw_affine(rng, len(lengths), channels, shift, scale)
    index, new_step = _targets(sample, step, lengths, np.zeros(len(lengths)), factor)
    sample, unit = sample[index], unit[index]
    widths = np.full(len(lengths), channels, np.int64)
    index, new_unit = _targets(sample, unit, widths, dx, factor)
    return sample[index], new_step[index], new_unit


def augment_shift_scale(
    x: np.ndarray,
    rng: np.random.Generator,
    shift: float,
    scale: float,
    lengths: np.ndarray | None = None,
) -> np.ndarray:
    """SPSN / ParaLIF augmentation of a batch x (B, T, C): a random affine map per sample.

    Each sample is an image of height (time) L and width C: it is translated along the channel
    axis by a whole number of channels drawn from round(uniform(-shift * C, shift * C)), and
    scaled about its own centre by one factor from uniform(1 - scale, 1 + scale) applied to
    BOTH the time and channel axes; nearest-neighbour sampling, zero fill. Same as
    torchvision RandomAffine(degrees=0, translate=(shift, 0), scale=(1 - scale, 1 + scale)) on
    a 1 x L x C image (SPSN: shift 0.1, scale 0.3; ParaLIF: 0.05, 0.15).

    ``lengths`` (B,): sample b is the last ``lengths[b]`` steps of x (front zero padding, as
    after SPSN's collate). Its time axis is scaled about ITS centre and stays within those
    steps, so the result equals augmenting each sample at its own length and padding
    afterwards (SPSN ``datasets.py``: the transform runs per sample, the padding in collate).
    Default: every sample is the whole T steps. ``rng`` draws, in this order, the B
    translations, then the B scale factors. Returns a new array of x's dtype.
    """
    x = np.asarray(x)
    if x.ndim != 3:
        raise ConfigError(f"augment_shift_scale expects (batch, time, channel), got {x.shape}")
    b, t, c = x.shape
    if lengths is not None:
        lengths = np.asarray(lengths, np.int64)
        if lengths.shape != (b,) or (lengths < 0).any() or (lengths > t).any():
            raise ConfigError(f"lengths must be {b} values in 0..{t}, got {lengths!r}")
    dx, factor = _draw_affine(rng, b, c, shift, scale)
    src_t, ok_t = _nearest_source(t, np.zeros(b), factor, lengths)
    src_c, ok_c = _nearest_source(c, dx, factor)
    rows = x[np.arange(b)[:, None], src_t]  # whole time rows first (contiguous copies)
    out = np.take_along_axis(rows, src_c[:, None, :], axis=2)
    out *= ok_t[:, :, None]  # zero fill outside the source image
    out *= ok_c[:, None, :]
    return out
