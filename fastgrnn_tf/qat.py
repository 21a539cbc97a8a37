"""Quantization-aware training (TF-MOT) whose forward pass follows the int8 kernel (`int8_step_spec.md`).

    qat_model = make_qat_model(float_or_stripped_model, input_quant=(scale, zero_point))
    init_activation_ranges(qat_model, float_or_stripped_model, x_calib)  # head ranges, not TF-MOT's [-6, 6]
    calibrate(qat_model, x_calib)                                         # the cell's v / u / pre ranges
    qat_model.compile(...); qat_model.fit(...)
    params = fastgrnn_float_params(qat_model)   # float W1..U2, biases, zeta, nu, activation names
    ranges = quant_ranges(qat_model)            # v_absmax, u_absmax, pre_absmax (+ s_v, s_u, s_p)

The FastGRNN RNN layer is annotated with `FastGRNNQuantizeConfig` and its cell replaced by
`QATFastGRNNCell`:
- W, W1, W2, U, U1, U2: symmetric int8, narrow range [-127, 127], per tensor, scale max|W| / 127
  (TF-MOT weight quantizer `SymmetricWeightQuantizer`, applied by the QuantizeWrapper);
- low-rank intermediates v = x W1 and u = h U1: symmetric int8 with scale absmax / 127, where the
  absmax is an exponential moving average (per time step) kept in non-trainable weights
  "v_absmax" / "u_absmax";
- pre-activations pre + b_z and pre + b_h: rounded to the LUT index grid of step
  s_p = min(pre_absmax / 127, 8 / 128) and clipped to [-128, 127] steps ("pre_absmax" EMA);
- gate z and update c: Q15 (1/32768); sigmoid(zeta), sigmoid(nu): Q15 as the exporter rounds them;
- hidden state h: Q0.7 (scale 1/128, range [-1, 127/128]) at every step;
- optionally the input: int8 affine with the feature spec's scale and zero point.
All rounding uses straight-through gradients (clipping passes no gradient outside its range).
When the input is quantized, the forward value of h is the int8 kernel's, exactly: the integers of
x, h and the weights are recovered from their fake-quantized values and one step of the spec runs
on them in float64 (every value is an integer below 2^53, so it is exact), with the multipliers,
biases and LUTs the exporter derives from the same ranges (`quantize.quantize_params`). The float
fake-quantized step gives the gradient (straight-through); the int8 model then predicts what QAT did.
Dense / Softmax head layers get TF-MOT's default 8-bit scheme.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf
import tf_keras as keras
from tensorflow_model_optimization.python.core.quantization.keras import quantize as tfmot_quantize
from tensorflow_model_optimization.python.core.quantization.keras import quantize_config as qc
from tensorflow_model_optimization.python.core.quantization.keras import quantizers
from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
    default_8bit_quantize_layout_transform as layout,
)
from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
    default_8bit_quantize_registry as registry,
)
from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
    default_8bit_quantize_scheme as scheme,
)
from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
    default_8bit_transforms as transforms,
)
from tensorflow_model_optimization.python.core.quantization.keras.graph_transformations import (
    model_transformer,
)
from tensorflow_model_optimization.python.core.sparsity.keras import pruning_wrapper

from fastgrnn_tf.cells import find_fast_rnn_layers
from fastgrnn_tf.fastgrnn_cell import FastGRNNCell

H_SCALE = 1.0 / 128.0
Q15 = 32768.0
MAX_PRE_STEP = 8.0 / 128.0  # spec: 128 * s_p <= 8
_EPS = 1e-12


def _round_half_up(x: tf.Tensor) -> tf.Tensor:
    return tf.floor(x + 0.5)


def fake_quant(x: tf.Tensor, scale: tf.Tensor | float, qmin: float, qmax: float) -> tf.Tensor:
    """clip(round_half_up(x / scale), qmin, qmax) * scale with a straight-through gradient inside the
    clipping range (zero gradient outside it, like tf.quantization.fake_quant_*)."""
    clipped = tf.clip_by_value(x, qmin * scale, qmax * scale)
    return clipped + tf.stop_gradient(_round_half_up(clipped / scale) * scale - clipped)


def _frexp_exponent(real: tf.Tensor) -> tf.Tensor:
    """e with real = f * 2^e, f in [0.5, 1) (math.frexp), for real > 0 (float64)."""
    e = tf.floor(tf.math.log(real) / np.log(2.0)) + 1.0
    f = real / tf.pow(tf.constant(2.0, tf.float64), e)
    return e + tf.cast(f >= 1.0, tf.float64) - tf.cast(f < 0.5, tf.float64)


def _multiplier(real: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """`quantize.quantize_multiplier` in float64 TF ops: (m, n) with real ~= m / 2^n."""
    n = tf.minimum(31.0 - _frexp_exponent(real), 62.0)
    m = tf.round(real * tf.pow(tf.constant(2.0, tf.float64), n))
    n = tf.where(m >= 2.0**31, n - 1.0, n)
    return tf.round(real * tf.pow(tf.constant(2.0, tf.float64), n)), n


def _pair(real_a: tf.Tensor, real_b: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """`quantize.quantize_pair`: two multipliers with one shift."""
    _, n = _multiplier(tf.maximum(real_a, real_b))
    scale = tf.pow(tf.constant(2.0, tf.float64), n)
    n = tf.where(tf.maximum(tf.round(real_a * scale), tf.round(real_b * scale)) >= 2.0**31, n - 1.0, n)
    scale = tf.pow(tf.constant(2.0, tf.float64), n)
    return tf.round(real_a * scale), tf.round(real_b * scale), n


def _requant(acc: tf.Tensor, m: tf.Tensor, n: tf.Tensor) -> tf.Tensor:
    """The spec's `(acc * m + 2^(n-1)) >> n` on float64 integers (exact below 2^53)."""
    scale = tf.pow(tf.constant(2.0, tf.float64), n)
    return tf.floor((acc * m + scale / 2.0) / scale)


