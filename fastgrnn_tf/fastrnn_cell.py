"""FastRNN cell (Kusupati et al. 2018, eq. 2) for tf_keras.layers.RNN.

    h~_t = update(W x_t + U h_{t-1} + b)
    h_t  = sigmoid(alpha) h~_t + sigmoid(beta) h_{t-1}
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tf_keras as keras

from fastgrnn_tf.activations import get_activation
from fastgrnn_tf.cells import LowRankCell


@keras.saving.register_keras_serializable(package="fastgrnn_tf")
class FastRNNCell(LowRankCell):
    """FastRNN cell: a residual connection with two trainable scalars.

    Args:
      units, w_rank, u_rank, update_activation, initializers, regularizers, constraints: as FastGRNNCell.
      alpha_init, beta_init: initial alpha and beta, stored before the sigmoid (EdgeML: -3.0, 3.0).
    Weights: W or W1, W2; U or U1, U2; bias; alpha; beta.
    """

    def __init__(
        self,
        units: int,
        w_rank: int | None = None,
        u_rank: int | None = None,
        update_activation: str = "tanh",
        alpha_init: float = -3.0,
        beta_init: float = 3.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(units, w_rank=w_rank, u_rank=u_rank, update_activation=update_activation, **kwargs)
        self.alpha_init = float(alpha_init)
        self.beta_init = float(beta_init)
        self._update = get_activation(update_activation, "update_activation")

    def build(self, input_shape: Any) -> None:
        self._build_matrices(input_shape)
        self.bias = self._add_bias("bias")
        self.alpha = self._add_scalar("alpha", self.alpha_init)
        self.beta = self._add_scalar("beta", self.beta_init)
        self.built = True

    def call(self, inputs: tf.Tensor, states: Any, training: Any = None) -> tuple[tf.Tensor, list]:
        h_prev = states[0] if isinstance(states, (list, tuple)) else states
        h_tilde = self._update(self.matmul_w(inputs) + self.matmul_u(h_prev) + self.bias)
        h = tf.sigmoid(self.alpha) * h_tilde + tf.sigmoid(self.beta) * h_prev
        return h, [h]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "alpha_init": self.alpha_init, "beta_init": self.beta_init}


# Legacy .h5 loading looks a nested cell up by its bare class name; see fastgrnn_cell.py.
keras.utils.get_custom_objects().setdefault("FastRNNCell", FastRNNCell)
