"""Opt-in: the TFLM adapter compiled against a real TFLM checkout and run in its MicroInterpreter.

TFLM is never vendored, downloaded or built by `make test`, so this test only runs when the
environment points at a TFLM source tree you provide, with its third-party downloads (flatbuffers,
gemmlowp, ruy, kissfft in tensorflow/lite/micro/tools/make/downloads, as TFLM's Makefile lays them out;
or TFLM_DOWNLOADS=<dir>):

    TFLM_DIR=/path/to/tflite-micro .venv/bin/python -m pytest -q tests/test_tflm_real_adapter.py

`make -C tflm_app/tflm/real` builds build/tflm_real/libtflm_fastgrnn.so from that checkout (TFLM's
interpreter and the head's kernels, tflm_app/tflm/real/tflm_runner.cc, tflm_app/tflm/fastgrnn_op.cc with
-Wall -Wextra -Werror and the reference int8 core; linked with -z defs, so every TFLM symbol the adapter
uses must exist in the checkout with the same signature); no pip `tflite-micro` is needed, so any
checkout the adapter supports can be tested. The test drives it through ctypes and checks against the
numpy oracle:
- window models (T = 98) and streaming models (T = 1, state kept between invokes, reset() clears it)
  for a dense, a low-rank and a pruned model: the FastGRNN op output and the head's logits are
  identical to fastgrnn_tf.int8.oracle / head_oracle, the softmax output within 1 LSB; the pruned
  model's matrices are stored bitmap-sparse (op inputs 10-13, spec "Sparse-stored weights"), so the
  adapter's expansion in Prepare runs in the real interpreter; the other two are stored dense (10 inputs);
- malformed models (a wrong option key, a wrong weight type, a wrong bitmap type, a bitmap whose set
  bits do not match the stored values) fail AllocateTensors with the adapter's MicroPrintf message.
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
TFLM_DOWNLOADS = os.environ.get("TFLM_DOWNLOADS", "")
RUNNER_DIR = ROOT / "tflm_app" / "tflm" / "real"
ARENA_BYTES = 256 * 1024


def _downloads() -> Path:
    return Path(TFLM_DOWNLOADS) if TFLM_DOWNLOADS else Path(TFLM_DIR) / "tensorflow/lite/micro/tools/make/downloads"


def _skip_reason() -> str | None:
    if not TFLM_DIR:
        return "set TFLM_DIR to a TFLM source checkout (root containing tensorflow/lite/micro) to run this test"
    if not (Path(TFLM_DIR) / "tensorflow" / "lite" / "micro").is_dir():
        return f"TFLM_DIR={TFLM_DIR} has no tensorflow/lite/micro"
    for need in ("flatbuffers/include/flatbuffers/flexbuffers.h", "gemmlowp/fixedpoint/fixedpoint.h"):
        if not (_downloads() / need).is_file():
            return f"{_downloads() / need} missing: TFLM's third-party downloads (or set TFLM_DOWNLOADS)"
    if shutil.which("c++") is None or shutil.which("make") is None:
        return "no system C++ compiler (c++) or make"
    return None


pytestmark = pytest.mark.skipif(_skip_reason() is not None, reason=str(_skip_reason()))

H, D, CLASSES, T_WINDOW = 16, 10, 4, 98


@pytest.fixture(scope="module")
def fastgrnn_lib() -> ctypes.CDLL:
    """Builds (incrementally, in build/tflm_real) and loads the runner library against TFLM_DIR."""
    out = ROOT / "build" / "tflm_real"
    cmd = ["make", "-s", "-C", str(RUNNER_DIR), f"TFLM_DIR={TFLM_DIR}", f"OUT={out}", "-j2"]
    if TFLM_DOWNLOADS:
        cmd.append(f"TFLM_DOWNLOADS={TFLM_DOWNLOADS}")
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    assert res.returncode == 0, f"{' '.join(cmd)}\n{res.stdout[-3000:]}\n{res.stderr[-6000:]}"
    lib = ctypes.CDLL(str(out / "libtflm_fastgrnn.so"))
    vp, sz = ctypes.c_void_p, ctypes.c_size_t
    lib.fgr_create.restype, lib.fgr_create.argtypes = vp, [ctypes.c_char_p, sz, sz]
    lib.fgr_destroy.argtypes = [vp]
    lib.fgr_input.argtypes = [vp, ctypes.c_int, vp, sz]
    lib.fgr_invoke.argtypes = lib.fgr_reset.argtypes = [vp]
    lib.fgr_tensor.restype = lib.fgr_output.restype = ctypes.c_long
    lib.fgr_tensor.argtypes = lib.fgr_output.argtypes = [vp, ctypes.c_int, vp, sz]
    return lib


class MicroRunner:
    """The MicroInterpreter of tflm_runner.cc (every tensor preserved) holding one model."""

    def __init__(self, lib: ctypes.CDLL, data: bytes) -> None:
        self.lib = lib
        self.handle = lib.fgr_create(data, len(data), ARENA_BYTES)
        if not self.handle:
            raise RuntimeError("failed to allocate tensors (AllocateTensors failed; see the MicroPrintf output)")

    def __del__(self) -> None:
        if getattr(self, "handle", None):
            self.lib.fgr_destroy(self.handle)

    def reset(self) -> None:
        assert self.lib.fgr_reset(self.handle) == 0

    def set_input(self, x: np.ndarray, index: int) -> None:
        x = np.ascontiguousarray(x)
        assert self.lib.fgr_input(self.handle, index, x.ctypes.data, x.nbytes) == 0, "input size mismatch"

    def invoke(self) -> None:
        assert self.lib.fgr_invoke(self.handle) == 0, "Invoke failed"

    def tensor(self, index: int, count: int) -> np.ndarray:
        out = np.zeros(count, np.int8)
        assert self.lib.fgr_tensor(self.handle, index, out.ctypes.data, out.nbytes) == count, index
        return out

    def output(self, count: int) -> np.ndarray:
        out = np.zeros(count, np.int8)
        assert self.lib.fgr_output(self.handle, 0, out.ctypes.data, out.nbytes) == count
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


def _interpreter(lib: ctypes.CDLL, data: bytes) -> MicroRunner:
    return MicroRunner(lib, data)


def _tensors(data: bytes) -> tuple[int, int]:
    """(FastGRNN output tensor index, logits tensor index) in subgraph 0."""
    from fastgrnn_tf.export import tflite_reader as R

    model, _ = R.read_model(data)
    op = R.find_fastgrnn_op(model, "model")
    h_idx = int(op.outputs[0])
    _, logits_idx, _ = R.head_from_fc_ops(model, h_idx)
    return h_idx, logits_idx


def _check_row(interp: MicroRunner, m, data_idx: tuple[int, int], h_ref: np.ndarray, counts: dict) -> None:
    """One invoke's FastGRNN output, logits and softmax output against the oracle."""
    from fastgrnn_tf.int8.head_oracle import run_head, softmax_int8

    h_idx, logits_idx = data_idx
    h = interp.tensor(h_idx, h_ref.size)
    logits = interp.tensor(logits_idx, CLASSES)
    out = interp.output(CLASSES)
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


