"""The training job behind `kws-train`: data -> features -> FastGRNN (dense, prune, retrain, QAT) -> int8
exports -> model card.

    card = run_training(load_config("my.yaml"), progress=False)

Everything lands in `cfg.out_dir`, a run folder (`run_folder.py` has its layout): `stages/`
(checkpoints; a rerun resumes), the exported model (`fastgrnn_tf.export.artifacts`: streaming
`model.tflite` + its C array, `model_window.tflite`, builtin twins, `model.fgb`, `size_report.json`),
`model_card.json`, `predictions_test.npz`, `plots/`, `tensorboard/`.
"""

from __future__ import annotations

import dataclasses
import io
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
import tf_keras as keras

from fastgrnn_tf.atomic_io import atomic_write_bytes, atomic_write_text, remove_stale_temps
from fastgrnn_tf.export import tflite_reader
from fastgrnn_tf.export.artifacts import write_artifacts
from fastgrnn_tf.export.custom_op import export_custom_tflite
from fastgrnn_tf.int8.model import predict
from fastgrnn_tf.stages import StageConfig, train_stages
from keyword_spotting import hard_negatives, plots, real_negatives, rooms
from keyword_spotting.augment import AugmentConfig
from keyword_spotting.features import dequantize, model_view
from keyword_spotting.metrics import confusion_matrix
from keyword_spotting.model import build_model
from keyword_spotting.run_folder import RunFolder, load_config_dataset
from keyword_spotting.stream_training import sequence_dataset
from keyword_spotting.tfdata import make_dataset, make_split_arrays
from keyword_spotting.train_config import Config, save_config


def input_normalization(x_train: np.ndarray) -> tuple[float, int]:
    """(scale, zero point) through which the model reads the int8 feature codes: a global
    normalization (mean code -> 0, std -> 1) folded into the input quantization (feature_spec.md)."""
    q = np.asarray(x_train, np.float64)
    zp = int(np.clip(np.round(q.mean()), -128, 127))
    std = float(q.std())
    if not std > 0:
        raise ValueError("training features are constant: cannot normalize (is the data silent?)")
    return 1.0 / std, zp


def with_context(x: np.ndarray, frames: int, seed: int) -> np.ndarray:
    """Prepend `frames` feature frames of another, randomly chosen clip to every clip.

    On a device the state is never reset: the model hears whatever came before the wake word. Training on
    clips that start from a state left by other audio teaches it to decide on the recent past only."""
    if frames <= 0:
        return x
    if len(x) < 2:
        raise ValueError("need at least 2 training clips to build streaming context")
    rng = np.random.default_rng(seed)
    other = (np.arange(len(x)) + rng.integers(1, len(x), len(x))) % len(x)
    take = min(frames, x.shape[1])
    return np.concatenate([x[other, -take:], x], axis=1)


def training_dataset(x: np.ndarray, y: np.ndarray, view: Any, batch_size: int, context_frames: int, seed: int):
    """Batches of bare clips (zero initial state, as in window mode) and, when `context_frames` > 0, as many
    batches of the same clips after streaming context, in a shuffled order (each batch one length).

    Context alone teaches a FastGRNN to depend on a warmed-up state: on Speech Commands it then fell to 0.36
    clip accuracy from a zero state (0.75 without context) after 10 epochs; both kinds of batch keep both."""

    plain = make_dataset(x, y, view, batch_size, shuffle=True, seed=seed)
    if context_frames <= 0:
        return plain
    ctx = make_dataset(with_context(x, context_frames, seed), y, view, batch_size, shuffle=True, seed=seed + 1)
    both = plain.concatenate(ctx)
    n = int(both.cardinality())
    return both.shuffle(max(n, 1), seed=seed, reshuffle_each_iteration=True)


def _predict(model: Any, x: np.ndarray, spec: Any) -> np.ndarray:
    """Class of each clip at its last frame (a sequence model scores every frame)."""
    probs = model.predict(dequantize(x, spec), batch_size=256, verbose=0)
    return np.argmax(probs[:, -1] if probs.ndim == 3 else probs, axis=-1)


def keyword_classes(classes: list[str]) -> list[int]:
    """Indices of the wake-word classes (every class but silence, unknown and negative)."""
    return [i for i, c in enumerate(classes) if c not in ("_silence_", "_unknown_", "negative")]


