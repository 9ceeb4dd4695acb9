"""Run a readout experiment end to end: build, epoch loop, results.nc with provenance."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import replace
from pathlib import Path

import brian2 as b2
import numpy as np
import xarray as xr

from brainsnn.core.builds import build_root
from brainsnn.core.checkpoint import CHECKPOINT
from brainsnn.core.errors import BrainsnnError, ConfigError
from brainsnn.core.experiment import Experiment
from brainsnn.core.modellib import ComposedGroup
from brainsnn.core.modelset import ModelSet
from brainsnn.core.provenance import basic_provenance
from brainsnn.core.results import make_dataset, trace_values, with_trace_coordinates, write_atomic
from brainsnn.core.rundir import RESULTS, check_run_directory, open_run_directory
from brainsnn.core.units import check_quantity
from brainsnn.devices.registry import require_device
from brainsnn.engine.state import initial_state, state_key
from brainsnn.readout.backend import Backend, make_backend
from brainsnn.readout.data import PreparedData, prepare_data
from brainsnn.readout.layout import ReadoutLayout
from brainsnn.readout.protocol import Protocol
from brainsnn.readout.resolve import as_experiment
from brainsnn.readout.results import READOUT_VARIABLES
from brainsnn.readout.training import ReadoutProgress, ReadoutTrainer, concatenate_results
from brainsnn.readout.weights import initial_weights

log = logging.getLogger("brainsnn")


def build_layout(experiment: Experiment, data: PreparedData) -> ReadoutLayout:
    """The compiled structure an experiment needs (sizes, schedule, model file texts)."""
    protocol = experiment.protocol
    network = protocol.network
    if network.nontarget_per_class >= network.neurons_per_class:
        raise BrainsnnError("network.nontarget_per_class must be smaller than neurons_per_class")
    texts = experiment.resolved.texts
    duration = resolve_duration(protocol)
    if data.exact_times:
        check_exact_grid(experiment.resolved.composed["outputs"])
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
        exact_times=data.exact_times,
    )


def check_exact_grid(outputs: ComposedGroup) -> None:
    """Refuse output neurons with differential equations on the exact time grid, whose steps
    are spike times rather than equal intervals of dt."""
    continuous = ", ".join(sorted(b2.Equations("\n".join(outputs.equations)).diff_eq_names))
    if continuous:
        raise ConfigError(
            "encoding.time_steps: exact steps from one input spike time to the next, so dt is "
            f"not a fixed interval there; the output neurons integrate {continuous} over time "
            "(a leaky model). Use a non-leaky neuron such as neurons/if_single_spike, or a "
            "number of time steps"
        )


def evaluation_layout(
    protocol: Protocol, layout: ReadoutLayout, data: PreparedData
) -> ReadoutLayout | None:
    """The layout of the validation and test passes: ``training.evaluation_lanes`` lanes, or
    None where the training build does them (one lane, or membrane traces requested)."""
    lanes = protocol.training.evaluation_lanes
    if lanes == 1:
        return None
    if layout.trace_variables:
        log.info("membrane traces requested: evaluating one sample at a time (1 lane)")
        return None
    longest = max(len(data.validation), len(data.test))
    samples = min(protocol.training.chunk_size, longest)
    return replace(layout, chunk_size=samples).with_lanes(min(lanes, longest))


def resolve_duration(protocol: Protocol) -> float:
    """Sample duration T in seconds."""
    return check_quantity(protocol.encoding.sample_duration, "second")


def _image_attrs(protocol: Protocol, n_inputs: int) -> dict[str, int]:
    """image_height/image_width when the inputs are the pixels of square images (figures)."""
    side = math.isqrt(n_inputs)
    if protocol.data.source in ("digits", "idx") and side * side == n_inputs:
        return {"image_height": side, "image_width": side}
    return {}


def _provenance(
    protocol: Protocol, device: str, wall: float, progress: ReadoutProgress, layout: ReadoutLayout
) -> dict[str, object]:
    speeds = progress.history["train_samples_per_second"]
    return {
        **basic_provenance(protocol.name, device, protocol.seed, wall),
        "epochs": progress.epoch,
        "mean_train_samples_per_second": float(np.mean(speeds)) if speeds else 0.0,
        **_image_attrs(protocol, layout.n_inputs),
        "time_steps_per_sample": layout.n_input_steps,
        "exact_time_grid": int(layout.exact_times),
        # on the exact grid a step lasts from one input spike time to the next: no dt
        **({} if layout.exact_times else {"dt_in_units_of_T": 1.0 / layout.n_input_steps}),
        "models": ", ".join(protocol.network.models),
    }


def collect_results(
    trainer: ReadoutTrainer,
    progress: ReadoutProgress,
    layout: ReadoutLayout,
    models: ModelSet,
    attrs: dict[str, object],
) -> xr.Dataset:
    """Assemble results.nc from the training history, the model files' records (final state)
    and the last test pass."""
    values = {key: np.array(series) for key, series in progress.history.items()}
    sizes = {"output_neuron": layout.n_outputs, "input": layout.n_inputs}
    state = progress.state
    values.update(models.record_values(lambda role, name: state.get(state_key(role, name)), sizes))
    values.update(
        {
            "neuron_class": layout.class_of_neuron(),
            "neuron_nontarget": (layout.position_in_class() < layout.n_nontarget).astype(int),
            "test_label": trainer.data.test.labels,
        }
    )
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
    catalog = {**READOUT_VARIABLES, **models.records()}
    return with_trace_coordinates(make_dataset(values, attrs, catalog), traces)


def run_readout_protocol(
    experiment: Experiment | Protocol,
    directory: Path,
    resume: bool = False,
    show_progress: bool = True,
) -> xr.Dataset:
    """Run a readout experiment in ``directory``; with ``resume``, continue from its checkpoint."""
    started = time.perf_counter()
    experiment = as_experiment(experiment)
    protocol = experiment.protocol
    directory = Path(directory)
    checkpoint = directory / CHECKPOINT
    check_run_directory(directory, resume, protocol.model_dump())
    models: ModelSet = experiment.resolved
    data = prepare_data(protocol)  # fails early, before anything is written
    require_device(protocol.device.name)
    open_run_directory(directory, protocol)
    layout = build_layout(experiment, data)
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
    backend = _backend(protocol, layout, models)
    lanes_layout = evaluation_layout(protocol, layout, data)
    evaluation = None if lanes_layout is None else _backend(protocol, lanes_layout, models)
    if resume:
        progress = ReadoutProgress.load(checkpoint)
        log.info("resuming after epoch %d, chunk %d", progress.epoch, progress.chunk)
    else:
        progress = fresh_progress(protocol, layout, models)
    trainer = ReadoutTrainer(
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
        evaluation_backend=evaluation,
    )
    trainer.train(progress, checkpoint)
    if trainer.last_test is None:  # resumed a finished run: evaluate the final model once
        trainer.last_test = _final_test(trainer, progress)
    attrs = _provenance(protocol, backend.name, time.perf_counter() - started, progress, layout)
    dataset = collect_results(trainer, progress, layout, models, attrs)
    write_atomic(dataset, directory / RESULTS)
    return dataset


def _trace_request(protocol: Protocol) -> tuple[list[int], int] | None:
    traces = protocol.recording.traces
    return (traces.neurons, traces.samples) if traces else None


def _final_test(trainer: ReadoutTrainer, progress: ReadoutProgress):
    return concatenate_results(
        trainer.present(
            trainer.data.test, progress, False, trainer.record_test, "test", trace=trainer.trace
        )
    )


def _backend(protocol: Protocol, layout: ReadoutLayout, models: ModelSet) -> Backend:
    root = build_root(protocol.device.build_dir)
    log.info(
        "building the network for device %s (compiled builds are cached in %s)",
        protocol.device.name,
        root,
    )
    return make_backend(
        protocol.device.name, layout, dict(models.composed), root, protocol.device.threads
    )


def fresh_progress(protocol: Protocol, layout: ReadoutLayout, models: ModelSet) -> ReadoutProgress:
    """Training state before epoch 1: weights drawn from the protocol's seed, model initials."""
    rng = np.random.default_rng(protocol.seed)
    init = protocol.network.weights
    parameters = dict(models.parameters)
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
    given = {
        state_key("feedforward", "w"): weights.reshape(-1),
        state_key("outputs", "row_target"): row_sums,  # S2-STDP's row normalisation targets
    }
    state = initial_state(models.composed, parameters, sizes, layout.constants(), given)
    return ReadoutProgress(state=state, parameters=parameters)
