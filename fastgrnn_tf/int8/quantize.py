"""Float FastGRNN parameters -> int8 step parameters (`int8_step_spec.md`, "Choosing the constants").

    fp = random_float_params(input_dim=32, units=100, w_rank=16, u_rank=25, keep=0.3, seed=0)
    ip = quantize_params(fp, input_scale=0.1, input_zero_point=12, calib_x=x_float)   # Int8Params
    h_float = float_run(fp, x_float)        # numpy float reference of the same cell

Ranges (`v_absmax`, `u_absmax`, `pre_absmax`) come from QAT (`fastgrnn_tf.qat.quant_ranges`) or,
when absent, from running the float cell on representative inputs (`calibrate_ranges`).
Float weights use the Keras layout ([in, out], x @ W1 @ W2); int8 weights are [out, in].
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import numpy as np

from fastgrnn_tf.int8.oracle import GATE_ACTIVATIONS, UPDATE_ACTIVATIONS, Int8Params

H_SCALE = 1.0 / 128.0
MAX_LUT_RANGE = 8.0  # spec: 128 * s_p <= 8


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


ACTIVATIONS = {
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0.0),
    "quantSigm": lambda x: np.clip((x + 1.0) / 2.0, 0.0, 1.0),
    "quantTanh": lambda x: np.clip(x, -1.0, 1.0),
}
"""Float activations by the cell's names (quantSigm/quantTanh as in EdgeML)."""


@dataclasses.dataclass
class FloatParams:
    """A FastGRNN cell's float weights in Keras layout. Full rank: W [D, H] in `w1`, `w2` None."""

    w1: np.ndarray
    w2: np.ndarray | None
    u1: np.ndarray
    u2: np.ndarray | None
    bias_z: np.ndarray
    bias_h: np.ndarray
    zeta: float
    nu: float
    gate_activation: str = "sigmoid"
    update_activation: str = "tanh"

    @property
    def input_dim(self) -> int:
        return int(self.w1.shape[0])

    @property
    def units(self) -> int:
        return int(self.bias_z.shape[0])

    @property
    def w_rank(self) -> int:
        return 0 if self.w2 is None else int(self.w1.shape[1])

    @property
    def u_rank(self) -> int:
        return 0 if self.u2 is None else int(self.u1.shape[1])

    def full_w(self) -> np.ndarray:
        return self.w1 if self.w2 is None else self.w1 @ self.w2

    def full_u(self) -> np.ndarray:
        return self.u1 if self.u2 is None else self.u1 @ self.u2

    def validate(self) -> None:
        D, H = self.input_dim, self.units
        if self.w1.ndim != 2 or self.u1.ndim != 2:
            raise ValueError("W/W1 and U/U1 must be 2-D")
        if self.w2 is None and self.w1.shape != (D, H):
            raise ValueError(f"full-rank W must be [{D}, {H}], got {list(self.w1.shape)}")
        if self.w2 is not None and self.w2.shape != (self.w1.shape[1], H):
            raise ValueError(f"W2 must be [{self.w1.shape[1]}, {H}], got {list(self.w2.shape)}")
        if self.u1.shape[0] != H or (self.u2 is None and self.u1.shape != (H, H)):
            raise ValueError(f"U/U1 must be [{H}, {H}] or [{H}, rank], got {list(self.u1.shape)}")
        if self.u2 is not None and self.u2.shape != (self.u1.shape[1], H):
            raise ValueError(f"U2 must be [{self.u1.shape[1]}, {H}], got {list(self.u2.shape)}")
        if self.bias_h.shape != (H,):
            raise ValueError(f"bias_h must be [{H}], got {list(self.bias_h.shape)}")
        if self.gate_activation not in GATE_ACTIVATIONS:
            raise ValueError(f"unsupported gate activation {self.gate_activation!r}; "
                             f"supported: {', '.join(GATE_ACTIVATIONS)}")
        if self.update_activation not in UPDATE_ACTIVATIONS:
            raise ValueError(f"unsupported update activation {self.update_activation!r} (the int8 step "
                             f"needs an output in [-1, 1]); supported: {', '.join(UPDATE_ACTIVATIONS)}")

    @classmethod
    def from_dict(cls, d: Mapping) -> FloatParams:
        """From a dict of Keras weight names (W or W1/W2, U or U1/U2, bias_z|b_z, bias_h|b_h, zeta, nu,
        gate_activation/gate_non_linearity, update_activation/update_non_linearity)."""

        def get(*names: str, required: bool = True):
            for n in names:
                if n in d and d[n] is not None:
                    return d[n]
            if required:
                raise ValueError(f"float params: missing {' / '.join(names)} (have {sorted(d)})")
            return None

        def arr(x) -> np.ndarray | None:
            return None if x is None else np.asarray(x, np.float64)

        w2 = arr(get("W2", "w2", required=False))
        w1 = arr(get("W1", "w1") if w2 is not None else get("W", "W1", "w1"))
        u2 = arr(get("U2", "u2", required=False))
        u1 = arr(get("U1", "u1") if u2 is not None else get("U", "U1", "u1"))
        fp = cls(
            w1=w1, w2=w2, u1=u1, u2=u2,
            bias_z=arr(get("bias_z", "b_z", "bias_gate")).reshape(-1),
            bias_h=arr(get("bias_h", "b_h", "bias_update")).reshape(-1),
            zeta=float(np.asarray(get("zeta")).reshape(-1)[0]),
            nu=float(np.asarray(get("nu")).reshape(-1)[0]),
            gate_activation=str(get("gate_activation", "gate_non_linearity", "gate_nonlinearity",
                                    required=False) or "sigmoid"),
            update_activation=str(get("update_activation", "update_non_linearity", "update_nonlinearity",
                                      required=False) or "tanh"),
        )
        fp.validate()
        return fp


