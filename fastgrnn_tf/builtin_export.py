"""The same model as an int8 `.tflite` with builtin ops only (FastGRNN unrolled over T steps).

    data = export_builtin_tflite(model, calib_features=x_int8)      # bytes, runs on stock TFLM / LiteRT

A reference point for the custom op: TFLiteConverter's own full-integer quantization of the float
cell (per-op scales, int8 LOGISTIC/TANH/MUL/ADD...), so its numbers differ from the FastGRNN op's
arithmetic; its input tensor has exactly the feature quantization (scale, zero point) and its head
is the same kind of int8 FULLY_CONNECTED chain the head oracle computes.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402
import tf_keras as keras  # noqa: E402

from fastgrnn_tf.fastgrnn_cell import FastGRNNCell  # noqa: E402
from fastgrnn_tf.tflite_export import (  # noqa: E402
    DEFAULT_INPUT_SCALE,
    DEFAULT_INPUT_ZERO_POINT,
    convert_int8,
    float_params,
    head_spec,
    split_model,
)


def build_unrolled(model: keras.Model, time_steps: int, softmax: bool = True) -> keras.Model:
    """Float copy of `model` with batch 1, fixed T and an unrolled RNN (no TensorList/While ops);
    `softmax=False` ends at the logits."""
    parts = split_model(model)
    fp = float_params(parts)  # pruning masks applied; rejects unsupported activations
    spec = head_spec(parts)
    config = {k: v for k, v in parts.rnn.cell.get_config().items()
              if k not in ("input_scale", "input_zero_point", "ema_decay")}  # QAT cell -> plain cell
    new_cell = FastGRNNCell.from_config(config)
    inp = keras.Input((time_steps, fp.input_dim), batch_size=1, name="features")
    rnn = keras.layers.RNN(new_cell, unroll=True, name="fastgrnn")
    x = rnn(inp)
    values = {"W": fp.w1, "W1": fp.w1, "W2": fp.w2, "U": fp.u1, "U1": fp.u1, "U2": fp.u2,
              "bias_z": fp.bias_z, "bias_h": fp.bias_h, "zeta": fp.zeta, "nu": fp.nu}
    for w in new_cell.weights:
        w.assign(np.asarray(values[w.name.split("/")[-1].split(":")[0]], np.float32).reshape(w.shape))
    for i, (k, b, relu) in enumerate(spec):
        dense = keras.layers.Dense(k.shape[1], activation="relu" if relu else None, name=f"head_{i}")
        x = dense(x)
        dense.set_weights([k, b])
    out = keras.layers.Softmax(name="softmax")(x) if softmax else x
    return keras.Model(inp, out)


def export_builtin_tflite(model: keras.Model, calib_features: np.ndarray, time_steps: int | None = None,
                          input_scale: float = DEFAULT_INPUT_SCALE,
                          input_zero_point: int = DEFAULT_INPUT_ZERO_POINT, max_calib: int = 100,
                          softmax: bool = True) -> bytes:
    """Builtin-only int8 `.tflite` (input int8 [1, T, D] with the feature quantization, output int8
    softmax, or the int8 logits with `softmax=False`)."""
    x = np.asarray(calib_features)
    if x.dtype != np.int8 or x.ndim != 3 or len(x) == 0:
        raise ValueError(f"calib_features must be non-empty int8 [N, T, D], got {x.dtype} {list(x.shape)}")
    if time_steps is None:
        time_steps = x.shape[1]
    if x.shape[1] != time_steps:
        raise ValueError(f"calib_features have T={x.shape[1]}, export asks for time_steps={time_steps}")
    unrolled = build_unrolled(model, time_steps, softmax)
    xf = ((x[:max_calib].astype(np.float32) - input_zero_point) * np.float32(input_scale)).astype(np.float32)
    lo = (-128 - input_zero_point) * input_scale
    hi = (127 - input_zero_point) * input_scale

    def representative():
        for i, row in enumerate(xf):
            row = row.copy()
            if i == 0:  # force the input range to the feature quantization exactly
                row[0, 0], row[0, -1] = lo, hi
            yield [row[None]]

    return convert_int8(unrolled, representative)
