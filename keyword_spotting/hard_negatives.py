"""Hard-negative mining: the real negative audio the dense model fires on, added to the later stages.

After the dense stage, every 1 s window (at a `hop_ms` hop) of the TRAINING part of the real negative
recordings (`real_negatives.gather`: measuring audio never trains) is played through the dense model from a
zero state; a window's score is its highest keyword probability after `warmup_frames` frames. The `count`
highest-scoring windows join the training set as negatives for pruning, retraining and QAT, so the model
is corrected exactly where it confuses real speech with the word (microWakeWord and openWakeWord mine
their long negative streams the same way). The chosen windows and their scores are written to the run
folder (`hard_negatives.json`, atomically): a resumed run trains on the same windows without scoring again.

    x_hard, report = mine(dense_model, sources, spec, view, keywords={1}, count=1000, cache=run / "hard_negatives.json")
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fastgrnn_tf.atomic_io import atomic_write_text
from keyword_spotting.audio_io import CLIP_SAMPLES, SAMPLE_RATE, read_audio
from keyword_spotting.features import FeatureSpec, dequantize, int8_features
from keyword_spotting.real_negatives import loud_windows

WARMUP_FRAMES = 20   # a window starts from a zero state; its first frames say little
VERSION = 1


def candidates(sources: Sequence[tuple[Path, str]], hop_samples: int) -> list[tuple[str, int, np.ndarray]]:
    """(file, start sample, int16 window of CLIP_SAMPLES) for every window of the recordings at `hop_samples`
    that is not near-silent."""
    if hop_samples <= 0:
        raise ValueError(f"the mining hop must be positive, got {hop_samples} samples")
    out = []
    for path, _ in sources:
        pcm = read_audio(path, SAMPLE_RATE)
        out += [(str(path), s, pcm[s:s + CLIP_SAMPLES]) for s in loud_windows(pcm, hop_samples)]
    return out


def window_scores(model: Any, x: np.ndarray, view: FeatureSpec, keywords: Sequence[int],
                  warmup_frames: int = WARMUP_FRAMES, batch_size: int = 256) -> np.ndarray:
    """float [N]: the highest summed keyword probability of each int8 window [N, T, D] after `warmup_frames`
    (a model that scores only the last frame is read there)."""
    if len(x) == 0:
        return np.zeros(0, np.float32)
    probs = np.asarray(model.predict(dequantize(x, view), batch_size=batch_size, verbose=0))
    kw = probs[..., list(keywords)].sum(axis=-1)
    if kw.ndim == 1:
        return kw.astype(np.float32)
    return kw[:, min(warmup_frames, kw.shape[1] - 1):].max(axis=1).astype(np.float32)


def mine(model: Any, sources: Sequence[tuple[Path, str]], spec: FeatureSpec, view: FeatureSpec,
         keywords: Sequence[int], count: int, hop_ms: float = 250.0, cache: str | Path | None = None,
         log: Any = print) -> tuple[np.ndarray, dict]:
    """int8 features [k, T, D] of the `count` windows `model` scores highest (k <= count), and a report.
    With `cache`: read the chosen windows from it when it matches (same sources, spec, count, hop), else
    write it."""
    hop = int(round(hop_ms * SAMPLE_RATE / 1000))
    files = sorted({str(p) for p, _ in sources})
    key = {"version": VERSION, "files": files, "spec": spec.to_dict(), "count": count, "hop_samples": hop}
    cache = Path(cache) if cache else None
    if cache is not None and cache.is_file():
        stored = json.loads(cache.read_text())
        if stored.get("key") == key:
            pcm = {f: read_audio(f, SAMPLE_RATE) for f in {w["file"] for w in stored["windows"]}}
            x = np.stack([int8_features(pcm[w["file"]][w["start"]:w["start"] + CLIP_SAMPLES], spec)
                          for w in stored["windows"]]) if stored["windows"] else _empty(spec)
            log(f"hard negatives: reusing {len(x)} mined windows ({cache})")
            return x, stored["report"]
    windows = candidates(sources, hop)
    if not windows:
        return _empty(spec), {"candidates": 0, "chosen": 0}
    log(f"hard negatives: scoring {len(windows)} windows of {len(files)} real negative recordings "
        f"({hop_ms:g} ms hop) with the dense model")
    x_all = np.stack([int8_features(w, spec) for _, _, w in windows])
    scores = window_scores(model, x_all, view, keywords)
    order = np.argsort(-scores, kind="stable")[:count]
    report = {"candidates": len(windows), "chosen": int(len(order)),
              "chosen_score_min": float(scores[order].min()), "chosen_score_median": float(np.median(scores[order])),
              "all_score_median": float(np.median(scores)),
              "share_above_0.5": float(np.mean(scores >= 0.5))}
    log(f"hard negatives: chose {len(order)} of {len(windows)} windows (their scores >= "
        f"{report['chosen_score_min']:.3f}, median {report['chosen_score_median']:.3f}; all windows' median "
        f"{report['all_score_median']:.3f})")
    if cache is not None:
        chosen = [{"file": windows[i][0], "start": int(windows[i][1]), "score": float(scores[i])} for i in order]
        atomic_write_text(cache, json.dumps({"key": key, "report": report, "windows": chosen}, indent=1) + "\n")
    return x_all[order], report


def _empty(spec: FeatureSpec) -> np.ndarray:
    return np.zeros((0, spec.num_frames(CLIP_SAMPLES), spec.num_features), np.int8)