# ----------------------------------------------------------------------------------------------
def float_run(fp: FloatParams, x: np.ndarray, h0: np.ndarray | None = None,
              return_sequences: bool = False, record: dict | None = None) -> np.ndarray:
    """Float FastGRNN (paper eq. 6) on x [B, T, D] (or [T, D]); `record` collects max |v|, |u|, |pre+b|."""
    x = np.asarray(x, np.float64)
    unbatched = x.ndim == 2
    if unbatched:
        x = x[None]
    B, T, _ = x.shape
    h = np.zeros((B, fp.units)) if h0 is None else np.asarray(h0, np.float64).reshape(B, fp.units)
    gate, update = ACTIVATIONS[fp.gate_activation], ACTIVATIONS[fp.update_activation]
    sz, sn = _sigmoid(fp.zeta), _sigmoid(fp.nu)
    seq = []
    for t in range(T):
        xt = x[:, t]
        if fp.w2 is not None:
            v = xt @ fp.w1
            aw = v @ fp.w2
        else:
            v, aw = None, xt @ fp.w1
        if fp.u2 is not None:
            u = h @ fp.u1
            au = u @ fp.u2
        else:
            u, au = None, h @ fp.u1
        pre = aw + au
        if record is not None:
            if v is not None:
                record["v_absmax"] = max(record.get("v_absmax", 0.0), float(np.abs(v).max()))
            if u is not None:
                record["u_absmax"] = max(record.get("u_absmax", 0.0), float(np.abs(u).max()))
            pm = max(float(np.abs(pre + fp.bias_z).max()), float(np.abs(pre + fp.bias_h).max()))
            record["pre_absmax"] = max(record.get("pre_absmax", 0.0), pm)
        z = gate(pre + fp.bias_z)
        c = update(pre + fp.bias_h)
        h = (sz * (1.0 - z) + sn) * c + z * h
        seq.append(h)
    out = np.stack(seq, axis=1) if return_sequences else h
    return out[0] if unbatched else out


def calibrate_ranges(fp: FloatParams, calib_x: np.ndarray) -> dict:
    """Ranges of the intermediates from the float cell on representative inputs [B, T, D] (float)."""
    calib_x = np.asarray(calib_x, np.float64)
    if calib_x.ndim == 2:
        calib_x = calib_x[None]
    if calib_x.ndim != 3 or calib_x.shape[2] != fp.input_dim or calib_x.shape[0] * calib_x.shape[1] == 0:
        raise ValueError(f"calib_x must be non-empty [B, T, {fp.input_dim}], got {list(calib_x.shape)}")
    rec: dict = {}
    float_run(fp, calib_x, record=rec)
    rec.setdefault("v_absmax", 0.0)
    rec.setdefault("u_absmax", 0.0)
    return rec


# ----------------------------------------------------------------------------------------------
def quantize_multiplier(real: float, min_shift: int = 1, max_shift: int = 62) -> tuple[int, int]:
    """real ~= m / 2^n with m in [2^30, 2^31) when possible (n capped to [min_shift, max_shift])."""
    if not math.isfinite(real) or real < 0:
        raise ValueError(f"multiplier must be finite and >= 0, got {real}")
    if real == 0:
        return 0, min_shift
    _, e = math.frexp(real)  # real = f * 2^e, f in [0.5, 1)
    n = 31 - e
    if n > max_shift:
        n = max_shift
    if n < min_shift:
        raise ValueError(f"multiplier {real} too large for a shift >= {min_shift}")
    m = int(round(real * 2.0**n))
    if m >= 2**31:
        n -= 1
        if n < min_shift:
            raise ValueError(f"multiplier {real} too large")
        m = int(round(real * 2.0**n))
    return m, n


