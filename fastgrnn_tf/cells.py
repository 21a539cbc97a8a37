"""Shared plumbing of the FastGRNN and FastRNN cells: the (optionally low-rank) W and U matrices.

A full-rank W is one weight "W" of shape [input_dim, units]; with `w_rank` it is "W1"
[input_dim, w_rank] times "W2" [w_rank, units] (so x @ W1 @ W2). The same holds for U
("U" or "U1", "U2") with `u_rank`. Default initializers follow EdgeML's cells:
N(0, 0.1^2) for W and U (and their factors), ones for the biases.
"""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402
from tensorflow_model_optimization.python.core.sparsity.keras.prunable_layer import (  # noqa: E402
    PrunableLayer,
)

from fastgrnn_tf.activations import check_activation_name  # noqa: E402

DEFAULT_MATRIX_INITIALIZER: dict[str, Any] = {
    "class_name": "RandomNormal", "config": {"mean": 0.0, "stddev": 0.1, "seed": None}}


def check_rank(rank: object, argument: str) -> int | None:
    """None (full rank) or a positive int; ValueError naming `argument` otherwise."""
    if rank is None:
        return None
    if isinstance(rank, bool) or not isinstance(rank, int) or rank <= 0:
        raise ValueError(f"{argument} must be None (full rank) or a positive int, got {rank!r}")
    return rank


def param_count(
    units: int,
    input_dim: int,
    w_rank: int | None = None,
    u_rank: int | None = None,
    cell: str = "FastGRNN",
    keep_w: float = 1.0,
    keep_u: float = 1.0,
) -> int:
    """Parameter count as in the paper: (non-zero) entries of W and U or of their low-rank factors,
    plus the biases (FastGRNN: b_z and b_h, FastRNN: b) and the two scalars (zeta, nu / alpha, beta).

    `keep_w`, `keep_u` are the fractions of matrix entries kept by pruning (1.0 = dense).
    """
    if units <= 0 or input_dim <= 0:
        raise ValueError(f"units and input_dim must be positive, got {units}, {input_dim}")
    check_rank(w_rank, "w_rank")
    check_rank(u_rank, "u_rank")
    for name, keep in (("keep_w", keep_w), ("keep_u", keep_u)):
        if not 0.0 < keep <= 1.0:
            raise ValueError(f"{name} must be in (0, 1], got {keep}")
    if cell not in ("FastGRNN", "FastRNN"):
        raise ValueError(f"cell must be 'FastGRNN' or 'FastRNN', got {cell!r}")
    w = input_dim * units if w_rank is None else w_rank * (input_dim + units)
    u = units * units if u_rank is None else u_rank * (units + units)
    biases = 2 * units if cell == "FastGRNN" else units
    return int(round(w * keep_w)) + int(round(u * keep_u)) + biases + 2


