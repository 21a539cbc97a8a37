"""Staged training with checkpoints and resume (paper section 3.2, plus QAT).

    result = train_stages(model_fn, train_ds, val_ds, StageConfig(keep_w=0.3, keep_u=0.3), "runs/x")
    result.float_model, result.stripped_model, result.qat_model, result.history, result.epochs_run

Stages, each in `workdir/<stage>/`:
  1 "dense":   train `model_fn()` (full or low rank)                 -> dense.keras
  2 "prune":   TF-MOT pruning to keep_w / keep_u, masks move        -> pruned.keras
  3 "retrain": same wrapped model past the schedule's end_step, so
               the support is fixed; then strip_pruning             -> stripped.keras
  4 "qat":     make_qat_model(stripped), ranges started from training
               batches, trained (when config.qat); optionally the
               best epoch on validation (config.qat_select)         -> qat.h5
Every optimizer clips each gradient's norm (config.clipnorm): without it a FastGRNN whose sigmoid(nu) grows
towards 1 can explode and fall back to chance late in training (seen on FSDD: train accuracy 0.71 -> 0.08).
A stage whose last epoch is still at chance (fastgrnn_tf.collapse) is retried from its start with another
seed and half the learning rate, up to config.collapse_retries times; then TrainingCollapsed is raised,
so nothing is exported from a model that learned nothing.
A finished stage (its model file exists) is skipped on rerun and its model is loaded. An
interrupted stage resumes from its last epoch checkpoint (`ckpt/`, model and optimizer state,
`state.json` with the epoch count and history). `config.json` in `workdir` must match on rerun.
Crash safety (kill -9 at any moment): an epoch's checkpoint is complete before `state.json` (written
atomically) names it, the two newest are kept, and a resume restores exactly the one `state.json` names,
so a half-written checkpoint is never read; TensorFlow's leftover `*_temp` shard folders are removed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tensorflow as tf
import tf_keras as keras

from fastgrnn_tf import collapse, pruning, qat
from fastgrnn_tf.atomic_io import atomic_write_text
from fastgrnn_tf.saving import load_model, save_model

STAGES = ("dense", "prune", "retrain", "qat")
_MODEL_FILES = {"dense": "dense.keras", "prune": "pruned.keras", "retrain": "stripped.keras", "qat": "qat.h5"}


@dataclasses.dataclass(frozen=True)
class StageConfig:
    """Epochs and learning rates per stage, pruning targets, QAT switch.

    keep_w, keep_u: fraction of W / U entries KEPT (paper's s_w, s_u). prune_schedule: "polynomial"
    or "constant"; the final sparsity is reached one step before stage 2 ends. input_quant:
    (scale, zero_point) of the int8 features for QAT, or None. steps_per_epoch: needed only when
    the training dataset's cardinality is unknown. qat_select: a validation metric (e.g. "val_accuracy")
    whose best epoch (max; min for a "...loss") gives the QAT weights kept; None (default) or no val_ds:
    the last epoch. (On Speech Commands Google-12, 293 validation clips, it did not raise test accuracy.)
    qat_average: the QAT model keeps the average of its weights over the last `qat_average` fraction of
    the QAT steps (about 25 evenly spaced snapshots; stochastic weight averaging, Izmailov et al. 2018);
    0 (or qat_select set) keeps the last (best) epoch's weights. Google-12, speaker 5-fold CV, QAT from the
    same pruned models: int8 80.40% with 0.6, 79.96% with 0 (pruned float 80.40%).
    weighted_metrics: the metrics weigh by the datasets' sample weights (x, y, w batches, e.g. frame targets).
    clipnorm: every gradient's norm is clipped to this (None: no clipping). collapse_retries: how often a
    stage that ends at chance accuracy (validation accuracy when there is validation data) is restarted
    (new seed, half the learning rate) before TrainingCollapsed is raised; 0 raises at once. check_collapse=False
    turns the check off (e.g. a deliberately short run).
    """

    epochs_dense: int = 10
    epochs_prune: int = 10
    epochs_retrain: int = 5
    epochs_qat: int = 5
    lr_dense: float = 1e-2
    lr_prune: float = 5e-3
    lr_retrain: float = 2e-3
    lr_qat: float = 1e-3
    keep_w: float = 0.3
    keep_u: float = 0.3
    prune_schedule: str = "polynomial"
    prune_frequency: int | None = None
    qat: bool = True
    input_quant: tuple[float, int] | None = None
    ema_decay: float = 0.99
    loss: str = "sparse_categorical_crossentropy"
    metrics: tuple[str, ...] = ("accuracy",)
    weighted_metrics: bool = False
    steps_per_epoch: int | None = None
    verbose: int = 0
    qat_select: str | None = None
    qat_average: float = 0.6
    clipnorm: float | None = 1.0
    check_collapse: bool = True
    collapse_retries: int = 2

    def __post_init__(self) -> None:
        for name in ("epochs_dense", "epochs_retrain", "epochs_qat"):
            if getattr(self, name) < 0:
                raise ValueError(f"config.{name} must be >= 0, got {getattr(self, name)}")
        if self.epochs_prune < 1:
            raise ValueError(f"config.epochs_prune must be >= 1, got {self.epochs_prune}")
        for name in ("lr_dense", "lr_prune", "lr_retrain", "lr_qat"):
            if not getattr(self, name) > 0:
                raise ValueError(f"config.{name} must be positive, got {getattr(self, name)}")
        pruning.check_keep(self.keep_w, "config.keep_w")
        pruning.check_keep(self.keep_u, "config.keep_u")
        if self.prune_schedule not in ("polynomial", "constant"):
            raise ValueError(
                f"config.prune_schedule must be 'polynomial' or 'constant', got {self.prune_schedule!r}")
        if self.steps_per_epoch is not None and self.steps_per_epoch <= 0:
            raise ValueError(f"config.steps_per_epoch must be positive, got {self.steps_per_epoch}")
        if self.qat_select is not None and not self.qat_select.startswith("val_"):
            raise ValueError(f"config.qat_select must be a validation metric (val_...) or None, "
                             f"got {self.qat_select!r}")
        if self.clipnorm is not None and not self.clipnorm > 0:
            raise ValueError(f"config.clipnorm must be positive or None, got {self.clipnorm}")
        if self.collapse_retries < 0:
            raise ValueError(f"config.collapse_retries must be >= 0, got {self.collapse_retries}")
        if not 0.0 <= self.qat_average <= 1.0:
            raise ValueError(f"config.qat_average must be in [0, 1], got {self.qat_average}")

    def to_json(self) -> str:
        d = dataclasses.asdict(self)
        d["metrics"] = list(self.metrics)
        d["input_quant"] = None if self.input_quant is None else list(self.input_quant)
        return json.dumps(d, sort_keys=True)


@dataclasses.dataclass
class StagesResult:
    """The three models, per-stage Keras history (lists per metric, whole stage even across resumes),
    and how many epochs each stage trained in THIS call (0 for a skipped stage)."""

    float_model: keras.Model
    stripped_model: keras.Model
    qat_model: keras.Model | None
    history: dict[str, dict[str, list[float]]]
    epochs_run: dict[str, int]


class _EpochCheckpoint(keras.callbacks.Callback):
    """Saves model + optimizer and `state.json` (epochs done, history so far) after every epoch; with a
    `monitor` metric also the model weights of the best epoch so far (`best/`, `state.json` "best")."""

    def __init__(self, stage_dir: Path, manager: tf.train.CheckpointManager, history: dict,
                 monitor: str | None = None, best_manager: tf.train.CheckpointManager | None = None,
                 best: dict | None = None) -> None:
        super().__init__()
        self.stage_dir, self.manager, self.history = stage_dir, manager, history
        self.monitor, self.best_manager, self.best = monitor, best_manager, best
        self.epochs_run = 0

    def _improved(self, value: float) -> bool:
        if self.best is None:
            return True
        return value < self.best["value"] if self.monitor.endswith("loss") else value > self.best["value"]

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))
        if self.best_manager is not None and self.monitor in logs and self._improved(float(logs[self.monitor])):
            self.best_manager.save(checkpoint_number=epoch + 1)
            self.best = {"epoch": epoch + 1, "monitor": self.monitor, "value": float(logs[self.monitor])}
        self.manager.save(checkpoint_number=epoch + 1)
        state = {"epoch": epoch + 1, "history": self.history}
        if self.best is not None:
            state["best"] = self.best
        atomic_write_text(self.stage_dir / "state.json", json.dumps(state))
        self.epochs_run += 1


class EpochLog(keras.callbacks.Callback):
    """One line per finished epoch through `log` (progress where Keras' bars would not show, e.g. in a log file)."""

    def __init__(self, stage: str, epochs: int, log: Callable[[str], None]) -> None:
        super().__init__()
        self.stage, self.epochs, self.log = stage, epochs, log

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.t0 = time.time()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        values = " ".join(f"{k} {v:.4f}" for k, v in (logs or {}).items())
        self.log(f"{self.stage} epoch {epoch + 1}/{self.epochs}: {values} ({time.time() - self.t0:.0f} s)")


class WeightAverage(keras.callbacks.Callback):
    """Sums the model's float weights at every `every`-th step after step `start` (the last `fraction` of
    `total_steps`, counted by the optimizer's iterations); `apply()` sets their average. Sums and count
    are tf.Variables: put `self.checkpoint_vars` in the training checkpoint and a resumed run continues
    the same average."""

    AVERAGED_SNAPSHOTS = 25

    def __init__(self, model: keras.Model, optimizer: Any, total_steps: int, fraction: float) -> None:
        super().__init__()
        self.weights_ = [w for w in model.weights if w.dtype.is_floating]
        self.optimizer_ = optimizer
        window = max(1, int(round(total_steps * fraction)))
        self.start = total_steps - window
        self.every = max(1, window // self.AVERAGED_SNAPSHOTS)
        self.sums = [tf.Variable(tf.zeros_like(w), trainable=False) for w in self.weights_]
        self.count = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.checkpoint_vars = {"sums": self.sums, "count": self.count}

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        step = int(self.optimizer_.iterations.numpy())
        if step > self.start and (step - self.start) % self.every == 0:
            for acc, w in zip(self.sums, self.weights_, strict=True):
                acc.assign_add(w)
            self.count.assign_add(1)

    def apply(self) -> int:
        """Sets the averaged weights (no-op without snapshots); returns the number of snapshots."""
        n = int(self.count.numpy())
        if n:
            for acc, w in zip(self.sums, self.weights_, strict=True):
                w.assign(acc / tf.cast(n, acc.dtype))
        return n


def _steps_per_epoch(train_ds: Any, config: StageConfig) -> int:
    if config.steps_per_epoch is not None:
        return config.steps_per_epoch
    n = int(train_ds.cardinality()) if isinstance(train_ds, tf.data.Dataset) else -1
    if n <= 0:
        raise ValueError("train_ds has unknown or infinite cardinality: set config.steps_per_epoch")
    return n


def _run_stage(stage: str, model: keras.Model, lr: float, epochs: int, callbacks: list,
               train_ds: Any, val_ds: Any, config: StageConfig, stage_dir: Path,
               select: str | None = None, average: float = 0.0) -> tuple[dict, int]:
    """Trains `model` for the stage's epochs, resuming from stage_dir/ckpt; returns (history, epochs run).
    With `select` (a validation metric) and val_ds, `model` ends with the weights of its best epoch; with
    `average` > 0, with its weights averaged over that fraction of the stage's last steps (WeightAverage)."""
    stage_dir.mkdir(parents=True, exist_ok=True)
    state = _resume_state(stage_dir)  # before the managers read ckpt/
    optimizer = keras.optimizers.Adam(lr, clipnorm=config.clipnorm)
    if config.weighted_metrics:  # the datasets carry sample weights (e.g. frame targets): metrics use them too
        model.compile(optimizer=optimizer, loss=config.loss, weighted_metrics=list(config.metrics))
    else:
        model.compile(optimizer=optimizer, loss=config.loss, metrics=list(config.metrics))
    averager = None
    if average > 0:
        averager = WeightAverage(model, optimizer, _steps_per_epoch(train_ds, config) * epochs, average)
        callbacks = [*callbacks, averager]
    extra = {"average": tf.train.Checkpoint(**averager.checkpoint_vars)} if averager else {}
    ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer, **extra)
    # Two kept: the checkpoint state.json names survives a crash between the next epoch's save and state.json.
    manager = tf.train.CheckpointManager(ckpt, str(stage_dir / "ckpt"), max_to_keep=2)
    select = select if val_ds is not None else None
    best_ckpt = tf.train.Checkpoint(model=model)
    # Two kept: the "best" that state.json names survives a crash between the two saves of an epoch.
    best_manager = tf.train.CheckpointManager(best_ckpt, str(stage_dir / "best"), max_to_keep=2) if select else None
    start, history, best = 0, {}, None
    if state is not None:
        path = stage_dir / "ckpt" / f"ckpt-{state['epoch']}"
        try:
            ckpt.restore(str(path)).expect_partial()
        except (tf.errors.OpError, ValueError) as e:
            raise ValueError(f"stage {stage!r}: cannot restore {path} ({e}); delete {stage_dir} to restart "
                             "the stage") from None
        start, history, best = int(state["epoch"]), state["history"], state.get("best")
    saver = _EpochCheckpoint(stage_dir, manager, history, select, best_manager, best)
    if start < epochs:
        model.fit(train_ds, validation_data=val_ds, epochs=epochs, initial_epoch=start,
                  steps_per_epoch=config.steps_per_epoch, callbacks=[*callbacks, saver],
                  verbose=config.verbose)
    if best_manager is not None and saver.best is not None:
        path = str(stage_dir / "best" / f"ckpt-{saver.best['epoch']}")
        best_ckpt.restore(path).expect_partial()
    if averager is not None:
        averager.apply()
    return history, saver.epochs_run


def _resume_state(stage_dir: Path) -> dict | None:
    """state.json of an interrupted stage when the checkpoints it names are on disk, else None (the stage
    starts over, its folder emptied). Removes the `*_temp` shard folders of a checkpoint save that was killed."""
    for sub in ("ckpt", "best"):
        for tmp in (stage_dir / sub).glob("*_temp"):
            shutil.rmtree(tmp, ignore_errors=True)
    state_path = stage_dir / "state.json"
    if not state_path.is_file():
        return None
    state = json.loads(state_path.read_text())  # written atomically: whole or absent
    named = [f"ckpt/ckpt-{state['epoch']}"] + ([f"best/ckpt-{state['best']['epoch']}"] if state.get("best") else [])
    missing = [n for n in named if not (stage_dir / f"{n}.index").is_file()]
    if missing:
        print(f"{state_path}: its checkpoint {missing[0]} is missing; the stage starts over", file=sys.stderr,
              flush=True)
        shutil.rmtree(stage_dir)
        stage_dir.mkdir(parents=True)
        return None
    return state


def train_stages(
    model_fn: Callable[[], keras.Model],
    train_ds: Any,
    val_ds: Any,
    config: StageConfig | dict | None,
    workdir: str | os.PathLike,
    callbacks: Callable[[str], list] | None = None,
    log: Callable[[str], None] | None = None,
    after_dense: Callable[[keras.Model], Any] | None = None,
) -> StagesResult:
    """Runs (or resumes) the four stages; see the module docstring.

    model_fn: returns a new float model containing one tf_keras.layers.RNN(FastGRNNCell) (or FastRNN,
      without QAT). train_ds / val_ds: tf.data datasets of (x, y) batches (val_ds may be None).
    callbacks: optional `stage name -> list of extra Keras callbacks` (e.g. TensorBoard per stage).
    log: optional; gets a line per finished epoch ("dense epoch 3/10: loss ... (12 s)").
    after_dense: optional `dense model -> train_ds` of the later stages (e.g. the training set plus the hard
      negatives the dense model fires on). It is called on every run, also when the dense stage was loaded
      from disk, so a resumed run must get the same dataset from it (cache what it computes).
    """
    if config is None:
        config = StageConfig()
    elif isinstance(config, dict):
        config = StageConfig(**config)
    elif not isinstance(config, StageConfig):
        raise ValueError(f"config must be a StageConfig or a dict, got {type(config).__name__}")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "config.json"
    if config_path.exists() and not _same_config(json.loads(config_path.read_text()), json.loads(config.to_json())):
        raise ValueError(f"workdir {workdir} was made with a different config ({config_path}); "
                         "use a new workdir or delete it")
    atomic_write_text(config_path, config.to_json())
    steps = _steps_per_epoch(train_ds, config)

    history: dict[str, dict[str, list[float]]] = {}
    epochs_run = dict.fromkeys(STAGES, 0)
    models: dict[str, keras.Model] = {}
    chance: list[float | None] = [None]  # the chance accuracy, read from the labels once, when first needed

    def stage(name: str, build: Callable[[], keras.Model], lr: float, epochs: int, stage_callbacks: list,
              finish: Callable[[keras.Model], keras.Model] = lambda m: m, select: str | None = None,
              average: float = 0.0) -> keras.Model:
        stage_dir = workdir / name
        final = stage_dir / _MODEL_FILES[name]
        state_path = stage_dir / "state.json"
        if final.exists():
            history[name] = json.loads(state_path.read_text())["history"] if state_path.exists() else {}
            models[name] = load_model(final)
            return models[name]
        model = build()
        initial = model.get_weights()
        for attempt in range(config.collapse_retries + 1):
            if attempt:  # a fresh start: new seed, half the learning rate, the stage's checkpoints removed
                shutil.rmtree(stage_dir, ignore_errors=True)
                keras.utils.set_random_seed(RETRY_SEED + attempt)
                again = build()
                if again is model:
                    model.set_weights(initial)
                model = again
            extra = list(callbacks(name)) if callbacks is not None else []
            if log is not None:
                extra.append(EpochLog(name, epochs, log))
            history[name], run = _run_stage(name, model, lr * 0.5 ** attempt, epochs, [*stage_callbacks, *extra],
                                            train_ds, val_ds, config, stage_dir, select, average)
            epochs_run[name] += run
            if chance[0] is None:
                chance[0] = collapse.chance_level([val_ds, train_ds], collapse.num_outputs(model))
            v = collapse.verdict(history[name], chance[0]) if config.check_collapse else None
            if v is None or not v.collapsed:
                break
            if attempt < config.collapse_retries:
                print(f"stage {name!r} stayed at chance ({v.describe()}); restarting it with another seed and "
                      f"learning rate {lr * 0.5 ** (attempt + 1):g} (attempt {attempt + 2} of "
                      f"{config.collapse_retries + 1})", file=sys.stderr, flush=True)
        else:
            raise collapse.TrainingCollapsed(
                f"stage {name!r} stayed at chance after {config.collapse_retries + 1} attempts ({v.describe()}, "
                f"last learning rate {lr * 0.5 ** config.collapse_retries:g}); nothing was exported. Check the "
                f"labels and features, or lower the learning rate / raise the epochs of this stage "
                f"({stage_dir} holds the last attempt's checkpoints)")
        model = finish(model)
        save_model(model, final)
        models[name] = model
        return model

    dense = stage("dense", model_fn, config.lr_dense, config.epochs_dense, [])
    if after_dense is not None:
        train_ds = after_dense(dense)  # the stage() closure reads train_ds when each later stage runs
        steps = _steps_per_epoch(train_ds, config)
    end_step = steps * config.epochs_prune - 1
    pruned = stage(
        "prune",
        lambda: pruning.prune_fastgrnn(dense, keep_w=config.keep_w, keep_u=config.keep_u,
                                       end_step=max(end_step, 1), frequency=config.prune_frequency,
                                       kind=config.prune_schedule),
        config.lr_prune, config.epochs_prune, pruning.pruning_callbacks(), finish=_masked)
    stripped = stage("retrain", lambda: pruned, config.lr_retrain, config.epochs_retrain,
                     pruning.pruning_callbacks(), finish=pruning.strip)
    qat_model = None
    if config.qat:
        qat_model = stage("qat", lambda: _qat_model(stripped, train_ds, config), config.lr_qat, config.epochs_qat, [],
                          select=config.qat_select, average=0.0 if config.qat_select else config.qat_average)
    return StagesResult(float_model=dense, stripped_model=stripped, qat_model=qat_model, history=history,
                        epochs_run=epochs_run)


QAT_CALIB_BATCHES = 32
RETRY_SEED = 7919  # seeds of restarted stages: RETRY_SEED + attempt


def _qat_model(stripped: keras.Model, train_ds: Any, config: StageConfig) -> keras.Model:
    """The QAT model of `stripped`, its ranges started from up to QAT_CALIB_BATCHES training batches: the
    head's activation ranges from the float model (not TF-MOT's [-6, 6], which clips the logits; see
    qat.init_activation_ranges), then the FastGRNN cell's v / u / pre ranges (qat.calibrate). On resume the
    checkpoint then restores the trained ranges."""
    model = qat.make_qat_model(stripped, config.input_quant, config.ema_decay)
    batches = qat.input_batches(train_ds, 256, QAT_CALIB_BATCHES)  # batch_size only applies to arrays
    qat.init_activation_ranges(model, stripped, batches)
    qat.calibrate(model, batches)
    return model


def _same_config(stored: dict, current: dict) -> bool:
    """Whether a workdir's config.json matches; a field it lacks (added to StageConfig later) counts as its default."""
    defaults = json.loads(StageConfig().to_json())
    return {**{k: defaults[k] for k in current.keys() - stored.keys() if k in defaults}, **stored} == current


def _masked(model: keras.Model) -> keras.Model:
    pruning.apply_masks(model)
    return model
