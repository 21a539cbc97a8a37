"""Numpy oracle of the int8 FastGRNN step (`int8_step_spec.md`), bit-exact with the C++ kernel.

`Int8Params` mirrors `tflm_app/fastgrnn/fastgrnn_int8.h` field for field (plus the informational
activation names and the input scale). `run(params, x, h0)` runs T steps for a batch, vectorized
over the batch; every intermediate that the spec computes in 64 bits is int64 here.

    out, h = run(params, x_int8)              # x: [B, T, D] or [T, D]; out: [B, H] (last h)
    seq, h = run(params, x_int8, h, return_sequences=True)   # [B, T, H]
"""

from __future__ import annotations

import dataclasses

import numpy as np

OPTION_KEYS = (
    "version", "units", "input_dim", "w_rank", "u_rank", "v_multiplier", "v_shift", "u_multiplier",
    "u_shift", "pre_w_multiplier", "pre_u_multiplier", "pre_shift", "zeta_q15", "nu_q15",
    "return_sequences", "gate_activation", "update_activation",
)
"""Custom-option keys of the `FastGRNN` operator, in the spec's order."""

GATE_ACTIVATIONS = ("sigmoid", "quantSigm")
UPDATE_ACTIVATIONS = ("tanh", "sigmoid", "quantTanh", "quantSigm")
SPEC_VERSION = 1
CUSTOM_CODE = "FastGRNN"
"""The custom operator's name in a `.tflite` (`custom_code` of its operator code)."""

_I32_MIN, _I32_MAX = -(2**31), 2**31 - 1


# ----------------------------------------------------------------------------------------------
# Exact integer helpers (spec "Helpers").
def sat8(x: np.ndarray) -> np.ndarray:
    """Saturate to int8 range; returns int64 so callers keep full precision until they cast."""
    return np.clip(np.asarray(x, np.int64), -128, 127)


def sat32(x: np.ndarray) -> np.ndarray:
    """Saturate to int32 range (int64 result)."""
    return np.clip(np.asarray(x, np.int64), _I32_MIN, _I32_MAX)


def rshift_round(x: np.ndarray, k: int) -> np.ndarray:
    """`(x + 2^(k-1)) >> k`, arithmetic shift (floor), computed in int64 so it cannot wrap."""
    if k < 1:
        raise ValueError(f"rshift_round: shift k must be >= 1, got {k}")
    x = np.asarray(x, np.int64)
    return (x + (np.int64(1) << np.int64(k - 1))) >> np.int64(k)


def requant(acc: np.ndarray, m: int, n: int) -> np.ndarray:
    """`(int64(acc) * m + 2^(n-1)) >> n` with m in [0, 2^31), n in [1, 62]: round half up."""
    if not 0 <= m < 2**31:
        raise ValueError(f"requant: multiplier m must be in [0, 2^31), got {m}")
    if not 1 <= n <= 62:
        raise ValueError(f"requant: shift n must be in [1, 62], got {n}")
    acc = np.asarray(acc, np.int64)
    return (acc * np.int64(m) + (np.int64(1) << np.int64(n - 1))) >> np.int64(n)


