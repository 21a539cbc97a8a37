"""Read an exported `.tflite` (FastGRNN custom op + int8 head) back into oracle parameters.

    m = read_exported("model.tflite")          # ExportedModel: fastgrnn Int8Params, head layers, quant
    logits, h = run_model(m, features_int8)    # fastgrnn_tf.int8.model runs it

Everything the oracle uses comes from the file's tensors and options, nothing from Keras.
Also `read_model` / `operator_names` / `head_from_fc_ops` for any int8 `.tflite` (builtin export).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from flatbuffers import flexbuffers
from tensorflow.lite.python import schema_py_generated as S

from fastgrnn_tf.int8.head_oracle import HeadLayer, fc_multiplier
from fastgrnn_tf.int8.model import ExportedModel
from fastgrnn_tf.int8.oracle import CUSTOM_CODE, OPTION_KEYS, Int8Params
from fastgrnn_tf.int8.sparse_weights import bitmap_bytes, from_bitmap_sparse

NUMPY_TYPES = {S.TensorType.INT8: np.int8, S.TensorType.INT16: np.int16, S.TensorType.INT32: np.int32,
               S.TensorType.UINT8: np.uint8, S.TensorType.FLOAT32: np.float32, S.TensorType.INT64: np.int64}
TYPE_NAMES = {v: k for k, v in vars(S.TensorType).items() if not k.startswith("_")}
BUILTIN_NAMES = {v: k for k, v in vars(S.BuiltinOperator).items() if not k.startswith("_")}
SHAPE_OPS = ("RESHAPE", "SQUEEZE")
TEXT_OPTIONS = ("gate_activation", "update_activation")


# ----------------------------------------------------------------------------------------------
def read_model(source: bytes | str | os.PathLike) -> tuple[S.ModelT, str]:
    """Parse a `.tflite` (bytes or path) into the schema object API; ValueError for a foreign/corrupt file."""
    if isinstance(source, (bytes, bytearray)):
        data, label = bytes(source), "<tflite bytes>"
    else:
        label = os.fspath(source)
        with open(source, "rb") as f:
            data = f.read()
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ValueError(f"{label}: not a TFLite flatbuffer (missing 'TFL3' identifier)")
    try:
        model = S.ModelT.InitFromObj(S.Model.GetRootAs(data, 0))
        for buf in model.buffers or []:
            if buf.offset:
                raise ValueError("external buffers (offset/size) are not supported")
    except ValueError as e:
        raise ValueError(f"{label}: {e}") from e
    except Exception as e:  # flatbuffers raises struct/index errors on truncated data
        raise ValueError(f"{label}: cannot parse the TFLite flatbuffer (truncated or corrupt): "
                         f"{type(e).__name__}: {e}") from e
    if not model.subgraphs:
        raise ValueError(f"{label}: the model has no subgraph")
    try:
        _check_graph(model)
    except ValueError as e:
        raise ValueError(f"{label}: {e}") from e
    return model, label


def _check_graph(model: S.ModelT) -> None:
    """Every index of the first subgraph in range and every shape a list of dims >= 0, so that the
    lookups below cannot fail on a corrupt file (ValueError naming the operator or tensor)."""
    sg = model.subgraphs[0]
    sg.tensors, sg.operators = sg.tensors or [], sg.operators or []
    n_tensors, n_codes, n_buffers = len(sg.tensors), len(model.operatorCodes or []), len(model.buffers or [])
    for i, t in enumerate(sg.tensors):
        t.shape = np.asarray(t.shape if t.shape is not None else [], np.int32).reshape(-1)
        if (t.shape < 0).any():
            raise ValueError(f"tensor {i} ({_tname(t)}) has a negative dimension in shape {t.shape.tolist()}")
        if not 0 <= t.buffer < max(n_buffers, 1):
            raise ValueError(f"tensor {i} ({_tname(t)}) refers to buffer {t.buffer} of {n_buffers}")
    for k, op in enumerate(sg.operators):
        if not 0 <= op.opcodeIndex < n_codes:
            raise ValueError(f"operator {k} has opcode index {op.opcodeIndex} of {n_codes} operator codes")
        op.inputs = np.asarray(op.inputs if op.inputs is not None else [], np.int32).reshape(-1)
        op.outputs = np.asarray(op.outputs if op.outputs is not None else [], np.int32).reshape(-1)
        for what, idx, low in (("input", op.inputs, -1), ("output", op.outputs, 0)):
            bad = [int(i) for i in idx if not low <= i < n_tensors]
            if bad:
                raise ValueError(f"operator {k} ({_op_name(model, op)}) {what} tensor index {bad[0]} "
                                 f"out of range (the subgraph has {n_tensors} tensors)")
    for what in ("inputs", "outputs"):
        idx = np.asarray(getattr(sg, what) if getattr(sg, what) is not None else [], np.int32).reshape(-1)
        setattr(sg, what, idx)
        bad = [int(i) for i in idx if not 0 <= i < n_tensors]
        if bad:
            raise ValueError(f"subgraph {what[:-1]} tensor index {bad[0]} out of range ({n_tensors} tensors)")
    if not len(sg.outputs):
        raise ValueError("the subgraph has no output tensor")


def _op_name(model: S.ModelT, op: S.OperatorT) -> str:
    code = model.operatorCodes[op.opcodeIndex]
    builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
    if builtin == S.BuiltinOperator.CUSTOM:
        cc = code.customCode
        return cc.decode("utf-8", "replace") if isinstance(cc, bytes) else str(cc)
    return BUILTIN_NAMES.get(builtin, f"BUILTIN_{builtin}")


def is_custom(model: S.ModelT, op: S.OperatorT) -> bool:
    code = model.operatorCodes[op.opcodeIndex]
    return max(code.builtinCode, code.deprecatedBuiltinCode) == S.BuiltinOperator.CUSTOM


def operator_names(model: S.ModelT) -> list[str]:
    """Names of the first subgraph's operators in execution order (custom ops by custom code)."""
    return [_op_name(model, op) for op in model.subgraphs[0].operators or []]