def _rshift_round(x: tf.Tensor, k: int) -> tf.Tensor:
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
        scale = tf.maximum(tf.reduce_max(tf.abs(inputs)), _EPS) / 127.0
        return fake_quant(inputs, scale, -127.0, 127.0)

    def get_config(self) -> dict:
        return {"preserve_sparsity": self.preserve_sparsity}

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, SymmetricWeightQuantizer)
                and other.preserve_sparsity == self.preserve_sparsity)

    def __hash__(self) -> int:
        return hash((type(self), self.preserve_sparsity))


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
            s_v = tf.maximum(self._range(self.v_absmax, v, training), _EPS) / 127.0
            wx = tf.matmul(fake_quant(v, s_v, -128.0, 127.0), self._matrix("W2"))
        if self.u_rank is None:
            uh = tf.matmul(h_prev, self._matrix("U"))
        else:
            u = tf.matmul(h_prev, self._matrix("U1"))
            s_u = tf.maximum(self._range(self.u_absmax, u, training), _EPS) / 127.0
            uh = tf.matmul(fake_quant(u, s_u, -128.0, 127.0), self._matrix("U2"))
        pre = wx + uh
        pz, ph = pre + self.bias_z, pre + self.bias_h
        pre_max = self._range(self.pre_absmax, tf.stack([pz, ph]), training)
        s_p = tf.minimum(tf.maximum(pre_max, _EPS) / 127.0, MAX_PRE_STEP)
        z = fake_quant(self._gate(fake_quant(pz, s_p, -128.0, 127.0)), 1.0 / Q15, -Q15, Q15 - 1)
        c = fake_quant(self._update(fake_quant(ph, s_p, -128.0, 127.0)), 1.0 / Q15, -Q15, Q15 - 1)
        zeta = fake_quant(tf.sigmoid(self.zeta), 1.0 / Q15, 0.0, Q15 - 1)
        nu = fake_quant(tf.sigmoid(self.nu), 1.0 / Q15, 0.0, Q15 - 1)
        h = (zeta * (1.0 - z) + nu) * c + z * h_prev
        h = fake_quant(h, H_SCALE, -128.0, 127.0)
        if self.input_scale is not None:
            h_exact = self._exact_step(x, h_prev, s_v if self.w_rank else None, s_u if self.u_rank else None, pre_max)
            h = h + tf.stop_gradient(tf.cast(h_exact, h.dtype) * H_SCALE - h)
        return h, [h]

    def _exact_step(self, x: tf.Tensor, h_prev: tf.Tensor, s_v: tf.Tensor | None, s_u: tf.Tensor | None,
                    pre_max: tf.Tensor) -> tf.Tensor:
        """One step of `int8_step_spec.md` on the integers behind the fake-quantized values: int8 h as
        float64. Constants are derived from the current ranges exactly as `quantize_params` derives them."""
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
        s_p = tf.minimum(tf.cast(tf.maximum(pre_max, _EPS), f64) / 127.0, MAX_PRE_STEP)
        s_acc = s_p / 256.0
        def path(inp: tf.Tensor, s_in: tf.Tensor, full: str, low: tuple[str, str],
                 s_mid: tf.Tensor | None) -> tuple[tf.Tensor, tf.Tensor]:
            """(accumulator, its real scale in units of s_acc) of the W or U path (spec steps 2-3)."""
            if s_mid is None:
                wq, s_w = weight(full)
                return tf.matmul(inp, wq), s_in * s_w / s_acc
            (w1q, s_w1), (w2q, s_w2) = weight(low[0]), weight(low[1])
            s_mid = tf.cast(s_mid, f64)
            m, n = _multiplier(s_in * s_w1 / s_mid)
            mid = tf.clip_by_value(_requant(tf.matmul(inp, w1q), m, n), -128.0, 127.0)
            return tf.matmul(mid, w2q), s_mid * s_w2 / s_acc

        aw, real_w = path(xo, s_x, "W", ("W1", "W2"), s_v)
        au, real_u = path(hq, s_h, "U", ("U1", "U2"), s_u)
        pw, pu, pn = _pair(real_w, real_u)
        scale = tf.pow(tf.constant(2.0, f64), pn)
        pre = tf.floor((aw * pw + au * pu + scale / 2.0) / scale)
        grid = (tf.range(256, dtype=f64) - 128.0) * s_p

        def lut(act: Any) -> tf.Tensor:
            return tf.clip_by_value(tf.floor(tf.cast(act(grid), f64) * Q15 + 0.5), -Q15, Q15 - 1)

        def index(bias: tf.Variable) -> tf.Tensor:
            b = tf.round(tf.cast(bias, f64) / s_acc)
            return tf.cast(tf.clip_by_value(_rshift_round(pre + b, 8), -128.0, 127.0) + 128.0, tf.int32)

        z = tf.gather(lut(self._gate), index(self.bias_z))
        c = tf.gather(lut(self._update), index(self.bias_h))

        def q15(v: tf.Variable) -> tf.Tensor:
            return tf.clip_by_value(tf.floor(tf.sigmoid(tf.cast(v, f64)) * Q15 + 0.5), 0.0, Q15 - 1)

        a = _rshift_round(q15(self.zeta) * (Q15 - z), 15) + q15(self.nu)
        h = _rshift_round(_rshift_round(a * c, 15) + _rshift_round(z * hq, 7), 8)
        return tf.clip_by_value(h, -128.0, 127.0)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "input_scale": self.input_scale,
                "input_zero_point": self.input_zero_point, "ema_decay": self.ema_decay}