def quantize_pair(real_a: float, real_b: float) -> tuple[int, int, int]:
    """Two multipliers with one shared shift; the larger is in [2^30, 2^31)."""
    _, n = quantize_multiplier(max(real_a, real_b))
    ma, mb = int(round(real_a * 2.0**n)), int(round(real_b * 2.0**n))
    if max(ma, mb) >= 2**31:
        n -= 1
        ma, mb = int(round(real_a * 2.0**n)), int(round(real_b * 2.0**n))
    return ma, mb, n


def quantize_weight(w: np.ndarray) -> tuple[np.ndarray, float]:
    """Per-tensor symmetric int8 of a float weight in Keras layout [in, out] -> ([out, in] int8, scale)."""
    w = np.asarray(w, np.float64)
    amax = float(np.abs(w).max()) if w.size else 0.0
    scale = amax / 127.0 if amax > 0 else 1.0
    q = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
    return np.ascontiguousarray(q.T), scale


def build_lut(activation: str, s_p: float) -> np.ndarray:
    """`lut[i] = clamp(round(act((i - 128) * s_p) * 32768), -32768, 32767)`, int16 [256]."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}")
    xs = (np.arange(256) - 128) * float(s_p)
    y = np.floor(ACTIVATIONS[activation](xs) * 32768.0 + 0.5)
    return np.clip(y, -32768, 32767).astype(np.int16)


def q15(value: float) -> int:
    """`min(32767, round(value * 32768))` for value in [0, 1]."""
    return int(min(32767, max(0, math.floor(value * 32768.0 + 0.5))))


def _quantize_path(m1: np.ndarray, m2: np.ndarray | None, s_in: float, mid_absmax: float | None,
                   s_acc: float) -> tuple[np.ndarray, np.ndarray | None, int, int, float]:
    """The W (or U) path of the spec: int8 factors, the multiplier and shift of the low-rank middle
    (0, 0 at full rank) and the real scale of the path's accumulator in units of s_acc."""
    q1, s1 = quantize_weight(m1)
    if m2 is None:
        return q1, None, 0, 0, s_in * s1 / s_acc
    q2, s2 = quantize_weight(m2)
    s_mid = float(mid_absmax) / 127.0
    m, n = quantize_multiplier(s_in * s1 / s_mid)
    return q1, q2, m, n, s_mid * s2 / s_acc


def quantize_params(fp: FloatParams | Mapping, input_scale: float, input_zero_point: int,
                    ranges: Mapping | None = None, calib_x: np.ndarray | None = None,
                    return_sequences: bool = False) -> Int8Params:
    """Float params + ranges -> `Int8Params` per the spec. Without `ranges`, `calib_x` (float [B, T, D])
    is run through the float cell to measure them; with neither, ValueError."""
    if not isinstance(fp, FloatParams):
        fp = FloatParams.from_dict(fp)
    fp.validate()
    if input_scale <= 0 or not math.isfinite(input_scale):
        raise ValueError(f"input_scale must be positive, got {input_scale}")
    if not -128 <= int(input_zero_point) <= 127:
        raise ValueError(f"input_zero_point must be in [-128, 127], got {input_zero_point}")
    if ranges is None:
        if calib_x is None:
            raise ValueError("quantize_params needs ranges (v_absmax, u_absmax, pre_absmax) or calib_x")
        ranges = calibrate_ranges(fp, calib_x)
    for key in ("pre_absmax",) + (("v_absmax",) if fp.w_rank else ()) + (("u_absmax",) if fp.u_rank else ()):
        if key not in ranges or not ranges[key] > 0:
            raise ValueError(f"ranges[{key!r}] must be a positive number, got {ranges.get(key)}")
    s_x, s_h = float(input_scale), H_SCALE
    s_p = min(float(ranges["pre_absmax"]) / 127.0, MAX_LUT_RANGE / 128.0)
    s_acc = s_p / 256.0

    w1q, w2q, v_m, v_n, real_w = _quantize_path(fp.w1, fp.w2, s_x, ranges.get("v_absmax"), s_acc)
    u1q, u2q, u_m, u_n, real_u = _quantize_path(fp.u1, fp.u2, s_h, ranges.get("u_absmax"), s_acc)
    pw, pu, pn = quantize_pair(real_w, real_u)

    def qbias(b: np.ndarray) -> np.ndarray:
        return np.clip(np.round(np.asarray(b, np.float64) / s_acc), -(2**31), 2**31 - 1).astype(np.int32)

    ip = Int8Params(
        input_dim=fp.input_dim, units=fp.units, w_rank=fp.w_rank, u_rank=fp.u_rank,
        input_zero_point=int(input_zero_point),
        w1=w1q, w2=w2q, u1=u1q, u2=u2q, bias_z=qbias(fp.bias_z), bias_h=qbias(fp.bias_h),
        gate_lut=build_lut(fp.gate_activation, s_p), update_lut=build_lut(fp.update_activation, s_p),
        v_multiplier=v_m, v_shift=v_n, u_multiplier=u_m, u_shift=u_n,
        pre_w_multiplier=pw, pre_u_multiplier=pu, pre_shift=pn,
        zeta_q15=q15(float(_sigmoid(fp.zeta))), nu_q15=q15(float(_sigmoid(fp.nu))),
        input_scale=s_x, gate_activation=fp.gate_activation, update_activation=fp.update_activation,
        return_sequences=bool(return_sequences),
    )
    ip.validate()
    return ip


