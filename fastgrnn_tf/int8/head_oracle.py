"""The classifier head outside TFLM: TFLite's reference int8 FULLY_CONNECTED, and detector scores.

Integer arithmetic copied in meaning from TFLite's reference kernels (kernels/internal/common.h,
quantization_util.cc, reference/integer_ops/fully_connected.h), default double rounding:

    acc = sum_i (x[i] - input_zp) * w[o, i] + bias[o]            (int32)
    y   = MultiplyByQuantizedMultiplier(acc, m, shift) + output_zp, clamped to int8 (ReLU: >= output_zp)

and `scores(logits, logit_scale, logit_zp)` = `keyword_spotting/detector_spec.md` "Per-frame score".
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

_I32_MIN, _I32_MAX = -(2**31), 2**31 - 1


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite `QuantizeMultiplier`: real = m * 2^(shift - 31), m in [2^30, 2^31), round half away."""
    if real < 0 or not math.isfinite(real):
        raise ValueError(f"multiplier must be finite and >= 0, got {real}")
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = int(math.floor(abs(q) * 2.0**31 + 0.5))  # std::round on a positive value
    if q_fixed == 2**31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return q_fixed, shift


def fc_multiplier(input_scale: float, weight_scale: float, output_scale: float) -> tuple[int, int]:
    """The FULLY_CONNECTED output multiplier as TFLite computes it (double arithmetic)."""
    return quantize_multiplier(float(input_scale) * float(weight_scale) / float(output_scale))


def saturating_rounding_doubling_high_mul(a: np.ndarray, b: int) -> np.ndarray:
    """gemmlowp SaturatingRoundingDoublingHighMul on int32 values (int64 arrays in and out)."""
    a = np.asarray(a, np.int64)
    ab = a * np.int64(b)
    nudge = np.where(ab >= 0, np.int64(1 << 30), np.int64(1 - (1 << 30)))
    t = ab + nudge
    q = np.where(t >= 0, t >> 31, -((-t) >> 31))  # C++ division truncates toward zero
    overflow = (a == _I32_MIN) & (b == _I32_MIN)
    return np.where(overflow, _I32_MAX, q)


def rounding_divide_by_pot(x: np.ndarray, exponent: int) -> np.ndarray:
    """gemmlowp RoundingDivideByPOT: round to nearest, ties away from zero."""
    if not 0 <= exponent <= 31:
        raise ValueError(f"exponent must be in [0, 31], got {exponent}")
    x = np.asarray(x, np.int64)
    mask = np.int64((1 << exponent) - 1)
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0).astype(np.int64)
    return (x >> np.int64(exponent)) + (remainder > threshold).astype(np.int64)


def multiply_by_quantized_multiplier(x: np.ndarray, m: int, shift: int,
                                     rounding: str = "double") -> np.ndarray:
    """TFLite MultiplyByQuantizedMultiplier. "double" (gemmlowp, the default of TFLite's sources and
    what TFLM runs) or "single" (`TFLITE_SINGLE_ROUNDING`: (x * m + 2^(30 - shift)) >> (31 - shift),
    what the pip TensorFlow Lite interpreter is built with; it differs by 1 LSB on rare ties)."""
    if rounding == "single":
        total = 31 - shift
        nudge = np.int64(1) << np.int64(total - 1)
        return (np.asarray(x, np.int64) * np.int64(m) + nudge) >> np.int64(total)
    if rounding != "double":
        raise ValueError(f"rounding must be 'double' or 'single', got {rounding!r}")
    left, right = (shift, 0) if shift > 0 else (0, -shift)
    xs = np.asarray(x, np.int64) * np.int64(1 << left)
    xs = ((xs - _I32_MIN) % (1 << 32)) + _I32_MIN  # int32 wrap as in C++ (never hit with sane scales)
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(xs, m), right)


@dataclasses.dataclass
class HeadLayer:
    """One int8 FULLY_CONNECTED layer (per-tensor weights, zero point 0), as in `bundle_spec.md`."""

    weights: np.ndarray  # int8 [out, in]
    bias: np.ndarray     # int32 [out]
    input_zero_point: int
    output_zero_point: int
    output_multiplier: int
    output_shift: int
    relu: bool = False
    input_scale: float = 0.0   # informational (the arithmetic uses only the integers above)
    output_scale: float = 0.0

    def validate(self) -> None:
        if self.weights.dtype != np.int8 or self.weights.ndim != 2:
            raise ValueError(f"head weights must be int8 [out, in], got {self.weights.dtype} "
                             f"{self.weights.shape}")
        if self.bias.dtype != np.int32 or self.bias.shape != (self.weights.shape[0],):
            raise ValueError(f"head bias must be int32 [{self.weights.shape[0]}], got {self.bias.dtype} "
                             f"{self.bias.shape}")
        if not 0 <= self.output_multiplier < 2**31 or not -31 <= self.output_shift <= 30:
            raise ValueError(f"head multiplier/shift out of range: {self.output_multiplier}, "
                             f"{self.output_shift}")


