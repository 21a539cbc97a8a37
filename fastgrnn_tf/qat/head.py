"""The QAT head: Dense layers whose forward value is the int8 FULLY_CONNECTED the converter makes of them.

TF-MOT fake-quantizes a Dense in float32; the TFLite converter turns the same fake-quant nodes into an int8
FULLY_CONNECTED that requantizes in integers (int32 bias, MultiplyByQuantizedMultiplier with double
rounding), so a float fake-quantized logit could land 1 LSB from the int8 one. `QATDense` (a Dense, wrapped
with `HeadQuantizeConfig`) keeps TF-MOT's quantizers (the same fake-quant nodes, range variables and
straight-through gradients, so conversion is unchanged) and replaces the forward value, straight-through,
by the integer layer the converter builds from those variables (`int8/head_oracle.fully_connected`):

    s_w = (k_max - k_min) / 254               w = clamp(round(kernel / s_w), -127, 127)      (per tensor)
    s_out, zp_out: the converter's nudging of the output range [min, max] onto [-128, 127]
    bias = round(b / (s_in * s_w))            (int32; scales in double, round = half away from zero)
    m, shift = QuantizeMultiplier(f32(s_in) * f32(s_w) / f32(s_out))    (TFLite reads float32 scales)
    y = clamp(MultiplyByQuantizedMultiplier(sum (x - zp_in) w + bias, m, shift) + zp_out)  (ReLU: >= zp_out)

The input grid is the FastGRNN state's (1/128, 0) for a Dense fed by the recurrent layer, else the output
range of the QATDense before it (`link_head`, which `make_qat_model` and `saving.load_model` call). Within
`tflite_conversion()` the layer is TF-MOT's plain fake-quant graph, which the converter turns into int8.

    layers = head_layers(qat_model)     # the int8 HeadLayers the QAT forward computes
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import tensorflow as tf
import tf_keras as keras
from tensorflow_model_optimization.python.core.keras import utils as tfmot_utils
from tensorflow_model_optimization.python.core.quantization.keras import quantize_aware_activation as qaa
from tensorflow_model_optimization.python.core.quantization.keras import quantize_config as qc
from tensorflow_model_optimization.python.core.quantization.keras import quantizers

from fastgrnn_tf.fastgrnn_cell import FastGRNNCell
from fastgrnn_tf.int8.head_oracle import HeadLayer
from fastgrnn_tf.qat.fake_quant import H_SCALE, frexp_exponent

F64 = tf.float64
_I32_MIN, _I32_MAX = -(2**31), 2**31 - 1
_CONVERTING = [0]
NEAR_ZERO_RANGE = 1e-6  # the converter's kNearZeroTolerance


@contextlib.contextmanager
def tflite_conversion() -> Iterator[None]:
    """Within it, QATDense layers are TF-MOT's float fake-quant graph (what the TFLite converter converts)."""
    _CONVERTING[0] += 1
    try:
        yield
    finally:
        _CONVERTING[0] -= 1


def _round_away(x: tf.Tensor) -> tf.Tensor:
    return tf.sign(x) * tf.floor(tf.abs(x) + 0.5)


def range_quant(rmin: Any, rmax: Any, qmin: float, qmax: float) -> tuple[tf.Tensor, tf.Tensor]:
    """(scale, zero point) in float64 of a fake-quant range as the TFLite converter derives them (MLIR
    `ExpandVerySmallRange`: a range of width <= 1e-6 is widened to include [-5e-7, 5e-7], kept in float32; then
    `fakeQuantAttrsToType`: scale (max - min) / (qmax - qmin), the zero point from the end with the smaller
    rounding error, rounded half away from zero and clamped)."""
    rmin, rmax = tf.cast(rmin, F64), tf.cast(rmax, F64)
    small = (rmax - rmin) <= NEAR_ZERO_RANGE
    rmin = tf.where(small, tf.minimum(rmin, -NEAR_ZERO_RANGE / 2), rmin)
    rmax = tf.where(small, tf.maximum(rmax, NEAR_ZERO_RANGE / 2), rmax)
    # The converter keeps the (widened) range in float32 (a no-op for float32 range variables).
    rmin, rmax = tf.cast(tf.cast(rmin, tf.float32), F64), tf.cast(tf.cast(rmax, tf.float32), F64)
    scale = (rmax - rmin) / (qmax - qmin)
    from_min, from_max = qmin - rmin / scale, qmax - rmax / scale
    z = tf.where(abs(qmin) + tf.abs(rmin / scale) < abs(qmax) + tf.abs(rmax / scale), from_min, from_max)
    zp = tf.where(z < qmin, tf.constant(qmin, F64), tf.where(z > qmax, tf.constant(qmax, F64), _round_away(z)))
    return scale, zp


