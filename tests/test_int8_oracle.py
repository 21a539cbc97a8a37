"""The numpy int8 FastGRNN oracle and the quantizer against the spec and a float FastGRNN."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fastgrnn_tf.int8 import oracle as O
from fastgrnn_tf.int8 import quantize as Q


# ---------------------------------------------------------------------------- helpers, by hand
def test_requant_rounds_half_up() -> None:
    assert O.requant(5, 2**30, 31) == 3          # 2.5 -> 3
    assert O.requant(3, 2**30, 31) == 2          # 1.5 -> 2
    assert O.requant(-5, 2**30, 31) == -2        # -2.5 -> -2 (half up, not away)
    assert O.requant(-6, 2**30, 31) == -3
    assert O.requant(2**31 - 1, 2**31 - 1, 62) == 1   # no int64 overflow at the extremes
    with pytest.raises(ValueError, match="multiplier"):
        O.requant(1, 2**31, 31)
    with pytest.raises(ValueError, match="shift"):
        O.requant(1, 1, 0)


def test_rshift_round_and_saturation() -> None:
    assert O.rshift_round(383, 8) == 1 and O.rshift_round(384, 8) == 2
    assert O.rshift_round(-384, 8) == -1 and O.rshift_round(-385, 8) == -2
    assert O.rshift_round(2**31 - 1, 8) == 2**23  # computed in int64: no wrap
    np.testing.assert_array_equal(O.sat8([-1000, -128, 0, 127, 300]), [-128, -128, 0, 127, 127])
    assert O.sat32(2**40) == 2**31 - 1 and O.sat32(-(2**40)) == -(2**31)


def test_lut_build_matches_formula() -> None:
    s_p = 1 / 16
    g = Q.build_lut("sigmoid", s_p)
    assert g.dtype == np.int16 and g.shape == (256,)
    assert g[128] == 16384
    assert g[0] == round(32768 / (1 + math.exp(8)))
    assert g[255] == min(32767, round(32768 / (1 + math.exp(-127 / 16))))
    t = Q.build_lut("quantTanh", s_p)
    assert t[128] == 0 and t[144] == 32767 and t[112] == -32768 and t[136] == 16384
    qs = Q.build_lut("quantSigm", s_p)
    assert qs[128] == 16384 and qs[112] == 0 and qs[255] == 32767


def test_quantize_multiplier() -> None:
    assert Q.quantize_multiplier(0.5) == (2**30, 31)
    assert Q.quantize_multiplier(0.75) == (3 * 2**29, 31)
    for real in (1e-6, 0.013, 0.9999999999, 3.7, 1234.5):
        m, n = Q.quantize_multiplier(real)
        assert 2**30 <= m < 2**31 and 1 <= n <= 62
        assert abs(m / 2**n - real) <= real * 2**-30
    ma, mb, n = Q.quantize_pair(5.0, 0.2)
    assert 2**30 <= ma < 2**31 and abs(mb / 2**n - 0.2) < 1e-8


def _tiny_params(**kw) -> O.Int8Params:
    base = dict(
        input_dim=1, units=1, w_rank=0, u_rank=0, input_zero_point=1,
        w1=np.array([[2]], np.int8), w2=None, u1=np.array([[3]], np.int8), u2=None,
        bias_z=np.array([1000], np.int32), bias_h=np.array([-600], np.int32),
        gate_lut=(np.arange(256) * 100).astype(np.int16),
        update_lut=((np.arange(256) - 128) * 200).astype(np.int16),
        pre_w_multiplier=2**30, pre_u_multiplier=2**29, pre_shift=30, zeta_q15=16384, nu_q15=1000,
    )
    base.update(kw)
    return O.Int8Params(**base)


def test_one_step_by_hand() -> None:
    # xo = 4, aw = 8; au = 30; p = floor(8 + 15 + 0.5) = 23; iz = (1023+128)>>8 = 4; ic = (-577+128)>>8 = -2
    # z = 13200, c = -400; a = floor(9784.5) + 1000 = 10784; hc = floor(-131.1) = -132;
    # hz = floor(1031.75) = 1031; h = (899 + 128) >> 8 = 4
    p = _tiny_params()
    p.validate()
    out, h = O.run(p, np.array([[5]], np.int8), np.array([10], np.int8))
    assert out.tolist() == [4] and h.tolist() == [4]


def _scalar_reference(p: O.Int8Params, x: np.ndarray, h: list[int]) -> list[int]:
    """Pure-Python integers, written line by line from the spec (unbatched, one step)."""

    def rsr(v: int, k: int) -> int:
        return (v + (1 << (k - 1))) >> k

    def s8(v: int) -> int:
        return max(-128, min(127, v))

    def s32(v: int) -> int:
        return max(-(2**31), min(2**31 - 1, v))

    def mv(w: np.ndarray, vec: list[int]) -> list[int]:
        return [sum(int(w[r, c]) * vec[c] for c in range(w.shape[1])) for r in range(w.shape[0])]

    def rq(a: int, m: int, n: int) -> int:
        return (a * m + (1 << (n - 1))) >> n

    xo = [int(v) - p.input_zero_point for v in x]
    aw = mv(p.w2, [s8(rq(a, p.v_multiplier, p.v_shift)) for a in mv(p.w1, xo)]) if p.w_rank else mv(p.w1, xo)
    au = mv(p.u2, [s8(rq(a, p.u_multiplier, p.u_shift)) for a in mv(p.u1, h)]) if p.u_rank else mv(p.u1, h)
    out = []
    for k in range(p.units):
        pk = s32((aw[k] * p.pre_w_multiplier + au[k] * p.pre_u_multiplier + (1 << (p.pre_shift - 1)))
                 >> p.pre_shift)
        iz = s8(rsr(s32(pk + int(p.bias_z[k])), 8))
        ic = s8(rsr(s32(pk + int(p.bias_h[k])), 8))
        z, c = int(p.gate_lut[iz + 128]), int(p.update_lut[ic + 128])
        a = rsr(p.zeta_q15 * (32768 - z), 15) + p.nu_q15
        out.append(s8(rsr(rsr(a * c, 15) + rsr(z * h[k], 7), 8)))
    return out


@pytest.mark.parametrize("ranks", [(0, 0), (4, 0), (0, 5), (4, 5)])
def test_vectorized_oracle_matches_scalar_reference(ranks: tuple[int, int]) -> None:
    ip, _ = Q.random_int8_params(6, 7, ranks[0], ranks[1], keep=0.6, seed=sum(ranks))
    x = Q.random_int8_inputs(6, 12, 3, seed=5)
    seq, _ = O.run(ip, x, return_sequences=True)
    for b in range(3):
        h = [0] * 7
        for t in range(12):
            h = _scalar_reference(ip, x[b, t], h)
            assert seq[b, t].tolist() == h, (b, t)


def test_streaming_equals_window_and_batch_rows_are_independent() -> None:
    ip, _ = Q.random_int8_params(32, 20, 8, 5, seed=1)
    x = Q.random_int8_inputs(32, 15, 4, seed=2)
    seq, last = O.run(ip, x, return_sequences=True)
    np.testing.assert_array_equal(seq[:, -1], last)
    h = None
    for t in range(15):  # streaming: T = 1 per call, state carried by the caller
        out, h = O.run(ip, x[:, t:t + 1], h)
        np.testing.assert_array_equal(out, seq[:, t])
    for b in range(4):
        row, _ = O.run(ip, x[b], return_sequences=True)
        np.testing.assert_array_equal(row, seq[b])


@pytest.mark.parametrize("cfg", [dict(w_rank=16, u_rank=25, keep=0.3), dict(w_rank=0, u_rank=0),
                                 dict(w_rank=0, u_rank=0, gate_activation="quantSigm",
                                      update_activation="quantTanh")])
def test_int8_close_to_float(cfg: dict) -> None:
    ip, fp = Q.random_int8_params(32, 100, seed=3, **cfg)
    x = Q.random_int8_inputs(32, 40, 8, seed=7)
    xf = (x.astype(np.float64) - ip.input_zero_point) * ip.input_scale
    ref = Q.float_run(fp, xf, return_sequences=True)
    # One step from the same (int8-representable) state: error = LUT index + weight quantization only.
    hq = np.clip(np.round(ref * 128), -128, 127).astype(np.int8)
    err = []
    for t in range(1, 40):
        got = O.step(ip, x[:, t], hq[:, t - 1])
        want = Q.float_run(fp, xf[:, t:t + 1], h0=hq[:, t - 1] / 128.0)
        err.append(np.abs(got / 128.0 - want))
    err = np.stack(err)
    assert err.max() < 0.07 and err.mean() < 0.02, (err.max(), err.mean())
    # Free-running over 10 steps the state stays close too.
    seq, _ = O.run(ip, x[:, :10], return_sequences=True)
    assert np.abs(seq / 128.0 - ref[:, :10]).mean() < 0.02


def test_quantize_params_spec_constants() -> None:
    fp = Q.random_float_params(8, 12, 4, 3, seed=4)
    ranges = {"v_absmax": 3.0, "u_absmax": 0.8, "pre_absmax": 5.0}
    ip = Q.quantize_params(fp, 0.1, 12, ranges=ranges)
    s_p = 5.0 / 127
    s_w1 = np.abs(fp.w1).max() / 127
    np.testing.assert_array_equal(ip.w1, np.clip(np.round(fp.w1 / s_w1), -127, 127).T.astype(np.int8))
    assert ip.w1.shape == (4, 8) and ip.w2.shape == (12, 4) and ip.u1.shape == (3, 12)
    assert abs(ip.v_multiplier / 2**ip.v_shift - 0.1 * s_w1 / (3.0 / 127)) < 1e-9
    np.testing.assert_array_equal(ip.bias_z, np.round(fp.bias_z / (s_p / 256)).astype(np.int32))
    assert max(ip.pre_w_multiplier, ip.pre_u_multiplier) >= 2**30
    assert ip.zeta_q15 == round(32768 / (1 + math.exp(-fp.zeta)))
    np.testing.assert_array_equal(ip.gate_lut, Q.build_lut("sigmoid", s_p))
    # The LUT range is capped at +-8.
    ip2 = Q.quantize_params(fp, 0.1, 12, ranges={**ranges, "pre_absmax": 50.0})
    np.testing.assert_array_equal(ip2.gate_lut, Q.build_lut("sigmoid", 8 / 128))


def test_pruned_zeros_stay_zero() -> None:
    ip, fp = Q.random_int8_params(32, 100, 16, 25, keep=0.3, seed=0)
    for q, f in ((ip.w1, fp.w1), (ip.w2, fp.w2), (ip.u1, fp.u1), (ip.u2, fp.u2)):
        assert np.all(q.T[f == 0] == 0)
        assert 0.2 < np.count_nonzero(f) / f.size < 0.4


def test_bad_inputs_raise() -> None:
    fp = Q.random_float_params(4, 5, 0, 0)
    with pytest.raises(ValueError, match="ranges"):
        Q.quantize_params(fp, 0.1, 12)
    fp.update_activation = "relu"
    with pytest.raises(ValueError, match="update activation"):
        Q.quantize_params(fp, 0.1, 12, ranges={"pre_absmax": 1.0})
    p = _tiny_params()
    with pytest.raises(ValueError, match="int8"):
        O.run(p, np.zeros((2, 1), np.int32))
    with pytest.raises(ValueError, match="x must be"):
        O.run(p, np.zeros((2, 3), np.int8))
    with pytest.raises(ValueError, match="bias_z"):
        _tiny_params(bias_z=np.zeros(2, np.int32)).validate()
    with pytest.raises(ValueError, match="w2 is missing"):
        _tiny_params(w_rank=2, w1=np.zeros((2, 1), np.int8)).validate()


def test_float_params_from_keras_names() -> None:
    fp = Q.random_float_params(4, 5, 2, 0)
    d = {"W1": fp.w1, "W2": fp.w2, "U": fp.u1, "bias_z": fp.bias_z[None], "bias_h": fp.bias_h[None],
         "zeta": [[fp.zeta]], "nu": [[fp.nu]], "gate_activation": "sigmoid", "update_activation": "tanh"}
    fp2 = Q.FloatParams.from_dict(d)
    assert fp2.w_rank == 2 and fp2.u_rank == 0 and fp2.units == 5
    with pytest.raises(ValueError, match="nu"):
        Q.FloatParams.from_dict({k: v for k, v in d.items() if k != "nu"})