def fully_connected(layer: HeadLayer, x: np.ndarray, rounding: str = "double") -> np.ndarray:
    """int8 [B, in] (or [in]) -> int8 [B, out] (or [out]) with TFLite reference arithmetic."""
    x = np.asarray(x)
    if x.dtype != np.int8:
        raise ValueError(f"head input must be int8, got {x.dtype}")
    if x.shape[-1] != layer.weights.shape[1]:
        raise ValueError(f"head input has {x.shape[-1]} features, layer expects {layer.weights.shape[1]}")
    acc = (x.astype(np.int64) - layer.input_zero_point) @ layer.weights.astype(np.int64).T
    acc = np.clip(acc + layer.bias.astype(np.int64), _I32_MIN, _I32_MAX)
    y = multiply_by_quantized_multiplier(acc, layer.output_multiplier, layer.output_shift, rounding)
    y = y + layer.output_zero_point
    lo = max(-128, layer.output_zero_point) if layer.relu else -128
    return np.clip(y, lo, 127).astype(np.int8)


def run_head(layers: Sequence[HeadLayer], x: np.ndarray, rounding: str = "double") -> np.ndarray:
    """All head layers in order: hidden state int8 -> logits int8 (`rounding` as in
    `multiply_by_quantized_multiplier`; "double" = TFLM = the firmware)."""
    for layer in layers:
        x = fully_connected(layer, x, rounding)
    return x


def scores(logits: np.ndarray, logit_scale: float, logit_zero_point: int) -> np.ndarray:
    """uint8 posteriors `clamp(round(255 * softmax(logit_scale * (l - l_zp))), 0, 255)` in float32."""
    l = np.asarray(logits)
    z = np.float32(logit_scale) * (l.astype(np.int32) - np.int32(logit_zero_point)).astype(np.float32)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z, dtype=np.float32)
    p = e / e.sum(axis=-1, keepdims=True, dtype=np.float32)
    s = np.floor(np.float32(255.0) * p + np.float32(0.5))
    return np.clip(s, 0, 255).astype(np.uint8)


def softmax_int8(logits: np.ndarray, logit_scale: float, logit_zero_point: int,
                 output_scale: float = 1.0 / 256, output_zero_point: int = -128) -> np.ndarray:
    """int8 probabilities: float32 softmax of the dequantized logits, quantized (round half away from
    zero) to (output_scale, output_zero_point). The builtin-only model's output; runtimes' exp differ in
    the last bits, so they agree with this within 1 LSB."""
    l = np.asarray(logits)
    z = np.float32(logit_scale) * (l.astype(np.float32) - np.float32(logit_zero_point))
    e = np.exp(z - z.max(axis=-1, keepdims=True), dtype=np.float32)
    p = e / e.sum(axis=-1, keepdims=True, dtype=np.float32)
    q = np.sign(p) * np.floor(np.abs(p / np.float32(output_scale)) + 0.5) + output_zero_point
    return np.clip(q, -128, 127).astype(np.int8)


def random_head(in_dim: int, num_classes: int, hidden: Sequence[int] = (), seed: int = 0,
                input_scale: float = 1.0 / 128,
                input_zero_point: int = 0) -> tuple[list[HeadLayer], float, int]:
    """Random int8 head layers (ReLU on hidden layers) with plausible scales.

    Returns (layers, logit_scale, logit_zero_point).
    """
    rng = np.random.default_rng(seed)
    dims = [in_dim, *hidden, num_classes]
    layers: list[HeadLayer] = []
    s_in, zp_in = float(input_scale), int(input_zero_point)
    for i in range(len(dims) - 1):
        last = i == len(dims) - 2
        w = rng.integers(-127, 128, (dims[i + 1], dims[i])).astype(np.int8)
        s_w = 0.5 / 127 / math.sqrt(dims[i]) * 4
        s_out = 0.08 if last else 0.03
        zp_out = int(rng.integers(-20, 20)) if last else -128
        bias = rng.integers(-2000, 2000, dims[i + 1]).astype(np.int32)
        m, sh = fc_multiplier(s_in, s_w, s_out)
        layers.append(HeadLayer(w, bias, zp_in, zp_out, m, sh, relu=not last, input_scale=s_in,
                                output_scale=s_out))
        s_in, zp_in = s_out, zp_out
    return layers, s_in, zp_in