def quantize_multiplier(real: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """TFLite `QuantizeMultiplier` (`head_oracle.quantize_multiplier`) in float64 TF ops: (m, shift)."""
    safe = tf.where(real > 0, real, tf.constant(1.0, F64))
    e = frexp_exponent(safe)
    q = tf.floor(safe / tf.pow(tf.constant(2.0, F64), e) * 2.0**31 + 0.5)
    carry = q >= 2.0**31
    q, e = tf.where(carry, q / 2.0, q), tf.where(carry, e + 1.0, e)
    zero = (real <= 0) | (e < -31.0)
    return tf.where(zero, tf.zeros_like(q), q), tf.where(zero, tf.zeros_like(e), e)


def multiply_by_quantized_multiplier(acc: tf.Tensor, m: tf.Tensor, shift: tf.Tensor) -> tf.Tensor:
    """TFLite's double-rounding MultiplyByQuantizedMultiplier on int32 values held in float64, in int64 ops
    (`head_oracle.multiply_by_quantized_multiplier`, "double")."""
    i64 = tf.int64
    one = tf.constant(1, i64)
    left = tf.cast(tf.maximum(shift, 0.0), i64)
    right = tf.cast(tf.maximum(-shift, 0.0), i64)
    a = tf.cast(acc, i64) * tf.bitwise.left_shift(one, left)
    a = tf.math.floormod(a - _I32_MIN, tf.constant(2**32, i64)) + _I32_MIN  # int32 wrap
    ab = a * tf.cast(m, i64)
    t = ab + tf.where(ab >= 0, tf.constant(1 << 30, i64), tf.constant(1 - (1 << 30), i64))
    high = tf.where(t >= 0, tf.bitwise.right_shift(t, 31), -tf.bitwise.right_shift(-t, 31))
    mask = tf.bitwise.left_shift(one, right) - 1
    threshold = tf.bitwise.right_shift(mask, 1) + tf.cast(high < 0, i64)
    out = tf.bitwise.right_shift(high, right) + tf.cast(tf.bitwise.bitwise_and(high, mask) > threshold, i64)
    return tf.cast(out, F64)


class _KernelQuantizer(quantizers.LastValueQuantizer):
    """TF-MOT's Dense kernel quantizer (8 bits, per tensor, symmetric, narrow range) that also hands its
    range variables to the QATDense it quantizes."""

    def __init__(self) -> None:
        super().__init__(num_bits=8, per_axis=False, symmetric=True, narrow_range=True)

    def build(self, tensor_shape: Any, name: str, layer: keras.layers.Layer) -> dict:
        range_vars = super().build(tensor_shape, name, layer)
        object.__setattr__(layer.layer, "_kernel_range", (range_vars["min_var"], range_vars["max_var"]))
        return range_vars


@keras.saving.register_keras_serializable(package="fastgrnn_tf")
class HeadQuantizeConfig(qc.QuantizeConfig):
    """TF-MOT's default 8-bit Dense scheme (kernel per tensor symmetric narrow range, activation by a
    moving-average range) for a QATDense, whose forward value is then the int8 layer's."""

    def get_weights_and_quantizers(self, layer: keras.layers.Layer) -> list:
        object.__setattr__(layer, "_float_kernel", layer.kernel)  # the variable (the wrapper swaps in a tensor)
        return [(layer.kernel, _KernelQuantizer())]

    def get_activations_and_quantizers(self, layer: keras.layers.Layer) -> list:
        return [(layer.activation, quantizers.MovingAverageQuantizer(
            num_bits=8, per_axis=False, symmetric=False, narrow_range=False))]

    def set_quantize_weights(self, layer: keras.layers.Layer, quantize_weights: list) -> None:
        layer.kernel = quantize_weights[0]

    def set_quantize_activations(self, layer: keras.layers.Layer, quantize_activations: list) -> None:
        layer.activation = quantize_activations[0]

    def get_output_quantizers(self, layer: keras.layers.Layer) -> list:
        return []

    def get_config(self) -> dict:
        return {}


@keras.saving.register_keras_serializable(package="fastgrnn_tf")
class QATDense(keras.layers.Dense):
    """A Dense whose forward value (under `HeadQuantizeConfig`) is the int8 FULLY_CONNECTED's, dequantized;
    gradients are TF-MOT's straight-through ones. `state_input`: its input is the FastGRNN state (1/128, 0);
    otherwise `link_head` gives it the output range of the QATDense before it (unlinked: TF-MOT's float
    fake quantization)."""

    def __init__(self, units: int, state_input: bool = False, **kwargs: Any) -> None:
        super().__init__(units, **kwargs)
        self.state_input = bool(state_input)

    def _input_grid(self) -> tuple[tf.Tensor, tf.Tensor] | None:
        if self.state_input:
            return tf.constant(H_SCALE, F64), tf.constant(0.0, F64)
        source = self.__dict__.get("_input_range")
        return None if source is None else range_quant(source[0], source[1], -128.0, 127.0)

    def _output_range(self) -> tuple[tf.Variable, tf.Variable]:
        act = self.activation
        out = act._pre_activation_vars if act._should_pre_quantize() else act._post_activation_vars
        return out["min_var"], out["max_var"]

    def int8_params(self) -> dict[str, tf.Tensor] | None:
        """The integer layer of the current variables (float64 tensors; w [in, out]), or None when the
        layer is not wrapped, not linked, or inside `tflite_conversion()`."""
        grid = self._input_grid()
        if (grid is None or _CONVERTING[0] or "_kernel_range" not in self.__dict__
                or not isinstance(self.activation, qaa.QuantizeAwareActivation)):
            return None
        s_in, zp_in = grid
        s_w, zp_w = range_quant(*self._kernel_range, -127.0, 127.0)
        kernel = tf.cast(self.__dict__["_float_kernel"], F64)
        w = tf.clip_by_value(_round_away(kernel / s_w) + zp_w, -127.0, 127.0)
        b = tf.cast(self.bias, F64) if self.use_bias else tf.zeros([self.units], F64)
        bias = tf.clip_by_value(_round_away(b / (s_in * s_w)), _I32_MIN, _I32_MAX)
        s_out, zp_out = range_quant(*self._output_range(), -128.0, 127.0)

        def f32(s: tf.Tensor) -> tf.Tensor:
            return tf.cast(tf.cast(s, tf.float32), F64)

        m, shift = quantize_multiplier(f32(s_in) * f32(s_w) / f32(s_out))
        relu = getattr(self.activation.activation, "__name__", "") == "relu"
        low = tf.maximum(tf.constant(-128.0, F64), zp_out) if relu else tf.constant(-128.0, F64)
        return {"s_in": s_in, "zp_in": zp_in, "w": w, "s_w": s_w, "bias": bias, "s_out": s_out,
                "zp_out": zp_out, "m": m, "shift": shift, "low": low, "relu": tf.constant(relu)}

    def _int8_forward(self, inputs: tf.Tensor, p: dict[str, tf.Tensor]) -> tf.Tensor:
        """The int8 layer on the integers behind `inputs`, dequantized (float32)."""
        x = tf.clip_by_value(_round_away(tf.cast(inputs, F64) / p["s_in"]) + p["zp_in"], -128.0, 127.0)
        acc = tf.clip_by_value(tf.matmul(x - p["zp_in"], p["w"]) + p["bias"], _I32_MIN, _I32_MAX)
        y = multiply_by_quantized_multiplier(acc, p["m"], p["shift"]) + p["zp_out"]
        y = tf.clip_by_value(y, p["low"], 127.0)
        return tf.cast((y - p["zp_out"]) * p["s_out"], tf.float32)

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        y = tf.matmul(inputs, self.kernel)
        if self.use_bias:
            y = tf.nn.bias_add(y, self.bias)
        act = self.activation
        if inputs.shape.rank != 2 or not isinstance(act, qaa.QuantizeAwareActivation) or self.int8_params() is None:
            return act(y)
        if act._should_pre_quantize():  # softmax & co: the range is the logits'
            vars_ = act._pre_activation_vars
            fq = tfmot_utils.smart_cond(act.training, lambda: act.quantizer(y, True, weights=vars_),
                                       lambda: act.quantizer(y, False, weights=vars_))
            fq = fq + tf.stop_gradient(self._int8_forward(inputs, self.int8_params()) - fq)
            return act.activation(fq)
        out = act(y)  # linear / ReLU: the range is the output's
        return out + tf.stop_gradient(self._int8_forward(inputs, self.int8_params()) - out)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "state_input": self.state_input}