def tensor_data(model: S.ModelT, index: int) -> np.ndarray | None:
    """A constant tensor's data as a numpy array of its type and shape (None if it has no data)."""
    t = model.subgraphs[0].tensors[index]
    buf = model.buffers[t.buffer] if t.buffer < len(model.buffers) else None
    if buf is None or buf.data is None or len(buf.data) == 0:
        return None
    if t.type not in NUMPY_TYPES:
        raise ValueError(f"tensor {index} ({_tname(t)}): unsupported type {TYPE_NAMES.get(t.type, t.type)}")
    shape = [int(s) for s in (t.shape if t.shape is not None else [])]
    raw = np.asarray(buf.data, np.uint8).tobytes()
    if len(raw) % np.dtype(NUMPY_TYPES[t.type]).itemsize:
        raise ValueError(f"tensor {index} ({_tname(t)}): {len(raw)} data bytes are not a whole number of "
                         f"{TYPE_NAMES[t.type]} values")
    arr = np.frombuffer(raw, NUMPY_TYPES[t.type])
    if arr.size != int(np.prod(shape)):
        raise ValueError(f"tensor {index} ({_tname(t)}): buffer holds {arr.size} values, shape {shape}")
    return arr.reshape(shape).copy()


def _tname(t: S.TensorT) -> str:
    return t.name.decode("utf-8", "replace") if isinstance(t.name, bytes) else str(t.name)


def tensor_quant(model: S.ModelT, index: int, what: str) -> tuple[float, int]:
    """Per-tensor (scale, zero_point); ValueError if absent or per-channel."""
    t = model.subgraphs[0].tensors[index]
    q = t.quantization
    if q is None or q.scale is None or len(q.scale) == 0:
        raise ValueError(f"{what} (tensor {_tname(t)!r}) has no quantization parameters")
    if len(q.scale) != 1:
        raise ValueError(f"{what} (tensor {_tname(t)!r}) is per-channel quantized; per-tensor is required")
    zp = int(q.zeroPoint[0]) if q.zeroPoint is not None and len(q.zeroPoint) else 0
    scale = float(q.scale[0])
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"{what} (tensor {_tname(t)!r}) has scale {scale}; it must be finite and > 0")
    if not -(2**31) <= zp < 2**31:
        raise ValueError(f"{what} (tensor {_tname(t)!r}) has zero point {zp} outside int32")
    return scale, zp


