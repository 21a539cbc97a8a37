"""Quantization-aware training (TF-MOT) whose forward pass follows the int8 kernel
(`fastgrnn_tf/int8/int8_step_spec.md`).

    qat_model = make_qat_model(float_or_stripped_model, input_quant=(scale, zero_point))
    init_activation_ranges(qat_model, float_or_stripped_model, x_calib)  # head ranges, not TF-MOT's [-6, 6]
    calibrate(qat_model, x_calib)                                         # the cell's v / u / pre ranges
    qat_model.compile(...); qat_model.fit(...)
    params = fastgrnn_float_params(qat_model)   # float W1..U2, biases, zeta, nu, activation names
    ranges = quant_ranges(qat_model)            # v_absmax, u_absmax, pre_absmax (+ s_v, s_u, s_p)

The FastGRNN RNN layer is annotated with `FastGRNNQuantizeConfig` (W/U fake-quantized per tensor) and its
cell replaced by `QATFastGRNNCell`, whose forward value of h is the int8 kernel's step exactly when the
input is quantized (see `fastgrnn_tf.qat.cell`). Every Dense becomes a `QATDense` with `HeadQuantizeConfig`
(TF-MOT's 8-bit quantizers), whose forward value is the int8 FULLY_CONNECTED the converter exports, exactly
(`fastgrnn_tf.qat.head`; `head_layers(qat_model)` gives its integers).

Modules: `fake_quant` (rounding, fixed-point helpers, weight quantizer), `cell` (QATFastGRNNCell),
`head` (QATDense: the integer-exact head), `model` (TF-MOT annotation: make_qat_model, quantize_scope),
`calibration` (starting ranges), `params` (what the exporter reads: float parameters, ranges). This package
re-exports their API.
"""

from __future__ import annotations

from fastgrnn_tf.qat.calibration import calibrate, init_activation_ranges, input_batches
from fastgrnn_tf.qat.cell import QATFastGRNNCell
from fastgrnn_tf.qat.fake_quant import SymmetricWeightQuantizer, fake_quant, fake_quant_affine
from fastgrnn_tf.qat.head import HeadQuantizeConfig, QATDense, head_layers, link_head
from fastgrnn_tf.qat.model import FastGRNNQuantizeConfig, make_qat_model, quantize_scope
from fastgrnn_tf.qat.params import fastgrnn_float_params, quant_ranges

__all__ = ["FastGRNNQuantizeConfig", "HeadQuantizeConfig", "QATDense", "QATFastGRNNCell", "SymmetricWeightQuantizer",
           "calibrate", "fake_quant", "fake_quant_affine", "fastgrnn_float_params", "head_layers",
           "init_activation_ranges", "input_batches", "link_head", "make_qat_model", "quant_ranges",
           "quantize_scope"]
