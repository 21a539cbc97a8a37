"""Export: custom-op `.tflite`, builtin-only `.tflite`, reader + full int8 oracle, bundle, C array, CLI.

A small QAT FastGRNN is trained on scikit-learn digits (rows = time steps) once per module.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402
from conftest import (  # noqa: E402
    assert_int8_predicts_as_qat,
    check_builtin_runtimes,
    seed_for_test,
    train_until_learned,
)
from tensorflow.lite.python import schema_py_generated as S  # noqa: E402

from fastgrnn_tf import FastGRNNCell, FastRNNCell, qat  # noqa: E402
from fastgrnn_tf.export import bundle as B  # noqa: E402
from fastgrnn_tf.export import tflite_reader as R  # noqa: E402
from fastgrnn_tf.export.builtin import export_builtin_tflite  # noqa: E402
from fastgrnn_tf.export.c_array import write_c_array  # noqa: E402
from fastgrnn_tf.export.custom_op import export_custom_tflite  # noqa: E402
from fastgrnn_tf.export.size_report import size_report  # noqa: E402
from fastgrnn_tf.export.tflite_writer import pack_model  # noqa: E402
from fastgrnn_tf.int8 import head_oracle as HO  # noqa: E402
from fastgrnn_tf.int8 import model as M  # noqa: E402
from fastgrnn_tf.int8 import oracle as O  # noqa: E402

SCALE, ZP = 1 / 64, -64  # digits pixel/16 in [0, 1] -> int8 exactly (4 steps per grey level)
REF = tf.lite.experimental.OpResolverType.BUILTIN_REF


def _q(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x / SCALE) + ZP, -128, 127).astype(np.int8)


def _deq(q: np.ndarray) -> np.ndarray:
    return ((q.astype(np.float32) - ZP) * SCALE).astype(np.float32)


@pytest.fixture(scope="module")
def trained(digits):
    """(float model, QAT model, x_train int8, y_train, x_test int8, y_test)."""
    x_train, y_train, x_test, y_test = digits
    xtr, xte = _q(x_train), _q(x_test)
    # Converges by design, not by a lucky seed: a start that stays at chance (seen once in 4 seed x core
    # variations: FASTGRNN_TEST_SEED=2 on one core) is retrained from the next seed, as kws-train restarts a
    # collapsed stage; the claims below are about export, not about this tiny recipe.
    def fit():
        inp = keras.Input((8, 8))
        h = keras.layers.RNN(FastGRNNCell(32, w_rank=6, u_rank=8))(inp)
        h = keras.layers.Dense(16, activation="relu")(h)
        out = keras.layers.Dense(10, activation="softmax")(h)
        model = keras.Model(inp, out)
        model.compile(keras.optimizers.Adam(0.01, clipnorm=1.0), "sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        hist = model.fit(_deq(xtr), y_train, epochs=12, batch_size=32, verbose=0)
        return model, hist.history["accuracy"][-1]

    model = train_until_learned(fit, 0, above=0.5)
    qm = qat.make_qat_model(model, input_quant=(SCALE, ZP))
    qm.compile(keras.optimizers.Adam(0.002, clipnorm=1.0), "sparse_categorical_crossentropy", metrics=["accuracy"])
    qm.fit(_deq(xtr), y_train, epochs=3, batch_size=32, verbose=0)
    return model, qm, xtr, y_train, xte, y_test


@pytest.fixture(scope="module")
def exported(trained):
    _, qm, xtr, _, _, _ = trained
    return export_custom_tflite(qm, xtr[:300])


@pytest.fixture(scope="module")
def builtin(exported):
    return export_builtin_tflite(exported.tflite)


# ----------------------------------------------------------------------------------------------
def test_custom_model_structure(exported) -> None:
    model, _ = R.read_model(exported.tflite)
    names = R.operator_names(model)
    custom = [n for op, n in zip(model.subgraphs[0].operators, names, strict=True) if R.is_custom(model, op)]
    assert custom == ["FastGRNN"] and names[0] == "FastGRNN"
    assert set(names[1:]) <= {"FULLY_CONNECTED", "SOFTMAX"}
    sg = model.subgraphs[0]
    op = sg.operators[0]
    opts = R.parse_options(op, "m")
    assert sorted(opts) == sorted(O.OPTION_KEYS) and opts["version"] == 1
    assert (opts["units"], opts["input_dim"], opts["w_rank"], opts["u_rank"]) == (32, 8, 6, 8)
    assert opts["return_sequences"] is False and opts["gate_activation"] == "sigmoid"
    ins = [int(i) for i in op.inputs]
    types = [sg.tensors[i].type for i in ins]
    T = S.TensorType
    assert types == [T.INT8, T.INT8, T.INT8, T.INT8, T.INT8, T.INT32, T.INT32, T.INT16, T.INT16, T.INT8]
    shapes = [[1, 8, 8], [6, 8], [32, 6], [8, 32], [32, 8], [32], [32], [256], [256], [1, 32]]
    assert [list(sg.tensors[i].shape) for i in ins] == shapes
    assert sg.tensors[ins[9]].isVariable and not any(sg.tensors[i].isVariable for i in ins[:9])
    assert list(sg.inputs) == [ins[0]]
    q = sg.tensors[ins[0]].quantization
    assert abs(q.scale[0] - SCALE) < 1e-9 and q.zeroPoint[0] == ZP
    assert sg.tensors[int(sg.outputs[0])].type == T.INT8
    m = R.read_exported(exported.tflite)
    np.testing.assert_array_equal(m.fastgrnn.w1, exported.params.w1)
    assert m.fastgrnn.options() == {**exported.params.options(), "return_sequences": False}
    assert len(exported.tflite) % 16 == 0
    # Every constant buffer starts 16-byte aligned in the file (TFLM reads int16/int32 in place).
    raw = bytearray(exported.tflite)
    root, base = S.Model.GetRootAs(raw, 0), np.frombuffer(raw, np.uint8).ctypes.data
    for i in range(root.BuffersLength()):
        if root.Buffers(i).DataLength():
            assert (root.Buffers(i).DataAsNumpy().ctypes.data - base) % 16 == 0


def test_oracle_from_tflite_matches_qat_keras(trained, exported) -> None:
    _, qm, _, _, xte, yte = trained
    m = R.read_exported(exported.tflite)
    pred_int8 = M.predict(m, xte)
    pred_qat = qm.predict(_deq(xte), verbose=0).argmax(-1)
    agree = assert_int8_predicts_as_qat(pred_qat, M.run_model(m, xte)[0])
    acc_int8, acc_qat = float(np.mean(pred_int8 == yte)), float(np.mean(pred_qat == yte))
    print(f"digits: agreement {agree:.4f}, int8 acc {acc_int8:.4f}, QAT keras acc {acc_qat:.4f}")
    assert abs(acc_int8 - acc_qat) <= 0.01
    assert acc_int8 > 0.85
    # Scores for the detector come from the int8 logits.
    logits, _ = M.run_model(m, xte[:20])
    s = M.model_scores(m, logits)
    assert s.dtype == np.uint8 and np.all(np.abs(s.astype(int).sum(-1) - 255) <= 10)


def test_head_in_custom_model_equals_tflite_head(exported) -> None:
    m = R.read_exported(exported.tflite)
    lite = tf.lite.Interpreter(model_content=exported.head_tflite, experimental_op_resolver_type=REF,
                               experimental_preserve_all_tensors=True)
    lite.allocate_tensors()
    hm, _ = R.read_model(exported.head_tflite)
    _, logits_idx, _ = R.head_from_fc_ops(hm, int(hm.subgraphs[0].inputs[0]))
    h = np.random.default_rng(0).integers(-128, 128, (60, 1, 32)).astype(np.int8)
    want = HO.run_head(m.head, h[:, 0], rounding="single")  # pip TFLite: single rounding
    for n in range(len(h)):
        lite.set_tensor(lite.get_input_details()[0]["index"], h[n])
        lite.invoke()
        np.testing.assert_array_equal(lite.get_tensor(logits_idx)[0], want[n])


def test_builtin_model_equals_oracle_in_tflm_and_tflite(trained, exported, builtin) -> None:
    _, _, _, _, xte, _ = trained
    m = R.read_exported(exported.tflite)
    stats = check_builtin_runtimes(builtin, m, xte[:120])
    print(f"builtin-only model on 120 digits clips, (max |diff| LSB, exact fraction) vs the oracle: {stats}")
    assert all(exact >= 0.99 for _, exact in stats.values())


def test_builtin_model_google12_size_window() -> None:
    from fastgrnn_tf.int8.quantize import random_int8_inputs, random_int8_params

    p, _ = random_int8_params(32, 100, 16, 25, keep=0.3, seed=3)
    head, ls, lz = HO.random_head(100, 12, hidden=(32,), seed=4)
    m = M.ExportedModel(fastgrnn=p, head=head, logit_scale=ls, logit_zero_point=lz, time_steps=98,
                        output_scale=1 / 256, output_zero_point=-128, operators=[])
    data = export_builtin_tflite(m)
    stats = check_builtin_runtimes(data, m, random_int8_inputs(32, 98, 12, 7))
    print(f"Google-12-size builtin model (T=98, {len(data)} bytes): {stats}")


def test_builtin_export_errors(trained, exported) -> None:
    with pytest.raises(ValueError, match="FastGRNN"):
        export_builtin_tflite(exported.head_tflite)  # no FastGRNN op
    with pytest.raises(ValueError, match="time_steps"):
        export_builtin_tflite(exported.tflite, time_steps=0)
    with pytest.raises(ValueError):
        export_builtin_tflite(b"not a tflite file")


def test_streaming_export_has_t1_and_same_params(trained, exported) -> None:
    _, qm, xtr, _, xte, _ = trained
    stream = export_custom_tflite(qm, xtr[:300], time_steps=1)
    ms, mw = R.read_exported(stream.tflite), R.read_exported(exported.tflite)
    assert ms.time_steps == 1 and mw.time_steps == 8
    for name in ("w1", "w2", "u1", "u2", "bias_z", "bias_h", "gate_lut", "update_lut"):
        np.testing.assert_array_equal(getattr(ms.fastgrnn, name), getattr(mw.fastgrnn, name))
    # Streaming = one T=1 invoke per frame with the state kept: same final logits as the window.
    h = None
    for t in range(8):
        _, h = O.run(ms.fastgrnn, xte[:5, t:t + 1], h)
    np.testing.assert_array_equal(HO.run_head(ms.head, h), M.run_model(mw, xte[:5])[0])


def test_bundle_from_tflite(tmp_path: Path, exported) -> None:
    from fastgrnn_tf.export.model_bundle import ModelBundle, head_from_arrays, write_model_bundle
    from keyword_spotting.features import FeatureSpec

    path = tmp_path / "model.fgb"
    classes = [str(i) for i in range(10)]
    write_model_bundle(path, ModelBundle.from_model(R.read_exported(exported.tflite), FeatureSpec().to_dict(),
                                                    {"window_frames": 30, "threshold": 160, "keywords": [1, 2]},
                                                    classes))
    arrays = B.read_bundle(path)
    m = R.read_exported(exported.tflite)
    p = B.read_fastgrnn(arrays)
    assert p.options() == m.fastgrnn.options() and p.input_zero_point == ZP
    layers, ls, lz = head_from_arrays(arrays)
    x = np.random.default_rng(2).integers(-128, 128, (30, 32)).astype(np.int8)
    np.testing.assert_array_equal(HO.run_head(layers, x), HO.run_head(m.head, x))
    assert (ls, lz) == (pytest.approx(m.logit_scale), m.logit_zero_point)
    assert B.text(arrays["classes"]).split("\n") == classes
    assert int(arrays["features.n_mels"]) == 32 and arrays["features.quant_scale"].dtype == np.float32
    assert arrays["detector.keywords"].tolist() == [1, 2] and int(arrays["head.num_layers"]) == 2


def test_c_array(tmp_path: Path, exported) -> None:
    h_path, cc_path = write_c_array(exported.tflite, tmp_path)
    src = Path(cc_path).read_text()
    assert "alignas(16) const unsigned char g_model_data[]" in src
    assert f"const unsigned int g_model_data_len = {len(exported.tflite)};" in src
    body = src[src.index("{") + 1:src.index("};")]
    assert bytes(int(b, 16) for b in body.replace("\n", "").split(",") if b.strip()) == exported.tflite
    assert "extern const unsigned char g_model_data[];" in Path(h_path).read_text()


def test_cli(tmp_path: Path, trained) -> None:
    from keyword_spotting import export_cli

    model, _, xtr, _, _, _ = trained
    model_path = tmp_path / "float.keras"
    model.save(model_path)
    np.save(tmp_path / "calib.npy", xtr[:100])
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps({"quant_scale": 0.015625, "quant_offset": 1.0}))  # zero point -64
    out = tmp_path / "out"
    assert export_cli.main([str(model_path), "--out", str(out)]) == 2  # float model, no --calibrate
    args = [str(model_path), "--out", str(out), "--calib", str(tmp_path / "calib.npy"), "--calibrate",
            "--feature-spec", str(spec_path), "--classes", ",".join("0123456789")]
    rc = export_cli.main(args)
    assert rc == 0
    for name in ("model.tflite", "model_builtin.tflite", "model_builtin_stream.tflite", "model_data.cc",
                 "model_data.h", "model.fgb", "size_report.json"):
        assert (out / name).stat().st_size > 0, name
    report = json.loads((out / "size_report.json").read_text())
    assert report["tflite_bytes"] == (out / "model.tflite").stat().st_size
    m = R.read_exported(out / "model.tflite")
    assert m.input_zero_point == ZP and m.time_steps == 8
    acc = float(np.mean(M.predict(m, xtr[:300]) == trained[3][:300]))
    assert acc > 0.8


def test_cli_qat_h5(tmp_path: Path, trained, exported) -> None:
    import warnings

    from keyword_spotting import export_cli

    _, qm, xtr, _, xte, _ = trained
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        qm.save(tmp_path / "qat.h5")  # QAT models are saved as .h5 (fastgrnn_tf.qat)
    np.save(tmp_path / "calib.npy", xtr[:300])
    out = tmp_path / "out"
    args = [str(tmp_path / "qat.h5"), "--out", str(out), "--calib", str(tmp_path / "calib.npy"),
            "--no-builtin", "--feature-spec", str(_spec_file(tmp_path))]
    assert export_cli.main(args) == 0
    m, ref = R.read_exported(out / "model.tflite"), R.read_exported(exported.tflite)
    np.testing.assert_array_equal(M.predict(m, xte), M.predict(ref, xte))
    assert not (out / "model_builtin.tflite").exists()


def _spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps({"quant_scale": 0.015625, "quant_offset": 1.0}))  # scale 1/64, zero point -64
    return path


# ----------------------------------------------------------------------------------------------
def _tiny_model(cell, head_act: str | None = None) -> keras.Model:
    inp = keras.Input((5, 4))
    h = keras.layers.RNN(cell)(inp)
    out = keras.layers.Dense(3, activation=head_act or "softmax")(h)
    return keras.Model(inp, out)


def test_export_errors() -> None:
    x = np.zeros((4, 5, 4), np.int8)
    inp = keras.Input((5, 4))
    dense_only = keras.Model(inp, keras.layers.Dense(3)(keras.layers.Flatten()(inp)))
    with pytest.raises(ValueError, match="no FastGRNN layer"):
        export_custom_tflite(dense_only, x, calibrate=True)
    with pytest.raises(ValueError, match="relu"):
        export_custom_tflite(_tiny_model(FastGRNNCell(6, update_activation="relu")), x, calibrate=True)
    with pytest.raises(ValueError, match="FastRNN"):
        export_custom_tflite(_tiny_model(FastRNNCell(6)), x, calibrate=True)
    with pytest.raises(ValueError, match="not quantization-aware"):
        export_custom_tflite(_tiny_model(FastGRNNCell(6)), x)
    with pytest.raises(ValueError, match="calib_features must be int8"):
        export_custom_tflite(_tiny_model(FastGRNNCell(6)), x.astype(np.float32), calibrate=True)
    with pytest.raises(ValueError, match="unsupported activation"):
        export_custom_tflite(_tiny_model(FastGRNNCell(6), head_act="tanh"), x, calibrate=True)


def _mutate(data: bytes, fn) -> bytes:
    model = S.ModelT.InitFromObj(S.Model.GetRootAs(data, 0))
    fn(model)
    return pack_model(model)


def test_reader_errors(tmp_path: Path, exported) -> None:
    data = exported.tflite
    with pytest.raises(ValueError, match="truncated or corrupt|TFLite"):
        R.read_exported(data[: len(data) // 3])
    foreign = tmp_path / "foreign.tflite"
    foreign.write_bytes(b"FGB1" + bytes(100))
    with pytest.raises(ValueError, match=f"{foreign}: not a TFLite flatbuffer"):
        R.read_exported(foreign)
    with pytest.raises(ValueError, match="no FastGRNN custom operator"):
        R.read_exported(exported.head_tflite)

    def dup(model):
        model.subgraphs[0].operators.insert(0, model.subgraphs[0].operators[0])

    with pytest.raises(ValueError, match="2 FastGRNN operators"):
        R.read_exported(_mutate(data, dup))

    def wrong_type(model):
        op = model.subgraphs[0].operators[0]
        model.subgraphs[0].tensors[int(op.inputs[5])].type = S.TensorType.INT16

    with pytest.raises(ValueError, match="bias_z .* must be INT32"):
        R.read_exported(_mutate(data, wrong_type))

    def not_variable(model):
        op = model.subgraphs[0].operators[0]
        model.subgraphs[0].tensors[int(op.inputs[9])].isVariable = False

    with pytest.raises(ValueError, match="variable"):
        R.read_exported(_mutate(data, not_variable))

    def other_custom(model):
        model.operatorCodes[model.subgraphs[0].operators[0].opcodeIndex].customCode = "Other"

    with pytest.raises(ValueError, match="unexpected custom operator"):
        R.read_exported(_mutate(data, other_custom))


def test_google12_sized_model_weights_fit_6kb() -> None:
    keras.utils.set_random_seed(seed_for_test(3))
    inp = keras.Input((98, 32))
    rnn = keras.layers.RNN(FastGRNNCell(100, w_rank=16, u_rank=25))
    out = keras.layers.Dense(12, activation="softmax")(rnn(inp))
    model = keras.Model(inp, out)
    for w in rnn.cell.weights:  # magnitude pruning: keep 0.3 of every matrix, as the pruning stage leaves it
        if w.name.split("/")[-1].split(":")[0] in ("W1", "W2", "U1", "U2"):
            v = w.numpy()
            v[np.abs(v) < np.quantile(np.abs(v), 0.7)] = 0
            w.assign(v)
    x = np.random.default_rng(0).integers(-128, 20, (4, 98, 32)).astype(np.int8)
    res = export_custom_tflite(model, x, calibrate=True, time_steps=1)
    rep = size_report(res.tflite)
    print("google-12 size report:", json.dumps(rep))
    # The flatbuffer itself stores the pruned matrices bitmap-sparse: <= 6 KB in the file (and in flash).
    assert rep["fastgrnn_weights_storage"] == "bitmap"
    assert rep["fastgrnn_weights_stored_bytes"] == rep["fastgrnn_weights_bitmap_bytes"] <= 6 * 1024
    dense = export_custom_tflite(model, x, calibrate=True, time_steps=1, sparse=False)
    assert size_report(dense.tflite)["fastgrnn_weights_stored_bytes"] == 7112
    assert len(dense.tflite) - len(res.tflite) > 7112 - rep["fastgrnn_weights_stored_bytes"] - 500  # + 4 tensors
    xs = np.random.default_rng(1).integers(-128, 20, (3, 5, 32)).astype(np.int8)
    ms, md = R.read_exported(res.tflite), R.read_exported(dense.tflite)
    for name in ("w1", "w2", "u1", "u2"):
        np.testing.assert_array_equal(getattr(ms.fastgrnn, name), getattr(md.fastgrnn, name))
    np.testing.assert_array_equal(M.run_model(ms, xs)[0], M.run_model(md, xs)[0])
    assert rep["fastgrnn_weight_entries"] == 32 * 16 + 16 * 100 + 100 * 25 + 25 * 100
    assert 0.28 < rep["fastgrnn_weight_density"] < 0.32
    assert rep["fastgrnn_weights_sparse_bytes"] <= 6 * 1024
    assert rep["fastgrnn_weights_dense_bytes"] == 7112 and rep["fastgrnn_lut_bytes"] == 1024
    assert rep["head_weight_bytes"] == 1200 and rep["tflite_bytes"] > rep["fastgrnn_weights_dense_bytes"]


def test_bitmap_sparse_storage_roundtrip_and_errors() -> None:
    from fastgrnn_tf.export.tflite_writer import splice_fastgrnn
    from fastgrnn_tf.int8.quantize import random_int8_params
    from fastgrnn_tf.int8.sparse_weights import from_bitmap_sparse, to_bitmap_sparse

    rng = np.random.default_rng(0)
    w = rng.integers(-127, 128, (7, 11)).astype(np.int8)
    w[rng.random(w.shape) < 0.6] = 0
    values, bitmap = to_bitmap_sparse(w)
    assert bitmap.dtype == np.uint8 and bitmap.size == 10 and values.size == np.count_nonzero(w)
    assert int(bitmap[0]) & 1 == int(w[0, 0] != 0)  # element 0 is bit 0 (LSB first)
    np.testing.assert_array_equal(from_bitmap_sparse(values, bitmap, 7, 11), w)
    with pytest.raises(ValueError, match="padding bits"):
        bad = bitmap.copy()
        bad[-1] |= 0x80
        from_bitmap_sparse(values, bad, 7, 11)
    with pytest.raises(ValueError, match="one per set bit"):
        from_bitmap_sparse(values[:-1], bitmap, 7, 11)
    with pytest.raises(ValueError, match="bitmap must be uint8"):
        from_bitmap_sparse(values, bitmap[:-1], 7, 11)
    with pytest.raises(ValueError, match="all-zero"):
        to_bitmap_sparse(np.zeros((3, 3), np.int8))

    # A model with every storage case: pruned (sparse), dense-enough (dense), and full rank (absent W2/U2).
    p, _ = random_int8_params(12, 20, 0, 6, keep=0.3, seed=5)
    from fastgrnn_tf.export.custom_op import convert_head

    kernel = rng.normal(0, 0.3, (20, 3)).astype(np.float32)
    head_model = convert_head([(kernel, np.zeros(3, np.float32), False)], rng.uniform(-1, 1, (32, 20)))
    for sparse, n_inputs in (("auto", 14), (True, 14), (False, 10)):
        m = R.read_exported(splice_fastgrnn(head_model, p, 4, sparse=sparse))
        assert len(R.read_model(splice_fastgrnn(head_model, p, 4, sparse=sparse))[0].subgraphs[0]
                   .operators[0].inputs) == n_inputs
        for name in ("w1", "w2", "u1", "u2"):
            a, b = getattr(m.fastgrnn, name), getattr(p, name)
            assert (a is None and b is None) or np.array_equal(a, b)
    data = splice_fastgrnn(head_model, p, 4, sparse=True)

    def popcount_mismatch(model):
        op = model.subgraphs[0].operators[0]
        t = model.subgraphs[0].tensors[int(op.inputs[1])]
        buf = model.buffers[t.buffer]
        buf.data = buf.data[:-1]
        t.shape = np.asarray([len(buf.data)], np.int32)

    with pytest.raises(ValueError, match="FastGRNN W: values must be int8"):
        R.read_exported(_mutate(data, popcount_mismatch))

    def bitmap_for_absent(model):
        op = model.subgraphs[0].operators[0]
        op.inputs = np.array(op.inputs)
        op.inputs[11] = op.inputs[10]

    with pytest.raises(ValueError, match="must be absent"):
        R.read_exported(_mutate(data, bitmap_for_absent))


def test_builtin_streaming_model_with_state_io(exported) -> None:
    """T=1 with the state as input/output: one frame per invoke, state passed back, in TFLM and TFLite."""
    import tensorflow as tf
    from tflite_micro.python.tflite_micro import runtime

    m = R.read_exported(exported.tflite)
    data = export_builtin_tflite(m, time_steps=1, state_io=True)
    model, _ = R.read_model(data)
    print(f"streaming builtin model: {len(model.subgraphs[0].operators)} operators, {len(data)} bytes")
    x = np.random.default_rng(3).integers(-128, 128, (1, 24, 8)).astype(np.int8)
    seq, _ = O.run(m.fastgrnn, x, return_sequences=True)
    want = HO.softmax_int8(HO.run_head(m.head, seq[0]), m.logit_scale, m.logit_zero_point)
    lite = tf.lite.Interpreter(model_content=data)
    lite.allocate_tensors()
    (xi, si), outs = lite.get_input_details(), lite.get_output_details()
    assert [d["name"] for d in (xi, si)] == ["features", "state_in"]
    micro = runtime.Interpreter.from_bytes(data)
    h_lite = h_micro = np.zeros((1, m.fastgrnn.units), np.int8)
    for t in range(x.shape[1]):
        lite.set_tensor(xi["index"], x[:, t:t + 1])
        lite.set_tensor(si["index"], h_lite)
        lite.invoke()
        prob, h_lite = (lite.get_tensor(o["index"]) for o in outs)
        micro.set_input(x[:, t:t + 1], 0)
        micro.set_input(h_micro, 1)
        micro.invoke()
        h_micro = micro.get_output(1)
        np.testing.assert_array_equal(h_lite[0], seq[0, t])
        np.testing.assert_array_equal(h_micro[0], seq[0, t])
        assert np.abs(prob[0].astype(int) - want[t]).max() <= 1
        assert np.abs(micro.get_output(0)[0].astype(int) - want[t]).max() <= 1
