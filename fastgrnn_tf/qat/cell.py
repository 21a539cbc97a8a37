"""`QATFastGRNNCell`: a FastGRNNCell whose step is fake-quantized like the int8 kernel
(`fastgrnn_tf/int8/int8_step_spec.md`).

- low-rank intermediates v = x W1 and u = h U1: symmetric int8 with scale absmax / 127, where the
  absmax is an exponential moving average (per time step) kept in non-trainable weights
  "v_absmax" / "u_absmax";
- pre-activations pre + b_z and pre + b_h: rounded to the LUT index grid of step
  s_p = min(pre_absmax / 127, 8 / 128) and clipped to [-128, 127] steps ("pre_absmax" EMA);
- gate z and update c: Q15 (1/32768); sigmoid(zeta), sigmoid(nu): Q15 as the exporter rounds them;
- hidden state h: Q0.7 (scale 1/128, range [-1, 127/128]) at every step;
- optionally the input: int8 affine with the feature spec's scale and zero point.
W/U (or their factors) are fake-quantized by `FastGRNNQuantizeConfig` (`fastgrnn_tf.qat.model`).
All rounding uses straight-through gradients (clipping passes no gradient outside its range).
When the input is quantized, the forward value of h is the int8 kernel's, exactly: the integers of
x, h and the weights are recovered from their fake-quantized values and one step of the spec runs
on them in float64 (every value is an integer below 2^53, so it is exact), with the multipliers,
biases and LUTs the exporter derives from the same ranges (`quantize.quantize_params`). The float
fake-quantized step gives the gradient (straight-through); the int8 model then predicts what QAT did.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tf_keras as keras

from fastgrnn_tf.fastgrnn_cell import FastGRNNCell
from fastgrnn_tf.qat.fake_quant import (
    EPS,
    H_SCALE,
    MAX_PRE_STEP,
    Q15,
    fake_quant,
    fake_quant_affine,
    multiplier,
    pair,
    requant,
    rshift_round,
)


@keras.saving.register_keras_serializable(package="fastgrnn_tf")
class QATFastGRNNCell(FastGRNNCell):
    """FastGRNNCell whose step is fake-quantized like the int8 kernel (see the module docstring).

    Extra args: input_scale / input_zero_point (None: input not quantized), ema_decay (per time step,
    for the v / u / pre ranges). Extra non-trainable weights: v_absmax (low-rank W only), u_absmax
    (low-rank U only), pre_absmax. A range of 0 means "not calibrated yet": the current batch is used.
    The W/U weights are fake-quantized by `FastGRNNQuantizeConfig` (TF-MOT QuantizeWrapper).
    """

    def __init__(self, units: int, input_scale: float | None = None, input_zero_point: int | None = None,
                 ema_decay: float = 0.99, **kwargs: Any) -> None:
        super().__init__(units, **kwargs)
        if (input_scale is None) != (input_zero_point is None):
            raise ValueError("input_scale and input_zero_point must be given together")
        if input_scale is not None and not input_scale > 0:
            raise ValueError(f"input_scale must be positive, got {input_scale}")
        if not 0.0 <= ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {ema_decay}")
        self.input_scale = None if input_scale is None else float(input_scale)
        self.input_zero_point = None if input_zero_point is None else int(input_zero_point)
        self.ema_decay = float(ema_decay)

    def build(self, input_shape: Any) -> None:
        super().build(input_shape)

        def rng(name: str) -> tf.Variable:
            return self.add_weight(name=name, shape=(), initializer="zeros", trainable=False)

        self.v_absmax = rng("v_absmax") if self.w_rank is not None else None
        self.u_absmax = rng("u_absmax") if self.u_rank is not None else None
        self.pre_absmax = rng("pre_absmax")

    def _range(self, var: tf.Variable, values: tf.Tensor, training: Any) -> tf.Tensor:
        """Returns the absmax to quantize `values` with; when training, first updates the EMA."""
        current = tf.reduce_max(tf.abs(values))
        ema = tf.where(var > 0, self.ema_decay * var + (1.0 - self.ema_decay) * current, current)
        if training is None or training is False:
            return tf.where(var > 0, var, current)
        if training is True:
            var.assign(tf.stop_gradient(ema))
            return tf.stop_gradient(ema)
        updated = tf.cond(tf.cast(training, tf.bool), lambda: var.assign(tf.stop_gradient(ema)),
                          lambda: tf.identity(var))
        return tf.stop_gradient(tf.where(updated > 0, updated, current))

    def _matrix(self, name: str) -> tf.Tensor:
        """The fake-quantized matrix set by FastGRNNQuantizeConfig, else the float variable."""
        quantized = self.__dict__.get("_quantized_weights") or {}
        return quantized[name] if name in quantized else getattr(self, name)

    def call(self, inputs: tf.Tensor, states: Any, training: Any = None) -> tuple[tf.Tensor, list]:
        h_prev = states[0] if isinstance(states, (list, tuple)) else states
        h_prev = fake_quant(h_prev, H_SCALE, -128.0, 127.0)
        x = inputs
        if self.input_scale is not None:
            x = fake_quant_affine(x, self.input_scale, self.input_zero_point)
        if self.w_rank is None:
            wx = tf.matmul(x, self._matrix("W"))
        else:
            v = tf.matmul(x, self._matrix("W1"))
            v_max = self._range(self.v_absmax, v, training)
            s_v = tf.maximum(v_max, EPS) / 127.0
            wx = tf.matmul(fake_quant(v, s_v, -128.0, 127.0), self._matrix("W2"))
        if self.u_rank is None:
            uh = tf.matmul(h_prev, self._matrix("U"))
        else:
            u = tf.matmul(h_prev, self._matrix("U1"))
            u_max = self._range(self.u_absmax, u, training)
            s_u = tf.maximum(u_max, EPS) / 127.0
            uh = tf.matmul(fake_quant(u, s_u, -128.0, 127.0), self._matrix("U2"))
        pre = wx + uh
        pz, ph = pre + self.bias_z, pre + self.bias_h
        pre_max = self._range(self.pre_absmax, tf.stack([pz, ph]), training)
        s_p = tf.minimum(tf.maximum(pre_max, EPS) / 127.0, MAX_PRE_STEP)
        z = fake_quant(self._gate(fake_quant(pz, s_p, -128.0, 127.0)), 1.0 / Q15, -Q15, Q15 - 1)
        c = fake_quant(self._update(fake_quant(ph, s_p, -128.0, 127.0)), 1.0 / Q15, -Q15, Q15 - 1)
        zeta = fake_quant(tf.sigmoid(self.zeta), 1.0 / Q15, 0.0, Q15 - 1)
        nu = fake_quant(tf.sigmoid(self.nu), 1.0 / Q15, 0.0, Q15 - 1)
        h = (zeta * (1.0 - z) + nu) * c + z * h_prev
        h = fake_quant(h, H_SCALE, -128.0, 127.0)
        if self.input_scale is not None:
            h_exact = self._exact_step(x, h_prev, v_max if self.w_rank else None, u_max if self.u_rank else None,
                                       pre_max)
            h = h + tf.stop_gradient(tf.cast(h_exact, h.dtype) * H_SCALE - h)
        return h, [h]

    def _exact_step(self, x: tf.Tensor, h_prev: tf.Tensor, v_max: tf.Tensor | None, u_max: tf.Tensor | None,
                    pre_max: tf.Tensor) -> tf.Tensor:
        """One step of `int8_step_spec.md` on the integers behind the fake-quantized values: int8 h as
        float64. Constants are derived from the current ranges (absmax) exactly as `quantize_params` derives
        them: every scale is divided in float64 (a float32 `absmax / 127` moves the multipliers by ~3e-8)."""
        f64 = tf.float64

        def ints(value: tf.Tensor, scale: tf.Tensor | float) -> tf.Tensor:
            return tf.round(tf.cast(value, f64) / tf.cast(scale, f64))

        def weight(name: str) -> tuple[tf.Tensor, tf.Tensor]:  # as quantize.quantize_weight
            m = tf.cast(getattr(self, name), f64)
            amax = tf.reduce_max(tf.abs(m))
            s = tf.where(amax > 0, amax / 127.0, tf.constant(1.0, f64))
            return tf.clip_by_value(tf.round(m / s), -127.0, 127.0), s

        s_x = tf.constant(self.input_scale, f64)
        s_h = tf.constant(H_SCALE, f64)
        xo = ints(x, s_x)  # x - zero point
        hq = ints(h_prev, s_h)
        s_p = tf.minimum(tf.cast(tf.maximum(pre_max, EPS), f64) / 127.0, MAX_PRE_STEP)
        s_acc = s_p / 256.0
        def path(inp: tf.Tensor, s_in: tf.Tensor, full: str, low: tuple[str, str],
                 mid_max: tf.Tensor | None) -> tuple[tf.Tensor, tf.Tensor]:
            """(accumulator, its real scale in units of s_acc) of the W or U path (spec steps 2-3)."""
            if mid_max is None:
                wq, s_w = weight(full)
                return tf.matmul(inp, wq), s_in * s_w / s_acc
            (w1q, s_w1), (w2q, s_w2) = weight(low[0]), weight(low[1])
            s_mid = tf.maximum(tf.cast(mid_max, f64), EPS) / 127.0
            m, n = multiplier(s_in * s_w1 / s_mid)
            mid = tf.clip_by_value(requant(tf.matmul(inp, w1q), m, n), -128.0, 127.0)
            return tf.matmul(mid, w2q), s_mid * s_w2 / s_acc

        aw, real_w = path(xo, s_x, "W", ("W1", "W2"), v_max)
        au, real_u = path(hq, s_h, "U", ("U1", "U2"), u_max)
        pw, pu, pn = pair(real_w, real_u)
        scale = tf.pow(tf.constant(2.0, f64), pn)
        pre = tf.floor((aw * pw + au * pu + scale / 2.0) / scale)
        grid = (tf.range(256, dtype=f64) - 128.0) * s_p

        def lut(act: Any) -> tf.Tensor:
            return tf.clip_by_value(tf.floor(tf.cast(act(grid), f64) * Q15 + 0.5), -Q15, Q15 - 1)

        def index(bias: tf.Variable) -> tf.Tensor:
            b = tf.round(tf.cast(bias, f64) / s_acc)
            return tf.cast(tf.clip_by_value(rshift_round(pre + b, 8), -128.0, 127.0) + 128.0, tf.int32)

        z = tf.gather(lut(self._gate), index(self.bias_z))
        c = tf.gather(lut(self._update), index(self.bias_h))

        def q15(v: tf.Variable) -> tf.Tensor:
            return tf.clip_by_value(tf.floor(tf.sigmoid(tf.cast(v, f64)) * Q15 + 0.5), 0.0, Q15 - 1)

        a = rshift_round(q15(self.zeta) * (Q15 - z), 15) + q15(self.nu)
        h = rshift_round(rshift_round(a * c, 15) + rshift_round(z * hq, 7), 8)
        return tf.clip_by_value(h, -128.0, 127.0)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "input_scale": self.input_scale,
                "input_zero_point": self.input_zero_point, "ema_decay": self.ema_decay}
