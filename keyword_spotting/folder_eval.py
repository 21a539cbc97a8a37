"""A trained wake word measured on any folders of real recordings, as the wake-word benchmark measures it.

    cfg = FolderEvalConfig(positives=("my_recordings/",), negatives=("podcasts/",), noise=("cafe/",), hours=1)
    report = evaluate_folders("runs/hey_nano", cfg, "runs/hey_nano/real_eval.json")   # + the DET plot beside it
    print(summary(report))

The streams are the benchmark's (`wakeword_bench.build_condition`, `wakeword_streams`): every positive
recording (one utterance of the wake word each, trimmed to its voiced part) placed once among the negative
recordings (speech without the wake word; recordings longer than `max_negative_s` are cut into pieces of
that length first), over a bed of the noise recordings at `snr_db` (no noise folder: no noise bed), in
independent chunks of `chunk_s` seconds until `hours`. The model is the run's `model.fgb` scored by the
device's pipeline (the batched int8 oracle over the C++ frontend's features), and the numbers are the
benchmark's (`wakeword_metrics.condition_report`): miss rate at 0.1 / 0.5 / 1 FA/h, FA/h at 5% / 10% miss,
the configured threshold's miss rate and FA/h, the best smoothing window + threshold for `target_fa_per_hour`
(chosen on these same streams: an optimistic bound), and how many negative hours (and unique ones) the
FA/h rests on. A file that does not read or is silent stops the run with its name, unless `skip_unreadable`
(then it is skipped and listed in the report). Without positive folders only false accepts are measured:
FA/h at the configured threshold and the lowest threshold at or under `target_fa_per_hour`
(`wakeword_metrics.calibrate_threshold`), e.g. for a phrase nobody has recorded.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from keyword_spotting import kws_model, wakeword_metrics
from keyword_spotting.real_negatives import audio_files
from keyword_spotting.wakeword_bench import BenchConfig, UnreadableFiles, batch_scores, build_condition

REPORT_NAME = "real_eval.json"


@dataclasses.dataclass(frozen=True)
class FolderEvalConfig:
    """The folders and the stream layout (module docstring)."""

    positives: tuple[str, ...]
    negatives: tuple[str, ...]
    noise: tuple[str, ...] = ()
    snr_db: float | None = None          # default: 10 dB with noise folders; must be None without them
    hours: float = 1.0
    chunk_s: float = 300.0
    max_negative_s: float = 30.0
    seed: int = 0
    frontend: str = "auto"
    target_fa_per_hour: float = 0.5
    windows: tuple[int, ...] = (10, 20, 30, 50)
    skip_unreadable: bool = False
    progress: bool = False

    def __post_init__(self) -> None:
        if not self.negatives:
            raise ValueError("need at least one folder of negative recordings (speech without the wake word)")
        if self.snr_db is not None and not self.noise:
            raise ValueError("an SNR needs noise: give a noise folder, or no SNR")
        if not self.hours > 0 or not self.chunk_s >= 10 or not self.max_negative_s > 0:
            raise ValueError(f"need hours > 0, chunk seconds >= 10 and max_negative_s > 0, got {self.hours}, "
                             f"{self.chunk_s}, {self.max_negative_s}")
        if not self.target_fa_per_hour >= 0:
            raise ValueError(f"target FA/h must be >= 0, got {self.target_fa_per_hour}")

    @property
    def snr(self) -> float | None:
        return (10.0 if self.snr_db is None else float(self.snr_db)) if self.noise else None


def model_file(run: str | os.PathLike) -> Path:
    """The `.fgb` of a run folder (`<run>/model.fgb`) or the file itself; ValueError when there is none."""
    p = Path(run)
    fgb = p / "model.fgb" if p.is_dir() else p
    if not fgb.is_file():
        raise ValueError(f"{p}: no model.fgb here (a kws-train run folder or a .fgb file)" if p.is_dir()
                         else f"{p}: no such run folder or .fgb file")
    return fgb


def report_path(out: str | os.PathLike | None, run: str | os.PathLike) -> Path:
    """`out` when it names a .json file, else `<out or the run folder>/real_eval.json`."""
    if out is not None and str(out).endswith(".json"):
        return Path(out)
    base = Path(out) if out is not None else model_file(run).parent
    return base / REPORT_NAME


def _files(folders: Sequence[str], what: str) -> list[Path]:
    return [p for d in folders for p in audio_files(d, what)]


def evaluate_folders(run: str | os.PathLike, cfg: FolderEvalConfig, out_json: str | os.PathLike) -> dict[str, Any]:
    """Measure the run's model on the folders of `cfg`; writes `out_json` and `<stem>_det.png` beside it."""
    t0 = time.time()
    fgb = model_file(run)
    model = kws_model.load_model(fgb)
    if len(model.detector.keywords) != 1:
        raise ValueError(f"{fgb}: kws-eval measures one wake word, the model has keywords "
                         f"{[model.classes[k] for k in model.detector.keywords]}")
    label = model.classes[model.detector.keywords[0]]
    positives = _files(cfg.positives, "positives")
    negatives = _files(cfg.negatives, "negatives")
    noise = _files(cfg.noise, "noise")
    out_json = Path(out_json)
    with tempfile.TemporaryDirectory(prefix="kws-eval-") as work:  # nothing cached: user folders change
        bench = BenchConfig(work=work, hours=cfg.hours, chunk_s=cfg.chunk_s, seed=cfg.seed, frontend=cfg.frontend,
                            progress=cfg.progress)
        try:
            streams = build_condition("kws-eval", "custom", positives, negatives, noise, model.features, bench,
                                      label, snr=cfg.snr, part_name="given", cache=False,
                                      strict=not cfg.skip_unreadable, max_negative_s=cfg.max_negative_s)
        except UnreadableFiles as e:
            raise ValueError(f"{e} (--skip-unreadable skips such files and lists them in the report)") from e
    scores = batch_scores(model, streams.features)
    noise_txt = "no noise" if cfg.snr is None else f"{cfg.snr:g} dB SNR"
    if positives:
        rep = wakeword_metrics.condition_report(
            scores, streams.events, streams.negative_seconds, model, cfg.windows, cfg.target_fa_per_hour,
            out_json.with_name(out_json.stem + "_det.png"), title=f"{label}, given recordings, {noise_txt}",
            negative_spans=streams.negative_spans, negative_clips=streams.negative_clips)
    else:
        rep = _false_accepts_only(scores, streams.negative_seconds, model, cfg.target_fa_per_hour)
        rep["false_accept_sources"] = wakeword_metrics.false_accept_sources(
            scores, streams.negative_spans, streams.negative_clips, model.detector, model.features,
            int(model.detector.threshold))  # the files that fire on the device as configured
    rep.update({
        "model": str(fgb), "keyword_class": label, "snr_db": cfg.snr,
        "folders": {"positives": list(cfg.positives), "negatives": list(cfg.negatives), "noise": list(cfg.noise)},
        "files": {"positives": len(positives), "negatives": len(negatives), "noise": len(noise)},
        "unique_negative_hours": streams.unique_negative_seconds / 3600, "frontend": streams.frontend,
        "streams": streams.info, "seed": cfg.seed, "seconds": round(time.time() - t0, 1),
        "report": str(out_json)})
    wakeword_metrics.write_json(rep, out_json)
    return rep


