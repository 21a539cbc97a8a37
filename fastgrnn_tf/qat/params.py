"""What the exporter reads from a (QAT, pruned or float) Keras model: the FastGRNN layer's float
parameters with sparsity masks applied, and a QAT model's calibrated ranges.

    params = fastgrnn_float_params(model)   # float W1..U2, biases, zeta, nu, activation names
    ranges = quant_ranges(qat_model)        # v_absmax, u_absmax, pre_absmax (+ s_v, s_u, s_p)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf
import tf_keras as keras
from tensorflow_model_optimization.python.core.sparsity.keras import pruning_wrapper

from fastgrnn_tf.cells import find_fast_rnn_layers, weight_name
from fastgrnn_tf.fastgrnn_cell import FastGRNNCell
from fastgrnn_tf.qat.cell import QATFastGRNNCell
from fastgrnn_tf.qat.fake_quant import H_SCALE, MAX_PRE_STEP

_MATRIX_NAMES = ("W", "W1", "W2", "U", "U1", "U2")


def _cell_variables(layer: keras.layers.RNN) -> dict[str, tf.Variable]:
    return {weight_name(v.name): v for v in layer.cell.weights}


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
        masks = {weight_name(w.name): m.numpy() for w, m, _ in outer.pruning_vars}
    for var, _, qvars in getattr(outer, "_weight_vars", []):  # QAT: sparsity-preserving masks
        if "mask" in qvars:
            masks[weight_name(var.name)] = qvars["mask"].numpy()
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
