"""Trained Keras model -> int8 `.tflite` whose whole recurrence is ONE custom operator `FastGRNN`.

    data = export_custom_tflite(model, calib_features=x_int8)        # bytes; window mode (T of x)
    data = export_custom_tflite(model, calib_features=x_int8, time_steps=1)   # streaming

The Keras model is `Input([T, D] float features) -> RNN(FastGRNNCell) -> Dense ... -> softmax`, its
input the dequantized int8 features `(q - input_zero_point) * input_scale` (feature_spec.md defaults).
The head is converted by TFLiteConverter alone (full int8, its input range forced to [-1, 127/128], so
scale 1/128 and zero point 0, per-tensor weights); then the FastGRNN op, its constant tensors, the
variable state tensor and the int8 input are spliced in with the schema object API
(`int8_step_spec.md`, "The custom operator"). Ranges come from QAT (`fastgrnn_tf.qat.quant_ranges`);
a float model is refused unless `calibrate=True` (ranges then measured on `calib_features`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import tensorflow as tf
import tf_keras as keras
from tensorflow.lite.python import schema_py_generated as S

from fastgrnn_tf.cells import weight_name
from fastgrnn_tf.export.tflite_writer import splice_fastgrnn
from fastgrnn_tf.fastgrnn_cell import FastGRNNCell
from fastgrnn_tf.fastrnn_cell import FastRNNCell
from fastgrnn_tf.int8.oracle import Int8Params
from fastgrnn_tf.int8.oracle import run as run_fastgrnn
from fastgrnn_tf.int8.quantize import FloatParams, calibrate_ranges, quantize_params
from fastgrnn_tf.qat.head import tflite_conversion
from fastgrnn_tf.qat.params import fastgrnn_float_params, quant_ranges

H_MIN, H_MAX = -1.0, 127.0 / 128.0
DEFAULT_INPUT_SCALE, DEFAULT_INPUT_ZERO_POINT = 0.1, 12  # feature_spec.md defaults


# ----------------------------------------------------------------------------------------------
# Finding the parts of the Keras model.
def _unwrap(layer: keras.layers.Layer) -> keras.layers.Layer:
    """Look through TF-MOT wrappers (prune / quantize) to the wrapped layer."""
    while hasattr(layer, "layer") and isinstance(layer.layer, keras.layers.Layer):
        layer = layer.layer
    return layer


def _cell_kind(layer: keras.layers.Layer) -> str | None:
    """"FastGRNN" (also the QAT subclass), "FastRNN", another cell's class name, or None (not an RNN)."""
    inner = _unwrap(layer)
    if not isinstance(inner, keras.layers.RNN):
        return None
    if isinstance(inner.cell, FastGRNNCell):
        return "FastGRNN"
    if isinstance(inner.cell, FastRNNCell):
        return "FastRNN"
    return type(inner.cell).__name__


@dataclasses.dataclass
class ModelParts:
    """The wrapped RNN layer, its unwrapped RNN, and the layers after it (unwrapped; `head_wrapped`
    as in the model: a TF-MOT wrapper holds the variables its layer no longer lists)."""

    rnn_wrapped: keras.layers.Layer
    rnn: keras.layers.RNN
    head: list[keras.layers.Layer]
    head_wrapped: list[keras.layers.Layer]


def split_model(model: keras.Model) -> ModelParts:
    """Locate the FastGRNN RNN and the head; ValueError naming what is unsupported."""
    if not isinstance(model, keras.Model):
        raise ValueError(f"model must be a tf_keras Model, got {type(model).__name__}")
    layers = [L for L in model.layers if not isinstance(L, keras.layers.InputLayer)]
    idx = [i for i, L in enumerate(layers) if _cell_kind(L) is not None]
    kinds = {_cell_kind(layers[i]) for i in idx}
    if not idx:
        raise ValueError("model has no FastGRNN layer (an RNN with a FastGRNNCell); nothing to export")
    if kinds != {"FastGRNN"}:
        raise ValueError(f"unsupported recurrent cell(s) {sorted(kinds - {'FastGRNN'})}: only FastGRNNCell "
                         "can be exported (FastRNN export is not supported yet)")
    if len(idx) > 1:
        raise ValueError(f"model has {len(idx)} recurrent layers; exactly one FastGRNN layer is supported")
    i = idx[0]
    pre = [L for L in layers[:i] if not isinstance(_unwrap(L), keras.layers.InputLayer)
           and type(_unwrap(L)).__name__ not in ("QuantizeLayer",)]
    if pre:
        raise ValueError(f"layers before the FastGRNN layer are not supported: {[L.name for L in pre]}")
    rnn = _unwrap(layers[i])
    # return_sequences=True (scores at every frame) exports the same op: the head runs after each step.
    if getattr(rnn, "go_backwards", False) or getattr(rnn, "stateful", False):
        raise ValueError("go_backwards/stateful RNN layers are not supported")
    return ModelParts(layers[i], rnn, [_unwrap(L) for L in layers[i + 1:]], list(layers[i + 1:]))


