"""Fake quantization in TF ops: the rounding of `int8_step_spec.md` with straight-through gradients, the
spec's fixed-point helpers on float64 integers (exact below 2^53), and TF-MOT's weight quantizer.

    y = fake_quant(x, scale, -128.0, 127.0)          # round half up, clip, straight-through gradient
    m, n = multiplier(real)                          # `quantize.quantize_multiplier` in TF ops
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf
import tf_keras as keras
from tensorflow_model_optimization.python.core.quantization.keras import quantizers

H_SCALE = 1.0 / 128.0
Q15 = 32768.0
MAX_PRE_STEP = 8.0 / 128.0  # spec: 128 * s_p <= 8
EPS = 1e-12


def _round_half_up(x: tf.Tensor) -> tf.Tensor:
    return tf.floor(x + 0.5)


def fake_quant(x: tf.Tensor, scale: tf.Tensor | float, qmin: float, qmax: float) -> tf.Tensor:
    """clip(round_half_up(x / scale), qmin, qmax) * scale with a straight-through gradient inside the
    clipping range (zero gradient outside it, like tf.quantization.fake_quant_*)."""
    clipped = tf.clip_by_value(x, qmin * scale, qmax * scale)
    return clipped + tf.stop_gradient(_round_half_up(clipped / scale) * scale - clipped)


def frexp_exponent(real: tf.Tensor) -> tf.Tensor:
    """e with real = f * 2^e, f in [0.5, 1) (math.frexp), for real > 0 (float64)."""
    e = tf.floor(tf.math.log(real) / np.log(2.0)) + 1.0
    f = real / tf.pow(tf.constant(2.0, tf.float64), e)
    return e + tf.cast(f >= 1.0, tf.float64) - tf.cast(f < 0.5, tf.float64)


def multiplier(real: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """`quantize.quantize_multiplier` in float64 TF ops: (m, n) with real ~= m / 2^n."""
    n = tf.minimum(31.0 - frexp_exponent(real), 62.0)
    m = tf.round(real * tf.pow(tf.constant(2.0, tf.float64), n))
    n = tf.where(m >= 2.0**31, n - 1.0, n)
    return tf.round(real * tf.pow(tf.constant(2.0, tf.float64), n)), n


def pair(real_a: tf.Tensor, real_b: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """`quantize.quantize_pair`: two multipliers with one shift."""
    _, n = multiplier(tf.maximum(real_a, real_b))
    scale = tf.pow(tf.constant(2.0, tf.float64), n)
    n = tf.where(tf.maximum(tf.round(real_a * scale), tf.round(real_b * scale)) >= 2.0**31, n - 1.0, n)
    scale = tf.pow(tf.constant(2.0, tf.float64), n)
    return tf.round(real_a * scale), tf.round(real_b * scale), n


def requant(acc: tf.Tensor, m: tf.Tensor, n: tf.Tensor) -> tf.Tensor:
    """The spec's `(acc * m + 2^(n-1)) >> n` on float64 integers (exact below 2^53)."""
    scale = tf.pow(tf.constant(2.0, tf.float64), n)
    return tf.floor((acc * m + scale / 2.0) / scale)


def rshift_round(x: tf.Tensor, k: int) -> tf.Tensor:
    return tf.floor((x + 2.0 ** (k - 1)) / 2.0**k)


def fake_quant_affine(x: tf.Tensor, scale: float, zero_point: int) -> tf.Tensor:
    """int8 affine fake quantization: (clip(round(x / scale) + zp, -128, 127) - zp) * scale."""
    return fake_quant(x, scale, -128.0 - zero_point, 127.0 - zero_point)


@keras.saving.register_keras_serializable(package="fastgrnn_tf")
class SymmetricWeightQuantizer(quantizers.Quantizer):
    """Per-tensor symmetric int8 [-127, 127], scale max|w| / 127 from the current weights (as the
    exporter computes it). With `preserve_sparsity` a non-trainable "<name>_mask" (ones at build;
    `make_qat_model` sets it to w != 0) multiplies the weight, so pruned entries stay exactly zero
    and get no gradient during QAT."""

    def __init__(self, preserve_sparsity: bool = True) -> None:
        self.preserve_sparsity = bool(preserve_sparsity)

    def build(self, tensor_shape: Any, name: str, layer: keras.layers.Layer) -> dict:
        if not self.preserve_sparsity:
            return {}
        mask = layer.add_weight(f"{name}_mask", shape=tensor_shape, initializer="ones", trainable=False)
        return {"mask": mask}

    def __call__(self, inputs: tf.Tensor, training: Any, weights: dict, **kwargs: Any) -> tf.Tensor:
        if "mask" in weights:
            inputs = inputs * weights["mask"]
        scale = tf.maximum(tf.reduce_max(tf.abs(inputs)), EPS) / 127.0
        return fake_quant(inputs, scale, -127.0, 127.0)

    def get_config(self) -> dict:
        return {"preserve_sparsity": self.preserve_sparsity}

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, SymmetricWeightQuantizer)
                and other.preserve_sparsity == self.preserve_sparsity)

    def __hash__(self) -> int:
        return hash((type(self), self.preserve_sparsity))

