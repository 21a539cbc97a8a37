"""The real-speech wake-word benchmark (`make bench-wakeword`, `kws-bench-wakeword`): text-trained, people-measured.

    bench = BenchConfig(words=("alexa", "jarvis"))
    report = run_benchmark(bench)             # -> build/bench/wakeword.json, DET plots

For each word in `<data>/wakewords/`: a model is trained from TEXT ONLY (`ensure_model`: the recipe's
config, default today's README recipe = `kws-tts` + `kws-train` defaults, `data.phrase` = the word; no
real recording enters training), then measured on streams of REAL audio only (`wakeword_streams`): every
real recording of the word among real background speech of the MEASURING part of `real_data` (LibriSpeech
speakers and other speech never used for training), with the measuring part's real noise at 10 dB SNR
("10dB") and at 30 dB SNR ("quiet"). Each condition is `hours` of audio in independent chunks.

Scoring is the device's: the C++ frontend through `device_frontend` (the Python reference frontend when the
library is not built; the JSON says which), then the int8 oracle step and head run over all chunks at once
(a batch of streams, each from a reset state: the same numbers as `streaming.frame_scores` per chunk).
The detector is replayed for every threshold (`detector.ThresholdSweep`) and `wakeword_metrics` gives
miss rates at FA/h targets, FA/h at miss targets and the detector settings for a target FA/h.

With `real_positives` = N > 0 (`kws-bench-wakeword --real-positives N`), a second recipe, "text + N real",
trains on the same text recipe plus N real recordings of the word (`data.real_positives`; a seeded pick of
readable recordings, `real_recipe`). Those N are then excluded from measurement for BOTH recipes, so both are
measured on the same recordings; the JSON holds the text-only numbers where they always are
(`words.<word>.<condition>`), the other recipe's under `words.<word>["text+N_real"]`, the held-out files under
`words.<word>.real_positives_held_out` and the mean over words under `mean_text+N_real`.

Resumable: trained runs (`<work>/<word>/run-<recipe hash>/`), stream features (`<work>/<word>/streams/`,
shared by every recipe with the same feature spec) and scores (`<run>/bench/`) are reused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from keyword_spotting import real_data, wakeword_metrics
from keyword_spotting.audio_io import atomic_write_bytes, audio_info, read_audio
from keyword_spotting.streams import Event
from keyword_spotting.wakeword_streams import BenchStreamConfig, plan_streams, render_chunk

ROOT = Path(__file__).resolve().parent.parent
CONDITIONS = {"10dB": 10.0, "quiet": 30.0}
"""Condition name -> speech-to-noise ratio in dB of the measuring noise bed."""


@dataclasses.dataclass
class BenchConfig:
    """What to benchmark and where; see the module docstring."""

    words: tuple[str, ...] = ()                 # () = every folder of wakewords/
    data_root: str | None = None                # default ../shared/data
    work: str = str(ROOT / "build" / "bench" / "wakeword")
    out_json: str = str(ROOT / "build" / "bench" / "wakeword.json")
    recipe: str | None = None                   # a kws-train config file (YAML/JSON); None = today's defaults
    overrides: tuple[str, ...] = ()             # section.key=value, after the recipe
    hours: float = 5.0
    chunk_s: float = 300.0
    conditions: tuple[str, ...] = tuple(CONDITIONS)
    seed: int = 0
    frontend: str = "auto"
    progress: bool = True                       # progress bars (tqdm) on a terminal; log lines always
    windows: tuple[int, ...] = (10, 20, 30, 50)
    target_fa_per_hour: float = 0.5
    calibration_hours: float = 5.0             # training-part negatives for the calibrated threshold (0 = off)
    real_positives: int = 0                     # > 0: also the recipe text + N real recordings (module docstring)


def log(msg: str) -> None:
    print(f"[bench-wakeword] {msg}", flush=True)


def _digest(obj: Any) -> str:
    return hashlib.sha1(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:10]


# ----------------------------------------------------------------------------------------------
# Training from text.
def recipe_config(word: str, bench: BenchConfig) -> Any:
    """The kws-train Config for `word`: the recipe file (or defaults: data.kind=tts), data.phrase = the word,
    then the overrides. ValueError when the config would not train from text only."""
    from keyword_spotting.train_config import load_config

    base = [] if bench.recipe else ["data.kind=tts"]
    cfg = load_config(bench.recipe, [*base, f"data.phrase={json.dumps(word)}", *bench.overrides])
    if cfg.data.kind != "tts":
        raise ValueError(f"the benchmark trains from text only: data.kind must be tts, got {cfg.data.kind!r}")
    text = json.dumps(cfg.to_dict(), default=str)
    if "wakewords" in text:
        raise ValueError("the recipe mentions a wakewords/ folder: the measured recordings must not train")
    return cfg


def _recipe_digest(cfg: Any) -> str:
    """The run folder's hash: the config without out_dir (and without the real-positive keys when unset, so
    text-only runs keep the hash they had before those keys existed)."""
    d = {k: v for k, v in cfg.to_dict().items() if k != "out_dir"}
    if not cfg.data.real_positives and not cfg.data.real_positives_max:
        d["data"] = {k: v for k, v in d["data"].items() if k not in ("real_positives", "real_positives_max")}
    # Keys added later, while off: the hash their runs had before (feature contract v1, no mining).
    d["features"] = cfg.features.to_dict()
    off = set() if cfg.train.spec_mask().active else {"spec_freq_masks", "spec_freq_width", "spec_time_masks",
                                                       "spec_time_width"}
    off |= set() if cfg.train.hard_negatives else {"hard_negatives", "hard_negative_hop_ms"}
    d["train"] = {k: v for k, v in d["train"].items() if k not in off}
    return _digest(d)


def ensure_model(word: str, bench: BenchConfig, cfg: Any = None) -> Path:
    """Train (or reuse) the model of `word` (default: the text-only recipe, `recipe_config`); returns its run
    folder (model.fgb inside)."""
    from keyword_spotting.real_positives import record_in_card
    from keyword_spotting.train_inputs import check_training_inputs

    cfg = recipe_config(word, bench) if cfg is None else cfg
    run = Path(bench.work) / word / f"run-{_recipe_digest(cfg)}"
    cfg.out_dir = str(run)
    if (run / "model_card.json").is_file() and (run / "model.fgb").is_file():
        log(f"{word}: reusing the trained model in {run}")
        return run
    check_training_inputs(cfg)
    from keyword_spotting.train import run_training

    real = f" + real recordings of {cfg.data.real_positives}" if cfg.data.real_positives else ""
    log(f"{word}: training from text ({cfg.data.tts_positives} synthetic positives){real} into {run}")
    t0 = time.time()
    # One feature cache per word: recipes that differ only in training reuse the augmented arrays.
    run_training(cfg, progress=bench.progress, cache_dir=Path(bench.work) / word / "cache")
    if cfg.data.real_positives:
        record_in_card(run / "model_card.json", cfg.data.real_positives, cfg.data.real_positives_max, cfg.data.seed)
    log(f"{word}: trained in {time.time() - t0:.0f} s")
    return run


def real_recipe(word: str, recordings: Sequence[Path], bench: BenchConfig) -> tuple[Any, list[Path], list[Path]]:
    """The recipe "text + N real": (its config, the N recordings it trains on, the recordings left to measure).
    The N (`bench.real_positives`) are a seeded pick (`real_positives.hold_out`), copied to
    `<work>/<word>/real_positives-<N>-seed<seed>/`, which `data.real_positives` names."""
    from keyword_spotting.real_positives import hold_out

    n = bench.real_positives
    chosen, rest = hold_out(recordings, n, bench.seed)
    folder = Path(bench.work) / word / f"real_positives-{n}-seed{bench.seed}"
    for p in chosen:
        if not (folder / p.name).is_file():
            atomic_write_bytes(folder / p.name, p.read_bytes())
    cfg = recipe_config(word, bench)  # the text-only checks hold for everything but these two keys
    cfg.data.real_positives, cfg.data.real_positives_max = str(folder), 0
    cfg.validate()
    return cfg, chosen, rest


# ----------------------------------------------------------------------------------------------
# Streams and their features (model-independent, cached per word, condition and feature spec).
class UnreadableFiles(ValueError):
    """Files that do not decode or are silent, in a strict `_load`."""


def _load(paths: Sequence[Path], what: str, strict: bool = False, names: list[str] | None = None
          ) -> tuple[list[np.ndarray], list[str]]:
    """The readable, non-silent clips, and the errors of the files skipped (named in the log and the JSON).
    `strict`: a file that cannot be read or is silent is an error (ValueError naming the files) instead.
    `names`: if given, the file name of each clip returned is appended to it."""
    clips, skipped = [], []
    for p in paths:
        try:
            c = read_audio(p)
        except ValueError as e:
            skipped.append(str(e))
            continue
        if c.size and np.any(c):
            clips.append(c)
            if names is not None:
                names.append(p.name)
        else:
            skipped.append(f"{p}: silent")
    if skipped and strict:
        raise UnreadableFiles(f"{len(skipped)} of {len(paths)} {what} files are unreadable or silent: "
                         + "; ".join(skipped[:3]) + (" ..." if len(skipped) > 3 else ""))
    if skipped:
        log(f"skipping {len(skipped)} of {len(paths)} {what} files, e.g. {skipped[0]}")
    if not clips:
        raise ValueError(f"no usable {what} audio among {len(paths)} files")
    return clips, skipped


@dataclasses.dataclass
class ConditionStreams:
    """The features of one condition's chunks and their ground truth."""

    features: np.ndarray                     # int8 [chunks, frames, D]
    events: list[list[Event]]                # per chunk
    negative_seconds: list[float]            # per chunk: its duration minus its wake-word spans
    unique_negative_seconds: float
    frontend: str
    info: dict[str, Any]
    key: str = ""                            # the cache key (stream layout, files, spec, frontend, seed)
    negative_clips: list[str] = dataclasses.field(default_factory=list)  # background clip names (piece: "@<s>s")
    negative_spans: list[list[tuple[int, float, float]]] = dataclasses.field(default_factory=list)
    # per chunk: (index into negative_clips, start s, end s) of every background clip placed


