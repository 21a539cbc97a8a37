"""Shared pytest setup: import path, legacy Keras, seeds, and the scikit-learn digits data set."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn digits as sequences: 8 rows = 8 time steps of 8 pixels in [0, 1].

    Returns (x_train, y_train, x_test, y_test), a fixed stratified 75/25 split.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = (data.images / 16.0).astype(np.float32)
    y = data.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    return x_train, y_train, x_test, y_test


@pytest.fixture()
def seeded() -> None:
    """Deterministic Python / NumPy / TensorFlow random state for one test (seed 1234, or the
    FASTGRNN_TEST_SEED environment variable to check that thresholds do not depend on one seed)."""
    import tf_keras as keras

    keras.utils.set_random_seed(seed_for_test(1234))


def seed_for_test(default: int) -> int:
    """A test's training seed: FASTGRNN_TEST_SEED when set (to check a test under other seeds), else `default`."""
    return int(os.environ.get("FASTGRNN_TEST_SEED", default))


def train_until_learned(fit: Callable[[], tuple[Any, float]], default_seed: int, above: float,
                        attempts: int = 4) -> Any:
    """A fixture's tiny training that converges by design, not by a lucky seed: `fit()` -> (model, training
    accuracy) runs after `keras.utils.set_random_seed(seed + 1000 * attempt)` (seed: `seed_for_test`) and is
    retried while the accuracy stays <= `above`, as kws-train restarts a collapsed stage; pytest.fail names the
    accuracy when every attempt stayed there. Returns the model."""
    import tf_keras as keras

    acc = float("nan")
    for attempt in range(attempts):
        keras.utils.set_random_seed(seed_for_test(default_seed) + 1000 * attempt)
        model, acc = fit()
        if acc > above:
            return model
    pytest.fail(f"the fixture's model stayed at training accuracy {acc:.2f} (<= {above}) in {attempts} attempts")


def assert_int8_predicts_as_qat(pred_qat: np.ndarray, logits_int8: np.ndarray, min_agree: float = 0.99,
                                exact: bool = True) -> float:
    """exact: the QAT model's class is the int8 argmax (lowest index on ties, as np.argmax takes it from the
    QAT probabilities) on EVERY row: QAT h is the int8 step and a rank-2 QATDense head is the int8 layer
    (README "How exact int8 is"). exact=False, for a head TF-MOT fake-quantizes in float32 (a Dense on a
    sequence, rank 3): the QAT class has an int8 logit within 1 LSB of the int8 maximum on every row
    (agreement >= min_agree). Returns the agreement."""
    lo = logits_int8.astype(np.int32)
    if exact:
        rows = np.nonzero(lo.argmax(-1) != pred_qat)[0]
        assert len(rows) == 0, f"rows {rows[:10]}: QAT class {pred_qat[rows[:10]]}, int8 logits {lo[rows[:3]]}"
        return 1.0
    gap = lo.max(-1) - lo[np.arange(len(lo)), pred_qat]
    assert gap.max() <= 1, f"rows {np.nonzero(gap > 1)[0][:10]}: QAT class more than 1 LSB below the int8 maximum"
    agree = float(np.mean(lo.argmax(-1) == pred_qat))
    assert agree >= min_agree, agree
    return agree


HOST_BUILD = Path(os.environ.get("KWS_HOST_BUILD", REPO_ROOT / "build" / "host"))


