"""The same int8 model with builtin ops only: runs on stock TFLM / LiteRT anywhere, same numbers.

    data = export_builtin_tflite("model_window.tflite")       # from the custom-op export (or its bytes)

The FastGRNN op's int8 step (`int8_step_spec.md`) and the int8 head are computed exactly, as
integers held in float32 builtin ops (`exact_graph.py`): FULLY_CONNECTED with the int8 weights
(DEQUANTIZE, scale 1), the fixed-point requantizations with 10-bit limbs, the look-up tables with
GATHER, and the head's MultiplyByQuantizedMultiplier with TFLite's double rounding. The hidden state
and the int8 logits are therefore bit-identical to the numpy oracle in every runtime; the output is
the float SOFTMAX of the logits quantized to int8 (`head_oracle.softmax_int8`, within 1 LSB: the
runtimes' exp differ in the last bits). The T steps are unrolled (window mode, zero initial state), or
with `state_io=True` the state is an input and an output (streaming with T=1 on any runtime). A portable
reference, not the fast path (the custom op does the same with one operator).
"""

from __future__ import annotations

import os

import numpy as np

from fastgrnn_tf.export.exact_graph import EXACT_LIMIT, Graph
from fastgrnn_tf.export.tflite_reader import read_exported
from fastgrnn_tf.int8.head_oracle import HeadLayer
from fastgrnn_tf.int8.model import ExportedModel
from fastgrnn_tf.int8.oracle import Int8Params


def _abs_row_sum(w: np.ndarray) -> int:
    return int(np.abs(w.astype(np.int64)).sum(axis=1).max())


def _lut_tables(p: Int8Params) -> dict[str, np.ndarray]:
    """Per-index tables of the element-wise part: z, a = zeta (1 - z) + nu (Q15), and c split into
    its high (signed) and low (0..255) bytes so that a * c is exact in float32 in two halves."""
    z = p.gate_lut.astype(np.int64)
    a = ((np.int64(p.zeta_q15) * (32768 - z) + (1 << 14)) >> 15) + np.int64(p.nu_q15)
    c = p.update_lut.astype(np.int64)
    c_hi = c >> 8
    return {"z": z, "a": a, "c_hi": c_hi, "c_lo": c - (c_hi << 8)}