def _expect(model: S.ModelT, index: int, what: str, dtype: int, shape: Sequence[int] | None = None) -> None:
    if index < 0:
        raise ValueError(f"FastGRNN op: {what} is absent")
    t = model.subgraphs[0].tensors[index]
    if t.type != dtype:
        raise ValueError(f"FastGRNN op: {what} (tensor {_tname(t)!r}) must be {TYPE_NAMES[dtype]}, "
                         f"got {TYPE_NAMES.get(t.type, t.type)}")
    if shape is not None and [int(s) for s in t.shape] != list(shape):
        raise ValueError(f"FastGRNN op: {what} (tensor {_tname(t)!r}) must have shape {list(shape)}, "
                         f"got {[int(s) for s in t.shape]}")


# ----------------------------------------------------------------------------------------------
def head_from_fc_ops(model: S.ModelT, start_tensor: int) -> tuple[list[HeadLayer], int, list[str]]:
    """Follow the int8 FULLY_CONNECTED chain consuming `start_tensor` (through RESHAPE/SQUEEZE) up to
    SOFTMAX or the graph output. Returns (layers, index of the logits tensor, op names walked)."""
    sg = model.subgraphs[0]
    consumers: dict[int, list[S.OperatorT]] = {}
    for op in sg.operators:
        for i in op.inputs:
            if i >= 0:
                consumers.setdefault(int(i), []).append(op)
    layers: list[HeadLayer] = []
    walked: list[str] = []
    cur = start_tensor
    seen = set()
    while True:
        if cur in seen:
            raise ValueError(f"head: the operators after tensor {start_tensor} form a cycle at tensor {cur}")
        seen.add(cur)
        ops = consumers.get(cur, [])
        if not ops:
            break
        if len(ops) > 1:
            raise ValueError(f"head: tensor {cur} feeds {len(ops)} operators; expected a chain")
        op = ops[0]
        name = _op_name(model, op)
        if name == "SOFTMAX":
            walked.append(name)
            break
        if name not in SHAPE_OPS and name != "FULLY_CONNECTED":
            raise ValueError(f"head: unsupported operator {name} (only FULLY_CONNECTED, RESHAPE, SOFTMAX)")
        if len(op.outputs) != 1 or len(op.inputs) < (1 if name in SHAPE_OPS else 2):
            raise ValueError(f"head: {name} has {len(op.inputs)} inputs and {len(op.outputs)} outputs")
        if name in SHAPE_OPS:
            walked.append(name)
            cur = int(op.outputs[0])
            continue
        inp, wi = int(op.inputs[0]), int(op.inputs[1])
        bi = int(op.inputs[2]) if len(op.inputs) > 2 else -1
        out = int(op.outputs[0])
        for idx, what in ((inp, "FC input"), (wi, "FC weights"), (out, "FC output")):
            if sg.tensors[idx].type != S.TensorType.INT8:
                raise ValueError(f"head: {what} (tensor {_tname(sg.tensors[idx])!r}) must be INT8")
        w = tensor_data(model, wi)
        if w is None or w.ndim != 2:
            raise ValueError("head: FC weights must be a constant 2-D tensor")
        s_in, zp_in = tensor_quant(model, inp, "FC input")
        s_w, zp_w = tensor_quant(model, wi, "FC weights")
        s_out, zp_out = tensor_quant(model, out, "FC output")
        if zp_w != 0:
            raise ValueError("head: FC weights must have zero point 0")
        if bi >= 0:
            bias = tensor_data(model, bi) if sg.tensors[bi].type == S.TensorType.INT32 else None
            if bias is None or bias.size != w.shape[0]:
                raise ValueError(f"head: FC bias must be a constant INT32 tensor of {w.shape[0]} values")
            bias = bias.reshape(-1)
        else:
            bias = np.zeros(w.shape[0], np.int32)
        if op.builtinOptions is not None and not isinstance(op.builtinOptions, S.FullyConnectedOptionsT):
            raise ValueError(f"head: FULLY_CONNECTED has options of type {type(op.builtinOptions).__name__[:-1]}")
        act = op.builtinOptions.fusedActivationFunction if op.builtinOptions is not None else 0
        if act not in (S.ActivationFunctionType.NONE, S.ActivationFunctionType.RELU):
            raise ValueError(f"head: unsupported fused activation {act} (NONE or RELU only)")
        if layers and w.shape[1] != layers[-1].weights.shape[0]:
            raise ValueError(f"head: FC layer {len(layers)} takes {w.shape[1]} values, the layer before gives "
                             f"{layers[-1].weights.shape[0]}")
        m, sh = fc_multiplier(s_in, s_w, s_out)
        layers.append(HeadLayer(w.astype(np.int8), bias, zp_in, zp_out, m, sh,
                                relu=act == S.ActivationFunctionType.RELU, input_scale=s_in,
                                output_scale=s_out))
        layers[-1].validate()
        walked.append(name)
        cur = out
    if not layers:
        raise ValueError("head: no FULLY_CONNECTED layer after the recurrent part")
    return layers, cur, walked


