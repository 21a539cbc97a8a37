"""Cell non-linearities by name: sigmoid, tanh, relu and EdgeML's quantSigm / quantTanh.

The names are part of the model: they are stored in the cell config and in the exported
op options, and the int8 exporter builds its lookup tables from `NUMPY_ACTIVATIONS`.
"""

from __future__ import annotations

import os
from collections.abc import Callable

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def quant_sigm(x: tf.Tensor) -> tf.Tensor:
    """EdgeML quantSigm: clip((x + 1) / 2, 0, 1)."""
    return tf.clip_by_value((x + 1.0) / 2.0, 0.0, 1.0)


def quant_tanh(x: tf.Tensor) -> tf.Tensor:
    """EdgeML quantTanh: clip(x, -1, 1)."""
    return tf.clip_by_value(x, -1.0, 1.0)


ACTIVATIONS: dict[str, Callable[[tf.Tensor], tf.Tensor]] = {
    "sigmoid": tf.sigmoid,
    "tanh": tf.tanh,
    "relu": tf.nn.relu,
    "quantSigm": quant_sigm,
    "quantTanh": quant_tanh,
}

NUMPY_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0.0),
    "quantSigm": lambda x: np.clip((x + 1.0) / 2.0, 0.0, 1.0),
    "quantTanh": lambda x: np.clip(x, -1.0, 1.0),
}


def check_activation_name(name: object, argument: str = "activation") -> str:
    """Returns `name` if it is a known activation name, else raises ValueError naming `argument`."""
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"{argument} must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return name


def get_activation(name: object, argument: str = "activation") -> Callable[[tf.Tensor], tf.Tensor]:
    """TensorFlow function for an activation name; ValueError naming `argument` if unknown."""
    return ACTIVATIONS[check_activation_name(name, argument)]


def get_numpy_activation(name: object, argument: str = "activation") -> Callable[[np.ndarray], np.ndarray]:
    """NumPy function for an activation name (used by oracles and LUT builders)."""
    return NUMPY_ACTIVATIONS[check_activation_name(name, argument)]
