"""Run a protocol end to end: run directory, build, epoch loop, results.nc with provenance."""

from __future__ import annotations

import logging
import math
import platform
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import xarray as xr
import yaml

import brainsnn
from brainsnn.datasets import PreparedData, prepare_data
from brainsnn.engine.backends import Backend, default_build_root, make_backend, require_device
from brainsnn.engine.layout import ReadoutLayout
from brainsnn.errors import BrainsnnError
from brainsnn.modellib import compose, find_model_file
from brainsnn.protocol import Protocol, load_models, resolve_parameters
from brainsnn.reference import initial_weights
from brainsnn.results import make_dataset, trace_values, with_trace_coordinates, write_atomic
from brainsnn.training import Progress, Trainer, concatenate_results, initial_state

log = logging.getLogger("brainsnn")
CHECKPOINT = "checkpoint.npz"


@dataclass
class RunOutcome:
    """Where a run's files are and its result dataset."""

    directory: Path
    dataset: xr.Dataset


def run_directory(protocol: Protocol, out: str | None) -> Path:
    """The run directory: ``--out`` if given, else the protocol's output.directory pattern."""
    if out:
        return Path(out)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(protocol.output.directory.format(name=protocol.name, timestamp=stamp))


def build_layout(protocol: Protocol, data: PreparedData) -> ReadoutLayout:
    """The compiled structure a protocol needs (sizes, schedule, model file texts)."""
    network = protocol.network
    if network.nontarget_per_class >= network.neurons_per_class:
        raise BrainsnnError("network.nontarget_per_class must be smaller than neurons_per_class")
    texts = tuple((name, find_model_file(name).read_text()) for name in network.models)
    duration = resolve_duration(protocol)
    traces = protocol.recording.traces
    n_outputs = data.n_classes * network.neurons_per_class
    return ReadoutLayout(
        n_inputs=data.n_inputs,
        n_classes=data.n_classes,
        neurons_per_class=network.neurons_per_class,
        n_nontarget=network.nontarget_per_class,
        n_input_steps=data.time_steps,
        chunk_size=min(protocol.training.chunk_size, max(len(data.train), len(data.test))),
        sample_duration_s=duration,
        model_texts=texts,
        trace_variables=traces.checked_variables(n_outputs) if traces else (),
    )


def resolve_duration(protocol: Protocol) -> float:
    """Sample duration T in seconds."""
    from brainsnn.units import check_quantity

    return check_quantity(protocol.encoding.sample_duration, "second")


def _git_revision() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def basic_provenance(name: str, device: str, seed: int, wall: float) -> dict[str, object]:
    """Attributes every results.nc carries: versions, device, seed, revision, wall time (s)."""
    import brian2

    return {
        "protocol": name,
        "brainsnn_version": brainsnn.__version__,
        "brian2_version": brian2.__version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "device": device,
        "seed": seed,
        "git_revision": _git_revision(),
        "created": datetime.now().isoformat(timespec="seconds"),
        "wall_time_s": wall,
    }


def _image_attrs(protocol: Protocol, n_inputs: int) -> dict[str, int]:
    """image_height/image_width when the inputs are the pixels of square images (figures)."""
    side = math.isqrt(n_inputs)
    if protocol.data.source in ("digits", "idx") and side * side == n_inputs:
        return {"image_height": side, "image_width": side}
    return {}


def _provenance(
    protocol: Protocol, device: str, wall: float, progress: Progress, layout: ReadoutLayout
) -> dict[str, object]:
    speeds = progress.history["train_samples_per_second"]
    return {
        **basic_provenance(protocol.name, device, protocol.seed, wall),
        "epochs": progress.epoch,
        "mean_train_samples_per_second": float(np.mean(speeds)) if speeds else 0.0,
        **_image_attrs(protocol, layout.n_inputs),
        "time_steps_per_sample": layout.n_input_steps,
        "dt_in_units_of_T": 1.0 / layout.n_input_steps,
        "models": ", ".join(protocol.network.models),
    }


def collect_results(
    trainer: Trainer, progress: Progress, layout: ReadoutLayout, attrs: dict[str, object]
) -> xr.Dataset:
    """Assemble results.nc from the training history and the last test pass."""
    state, parameters = progress.state, progress.parameters
    n_out = layout.n_outputs
    values = {key: np.array(series) for key, series in progress.history.items()}
    values.update(
        {
            "weights": state["w"].reshape(n_out, layout.n_inputs),
            "test_threshold": state.get("theta_test", np.full(n_out, parameters["theta0"])),
            "neuron_class": layout.class_of_neuron(),
            "neuron_nontarget": (layout.position_in_class() < layout.n_nontarget).astype(int),
            "test_label": trainer.data.test.labels,
        }
    )
    if "theta_train" in state:
        values["training_threshold"] = state["theta_train"]
    names = {"train_wins": "train_wins", "training_threshold": "epoch_training_threshold"}
    for key, series in progress.epoch_arrays.items():
        values[names[key]] = np.array(series)
    last = trainer.last_test
    traces: dict[str, np.ndarray] = {}
    if last is not None:
        values["test_prediction"] = last.prediction
        if last.first_spike_time is not None:
            values["test_first_spike_time"] = last.first_spike_time
            values["test_potential"] = last.potential
        if last.trace is not None and len(last.trace.neurons):
            traces = last.trace.as_records()
            values.update(trace_values(traces))
    return with_trace_coordinates(make_dataset(values, attrs), traces)


