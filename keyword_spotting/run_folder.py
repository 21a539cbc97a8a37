"""The layout of a `kws-train` run folder, known here only, and what reads a run back.

    run = load_run("build/train")                 # checks config.json and model.tflite; run.config, run.spec
    run.folder.bundle, run.folder.stage_model("qat"), run.folder.eval_report   # paths
    ds = load_run_dataset(run); x, y = split_arrays(run, ds, "test")
    model = load_pipeline_model(run, ds.class_names)   # the streaming KwsModel (model.fgb)

A run folder holds: `config.json` (the full training config), the exported model files of
`fastgrnn_tf.export.layout` (`model.tflite` streaming T=1, `model_window.tflite`, the builtin twins,
`model_data.h/.cc`, `model.fgb`, `size_report.json`), `model_card.json`, `predictions_test.npz` (per-clip
test predictions of every model), `stages/` (Keras checkpoints and models; `fastgrnn_tf.stages`),
`cache/` (features), `plots/`, `tensorboard/`, `tts_data/` (a synthesized dataset), and after `kws-eval`
`eval_report.json` and `eval_stream.wav` (+ `.json`).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fastgrnn_tf.export import layout
from keyword_spotting import datasets, kws_model, real_negatives, real_positives, tts
from keyword_spotting.augment import load_noise_clips
from keyword_spotting.datasets import SILENCE, UNKNOWN, SplitDataset
from keyword_spotting.detector import DetectorParams
from keyword_spotting.features import FeatureSpec
from keyword_spotting.tfdata import make_feature_arrays
from keyword_spotting.train_config import Config, config_from_dict

NON_KEYWORD_CLASSES = (SILENCE, UNKNOWN, "negative")
"""Class names that are never keywords (as `kws-train` picks the detector's keywords)."""
EVAL_STREAM = "eval_stream.wav"
EVAL_REPORT = "eval_report.json"
PLOTS = "plots"
STAGE_MODELS = {"float": "dense/dense.keras", "pruned": "retrain/stripped.keras", "qat": "qat/qat.h5"}
"""Keras model of each evaluated stage, relative to `<run>/stages` (`fastgrnn_tf.stages` file names)."""


@dataclasses.dataclass(frozen=True)
class RunFolder:
    """The paths of one run folder."""

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    config = property(lambda self: self.path / "config.json")
    model_tflite = property(lambda self: self.path / layout.MODEL_TFLITE)
    window_tflite = property(lambda self: self.path / layout.WINDOW_TFLITE)
    builtin_tflite = property(lambda self: self.path / layout.BUILTIN_TFLITE)
    bundle = property(lambda self: self.path / layout.BUNDLE)
    model_card = property(lambda self: self.path / "model_card.json")
    predictions = property(lambda self: self.path / "predictions_test.npz")
    stages = property(lambda self: self.path / "stages")
    cache = property(lambda self: self.path / "cache")
    plots = property(lambda self: self.path / PLOTS)
    tensorboard = property(lambda self: self.path / "tensorboard")
    tts_data = property(lambda self: self.path / "tts_data")
    real_negatives = property(lambda self: self.path / "real_negatives")  # 1 s clips cut from real speech
    hard_negatives = property(lambda self: self.path / "hard_negatives.json")  # windows mined after dense
    eval_report = property(lambda self: self.path / EVAL_REPORT)
    eval_stream = property(lambda self: self.path / EVAL_STREAM)

    def stage_model(self, stage: str) -> Path:
        """The Keras model file of an evaluated stage ("float", "pruned", "qat")."""
        if stage not in STAGE_MODELS:
            raise ValueError(f"stage must be one of {sorted(STAGE_MODELS)}, got {stage!r}")
        return self.stages / STAGE_MODELS[stage]

    def trained(self) -> bool:
        """True when `kws-train` finished here (model card and test predictions written)."""
        return self.model_card.is_file() and self.predictions.is_file()


@dataclasses.dataclass
class Run:
    """A `kws-train` output folder and its configuration (`out_dir` set to the folder itself)."""

    path: Path
    config: Config

    @property
    def spec(self) -> FeatureSpec:
        return self.config.features

    @property
    def folder(self) -> RunFolder:
        return RunFolder(self.path)


def load_run(run_dir: str | os.PathLike) -> Run:
    """Check `run_dir` is a `kws-train` folder (config.json, model.tflite) and load its config."""
    path = Path(run_dir)
    if not path.is_dir():
        raise ValueError(f"run folder {path} is not a directory")
    folder = RunFolder(path)
    cfg_path = folder.config
    if not cfg_path.is_file():
        raise ValueError(f"run folder {path} has no config.json (not a kws-train output folder?)")
    try:
        cfg = config_from_dict(json.loads(cfg_path.read_text()))
    except (ValueError, TypeError) as e:
        raise ValueError(f"{cfg_path}: {e}") from e
    if not folder.model_tflite.is_file():
        raise ValueError(f"run folder {path} has no model.tflite (training not finished?)")
    cfg.out_dir = str(path)  # a TTS dataset lives in <run>/tts_data even if the folder was moved
    return Run(path, cfg)


def load_config_dataset(cfg: Config, progress: bool = True) -> SplitDataset:
    """The SplitDataset the config names (the TTS kind synthesizes its folder first, once); with
    data.folds > 0, its speaker K-fold split number data.fold (`datasets.speaker_fold`); plus the real
    negatives and noise (`real_negatives`) and the real positives (`real_positives`, train split).
    The extra folders are listed (and the real positives read) first: a folder without audio or an
    unreadable recording stops here before any synthesis."""
    d = cfg.data
    positives = (real_positives.positive_files(d.real_positives, d.real_positives_max, d.seed)
                 if d.real_positives else [])
    sources = real_negatives.gather(d.negative_dirs, d.noise_dirs, d.real_data)
    ds = _load_split(cfg, progress)
    ds = datasets.speaker_fold(ds, cfg.data.folds, cfg.data.fold) if cfg.data.folds else ds
    ds = real_negatives.add_real_audio(ds, sources, RunFolder(Path(cfg.out_dir)).real_negatives,
                                       d.real_negative_clips, d.seed)
    return real_positives.add_real_positives(ds, positives)


def _load_split(cfg: Config, progress: bool) -> SplitDataset:
    d = cfg.data
    if d.kind == "speech_commands":
        return datasets.load_speech_commands(d.root, task=d.task, seed=d.seed)
    if d.kind == "filename":
        return datasets.load_filename_labelled(d.root, pattern=d.pattern)
    root = Path(d.root) if d.root else RunFolder(Path(cfg.out_dir)).tts_data
    if d.kind == "tts":
        tts.ensure_dataset(root, phrase=d.phrase, positives=d.tts_positives, negatives=d.tts_negatives,
                           noise=d.tts_noise, seed=d.seed, progress=progress, engines=d.tts_engines or None,
                           weight_cap=d.tts_weight_cap)
    return datasets.load_custom_folder(root)


def load_run_dataset(run: Run, progress: bool = False) -> SplitDataset:
    """The run's SplitDataset, reloaded from its config exactly as `kws-train` loaded it."""
    try:
        return load_config_dataset(run.config, progress)
    except ValueError as e:
        raise ValueError(f"run {run.path}: cannot reload its dataset: {e}") from e


def run_keywords(classes: Sequence[str]) -> list[int]:
    """Keyword class indices: every class but silence / unknown / negative (as `kws-train` does)."""
    return [i for i, c in enumerate(classes) if c not in NON_KEYWORD_CLASSES]


def split_arrays(run: Run, dataset: SplitDataset, split: str, progress: bool = False
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Clean int8 features [N, T, D] and labels [N] of a split, as `kws-train` made its val/test arrays."""
    items = dataset.split(split)
    if not items:
        raise ValueError(f"run {run.path}: split {split!r} of its dataset is empty")
    noise = load_noise_clips(dataset.noise, run.spec.sample_rate)
    return make_feature_arrays(items, run.spec, None, noise_clips=noise, cache_dir=run.folder.cache,
                               progress=progress)


def load_stage_model(run: Run, stage: str) -> Any | None:
    """The stage's Keras model (`STAGE_MODELS`), or None when the run has no such file."""
    path = run.folder.stage_model(stage)
    if not path.is_file():
        return None
    from fastgrnn_tf.saving import load_model

    try:
        return load_model(path)
    except Exception as e:  # whatever the loader raises, name the file
        raise ValueError(f"{path}: cannot load the {stage} Keras model: {e}") from e


def load_pipeline_model(run: Run, classes: Sequence[str]) -> kws_model.KwsModel:
    """The run's streaming model: `model.fgb` (else `model.tflite` + the config's detector), checked
    against the run's feature spec and the dataset's `classes`."""
    fgb = run.folder.bundle
    if fgb.is_file():
        model = kws_model.load_model(fgb)
        if model.classes != tuple(classes):
            raise ValueError(f"{fgb}: classes {list(model.classes)} differ from the dataset's "
                             f"{list(classes)}")
    else:
        det = run.config.detector
        params = DetectorParams(keywords=tuple(run_keywords(classes)), window_frames=det.window_frames,
                                threshold=det.threshold, refractory_frames=det.refractory_frames)
        model = kws_model.load_model(run.folder.model_tflite, features=run.spec, detector=params,
                                     classes=classes)
    if model.features != run.spec:
        raise ValueError(f"{fgb}: its feature spec {model.features.to_dict()} differs from config.json's "
                         f"{run.spec.to_dict()}")
    return model