def test_window_model_equals_the_oracle(fastgrnn_lib: ctypes.CDLL, exported: dict) -> None:
    from fastgrnn_tf.export import tflite_reader as R
    from fastgrnn_tf.int8 import oracle as O

    data = exported["window"]
    m = R.read_exported(data)
    assert m.time_steps == T_WINDOW and (m.fastgrnn.w_rank > 0) == (exported["kind"] != "dense")
    interp = _interpreter(fastgrnn_lib, data)
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


def test_streaming_model_equals_the_oracle(fastgrnn_lib: ctypes.CDLL, exported: dict) -> None:
    from fastgrnn_tf.export import tflite_reader as R
    from fastgrnn_tf.int8 import oracle as O

    data = exported["stream"]
    m = R.read_exported(data)
    assert m.time_steps == 1
    interp = _interpreter(fastgrnn_lib, data)
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
def test_malformed_model_fails_with_the_adapter_message(fastgrnn_lib: ctypes.CDLL, exported: dict, kind: str, mutate,
                                                        message: str, capfd: pytest.CaptureFixture) -> None:
    if exported["kind"] != kind:
        pytest.skip("one model is enough")
    bad = _mutated(exported["stream"], mutate)
    with pytest.raises(RuntimeError, match="failed to allocate tensors"):  # Prepare fails in AllocateTensors
        _interpreter(fastgrnn_lib, bad)
    captured = capfd.readouterr()
    assert message in captured.out + captured.err
    assert "Node FastGRNN (number 0) failed to prepare" in captured.out + captured.err
