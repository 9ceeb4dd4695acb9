"""Jitted training and evaluation steps of a gradient stack (JAX + optax).

One ``TrainState`` pytree holds everything a checkpoint needs: parameters, optimiser state,
BatchNorm statistics, the gradient accumulator of ``accumulate_gradients`` and the step count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from brainsnn.gradient.data import EventBatch
from brainsnn.gradient.losses import (
    firing_rate_loss,
    first_spike_loss,
    first_spike_times,
    membrane_loss,
    reduce_membrane,
    spike_rate_penalty,
)
from brainsnn.gradient.network import GradientStack, SparseInput
from brainsnn.gradient.optimizers import torch_amsgrad
from brainsnn.gradient.protocol import GradientProtocol


class TrainState(NamedTuple):
    params: dict
    opt_state: optax.OptState
    batch_stats: list
    accumulated: dict
    step: jax.Array


def make_optimizer(
    protocol: GradientProtocol, steps_per_epoch: int
) -> optax.GradientTransformation:
    """PyTorch-equivalent chain: L2 weight decay added to the gradient, then the optimiser
    (clipping is applied before, in the train step, as FS_coding clips .grad in place)."""
    training = protocol.training
    rate: float | optax.Schedule = training.learning_rate
    if training.step_lr is not None:
        epochs, factor = training.step_lr
        rate = optax.exponential_decay(
            training.learning_rate, epochs * steps_per_epoch, factor, staircase=True
        )
    core = {
        "amsgrad": torch_amsgrad,
        "adam": optax.adam,
        "adamax": optax.adamax,
    }[training.optimizer](rate)
    parts = [optax.add_decayed_weights(training.weight_decay)] if training.weight_decay else []
    return optax.chain(*parts, core)


@dataclass
class GradientTrainer:
    """Loss, jitted train step and evaluation of one protocol's stack."""

    protocol: GradientProtocol
    stack: GradientStack
    constants: list[dict]
    steps: int
    steps_per_epoch: int

    def __post_init__(self) -> None:
        self.optimizer = make_optimizer(self.protocol, self.steps_per_epoch)
        self._train_step = jax.jit(self._train_step_impl)
        self._evaluate = jax.jit(self._evaluate_impl)

    def initial_state(self, params: dict, batch_stats: list) -> TrainState:
        zeros = jax.tree.map(jnp.zeros_like, params)
        return TrainState(params, self.optimizer.init(params), batch_stats, zeros, jnp.asarray(0))

    # --- objective ---------------------------------------------------------------------------

    def _outputs(self, forward) -> tuple[jax.Array, jax.Array]:
        """Readout spikes and membrane as (batch, N, T)."""
        return (
            jnp.swapaxes(forward.readout_spikes, 1, 2),
            jnp.swapaxes(forward.readout_membrane, 1, 2),
        )

    def _loss(self, params, batch_stats, x, start, labels, key, noise):
        loss_section = self.protocol.loss
        forward = self.stack.forward(
            params, self.constants, batch_stats, x, key, train=True, start=start, noise=noise
        )
        spikes, membrane = self._outputs(forward)
        valid = forward.valid
        if loss_section.kind == "first_spike":
            times = first_spike_times(spikes, membrane, loss_section.spread, loss_section.amplitude)
            loss = first_spike_loss(
                times,
                labels,
                loss_section.alpha,
                self.steps,
                loss_section.time_lambda,
                loss_section.time_beta,
            )
            prediction = times.argmin(axis=-1)
        elif loss_section.kind == "firing_rate":
            loss = firing_rate_loss(spikes, labels, loss_section.alpha, valid)
            prediction = spikes.sum(axis=-1).argmax(axis=-1)
        else:
            loss = membrane_loss(membrane, labels, loss_section.reduction, valid)
            prediction = reduce_membrane(membrane, loss_section.reduction, valid).argmax(axis=-1)
        if loss_section.rate_threshold is not None and forward.hidden:
            loss = loss + spike_rate_penalty(forward.hidden, loss_section.rate_threshold, valid)
        correct = (prediction == labels).sum()
        return loss, (forward.batch_stats, correct)

    def _train_step_impl(self, state: TrainState, x, start, labels, key, noise):
        (loss, (batch_stats, correct)), grads = jax.value_and_grad(self._loss, has_aux=True)(
            state.params, state.batch_stats, x, start, labels, key, noise
        )
        training = self.protocol.training
        if training.accumulate_gradients:
            grads = jax.tree.map(jnp.add, state.accumulated, grads)
        if training.clip_norm is not None:
            norm = optax.global_norm(grads)
            factor = jnp.minimum(1.0, training.clip_norm / (norm + 1e-6))
            grads = jax.tree.map(lambda g: g * factor, grads)
        accumulated = grads if training.accumulate_gradients else state.accumulated
        updates, opt_state = self.optimizer.update(grads, state.opt_state, state.params)
        params = self.stack.project(optax.apply_updates(state.params, updates))
        new_state = TrainState(params, opt_state, batch_stats, accumulated, state.step + 1)
        return new_state, loss, correct

    def train_step(self, state: TrainState, batch: DeviceBatch, key: jax.Array):
        """One optimiser step; returns (state, loss, number of correct training decisions).
        ``key`` draws the dropout masks."""
        return self._train_step(state, batch.inputs, batch.start, batch.labels, key, batch.noise)

    # --- evaluation --------------------------------------------------------------------------

    def _evaluate_impl(self, params, batch_stats, x, start, key, noise):
        forward = self.stack.forward(
            params, self.constants, batch_stats, x, key, train=False, start=start, noise=noise
        )
        spikes, membrane = self._outputs(forward)
        hidden = (
            jnp.stack([h.sum(axis=(1, 2)) for h in forward.hidden], axis=-1)
            if forward.hidden
            else jnp.zeros((x.shape[0], 0))
        )
        return spikes, membrane, hidden

    def evaluate(
        self, state: TrainState, batch: EventBatch, key: jax.Array, rng: np.random.Generator
    ) -> tuple[np.ndarray, ...]:
        """Readout spikes (n, N, T), readout membrane (n, N, T) and hidden-layer activity
        summed per sample (n, layers); the batch is padded to a full one (silent samples) to
        reuse one compilation."""
        size = self.protocol.test.batch_size
        count, steps, channels = batch.shape
        start = batch.start
        if count < size:
            start = np.concatenate(
                [start, np.full(size - count, start.max(initial=0), start.dtype)]
            )
            batch = batch._replace(shape=(size, steps, channels))
        noise = self.stack.draw_noise(rng, size, steps)
        spikes, membrane, hidden = self._evaluate(
            state.params, state.batch_stats, sparse_input(batch), jnp.asarray(start), key, noise
        )
        return np.asarray(spikes[:count]), np.asarray(membrane[:count]), np.asarray(hidden[:count])


class DeviceBatch(NamedTuple):
    """A training batch on JAX's device: its input events, start (batch,), labels (batch,)
    and the stochastic firings' uniforms (``GradientStack.draw_noise``), per layer or None."""

    inputs: SparseInput
    start: jax.Array
    labels: jax.Array
    noise: list[jax.Array | None]


def device_batch(
    batch: EventBatch, labels: np.ndarray, noise: list[np.ndarray | None]
) -> DeviceBatch:
    """Copy a batch to JAX's device (done on the prefetch thread, off the training loop)."""
    return DeviceBatch(
        sparse_input(batch),
        jnp.asarray(batch.start),
        jnp.asarray(labels),
        [None if uniforms is None else jnp.asarray(uniforms) for uniforms in noise],
    )


def sparse_input(batch: EventBatch) -> SparseInput:
    """An EventBatch's arrays on JAX's device."""
    return SparseInput(
        jnp.asarray(batch.rows), jnp.asarray(batch.units), jnp.asarray(batch.counts), batch.shape
    )
