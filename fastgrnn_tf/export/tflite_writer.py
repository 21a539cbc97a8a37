"""Writing `.tflite` flatbuffers with the schema object API: serialization with 16-byte aligned byte
vectors, buffers and tensors, and the splice of the FastGRNN custom op (`int8_step_spec.md`, "The
custom operator") in front of an int8 head model.

    data = splice_fastgrnn(head_tflite, int8_params, time_steps=1)   # features -> FastGRNN -> head
    data = pack_model(model_t)                                         # any schema ModelT -> bytes
"""

from __future__ import annotations

import flatbuffers
import numpy as np
from flatbuffers import flexbuffers
from tensorflow.lite.python import schema_py_generated as S

from fastgrnn_tf.int8.oracle import CUSTOM_CODE, Int8Params
from fastgrnn_tf.int8.sparse_weights import prefer_sparse, to_bitmap_sparse


class _AlignedBuilder(flatbuffers.Builder):
    """Byte vectors (buffers, custom options) aligned to 16 bytes, as the TFLite converter does."""

    def CreateNumpyVector(self, x: np.ndarray) -> int:  # noqa: N802 (flatbuffers API name)
        if x.dtype == np.uint8 and x.ndim == 1:
            self.StartVector(1, x.size, 16)
            self.head = self.head - x.size
            self.Bytes[self.head:self.head + x.size] = x.tobytes()
            self.vectorNumElems = x.size
            return self.EndVector()
        return super().CreateNumpyVector(x)


def pack_model(model: S.ModelT) -> bytes:
    """Serialize a schema ModelT with the 'TFL3' identifier."""
    builder = _AlignedBuilder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def add_buffer(model: S.ModelT, arr: np.ndarray | None) -> int:
    buf = S.BufferT()
    if arr is not None:
        raw = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()
        buf.data = np.frombuffer(raw, np.uint8)
    model.buffers.append(buf)
    return len(model.buffers) - 1


def quant_params(scale: float, zp: int) -> S.QuantizationParametersT:
    q = S.QuantizationParametersT()
    q.scale, q.zeroPoint, q.quantizedDimension = [float(scale)], [int(zp)], 0
    return q


def add_tensor(model: S.ModelT, name: str, ttype: int, shape: list[int], data: np.ndarray | None = None,
                quant: S.QuantizationParametersT | None = None, variable: bool = False) -> int:
    sg = model.subgraphs[0]
    t = S.TensorT()
    t.name, t.type, t.shape = name, ttype, np.asarray(shape, np.int32)
    t.buffer = add_buffer(model, data)
    t.quantization, t.isVariable = quant, variable
    sg.tensors.append(t)
    return len(sg.tensors) - 1


def splice_fastgrnn(head_tflite: bytes, p: Int8Params, time_steps: int, batch: int = 1,
                    sparse: bool | str = "auto") -> bytes:
    """Put the FastGRNN custom op in front of an int8 head model (see the module docstring).
    sparse: store pruned matrices bitmap-sparse ("auto": where smaller; True: every matrix with a
    non-zero; False: all dense)."""
    if time_steps < 1 or batch < 1:
        raise ValueError(f"time_steps and batch must be >= 1, got {time_steps}, {batch}")
    if sparse not in (True, False, "auto"):
        raise ValueError(f"sparse must be True, False or 'auto', got {sparse!r}")
    p.validate()
    model = S.ModelT.InitFromObj(S.Model.GetRootAs(head_tflite, 0))
    sg = model.subgraphs[0]
    if len(sg.inputs) != 1:
        raise ValueError("the head model must have exactly one input")
    h_idx = int(sg.inputs[0])
    h_t = sg.tensors[h_idx]
    if h_t.type != S.TensorType.INT8 or [int(s) for s in h_t.shape][-1] != p.units:
        raise ValueError(f"head input must be int8 [..., {p.units}]")
    h_t.shape = np.asarray([batch, p.units], np.int32)
    h_t.name = "fastgrnn/h"
    H, D = p.units, p.input_dim
    I8, I16, I32 = S.TensorType.INT8, S.TensorType.INT16, S.TensorType.INT32
    x = add_tensor(model, "features", I8, [batch, time_steps, D],
                    quant=quant_params(p.input_scale, p.input_zero_point))
    bitmaps = [-1, -1, -1, -1]

    def weight(k: int, name: str, w: np.ndarray | None) -> int:
        if w is None:
            return -1
        if sparse is False or not (prefer_sparse(w) if sparse == "auto" else np.count_nonzero(w) >= 1):
            return add_tensor(model, f"fastgrnn/{name}", I8, list(w.shape), w)
        values, bitmap = to_bitmap_sparse(w)
        bitmaps[k] = add_tensor(model, f"fastgrnn/{name}_bitmap", S.TensorType.UINT8, [bitmap.size], bitmap)
        return add_tensor(model, f"fastgrnn/{name}_values", I8, [values.size], values)

    w1 = weight(0, "W1" if p.w_rank else "W", p.w1)
    w2 = weight(1, "W2", p.w2 if p.w_rank else None)
    u1 = weight(2, "U1" if p.u_rank else "U", p.u1)
    u2 = weight(3, "U2", p.u2 if p.u_rank else None)
    bz = add_tensor(model, "fastgrnn/bias_z", I32, [H], p.bias_z)
    bh = add_tensor(model, "fastgrnn/bias_h", I32, [H], p.bias_h)
    gl = add_tensor(model, "fastgrnn/gate_lut", I16, [256], p.gate_lut)
    ul = add_tensor(model, "fastgrnn/update_lut", I16, [256], p.update_lut)
    st = add_tensor(model, "fastgrnn/state", I8, [batch, H], None, quant_params(1 / 128, 0), variable=True)

    code = S.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = S.BuiltinOperator.CUSTOM
    code.customCode, code.version = CUSTOM_CODE, 1
    model.operatorCodes.append(code)
    op = S.OperatorT()
    op.opcodeIndex = len(model.operatorCodes) - 1
    inputs = [x, w1, w2, u1, u2, bz, bh, gl, ul, st] + (bitmaps if max(bitmaps) >= 0 else [])
    op.inputs = np.asarray(inputs, np.int32)
    op.outputs = np.asarray([h_idx], np.int32)
    opts = {**p.options(), "return_sequences": False}
    op.customOptions = np.frombuffer(bytes(flexbuffers.Dumps(opts)), np.uint8)
    op.customOptionsFormat = S.CustomOptionsFormat.FLEXBUFFERS
    op.builtinOptionsType = 0
    sg.operators.insert(0, op)
    sg.inputs = np.asarray([x], np.int32)
    for sig in model.signatureDefs or []:
        for tm in sig.inputs or []:
            if tm.tensorIndex == h_idx:
                tm.tensorIndex, tm.name = x, "features"
    model.description = "FastGRNN int8 (custom op) + int8 head"
    return pack_model(model)
