"""Head oracle: TFLite's reference int8 FULLY_CONNECTED arithmetic, and the detector score."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from fastgrnn_tf.int8 import head_oracle as HO  # noqa: E402


def test_quantize_multiplier_by_hand() -> None:
    assert HO.quantize_multiplier(0.5) == (2**30, 0)
    assert HO.quantize_multiplier(0.25) == (2**30, -1)
    assert HO.quantize_multiplier(3.0) == (3 * 2**29, 2)
    assert HO.quantize_multiplier(0.0) == (0, 0)
    m, s = HO.quantize_multiplier(1 - 2**-40)  # rounds up to 2^31 -> halved, shift + 1
    assert (m, s) == (2**30, 1)


def test_srdhm_and_rounding_divide_by_pot_by_hand() -> None:
    # SaturatingRoundingDoublingHighMul(a, b) = round(a * b / 2^31), ties away from zero.
    assert HO.saturating_rounding_doubling_high_mul(3, 2**30) == 2       # 1.5 -> 2
    assert HO.saturating_rounding_doubling_high_mul(-3, 2**30) == -1     # -1.5 -> -1 (gemmlowp nudge)
    assert HO.saturating_rounding_doubling_high_mul(-7, 2**29) == -2     # -1.75 -> -2
    assert HO.saturating_rounding_doubling_high_mul(5, 2**29) == 1       # 1.25 -> 1
    assert HO.saturating_rounding_doubling_high_mul(-(2**31), -(2**31)) == 2**31 - 1
    # RoundingDivideByPOT: ties away from zero.
    np.testing.assert_array_equal(HO.rounding_divide_by_pot(np.array([5, -5, 6, -6, 7, -7]), 2),
                                  [1, -1, 2, -2, 2, -2])
    # Double rounding: 0.375 * 5 = 1.875 -> srdhm(5, 0.75*2^31) = 4 (3.75 rounded), then 4 / 2 = 2.
    assert HO.multiply_by_quantized_multiplier(5, 3 * 2**29, -1) == 2
    assert HO.multiply_by_quantized_multiplier(5, 3 * 2**29, 1) == 8  # 5*2 * 0.75 = 7.5 -> 8


def test_fc_relu_and_clamp() -> None:
    layer = HO.HeadLayer(np.array([[1, -1], [2, 2]], np.int8), np.array([0, 10], np.int32),
                         input_zero_point=1, output_zero_point=-5, output_multiplier=2**30, output_shift=0,
                         relu=True)
    # acc = [(3-1) - (0-1), 2*2 + 2*(-1) + 10] = [3, 12] -> *0.5 -> [2 (1.5 away), 6] + zp
    out = HO.fully_connected(layer, np.array([3, 0], np.int8))
    assert out.tolist() == [-3, 1]
    layer.relu = True
    out = HO.fully_connected(layer, np.array([-100, 100], np.int8))  # acc < 0 -> clamped at zp with ReLU
    assert out[0] == -5


def test_scores_by_formula() -> None:
    logits = np.array([[10, 0, -10], [0, 0, 0]], np.int8)
    s = HO.scores(logits, 0.1, 0)
    e = [math.exp(1.0), 1.0, math.exp(-1.0)]
    want = [min(255, math.floor(255 * v / sum(e) + 0.5)) for v in e]
    assert s[0].tolist() == want
    assert s[1].tolist() == [85, 85, 85] and s.dtype == np.uint8


def _fc_only_model(in_dim: int, hidden: int, classes: int, seed: int):
    import tf_keras as keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input((in_dim,), batch_size=1)
    x = keras.layers.Dense(hidden, activation="relu", bias_initializer="random_normal")(inp)
    x = keras.layers.Dense(classes, bias_initializer="random_normal")(x)
    return keras.Model(inp, x)


def test_fc_matches_tflite_and_tflm_interpreters() -> None:
    import tensorflow as tf
    from tflite_micro.python.tflite_micro import runtime

    from fastgrnn_tf.export.custom_op import _head_representative, convert_int8
    from fastgrnn_tf.export.tflite_reader import head_from_fc_ops, read_model

    rng = np.random.default_rng(0)
    h = np.tanh(rng.normal(0, 0.8, (64, 24))).astype(np.float32)
    data = convert_int8(_fc_only_model(24, 16, 6, 1), _head_representative(h))
    model, _ = read_model(data)
    sg = model.subgraphs[0]
    layers, logits_idx, ops = head_from_fc_ops(model, int(sg.inputs[0]))
    assert ops == ["FULLY_CONNECTED", "FULLY_CONNECTED"] and [L.relu for L in layers] == [True, False]
    assert layers[0].input_zero_point == 0 and abs(layers[0].input_scale - 1 / 128) < 1e-12

    lite = tf.lite.Interpreter(model_content=data,
                               experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_REF)
    lite.allocate_tensors()
    micro = runtime.Interpreter.from_bytes(data)
    i_idx, o_idx = lite.get_input_details()[0]["index"], lite.get_output_details()[0]["index"]
    x = rng.integers(-128, 128, (200, 1, 24)).astype(np.int8)
    want = HO.run_head(layers, x[:, 0])
    want_single = HO.run_head(layers, x[:, 0], rounding="single")
    assert np.abs(want.astype(int) - want_single).max() <= 1
    for n in range(len(x)):
        lite.set_tensor(i_idx, x[n])
        lite.invoke()
        micro.set_input(x[n], 0)
        micro.invoke()
        # TFLM (the firmware's runtime): gemmlowp double rounding; pip TFLite: single rounding.
        np.testing.assert_array_equal(micro.get_output(0)[0], want[n])
        np.testing.assert_array_equal(lite.get_tensor(o_idx)[0], want_single[n])


@pytest.mark.parametrize("hidden", [(), (12,)])
def test_random_head_is_valid(hidden: tuple) -> None:
    layers, scale, zp = HO.random_head(20, 5, hidden, seed=3)
    for L in layers:
        L.validate()
    out = HO.run_head(layers, np.random.default_rng(1).integers(-128, 128, (50, 20)).astype(np.int8))
    assert out.shape == (50, 5) and len(np.unique(out)) > 5 and scale > 0


def test_qat_head_integer_ops_equal_the_oracle() -> None:
    """The QAT head's TF integer helpers (fastgrnn_tf.qat.head) compute what the numpy head oracle computes."""
    import tensorflow as tf

    from fastgrnn_tf.qat import head as QH

    rng = np.random.default_rng(5)
    reals = np.concatenate([10.0 ** rng.uniform(-12, 3, 2000), 2.0 ** np.arange(-40, 10), [0.0, 1 - 2**-40, 0.75]])
    m, shift = QH.quantize_multiplier(tf.constant(reals, tf.float64))
    want = np.array([HO.quantize_multiplier(float(r)) for r in reals])
    np.testing.assert_array_equal(np.stack([m.numpy(), shift.numpy()], -1), want)
    acc = np.concatenate([rng.integers(-(2**31), 2**31, 3000), [-(2**31), 2**31 - 1, 0, 1, -1, 5, -5]])
    for real in (0.0123, 0.37, 0.5, 0.75, 1.3, 3e-5):
        mult, sh = HO.quantize_multiplier(real)
        small = acc if sh <= 0 else acc // (2**sh)  # no int32 overflow after the left shift
        got = QH.multiply_by_quantized_multiplier(tf.constant(small, tf.float64), tf.constant(float(mult), tf.float64),
                                                  tf.constant(float(sh), tf.float64))
        np.testing.assert_array_equal(got.numpy(), HO.multiply_by_quantized_multiplier(small, mult, sh))
    # The converter's range -> (scale, zero point): symmetric weights give zero point 0, an all-positive
    # range is nudged to include 0, a range narrower than 1e-6 (a dead ReLU layer: [0, 0]) is widened to
    # [-5e-7, 5e-7] (zero point -0.5 rounded away from zero).
    s, zp = QH.range_quant(-2.54, 2.54, -127.0, 127.0)
    assert (float(s), float(zp)) == (pytest.approx(0.02), 0.0)
    s, zp = QH.range_quant(0.0, 2.55, -128.0, 127.0)
    assert (float(s), float(zp)) == (pytest.approx(0.01), -128.0)
    s, zp = QH.range_quant(-1.0, 0.275, -128.0, 127.0)
    assert float(zp) == 72.0  # -128 + 1 / 0.005 = 72
    s, zp = QH.range_quant(0.0, 0.0, -128.0, 127.0)
    assert (float(s), float(zp)) == (pytest.approx(1e-6 / 255), -1.0)
