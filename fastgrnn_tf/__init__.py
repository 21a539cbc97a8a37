"""FastGRNN / FastRNN cells for tf_keras, with TF-MOT pruning and quantization-aware training.

Importing this package sets TF_USE_LEGACY_KERAS=1 (unless already set) before TensorFlow is
imported, so `tf.keras` is tf_keras (Keras 2), which TF-MOT requires. Heavy submodules
(`pruning`, `qat`, `stages`) are imported on first attribute access.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from fastgrnn_tf.activations import ACTIVATIONS, get_activation, get_numpy_activation  # noqa: E402
from fastgrnn_tf.cells import param_count  # noqa: E402
from fastgrnn_tf.fastgrnn_cell import FastGRNNCell  # noqa: E402
from fastgrnn_tf.fastrnn_cell import FastRNNCell  # noqa: E402

_LAZY = ("pruning", "qat", "stages")

__all__ = ["ACTIVATIONS", "FastGRNNCell", "FastRNNCell", "get_activation", "get_numpy_activation",
           "param_count", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return importlib.import_module(f"fastgrnn_tf.{name}")
    raise AttributeError(f"module 'fastgrnn_tf' has no attribute {name!r}")
