"""Evaluation of a `kws-train` run folder: clip accuracy per model, plus the streaming evaluation of
`stream_eval`, in one report.

    acc = evaluate_accuracy("build/train", split="test")   # float/pruned/QAT/int8 accuracy + confusions
    report = evaluate_run("build/train")        # accuracy + streaming; writes eval_report.json and plots/

The run folder (`run_folder.py`) gives the config (the dataset and feature spec are reloaded from it),
`model.tflite` (custom op; the int8 oracle is driven from it by `fastgrnn_tf.export.tflite_reader`),
`model.fgb` (the streaming pipeline's bundle) and the stage Keras models, when present.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fastgrnn_tf.atomic_io import atomic_write_text
from fastgrnn_tf.export.model_bundle import read_model_bundle, write_model_bundle
from fastgrnn_tf.int8.model import predict
from keyword_spotting import kws_model, plots
from keyword_spotting.features import dequantize, model_view
from keyword_spotting.metrics import confusion_matrix
from keyword_spotting.run_folder import (
    EVAL_REPORT,
    PLOTS,
    RunFolder,
    load_run,
    load_run_dataset,
    load_stage_model,
    split_arrays,
)
from keyword_spotting.stream_eval import evaluate_streaming


# ----------------------------------------------------------------------------------------------
# Clip accuracy.
def evaluate_accuracy(run_dir: str | os.PathLike, split: str = "test", progress: bool = False,
                      plots_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """Accuracy and confusion matrix of the float, pruned, QAT (Keras) and int8 (oracle) models on a split.

    Returns {"split", "num_clips", "classes", "accuracy_<m>", "confusion_<m>" for m in float, pruned,
    qat, int8 (None when the run has no such model), "int8_vs_qat_agreement", "models" (files used),
    "input_quantization"}. The int8 model is `model.tflite` run by `fastgrnn_tf.int8.model.predict` (the oracle,
    from the file's tensors); the Keras models read the same codes through the input quantization
    that file declares (`features.model_view`).
    With `plots_dir`, also writes `eval_confusion_<m>_<split>.png` there.
    """
    from fastgrnn_tf.export import tflite_reader  # TensorFlow's schema: report helpers stay TF-free

    run = load_run(run_dir)
    dataset = load_run_dataset(run, progress)
    classes = list(dataset.class_names)
    x, y = split_arrays(run, dataset, split, progress)
    n_cls = len(classes)
    try:
        m = tflite_reader.read_exported(run.folder.model_tflite)
    except ValueError as e:
        raise ValueError(f"{run.folder.model_tflite}: {e}") from e
    if m.head[-1].weights.shape[0] != n_cls:
        raise ValueError(f"{run.folder.model_tflite}: {m.head[-1].weights.shape[0]} outputs but the dataset "
                         f"has {n_cls} classes")
    view = model_view(run.spec, m.input_scale, m.input_zero_point)
    out: dict[str, Any] = {"split": split, "num_clips": int(len(y)), "classes": classes, "models": {},
                           "input_quantization": {"scale": float(m.input_scale),
                                                  "zero_point": int(m.input_zero_point)}}
    preds: dict[str, np.ndarray] = {}
    for stage in ("float", "pruned", "qat"):
        model = load_stage_model(run, stage)
        if model is None:
            continue
        n_out = int(model.output_shape[-1])
        if n_out != n_cls:
            raise ValueError(f"{run.folder.stage_model(stage)}: {n_out} outputs but the dataset "
                             f"has {n_cls} classes")
        probs = model.predict(dequantize(x, view), batch_size=256, verbose=0)
        preds[stage] = np.argmax(probs, axis=-1)
        out["models"][stage] = str(run.folder.stage_model(stage).relative_to(run.path))
    preds["int8"] = predict(m, x)
    out["models"]["int8"] = run.folder.model_tflite.name
    for name in ("float", "pruned", "qat", "int8"):
        p = preds.get(name)
        out[f"accuracy_{name}"] = None if p is None else float(np.mean(p == y))
        out[f"confusion_{name}"] = None if p is None else confusion_matrix(y, p, n_cls).tolist()
    out["int8_vs_qat_agreement"] = (float(np.mean(preds["int8"] == preds["qat"])) if "qat" in preds else None)
    if plots_dir is not None:
        for name, p in preds.items():
            plots.plot_confusion(confusion_matrix(y, p, n_cls), classes,
                                 Path(plots_dir) / f"eval_confusion_{name}_{split}.png",
                                 f"{name} confusion, {split} split ({len(y)} clips)")
    return out


def write_bundle_with_threshold(run_dir: str | os.PathLike, threshold: int,
                                out_path: str | os.PathLike | None = None) -> Path:
    """Rewrite the run's `model.fgb` (or write `out_path`) with `detector.threshold` = `threshold`,
    every other entry unchanged (e.g. to give the host runner / firmware the chosen operating point)."""
    integer = isinstance(threshold, (int, np.integer)) and not isinstance(threshold, bool)
    if not integer or not 0 <= threshold <= 255:
        raise ValueError(f"threshold must be an integer in [0, 255], got {threshold!r}")
    src = RunFolder(Path(run_dir)).bundle
    if not src.is_file():
        raise ValueError(f"run folder {run_dir} has no model.fgb")
    b = read_model_bundle(src)
    b.detector["threshold"] = int(threshold)
    dst = Path(out_path) if out_path is not None else src
    write_model_bundle(dst, b)
    kws_model.load_model(dst)  # still a valid model
    return dst


# ----------------------------------------------------------------------------------------------
# The whole report.
def _jsonable(x: Any) -> Any:
    """NaN / inf -> None, numpy scalars -> Python, recursively (strict JSON)."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def write_report(report: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write `report` as strict JSON (NaN -> null), atomically."""
    return atomic_write_text(path, json.dumps(_jsonable(report), indent=1, allow_nan=False) + "\n")


def evaluate_run(run_dir: str | os.PathLike, split: str = "test", out_dir: str | os.PathLike | None = None,
                 accuracy: bool = True, streaming: bool = True, minutes: float = 10.0, fa_target: float = 1.0,
                 seed: int = 0, extra_negative_dirs: Sequence[str | os.PathLike] = (),
                 extra_noise_dirs: Sequence[str | os.PathLike] = (), tolerance_s: float = 0.5,
                 progress: bool = False) -> dict[str, Any]:
    """`evaluate_accuracy` + `evaluate_streaming`; writes `<out_dir>/eval_report.json` and `plots/`."""
    if not (accuracy or streaming):
        raise ValueError("nothing to evaluate: accuracy and streaming are both off")
    run = load_run(run_dir)
    out = Path(out_dir) if out_dir is not None else run.path
    report: dict[str, Any] = {"run_dir": str(run.path), "split": split}
    if accuracy:
        report.update(evaluate_accuracy(run.path, split, progress, plots_dir=out / PLOTS))
    if streaming:
        report.update(evaluate_streaming(run.path, minutes, fa_target, seed, extra_negative_dirs,
                                         extra_noise_dirs, split, out, tolerance_s, progress))
    report["report"] = str(out / EVAL_REPORT)
    write_report(report, out / EVAL_REPORT)
    return _jsonable(report)


def _pct(x: Any) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}%"


