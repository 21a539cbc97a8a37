"""Integer arithmetic, exactly, with float32 TFLite builtin ops: the toolkit of the builtin-only model.

Every value in these graphs is an integer held in float32 with magnitude below 2^24, so ADD, SUB,
MUL by a power of two, FLOOR, MINIMUM, MAXIMUM, ABS, GATHER and FULLY_CONNECTED with integer weights
give the same, exact result in any IEEE-754 runtime (TFLM reference or CMSIS-NN, TFLite, XNNPACK),
whatever their summation order. What int8 kernels do in 64 bits, `(acc * m + offset) >> n`, is done
with 10-bit limbs: the limbs of `acc` times the limbs of `m` are one FULLY_CONNECTED (products below
2^20), then a carry chain and a Horner sum give the floor exactly.

    g = Graph("description")
    x = g.input([1, 8], np.int8, quant=(0.1, 12))
    xf = g.cast(x, np.float32)
    y = g.requant_sat8(xf, bound=255, m=1518500250, n=37)     # sat8((x * m + 2^36) >> 37)
    g.output(g.cast(y, np.int8)); data = g.finish()
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from tensorflow.lite.python import schema_py_generated as S

from fastgrnn_tf.export.tflite_writer import add_buffer, pack_model

LIMB_BITS = 10
EXACT_LIMIT = 2**24
"""Integers below this magnitude are exact in float32."""

_TYPES = {np.dtype(np.float32): S.TensorType.FLOAT32, np.dtype(np.int32): S.TensorType.INT32,
          np.dtype(np.int8): S.TensorType.INT8, np.dtype(np.int16): S.TensorType.INT16}
_OPTIONS = {  # builtin op -> (options union type, options class)
    "ADD": (S.BuiltinOptions.AddOptions, S.AddOptionsT),
    "SUB": (S.BuiltinOptions.SubOptions, S.SubOptionsT),
    "MUL": (S.BuiltinOptions.MulOptions, S.MulOptionsT),
    "MAXIMUM": (S.BuiltinOptions.MaximumMinimumOptions, S.MaximumMinimumOptionsT),
    "MINIMUM": (S.BuiltinOptions.MaximumMinimumOptions, S.MaximumMinimumOptionsT),
    "FULLY_CONNECTED": (S.BuiltinOptions.FullyConnectedOptions, S.FullyConnectedOptionsT),
    "PACK": (S.BuiltinOptions.PackOptions, S.PackOptionsT),
    "UNPACK": (S.BuiltinOptions.UnpackOptions, S.UnpackOptionsT),
    "GATHER": (S.BuiltinOptions.GatherOptions, S.GatherOptionsT),
    "CAST": (S.BuiltinOptions.CastOptions, S.CastOptionsT),
    "RESHAPE": (S.BuiltinOptions.ReshapeOptions, S.ReshapeOptionsT),
    "SOFTMAX": (S.BuiltinOptions.SoftmaxOptions, S.SoftmaxOptionsT),
    "DEQUANTIZE": (S.BuiltinOptions.DequantizeOptions, S.DequantizeOptionsT),
    "QUANTIZE": (S.BuiltinOptions.QuantizeOptions, S.QuantizeOptionsT),
    "ABS": (S.BuiltinOptions.AbsOptions, S.AbsOptionsT),
    "FLOOR": (0, None),
}


def limb_count(bound: int) -> int:
    """Limbs for an integer with |x| <= bound: all but the top in [0, 2^10), the top signed, |top| <= 2^10."""
    return max(1, math.ceil(int(bound).bit_length() / LIMB_BITS))


def _digits(value: int, count: int) -> list[int]:
    """Base-2^10 digits of an integer, low first; the top digit carries the sign and the rest."""
    out = [(value >> (LIMB_BITS * k)) & (2**LIMB_BITS - 1) for k in range(count - 1)]
    return out + [value >> (LIMB_BITS * (count - 1))]


class Graph:
    """A one-subgraph `.tflite` under construction (schema object API), with exact integer helpers."""

    def __init__(self, description: str) -> None:
        self.model = S.ModelT()
        self.model.version, self.model.description = 3, description
        self.model.buffers = [S.BufferT()]  # buffer 0: the empty sentinel
        self.model.operatorCodes = []
        self.sg = S.SubGraphT()
        self.sg.tensors, self.sg.operators, self.sg.inputs, self.sg.outputs = [], [], [], []
        self.sg.name = "main"
        self.model.subgraphs = [self.sg]
        self.shapes: list[tuple[int, ...]] = []
        self._codes: dict[str, int] = {}
        self._consts: dict[tuple, int] = {}

    # ------------------------------------------------------------------------------------------
    # Tensors and operators.
    def tensor(self, shape: Sequence[int], dtype: type = np.float32, name: str = "",
               data: np.ndarray | None = None, quant: tuple[float, int] | None = None) -> int:
        t = S.TensorT()
        t.name, t.type, t.shape = name, _TYPES[np.dtype(dtype)], np.asarray(list(shape), np.int32)
        t.buffer = 0 if data is None else add_buffer(self.model, np.asarray(data, dtype))
        if quant is not None:
            q = S.QuantizationParametersT()
            q.scale, q.zeroPoint, q.quantizedDimension = [float(quant[0])], [int(quant[1])], 0
            t.quantization = q
        self.sg.tensors.append(t)
        self.shapes.append(tuple(int(s) for s in shape))
        return len(self.sg.tensors) - 1

    def const(self, values: np.ndarray | float | Sequence, dtype: type = np.float32, name: str = "",
              quant: tuple[float, int] | None = None) -> int:
        """A constant tensor (identical constants share one tensor); scalars become shape [1]."""
        arr = np.asarray(values, dtype)
        if arr.ndim == 0:
            arr = arr.reshape(1)
        key = (arr.dtype.str, arr.shape, arr.tobytes(), quant)
        if key not in self._consts:
            self._consts[key] = self.tensor(arr.shape, dtype, name, data=arr, quant=quant)
        return self._consts[key]

    def input(self, shape: Sequence[int], dtype: type, name: str, quant: tuple[float, int] | None = None) -> int:
        i = self.tensor(shape, dtype, name, quant=quant)
        self.sg.inputs.append(i)
        return i

    def output(self, index: int) -> None:
        self.sg.outputs.append(index)

    def op(self, name: str, inputs: Sequence[int], outputs: Sequence[int], **options: object) -> None:
        if name not in self._codes:
            code = S.OperatorCodeT()
            code.builtinCode = getattr(S.BuiltinOperator, name)
            code.deprecatedBuiltinCode = min(code.builtinCode, 127)
            code.version = 1
            self.model.operatorCodes.append(code)
            self._codes[name] = len(self.model.operatorCodes) - 1
        op = S.OperatorT()
        op.opcodeIndex = self._codes[name]
        op.inputs, op.outputs = np.asarray(inputs, np.int32), np.asarray(outputs, np.int32)
        union, cls = _OPTIONS.get(name, (0, None))
        op.builtinOptionsType = union
        if cls is not None:
            opt = cls()
            for k, v in options.items():
                setattr(opt, k, v)
            op.builtinOptions = opt
        self.sg.operators.append(op)

    def _binary(self, name: str, a: int, b: int | float | np.ndarray) -> int:
        """`b`: a tensor index (python int) or a float / float array constant."""
        bi = self.const(b) if not isinstance(b, (int, np.integer)) else b
        shape = np.broadcast_shapes(self.shapes[a], self.shapes[bi])
        out = self.tensor(shape)
        self.op(name, [a, bi], [out])
        return out

    # Elementwise float32 ops. A python float / array operand becomes a constant.
    def add(self, a: int, b: int | float | np.ndarray) -> int:
        return self._binary("ADD", a, b)

    def sub(self, a: int, b: int | float | np.ndarray) -> int:
        return self._binary("SUB", a, b)

    def mul(self, a: int, b: int | float | np.ndarray) -> int:
        return self._binary("MUL", a, b)

    def minimum(self, a: int, b: int | float | np.ndarray) -> int:
        return self._binary("MINIMUM", a, b)

    def maximum(self, a: int, b: int | float | np.ndarray) -> int:
        return self._binary("MAXIMUM", a, b)

    def _unary(self, name: str, x: int, dtype: type = np.float32, **options: object) -> int:
        out = self.tensor(self.shapes[x], dtype)
        self.op(name, [x], [out], **options)
        return out

    def floor(self, x: int) -> int:
        return self._unary("FLOOR", x)

    def abs(self, x: int) -> int:
        return self._unary("ABS", x)

    def cast(self, x: int, dtype: type) -> int:
        src = self.sg.tensors[x].type
        return self._unary("CAST", x, dtype, inDataType=src, outDataType=_TYPES[np.dtype(dtype)])

    def clip(self, x: int, lo: float, hi: float) -> int:
        return self.maximum(self.minimum(x, float(hi)), float(lo))

    def reshape(self, x: int, shape: Sequence[int]) -> int:
        shape = [int(s) for s in shape]
        if math.prod(shape) != math.prod(self.shapes[x]):
            raise ValueError(f"reshape {self.shapes[x]} -> {shape}: element counts differ")
        out = self.tensor(shape, _np_type(self.sg.tensors[x].type))
        self.op("RESHAPE", [x, self.const(shape, np.int32)], [out], newShape=shape)
        return out

    def gather(self, table: int, indices: int) -> int:
        out = self.tensor(self.shapes[indices])
        self.op("GATHER", [table, indices], [out], axis=0, batchDims=0)
        return out

    def pack(self, xs: Sequence[int], axis: int) -> int:
        shape = list(self.shapes[xs[0]])
        shape.insert(axis if axis >= 0 else len(shape) + 1 + axis, len(xs))
        out = self.tensor(shape)
        self.op("PACK", list(xs), [out], valuesCount=len(xs), axis=axis)
        return out

    def unpack(self, x: int, axis: int) -> list[int]:
        shape = list(self.shapes[x])
        num = shape.pop(axis)
        outs = [self.tensor(shape, _np_type(self.sg.tensors[x].type)) for _ in range(num)]
        self.op("UNPACK", [x], outs, num=num, axis=axis)
        return outs

    def fully_connected(self, x: int, weights: int, bias: int | None) -> int:
        """float FULLY_CONNECTED: x [..., in] (flattened to [N, in]) times weights [out, in]."""
        out_dim, in_dim = self.shapes[weights]
        if self.shapes[x][-1] != in_dim:
            raise ValueError(f"fully_connected: input {self.shapes[x]} does not match weights {self.shapes[weights]}")
        n = math.prod(self.shapes[x]) // in_dim
        out = self.tensor([n, out_dim])
        self.op("FULLY_CONNECTED", [x, weights, -1 if bias is None else bias], [out],
                fusedActivationFunction=0, weightsFormat=0, keepNumDims=False, asymmetricQuantizeInputs=False)
        return out

    def int8_weights(self, w: np.ndarray, name: str) -> int:
        """Constant int8 weights [out, in], turned into float32 integers by DEQUANTIZE (scale 1)."""
        q = self.const(np.asarray(w, np.int8), np.int8, name, quant=(1.0, 0))
        out = self.tensor(self.shapes[q])
        self.op("DEQUANTIZE", [q], [out])
        return out

    def finish(self) -> bytes:
        return pack_model(self.model)

    # ------------------------------------------------------------------------------------------
    # Exact integer helpers (values: integers in float32 tensors).
    def floor_shift(self, x: int, k: int) -> int:
        """floor(x / 2^k) for k >= 1 (multiplying by 2^-k is exact)."""
        return self.floor(self.mul(x, 2.0**-k))

    def limbs(self, x: int, bound: int) -> list[int]:
        """Base-2^10 limbs of x (|x| <= bound), low first: x = sum_j limb_j 2^(10 j)."""
        count = limb_count(bound)
        if bound >= EXACT_LIMIT:
            raise ValueError(f"limbs: bound {bound} is not exact in float32 (>= 2^24)")
        floors = [x] + [self.floor_shift(x, LIMB_BITS * j) for j in range(1, count)]
        out = [self.sub(floors[j], self.mul(floors[j + 1], float(2**LIMB_BITS))) for j in range(count - 1)]
        return out + [floors[-1]]

    def fixed_mul(self, terms: Sequence[tuple[Sequence[int], int]], n: int, offset: int = 0) -> int:
        """floor((sum_t x_t * m_t + offset) / 2^n), exact, for terms (limbs of x_t, m_t >= 0).

        The limbs are all shaped like the first one; the result is too. Exact while the result is
        below 2^23 in magnitude; beyond that it keeps its sign and size (callers saturate)."""
        if n < 0:
            raise ValueError(f"fixed_mul: n must be >= 0, got {n}")
        t = (-n) % LIMB_BITS           # align the shift on a limb boundary: m << t, n + t = 10 q
        q = (n + t) // LIMB_BITS
        cols, col_digits, count = [], [], 0
        for limbs, m in terms:
            if m < 0:
                raise ValueError(f"fixed_mul: multipliers must be >= 0, got {m}")
            md = _digits(int(m) << t, max(1, math.ceil((int(m) << t).bit_length() / LIMB_BITS)))
            for i, limb in enumerate(limbs):
                cols.append(limb)
                col_digits.append((i, md))
                count = max(count, i + len(md))
        if len(cols) > 15:
            raise ValueError(f"fixed_mul: {len(cols)} limb columns would overflow float32 sums")
        off = int(offset) << t
        count = max(count, q + 1, math.ceil(abs(off).bit_length() / LIMB_BITS) + 1)
        w = np.zeros((count, len(cols)), np.float32)
        for c, (i, md) in enumerate(col_digits):
            for j, d in enumerate(md):
                w[i + j, c] = d
        shape = self.shapes[cols[0]]
        packed = self.pack(cols, axis=len(shape))
        c_limbs = self.unpack(self.fully_connected(packed, self.const(w), self.const(_digits(off, count))), 1)
        carry = None
        for k in range(min(q, count)):
            s = c_limbs[k] if carry is None else self.add(c_limbs[k], carry)
            carry = self.floor_shift(s, LIMB_BITS)
        if q >= count:
            res = self.floor_shift(carry, LIMB_BITS * (q - count)) if q > count else carry
        else:
            res = c_limbs[count - 1]
            for k in range(count - 2, q - 1, -1):
                res = self.add(self.mul(res, float(2**LIMB_BITS)), c_limbs[k])
            if carry is not None:
                res = self.add(res, carry)
        return self.reshape(res, shape)

    def requant_sat8(self, x: int, bound: int, m: int, n: int) -> int:
        """The spec's `sat8(requant(x, m, n))` = sat8((x * m + 2^(n-1)) >> n)."""
        return self.clip(self.fixed_mul([(self.limbs(x, bound), m)], n, 1 << (n - 1)), -128, 127)

    def multiply_by_quantized_multiplier(self, acc: int, bound: int, m: int, shift: int) -> int:
        """TFLite's MultiplyByQuantizedMultiplier with double rounding (what TFLM and the head oracle do):
        SaturatingRoundingDoublingHighMul(acc * 2^left, m), then RoundingDivideByPOT(., right)."""
        left, right = max(shift, 0), max(-shift, 0)
        if bound * 2**left >= EXACT_LIMIT:
            raise ValueError(f"accumulator bound {bound} * 2^{left} is not exact in float32")
        a = self.mul(acc, float(2**left)) if left else acc
        bound <<= left
        # High mul: round half away from zero of a*m / 2^31 =
        #   sign(a) * floor((|a| m + 2^30 - [a < 0]) / 2^31) = sign(a) * floor((|a| m + [a >= 0] + 2^30 - 1) / 2^31)
        nonneg = self.clip(self.add(a, 1.0), 0, 1)
        mag = self.fixed_mul([(self.limbs(self.abs(a), bound), m), ([nonneg], 1)], 31, 2**30 - 1)
        hm = self.mul(mag, self.clip(a, -1, 1))
        if right == 0:
            return hm
        # RoundingDivideByPOT: floor((hm + 2^(right-1) - [hm < 0]) / 2^right).
        neg = self.clip(self.mul(hm, -1.0), 0, 1)
        return self.floor_shift(self.sub(self.add(hm, float(2 ** (right - 1))), neg), right)


def _np_type(tflite_type: int) -> type:
    return {v: k.type for k, v in _TYPES.items()}[tflite_type]