def float_params(parts: ModelParts) -> FloatParams:
    """The cell's float weights (`fastgrnn_tf.qat.params.fastgrnn_float_params`, which applies pruning
    masks)."""
    d = dict(fastgrnn_float_params(parts.rnn_wrapped))
    if d["update_activation"] == "relu" or d["gate_activation"] == "relu":
        raise ValueError("unsupported activation relu in the FastGRNN cell: the int8 step needs a bounded "
                         "gate in [0, 1] and update in [-1, 1] (use sigmoid/tanh/quantSigm/quantTanh)")
    return FloatParams.from_dict(d)


def _activation_name(layer: keras.layers.Layer) -> str:
    act = getattr(layer, "activation", None)
    while act is not None and hasattr(act, "activation") and not isinstance(act, str):
        act = act.activation  # TF-MOT QuantizeAwareActivation
    name = getattr(act, "__name__", str(act)) if act is not None else "linear"
    return name


def head_spec(parts: ModelParts) -> list[tuple[np.ndarray, np.ndarray, bool]]:
    """[(kernel [in, out], bias [out], relu)] of the Dense head; the last Dense gives the logits."""
    spec: list[tuple[np.ndarray, np.ndarray, bool]] = []
    ended = False
    for L, wrapped in zip(parts.head, parts.head_wrapped, strict=True):
        name = type(L).__name__
        if isinstance(L, keras.layers.Dense):
            if ended:
                raise ValueError(f"layer {L.name} after softmax is not supported")
            act = _activation_name(L)
            if act not in ("linear", "relu", "softmax"):
                raise ValueError(f"head layer {L.name}: unsupported activation {act} (linear, relu, softmax)")
            # By variable: under a TF-MOT QuantizeWrapper `L.kernel` is the fake-quantized tensor.
            by_name = {weight_name(w.name): w for w in wrapped.weights}
            k = by_name["kernel"].numpy()
            b = by_name["bias"].numpy() if L.use_bias else np.zeros(k.shape[1], np.float32)
            spec.append((k, b, act == "relu"))
            ended = act == "softmax"
        elif isinstance(L, (keras.layers.Dropout, keras.layers.Flatten)) or name == "QuantizeLayer":
            continue
        elif isinstance(L, keras.layers.Softmax) or (isinstance(L, keras.layers.Activation)
                                                      and _activation_name(L) == "softmax"):
            ended = True
        elif isinstance(L, keras.layers.ReLU) or (isinstance(L, keras.layers.Activation)
                                                   and _activation_name(L) == "relu"):
            if not spec or spec[-1][2]:
                raise ValueError(f"head layer {L.name}: ReLU must follow a Dense layer")
            spec[-1] = (spec[-1][0], spec[-1][1], True)
        else:
            raise ValueError(f"head layer {L.name} ({name}) is not supported (Dense, ReLU, Dropout, Softmax)")
    if not spec:
        raise ValueError("the model has no Dense head after the FastGRNN layer")
    if spec[-1][2]:
        raise ValueError("the last Dense layer (logits) must not have a ReLU")
    return spec


def qat_ranges(model: keras.Model) -> dict | None:
    """`fastgrnn_tf.qat.quant_ranges(model)`, or None when the model is not a (calibrated) QAT model."""
    try:
        return dict(quant_ranges(model))
    except ValueError:
        return None


