"""Hard-negative mining: the real negative audio the dense model fires on, added to the later stages.

After the dense stage, every 1 s window (at a `hop_ms` hop) of the TRAINING part of the real negative
recordings (`real_negatives.gather`: measuring audio never trains) is played through the dense model from a
zero state, once clean and once mixed with a random stretch of the training part's real noise at a random
SNR in `snr_db` (the false accepts that matter happen in noise); a window's score is its highest keyword
probability after `warmup_frames` frames. The `count` highest-scoring windows join the training set as
negatives for pruning, retraining and QAT, so the model is corrected where it confuses real speech with the
word (microWakeWord and openWakeWord mine their long negative streams the same way). The chosen windows and
their scores are written to the run folder (`hard_negatives.json`, atomically): a resumed run trains on the
same windows without scoring again.

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
from keyword_spotting.augment import load_noise_clips, mix_at_snr, noise_segment
from keyword_spotting.features import FeatureSpec, dequantize, int8_features
from keyword_spotting.real_negatives import loud_windows

WARMUP_FRAMES = 20   # a window starts from a zero state; its first frames say little
VERSION = 2


def noisy(window: np.ndarray, noise: np.ndarray, noise_seed: int, snr: float) -> np.ndarray:
    """int16 `window` + a stretch of `noise` (chosen by `noise_seed`) at `snr` dB; the clean window when the
    stretch is silent."""
    seg = noise_segment(noise, len(window), np.random.default_rng(noise_seed))
    try:
        mix = mix_at_snr(window, seg, snr)
    except ValueError:
        return window
    return np.clip(np.round(mix * 32768.0), -32768, 32767).astype(np.int16)


def _rebuild(w: dict, pcm: dict[str, np.ndarray], noise: dict[str, np.ndarray]) -> np.ndarray:
    window = pcm[w["file"]][w["start"]:w["start"] + CLIP_SAMPLES]
    return noisy(window, noise[w["noise"]], w["noise_seed"], w["snr"]) if w.get("noise") else window


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
         log: Any = print, noise: Sequence[str | Path] = (), snr_db: tuple[float, float] = (-5.0, 20.0),
         seed: int = 0) -> tuple[np.ndarray, dict]:
    """int8 features [k, T, D] of the `count` windows `model` scores highest (k <= count), and a report.
    `noise`: recordings for the noisy copy of every window (none: clean windows only). With `cache`: read the
    chosen windows from it when it matches (same sources, noise, spec, count, hop, SNRs, seed), else write it."""
    hop = int(round(hop_ms * SAMPLE_RATE / 1000))
    files = sorted({str(p) for p, _ in sources})
    noise_files = sorted({str(p) for p in noise})
    key = {"version": VERSION, "files": files, "spec": spec.to_dict(), "count": count, "hop_samples": hop,
           "noise": noise_files, "snr_db": list(snr_db) if noise_files else None, "seed": seed}
    cache = Path(cache) if cache else None
    if cache is not None and cache.is_file():
        stored = json.loads(cache.read_text())
        if stored.get("key") == key:
            chosen = stored["windows"]
            pcm = {f: read_audio(f, SAMPLE_RATE) for f in {w["file"] for w in chosen}}
            used = sorted({w["noise"] for w in chosen if w.get("noise")})
            clips = dict(_noise_pairs(used))
            x = np.stack([int8_features(_rebuild(w, pcm, clips), spec) for w in chosen]) if chosen else _empty(spec)
            log(f"hard negatives: reusing {len(x)} mined windows ({cache})")
            return x, stored["report"]
    windows = candidates(sources, hop)
    if not windows:
        return _empty(spec), {"candidates": 0, "chosen": 0}
    # Features right away (only the int8 features of a noisy copy are kept, not its audio).
    entries = [{"file": f, "start": int(s)} for f, s, _ in windows]
    feats = [int8_features(w, spec) for _, _, w in windows]
    pairs = _noise_pairs(noise_files)
    kept, clips = [f for f, _ in pairs], [c for _, c in pairs]
    if clips:
        rng = np.random.default_rng(seed)
        for (f, s, w) in windows:
            i, nseed, snr = int(rng.integers(len(clips))), int(rng.integers(2**31)), float(rng.uniform(*snr_db))
            entries.append({"file": f, "start": int(s), "noise": kept[i], "noise_seed": nseed, "snr": round(snr, 3)})
            feats.append(int8_features(noisy(w, clips[i], nseed, entries[-1]["snr"]), spec))
    log(f"hard negatives: scoring {len(feats)} windows of {len(files)} real negative recordings "
        f"({hop_ms:g} ms hop{', clean and in noise' if clips else ''}) with the dense model")
    x_all = np.stack(feats)
    scores = window_scores(model, x_all, view, keywords)
    order = np.argsort(-scores, kind="stable")[:count]
    report = {"candidates": len(x_all), "chosen": int(len(order)),
              "chosen_noisy": int(sum(1 for i in order if "noise" in entries[i])),
              "chosen_score_min": float(scores[order].min()), "chosen_score_median": float(np.median(scores[order])),
              "all_score_median": float(np.median(scores)),
              "share_above_0.5": float(np.mean(scores >= 0.5))}
    log(f"hard negatives: chose {len(order)} of {len(x_all)} windows ({report['chosen_noisy']} in noise; their "
        f"scores >= {report['chosen_score_min']:.3f}, median {report['chosen_score_median']:.3f}; all windows' median "
        f"{report['all_score_median']:.3f})")
    if cache is not None:
        chosen = [{**entries[i], "score": float(scores[i])} for i in order]
        atomic_write_text(cache, json.dumps({"key": key, "report": report, "windows": chosen}, indent=1) + "\n")
    return x_all[order], report


def _noise_pairs(files: Sequence[str]) -> list[tuple[str, np.ndarray]]:
    """(file, float32 audio) of the noise recordings that are not all zeros."""
    return [(f, clip) for f in files for clip in load_noise_clips([f])]


def _empty(spec: FeatureSpec) -> np.ndarray:
    return np.zeros((0, spec.num_frames(CLIP_SAMPLES), spec.num_features), np.int8)
