"""The packages' shape: numpy-only modules never import TensorFlow, modules stay small, imports go one way."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

NUMPY_ONLY = [
    "fastgrnn_tf", "fastgrnn_tf.atomic_io", "fastgrnn_tf.int8", "fastgrnn_tf.int8.oracle",
    "fastgrnn_tf.int8.head_oracle", "fastgrnn_tf.int8.model", "fastgrnn_tf.int8.quantize",
    "fastgrnn_tf.int8.sparse_weights", "fastgrnn_tf.export", "fastgrnn_tf.export.bundle",
    "fastgrnn_tf.export.model_bundle", "fastgrnn_tf.export.c_array", "fastgrnn_tf.export.layout",
    "fastgrnn_tf.export.vectors",
    "keyword_spotting.kws_model", "keyword_spotting.run_folder",
]


@pytest.mark.parametrize("module", NUMPY_ONLY)
def test_numpy_only_module_does_not_import_tensorflow(module: str) -> None:
    code = (f"import sys, {module}; loaded = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('tensorflow', 'tf_keras', 'tensorflow_model_optimization')); print(loaded)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]", f"{module} imports {out.stdout.strip()}"


def test_lazy_package_attributes_still_load_the_keras_wing() -> None:
    code = "import fastgrnn_tf, sys; c = fastgrnn_tf.FastGRNNCell; print('tensorflow' in sys.modules, c.__name__)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-2:] == ["True", "FastGRNNCell"]


MAX_MODULE_LINES = 450


def test_no_python_module_over_450_lines() -> None:
    """One module per job: a module that grows past this is holding more than one."""
    too_long = {}
    for package in ("fastgrnn_tf", "keyword_spotting"):
        for path in sorted((ROOT / package).rglob("*.py")):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > MAX_MODULE_LINES:
                too_long[str(path.relative_to(ROOT))] = lines
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines: {too_long}"


def test_fastgrnn_tf_never_imports_keyword_spotting() -> None:
    """The arrows point one way: keyword_spotting uses fastgrnn_tf, never the reverse."""
    offenders = [str(p.relative_to(ROOT)) for p in sorted((ROOT / "fastgrnn_tf").rglob("*.py"))
                 if "keyword_spotting" in "".join(line for line in p.read_text(encoding="utf-8").splitlines()
                                                  if line.lstrip().startswith(("import ", "from ")))]
    assert not offenders, f"fastgrnn_tf modules importing keyword_spotting: {offenders}"