# ----------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Int8Params:
    """The int8 step's parameters; field names follow `fastgrnn::Int8Params` (fastgrnn_int8.h).

    Weights are int8 [out, in]; `w2`/`u2` are None at full rank. `input_scale`, the activation
    names and `return_sequences` are carried for export; the arithmetic does not read them.
    """

    input_dim: int
    units: int
    w_rank: int
    u_rank: int
    input_zero_point: int
    w1: np.ndarray
    w2: np.ndarray | None
    u1: np.ndarray
    u2: np.ndarray | None
    bias_z: np.ndarray
    bias_h: np.ndarray
    gate_lut: np.ndarray
    update_lut: np.ndarray
    v_multiplier: int = 0
    v_shift: int = 0
    u_multiplier: int = 0
    u_shift: int = 0
    pre_w_multiplier: int = 0
    pre_u_multiplier: int = 0
    pre_shift: int = 0
    zeta_q15: int = 0
    nu_q15: int = 0
    input_scale: float = 1.0
    gate_activation: str = "sigmoid"
    update_activation: str = "tanh"
    return_sequences: bool = False

    def validate(self) -> None:
        """Raise ValueError naming the first inconsistent field (mirrors `fastgrnn::Validate`)."""
        D, H, rw, ru = self.input_dim, self.units, self.w_rank, self.u_rank
        if D <= 0 or H <= 0:
            raise ValueError(f"input_dim and units must be positive, got input_dim={D} units={H}")
        if rw < 0 or ru < 0:
            raise ValueError(f"w_rank/u_rank must be >= 0, got {rw}/{ru}")
        if not -128 <= self.input_zero_point <= 127:
            raise ValueError(f"input_zero_point must be in [-128, 127], got {self.input_zero_point}")

        def check(name: str, arr: np.ndarray | None, shape: tuple | None, dtype: type) -> None:
            if shape is None:
                if arr is not None:
                    raise ValueError(f"{name} must be absent (None) at full rank")
                return
            if arr is None:
                raise ValueError(f"{name} is missing (expected {np.dtype(dtype).name} {list(shape)})")
            if arr.dtype != dtype or tuple(arr.shape) != shape:
                raise ValueError(f"{name} must be {np.dtype(dtype).name} {list(shape)}, "
                                 f"got {arr.dtype} {list(arr.shape)}")

        check("w1", self.w1, (rw, D) if rw else (H, D), np.int8)
        check("w2", self.w2, (H, rw) if rw else None, np.int8)
        check("u1", self.u1, (ru, H) if ru else (H, H), np.int8)
        check("u2", self.u2, (H, ru) if ru else None, np.int8)
        check("bias_z", self.bias_z, (H,), np.int32)
        check("bias_h", self.bias_h, (H,), np.int32)
        check("gate_lut", self.gate_lut, (256,), np.int16)
        check("update_lut", self.update_lut, (256,), np.int16)
        for w in ("w1", "w2", "u1", "u2"):
            arr = getattr(self, w)
            if arr is not None and arr.size and int(arr.min()) < -127:
                raise ValueError(f"{w} holds -128; weights must be in [-127, 127]")
        pairs = [("pre_w", self.pre_w_multiplier, self.pre_shift),
                 ("pre_u", self.pre_u_multiplier, self.pre_shift)]
        if rw:
            pairs.append(("v", self.v_multiplier, self.v_shift))
        if ru:
            pairs.append(("u", self.u_multiplier, self.u_shift))
        for name, m, n in pairs:
            if not 0 <= m < 2**31 or not 1 <= n <= 62:
                raise ValueError(f"{name} multiplier/shift out of range: m={m} (need [0, 2^31)), "
                                 f"n={n} (need [1, 62])")
        for name in ("zeta_q15", "nu_q15"):
            v = getattr(self, name)
            if not 0 <= v <= 32767:
                raise ValueError(f"{name} must be in [0, 32767], got {v}")
        if int(self.gate_lut.min()) < 0:
            raise ValueError("gate_lut must lie in [0, 32767] (gate output in [0, 1])")

    def options(self) -> dict:
        """The custom-option map of the `FastGRNN` operator (every key of `OPTION_KEYS`)."""
        low_w, low_u = self.w_rank > 0, self.u_rank > 0
        return {
            "version": SPEC_VERSION, "units": int(self.units), "input_dim": int(self.input_dim),
            "w_rank": int(self.w_rank), "u_rank": int(self.u_rank),
            "v_multiplier": int(self.v_multiplier) if low_w else 0,
            "v_shift": int(self.v_shift) if low_w else 0,
            "u_multiplier": int(self.u_multiplier) if low_u else 0,
            "u_shift": int(self.u_shift) if low_u else 0,
            "pre_w_multiplier": int(self.pre_w_multiplier), "pre_u_multiplier": int(self.pre_u_multiplier),
            "pre_shift": int(self.pre_shift), "zeta_q15": int(self.zeta_q15), "nu_q15": int(self.nu_q15),
            "return_sequences": bool(self.return_sequences),
            "gate_activation": str(self.gate_activation), "update_activation": str(self.update_activation),
        }

    def macs_per_step(self) -> int:
        """Multiply-accumulates of the matvec core per step (as `fastgrnn::MacsPerStep`)."""
        D, H, rw, ru = self.input_dim, self.units, self.w_rank, self.u_rank
        w = D * rw + rw * H if rw else D * H
        u = H * ru + ru * H if ru else H * H
        return w + u


