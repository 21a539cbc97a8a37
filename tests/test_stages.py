"""Staged training driver: all four stages on digits, skip finished stages, resume an interrupted one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
from conftest import assert_int8_predicts_as_qat

from fastgrnn_tf import FastGRNNCell, pruning, qat
from fastgrnn_tf.stages import STAGES, StageConfig, train_stages

BATCH = 64


def _model_fn() -> keras.Model:
    return keras.Sequential([keras.Input((8, 8)), keras.layers.RNN(FastGRNNCell(24, w_rank=6, u_rank=6)),
                             keras.layers.Dense(10, activation="softmax")])


def _datasets(digits) -> tuple[tf.data.Dataset, tf.data.Dataset]:
    x_train, y_train, x_test, y_test = digits
    train = tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(2048, seed=0).batch(BATCH)
    return train, tf.data.Dataset.from_tensor_slices((x_test, y_test)).batch(512)


def test_all_stages_then_rerun_skips(digits, seeded, tmp_path: Path) -> None:
    train, val = _datasets(digits)
    config = StageConfig(epochs_dense=6, epochs_prune=2, epochs_retrain=1, epochs_qat=1, lr_dense=0.02,
                         keep_w=0.5, keep_u=0.3, input_quant=(1 / 16, -8))
    first = train_stages(_model_fn, train, val, config, tmp_path)
    assert first.epochs_run == {"dense": 6, "prune": 2, "retrain": 1, "qat": 1}
    assert {k: len(v["loss"]) for k, v in first.history.items()} == first.epochs_run
    assert first.history["dense"]["val_accuracy"][-1] >= 0.7
    for name, fraction in pruning.measured_keep(first.stripped_model).items():
        assert abs(fraction - (0.5 if name.startswith("W") else 0.3)) <= 0.01, (name, fraction)
    assert [type(layer).__name__ for layer in first.stripped_model.layers] == ["RNN", "Dense"]
    ranges = qat.quant_ranges(first.qat_model)
    assert ranges["pre_absmax"] > 0 and ranges["input_zero_point"] == -8
    files = ["dense.keras", "pruned.keras", "stripped.keras", "qat.h5"]
    for stage, filename in zip(STAGES, files, strict=True):
        assert (tmp_path / stage / filename).is_file()
    # The float (stage 1) model is not the pruned one.
    assert min(pruning.measured_keep(first.float_model).values()) > 0.9

    second = train_stages(_model_fn, train, val, config, tmp_path)
    assert second.epochs_run == dict.fromkeys(STAGES, 0)
    assert second.history == first.history
    x = digits[2][:100]
    for a, b in [(first.float_model, second.float_model), (first.stripped_model, second.stripped_model),
                 (first.qat_model, second.qat_model)]:
        np.testing.assert_array_equal(a.predict(x, verbose=0), b.predict(x, verbose=0))

    with pytest.raises(ValueError, match="different config"):
        train_stages(_model_fn, train, val, StageConfig(epochs_dense=7), tmp_path)


def test_interrupted_stage_resumes_from_last_epoch(digits, seeded, tmp_path: Path) -> None:
    x_train, y_train, _, _ = digits
    steps = 8
    config = StageConfig(epochs_dense=2, epochs_prune=3, epochs_retrain=1, epochs_qat=0, qat=False,
                         steps_per_epoch=steps, keep_w=0.4, keep_u=0.4, check_collapse=False)
    # Batches counted over all fit() calls: fail in the middle of the 2nd pruning epoch.
    fail_at = {"batch": (2 + 1) * steps + steps - 2, "seen": 0}

    def batches():
        while True:
            for start in range(0, len(x_train) - BATCH, BATCH):
                fail_at["seen"] += 1
                if fail_at["seen"] == fail_at["batch"]:
                    raise RuntimeError("simulated interruption")
                yield x_train[start:start + BATCH], y_train[start:start + BATCH]

    spec = (tf.TensorSpec((None, 8, 8), tf.float32), tf.TensorSpec((None,), tf.int64))
    train = tf.data.Dataset.from_generator(batches, output_signature=spec)
    with pytest.raises(Exception, match="simulated interruption"):
        train_stages(_model_fn, train, None, config, tmp_path)
    state = json.loads((tmp_path / "prune" / "state.json").read_text())
    assert state["epoch"] == 1
    assert (tmp_path / "dense" / "dense.keras").is_file()
    assert not (tmp_path / "prune" / "pruned.keras").exists()

    fail_at["batch"] = -1
    result = train_stages(_model_fn, train, None, config, tmp_path)
    assert result.epochs_run == {"dense": 0, "prune": 2, "retrain": 1, "qat": 0}
    assert len(result.history["prune"]["loss"]) == 3  # epoch 1 from the checkpoint + 2 resumed
    assert result.qat_model is None
    # The resumed pruning step counter continued, so the schedule still reached its target.
    for name, fraction in pruning.measured_keep(result.stripped_model).items():
        assert abs(fraction - 0.4) <= 0.01, (name, fraction)


def test_qat_keeps_best_validation_epoch_and_starts_head_ranges_from_float(digits, seeded, tmp_path: Path) -> None:
    train, val = _datasets(digits)
    config = StageConfig(epochs_dense=4, epochs_prune=1, epochs_retrain=0, epochs_qat=3, lr_dense=0.02, lr_qat=0.05,
                         keep_w=0.5, keep_u=0.5, input_quant=(1 / 16, -8), qat_select="val_accuracy")
    result = train_stages(_model_fn, train, val, config, tmp_path)
    state = json.loads((tmp_path / "qat" / "state.json").read_text())
    accs = state["history"]["val_accuracy"]
    assert len(accs) == 3 and state["best"]["epoch"] == 1 + int(np.argmax(accs))
    x_val, y_val = digits[2], digits[3]
    kept = float(np.mean(np.argmax(result.qat_model.predict(x_val, verbose=0), -1) == y_val))
    assert abs(kept - max(accs)) < 1e-4, (kept, accs)
    # The saved model is the selected one; a rerun loads it and trains nothing.
    again = train_stages(_model_fn, train, val, config, tmp_path)
    assert again.epochs_run["qat"] == 0
    np.testing.assert_array_equal(again.qat_model.predict(x_val, verbose=0), result.qat_model.predict(x_val, verbose=0))
    # The head's activation range started from the float model's outputs, not TF-MOT's [-6, 6].
    fresh = qat.make_qat_model(result.stripped_model, config.input_quant)
    ranges = qat.init_activation_ranges(fresh, result.stripped_model, digits[0])
    assert ranges and all(lo < -6.0 or hi > 6.0 for lo, hi in ranges.values()), ranges


def test_workdir_made_before_a_new_config_field_still_matches(digits, seeded, tmp_path: Path) -> None:
    train, val = _datasets(digits)
    config = StageConfig(epochs_dense=1, epochs_prune=1, epochs_retrain=0, qat=False, check_collapse=False)
    train_stages(_model_fn, train, val, config, tmp_path)
    stored = json.loads((tmp_path / "config.json").read_text())
    del stored["qat_select"]  # as written before the field existed
    (tmp_path / "config.json").write_text(json.dumps(stored))
    assert train_stages(_model_fn, train, val, config, tmp_path).epochs_run == dict.fromkeys(STAGES, 0)
    with pytest.raises(ValueError, match="different config"):
        train_stages(_model_fn, train, val, StageConfig(epochs_dense=1, epochs_prune=1, epochs_retrain=0, qat=False,
                                                        check_collapse=False, qat_select="val_accuracy"), tmp_path)


@pytest.mark.parametrize("kwargs, field", [
    ({"epochs_prune": 0}, "epochs_prune"), ({"epochs_dense": -1}, "epochs_dense"),
    ({"lr_qat": 0.0}, "lr_qat"), ({"qat_select": "accuracy"}, "qat_select"),
    ({"keep_w": 0.0}, "keep_w"), ({"keep_u": 2.0}, "keep_u"), ({"prune_schedule": "x"}, "prune_schedule"),
    ({"steps_per_epoch": 0}, "steps_per_epoch")])
def test_bad_config(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        StageConfig(**kwargs)


def test_bad_arguments(digits, tmp_path: Path) -> None:
    train, val = _datasets(digits)
    with pytest.raises(ValueError, match="config"):
        train_stages(_model_fn, train, val, 3, tmp_path)
    infinite = train.repeat()
    with pytest.raises(ValueError, match="steps_per_epoch"):
        train_stages(_model_fn, infinite, val, StageConfig(), tmp_path / "x")


def _snapshot_recorder(averager, snapshots: list) -> keras.callbacks.Callback:
    class Recorder(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None) -> None:
            step = int(averager.optimizer_.iterations.numpy())
            if step > averager.start and (step - averager.start) % averager.every == 0:
                snapshots.append([w.numpy().copy() for w in averager.weights_])

    return Recorder()


def test_weight_average_is_the_mean_of_the_last_steps_and_survives_a_checkpoint(tmp_path: Path) -> None:
    from fastgrnn_tf.stages import WeightAverage

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((640, 5)).astype(np.float32), rng.integers(0, 3, 640)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)  # 40 steps per epoch
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3, activation="softmax")])
    opt = keras.optimizers.SGD(0.1)
    model.compile(opt, "sparse_categorical_crossentropy")
    avg = WeightAverage(model, opt, total_steps=120, fraction=0.5)
    assert (avg.start, avg.every) == (60, 2)
    snaps: list = []
    model.fit(ds, epochs=2, verbose=0, callbacks=[_snapshot_recorder(avg, snaps), avg])
    assert int(avg.count.numpy()) == len(snaps) == 10  # steps 62, 64, ..., 80
    # A checkpoint of epoch 2 restored into a fresh averager (a resumed run) continues the same sums.
    path = tf.train.Checkpoint(average=tf.train.Checkpoint(**avg.checkpoint_vars)).save(str(tmp_path / "c"))
    again = WeightAverage(model, opt, total_steps=120, fraction=0.5)
    tf.train.Checkpoint(average=tf.train.Checkpoint(**again.checkpoint_vars)).restore(path).assert_consumed()
    assert int(again.count.numpy()) == 10
    model.fit(ds, epochs=1, verbose=0, callbacks=[_snapshot_recorder(again, snaps), again])
    assert int(again.count.numpy()) == len(snaps) == 30
    last = [w.numpy().copy() for w in model.weights]
    assert again.apply() == 30
    for w, ws, before in zip(model.weights, zip(*snaps, strict=True), last, strict=True):
        np.testing.assert_allclose(w.numpy(), np.mean(ws, axis=0), rtol=1e-5, atol=1e-6)
        assert not np.allclose(w.numpy(), before)  # the average is not the last step's weights
    assert WeightAverage(model, opt, total_steps=120, fraction=0.5).apply() == 0  # no snapshots: unchanged


def test_qat_stage_averages_its_weights(digits, seeded, tmp_path: Path) -> None:
    train, val = _datasets(digits)
    base = dict(epochs_dense=2, epochs_prune=1, epochs_retrain=0, epochs_qat=2, lr_dense=0.02, lr_qat=0.05,
                keep_w=0.5, keep_u=0.5, input_quant=(1 / 16, -8), check_collapse=False)
    averaged = train_stages(_model_fn, train, val, StageConfig(**base), tmp_path / "a")
    # The QAT model holds the mean of the snapshots summed in the stage's last checkpoint.
    reader = tf.train.load_checkpoint(str(tmp_path / "a" / "qat" / "ckpt"))
    count = int(reader.get_tensor("average/count/.ATTRIBUTES/VARIABLE_VALUE"))
    assert count >= 10
    floats = [w for w in averaged.qat_model.weights if w.dtype.is_floating]
    for i, w in enumerate(floats):
        mean = reader.get_tensor(f"average/sums/{i}/.ATTRIBUTES/VARIABLE_VALUE") / count
        np.testing.assert_allclose(w.numpy(), mean, rtol=1e-5, atol=1e-6)
    # Same dense / pruned models, QAT without averaging: different weights, same sparsity support.
    for st in ("dense", "prune", "retrain"):
        import shutil

        shutil.copytree(tmp_path / "a" / st, tmp_path / "b" / st)
    last = train_stages(_model_fn, train, val, StageConfig(**base, qat_average=0.0), tmp_path / "b")
    pa, pl = qat.fastgrnn_float_params(averaged.qat_model), qat.fastgrnn_float_params(last.qat_model)
    for name in ("W1", "U1"):
        assert not np.allclose(pa[name], pl[name])
        np.testing.assert_array_equal(pa[name] == 0, pl[name] == 0)
    x_val, y_val = digits[2], digits[3]
    pred = np.argmax(averaged.qat_model.predict(x_val, verbose=0), -1)
    pred_last = np.argmax(last.qat_model.predict(x_val, verbose=0), -1)
    assert np.mean(pred == y_val) > 0.5 and np.mean(pred == y_val) >= np.mean(pred_last == y_val) - 0.1
    # The int8 oracle driven from the exported .tflite predicts what the averaged QAT model does, on every row
    # (row 217 once differed, 1 vs 2, on an AMD EPYC machine; not reproduced here, likely the float32 range
    # quotients that QAT's exact step used before, which put about 2 rows in 10,000 off: test_qat.py).
    from fastgrnn_tf.export import tflite_reader
    from fastgrnn_tf.export.custom_op import export_custom_tflite
    from fastgrnn_tf.int8.model import run_model

    def codes(x: np.ndarray) -> np.ndarray:  # the int8 codes of input_quant (1/16, -8)
        return (np.round(x * 16) - 8).astype(np.int8)

    m = tflite_reader.read_exported(export_custom_tflite(averaged.qat_model, codes(digits[0][:300])).tflite)
    assert_int8_predicts_as_qat(pred, run_model(m, codes(x_val))[0])
    with pytest.raises(ValueError, match="qat_average must be in"):
        StageConfig(qat_average=1.5)


def test_after_dense_dataset_trains_the_later_stages(digits, seeded, tmp_path: Path) -> None:
    """`after_dense` gets the dense model; the later stages train on what it returns (a relabelled set here:
    the stripped model then predicts the new labels), and a rerun calls it again with the loaded dense model."""
    train, val = _datasets(digits)
    x_train, y_train, x_test, _ = digits
    calls: list[keras.Model] = []

    def after_dense(dense: keras.Model) -> tf.data.Dataset:
        calls.append(dense)
        shifted = (y_train + 1) % 10  # every digit now labelled as the next one
        return tf.data.Dataset.from_tensor_slices((x_train, shifted)).shuffle(2048, seed=0).batch(BATCH)

    # (validation keeps the true labels, so the collapse check would call the relabelled stages failed)
    config = StageConfig(epochs_dense=6, epochs_prune=4, epochs_retrain=2, qat=False, lr_dense=0.02,
                         keep_w=0.5, keep_u=0.5, check_collapse=False)
    res = train_stages(_model_fn, train, val, config, tmp_path, after_dense=after_dense)
    assert len(calls) == 1 and calls[0] is res.float_model
    dense_pred = np.argmax(res.float_model.predict(x_test, verbose=0), axis=1)
    stripped_pred = np.argmax(res.stripped_model.predict(x_test, verbose=0), axis=1)
    # The float model learned the digits; the later stages moved to the shifted labels.
    assert np.mean(stripped_pred == (dense_pred + 1) % 10) > 0.5, np.mean(stripped_pred == (dense_pred + 1) % 10)
    train_stages(_model_fn, train, val, config, tmp_path, after_dense=after_dense)
    assert len(calls) == 2