_MATRIX_NAMES = ("W", "W1", "W2", "U", "U1", "U2")


@keras.saving.register_keras_serializable(package="fastgrnn_tf")
class FastGRNNQuantizeConfig(qc.QuantizeConfig):
    """TF-MOT QuantizeConfig for tf_keras.layers.RNN(QATFastGRNNCell): fake-quantizes W/U (or their
    factors) per tensor; the cell itself quantizes v, u, pre-activations, gate/update and h."""

    @staticmethod
    def _names(layer: keras.layers.RNN) -> list[str]:
        cell = layer.cell
        w_names = ["W"] if cell.w_rank is None else ["W1", "W2"]
        return w_names + (["U"] if cell.u_rank is None else ["U1", "U2"])

    def get_weights_and_quantizers(self, layer: keras.layers.Layer) -> list:
        return [(getattr(layer.cell, n), SymmetricWeightQuantizer()) for n in self._names(layer)]

    def get_activations_and_quantizers(self, layer: keras.layers.Layer) -> list:
        return []

    def set_quantize_weights(self, layer: keras.layers.Layer, quantize_weights: list) -> None:
        names = self._names(layer)
        if len(names) != len(quantize_weights):
            raise ValueError(f"expected {len(names)} quantized weights, got {len(quantize_weights)}")
        # Not setattr: that would untrack the float variables from the cell. The cell reads this dict.
        object.__setattr__(layer.cell, "_quantized_weights", dict(zip(names, quantize_weights, strict=True)))

    def set_quantize_activations(self, layer: keras.layers.Layer, quantize_activations: list) -> None:
        return None

    def get_output_quantizers(self, layer: keras.layers.Layer) -> list:
        return []  # h is already on the Q0.7 grid

    def get_config(self) -> dict:
        return {}


