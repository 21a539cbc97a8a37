"""FastGRNN / FastRNN cells for tf_keras, with TF-MOT pruning and quantization-aware training, an int8
numpy oracle and a `.tflite` exporter. Three wings, each importing only the ones before it:

- top level + `qat/` (TensorFlow): the Keras cells, pruning, QAT, staged training;
- `int8/` (numpy only): the int8 step spec, its oracle, the head oracle, quantization, sparse weights;
- `export/`: `.tflite` writing and reading, the builtin-only twin, the `.fgb` bundle, C arrays, sizes.

Importing this package sets TF_USE_LEGACY_KERAS=1 (unless already set), so that when TensorFlow is
imported `tf.keras` is tf_keras (Keras 2), which TF-MOT requires. Nothing else is imported until used
(PEP 562): `import fastgrnn_tf.int8` and the bundle reader never load TensorFlow, while
`fastgrnn_tf.FastGRNNCell` loads the Keras wing on first access.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

_ATTRIBUTES = {
    "ACTIVATIONS": "activations", "get_activation": "activations", "get_numpy_activation": "activations",
    "param_count": "cells", "FastGRNNCell": "fastgrnn_cell", "FastRNNCell": "fastrnn_cell",
}
_SUBMODULES = ("activations", "cells", "fastgrnn_cell", "fastrnn_cell", "pruning", "qat", "stages", "int8",
               "export", "atomic_io")

__all__ = [*_ATTRIBUTES, *_SUBMODULES]


def __getattr__(name: str) -> Any:
    if name in _ATTRIBUTES:
        value = getattr(importlib.import_module(f"fastgrnn_tf.{_ATTRIBUTES[name]}"), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"fastgrnn_tf.{name}")
    else:
        raise AttributeError(f"module 'fastgrnn_tf' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