# ----------------------------------------------------------------------------------------------
def _matvec(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """[B, in] int64 x [out, in] int8 -> [B, out] int64 (exact integer sum)."""
    return x @ w.astype(np.int64).T


def step(p: Int8Params, x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """One step for a batch: x int8 [B, D], h int8 [B, H] -> new h int8 [B, H]."""
    xo = x.astype(np.int64) - np.int64(p.input_zero_point)
    hp = h.astype(np.int64)
    if p.w_rank:
        v = sat8(requant(_matvec(p.w1, xo), p.v_multiplier, p.v_shift))
        aw = _matvec(p.w2, v)
    else:
        aw = _matvec(p.w1, xo)
    if p.u_rank:
        u = sat8(requant(_matvec(p.u1, hp), p.u_multiplier, p.u_shift))
        au = _matvec(p.u2, u)
    else:
        au = _matvec(p.u1, hp)
    pre = (aw * np.int64(p.pre_w_multiplier) + au * np.int64(p.pre_u_multiplier)
           + (np.int64(1) << np.int64(p.pre_shift - 1))) >> np.int64(p.pre_shift)
    pre = sat32(pre)
    iz = sat8(rshift_round(sat32(pre + p.bias_z.astype(np.int64)), 8))
    ic = sat8(rshift_round(sat32(pre + p.bias_h.astype(np.int64)), 8))
    z = p.gate_lut.astype(np.int64)[iz + 128]
    c = p.update_lut.astype(np.int64)[ic + 128]
    a = rshift_round(np.int64(p.zeta_q15) * (32768 - z), 15) + np.int64(p.nu_q15)
    hc = rshift_round(a * c, 15)
    hz = rshift_round(z * hp, 7)
    return sat8(rshift_round(hc + hz, 8)).astype(np.int8)


def run(p: Int8Params, x: np.ndarray, h0: np.ndarray | None = None,
        return_sequences: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Run T steps. x int8 [B, T, D] (or [T, D] = one row); h0 int8 [B, H] (or [H]); default zeros.

    Returns (out, h_last): out is [B, T, H] with `return_sequences` else [B, H]; unbatched input
    gives unbatched outputs. T = 1 is the streaming step (keep h_last and pass it back).
    """
    x = np.asarray(x)
    if x.dtype != np.int8:
        raise ValueError(f"x must be int8, got {x.dtype}")
    unbatched = x.ndim == 2
    if unbatched:
        x = x[None]
    if x.ndim != 3 or x.shape[2] != p.input_dim:
        raise ValueError(f"x must be [B, T, {p.input_dim}] or [T, {p.input_dim}], got {list(np.shape(x))}")
    B, T, _ = x.shape
    if h0 is None:
        h = np.zeros((B, p.units), np.int8)
    else:
        h = np.asarray(h0)
        if h.dtype != np.int8:
            raise ValueError(f"h0 must be int8, got {h.dtype}")
        if unbatched and h.ndim == 1:
            h = h[None]
        if h.shape != (B, p.units):
            raise ValueError(f"h0 must be [{B}, {p.units}], got {list(h.shape)}")
    seq = np.zeros((B, T, p.units), np.int8) if return_sequences else None
    for t in range(T):
        h = step(p, x[:, t, :], h)
        if seq is not None:
            seq[:, t] = h
    out = seq if seq is not None else h.copy()
    if unbatched:
        return out[0], h[0]
    return out, h
