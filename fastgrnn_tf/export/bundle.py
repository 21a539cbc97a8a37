"""Writer and reader of the `.fgb` model bundle (`bundle_spec.md`): named numpy arrays in one file.

    write_bundle(path, {"vec.x": x_int8, "input.scale": np.float32(0.1), "classes": "yes\\nno"})
    arrays = read_bundle(path)                          # dict name -> numpy array (text = uint8)
    write_fastgrnn(path, params, extra={"vec.x": x})    # Int8Params (+ input quant) + your arrays
    params = read_fastgrnn(path)                        # -> Int8Params (also accepts a read dict)
    fastgrnn_arrays(params) -> dict                     # the `fastgrnn.*` + `input.*` entries only

Value conversion on write: numpy arrays keep their dtype (int8, int16, int32, float32, uint8; bool
becomes uint8; int64/float64 arrays are rejected, cast them yourself); Python `bool`/`int` scalars become
int32 scalars, `float` float32 scalars, `str` uint8 UTF-8 text; numpy scalars keep their dtype.
Writes are atomic (temp file + os.replace).
"""

from __future__ import annotations

import math
import os
import struct
from collections.abc import Mapping

import numpy as np

from fastgrnn_tf.atomic_io import atomic_write_bytes
from fastgrnn_tf.int8.oracle import OPTION_KEYS, Int8Params

MAGIC = b"FGB1"
_MAX_DIM = 2**31 - 1  # numpy's limit on one dimension
DTYPES = {1: np.dtype("<i1"), 2: np.dtype("<i2"), 3: np.dtype("<i4"), 4: np.dtype("<f4"), 5: np.dtype("u1")}
_CODES = {(dt.kind, dt.itemsize): code for code, dt in DTYPES.items()}
TEXT_OPTIONS = ("gate_activation", "update_activation")


def _code_of(name: str, dtype: np.dtype) -> int:
    code = _CODES.get((dtype.kind, dtype.itemsize))
    if code is None:
        raise ValueError(f"bundle entry {name!r}: unsupported dtype {dtype} "
                         "(use int8, int16, int32, float32 or uint8)")
    return code


def _to_array(name: str, value) -> np.ndarray:
    if isinstance(value, str):
        return np.frombuffer(value.encode("utf-8"), np.uint8)
    if isinstance(value, (bool, int)) and not isinstance(value, np.generic):
        if not -(2**31) <= int(value) < 2**31:
            raise ValueError(f"bundle entry {name!r}: int {value} does not fit int32")
        return np.asarray(int(value), np.int32)
    if isinstance(value, float):
        return np.asarray(value, np.float32)
    arr = np.asarray(value)
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8)
    _code_of(name, arr.dtype)
    if arr.ndim > 4:
        raise ValueError(f"bundle entry {name!r}: at most 4 dims, got {arr.ndim}")
    return arr


def encode_bundle(arrays: Mapping[str, object]) -> bytes:
    """The bytes of a bundle holding `arrays` (in the mapping's order)."""
    parts = [MAGIC, struct.pack("<I", len(arrays))]
    for name, value in arrays.items():
        if not isinstance(name, str) or not name or not name.isascii():
            raise ValueError(f"bundle entry names must be non-empty ASCII strings, got {name!r}")
        raw = name.encode("ascii")
        if len(raw) > 0xFFFF:
            raise ValueError(f"bundle entry name too long: {name[:40]}...")
        arr = _to_array(name, value)
        code = _code_of(name, arr.dtype)
        parts.append(struct.pack("<H", len(raw)) + raw + struct.pack("<BB", code, arr.ndim))
        parts.append(struct.pack(f"<{arr.ndim}I", *arr.shape))
        parts.append(np.ascontiguousarray(arr, DTYPES[code]).tobytes())
    return b"".join(parts)


def write_bundle(path: str | os.PathLike, arrays: Mapping[str, object]) -> None:
    """Write a bundle file atomically."""
    atomic_write_bytes(path, encode_bundle(arrays))