def _stream_key(word: str, condition: str, stream_cfg: BenchStreamConfig, spec: Any, frontend: str,
                files: dict[str, list[str]], seed: int) -> str:
    return _digest({"word": word, "condition": condition, "stream": dataclasses.asdict(stream_cfg),
                    "spec": spec.to_dict(), "frontend": frontend, "files": files, "seed": seed, "version": 2})


def part_files(part: real_data.RealPart) -> tuple[list[Path], list[Path]]:
    """(negative files, noise files) of a part of the real data, for `build_condition`."""
    return [f.path for f in part.negatives], [f.path for f in part.noise]


def build_condition(word: str, condition: str, positives: Sequence[Path], negatives: Sequence[Path],
                    noise_files: Sequence[Path], spec: Any, bench: BenchConfig, label: str = "positive",
                    snr: float | None = None, hours: float | None = None, part_name: str = "measure",
                    cache: bool = True, strict: bool = False, max_negative_s: float | None = None
                    ) -> ConditionStreams:
    """Render the condition's chunks from plain lists of audio files (`part_files` for the real data's parts),
    compute their features with the chosen frontend; cached in the work folder (unless `cache` is off).
    `snr` / `hours` default to the condition's (`CONDITIONS`; condition "custom": `snr` as given, None = no
    noise) and the bench's; `positives` may be empty; `strict`: unreadable or silent files are errors
    (`_load`), not skipped; `max_negative_s`: negative recordings longer than that are cut into consecutive
    pieces of that length (long recordings fit in a chunk)."""
    from keyword_spotting import streaming

    frontend = streaming.resolve_frontend(bench.frontend)
    snr = CONDITIONS[condition] if snr is None and condition in CONDITIONS else snr
    stream_cfg = BenchStreamConfig(hours=hours or bench.hours, chunk_s=bench.chunk_s, snr_db=snr)
    files = {"positives": [p.name for p in positives], "negatives": [p.name for p in negatives],
             "noise": [p.name for p in noise_files]}
    if max_negative_s is not None:
        files["max_negative_s"] = [str(max_negative_s)]  # the key of a run without it stays as it was
    key = _stream_key(word, condition, stream_cfg, spec, frontend, files, bench.seed)
    cache_file = Path(bench.work) / word / "streams" / f"{condition}-{key}.npz"
    if cache and cache_file.is_file():
        with np.load(cache_file, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            feats = z["features"]
        if "negative_spans" in meta:  # older caches lack where each background clip sits: rebuilt (same key)
            events = [[Event(a, b, label) for a, b in chunk] for chunk in meta["events"]]
            log(f"{word} {condition}: reusing stream features {cache_file.name}")
            return ConditionStreams(feats, events, meta["negative_seconds"], meta["unique_negative_seconds"],
                                    meta["frontend"], meta["info"], key, meta["negative_clips"],
                                    [[tuple(x) for x in chunk] for chunk in meta["negative_spans"]])
    t0 = time.time()
    pos, skipped = _load(positives, f"{word} positive", strict) if positives else ([], [])
    neg_names: list[str] = []
    neg, skipped_neg = _load(negatives, f"{part_name} negative", strict, neg_names)
    if max_negative_s is not None:
        step = max(1, int(max_negative_s * 16000))
        pieces = [(c[i:i + step], f"{name}@{i / 16000:g}s") for c, name in zip(neg, neg_names, strict=True)
                  for i in range(0, len(c), step) if np.any(c[i:i + step])]
        neg, neg_names = [c for c, _ in pieces], [name for _, name in pieces]
    noise, skipped_noise = _load(noise_files, f"{part_name} noise", strict) if noise_files else ([], [])
    plan = plan_streams(len(pos), stream_cfg, bench.seed)
    perm = np.random.default_rng([bench.seed, 3]).permutation(len(neg))
    mean_s = float(np.mean([len(c) for c in neg])) / 16000 + 0.9
    per_chunk = max(1, int(bench.chunk_s / mean_s))
    feats, events, neg_s, used, spans = [], [], [], set(), []
    log(f"{word} {condition}: {len(plan.chunks)} chunks of {bench.chunk_s:g} s, {len(pos)} positives, "
        f"{len(neg)} {part_name} negative clips, {len(noise)} noise recordings, "
        f"{'no noise' if snr is None else f'SNR {snr:g} dB'}, {frontend} frontend")
    for chunk in _progress(plan.chunks, bench.progress, f"{word} {condition} streams"):
        order = np.roll(perm, -chunk.index * per_chunk)
        placed: list[tuple[int, int, int]] = []
        audio, ev, u = render_chunk(chunk, pos, neg, noise, stream_cfg, label, bench.seed, order, placed)
        feats.append(streaming.stream_features(audio, spec, frontend))
        events.append(ev)
        spans.append([(i, a / 16000, (a + n) / 16000) for i, a, n in placed])
        neg_s.append(len(audio) / 16000 - sum(e.end_s - e.start_s for e in ev))
        used.update(u)
    unique = float(sum(len(neg[i]) for i in used)) / 16000
    info = {"chunks": len(plan.chunks), "chunk_s": bench.chunk_s, "snr_db": snr, "part": part_name,
            "negative_clips_available": len(neg), "negative_clips_used": len(used),
            "noise_recordings": len(noise), "seconds_to_build": round(time.time() - t0, 1),
            "positive_files": len(positives), "skipped_files": skipped + skipped_neg + skipped_noise}
    feats_arr = np.stack(feats)
    meta = {"events": [[(e.start_s, e.end_s) for e in ev] for ev in events], "negative_seconds": neg_s,
            "unique_negative_seconds": unique, "frontend": frontend, "info": info, "negative_clips": neg_names,
            "negative_spans": spans}
    if cache:
        buf = io.BytesIO()
        np.savez(buf, features=feats_arr, meta=np.array(json.dumps(meta)))
        atomic_write_bytes(cache_file, buf.getvalue())
    return ConditionStreams(feats_arr, events, neg_s, unique, frontend, info, key, neg_names, spans)


def _progress(items: Sequence[Any], bars: bool, desc: str) -> Any:
    """A tqdm bar on a terminal (unless `bars` is off), else a log line per tenth of the items."""
    if bars and sys.stderr.isatty():
        from tqdm import tqdm

        return tqdm(items, desc=desc, unit="chunk")
    return _lines(items, desc)


def _lines(items: Sequence[Any], desc: str) -> Any:
    step = max(1, len(items) // 10)
    for i, it in enumerate(items):
        yield it
        if (i + 1) % step == 0 or i + 1 == len(items):
            log(f"{desc}: {i + 1}/{len(items)}")


# ----------------------------------------------------------------------------------------------
# Scoring: the int8 oracle over a batch of chunks.
def batch_scores(model: Any, features: np.ndarray, batch: int = 64) -> np.ndarray:
    """uint8 scores [chunks, frames, classes] of int8 features [chunks, frames, D], each chunk from a reset
    state: per chunk exactly `streaming.frame_scores(model, features[c])`."""
    from fastgrnn_tf.int8 import head_oracle
    from fastgrnn_tf.int8 import oracle as int8_oracle

    f = np.asarray(features)
    if f.dtype != np.int8 or f.ndim != 3 or f.shape[2] != model.step.input_dim:
        raise ValueError(f"features must be int8 [chunks, frames, {model.step.input_dim}], got {f.dtype} "
                         f"{list(f.shape)}")
    out = np.zeros((f.shape[0], f.shape[1], model.num_classes), np.uint8)
    for b0 in range(0, f.shape[0], batch):
        hidden, _ = int8_oracle.run(model.step, f[b0:b0 + batch], return_sequences=True)
        logits = head_oracle.run_head(model.head, hidden.reshape(-1, hidden.shape[-1]))
        s = head_oracle.scores(logits, model.logit_scale, model.logit_zero_point)
        out[b0:b0 + batch] = s.reshape(hidden.shape[0], hidden.shape[1], -1)
    return out


def condition_scores(run: Path, model: Any, word: str, condition: str, streams: ConditionStreams) -> np.ndarray:
    """The model's scores on the condition's chunks (cached in `<run>/bench/`, keyed by streams and model)."""
    fgb_digest = hashlib.sha1((run / "model.fgb").read_bytes()).hexdigest()[:10]
    cache = run / "bench" / f"{condition}-{streams.key}-{fgb_digest}-scores.npy"
    if cache.is_file():
        log(f"{word} {condition}: reusing scores {cache.name}")
        return np.load(cache)
    t0 = time.time()
    scores = batch_scores(model, streams.features)
    hours = streams.features.shape[0] * streams.features.shape[1] * model.features.hop_samples / 16000 / 3600
    log(f"{word} {condition}: scored {hours:.2f} h of frames in {time.time() - t0:.0f} s (int8 oracle, batched)")
    buf = io.BytesIO()
    np.save(buf, scores)
    atomic_write_bytes(cache, buf.getvalue())
    return scores


# ----------------------------------------------------------------------------------------------
# One word, all words.
def run_word(word: str, run: Path, data: real_data.RealData, bench: BenchConfig,
             positives: Sequence[Path] | None = None, tag: str = "") -> dict[str, Any]:
    """Measure the model in `run` on the word's real recordings (`positives`: default all of them), every
    condition; DET plots in `<work>/<word>/` (`det<tag>_<condition>.png`)."""
    from keyword_spotting import kws_model

    model = kws_model.load_model(run / "model.fgb")
    if len(model.detector.keywords) != 1:
        raise ValueError(f"{run}: the benchmark measures one wake word, the model has keywords "
                         f"{[model.classes[k] for k in model.detector.keywords]}")
    label = model.classes[model.detector.keywords[0]]
    part = data.part("measure")
    out: dict[str, Any] = {"run": str(run), "keyword_class": label}
    calibrated, detector = None, None
    if bench.calibration_hours > 0:  # what a user can set without the measured audio (wakeword_calibration)
        from keyword_spotting import wakeword_calibration

        out["calibration"], calibrated, detector = wakeword_calibration.calibrate(run, model, word, data, bench, label)
    for condition in bench.conditions:
        t0 = time.time()
        measured = data.wakewords[word] if positives is None else positives
        streams = build_condition(word, condition, measured, *part_files(part), model.features, bench, label)
        scores = condition_scores(run, model, word, condition, streams)
        rep = wakeword_metrics.condition_report(
            scores, streams.events, streams.negative_seconds, model, bench.windows, bench.target_fa_per_hour,
            Path(bench.work) / word / f"det{tag}_{condition}.png", title=f"{word}{tag}, {condition}, real people",
            calibrated_threshold=calibrated, negative_spans=streams.negative_spans,
            calibrated_detector=(detector["window_frames"], detector["threshold"]) if detector else None,
            negative_clips=streams.negative_clips)
        rep["unique_negative_hours"] = streams.unique_negative_seconds / 3600
        rep["frontend"] = streams.frontend
        rep["streams"] = streams.info
        rep["seconds"] = round(time.time() - t0, 1)
        out[condition] = rep
        log(f"{word} {condition}: " + wakeword_metrics.summary_line(rep))
    return out


def run_benchmark(bench: BenchConfig) -> dict[str, Any]:
    """Train (or reuse) and measure every word; writes `bench.out_json` after each word; returns the report."""
    t0 = time.time()
    data = real_data.discover(bench.data_root)
    words = list(bench.words) or sorted(data.wakewords)
    missing = [w for w in words if w not in data.wakewords]
    if missing:
        raise ValueError(f"no recordings for {missing} in {data.root / 'wakewords'} "
                         f"(found: {sorted(data.wakewords)})")
    bad = [c for c in bench.conditions if c not in CONDITIONS]
    if bad or not words:
        raise ValueError(f"unknown conditions {bad} (known: {list(CONDITIONS)})" if bad else "no words to measure")
    part = data.part("measure")
    report: dict[str, Any] = {
        "words": {}, "data_root": str(data.root), "hours_per_condition": bench.hours, "chunk_s": bench.chunk_s,
        "conditions": {c: {"snr_db": CONDITIONS[c]} for c in bench.conditions},
        "recipe": bench.recipe or "today's defaults (kws-tts + kws-train, data.kind=tts)",
        "overrides": list(bench.overrides), "seed": bench.seed,
        "measuring_part": {"negative_files": len(part.negatives), "noise_files": len(part.noise),
                           "negative_hours_available": sum(audio_info(f.path)["seconds"] for f in part.negatives)
                           / 3600},
        "split": "real_data: LibriSpeech by speaker, other negatives and ambience/music by file (sha1 rank, half "
                 "measuring); Speech Commands background noise training only",
    }
    real_key = f"text+{bench.real_positives}_real"
    if bench.real_positives:
        report["real_positives"] = {"per_word": bench.real_positives, "recipe_key": real_key, "note": (
            "the text-only recipe and the text + N real recipe are measured on the same recordings: each word's "
            "recordings minus the N it trains on (file names carry no speaker id, so a speaker of the N may "
            "still be among the measured)")}
    for word in words:
        tw = time.time()
        measured, real_cfg = None, None
        if bench.real_positives:
            real_cfg, chosen, measured = real_recipe(word, data.wakewords[word], bench)
        run = ensure_model(word, bench)
        report["words"][word] = run_word(word, run, data, bench, measured)
        if real_cfg is not None:
            report["words"][word]["real_positives_held_out"] = {
                "count": len(chosen), "files": [p.name for p in chosen], "measured_files": len(measured)}
            run = ensure_model(word, bench, real_cfg)
            report["words"][word][real_key] = run_word(word, run, data, bench, measured, tag=f"_{real_key}")
        report["words"][word]["seconds"] = round(time.time() - tw, 1)
        report["seconds"] = round(time.time() - t0, 1)
        wakeword_metrics.write_json(report, bench.out_json)
    report["mean"] = wakeword_metrics.mean_over_words(report["words"], bench.conditions)
    if bench.real_positives:
        report[f"mean_{real_key}"] = wakeword_metrics.mean_over_words(
            {w: r[real_key] for w, r in report["words"].items()}, bench.conditions)
    report["seconds"] = round(time.time() - t0, 1)
    wakeword_metrics.write_json(report, bench.out_json)
    log(f"done in {report['seconds']:.0f} s: {bench.out_json}")
    return report
