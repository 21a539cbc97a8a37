"""A stage stuck at chance is noticed: restarted with another seed (and half the learning rate), or reported
with a clear error so nothing is exported; the chance level comes from the labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from fastgrnn_tf import FastGRNNCell, collapse
from fastgrnn_tf.stages import StageConfig, train_stages


def _model_fn() -> keras.Model:
    return keras.Sequential([keras.Input((8, 8)), keras.layers.RNN(FastGRNNCell(16, w_rank=4, u_rank=4)),
                             keras.layers.Dense(4, activation="softmax")])


def _constant_inputs(n: int = 512) -> tf.data.Dataset:
    """Identical inputs with balanced labels: no model can beat chance (0.25)."""
    x = np.zeros((n, 8, 8), np.float32)
    y = np.arange(n) % 4
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(64)


def test_chance_level_is_the_majority_share_or_one_over_k() -> None:
    y = np.array([0] * 60 + [1] * 30 + [2] * 10)
    ds = tf.data.Dataset.from_tensor_slices((np.zeros((100, 3), np.float32), y)).batch(16)
    assert collapse.chance_level([None, ds], 4) == pytest.approx(0.6)
    balanced = tf.data.Dataset.from_tensor_slices((np.zeros((40, 3), np.float32), np.arange(40) % 4)).batch(8)
    assert collapse.chance_level([balanced], 4) == pytest.approx(0.25)
    one_hot = tf.data.Dataset.from_tensor_slices((np.zeros((10, 3), np.float32), np.eye(5)[[0] * 9 + [1]])).batch(5)
    assert collapse.chance_level([one_hot], 5) == pytest.approx(0.9)
    # A dataset of unknown size (a generator) is never read: 1/K.
    gen = tf.data.Dataset.from_generator(lambda: iter([]), output_signature=(
        tf.TensorSpec((None, 3), tf.float32), tf.TensorSpec((None,), tf.int64)))
    assert collapse.chance_level([gen], 8) == pytest.approx(0.125)


def test_verdict() -> None:
    assert collapse.verdict({"loss": [1.0]}, 0.1) is None
    assert collapse.verdict({"accuracy": [0.9, 0.12]}, 0.1).collapsed
    assert not collapse.verdict({"accuracy": [0.1, 0.16]}, 0.1).collapsed
    near_all_majority = collapse.verdict({"accuracy": [0.97]}, 0.96)  # margin shrinks to (1 - 0.96) / 2
    assert near_all_majority.margin == pytest.approx(0.02) and near_all_majority.collapsed


def test_a_stage_at_chance_is_restarted_then_reported(tmp_path: Path, capsys) -> None:
    ds = _constant_inputs()
    config = StageConfig(epochs_dense=1, epochs_prune=1, epochs_retrain=0, qat=False, collapse_retries=1)
    with pytest.raises(collapse.TrainingCollapsed, match=r"stage 'dense' stayed at chance after 2 attempts.*"
                       r"chance 0\.250.*nothing was exported"):
        train_stages(_model_fn, ds, None, config, tmp_path)
    err = capsys.readouterr().err
    assert "restarting it with another seed and learning rate 0.005 (attempt 2 of 2)" in err
    assert not (tmp_path / "dense" / "dense.keras").exists()


def test_a_collapsed_first_attempt_recovers_on_restart(digits, seeded, tmp_path: Path, capsys) -> None:
    """Attempt 1 is sabotaged (the head's weights zeroed before every batch: one class for every input);
    the restart trains normally, and its model is the one saved."""
    x_train, y_train, x_test, y_test = digits
    train = tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(2048, seed=0).batch(64)
    calls = {"dense": 0}

    class ZeroHead(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None) -> None:
            for w in self.model.layers[-1].weights:
                w.assign(tf.zeros_like(w))

    def callbacks(stage: str) -> list:
        if stage != "dense":
            return []
        calls["dense"] += 1
        return [ZeroHead()] if calls["dense"] == 1 else []

    config = StageConfig(epochs_dense=8, epochs_prune=1, epochs_retrain=0, qat=False, lr_dense=0.02)
    result = train_stages(_model_fn10, train, None, config, tmp_path, callbacks=callbacks)
    assert calls["dense"] == 2
    assert result.epochs_run["dense"] == 16  # both attempts counted
    assert "stage 'dense' stayed at chance" in capsys.readouterr().err
    assert result.history["dense"]["accuracy"][-1] > 0.5
    acc = float(np.mean(result.float_model.predict(x_test, verbose=0).argmax(-1) == y_test))
    assert acc > 0.5


def _model_fn10() -> keras.Model:
    return keras.Sequential([keras.Input((8, 8)), keras.layers.RNN(FastGRNNCell(24, w_rank=6, u_rank=6)),
                             keras.layers.Dense(10, activation="softmax")])


@pytest.mark.parametrize("kwargs, field", [({"clipnorm": 0.0}, "clipnorm"), ({"collapse_retries": -1},
                                                                          "collapse_retries")])
def test_bad_config(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        StageConfig(**kwargs)


def test_a_line_per_epoch_when_asked(digits, seeded, tmp_path: Path) -> None:
    x_train, y_train, _, _ = digits
    train = tf.data.Dataset.from_tensor_slices((x_train, y_train)).batch(128)
    lines: list[str] = []
    config = StageConfig(epochs_dense=2, epochs_prune=1, epochs_retrain=0, qat=False, lr_dense=0.02,
                         check_collapse=False)
    train_stages(_model_fn10, train, None, config, tmp_path, log=lines.append)
    assert [line.split(":")[0] for line in lines] == ["dense epoch 1/2", "dense epoch 2/2", "prune epoch 1/1"]
    assert all("loss" in line and "accuracy" in line and line.endswith(" s)") for line in lines)