def decode_bundle(data: bytes, label: str = "<bytes>") -> dict[str, np.ndarray]:
    """Parse bundle bytes; ValueError naming `label` and the entry on any format error."""
    if data[:4] != MAGIC:
        raise ValueError(f"{label}: not a FastGRNN bundle (bad magic {data[:4]!r}, expected {MAGIC!r})")
    if len(data) < 8:
        raise ValueError(f"{label}: truncated header ({len(data)} of 8 bytes)")
    (count,) = struct.unpack_from("<I", data, 4)
    pos, out = 8, {}
    for index in range(count):
        where = f"{label}: entry {index}"
        if pos + 2 > len(data):
            raise ValueError(f"{where}: truncated (no name length)")
        (nlen,) = struct.unpack_from("<H", data, pos)
        pos += 2
        if pos + nlen + 2 > len(data):
            raise ValueError(f"{where}: truncated name")
        try:
            name = data[pos:pos + nlen].decode("ascii")
        except UnicodeDecodeError as e:
            raise ValueError(f"{where}: name is not ASCII") from e
        where = f"{label}: entry {index} {name!r}"
        pos += nlen
        code, ndim = data[pos], data[pos + 1]
        pos += 2
        if code not in DTYPES:
            raise ValueError(f"{where}: unknown dtype code {code}")
        if ndim > 4:
            raise ValueError(f"{where}: ndim {ndim} > 4")
        if pos + 4 * ndim > len(data):
            raise ValueError(f"{where}: truncated dims")
        dims = struct.unpack_from(f"<{ndim}I", data, pos)
        pos += 4 * ndim
        if any(d > _MAX_DIM for d in dims):  # an empty array (a 0 dim) passes the size check below
            raise ValueError(f"{where}: dims {list(dims)} out of range (each <= {_MAX_DIM})")
        nbytes = math.prod(dims) * DTYPES[code].itemsize  # Python ints: no overflow on huge dims
        if pos + nbytes > len(data):
            raise ValueError(f"{where}: truncated data ({len(data) - pos} of {nbytes} bytes)")
        if name in out:
            raise ValueError(f"{where}: duplicate name")
        n = math.prod(dims)
        out[name] = np.frombuffer(data, DTYPES[code], n, pos).reshape(dims).copy()
        pos += nbytes
    if pos != len(data):
        raise ValueError(f"{label}: {len(data) - pos} trailing bytes after {count} entries")
    return out