class LowRankCell(keras.layers.Layer, PrunableLayer):
    """Base class: owns W / U (full or low rank), their initializers, regularizers, constraints.

    Subclasses add their biases and scalars in `build` and implement `call`.
    """

    def __init__(
        self,
        units: int,
        w_rank: int | None = None,
        u_rank: int | None = None,
        update_activation: str = "tanh",
        kernel_initializer: Any = None,
        recurrent_initializer: Any = None,
        bias_initializer: Any = "ones",
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
            raise ValueError(f"units must be a positive int, got {units!r}")
        self.units = units
        self.w_rank = check_rank(w_rank, "w_rank")
        self.u_rank = check_rank(u_rank, "u_rank")
        if self.u_rank is not None and self.u_rank > units:
            raise ValueError(f"u_rank must be <= units={units}, got {u_rank}")
        if self.w_rank is not None and self.w_rank > units:
            raise ValueError(f"w_rank must be <= min(input_dim, units={units}), got {w_rank}")
        self.update_activation = check_activation_name(update_activation, "update_activation")
        self.kernel_initializer = keras.initializers.get(kernel_initializer or DEFAULT_MATRIX_INITIALIZER)
        self.recurrent_initializer = keras.initializers.get(
            recurrent_initializer or DEFAULT_MATRIX_INITIALIZER)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = keras.regularizers.get(recurrent_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.recurrent_constraint = keras.constraints.get(recurrent_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.state_size = units
        self.output_size = units
        self.input_dim: int | None = None
        self.W = self.W1 = self.W2 = None
        self.U = self.U1 = self.U2 = None

    def _build_matrices(self, input_shape: Any) -> None:
        shape = tf.TensorShape(input_shape)
        if shape.rank != 2:
            raise ValueError(
                f"inputs must be 3-D [batch, time, features] (the cell sees [batch, features]), "
                f"got per-step input shape {shape}")
        if shape[-1] is None:
            raise ValueError("inputs: the feature dimension must be known")
        self.input_dim = int(shape[-1])
        if self.w_rank is not None and self.w_rank > min(self.input_dim, self.units):
            raise ValueError(
                f"w_rank must be <= min(input_dim={self.input_dim}, units={self.units}), got {self.w_rank}")
        d, h = self.input_dim, self.units
        if self.w_rank is None:
            self.W = self._add_matrix("W", (d, h), recurrent=False)
        else:
            self.W1 = self._add_matrix("W1", (d, self.w_rank), recurrent=False)
            self.W2 = self._add_matrix("W2", (self.w_rank, h), recurrent=False)
        if self.u_rank is None:
            self.U = self._add_matrix("U", (h, h), recurrent=True)
        else:
            self.U1 = self._add_matrix("U1", (h, self.u_rank), recurrent=True)
            self.U2 = self._add_matrix("U2", (self.u_rank, h), recurrent=True)

    def _add_matrix(self, name: str, shape: tuple[int, int], recurrent: bool) -> tf.Variable:
        init = self.recurrent_initializer if recurrent else self.kernel_initializer
        # A fresh initializer per weight: one unseeded instance called twice returns the same values.
        init = init.__class__.from_config(init.get_config())
        return self.add_weight(
            name=name, shape=shape, initializer=init,
            regularizer=self.recurrent_regularizer if recurrent else self.kernel_regularizer,
            constraint=self.recurrent_constraint if recurrent else self.kernel_constraint)

    def _add_bias(self, name: str) -> tf.Variable:
        return self.add_weight(name=name, shape=(self.units,), initializer=self.bias_initializer,
                               regularizer=self.bias_regularizer, constraint=self.bias_constraint)

    def _add_scalar(self, name: str, value: float) -> tf.Variable:
        return self.add_weight(name=name, shape=(), initializer=keras.initializers.Constant(value))

    def w_weights(self) -> list:
        """The weights making W: [W] or [W1, W2]."""
        return [self.W] if self.w_rank is None else [self.W1, self.W2]

    def u_weights(self) -> list:
        """The weights making U: [U] or [U1, U2]."""
        return [self.U] if self.u_rank is None else [self.U1, self.U2]

    def get_prunable_weights(self) -> list:
        """TF-MOT PrunableLayer: W and U (or their low-rank factors), W first."""
        return self.w_weights() + self.u_weights()

    def matmul_w(self, x: tf.Tensor) -> tf.Tensor:
        """x @ W (or x @ W1 @ W2)."""
        if self.w_rank is None:
            return tf.matmul(x, self.W)
        return tf.matmul(tf.matmul(x, self.W1), self.W2)

    def matmul_u(self, h: tf.Tensor) -> tf.Tensor:
        """h @ U (or h @ U1 @ U2)."""
        if self.u_rank is None:
            return tf.matmul(h, self.U)
        return tf.matmul(tf.matmul(h, self.U1), self.U2)

    def get_config(self) -> dict[str, Any]:
        s = keras.initializers.serialize
        config = {
            "units": self.units,
            "w_rank": self.w_rank,
            "u_rank": self.u_rank,
            "update_activation": self.update_activation,
            "kernel_initializer": s(self.kernel_initializer),
            "recurrent_initializer": s(self.recurrent_initializer),
            "bias_initializer": s(self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": keras.regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": keras.constraints.serialize(self.recurrent_constraint),
            "bias_constraint": keras.constraints.serialize(self.bias_constraint),
        }
        return {**super().get_config(), **config}


def find_fast_rnn_layers(model_or_layer: Any, cell_type: type | None = None) -> list:
    """The tf_keras RNN layers with a FastGRNN/FastRNN cell (optionally only `cell_type`) in a model
    or layer, looking through TF-MOT pruning / quantize wrappers and annotations. ValueError if none."""
    cell_type = cell_type or LowRankCell
    candidates = model_or_layer.layers if isinstance(model_or_layer, keras.Model) else [model_or_layer]
    found = []
    for layer in candidates:
        while hasattr(layer, "layer") and not isinstance(getattr(layer, "cell", None), LowRankCell):
            layer = layer.layer
        if isinstance(layer, keras.layers.RNN) and isinstance(layer.cell, cell_type):
            found.append(layer)
    if not found:
        raise ValueError(
            f"model_or_layer contains no tf_keras.layers.RNN layer with a {cell_type.__name__} cell")
    return found


def weight_name(name: str) -> str:
    """A variable's own name without scopes and index: "rnn/fast_grnn_cell/W1:0" -> "W1"."""
    return name.split("/")[-1].split(":")[0]