def _false_accepts_only(scores: Any, negative_seconds: Sequence[float], model: Any, target: float) -> dict[str, Any]:
    """The report without wake words: FA/h per threshold, at the configured one, and the threshold for `target`."""
    curve = wakeword_metrics.sweep(scores, [[] for _ in range(len(scores))], negative_seconds, model.detector,
                                   model.classes, model.features)
    th = int(model.detector.threshold)
    return {"positives": 0, "negative_hours": float(sum(negative_seconds)) / 3600, "chunks": int(len(scores)),
            "stream_hours": float(scores.shape[0] * scores.shape[1] * model.features.hop_samples
                                  / model.features.sample_rate / 3600),
            "configured_threshold": {"threshold": th, "fa_per_hour": float(curve.fa_per_hour[th]),
                                     "false_accepts": curve.results[th].false_accepts},
            "threshold_for_target": wakeword_metrics.calibrate_threshold(scores, negative_seconds, model, target),
            "det_curve": {"threshold": curve.thresholds.tolist(), "fa_per_hour": curve.fa_per_hour.tolist()}}


def _sources_lines(rep: dict[str, Any], top: int = 3) -> list[str]:
    """The negative files with the highest scores (`wakeword_metrics.false_accept_sources`), if any reach it."""
    src = rep.get("false_accept_sources")
    if not src or not src["clips_reaching_threshold"]:
        return []
    worst = ", ".join(f"{r['clip']} (peak {r['peak']}, {r['copies_reaching_threshold']}/{r['copies']} copies)"
                      for r in src["top"][:top] if r["copies_reaching_threshold"])
    return [f"{src['clips_reaching_threshold']} of {src['clips']} negative files reach threshold {src['threshold']}; "
            f"highest: {worst}"]


def summary(rep: dict[str, Any]) -> str:
    """A few lines for the terminal: the benchmark's numbers and the file paths."""
    c = rep["configured_threshold"]
    noise = "no noise" if rep["snr_db"] is None else f"{rep['snr_db']:g} dB SNR"
    lines = [f"{rep['model']} ({rep['keyword_class']}) on given recordings, {noise}, {rep['chunks']} streams "
             f"({rep['stream_hours']:.2f} h), {rep['frontend']} frontend"]
    if not rep["positives"]:
        t = rep["threshold_for_target"]
        reached = (f"threshold {t['threshold']} ({t['fa_per_hour']:.2f} FA/h)" if t["threshold"] <= 255
                   else "none (every threshold fires more often)")
        lines += [f"no positives: false accepts only, {rep['negative_hours']:.2f} negative h "
                  f"({rep['unique_negative_hours']:.2f} unique)",
                  f"configured threshold {c['threshold']}: {c['fa_per_hour']:.2f} FA/h ({c['false_accepts']} false "
                  f"accepts); lowest threshold for <= {t['target_fa_per_hour']:g} FA/h: {reached}",
                  *_sources_lines(rep), f"report: {rep['report']}"]
        return "\n".join(lines)
    lines += [wakeword_metrics.summary_line(rep),
              f"configured threshold {c['threshold']}: miss {100 * c['miss_rate']:.1f}%, "
              f"{c['fa_per_hour']:.2f} FA/h ({c['hits']} hits, {c['false_accepts']} false accepts)"]
    t = rep["detector_for_target"]
    if t.get("reached"):
        lines.append(f"best on these streams for <= {t['target_fa_per_hour']:g} FA/h: window {t['window_frames']}, "
                     f"threshold {t['threshold']}: miss {100 * t['miss_rate']:.1f}%, {t['fa_per_hour']:.2f} FA/h")
    else:
        lines.append(f"no window in {t['windows_tried']} reaches <= {t['target_fa_per_hour']:g} FA/h")
    lines += _sources_lines(rep)
    skipped = rep["streams"].get("skipped_files", [])
    if skipped:
        lines.append(f"skipped {len(skipped)} unreadable or silent files (listed in the report)")
    lines.append(f"report: {rep['report']}  DET plot: {rep.get('det_plot')}")
    return "\n".join(lines)