def build_host_target(target: str) -> Path:
    """Configure tflm_app on the host (once) and build one target; the executable's path."""
    if shutil.which("cmake") is None:
        pytest.skip("cmake is not installed (make setup installs it)")
    if not (HOST_BUILD / "CMakeCache.txt").exists():
        res = subprocess.run(["cmake", "-S", str(REPO_ROOT / "tflm_app"), "-B", str(HOST_BUILD),
                              "-DCMAKE_BUILD_TYPE=Release"], capture_output=True, text=True)
        if res.returncode != 0:
            pytest.fail(f"configuring tflm_app failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    res = subprocess.run(["cmake", "--build", str(HOST_BUILD), "--target", target, "-j2"],
                         capture_output=True, text=True)
    if res.returncode != 0:
        pytest.fail(f"building {target} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    exe = next((p for p in HOST_BUILD.rglob(target) if p.is_file() and os.access(p, os.X_OK)), None)
    exe = exe or next((p for p in HOST_BUILD.rglob(f"lib{target}.so") if p.is_file()), None)  # a library
    assert exe is not None, f"{target} not found under {HOST_BUILD}"
    return exe


BUILTIN_OPS = {"CAST", "DEQUANTIZE", "FULLY_CONNECTED", "PACK", "UNPACK", "RESHAPE", "MUL", "ADD", "SUB", "FLOOR",
               "MINIMUM", "MAXIMUM", "ABS", "GATHER", "SOFTMAX", "QUANTIZE"}


def _logits_tensor(model) -> int:
    """The float logits of the builtin model: SOFTMAX <- MUL(scale) <- SUB(zero point) <- logits."""
    from fastgrnn_tf.export import tflite_reader as R

    sg = model.subgraphs[0]
    producer = {int(o): op for op in sg.operators for o in op.outputs}
    cur = int(sg.outputs[0])
    for name in ("QUANTIZE", "SOFTMAX", "MUL", "SUB"):
        op = producer[cur]
        assert R._op_name(model, op) == name
        cur = int(op.inputs[0])
    return cur


def check_builtin_runtimes(builtin: bytes, m, x: np.ndarray) -> dict:
    """Run the builtin-only model in TFLM (pip tflite-micro) and in TFLite (default kernels with XNNPACK,
    and reference kernels) on int8 features x [N, T, D]; every output must be within 1 LSB of the oracle
    (the exact int8 FastGRNN + head, then softmax_int8) and TFLite's logits must equal the oracle's."""
    import tensorflow as tf
    from tflite_micro.python.tflite_micro import runtime

    from fastgrnn_tf.export import tflite_reader as R
    from fastgrnn_tf.int8 import head_oracle as HO
    from fastgrnn_tf.int8.model import run_model

    model, _ = R.read_model(builtin)
    assert set(R.operator_names(model)) <= BUILTIN_OPS
    logits = run_model(m, x)[0]
    want = HO.softmax_int8(logits, m.logit_scale, m.logit_zero_point, m.output_scale, m.output_zero_point)
    logits_idx = _logits_tensor(model)
    outs = {}
    kinds = tf.lite.experimental.OpResolverType
    for name, kind in (("tflite", kinds.AUTO), ("tflite_ref", kinds.BUILTIN_REF)):
        lite = tf.lite.Interpreter(model_content=builtin, experimental_op_resolver_type=kind,
                                   experimental_preserve_all_tensors=True)
        lite.allocate_tensors()
        inp, out = lite.get_input_details()[0], lite.get_output_details()[0]
        assert inp["dtype"] == np.int8 and list(inp["shape"]) == [1, *x.shape[1:]]
        assert abs(inp["quantization"][0] - m.input_scale) < 1e-7 and inp["quantization"][1] == m.input_zero_point
        got = []
        for i in range(len(x)):
            lite.set_tensor(inp["index"], x[i:i + 1])
            lite.invoke()
            got.append(lite.get_tensor(out["index"])[0])
            np.testing.assert_array_equal(lite.get_tensor(logits_idx)[0], logits[i].astype(np.float32))
        outs[name] = np.stack(got)
    micro = runtime.Interpreter.from_bytes(builtin, arena_size=64 * 1024 * 1024)
    got = []
    for i in range(len(x)):
        micro.set_input(x[i:i + 1], 0)
        micro.invoke()
        got.append(micro.get_output(0)[0])
    outs["tflm"] = np.stack(got)
    stats = {}
    for name, o in outs.items():
        d = np.abs(o.astype(int) - want)
        stats[name] = (int(d.max()), float(np.mean(d == 0)))
        assert d.max() <= 1, f"{name}: output differs from the oracle by {d.max()} LSB"
    return stats