# ----------------------------------------------------------------------------------------------
def build_head_keras(spec: list[tuple[np.ndarray, np.ndarray, bool]]) -> keras.Model:
    """A float Keras model of the head alone: Input(H) -> Dense ... -> Softmax."""
    inp = keras.Input((spec[0][0].shape[0],), batch_size=1, name="h")
    x = inp
    for i, (k, b, relu) in enumerate(spec):
        dense = keras.layers.Dense(k.shape[1], activation="relu" if relu else None, name=f"head_{i}")
        x = dense(x)
        dense.set_weights([k, b])
    out = keras.layers.Softmax(name="softmax")(x)
    return keras.Model(inp, out)


def _head_representative(h: np.ndarray) -> Callable:
    h = np.clip(np.asarray(h, np.float32), H_MIN, H_MAX)

    def gen():
        for i, row in enumerate(h):
            row = row.copy()
            if i == 0:  # force the input range to exactly [-1, 127/128]: scale 1/128, zero point 0
                row[0], row[-1] = H_MIN, H_MAX
            yield [row[None]]

    return gen


def convert_int8(model: keras.Model, representative: Callable) -> bytes:
    """Full-integer TFLite conversion, int8 in/out, per-tensor Dense weights."""
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    conv._experimental_disable_per_channel_quantization_for_dense_layers = True
    return conv.convert()


def convert_head(spec: list[tuple[np.ndarray, np.ndarray, bool]], calib_h: np.ndarray) -> bytes:
    """The int8 head `.tflite` (input int8 [1, H], scale 1/128, zero point 0)."""
    if len(calib_h) < 2:
        raise ValueError("need at least 2 calibration hidden states for the head")
    return _check_head(convert_int8(build_head_keras(spec), _head_representative(calib_h)))


def is_qat_head(parts: ModelParts) -> bool:
    """True when every Dense of the head is wrapped by TF-MOT (a QAT model's head)."""
    dense = [(L, W) for L, W in zip(parts.head, parts.head_wrapped, strict=True)
             if isinstance(L, keras.layers.Dense)]
    return bool(dense) and all(W is not L and hasattr(W, "quantize_config") for L, W in dense)


def convert_qat_head(parts: ModelParts, units: int) -> bytes:
    """The int8 head from the QAT model's own (wrapped) head layers, so its weight and activation
    ranges are the ones QAT trained with; the input is fake-quantized to [-1, 127/128] (1/128, 0)."""
    h = keras.Input((units,), batch_size=1, name="h")
    x = keras.layers.Lambda(lambda t: tf.quantization.fake_quant_with_min_max_args(
        t, min=H_MIN, max=H_MAX, num_bits=8), name="h_q0_7")(h)
    with tflite_conversion():  # the QAT head's fake-quant graph, without its exact integer forward value
        for W in parts.head_wrapped:
            x = W(x, training=False)
        conv = tf.lite.TFLiteConverter.from_keras_model(keras.Model(h, x))
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
        conv._experimental_disable_per_channel_quantization_for_dense_layers = True
        return _check_head(conv.convert())


def _check_head(data: bytes) -> bytes:
    model = S.ModelT.InitFromObj(S.Model.GetRootAs(data, 0))
    sg = model.subgraphs[0]
    q = sg.tensors[sg.inputs[0]].quantization
    if sg.tensors[sg.inputs[0]].type != S.TensorType.INT8 or q is None or \
            abs(float(q.scale[0]) - 1 / 128) > 1e-9 or int(q.zeroPoint[0]) != 0:
        raise ValueError("head conversion: the input did not come out as int8 with scale 1/128, zero point 0")
    names = {model.operatorCodes[op.opcodeIndex].builtinCode for op in sg.operators}
    allowed = {S.BuiltinOperator.FULLY_CONNECTED, S.BuiltinOperator.SOFTMAX, S.BuiltinOperator.RESHAPE}
    if not names <= allowed:
        raise ValueError(f"head conversion produced unsupported operators {sorted(names - allowed)}")
    return data


# ----------------------------------------------------------------------------------------------
def _features_float(x_int8: np.ndarray, scale: float, zp: int) -> np.ndarray:
    return ((x_int8.astype(np.float32) - np.float32(zp)) * np.float32(scale)).astype(np.float32)


@dataclasses.dataclass
class ExportResult:
    """The exported bytes and what went into them."""

    tflite: bytes
    params: Int8Params
    head_tflite: bytes
    ranges: dict


