"""Magnitude pruning of FastGRNN / FastRNN with TF-MOT, one target per matrix (paper section 3.2).

Vocabulary: `keep_w` and `keep_u` are the fractions of entries KEPT (non-zero) in W and U (or in
each of their low-rank factors) - the paper's s_w and s_u. TF-MOT speaks of sparsity = 1 - keep.

Usage (stages 2 and 3):
    pruned = prune_fastgrnn(model, keep_w=0.3, keep_u=0.3, end_step=steps_stage2 - 1)
    pruned.compile(...); pruned.fit(..., callbacks=pruning_callbacks())   # stage 2: masks move
    pruned.fit(..., callbacks=pruning_callbacks())                        # stage 3: past end_step,
    stripped = strip(pruned)                                              # support fixed
`prune_fastgrnn` wraps each `tf_keras.layers.RNN` whose cell is a FastGRNN/FastRNN cell in
`FastGRNNPruneLowMagnitude`, a TF-MOT `PruneLowMagnitude` that runs one TF-MOT `Pruning` per matrix
group (W side, U side), each with its own schedule. Other layers are left unpruned.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf
import tf_keras as keras
from tensorflow_model_optimization.python.core.sparsity.keras import (
    pruning_callbacks as tfmot_callbacks,
)
from tensorflow_model_optimization.python.core.sparsity.keras import pruning_impl, pruning_wrapper
from tensorflow_model_optimization.python.core.sparsity.keras import pruning_schedule as sched
from tensorflow_model_optimization.python.core.sparsity.keras.prune import strip_pruning

from fastgrnn_tf.cells import LowRankCell, find_fast_rnn_layers, weight_name

PruningSchedule = sched.PruningSchedule
_SCHEDULES = {"PolynomialDecay": sched.PolynomialDecay, "ConstantSparsity": sched.ConstantSparsity}


def check_keep(keep: object, argument: str) -> float:
    """A keep fraction in (0, 1]; ValueError naming `argument` otherwise."""
    if isinstance(keep, bool) or not isinstance(keep, (int, float)) or not 0.0 < float(keep) <= 1.0:
        raise ValueError(f"{argument} (fraction of weights kept) must be in (0, 1], got {keep!r}")
    return float(keep)


def make_schedule(
    keep: float,
    end_step: int,
    begin_step: int = 0,
    frequency: int | None = None,
    kind: str = "polynomial",
    argument: str = "keep",
) -> PruningSchedule:
    """A TF-MOT schedule reaching `1 - keep` sparsity at `end_step`, after which masks stay fixed.

    kind: "polynomial" (PolynomialDecay from 0 to 1 - keep, power 3) or "constant" (ConstantSparsity
    1 - keep from `begin_step`). `end_step` is moved down onto the pruning-frequency grid so the last
    mask update happens at the final sparsity.
    """
    keep = check_keep(keep, argument)
    if end_step <= begin_step or begin_step < 0:
        raise ValueError(f"need 0 <= begin_step < end_step, got begin_step={begin_step}, end_step={end_step}")
    span = end_step - begin_step
    frequency = frequency if frequency is not None else max(1, min(100, span // 10))
    if frequency <= 0:
        raise ValueError(f"frequency must be positive, got {frequency}")
    frequency = min(frequency, span)
    end_step = begin_step + (span // frequency) * frequency
    if kind == "polynomial":
        return sched.PolynomialDecay(0.0, 1.0 - keep, begin_step, end_step, power=3, frequency=frequency)
    if kind == "constant":
        return sched.ConstantSparsity(1.0 - keep, begin_step, end_step=end_step, frequency=frequency)
    raise ValueError(f"kind must be 'polynomial' or 'constant', got {kind!r}")


def is_fast_rnn_layer(layer: keras.layers.Layer) -> bool:
    """True for a tf_keras RNN layer whose cell is a FastGRNN / FastRNN cell."""
    return isinstance(layer, keras.layers.RNN) and isinstance(layer.cell, LowRankCell)


class _GroupedPruning:
    """Duck-types TF-MOT's `Pruning` (the two methods the wrapper and callback use) over groups."""

    def __init__(self, groups: list[pruning_impl.Pruning]) -> None:
        self.groups = groups

    def weight_mask_op(self) -> Any:
        return tf.group(*[g.weight_mask_op() for g in self.groups])

    def conditional_mask_update(self) -> Any:
        return tf.group(*[g.conditional_mask_update() for g in self.groups])


def _deserialize_schedule(config: Any) -> PruningSchedule:
    if isinstance(config, PruningSchedule):
        return config
    return keras.utils.deserialize_keras_object(config, module_objects=_SCHEDULES)


