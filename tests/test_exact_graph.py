"""exact_graph: the float32 builtin-op versions of the int8 fixed-point helpers equal the integer
oracles on every value (random, extreme and tie values), in TFLite and in TFLM."""

from __future__ import annotations

import numpy as np
import pytest

from fastgrnn_tf.export.exact_graph import Graph, limb_count
from fastgrnn_tf.int8 import head_oracle as HO
from fastgrnn_tf.int8 import oracle as O


def _run_everywhere(data: bytes, x: np.ndarray) -> list[list[np.ndarray]]:
    """Outputs of the graph for input x in TFLite (default and reference kernels) and in TFLM."""
    import tensorflow as tf
    from tflite_micro.python.tflite_micro import runtime

    results = []
    for kind in (tf.lite.experimental.OpResolverType.AUTO, tf.lite.experimental.OpResolverType.BUILTIN_REF):
        lite = tf.lite.Interpreter(model_content=data, experimental_op_resolver_type=kind)
        lite.allocate_tensors()
        lite.set_tensor(lite.get_input_details()[0]["index"], x)
        lite.invoke()
        results.append([lite.get_tensor(o["index"]) for o in lite.get_output_details()])
    micro = runtime.Interpreter.from_bytes(data, arena_size=16 * 1024 * 1024)
    micro.set_input(x, 0)
    micro.invoke()
    results.append([micro.get_output(i) for i in range(len(results[0]))])
    return results


def _values(bound: int, rng: np.random.Generator, n: int = 3000) -> np.ndarray:
    edges = [0, 1, -1, bound, -bound, bound - 1, -bound + 1, 1023, 1024, -1024, -1025]
    v = np.concatenate([[e for e in edges if abs(e) <= bound], rng.integers(-bound, bound + 1, n)])
    return v.astype(np.float32)


@pytest.mark.parametrize("bound,m,n", [
    (255 * 32 * 127, 1518500250, 37),     # a v-requant shape: x*W1 accumulators, small scale ratio
    (2**23 - 1, 2**30, 31),               # multiplier 1/2, the largest exact accumulator
    (128 * 100 * 127, 2**31 - 1, 45),     # a pre-activation shape: U accumulators, long shift
    (1000, 1234567891, 30),               # results beyond int8 (sat8 clips)
    (5000, 1, 1),                         # tiny multiplier, shift 1
])
def test_requant_sat8_equals_oracle(bound: int, m: int, n: int) -> None:
    rng = np.random.default_rng(bound % 1000 + n)
    x = _values(bound, rng)
    g = Graph("requant test")
    inp = g.input([len(x)], np.float32, "x")
    g.output(g.requant_sat8(inp, bound, m, n))
    g.output(g.fixed_mul([(g.limbs(inp, bound), m)], n + 8, 1 << (n + 7)))  # unsaturated, 256x smaller
    want = O.sat8(O.requant(x.astype(np.int64), m, n))
    want_wide = O.requant(x.astype(np.int64), m, n + 8)
    assert limb_count(bound) >= 1
    for got, wide in _run_everywhere(g.finish(), x):
        np.testing.assert_array_equal(got.astype(np.int64), want)
        np.testing.assert_array_equal(wide.astype(np.int64), want_wide)


def test_requant_ties_round_half_up() -> None:
    # x * m an odd multiple of 2^(n-1): exactly halfway; the spec rounds half up (toward +inf).
    m, n = 3 << 20, 23
    x = np.arange(-2000, 2001, dtype=np.float32)
    g = Graph("ties")
    inp = g.input([len(x)], np.float32, "x")
    g.output(g.fixed_mul([(g.limbs(inp, 2000), m)], n, 1 << (n - 1)))
    want = O.requant(x.astype(np.int64), m, n)
    assert np.any((x.astype(np.int64) * m) % (1 << n) == 1 << (n - 1))
    for (got,) in _run_everywhere(g.finish(), x):
        np.testing.assert_array_equal(got.astype(np.int64), want)


@pytest.mark.parametrize("scale", [0.0003, 0.0123, 0.37, 0.999, 1.5, 3.0])
def test_multiply_by_quantized_multiplier_double_rounding(scale: float) -> None:
    m, shift = HO.quantize_multiplier(scale)
    bound = min(2**23 - 1, int(2**23 / max(1.0, 2.0 ** max(shift, 0))) - 1)
    rng = np.random.default_rng(int(scale * 1000))
    x = _values(bound, rng)
    g = Graph("mbqm test")
    inp = g.input([len(x)], np.float32, "x")
    g.output(g.multiply_by_quantized_multiplier(inp, bound, m, shift))
    want = HO.multiply_by_quantized_multiplier(x.astype(np.int64), m, shift, "double")
    single = HO.multiply_by_quantized_multiplier(x.astype(np.int64), m, shift, "single")
    for (got,) in _run_everywhere(g.finish(), x):
        np.testing.assert_array_equal(got.astype(np.int64), want)
    print(f"scale {scale}: double and single rounding differ on {int(np.sum(want != single))} of {len(x)} values")


def test_inexact_bounds_are_refused() -> None:
    g = Graph("bad")
    inp = g.input([4], np.float32, "x")
    with pytest.raises(ValueError, match="2\\^24"):
        g.limbs(inp, 2**24)
    with pytest.raises(ValueError, match="not exact"):
        g.multiply_by_quantized_multiplier(inp, 2**22, 2**30, 3)
    with pytest.raises(ValueError, match=">= 0"):
        g.fixed_mul([(g.limbs(inp, 10), -3)], 4)
