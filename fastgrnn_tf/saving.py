"""Saving and loading the project's Keras models (float, pruned, stripped or QAT) in one place, with
every custom class registered.

    save_model(model, "stages/qat.h5")          # atomic; QAT models need .h5
    model = load_model("stages/qat.h5")         # any of the project's models; ValueError naming the file
"""

from __future__ import annotations

import os
import warnings

import tf_keras as keras
from tensorflow_model_optimization.python.core.sparsity.keras import prune

from fastgrnn_tf import fastgrnn_cell, fastrnn_cell, pruning  # noqa: F401  (register the custom classes)
from fastgrnn_tf.atomic_io import atomic_path
from fastgrnn_tf.qat import link_head, quantize_scope


def save_model(model: keras.Model, path: str | os.PathLike) -> None:
    """`model.save` to a temp file beside `path` (same extension, which selects the format) + os.replace."""
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*HDF5 file.*")  # QAT models need .h5 (fastgrnn_tf.qat)
        model.save(tmp)


def load_model(path: str | os.PathLike) -> keras.Model:
    """Load a float, pruned (wrapped), stripped or QAT tf_keras model saved by this project (not compiled).
    ValueError naming the file when it is missing or no loader reads it."""
    if not os.path.exists(path):
        raise ValueError(f"model file {os.fspath(path)!r} does not exist")
    error: Exception | None = None
    for scope in (quantize_scope, prune.prune_scope):  # the QAT scope also loads float models
        try:
            with scope():
                return link_head(keras.models.load_model(path, compile=False))  # QAT head's input grids
        except Exception as e:  # noqa: BLE001 - try the next scope, report the last failure
            error = e
    raise ValueError(f"cannot load the Keras model {os.fspath(path)!r}: {error}")
