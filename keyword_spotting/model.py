"""The keyword-spotting network: int8 features -> FastGRNN (or a GRU baseline) -> Dense logits -> softmax."""

from __future__ import annotations

import tf_keras as keras

import fastgrnn_tf
from keyword_spotting.features import FeatureSpec
from keyword_spotting.train_config import ModelConfig


def build_model(cfg: ModelConfig, spec: FeatureSpec, num_classes: int, frames: int | None = None,
                sequences: bool = False) -> keras.Model:
    """A fresh, uncompiled model taking float (dequantized int8) features [frames, num_features].

    frames=None accepts any length (training with streaming context, evaluation on bare clips).
    sequences=True: scores at every frame [frames, classes] (`stream_training`), else at the last one; the
    weights and the exported model are the same either way."""
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}")
    inputs = keras.Input((frames, spec.num_features), name="features")
    if cfg.kind == "fastgrnn":
        cell = fastgrnn_tf.FastGRNNCell(
            cfg.units, w_rank=cfg.w_rank, u_rank=cfg.u_rank,
            gate_activation=cfg.gate_activation, update_activation=cfg.update_activation,
            clip_state=True,  # train in the int8 state's range, so float, QAT and int8 agree
        )
        rnn = keras.layers.RNN(cell, return_sequences=sequences, name="fastgrnn")
    else:
        rnn = keras.layers.GRU(cfg.units, return_sequences=sequences, name="gru")
    h = rnn(inputs)
    logits = keras.layers.Dense(num_classes, name="logits")(h)
    probs = keras.layers.Softmax(name="probs")(logits)
    return keras.Model(inputs, probs, name=f"kws_{cfg.kind}")