def train_and_val_datasets(cfg: Config, arrays: dict, classes: list[str], view: Any) -> tuple[Any, Any]:
    """(train, val) tf.data: clips (with streaming context) or, with train.stream_clips, sequences with frame
    targets (`stream_training`)."""
    t = cfg.train
    if t.stream_clips:
        kw = frozenset(keyword_classes(classes))
        targets = t.stream_targets()
        return (sequence_dataset(*arrays["train"], kw, view, t.batch_size, targets, seed=cfg.data.seed,
                                 mask=t.spec_mask()),
                sequence_dataset(*arrays["val"], kw, view, t.batch_size, targets, seed=cfg.data.seed + 1,
                                 reshuffle=False))
    return (training_dataset(*arrays["train"], view, t.batch_size, cfg.data.context_frames, cfg.data.seed),
            make_dataset(*arrays["val"], view, t.batch_size))


def hard_negative_step(cfg: Config, arrays: dict, classes: list[str], view: Any, run: RunFolder, card: dict):
    """None, or the `dense model -> train_ds` of train_stages: the training set plus the windows of the real
    negatives the dense model fires on (`hard_negatives`; report in `card["hard_negatives"]`)."""
    t, d = cfg.train, cfg.data
    if not t.hard_negatives:
        return None
    real = real_negatives.gather(d.negative_dirs, d.noise_dirs, d.real_data)
    sources = real.negatives
    if not sources:
        raise ValueError("train.hard_negatives needs real negative audio: set data.real_data or data.negative_dirs")
    if real_negatives.NEGATIVE_CLASS not in classes:
        raise ValueError(f"train.hard_negatives needs a {real_negatives.NEGATIVE_CLASS!r} class, got {classes}")

    def step(dense: Any) -> Any:
        x_hard, report = hard_negatives.mine(dense, sources, cfg.features, view, keyword_classes(classes),
                                             t.hard_negatives, t.hard_negative_hop_ms, cache=run.hard_negatives,
                                             log=lambda line: print(line, flush=True), noise=real.noise,
                                             snr_db=tuple(d.snr_db), seed=d.seed)
        card["hard_negatives"] = report
        x, y = arrays["train"]
        label = classes.index(real_negatives.NEGATIVE_CLASS)
        mined = {"train": (np.concatenate([x, x_hard]), np.concatenate([y, np.full(len(x_hard), label, y.dtype)])),
                 "val": arrays["val"]}
        return train_and_val_datasets(cfg, mined, classes, view)[0]

    return step


def _tensorboard(logs: Path):
    """Per-stage TensorBoard logs in `logs/<stage>` (`tensorboard --logdir <run>/tensorboard`)."""
    return lambda stage: [keras.callbacks.TensorBoard(log_dir=str(logs / stage), profile_batch=0)]


def _strategy():
    gpus = tf.config.list_physical_devices("GPU")
    return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()


def train_baseline_gru(cfg: Config, arrays: dict, num_classes: int) -> float:
    """A float GRU of the same width trained like stage 1 (same data, epochs, learning rate)."""
    x, y = arrays["train"]
    mcfg = dataclasses.replace(cfg.model, kind="gru")
    with _strategy().scope():
        model = build_model(mcfg, cfg.features, num_classes)
        model.compile(keras.optimizers.Adam(cfg.train.learning_rate), "sparse_categorical_crossentropy",
                      metrics=["accuracy"])
    scale, zp = input_normalization(x)
    view = model_view(cfg.features, scale, zp)
    ds = training_dataset(x, y, view, cfg.train.batch_size, cfg.data.context_frames, cfg.data.seed)
    model.fit(ds, epochs=cfg.train.epochs_dense, verbose=0)
    x_test, y_test = arrays["test"]
    return float(np.mean(_predict(model, x_test, view) == y_test))


