"""Speaker K-fold cross-validation of the whole `kws-train` job (the library behind `kws-crossval`,
`keyword_spotting.crossval_cli`).

    report = run_crossval(cfg, folds=5, out="build/cv")

All clips of the configured dataset are pooled and dealt to K speaker-disjoint folds
(`datasets.speaker_fold`); run k trains on K-2 folds, validates on fold k+1 and tests on fold k,
in `out/fold<k>/` (a complete `kws-train` output; an interrupted job resumes where it stopped, a
finished fold is reused). Every clip is then a held-out test clip exactly once, so the float, pruned,
QAT and int8 accuracies are measured on the whole dataset instead of one small test split.
`out/cv_report.json`: per-fold and pooled accuracies, the pooled int8 - float gaps in points with a
paired bootstrap 95% interval over clips, and how many clips each model gets right that the other
misses. The feature cache is shared by the folds (`out/cache`).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np

from fastgrnn_tf.atomic_io import atomic_write_text
from keyword_spotting.run_folder import RunFolder
from keyword_spotting.train_config import Config

MODELS = ("float", "pruned", "qat", "int8")
BOOTSTRAP_SAMPLES = 2000


def fold_config(cfg: Config, folds: int, fold: int, out: Path) -> Config:
    """The kws-train config of fold `fold`: data.folds / data.fold set, out_dir = out/fold<k>."""
    c = copy.deepcopy(cfg)
    c.data.folds, c.data.fold = folds, fold
    c.out_dir = str(out / f"fold{fold}")
    c.validate()
    return c


def _fold_done(fold_dir: Path, cfg: Config) -> bool:
    """A finished fold: its model card and predictions exist and it was made with this config."""
    run = RunFolder(fold_dir)
    if not run.trained():
        return False
    stored = json.loads(run.config.read_text()) if run.config.is_file() else {}
    current = json.loads(json.dumps(cfg.to_dict(), default=list))
    stored.pop("out_dir", None)  # a moved folder is still the same run
    current.pop("out_dir")
    if stored != current:
        raise ValueError(f"{fold_dir} holds a run with a different config; use another --out or delete it")
    return True


def paired_gap(labels: np.ndarray, a: np.ndarray, b: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """Accuracy of `a` minus accuracy of `b` on the same clips, in points, with a paired bootstrap 95%
    interval (clips resampled with replacement) and the discordant clip counts."""
    ra, rb = (a == labels), (b == labels)
    diff = ra.astype(np.float64) - rb.astype(np.float64)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(diff), size=(BOOTSTRAP_SAMPLES, len(diff)))
    boot = diff[idx].mean(axis=1) * 100.0
    return {"points": float(diff.mean() * 100.0),
            "ci95": [float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))],
            "only_first_right": int(np.sum(ra & ~rb)), "only_second_right": int(np.sum(~ra & rb))}


def summarize(fold_dirs: list[Path]) -> dict[str, Any]:
    """The cross-validation report from finished fold directories (model_card.json + predictions_test.npz)."""
    per_fold, pooled = [], {}
    for d in fold_dirs:
        card = json.loads(RunFolder(d).model_card.read_text())
        with np.load(RunFolder(d).predictions) as z:
            preds = {k: z[k] for k in z.files}
        n = len(preds["labels"])
        row = {"fold": d.name, "test_clips": n, "model_bytes": card.get("model_bytes")}
        for m in MODELS:
            if m in preds:
                row[f"accuracy_{m}"] = float(np.mean(preds[m] == preds["labels"]))
        per_fold.append(row)
        for k, v in preds.items():
            pooled.setdefault(k, []).append(v)
    cat = {k: np.concatenate(v) for k, v in pooled.items()}
    labels = cat["labels"]
    report: dict[str, Any] = {"folds": len(fold_dirs), "test_clips": int(len(labels)), "per_fold": per_fold}
    for m in MODELS:
        if m in cat and len(cat[m]) == len(labels):
            report[f"accuracy_{m}"] = float(np.mean(cat[m] == labels))
    if "int8" in cat:
        for ref in ("float", "pruned"):
            if ref in cat:
                report[f"int8_minus_{ref}"] = paired_gap(labels, cat["int8"], cat[ref])
                fold_gaps = [100.0 * (r["accuracy_int8"] - r[f"accuracy_{ref}"]) for r in per_fold]
                report[f"int8_minus_{ref}"]["per_fold_points"] = fold_gaps
        if "qat" in cat:
            report["int8_vs_qat_agreement"] = float(np.mean(cat["int8"] == cat["qat"]))
    return report


def run_crossval(cfg: Config, folds: int, out: str | Path, progress: bool = True) -> dict[str, Any]:
    """Trains (or reuses) every fold, then writes and returns `out/cv_report.json`."""
    import tf_keras as keras

    from keyword_spotting.train import run_training

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    dirs = []
    for k in range(folds):
        fcfg = fold_config(cfg, folds, k, out)
        fold_dir = Path(fcfg.out_dir)
        if not _fold_done(fold_dir, fcfg):
            print(f"kws-crossval: fold {k + 1}/{folds} -> {fold_dir}", flush=True)
            run_training(fcfg, progress=progress, cache_dir=RunFolder(out).cache)
            keras.backend.clear_session()
        dirs.append(fold_dir)
    report = summarize(dirs)
    report["config"] = json.loads(json.dumps(cfg.to_dict(), default=list))
    atomic_write_text(out / "cv_report.json", json.dumps(report, indent=2) + "\n")
    return report
