"""Shared pytest setup: import path, legacy Keras, seeds, and the scikit-learn digits data set."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

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

    keras.utils.set_random_seed(int(os.environ.get("FASTGRNN_TEST_SEED", "1234")))


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
    assert exe is not None, f"{target} not found under {HOST_BUILD}"
    return exe
