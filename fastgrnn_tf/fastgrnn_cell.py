"""FastGRNN cell (Kusupati et al. 2018, eq. 6) for tf_keras.layers.RNN.

    pre_t = W x_t + U h_{t-1}
    z_t   = gate(pre_t + b_z)
    c_t   = update(pre_t + b_h)
    h_t   = (sigmoid(zeta) (1 - z_t) + sigmoid(nu)) c_t + z_t h_{t-1}
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tf_keras as keras

from fastgrnn_tf.activations import check_activation_name, get_activation
from fastgrnn_tf.cells import LowRankCell


@keras.saving.register_keras_serializable(package="fastgrnn_tf")
class FastGRNNCell(LowRankCell):
    """FastGRNN cell; W and U are shared by the gate and the update.

    Args:
      units: hidden size H.
      w_rank, u_rank: None for full-rank W [D, H] / U [H, H]; else the rank of W = W1 W2, U = U1 U2.
      gate_activation, update_activation: names from `fastgrnn_tf.activations` (sigmoid, tanh, relu,
        quantSigm, quantTanh).
      zeta_init, nu_init: initial values of the trainable scalars zeta and nu (stored before the sigmoid;
        EdgeML defaults 1.0 and -4.0).
      clip_state: clip h_t to [-1, 127/128], the range of the int8 state (Q0.7, int8_step_spec.md). The
        paper's h can reach sigmoid(zeta) + sigmoid(nu) > 1; a model meant for the int8 kernel should be
        trained with the clip so that float, QAT and int8 agree. Default False (the paper's cell).
      kernel_initializer / recurrent_initializer: for W (W1, W2) / U (U1, U2); default N(0, 0.1^2).
      bias_initializer: for bias_z and bias_h; default ones (EdgeML).
      *_regularizer, *_constraint: as in Keras GRUCell (kernel: W side, recurrent: U side, bias: biases).
    Weights (names used by the exporter): W or W1, W2; U or U1, U2; bias_z; bias_h; zeta; nu.
    """

    def __init__(
        self,
        units: int,
        w_rank: int | None = None,
        u_rank: int | None = None,
        gate_activation: str = "sigmoid",
        update_activation: str = "tanh",
        zeta_init: float = 1.0,
        nu_init: float = -4.0,
        clip_state: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(units, w_rank=w_rank, u_rank=u_rank, update_activation=update_activation, **kwargs)
        self.gate_activation = check_activation_name(gate_activation, "gate_activation")
        self.zeta_init = float(zeta_init)
        self.nu_init = float(nu_init)
        self.clip_state = bool(clip_state)
        self._gate = get_activation(gate_activation, "gate_activation")
        self._update = get_activation(update_activation, "update_activation")

    def build(self, input_shape: Any) -> None:
        self._build_matrices(input_shape)
        self.bias_z = self._add_bias("bias_z")
        self.bias_h = self._add_bias("bias_h")
        self.zeta = self._add_scalar("zeta", self.zeta_init)
        self.nu = self._add_scalar("nu", self.nu_init)
        self.built = True

    def call(self, inputs: tf.Tensor, states: Any, training: Any = None) -> tuple[tf.Tensor, list]:
        h_prev = states[0] if isinstance(states, (list, tuple)) else states
        pre = self.matmul_w(inputs) + self.matmul_u(h_prev)
        z = self._gate(pre + self.bias_z)
        c = self._update(pre + self.bias_h)
        h = (tf.sigmoid(self.zeta) * (1.0 - z) + tf.sigmoid(self.nu)) * c + z * h_prev
        if self.clip_state:
            h = tf.clip_by_value(h, -1.0, 127.0 / 128.0)
        return h, [h]

    def get_config(self) -> dict[str, Any]:
        config = {"gate_activation": self.gate_activation, "zeta_init": self.zeta_init,
                  "nu_init": self.nu_init, "clip_state": self.clip_state}
        return {**super().get_config(), **config}


# Legacy .h5 loading looks a nested cell up by its bare class name (RNN.get_config serializes the cell
# with the new format, the legacy loader ignores "registered_name"); make that name resolvable too.
keras.utils.get_custom_objects().setdefault("FastGRNNCell", FastGRNNCell)