def summary(report: dict[str, Any]) -> str:
    """A few lines for the terminal."""
    lines = [f"run {report.get('run_dir')}  split {report.get('split')}"]
    if "accuracy_int8" in report:
        models = ("float", "pruned", "qat", "int8")
        accs = "  ".join(f"{m} {_pct(report.get(f'accuracy_{m}'))}" for m in models)
        lines.append(f"accuracy ({report['num_clips']} clips): {accs}")
        if report.get("int8_vs_qat_agreement") is not None:
            lines.append(f"int8 vs QAT agreement: {_pct(report['int8_vs_qat_agreement'])}")
    if "frr" in report:
        st = report["stream"]
        lat = report["latency_ms"]
        lat_s = ("n/a" if lat["median"] is None
                 else f"median {lat['median']:.0f} ms, mean {lat['mean']:.0f} ms")
        met = ("" if report["target_met"]
               else f" (target {report['fa_target_per_hour']:g}/h not met: lowest FA/h)")
        fa = report["fa_per_hour"]
        lines.append(f"stream: {st['seconds'] / 60:.1f} min, {st['num_events']} keywords, "
                     f"{st['num_negative_clips']} negative clips -> {st['wav']}")
        lines.append(f"operating point: threshold {report['threshold']}: FRR {_pct(report['frr'])}, "
                     f"{'n/a' if fa is None else f'{fa:.2f}'} FA/h{met}; latency {lat_s}")
        c = report["configured_threshold"]
        cfa = c["fa_per_hour"]
        lines.append(f"configured threshold {c['threshold']}: FRR {_pct(c['frr'])}, "
                     f"{'n/a' if cfa is None else f'{cfa:.2f}'} FA/h")
    if "report" in report:
        lines.append(f"report: {report['report']}")
    return "\n".join(lines)