def find_fastgrnn_op(model: S.ModelT, label: str) -> S.OperatorT:
    ops = [op for op in model.subgraphs[0].operators or [] if is_custom(model, op)]
    fg = [op for op in ops if _op_name(model, op) == CUSTOM_CODE]
    others = sorted({_op_name(model, op) for op in ops} - {CUSTOM_CODE})
    if others:
        raise ValueError(f"{label}: unexpected custom operator(s) {others}; only {CUSTOM_CODE} is supported")
    if not fg:
        raise ValueError(f"{label}: no {CUSTOM_CODE} custom operator in the model")
    if len(fg) > 1:
        raise ValueError(f"{label}: {len(fg)} {CUSTOM_CODE} operators; exactly one is supported")
    return fg[0]


def parse_options(op: S.OperatorT, label: str) -> dict:
    """The FastGRNN op's flexbuffer options, with every key of `OPTION_KEYS` checked."""
    if op.customOptions is None or len(op.customOptions) == 0:
        raise ValueError(f"{label}: {CUSTOM_CODE} op has no custom options")
    try:
        opts = flexbuffers.Loads(bytes(np.asarray(op.customOptions, np.uint8)))
    except Exception as e:
        raise ValueError(f"{label}: {CUSTOM_CODE} custom options are not a flexbuffer map: {e}") from e
    if not isinstance(opts, dict):
        raise ValueError(f"{label}: {CUSTOM_CODE} custom options are not a flexbuffer map")
    missing = [k for k in OPTION_KEYS if k not in opts]
    if missing:
        raise ValueError(f"{label}: {CUSTOM_CODE} options miss {missing}")
    for key in OPTION_KEYS:
        want = str if key in TEXT_OPTIONS else (bool, int)
        if not isinstance(opts[key], want) or (want is str and not opts[key].isascii()):
            raise ValueError(f"{label}: {CUSTOM_CODE} option {key!r} must be "
                             f"{'an ASCII string' if want is str else 'an integer'}, got {opts[key]!r:.60}")
        if want is not str and not -(2**31) <= opts[key] < 2**31:
            raise ValueError(f"{label}: {CUSTOM_CODE} option {key!r} = {opts[key]} does not fit int32")
    if opts["version"] != 1:
        raise ValueError(f"{label}: {CUSTOM_CODE} options version {opts['version']} unsupported (need 1)")
    return opts