@keras.saving.register_keras_serializable(package="fastgrnn_tf")
class FastGRNNPruneLowMagnitude(pruning_wrapper.PruneLowMagnitude):
    """PruneLowMagnitude for an RNN(FastGRNNCell / FastRNNCell) with separate W and U schedules.

    `pruning_schedule` drives W (or W1 and W2), `u_pruning_schedule` drives U (or U1 and U2).
    """

    def __init__(self, layer: keras.layers.Layer, pruning_schedule: Any = None,
                 u_pruning_schedule: Any = None, **kwargs: Any) -> None:
        if not is_fast_rnn_layer(layer):
            raise ValueError(f"layer must be an RNN with a FastGRNN/FastRNN cell, got {layer!r}")
        w_sched = _deserialize_schedule(pruning_schedule or sched.ConstantSparsity(0.5, 0))
        self.u_pruning_schedule = _deserialize_schedule(u_pruning_schedule or w_sched)
        super().__init__(layer, pruning_schedule=w_sched, **kwargs)

    def build(self, input_shape: Any) -> None:
        super().build(input_shape)
        n_w = len(self.layer.cell.w_weights())

        def step_fn() -> tf.Variable:
            return self.pruning_step

        self.pruning_obj = _GroupedPruning([
            pruning_impl.Pruning(step_fn, self.pruning_vars[:n_w], self.pruning_schedule,
                                 self.block_size, self.block_pooling_type),
            pruning_impl.Pruning(step_fn, self.pruning_vars[n_w:], self.u_pruning_schedule,
                                 self.block_size, self.block_pooling_type),
        ])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "u_pruning_schedule": self.u_pruning_schedule.get_config()}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> FastGRNNPruneLowMagnitude:
        config = dict(config)
        config["layer"] = keras.layers.deserialize(config.pop("layer"))
        return cls(**config)


keras.utils.get_custom_objects().setdefault("FastGRNNPruneLowMagnitude", FastGRNNPruneLowMagnitude)


def prune_fastgrnn(
    model: keras.Model,
    keep_w: float = 0.3,
    keep_u: float = 0.3,
    end_step: int = 1000,
    begin_step: int = 0,
    frequency: int | None = None,
    kind: str = "polynomial",
    schedules: dict[str, PruningSchedule] | None = None,
) -> keras.Model:
    """Returns a clone of `model` whose FastGRNN/FastRNN RNN layers are pruning-wrapped.

    keep_w, keep_u: fractions of entries kept in W and U (each low-rank factor separately).
    end_step: training step (batch) at which the final sparsity is reached; masks are frozen after it.
    schedules: optional explicit per-matrix TF-MOT schedules {"W": ..., "U": ...}, overriding the
      schedules built from keep_w / keep_u / kind.
    Returns a new model with copied weights (`model` is not modified, unlike tfmot's
    prune_low_magnitude, whose result shares layers). Train it with `pruning_callbacks()`.
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"model must be a tf_keras Model, got {type(model).__name__}")
    schedules = dict(schedules or {})
    unknown = set(schedules) - {"W", "U"}
    if unknown:
        raise ValueError(f"schedules keys must be 'W' and/or 'U', got {sorted(unknown)}")
    w_sched = schedules.get("W") or make_schedule(keep_w, end_step, begin_step, frequency, kind, "keep_w")
    u_sched = schedules.get("U") or make_schedule(keep_u, end_step, begin_step, frequency, kind, "keep_u")
    found = []

    def wrap(layer: keras.layers.Layer) -> keras.layers.Layer:
        if isinstance(layer, pruning_wrapper.PruneLowMagnitude):
            raise ValueError(f"model: layer {layer.name} is already pruning-wrapped")
        clone = layer.__class__.from_config(layer.get_config())
        if is_fast_rnn_layer(layer):
            found.append(layer.name)
            return FastGRNNPruneLowMagnitude(clone, pruning_schedule=w_sched, u_pruning_schedule=u_sched)
        return clone

    clone = keras.models.clone_model(model, clone_function=wrap)
    if not found:
        raise ValueError("model has no tf_keras.layers.RNN layer with a FastGRNN/FastRNN cell")
    for src, dst in zip(model.layers, clone.layers, strict=True):
        target = dst.layer if isinstance(dst, pruning_wrapper.PruneLowMagnitude) else dst
        target.set_weights(src.get_weights())
    return clone


def pruning_callbacks() -> list[keras.callbacks.Callback]:
    """Callbacks a pruning-wrapped model must be trained with (TF-MOT UpdatePruningStep)."""
    return [tfmot_callbacks.UpdatePruningStep()]


def apply_masks(model: keras.Model) -> None:
    """Multiplies every pruned weight by its mask now (zeros exactly the pruned entries)."""
    for layer in pruning_wrapper.collect_prunable_layers(model):
        if layer.pruning_obj is not None:
            layer.pruning_obj.weight_mask_op()


def strip(model: keras.Model) -> keras.Model:
    """Applies the masks and removes every pruning wrapper (TF-MOT strip_pruning)."""
    apply_masks(model)
    return strip_pruning(model)


def measured_keep(model_or_layer: Any) -> dict[str, float]:
    """Fraction of non-zero entries of each matrix ("W", "W1", ..., "U2") of the FastGRNN/FastRNN
    layers, keyed "<rnn layer name>/<weight name>" (just the weight name when there is one layer)."""
    layers = find_fast_rnn_layers(model_or_layer)
    out = {}
    for rnn in layers:
        for var in rnn.cell.w_weights() + rnn.cell.u_weights():
            name = weight_name(var.name)
            key = name if len(layers) == 1 else f"{rnn.name}/{name}"
            out[key] = float(np.count_nonzero(var.numpy())) / float(np.prod(var.shape))
    return out