def read_bundle(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a bundle file into a dict name -> array (text entries are uint8 arrays; see `text`)."""
    with open(path, "rb") as f:
        data = f.read()
    return decode_bundle(data, os.fspath(path))


def text(arr: np.ndarray, name: str = "") -> str:
    """A uint8 text entry as str (ValueError naming the entry `name` if it is not uint8 UTF-8 text)."""
    arr = np.asarray(arr)
    what = f"entry {name!r}" if name else "a text entry"
    if arr.dtype != np.uint8:
        raise ValueError(f"{what} must be uint8 UTF-8 bytes, got {arr.dtype}")
    try:
        return arr.tobytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{what} is not UTF-8 ({e.reason} at byte {e.start})") from e


def scalar(arrays: Mapping[str, np.ndarray], name: str, label: str = "bundle") -> int | float:
    """The first value of entry `name` as a Python int (integer entries) or float; ValueError naming `label`
    and the entry when it is missing, empty, or a float that is not finite where an int is expected."""
    if name not in arrays:
        raise ValueError(f"{label}: missing entry {name!r}")
    flat = np.asarray(arrays[name]).reshape(-1)
    if flat.size == 0:
        raise ValueError(f"{label}: entry {name!r} is empty")
    value = flat[0]
    return int(value) if np.issubdtype(flat.dtype, np.integer) else float(value)


# ----------------------------------------------------------------------------------------------
def fastgrnn_arrays(p: Int8Params) -> dict[str, object]:
    """The `fastgrnn.*` and `input.*` entries of `bundle_spec.md` for an int8 step."""
    p.validate()
    d: dict[str, object] = {"fastgrnn.w1": p.w1}
    if p.w2 is not None:
        d["fastgrnn.w2"] = p.w2
    d["fastgrnn.u1"] = p.u1
    if p.u2 is not None:
        d["fastgrnn.u2"] = p.u2
    d.update({"fastgrnn.bias_z": p.bias_z, "fastgrnn.bias_h": p.bias_h,
              "fastgrnn.gate_lut": p.gate_lut, "fastgrnn.update_lut": p.update_lut})
    for key, value in p.options().items():
        d[f"fastgrnn.opt.{key}"] = value if isinstance(value, str) else int(value)
    d["input.scale"] = np.float32(p.input_scale)
    d["input.zero_point"] = np.int32(p.input_zero_point)
    return d


def write_fastgrnn(path: str | os.PathLike, p: Int8Params, extra: Mapping[str, object] | None = None) -> None:
    """Write an int8 step (+ input quantization) and any `extra` entries (e.g. `vec.*`) to a bundle."""
    arrays = fastgrnn_arrays(p)
    for name, value in (extra or {}).items():
        if name in arrays:
            raise ValueError(f"extra entry {name!r} collides with a fastgrnn entry")
        arrays[name] = value
    write_bundle(path, arrays)


def read_fastgrnn(source: str | os.PathLike | Mapping[str, np.ndarray]) -> Int8Params:
    """Int8Params from a bundle file or an already-read dict."""
    arrays = source if isinstance(source, Mapping) else read_bundle(source)
    label = "bundle" if isinstance(source, Mapping) else os.fspath(source)

    def need(name: str) -> np.ndarray:
        if name not in arrays:
            raise ValueError(f"{label}: missing entry {name!r}")
        return arrays[name]

    def integer(name: str) -> int:
        value = scalar(arrays, name, label)
        if not isinstance(value, int):
            raise ValueError(f"{label}: entry {name!r} must be an integer, got {value}")
        return value

    opts = {}
    for key in OPTION_KEYS:
        name = f"fastgrnn.opt.{key}"
        if key in TEXT_OPTIONS:
            try:
                opts[key] = text(need(name))
            except ValueError as e:
                raise ValueError(e if str(e).startswith(label) else f"{label}: entry {name!r}: {e}") from e
        else:
            opts[key] = integer(name)
    if opts["version"] != 1:
        raise ValueError(f"{label}: unsupported fastgrnn.opt.version {opts['version']}")
    p = Int8Params(
        input_dim=opts["input_dim"], units=opts["units"], w_rank=opts["w_rank"], u_rank=opts["u_rank"],
        input_zero_point=integer("input.zero_point"),
        w1=need("fastgrnn.w1"), w2=arrays.get("fastgrnn.w2"),
        u1=need("fastgrnn.u1"), u2=arrays.get("fastgrnn.u2"),
        bias_z=need("fastgrnn.bias_z"), bias_h=need("fastgrnn.bias_h"),
        gate_lut=need("fastgrnn.gate_lut"), update_lut=need("fastgrnn.update_lut"),
        v_multiplier=opts["v_multiplier"], v_shift=opts["v_shift"], u_multiplier=opts["u_multiplier"],
        u_shift=opts["u_shift"], pre_w_multiplier=opts["pre_w_multiplier"],
        pre_u_multiplier=opts["pre_u_multiplier"], pre_shift=opts["pre_shift"],
        zeta_q15=opts["zeta_q15"], nu_q15=opts["nu_q15"],
        input_scale=float(scalar(arrays, "input.scale", label)),
        gate_activation=opts["gate_activation"], update_activation=opts["update_activation"],
        return_sequences=bool(opts["return_sequences"]),
    )
    try:
        p.validate()
    except ValueError as e:
        raise ValueError(f"{label}: {e}") from e
    return p
