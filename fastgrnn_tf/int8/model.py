"""The whole int8 model as the oracle runs it: FastGRNN step parameters, head layers and the output
quantization (read from a `.tflite` by `fastgrnn_tf.export.tflite_reader.read_exported`, or from a
`.fgb` bundle by `fastgrnn_tf.export.bundle`). Numpy only.

    logits, h = run_model(m, features_int8)    # [T, D] or [B, T, D] -> int8 logits, final state
    s = model_scores(m, logits)                # uint8 detector scores (detector_spec.md)
"""

from __future__ import annotations

import dataclasses

import numpy as np

from fastgrnn_tf.int8.head_oracle import HeadLayer, run_head, scores
from fastgrnn_tf.int8.oracle import Int8Params
from fastgrnn_tf.int8.oracle import run as run_fastgrnn


@dataclasses.dataclass
class ExportedModel:
    """What the oracle needs from a custom-op `.tflite`."""

    fastgrnn: Int8Params
    head: list[HeadLayer]
    logit_scale: float
    logit_zero_point: int
    time_steps: int
    output_scale: float
    output_zero_point: int
    operators: list[str]

    @property
    def input_scale(self) -> float:
        return self.fastgrnn.input_scale

    @property
    def input_zero_point(self) -> int:
        return self.fastgrnn.input_zero_point


def run_model(m: ExportedModel, x: np.ndarray, h0: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """int8 features [T, D] or [B, T, D] -> (int8 logits [B?, classes], final state). Any T works."""
    out, h = run_fastgrnn(m.fastgrnn, x, h0, return_sequences=False)
    return run_head(m.head, out), h


def run_model_frames(m: ExportedModel, x: np.ndarray) -> np.ndarray:
    """Streaming: logits after every frame, int8 [T, classes] (the detector's per-frame input)."""
    seq, _ = run_fastgrnn(m.fastgrnn, x, None, return_sequences=True)
    return run_head(m.head, seq)


def model_scores(m: ExportedModel, logits: np.ndarray) -> np.ndarray:
    return scores(logits, m.logit_scale, m.logit_zero_point)


def predict(m: ExportedModel, x: np.ndarray) -> np.ndarray:
    """Class index per row of [B, T, D] int8 features (argmax of the int8 logits, lowest index on ties)."""
    logits, _ = run_model(m, x)
    return np.argmax(logits.astype(np.int32), axis=-1)
