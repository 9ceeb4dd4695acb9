"""Opt-in membrane traces: a few output neurons recorded every step for the first samples.

Both engines give the output group the variables below and a ``trace`` event that an
EventMonitor records at the end of every step; the chunk sets ``traced`` (which neurons) and the
range of chunk positions [trace_first, trace_stop) to record.
"""

from __future__ import annotations

from dataclasses import dataclass

import brian2 as b2
import numpy as np

TRACE_EQUATIONS = (
    "traced : 1 (constant)  # 1 for the neurons whose traces are recorded\n"
    "trace_first : integer (shared)  # first traced sample (chunk position)\n"
    "trace_stop : integer (shared)  # traced samples end before this one\n"
)
TRACE_FIELDS = ("neurons", "time", "potential", "threshold", "sample", "units")


def trace_condition(sample_variable: str) -> str:
    """Condition of the ``trace`` event, given the variable holding the sample's chunk position."""
    return f"traced > 0.5 and {sample_variable} >= trace_first and {sample_variable} < trace_stop"


def trace_monitor(
    outputs: b2.NeuronGroup, variables: tuple[str, ...], sample_variable: str
) -> b2.EventMonitor:
    """The EventMonitor of the ``trace`` event (potential, threshold and sample position)."""
    return b2.EventMonitor(
        outputs,
        "trace",
        variables=[*variables, sample_variable],
        when="end",
        name="trace_records",
    )


def trace_assignments(
    outputs: b2.NeuronGroup, n_outputs: int, neurons: list[int], samples: int
) -> list[tuple[b2.Group, str, object]]:
    """Values a chunk hands in to trace ``neurons`` over its first ``samples`` samples."""
    traced = np.zeros(n_outputs)
    traced[list(neurons)] = 1.0
    return [
        (outputs, "traced", traced),
        (outputs, "trace_first", 0),
        (outputs, "trace_stop", samples),
    ]


@dataclass
class TraceRecord:
    """Per-step records of the traced neurons: (neuron, time) arrays; time in s from chunk start."""

    neurons: np.ndarray
    time: np.ndarray
    potential: np.ndarray
    threshold: np.ndarray
    sample: np.ndarray  # chunk position of the sample at each time point
    units: str  # of potential and threshold: "mV" for voltages, else "1"

    def as_records(self) -> dict[str, np.ndarray]:
        """The record as ``trace/<field>`` arrays (checkpoints and results use these keys)."""
        return {f"trace/{name}": np.asarray(getattr(self, name)) for name in TRACE_FIELDS}


def read_trace(
    monitor: b2.EventMonitor,
    outputs: b2.NeuronGroup,
    variables: tuple[str, str],
    sample_variable: str,
) -> TraceRecord:
    """Reshape a trace monitor's events into (neuron, time) arrays; voltages in mV."""
    potential_name, threshold_name = variables
    neuron = np.asarray(monitor.i[:])
    chosen = np.unique(neuron)
    times = np.asarray(monitor.t_[:])
    order = np.lexsort((times, neuron))
    width = len(order) // max(len(chosen), 1)

    def table(values: np.ndarray) -> np.ndarray:
        return np.asarray(values)[order].reshape(len(chosen), width)

    voltage = outputs.variables[potential_name].dim == b2.volt.dim
    scale = 1e3 if voltage else 1.0
    return TraceRecord(
        neurons=chosen,
        time=table(times)[0] if len(chosen) else np.zeros(0),
        potential=table(getattr(monitor, potential_name + "_")[:]) * scale,
        threshold=table(getattr(monitor, threshold_name + "_")[:]) * scale,
        sample=table(getattr(monitor, sample_variable)[:])[0] if len(chosen) else np.zeros(0),
        units="mV" if voltage else "1",
    )
