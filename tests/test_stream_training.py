"""Training for streams: frame targets on hand-made sequences, sequence batches, weighted chance, and a
sequence-trained model that stays exact through QAT, export and the int8 oracle on every frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from conftest import assert_int8_predicts_as_qat, seed_for_test

from fastgrnn_tf import collapse
from keyword_spotting.features import FeatureSpec, model_view, quantize
from keyword_spotting.stream_training import (
    StreamTargets,
    frame_targets,
    num_batches,
    sequence_dataset,
    sequence_order,
)

NEG, KW = 0, 2


def test_frame_targets_on_a_hand_made_sequence() -> None:
    cfg = StreamTargets(clips=4, target_frames=3, after_frames=4, negative_weight=2.0)
    t, w = frame_targets([NEG, KW, NEG, KW], 10, {KW}, cfg)
    assert t.tolist() == [NEG] * 10 + [KW] * 10 + [NEG] * 10 + [KW] * 10
    neg = [2.0] * 10
    kw = [0.0] * 7 + [10 / 3] * 3          # only the keyword clip's last 3 frames, weighing one clip
    after = [0.0] * 4 + [2.0] * 6          # the detector's window still holds the word
    np.testing.assert_allclose(w, neg + kw + after + kw, rtol=1e-6)
    # A keyword clip weighs as much as a negative clip of weight 1.
    assert abs(w[10:20].sum() - 10.0) < 1e-4
    # Two keyword clips in a row: the second is a keyword clip, not an "after" clip.
    t2, w2 = frame_targets([KW, KW], 10, {KW}, StreamTargets(target_frames=2, after_frames=5))
    np.testing.assert_allclose(w2, ([0.0] * 8 + [5.0] * 2) * 2)
    # after_frames longer than a clip masks that whole clip, nothing beyond it.
    _, w3 = frame_targets([KW, NEG, NEG], 10, {KW}, StreamTargets(target_frames=2, after_frames=25))
    assert w3[10:20].sum() == 0 and w3[20:].tolist() == [1.0] * 10


def test_bad_stream_settings_are_named() -> None:
    for kwargs, word in (({"clips": 0}, "clips"), ({"target_frames": 0}, "target_frames"),
                         ({"negative_weight": 0.0}, "negative_weight")):
        with pytest.raises(ValueError, match=word):
            StreamTargets(**kwargs)
    with pytest.raises(ValueError, match="shorter than target_frames"):
        frame_targets([KW], 5, {KW}, StreamTargets(target_frames=6))
    from keyword_spotting.train_config import load_config

    with pytest.raises(ValueError, match="train.stream_"):
        load_config(None, ["train.stream_clips=3", "train.negative_weight=-1"])
    with pytest.raises(ValueError, match="train.stream_clips"):
        load_config(None, ["train.stream_clips=-1"])


def test_each_clip_once_per_epoch_and_batches_counted() -> None:
    rng = np.random.default_rng(0)
    order = sequence_order(10, 4, rng)
    assert order.shape == (3, 4)
    assert set(order.reshape(-1)[:10].tolist()) == set(range(10))
    assert num_batches(10, StreamTargets(clips=4), 2) == 2 and num_batches(8, StreamTargets(clips=4), 2) == 1
    x = rng.integers(-128, 128, (10, 6, 3)).astype(np.int8)
    y = np.array([NEG, KW] * 5)
    spec = FeatureSpec()
    ds = sequence_dataset(x, y, {KW}, spec, 2, StreamTargets(clips=4, target_frames=2, after_frames=1), seed=3)
    batches = list(ds.as_numpy_iterator())
    assert int(ds.cardinality()) == len(batches) == 2
    xb, tb, wb = batches[0]
    assert xb.shape == (2, 24, 3) and xb.dtype == np.float32 and tb.shape == wb.shape == (2, 24)
    # Each sequence's frames are the clips' frames in a row, dequantized, and its targets are the clips'.
    first = xb[0]
    rows = [np.nonzero((quantize(first[k * 6:(k + 1) * 6], spec) == x).all(axis=(1, 2)))[0] for k in range(4)]
    assert all(len(r) >= 1 for r in rows)
    assert [int(y[r[0]]) for r in rows] == tb[0, ::6].tolist()
    # Reshuffled: the next epoch plays other sequences; the validation form plays the same ones each time.
    again = list(ds.as_numpy_iterator())
    assert not np.array_equal(again[0][0], xb)
    val = sequence_dataset(x, y, {KW}, spec, 2, StreamTargets(clips=4, target_frames=2), seed=3, reshuffle=False)
    with pytest.raises(ValueError, match="shorter than target_frames"):
        sequence_dataset(x, y, {KW}, spec, 2, StreamTargets(clips=4), seed=3)
    np.testing.assert_array_equal(next(iter(val))[0].numpy(), next(iter(val))[0].numpy())


def test_chance_level_weighs_frames() -> None:
    y = np.array([[0, 0, 1, 1]] * 4, np.int32)
    w = np.array([[1, 1, 0, 6]] * 4, np.float32)  # weighted shares 2/8 and 6/8
    ds = tf.data.Dataset.from_tensor_slices((np.zeros((4, 4, 1), np.float32), y, w)).batch(2)
    assert abs(collapse.chance_level([ds], 2) - 0.75) < 1e-9
    plain = tf.data.Dataset.from_tensor_slices((np.zeros((4, 4, 1), np.float32), y)).batch(2)
    assert abs(collapse.chance_level([plain], 2) - 0.5) < 1e-9


def _clips(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Clips of 12 frames x 8 codes: noise; a keyword clip has a 4-frame bump in its first 4 channels."""
    x = rng.normal(0, 16, (n, 12, 8))
    y = rng.integers(0, 2, n) * KW
    for i in np.nonzero(y == KW)[0]:
        t0 = int(rng.integers(0, 7))
        x[i, t0:t0 + 4, :4] += 48
    return np.clip(np.round(x), -128, 127).astype(np.int8), y