def run_protocol(
    protocol: Protocol, out: str | None = None, resume: bool = False, show_progress: bool = True
) -> RunOutcome:
    """Run a validated protocol; with ``resume``, continue from the run directory's checkpoint."""
    started = time.perf_counter()
    directory = run_directory(protocol, out)
    checkpoint = directory / CHECKPOINT
    check_run_directory(directory, resume, protocol.model_dump())
    models = load_models(protocol)
    composed = compose(models)
    parameters = resolve_parameters(protocol, models)
    data = prepare_data(protocol)  # fails early, before anything is written
    require_device(protocol.device.name)
    open_run_directory(directory, protocol)
    layout = build_layout(protocol, data)
    log.info(
        "protocol %s: %d train / %d validation / %d test samples, %d inputs, %d outputs, "
        "%d steps per sample, device %s",
        protocol.name,
        len(data.train),
        len(data.validation),
        len(data.test),
        layout.n_inputs,
        layout.n_outputs,
        layout.steps_per_sample,
        protocol.device.name,
    )
    backend = _backend(protocol, layout, composed)
    if resume:
        progress = Progress.load(checkpoint)
        log.info("resuming after epoch %d, chunk %d", progress.epoch, progress.chunk)
    else:
        progress = fresh_progress(protocol, layout, composed, parameters)
    trainer = Trainer(
        backend,
        data,
        layout.chunk_size,
        protocol.training.max_epochs,
        protocol.training.patience,
        show_progress,
        record_test=protocol.recording.test_outputs,
        seed=protocol.seed,
        stop_below=protocol.training.stop_below,
        trace=_trace_request(protocol),
    )
    trainer.train(progress, checkpoint)
    if trainer.last_test is None:  # resumed a finished run: evaluate the final model once
        trainer.last_test = _final_test(trainer, progress)
    attrs = _provenance(protocol, backend.name, time.perf_counter() - started, progress, layout)
    dataset = collect_results(trainer, progress, layout, attrs)
    write_atomic(dataset, directory / "results.nc")
    return RunOutcome(directory, dataset)


def _trace_request(protocol: Protocol) -> tuple[list[int], int] | None:
    traces = protocol.recording.traces
    return (traces.neurons, traces.samples) if traces else None


def _final_test(trainer: Trainer, progress: Progress):
    return concatenate_results(
        trainer.present(
            trainer.data.test, progress, False, trainer.record_test, "test", trace=trainer.trace
        )
    )


def _backend(protocol: Protocol, layout: ReadoutLayout, composed: dict) -> Backend:
    root = (
        Path(protocol.device.build_dir).expanduser()
        if protocol.device.build_dir
        else default_build_root()
    )
    log.info(
        "building the network for device %s (compiled builds are cached in %s)",
        protocol.device.name,
        root,
    )
    return make_backend(protocol.device.name, layout, composed, root, protocol.device.threads)


def fresh_progress(
    protocol: Protocol, layout: ReadoutLayout, composed: dict, parameters: dict[str, float]
) -> Progress:
    """Training state before epoch 1: weights drawn from the protocol's seed, model initials."""
    rng = np.random.default_rng(protocol.seed)
    init = protocol.network.weights
    weights, row_sums = initial_weights(
        layout.n_outputs,
        layout.n_inputs,
        init.mean,
        init.std,
        parameters.get("w_min", 0.0),
        parameters.get("w_max", 1.0),
        rng,
    )
    sizes = {
        "inputs": layout.n_inputs,
        "outputs": layout.n_outputs,
        "layer": 1,
        "feedforward": layout.n_inputs * layout.n_outputs,
    }
    parameters = dict(parameters)
    state = initial_state(composed, parameters, weights, row_sums, sizes, layout.constants())
    return Progress(state=state, parameters=parameters)


#: Protocol sections a resumed run may change: where it runs and where it writes.
RESUMABLE_CHANGES = ("device.", "output.")


def check_run_directory(directory: Path, resume: bool, protocol: dict | None = None) -> None:
    """Refuse to overwrite a run; with ``resume``, require its checkpoint and, if ``protocol``
    (a protocol's ``model_dump()``) is given, the protocol the run was started with (except
    the sections in RESUMABLE_CHANGES)."""
    checkpoint = directory / CHECKPOINT
    if resume and not checkpoint.exists():
        raise BrainsnnError(f"--resume: no checkpoint in {directory}")
    saved = directory / "protocol.yaml"
    if resume and protocol is not None and saved.exists():
        before = _flatten(yaml.safe_load(saved.read_text()) or {})
        now = _flatten(yaml.safe_load(yaml.safe_dump(protocol)))  # as protocol.yaml holds it
        changed = sorted(
            key
            for key in before.keys() | now.keys()
            if before.get(key) != now.get(key) and not key.startswith(RESUMABLE_CHANGES)
        )
        if changed:
            raise BrainsnnError(
                f"--resume: the protocol differs from {saved} in {', '.join(changed)}; "
                "restore those values or start a new run"
            )
    if not resume and (checkpoint.exists() or (directory / "results.nc").exists()):
        raise BrainsnnError(
            f"{directory} already holds a run: continue it with --resume, or choose another --out"
        )


def _flatten(tree: dict, prefix: str = "") -> dict[str, object]:
    """Nested mappings as {dotted.key: value}."""
    flat: dict[str, object] = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def open_run_directory(directory: Path, protocol) -> None:
    """Create the run directory, send the log to its run.log, save the validated protocol."""
    directory.mkdir(parents=True, exist_ok=True)
    attach_log(directory / "run.log")
    (directory / "protocol.yaml").write_text(yaml.safe_dump(protocol.model_dump(), sort_keys=False))


def attach_log(path: Path) -> None:
    """Send the 'brainsnn' log to ``path`` (replacing a previous run's log file)."""
    for handler in list(log.handlers):
        if isinstance(handler, logging.FileHandler):
            log.removeHandler(handler)
            handler.close()
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