_CUSTOM_OBJECTS = {
    "QATFastGRNNCell": QATFastGRNNCell,
    "FastGRNNQuantizeConfig": FastGRNNQuantizeConfig,
    "SymmetricWeightQuantizer": SymmetricWeightQuantizer,
    "FastGRNNCell": FastGRNNCell,
}
for _name, _cls in _CUSTOM_OBJECTS.items():
    keras.utils.get_custom_objects().setdefault(_name, _cls)  # TF-MOT's legacy deserializer uses bare names


class _LayoutTransform(layout.Default8BitQuantizeLayoutTransform):
    """TF-MOT's default 8-bit layout transforms without `InputLayerQuantize`: the model input is not
    re-quantized on an observed 8-bit range (the FastGRNN cell quantizes its input with the feature
    spec's scale and zero point, `input_quant`)."""

    def apply(self, model: keras.Model, layer_quantize_map: dict) -> Any:
        names = [
            "SeparableConv1DQuantize", "SeparableConvQuantize", "Conv2DReshapeBatchNormReLUQuantize",
            "Conv2DReshapeBatchNormActivationQuantize", "Conv2DBatchNormReLUQuantize",
            "Conv2DBatchNormActivationQuantize", "Conv2DReshapeBatchNormQuantize", "Conv2DBatchNormQuantize",
            "ConcatTransform6Inputs", "ConcatTransform5Inputs", "ConcatTransform4Inputs",
            "ConcatTransform3Inputs", "ConcatTransform", "DenseBatchNormQuantize",
            "DenseBatchNormReLUQuantize", "DenseBatchNormActivationQuantize", "LayerReLUQuantize",
            "LayerReluActivationQuantize",
        ]  # Default8BitQuantizeLayoutTransform.apply's list (tfmot 0.8.1) minus InputLayerQuantize
        kept = [getattr(transforms, name)() for name in names]
        return model_transformer.ModelTransformer(
            model, kept, set(layer_quantize_map.keys()), layer_quantize_map).transform()


class _Scheme(scheme.Default8BitQuantizeScheme):
    def get_layout_transformer(self) -> _LayoutTransform:
        return _LayoutTransform()


def quantize_scope() -> Any:
    """TF-MOT quantize_scope with this module's classes (use it to load a saved QAT model)."""
    return tfmot_quantize.quantize_scope(_CUSTOM_OBJECTS)