def test_sequence_trained_model_learns_and_stays_exact_on_every_frame(tmp_path: Path) -> None:
    import tf_keras as keras

    from fastgrnn_tf.export import tflite_reader
    from fastgrnn_tf.export.custom_op import export_custom_tflite
    from fastgrnn_tf.int8 import head_oracle
    from fastgrnn_tf.int8 import oracle as int8_oracle
    from fastgrnn_tf.stages import StageConfig, train_stages
    from keyword_spotting.model import build_model
    from keyword_spotting.train_config import ModelConfig

    keras.utils.set_random_seed(seed_for_test(5))
    rng = np.random.default_rng(seed_for_test(5))
    x, y = _clips(600, rng)
    xv, yv = _clips(120, rng)
    spec = FeatureSpec(n_mels=8)
    view = model_view(spec, 1 / 16, 0)
    targets = StreamTargets(clips=4, target_frames=3, after_frames=4)
    train = sequence_dataset(x, y, {KW}, view, 16, targets, seed=0)
    val = sequence_dataset(xv, yv, {KW}, view, 16, targets, seed=1, reshuffle=False)
    config = StageConfig(epochs_dense=8, epochs_prune=2, epochs_retrain=1, epochs_qat=2, lr_dense=0.01,
                         keep_w=0.5, keep_u=0.5, input_quant=(1 / 16, 0), weighted_metrics=True)
    model_cfg = ModelConfig(units=16, w_rank=4, u_rank=4)
    result = train_stages(lambda: build_model(model_cfg, spec, 3, sequences=True), train, val, config, tmp_path)
    assert result.history["dense"]["val_accuracy"][-1] > 0.9, result.history["dense"]

    # Every frame of a long stream (the validation clips in a row, one state): QAT model vs int8 oracle.
    stream = xv.reshape(1, -1, 8)
    probs = result.qat_model.predict(stream.astype(np.float32) / 16, verbose=0)[0]
    m = tflite_reader.read_exported(export_custom_tflite(result.qat_model, x[:100]).tflite)
    hidden, _ = int8_oracle.run(m.fastgrnn, stream, return_sequences=True)
    logits = head_oracle.run_head(m.head, hidden[0])
    assert_int8_predicts_as_qat(probs.argmax(-1), logits, exact=False)  # Dense on [B, T, H]: TF-MOT's float head
    # It learned the frame task: keyword at the keyword clips' last frames, not elsewhere.
    ends = np.arange(len(yv)) * 12 + 11
    kw_end = logits.argmax(-1)[ends[yv == KW]] == KW
    neg_frames = np.concatenate([np.arange(i * 12 + 6, i * 12 + 12) for i in np.nonzero(yv != KW)[0]
                                 if i == 0 or yv[i - 1] != KW])
    assert kw_end.mean() > 0.85 and (logits.argmax(-1)[neg_frames] != KW).mean() > 0.9
