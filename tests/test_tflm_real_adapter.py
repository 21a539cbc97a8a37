"""Opt-in: the TFLM adapter compiled against a real TFLM and run in the tflite-micro Python interpreter.

TFLM is never vendored, downloaded or built here, so this test only runs when the environment
points at a TFLM source tree you provide:

    TFLM_DIR=/path/to/tflite-micro  [FLATBUFFERS_INCLUDE=/dir/containing/flatbuffers]  \\
        .venv/bin/python -m pytest -q tests/test_tflm_real_adapter.py

TFLM_DIR must be the TFLM version the pip package `tflite-micro` in the venv was built from (same
struct layouts and MicroContext virtual table); flexbuffers.h comes from FLATBUFFERS_INCLUDE or the
system (/usr/include/flatbuffers, Debian: libflatbuffers-dev). The test builds a shared library
(tflm_app/tflm/fastgrnn_op.cc + python/python_registerer.cc + the reference int8 core) with the
system C++ compiler, linked against the interpreter's own _runtime.so with `-z defs` (so every TFLM symbol the
adapter needs must exist there, with the same C++ signature), loads it RTLD_GLOBAL so the
interpreter's dlsym finds `FastGRNNRegisterer`, and checks against the numpy oracle:
- window models (T = 98) and streaming models (T = 1, state kept between invokes, reset() clears it)
  for a dense, a low-rank and a pruned model: the FastGRNN op output and the head's logits are
  identical to fastgrnn_tf.int8.oracle / head_oracle, the softmax output within 1 LSB; the pruned
  model's matrices are stored bitmap-sparse (op inputs 10-13, spec "Sparse-stored weights"), so the
  adapter's expansion in Prepare runs in the real interpreter; the other two are stored dense (10 inputs);
- malformed models (a wrong option key, a wrong weight type, a wrong bitmap type, a bitmap whose set
  bits do not match the stored values) fail with the adapter's MicroPrintf message.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
TFLM_DIR = os.environ.get("TFLM_DIR", "")
FLATBUFFERS_INCLUDE = os.environ.get("FLATBUFFERS_INCLUDE", "")
REGISTERER = "FastGRNNRegisterer"
SOURCES = [ROOT / "tflm_app" / "tflm" / "fastgrnn_op.cc",
           ROOT / "tflm_app" / "tflm" / "python" / "python_registerer.cc",
           ROOT / "tflm_app" / "fastgrnn" / "fastgrnn_int8_common.cc",
           ROOT / "tflm_app" / "fastgrnn" / "fastgrnn_int8_reference.cc"]


def _flexbuffers_dir() -> Path | None:
    for d in ([FLATBUFFERS_INCLUDE] if FLATBUFFERS_INCLUDE else []) + ["/usr/include"]:
        if (Path(d) / "flatbuffers" / "flexbuffers.h").is_file():
            return Path(d)
    return None


def _skip_reason() -> str | None:
    if not TFLM_DIR:
        return "set TFLM_DIR to a TFLM source checkout (root containing tensorflow/lite/micro) to run this test"
    if not (Path(TFLM_DIR) / "tensorflow" / "lite" / "micro").is_dir():
        return f"TFLM_DIR={TFLM_DIR} has no tensorflow/lite/micro"
    if _flexbuffers_dir() is None:
        return "flatbuffers/flexbuffers.h not found (set FLATBUFFERS_INCLUDE or install libflatbuffers-dev)"
    if shutil.which("c++") is None:
        return "no system C++ compiler (c++)"
    try:
        import tflite_micro.python.tflite_micro._runtime  # noqa: F401
    except ImportError as e:
        return f"tflite-micro Python package not importable: {e}"
    return None


pytestmark = pytest.mark.skipif(_skip_reason() is not None, reason=str(_skip_reason()))

H, D, CLASSES, T_WINDOW = 16, 10, 4, 98


@pytest.fixture(scope="module")
def fastgrnn_lib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Builds and loads (RTLD_GLOBAL) the adapter library; returns its path."""
    from tflite_micro.python.tflite_micro import _runtime

    runtime_so = Path(_runtime.__file__).resolve()
    out = tmp_path_factory.mktemp("tflm_real") / "libfastgrnn_tflm.so"
    include = [f"-isystem{TFLM_DIR}"]
    flex = _flexbuffers_dir()
    if flex is not None and flex != Path("/usr/include"):  # -isystem /usr/include breaks #include_next
        include.append(f"-isystem{flex}")
    cmd = ["c++", "-std=c++17", "-O2", "-fPIC", "-shared", "-Wall", "-Wextra", "-Werror", "-fno-exceptions",
           "-fno-rtti", "-fvisibility=hidden", "-fvisibility-inlines-hidden", *include, *map(str, SOURCES),
           "-Wl,-z,defs", "-Wl,--no-as-needed", str(runtime_so), f"-Wl,-rpath,{runtime_so.parent}", "-o", str(out)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, f"{' '.join(cmd)}\n{res.stderr[-6000:]}"
    ctypes.CDLL(str(out), mode=ctypes.RTLD_GLOBAL)  # the interpreter finds the registerer via dlsym
    return out


def _model(kind: str, seed: int):
    """A small keras FastGRNN classifier: dense, low-rank, or low-rank with 70 % of each matrix pruned."""
    import tf_keras as keras

    from fastgrnn_tf import FastGRNNCell

    keras.utils.set_random_seed(seed)
    ranks = {"dense": (None, None), "lowrank": (4, 6), "pruned": (6, 8)}[kind]
    inp = keras.Input((T_WINDOW, D))
    rnn = keras.layers.RNN(FastGRNNCell(H, w_rank=ranks[0], u_rank=ranks[1]))
    model = keras.Model(inp, keras.layers.Dense(CLASSES, activation="softmax")(rnn(inp)))
    if kind == "pruned":
        for w in rnn.cell.weights:
            if w.name.split("/")[-1].split(":")[0] in ("W", "U", "W1", "W2", "U1", "U2"):
                v = w.numpy()
                v[np.abs(v) < np.quantile(np.abs(v), 0.7)] = 0
                w.assign(v)
    return model


@pytest.fixture(scope="module", params=["dense", "lowrank", "pruned"])
def exported(request: pytest.FixtureRequest) -> dict:
    from fastgrnn_tf.export.custom_op import export_custom_tflite

    seed = {"dense": 11, "lowrank": 12, "pruned": 13}[request.param]
    model = _model(request.param, seed)
    rng = np.random.default_rng(seed)
    calib = rng.integers(-128, 40, (16, T_WINDOW, D)).astype(np.int8)
    sparse = request.param == "pruned"  # every pruned matrix bitmap-sparse; the others dense
    window = export_custom_tflite(model, calib, calibrate=True, time_steps=T_WINDOW, sparse=sparse)
    stream = export_custom_tflite(model, calib, calibrate=True, time_steps=1, sparse=sparse)
    for data in (window.tflite, stream.tflite):
        _check_storage(data, sparse)
    return {"kind": request.param, "window": window.tflite, "stream": stream.tflite, "rng": rng}


def _check_storage(data: bytes, sparse: bool) -> None:
    """Sparse: 14 inputs, every weight input (1-4) int8 1-D values with a uint8 bitmap (10-13); dense: 10 inputs."""
    from tensorflow.lite.python import schema_py_generated as S

    from fastgrnn_tf.export import tflite_reader as R

    model, _ = R.read_model(data)
    op = R.find_fastgrnn_op(model, "model")
    tensors = model.subgraphs[0].tensors
    assert len(op.inputs) == (14 if sparse else 10), list(op.inputs)
    if sparse:
        for k in range(4):
            values, bitmap = tensors[int(op.inputs[1 + k])], tensors[int(op.inputs[10 + k])]
            assert values.type == S.TensorType.INT8 and len(values.shape) == 1
            assert bitmap.type == S.TensorType.UINT8 and len(bitmap.shape) == 1


def _interpreter(data: bytes):
    from tflite_micro.python.tflite_micro import runtime

    return runtime.Interpreter.from_bytes(data, custom_op_registerers=[REGISTERER],
                                          intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors)


def _tensors(data: bytes) -> tuple[int, int]:
    """(FastGRNN output tensor index, logits tensor index) in subgraph 0."""
    from fastgrnn_tf.export import tflite_reader as R

    model, _ = R.read_model(data)
    op = R.find_fastgrnn_op(model, "model")
    h_idx = int(op.outputs[0])
    _, logits_idx, _ = R.head_from_fc_ops(model, h_idx)
    return h_idx, logits_idx


def _check_row(interp, m, data_idx: tuple[int, int], h_ref: np.ndarray, counts: dict) -> None:
    """One invoke's FastGRNN output, logits and softmax output against the oracle."""
    from fastgrnn_tf.int8.head_oracle import run_head, softmax_int8

    h_idx, logits_idx = data_idx
    h = np.asarray(interp.GetTensor(h_idx, 0)["tensor_data"]).reshape(-1)
    logits = np.asarray(interp.GetTensor(logits_idx, 0)["tensor_data"]).reshape(-1)
    out = np.asarray(interp.get_output(0)).reshape(-1)
    logits_ref = run_head(m.head, h_ref[None, :])[0]
    out_ref = softmax_int8(logits_ref[None, :], m.logit_scale, m.logit_zero_point, m.output_scale,
                           m.output_zero_point)[0]
    np.testing.assert_array_equal(h, h_ref)
    np.testing.assert_array_equal(logits, logits_ref)
    diff = np.abs(out.astype(np.int32) - out_ref.astype(np.int32))
    assert diff.max() <= 1, (out, out_ref)  # softmax: TFLM's exp differs from numpy's in the last bit
    counts["out_off_by_1"] += int(np.count_nonzero(diff))
    counts["h"] += h.size
    counts["logits"] += logits.size
    counts["out"] += out.size


def test_window_model_equals_the_oracle(fastgrnn_lib: Path, exported: dict) -> None:
    from fastgrnn_tf.export import tflite_reader as R
    from fastgrnn_tf.int8 import oracle as O

    data = exported["window"]
    m = R.read_exported(data)
    assert m.time_steps == T_WINDOW and (m.fastgrnn.w_rank > 0) == (exported["kind"] != "dense")
    interp = _interpreter(data)
    idx = _tensors(data)
    x = exported["rng"].integers(-128, 60, (6, T_WINDOW, D)).astype(np.int8)
    counts = {"h": 0, "logits": 0, "out": 0, "out_off_by_1": 0}
    for row in x:  # reset() before each window: the oracle starts from zeros
        interp.reset()
        interp.set_input(row[None], 0)
        interp.invoke()
        h_ref, _ = O.run(m.fastgrnn, row)
        _check_row(interp, m, idx, h_ref, counts)
    # Without reset() the state carries over to the next window (spec: only the caller resets it).
    h_prev = None
    interp.reset()
    for row in x[:3]:
        interp.set_input(row[None], 0)
        interp.invoke()
        h_ref, h_prev = O.run(m.fastgrnn, row, h_prev)
        _check_row(interp, m, idx, h_ref, counts)
    print(f"{exported['kind']} window: compared {counts}")


def test_streaming_model_equals_the_oracle(fastgrnn_lib: Path, exported: dict) -> None:
    from fastgrnn_tf.export import tflite_reader as R
    from fastgrnn_tf.int8 import oracle as O

    data = exported["stream"]
    m = R.read_exported(data)
    assert m.time_steps == 1
    interp = _interpreter(data)
    idx = _tensors(data)
    seq = exported["rng"].integers(-128, 60, (40, D)).astype(np.int8)
    seq_ref, _ = O.run(m.fastgrnn, seq, return_sequences=True)
    counts = {"h": 0, "logits": 0, "out": 0, "out_off_by_1": 0}
    for _ in range(2):  # the second pass after reset() must repeat the first exactly
        interp.reset()
        for t in range(len(seq)):
            interp.set_input(seq[t][None, None], 0)
            interp.invoke()
            _check_row(interp, m, idx, seq_ref[t], counts)
    print(f"{exported['kind']} streaming: compared {counts}")


def _mutated(data: bytes, fn) -> bytes:
    from tensorflow.lite.python import schema_py_generated as S

    from fastgrnn_tf.export.tflite_writer import pack_model

    model = S.ModelT.InitFromObj(S.Model.GetRootAs(data, 0))
    fn(model)
    return pack_model(model)


def _fastgrnn_op(model):
    from fastgrnn_tf.export import tflite_reader as R

    return R.find_fastgrnn_op(model, "model")


def _rename_option(model) -> None:
    from flatbuffers import flexbuffers

    op = _fastgrnn_op(model)
    opts = flexbuffers.Loads(bytes(op.customOptions))
    opts["unitz"] = opts.pop("units")
    op.customOptions = np.frombuffer(bytes(flexbuffers.Dumps(opts)), np.uint8)


def _weight_as_int16(model) -> None:
    from tensorflow.lite.python import schema_py_generated as S

    op = _fastgrnn_op(model)
    model.subgraphs[0].tensors[int(op.inputs[1])].type = S.TensorType.INT16  # W/W1, same bytes


def _bitmap_as_int8(model) -> None:
    from tensorflow.lite.python import schema_py_generated as S

    op = _fastgrnn_op(model)
    model.subgraphs[0].tensors[int(op.inputs[12])].type = S.TensorType.INT8  # U1's bitmap, same bytes


def _bitmap_bit_flipped(model) -> None:
    op = _fastgrnn_op(model)
    t = model.subgraphs[0].tensors[int(op.inputs[10])]  # W1's bitmap: one set bit more or fewer
    data = np.array(model.buffers[t.buffer].data, np.uint8)
    data[0] ^= 1
    model.buffers[t.buffer].data = data


@pytest.mark.parametrize("kind, mutate, message", [
    ("lowrank", _rename_option, "FastGRNN: custom option 'units': missing"),
    ("lowrank", _weight_as_int16, "FastGRNN: W/W1 (input 1) has type INT16, expected INT8"),
    ("pruned", _bitmap_as_int8, "FastGRNN: U/U1 bitmap (input 12) has type INT8, expected UINT8"),
    ("pruned", _bitmap_bit_flipped,
     "the number of set bitmap bits differs from the number of stored values"),
])
def test_malformed_model_fails_with_the_adapter_message(fastgrnn_lib: Path, exported: dict, kind: str, mutate,
                                                        message: str, capfd: pytest.CaptureFixture) -> None:
    if exported["kind"] != kind:
        pytest.skip("one model is enough")
    bad = _mutated(exported["stream"], mutate)
    with pytest.raises(RuntimeError, match="failed to allocate tensors"):  # Prepare fails in AllocateTensors
        _interpreter(bad)
    captured = capfd.readouterr()
    assert message in captured.out + captured.err
    assert "Node FastGRNN (number 0) failed to prepare" in captured.out + captured.err