class _Builder:
    """The FastGRNN window and the head, on one `Graph`."""

    def __init__(self, m: ExportedModel, time_steps: int) -> None:
        self.m, self.T = m, time_steps
        self.g = Graph(f"FastGRNN int8 (builtin ops only, exact, T={time_steps}) + int8 head")
        self._weights: dict[str, int] = {}

    def fc(self, x: int, w: np.ndarray, name: str, x_max: int, zero_point: int = 0,
           bias: np.ndarray | None = None) -> tuple[int, int]:
        """sum_i (x[i] - zero_point) * w[o, i] (+ bias) on integer floats; returns (tensor, |acc| bound)."""
        if name not in self._weights:
            self._weights[name] = self.g.int8_weights(w, name)
        b = -np.int64(zero_point) * w.astype(np.int64).sum(axis=1)
        if bias is not None:
            b = b + bias.astype(np.int64)
        bound = _abs_row_sum(w) * x_max + (0 if bias is None else int(np.abs(bias).max()))
        partial = _abs_row_sum(w) * 128 + int(np.abs(b).max())  # any partial sum of the float FC
        if max(bound, partial) >= EXACT_LIMIT:
            raise ValueError(f"{name}: accumulator bound {max(bound, partial)} is not exact in float32 "
                             f"(>= 2^24); the builtin-only export supports smaller layers")
        return self.g.fully_connected(x, self._weights[name], self.g.const(b.astype(np.float32))), bound

    def fastgrnn(self, xf: int, h0: int | None = None) -> int:
        """Features (integer floats [1, T, D]) -> final hidden state (integer floats [1, H]), from h0
        (integer floats [1, H]) or zeros."""
        g, p, T, H = self.g, self.m.fastgrnn, self.T, self.m.fastgrnn.units
        zx = p.input_zero_point
        x_max = max(127 - zx, zx + 128)
        # The input path does not depend on the state: all T steps at once.
        if p.w_rank:
            av, b_av = self.fc(xf, p.w1, "W1", x_max, zx)
            v = g.requant_sat8(av, b_av, p.v_multiplier, p.v_shift)
            aw, b_aw = self.fc(v, p.w2, "W2", 128)
        else:
            aw, b_aw = self.fc(xf, p.w1, "W", x_max, zx)
        aw_steps = [g.unpack(g.reshape(limb, [T, 1, H]), 0) for limb in g.limbs(aw, b_aw)]
        tables = {k: g.const(v.astype(np.float32), name=f"lut_{k}") for k, v in _lut_tables(p).items()}
        bias_z = (p.bias_z.astype(np.int64) + 128 + 32768).astype(np.float32)  # round, then + 128 (index)
        bias_h = (p.bias_h.astype(np.int64) + 128 + 32768).astype(np.float32)
        if max(np.abs(bias_z).max(), np.abs(bias_h).max()) >= EXACT_LIMIT // 2:
            raise ValueError("FastGRNN biases are too large for the builtin-only export")
        h = g.const(np.zeros((1, H), np.float32), name="h0") if h0 is None else h0
        for t in range(T):
            if p.u_rank:
                au1, b_au1 = self.fc(h, p.u1, "U1", 128)
                u = g.requant_sat8(au1, b_au1, p.u_multiplier, p.u_shift)
                au, b_au = self.fc(u, p.u2, "U2", 128)
            else:
                au, b_au = self.fc(h, p.u1, "U", 128)
            pre = g.fixed_mul([([s[t] for s in aw_steps], p.pre_w_multiplier),
                               (g.limbs(au, b_au), p.pre_u_multiplier)], p.pre_shift, 1 << (p.pre_shift - 1))

            def index(bias: np.ndarray, pre: int = pre) -> int:  # sat8(rshift_round(pre + b, 8)) + 128
                return g.cast(g.clip(g.floor_shift(g.add(pre, bias), 8), 0, 255), np.int32)

            iz, ic = index(bias_z), index(bias_h)
            z, a = g.gather(tables["z"], iz), g.gather(tables["a"], iz)
            c_hi, c_lo = g.gather(tables["c_hi"], ic), g.gather(tables["c_lo"], ic)
            # hc = (a c + 2^14) >> 15 = (a c_hi + ((a c_lo + 2^14) >> 8)) >> 7, each part below 2^24.
            low = g.floor_shift(g.add(g.mul(a, c_lo), float(1 << 14)), 8)
            hc = g.floor_shift(g.add(g.mul(a, c_hi), low), 7)
            hz = g.floor_shift(g.add(g.mul(z, h), 64.0), 7)
            h = g.clip(g.floor_shift(g.add(g.add(hc, hz), 128.0), 8), -128, 127)
        return h

    def head(self, h: int) -> int:
        """int8 FULLY_CONNECTED chain (TFLite arithmetic, double rounding) -> integer-float logits."""
        x = h
        for i, layer in enumerate(self.m.head):
            layer: HeadLayer
            zp = layer.input_zero_point
            acc, bound = self.fc(x, layer.weights, f"head_{i}", max(127 - zp, zp + 128), zp, layer.bias)
            y = self.g.multiply_by_quantized_multiplier(acc, bound, layer.output_multiplier, layer.output_shift)
            lo = max(-128, layer.output_zero_point) if layer.relu else -128
            x = self.g.clip(self.g.add(y, float(layer.output_zero_point)), lo, 127)
        return x

    def build(self, state_io: bool) -> bytes:
        g, m, p = self.g, self.m, self.m.fastgrnn
        x = g.input([1, self.T, p.input_dim], np.int8, "features", quant=(p.input_scale, p.input_zero_point))
        h0 = g.cast(g.input([1, p.units], np.int8, "state_in", quant=(1 / 128, 0)), np.float32) if state_io else None
        h = self.fastgrnn(g.cast(x, np.float32), h0)
        logits = self.head(h)
        z = g.mul(g.sub(logits, float(m.logit_zero_point)), float(m.logit_scale))
        prob = g.tensor(g.shapes[z])
        g.op("SOFTMAX", [z], [prob], beta=1.0)
        out = g.tensor(g.shapes[z], np.int8, "probabilities", quant=(m.output_scale, m.output_zero_point))
        g.op("QUANTIZE", [prob], [out])
        g.output(out)
        if state_io:
            state = g.tensor([1, p.units], np.int8, "state_out", quant=(1 / 128, 0))
            g.op("CAST", [h], [state], inDataType=g.sg.tensors[h].type, outDataType=g.sg.tensors[state].type)
            g.output(state)
        return g.finish()


def export_builtin_tflite(source: bytes | str | os.PathLike | ExportedModel, time_steps: int | None = None,
                          state_io: bool = False) -> bytes:
    """Builtin-only `.tflite` of a custom-op export: input int8 [1, T, D] with the feature
    quantization, output int8 probabilities (the custom model's output quantization).
    time_steps: default the source's T (use a window export; a streaming T=1 source needs it given).
    state_io: the hidden state is a second input and a second output (int8 [1, H], scale 1/128), so an
    application streams on any runtime by passing the state back (T=1: ~90 operators, a small arena)."""
    m = source if isinstance(source, ExportedModel) else read_exported(source)
    T = m.time_steps if time_steps is None else int(time_steps)
    if T < 1:
        raise ValueError(f"time_steps must be >= 1, got {T}")
    if not m.head:
        raise ValueError("the model has no int8 FULLY_CONNECTED head after the FastGRNN op")
    return _Builder(m, T).build(state_io)