# ----------------------------------------------------------------------------------------------
def random_float_params(input_dim: int = 32, units: int = 100, w_rank: int = 16, u_rank: int = 25,
                        keep: float = 1.0, seed: int = 0, gate_activation: str = "sigmoid",
                        update_activation: str = "tanh", input_std: float = 4.0) -> FloatParams:
    """Random but realistic float params (pre-activations of a few units for inputs of std `input_std`).

    `keep` < 1 zeroes all but that fraction of every weight matrix (as magnitude pruning leaves them).
    Rank 0 = full rank. Google-12 size: input_dim 32, units 100, ranks 16/25, keep 0.3.
    """
    if input_dim <= 0 or units <= 0 or w_rank < 0 or u_rank < 0:
        raise ValueError("input_dim/units must be positive and ranks >= 0")
    if not 0 < keep <= 1:
        raise ValueError(f"keep must be in (0, 1], got {keep}")
    rng = np.random.default_rng(seed)

    def mat(rows: int, cols: int, gain: float) -> np.ndarray:
        w = rng.normal(0.0, gain / math.sqrt(rows), (rows, cols))
        if keep < 1:
            w[rng.random(w.shape) >= keep] = 0.0
            w /= math.sqrt(keep)
        return w

    g_in = 1.5 / input_std
    if w_rank:
        w1, w2 = mat(input_dim, w_rank, g_in), mat(w_rank, units, 1.0)
    else:
        w1, w2 = mat(input_dim, units, g_in), None
    if u_rank:
        u1, u2 = mat(units, u_rank, 0.8), mat(u_rank, units, 0.8)
    else:
        u1, u2 = mat(units, units, 0.6), None
    fp = FloatParams(
        w1=w1, w2=w2, u1=u1, u2=u2,
        bias_z=rng.normal(1.0, 0.5, units), bias_h=rng.normal(0.0, 0.5, units),
        zeta=float(rng.normal(1.0, 0.3)), nu=float(rng.normal(-4.0, 0.3)),
        gate_activation=gate_activation, update_activation=update_activation,
    )
    fp.validate()
    return fp


def random_int8_inputs(input_dim: int, steps: int, batch: int = 1, seed: int = 0,
                       zero_point: int = 12, std: float = 40.0) -> np.ndarray:
    """Random int8 features [batch, steps, input_dim], smooth in time like log-mel frames."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0.0, std, (batch, 1, input_dim))
    walk = np.cumsum(rng.normal(0.0, std / 4, (batch, steps, input_dim)), axis=1) * 0.3
    x = np.round(base + walk + zero_point - 20)
    return np.clip(x, -128, 127).astype(np.int8)


def random_int8_params(input_dim: int = 32, units: int = 100, w_rank: int = 16, u_rank: int = 25,
                       keep: float = 1.0, seed: int = 0, input_scale: float = 0.1, input_zero_point: int = 12,
                       gate_activation: str = "sigmoid", update_activation: str = "tanh",
                       return_sequences: bool = False) -> tuple[Int8Params, FloatParams]:
    """Random float params quantized with ranges calibrated on `random_int8_inputs` (for test vectors)."""
    fp = random_float_params(input_dim, units, w_rank, u_rank, keep, seed, gate_activation, update_activation,
                             input_std=4.0)
    xq = random_int8_inputs(input_dim, 50, 8, seed + 1, input_zero_point)
    xf = (xq.astype(np.float64) - input_zero_point) * input_scale
    ip = quantize_params(fp, input_scale, input_zero_point, calib_x=xf, return_sequences=return_sequences)
    return ip, fp