def run_training(cfg: Config, baseline_gru: bool = False, progress: bool = True,
                 cache_dir: str | Path | None = None) -> dict:
    """The whole job; returns the model card (also written to `out_dir/model_card.json`).
    cache_dir: the feature cache (default `out_dir/cache`; it is keyed by file and spec, so runs may share it)."""

    out = Path(cfg.out_dir)
    run = RunFolder(out)
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run.config)
    t0 = time.time()
    dataset = load_config_dataset(cfg, progress)
    print(dataset.summary(), flush=True)
    classes = list(dataset.class_names)
    d = cfg.data
    aug = AugmentConfig(snr_db=tuple(d.snr_db), max_shift_ms=d.max_shift_ms, rir_prob=d.rir_prob,
                        perturb_prob=d.perturb_prob, eq_prob=d.eq_prob, clip_prob=d.clip_prob)
    cache = Path(cache_dir) if cache_dir else run.cache
    remove_stale_temps(out, cache)  # temp files of a run killed before its atomic renames
    rirs = rooms.rir_bank(cfg.data.rooms, cfg.data.seed, cache_dir=cache) if cfg.data.rir_prob > 0 else None
    arrays = make_split_arrays(dataset, cfg.features, aug, copies=cfg.data.augment_copies, seed=cfg.data.seed,
                               cache_dir=cache, workers=1, progress=progress, rirs=rirs)
    x_train, y_train = arrays["train"]
    frames = x_train.shape[1]
    spec = cfg.features
    t = cfg.train
    in_scale, in_zp = input_normalization(x_train)
    view = model_view(spec, in_scale, in_zp)
    train_ds, val_ds = train_and_val_datasets(cfg, arrays, classes, view)
    stage_cfg = StageConfig(
        epochs_dense=t.epochs_dense, epochs_prune=t.epochs_prune, epochs_retrain=t.epochs_retrain,
        epochs_qat=t.epochs_qat, lr_dense=t.learning_rate, lr_prune=t.learning_rate / 2,
        lr_retrain=t.learning_rate / 4, lr_qat=t.learning_rate / 4, keep_w=t.keep_w, keep_u=t.keep_u,
        qat=t.qat, input_quant=(in_scale, in_zp), weighted_metrics=bool(t.stream_clips),
    )
    mined: dict[str, Any] = {}
    after_dense = hard_negative_step(cfg, arrays, classes, view, run, mined)
    with _strategy().scope():
        result = train_stages(lambda: build_model(cfg.model, spec, len(classes), sequences=bool(t.stream_clips)),
                              train_ds, val_ds, stage_cfg, run.stages, callbacks=_tensorboard(run.tensorboard),
                              log=(lambda line: print(line, flush=True)) if progress else None,
                              after_dense=after_dense)
    x_test, y_test = arrays["test"]
    card: dict[str, Any] = {**mined,
        "classes": classes, "feature_spec": spec.to_dict(), "model": cfg.model.__dict__,
        "input_quantization": {"scale": in_scale, "zero_point": in_zp},
        "train_config": stage_cfg.__dict__ | {"input_quant": list(stage_cfg.input_quant)},
        "data": {"kind": cfg.data.kind, "root": cfg.data.root, **{s: len(arrays[s][1]) for s in arrays}},
        "epochs_run": result.epochs_run,
    }
    # Test-clip predictions of every model (predictions_test.npz: per-clip comparisons, kws-crossval).
    preds = {"labels": y_test, "float": _predict(result.float_model, x_test, view),
             "pruned": _predict(result.stripped_model, x_test, view)}
    final = result.qat_model or result.stripped_model
    if result.qat_model is not None:
        preds["qat"] = _predict(result.qat_model, x_test, view)

    # Exports: custom op (streaming and window), builtin-only, C array, bundle, sizes.
    calib = x_train[np.random.default_rng(0).permutation(len(x_train))[:200]]
    quant = {"input_scale": in_scale, "input_zero_point": in_zp}
    exp = export_custom_tflite(final, calib_features=calib, time_steps=1, calibrate=result.qat_model is None,
                               **quant)
    win = export_custom_tflite(final, calib_features=calib, time_steps=frames, calibrate=result.qat_model is None,
                               **quant)
    det = cfg.detector
    keywords = keyword_classes(classes)
    sizes = write_artifacts(out, exp.tflite, window_frames=frames, window_tflite=win.tflite, features=spec.to_dict(),
                            detector={"window_frames": det.window_frames, "threshold": det.threshold,
                                      "refractory_frames": det.refractory_frames,
                                      "min_frames": det.window_frames, "keywords": keywords},
                            classes=classes)

    # int8 accuracy: the oracle driven only from the exported flatbuffer's tensors.
    m = tflite_reader.read_exported(run.model_tflite)
    pred_int8 = preds["int8"] = predict(m, x_test)
    for name in ("float", "pruned", "qat", "int8"):
        if name in preds:
            card[f"accuracy_{name}"] = float(np.mean(preds[name] == y_test))
    if "qat" in preds:
        card["int8_vs_qat_agreement"] = float(np.mean(preds["qat"] == pred_int8))
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v, np.int64) for k, v in preds.items()})
    atomic_write_bytes(run.predictions, buf.getvalue())
    if baseline_gru:
        card["accuracy_gru_float_baseline"] = train_baseline_gru(cfg, arrays, len(classes))
    card["sizes"] = sizes
    card["model_bytes"] = len(exp.tflite)
    card["keywords"] = [classes[k] for k in keywords]
    card["train_seconds"] = round(time.time() - t0, 1)

    plots.plot_history(result.history, run.plots / "training_curves.png")
    cm = confusion_matrix(y_test, pred_int8, len(classes))
    card["confusion_int8"] = cm.tolist()
    plots.plot_confusion(cm, classes, run.plots / "confusion_int8.png", "int8 (oracle) confusion, test split")
    atomic_write_text(run.model_card, json.dumps(card, indent=2, default=str) + "\n")
    return card