def read_exported(source: bytes | str | os.PathLike) -> ExportedModel:
    """Oracle parameters from a custom-op `.tflite` (see the module docstring)."""
    model, label = read_model(source)
    sg = model.subgraphs[0]
    op = find_fastgrnn_op(model, label)
    opts = parse_options(op, label)
    ins = [int(i) for i in op.inputs]
    if len(ins) not in (10, 14) or len(op.outputs) != 1:
        raise ValueError(f"{label}: {CUSTOM_CODE} op must have 10 inputs (14 with weight bitmaps) and 1 output, "
                         f"got {len(ins)} and {len(op.outputs)}")
    H, D, rw, ru = (int(opts[k]) for k in ("units", "input_dim", "w_rank", "u_rank"))
    bitmaps = ins[10:] if len(ins) == 14 else [-1] * 4
    shapes = [[rw, D] if rw else [H, D], [H, rw] if rw else None, [ru, H] if ru else [H, H], [H, ru] if ru else None]
    names = ["W1" if rw else "W", "W2", "U1" if ru else "U", "U2"]
    try:
        _expect(model, ins[0], "input x", S.TensorType.INT8)
        x_shape = [int(s) for s in sg.tensors[ins[0]].shape]
        if len(x_shape) != 3 or x_shape[2] != D:
            raise ValueError(f"FastGRNN op: input x must be [B, T, {D}], got {x_shape}")
        for k in range(4):
            if shapes[k] is None:
                if ins[1 + k] >= 0 or bitmaps[k] >= 0:
                    raise ValueError(f"FastGRNN op: {names[k]} (and its bitmap) must be absent (-1) at full rank")
            elif bitmaps[k] >= 0:
                _expect(model, bitmaps[k], f"{names[k]} bitmap", S.TensorType.UINT8,
                        [bitmap_bytes(*shapes[k])])
                _expect(model, ins[1 + k], f"{names[k]} values", S.TensorType.INT8)
            else:
                _expect(model, ins[1 + k], names[k], S.TensorType.INT8, shapes[k])
        _expect(model, ins[5], "bias_z", S.TensorType.INT32, [H])
        _expect(model, ins[6], "bias_h", S.TensorType.INT32, [H])
        _expect(model, ins[7], "gate_lut", S.TensorType.INT16, [256])
        _expect(model, ins[8], "update_lut", S.TensorType.INT16, [256])
        _expect(model, ins[9], "hidden state", S.TensorType.INT8, [x_shape[0], H])
        if not sg.tensors[ins[9]].isVariable:
            raise ValueError("FastGRNN op: the hidden state tensor must be a variable tensor")
        _expect(model, int(op.outputs[0]), "output", S.TensorType.INT8)
        s_x, z_x = tensor_quant(model, ins[0], "FastGRNN input")
        s_h, z_h = tensor_quant(model, int(op.outputs[0]), "FastGRNN output")
        if abs(s_h - 1 / 128) > 1e-9 or z_h != 0:
            raise ValueError(f"FastGRNN op: output must have scale 1/128 and zero point 0, got {s_h}, {z_h}")
    except ValueError as e:
        raise ValueError(f"{label}: {e}") from e

    def const(i: int, what: str) -> np.ndarray | None:
        if i < 0:
            return None
        try:
            arr = tensor_data(model, i)
        except ValueError as e:
            raise ValueError(f"{label}: FastGRNN {what}: {e}") from e
        if arr is None:
            raise ValueError(f"{label}: FastGRNN {what} tensor has no constant data")
        return arr

    def weight(k: int) -> np.ndarray | None:
        if shapes[k] is None:
            return None
        if bitmaps[k] < 0:
            return const(ins[1 + k], names[k])
        try:
            return from_bitmap_sparse(const(ins[1 + k], names[k] + " values"), const(bitmaps[k], names[k] + " bitmap"),
                                      *shapes[k], what=f"FastGRNN {names[k]}")
        except ValueError as e:
            raise ValueError(f"{label}: {e}") from e

    p = Int8Params(
        input_dim=D, units=H, w_rank=rw, u_rank=ru, input_zero_point=z_x,
        w1=weight(0), w2=weight(1), u1=weight(2), u2=weight(3),
        bias_z=const(ins[5], "bias_z"), bias_h=const(ins[6], "bias_h"),
        gate_lut=const(ins[7], "gate_lut"), update_lut=const(ins[8], "update_lut"),
        **{k: int(opts[k]) for k in ("v_multiplier", "v_shift", "u_multiplier", "u_shift", "pre_w_multiplier",
                                     "pre_u_multiplier", "pre_shift", "zeta_q15", "nu_q15")},
        input_scale=s_x, gate_activation=str(opts["gate_activation"]),
        update_activation=str(opts["update_activation"]), return_sequences=bool(opts["return_sequences"]),
    )
    try:
        p.validate()
    except ValueError as e:
        raise ValueError(f"{label}: {e}") from e
    try:
        head, logits_idx, walked = head_from_fc_ops(model, int(op.outputs[0]))
        if head[0].weights.shape[1] != H:
            raise ValueError(f"head: the first FC layer takes {head[0].weights.shape[1]} values, the "
                             f"FastGRNN state has {H}")
        l_scale, l_zp = tensor_quant(model, logits_idx, "logits")
        o_scale, o_zp = tensor_quant(model, int(sg.outputs[0]), "model output")
    except ValueError as e:
        raise ValueError(f"{label}: {e}") from e
    return ExportedModel(fastgrnn=p, head=head, logit_scale=l_scale, logit_zero_point=l_zp,
                         time_steps=x_shape[1], output_scale=o_scale, output_zero_point=o_zp,
                         operators=operator_names(model))