def export_custom_tflite(model: keras.Model, calib_features: np.ndarray | None = None,
                         time_steps: int | None = None, input_scale: float | None = None,
                         input_zero_point: int | None = None, calibrate: bool = False,
                         ranges: dict | None = None, max_calib: int = 200,
                         qat_head: bool | None = None, sparse: bool | str = "auto") -> ExportResult:
    """Export `model` as the custom-op int8 `.tflite` (bytes in `.tflite` of the result).

    calib_features: int8 [N, T, D] representative features: they calibrate the head's activation ranges
      (run through the int8 FastGRNN oracle) and, with `calibrate=True`, the FastGRNN ranges of a float
      (non-QAT) model. Without them the head is calibrated on uniform random hidden states.
    time_steps: T of the input tensor (1 = streaming, state kept between invokes); default: the model's
      input length, else 1.
    input_scale / input_zero_point: the int8 feature quantization; default: the QAT model's input
      quantization, else feature_spec.md's defaults (0.1, 12).
    ranges: explicit {v_absmax, u_absmax, pre_absmax} (overrides QAT/calibration).
    qat_head: convert the head from the QAT model's wrapped Dense layers (their trained ranges);
      default: whenever the head is QAT-wrapped. Otherwise the float head is calibrated.
    sparse: bitmap-sparse storage of pruned FastGRNN matrices ("auto": where it is smaller).
    """
    parts = split_model(model)
    fp = float_params(parts)
    spec = head_spec(parts)
    if spec[0][0].shape[0] != fp.units:
        raise ValueError(f"first head Dense expects {spec[0][0].shape[0]} inputs, "
                         f"FastGRNN has {fp.units} units")
    found = qat_ranges(model) if ranges is None else None
    if found is not None and found.get("input_scale") is not None:
        q_scale, q_zp = float(found["input_scale"]), int(found["input_zero_point"])
        if (input_scale is not None and abs(input_scale - q_scale) > 1e-9 * q_scale) or \
                (input_zero_point is not None and input_zero_point != q_zp):
            raise ValueError(f"input quantization ({input_scale}, {input_zero_point}) differs from the QAT "
                             f"model's ({q_scale}, {q_zp})")
        input_scale, input_zero_point = q_scale, q_zp
    input_scale = DEFAULT_INPUT_SCALE if input_scale is None else float(input_scale)
    input_zero_point = DEFAULT_INPUT_ZERO_POINT if input_zero_point is None else int(input_zero_point)
    calib_q = None
    if calib_features is not None:
        calib_q = np.asarray(calib_features)
        if calib_q.dtype != np.int8 or calib_q.ndim != 3 or calib_q.shape[2] != fp.input_dim:
            raise ValueError(f"calib_features must be int8 [N, T, {fp.input_dim}], got {calib_q.dtype} "
                             f"{list(calib_q.shape)}")
        calib_q = calib_q[:max_calib]
    if ranges is None:
        ranges = found
    if ranges is None:
        if not calibrate:
            raise ValueError("model is not quantization-aware (no QAT ranges found via "
                             "fastgrnn_tf.qat.quant_ranges); train with QAT, or pass calibrate=True with "
                             "calibration features to measure ranges")
        if calib_q is None:
            raise ValueError("calibrate=True needs calib_features")
        ranges = calibrate_ranges(fp, _features_float(calib_q, input_scale, input_zero_point))
    params = quantize_params(fp, input_scale, input_zero_point, ranges=ranges)
    if qat_head is None:
        qat_head = is_qat_head(parts)
    if qat_head:
        if not is_qat_head(parts):
            raise ValueError("qat_head=True but the model's head is not quantization-aware")
        head = convert_qat_head(parts, fp.units)
    else:
        if calib_q is not None:
            h, _ = run_fastgrnn(params, calib_q)
            calib_h = h.astype(np.float32) / 128.0
        else:
            calib_h = np.random.default_rng(0).uniform(-1, 1, (64, fp.units)).astype(np.float32)
        head = convert_head(spec, calib_h)
    if time_steps is None:
        t = model.input_shape[1] if isinstance(model.input_shape, tuple) else None
        time_steps = int(t) if t else 1
    data = splice_fastgrnn(head, params, time_steps, sparse=sparse)
    return ExportResult(tflite=data, params=params, head_tflite=head, ranges=dict(ranges))