def make_qat_model(
    model: keras.Model,
    input_quant: tuple[float, int] | Any | None = None,
    ema_decay: float = 0.99,
) -> keras.Model:
    """A QAT model built from a float or pruned-and-stripped model (its weights are copied).

    input_quant: None, (scale, zero_point), or a `keyword_spotting.features.FeatureSpec`
      (uses quant_scale and zero_point): fake-quantizes the FastGRNN input as the int8 features.
    Every RNN(FastGRNNCell) gets QATFastGRNNCell + FastGRNNQuantizeConfig; layers TF-MOT's default
    8-bit registry supports (Dense, ...) get the default scheme; other layers are left as they are.
    TF-MOT's QuantizeLayer after the model input is not added (the cell quantizes its own input).
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"model must be a tf_keras Model, got {type(model).__name__}")
    if any(isinstance(layer, pruning_wrapper.PruneLowMagnitude) for layer in model.layers):
        raise ValueError("model still has pruning wrappers: strip it first (fastgrnn_tf.pruning.strip)")
    if not model.built:
        raise ValueError("model must be built")
    if input_quant is not None and not isinstance(input_quant, (tuple, list)):
        input_quant = (float(input_quant.quant_scale), int(input_quant.zero_point))
    if input_quant is not None and len(input_quant) != 2:
        raise ValueError(f"input_quant must be (scale, zero_point) or a FeatureSpec, got {input_quant!r}")
    find_fast_rnn_layers(model, FastGRNNCell)  # raises when there is none
    default_registry = registry.Default8BitQuantizeRegistry()

    def annotate(layer: keras.layers.Layer) -> keras.layers.Layer:
        if isinstance(layer, keras.layers.RNN) and isinstance(layer.cell, FastGRNNCell):
            cell_config = {k: v for k, v in layer.cell.get_config().items()
                           if k not in ("input_scale", "input_zero_point", "ema_decay")}
            if input_quant is not None:
                cell_config.update(input_scale=float(input_quant[0]), input_zero_point=int(input_quant[1]))
            cell = QATFastGRNNCell.from_config({**cell_config, "ema_decay": ema_decay})
            rnn_config = layer.get_config()
            rnn_config.pop("cell")
            rnn = layer.__class__(cell, **rnn_config)
            return tfmot_quantize.quantize_annotate_layer(rnn, FastGRNNQuantizeConfig())
        clone = layer.__class__.from_config(layer.get_config())
        if default_registry.supports(layer):
            return tfmot_quantize.quantize_annotate_layer(clone)
        return clone

    with quantize_scope():
        annotated = keras.models.clone_model(model, clone_function=annotate)
        _copy_weights(model, annotated)
        quantized = tfmot_quantize.quantize_apply(annotated, scheme=_Scheme())
    for _, wrapper in _sparsity_masks(quantized):
        for var, _, qvars in wrapper._weight_vars:
            if "mask" in qvars:
                qvars["mask"].assign(tf.cast(tf.not_equal(var, 0.0), var.dtype))
    return quantized


def _sparsity_masks(model: keras.Model) -> list[tuple[keras.layers.RNN, Any]]:
    """(RNN, QuantizeWrapper) pairs of the FastGRNN layers quantized with FastGRNNQuantizeConfig."""
    return [(layer.layer, layer) for layer in model.layers
            if isinstance(getattr(layer, "quantize_config", None), FastGRNNQuantizeConfig)]


def _copy_weights(src: keras.Model, dst: keras.Model) -> None:
    """Copies weights layer by layer by weight name (the QAT cell has extra range weights)."""
    for s_layer, d_layer in zip(src.layers, dst.layers, strict=True):
        target = d_layer.layer if hasattr(d_layer, "quantize_config") else d_layer
        by_name = {_short(w.name): w for w in target.weights}
        for w in s_layer.weights:
            name = _short(w.name)
            if name not in by_name:
                raise ValueError(f"layer {s_layer.name}: no weight {name!r} in the QAT clone")
            by_name[name].assign(w)


def _short(name: str) -> str:
    return name.split("/")[-1].split(":")[0]


def _cell_variables(layer: keras.layers.RNN) -> dict[str, tf.Variable]:
    return {_short(v.name): v for v in layer.cell.weights}


def _the_fastgrnn_layer(model_or_layer: Any) -> tuple[keras.layers.RNN, Any]:
    """The single RNN(FastGRNNCell) and the outermost wrapper around it (or the layer itself)."""
    outer = model_or_layer.layers if isinstance(model_or_layer, keras.Model) else [model_or_layer]
    found = []
    for layer in outer:
        try:
            found.append((find_fast_rnn_layers(layer, FastGRNNCell)[0], layer))
        except ValueError:
            continue
    if len(found) != 1:
        raise ValueError(f"model_or_layer must contain exactly one RNN(FastGRNNCell), found {len(found)}")
    return found[0]


def fastgrnn_float_params(model_or_layer: Any) -> dict[str, Any]:
    """Float parameters of the FastGRNN layer of a float, pruned, stripped or QAT model (or layer).

    Keys: "W" or "W1", "W2"; "U" or "U1", "U2" (float32, Keras layout [in, out]); "bias_z", "bias_h"
    (float32 [H]); "zeta", "nu" (floats, before the sigmoid); "gate_activation", "update_activation";
    "units", "input_dim", "w_rank", "u_rank" (0 = full rank), "return_sequences".
    For a pruned (wrapped) or QAT model the current (sparsity) masks are applied to the matrices.
    """
    rnn, outer = _the_fastgrnn_layer(model_or_layer)
    cell = rnn.cell
    variables = _cell_variables(rnn)
    masks = {}
    if isinstance(outer, pruning_wrapper.PruneLowMagnitude) and outer.pruning_vars:
        masks = {_short(w.name): m.numpy() for w, m, _ in outer.pruning_vars}
    for var, _, qvars in getattr(outer, "_weight_vars", []):  # QAT: sparsity-preserving masks
        if "mask" in qvars:
            masks[_short(var.name)] = qvars["mask"].numpy()
    params: dict[str, Any] = {}
    for name in _MATRIX_NAMES:
        if name in variables:
            params[name] = (variables[name].numpy() * masks.get(name, 1.0)).astype(np.float32)
    params.update(
        bias_z=variables["bias_z"].numpy().astype(np.float32),
        bias_h=variables["bias_h"].numpy().astype(np.float32),
        zeta=float(variables["zeta"].numpy()),
        nu=float(variables["nu"].numpy()),
        gate_activation=cell.gate_activation,
        update_activation=cell.update_activation,
        units=cell.units,
        input_dim=int(cell.input_dim),
        w_rank=cell.w_rank or 0,
        u_rank=cell.u_rank or 0,
        return_sequences=bool(rnn.return_sequences),
    )
    return params


def quant_ranges(model_or_layer: Any) -> dict[str, Any]:
    """Calibrated ranges of a QAT model's FastGRNN layer.

    Keys: "v_absmax", "u_absmax" (None at full rank), "pre_absmax" (max |pre + b| over gate and
    update), the derived scales "s_v", "s_u" (absmax / 127, None at full rank), "s_p"
    (min(pre_absmax / 127, 8 / 128)), "h_scale" (1/128), and "input_scale", "input_zero_point" (None
    when the input was not fake-quantized). ValueError when the model is not a QAT model or the
    ranges were never populated (train or calibrate first).
    """
    rnn, _ = _the_fastgrnn_layer(model_or_layer)
    cell = rnn.cell
    if not isinstance(cell, QATFastGRNNCell):
        raise ValueError("model_or_layer is not a QAT model (build one with make_qat_model)")
    variables = _cell_variables(rnn)

    def value(name: str) -> float | None:
        return float(variables[name].numpy()) if name in variables else None

    out: dict[str, Any] = {"v_absmax": value("v_absmax"), "u_absmax": value("u_absmax"),
                           "pre_absmax": value("pre_absmax")}
    for key, v in out.items():
        if v is not None and not v > 0:
            raise ValueError(f"QAT range {key} is not populated: train or calibrate the QAT model first")
    out["s_v"] = None if out["v_absmax"] is None else out["v_absmax"] / 127.0
    out["s_u"] = None if out["u_absmax"] is None else out["u_absmax"] / 127.0
    out["s_p"] = min(out["pre_absmax"] / 127.0, MAX_PRE_STEP)
    out["h_scale"] = H_SCALE
    out["input_scale"] = cell.input_scale
    out["input_zero_point"] = cell.input_zero_point
    return out


def calibrate(model: keras.Model, x: Any, batch_size: int = 64, steps: int | None = None) -> None:
    """Runs the QAT model in training mode (no weight update) to populate the EMA ranges of the
    FastGRNN cell and of TF-MOT's activation quantizers. `x`: array, or a dataset / iterable of (x, y) or x
    batches (e.g. a list of arrays of different lengths)."""
    for batch in input_batches(x, batch_size, steps):
        model(batch, training=True)


_ACTIVATION_RANGES = ("pre_activation", "post_activation", "output")


def input_batches(x: Any, batch_size: int, steps: int | None) -> list[np.ndarray]:
    """Up to `steps` input batches (numpy) of an array, or of a dataset / iterable of (x, y) or x."""
    if isinstance(x, np.ndarray) or not hasattr(x, "__iter__"):
        x = np.asarray(x, np.float32)
        out = [x[i:i + batch_size] for i in range(0, len(x), batch_size)]
        return out if steps is None else out[:steps]
    out = []
    for i, batch in enumerate(x):
        if steps is not None and i >= steps:
            break
        if isinstance(batch, (tuple, list)):
            batch = batch[0]
        out.append(np.asarray(batch, np.float32))
    return out


def init_activation_ranges(qat_model: keras.Model, float_model: keras.Model, x: Any, batch_size: int = 256,
                           steps: int | None = None) -> dict[str, tuple[float, float]]:
    """Starts the ranges of TF-MOT's activation quantizers (the head's Dense layers) from the float model.

    TF-MOT initializes every activation range to [-6, 6] and moves it by an EMA of batch min / max with
    decay 0.999 per training step, so for the first ~1000 QAT steps a head whose logits span +-25 has them
    clipped to about +-6 (several classes saturate at the top of the grid; no gradient beyond it). On
    Speech Commands the QAT model before training scored 0.68 with [-6, 6] and 0.875 with these ranges
    (float 0.894). Each "pre_activation" range (input of the activation function), "post_activation"
    range (the layer's output) and "output" range of a wrapped layer becomes [min(0, min a), max(0, max a)]
    of the same activation `a` of the float model's layer of the same name on `x` (an array, or a
    dataset / iterable of (x, y) or x batches; at most `steps` batches). The FastGRNN cell's own ranges
    are not touched (`calibrate` populates them). Returns {variable name: (min, max)} as set.
    """
    targets = []  # (wrapper, float layer, kind, min variable, max variable)
    for wrapper in qat_model.layers:
        if not hasattr(wrapper, "quantize_config") or isinstance(wrapper.quantize_config, FastGRNNQuantizeConfig):
            continue
        variables = {_short(v.name): v for v in wrapper.non_trainable_weights}
        for kind in _ACTIVATION_RANGES:
            if f"{kind}_min" in variables and f"{kind}_max" in variables:
                layer = float_model.get_layer(wrapper.layer.name)
                targets.append((wrapper, layer, kind, variables[f"{kind}_min"], variables[f"{kind}_max"]))
    if not targets:
        return {}
    # A clone: layers of a stripped model also belong to the pruned model's graph, so `layer.output` may be
    # another graph's tensor.
    clone = keras.models.clone_model(float_model)
    clone.set_weights(float_model.get_weights())
    targets = [(w, clone.get_layer(layer.name), kind, lo, hi) for w, layer, kind, lo, hi in targets]
    probes, linear = [], {}
    for _, layer, kind, _, _ in targets:
        if kind == "pre_activation":
            config = {**layer.get_config(), "activation": "linear", "name": f"{layer.name}_pre_activation"}
            linear[layer.name] = lin = layer.__class__.from_config(config)
            lin.build(layer.input.shape)
            lin.set_weights(layer.get_weights())
            probes.append(layer.input)
        else:
            probes.append(layer.output)
    probe = keras.Model(clone.inputs, probes)
    lo, hi = [np.inf] * len(targets), [-np.inf] * len(targets)
    for batch in input_batches(x, batch_size, steps):
        values = probe(batch, training=False)
        values = values if isinstance(values, (list, tuple)) else [values]
        for i, ((_, layer, kind, _, _), value) in enumerate(zip(targets, values, strict=True)):
            a = (linear[layer.name](value) if kind == "pre_activation" else value).numpy()
            lo[i], hi[i] = min(lo[i], float(a.min())), max(hi[i], float(a.max()))
    if not np.isfinite(lo[0]):
        raise ValueError("x holds no batch: cannot initialize the activation ranges")
    out = {}
    for i, (_, _, _, min_var, max_var) in enumerate(targets):
        min_var.assign(min(lo[i], 0.0))
        max_var.assign(max(hi[i], 0.0))
        out[min_var.name] = (float(min_var.numpy()), float(max_var.numpy()))
    return out