_PASS_THROUGH = (keras.layers.Flatten, keras.layers.Dropout, keras.layers.Reshape)


def _inner(layer: keras.layers.Layer | None) -> keras.layers.Layer | None:
    while hasattr(layer, "layer") and isinstance(layer.layer, keras.layers.Layer):
        layer = layer.layer
    return layer


def input_source(layer: keras.layers.Layer) -> keras.layers.Layer | None:
    """The layer whose output grid `layer` reads: the nearest producer through Flatten / Dropout / Reshape
    (wrapped or not) in a functional or Sequential model; None when there is no single one."""
    current = layer
    while True:
        nodes = getattr(current, "_inbound_nodes", [])
        if len(nodes) != 1:
            return None
        inbound = nodes[0].inbound_layers
        inbound = inbound if isinstance(inbound, (list, tuple)) else [inbound]
        if len(inbound) != 1:
            return None
        current = inbound[0]
        if not isinstance(_inner(current), _PASS_THROUGH):
            return current


def link_head(model: keras.Model) -> keras.Model:
    """Tells every wrapped QATDense its input grid: `state_input` when the FastGRNN layer feeds it, else the
    output range variables of the QATDense (linear / ReLU) feeding it. Returns the model."""
    for wrapper in model.layers:
        dense = _inner(wrapper)
        if not isinstance(dense, QATDense) or dense.state_input:
            continue
        source = _inner(input_source(wrapper))
        if isinstance(source, keras.layers.RNN) and isinstance(source.cell, FastGRNNCell):
            dense.state_input = True
            continue
        act = getattr(source, "activation", None)
        if isinstance(source, QATDense) and isinstance(act, qaa.QuantizeAwareActivation) \
                and act._should_post_quantize():
            post = act._post_activation_vars
            object.__setattr__(dense, "_input_range", (post["min_var"], post["max_var"]))
    return model


def head_layers(model: keras.Model) -> list[HeadLayer]:
    """The int8 layers the QAT head computes (model order), as `head_oracle.HeadLayer`s. ValueError when a
    QATDense is not exact (not linked) or the model has none."""
    out = []
    for wrapper in model.layers:
        dense = _inner(wrapper)
        if not isinstance(dense, QATDense):
            continue
        p = dense.int8_params()
        if p is None:
            raise ValueError(f"head layer {dense.name} is not integer-exact (not wrapped or not linked)")
        v = {k: t.numpy() for k, t in p.items()}
        out.append(HeadLayer(
            weights=v["w"].T.astype(np.int8), bias=v["bias"].astype(np.int32),
            input_zero_point=int(v["zp_in"]), output_zero_point=int(v["zp_out"]),
            output_multiplier=int(v["m"]), output_shift=int(v["shift"]), relu=bool(v["relu"]),
            input_scale=float(np.float32(v["s_in"])), output_scale=float(np.float32(v["s_out"]))))
    if not out:
        raise ValueError("the model has no QATDense head layer (build it with make_qat_model)")
    return out
