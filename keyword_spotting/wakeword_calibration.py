"""The detector a user can set without the measured audio, chosen on the TRAINING part of the real data.

    cal, threshold, detector = calibrate(run, model, word, data, bench, label)

- threshold: the lowest whose FA/h on the training part's real speech in its real noise (10 dB SNR, no wake
  words) is <= the target (`wakeword_metrics.calibrate_threshold`);
- detector (smoothing window and threshold): the run's held-out synthetic positives (the validation and test
  voices of its own TTS data, never trained on) placed among the same training-part speech and noise; the window
  of `bench.windows` and threshold with the lowest miss rate at <= the target FA/h there
  (`wakeword_metrics.detector_for_target`). None when the run has no such positives (e.g. not a `kws-train`
  folder of a TTS recipe).
The benchmark then reports both on the measured streams (`calibrated_threshold`, `calibrated_detector`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from keyword_spotting import wakeword_metrics


def held_out_positives(run: Path, label: str) -> list[Path]:
    """The run's clips of `label` in its validation and test splits (held-out voices); [] when the folder has no
    config or dataset to reload."""
    from keyword_spotting import run_folder

    try:
        r = run_folder.load_run(run)
        ds = run_folder.load_run_dataset(r)
    except ValueError:
        return []
    if label not in ds.class_names:
        return []
    k = ds.class_names.index(label)
    return sorted({Path(i.path) for i in [*ds.val, *ds.test] if i.label == k and i.path})


def calibrate(run: Path, model: Any, word: str, data: Any, bench: Any, label: str,
              positives: list[Path] | None = None) -> tuple[dict[str, Any], int, dict[str, Any] | None]:
    """(the report's "calibration" entry, the calibrated threshold, the calibrated detector or None);
    `positives`: the synthetic positives to place (default: `held_out_positives`)."""
    from keyword_spotting.wakeword_bench import CONDITIONS, build_condition, condition_scores, log, part_files

    train_files = part_files(data.part("train"))
    cal = build_condition(word, "calibration", [], *train_files, model.features, bench, label,
                          snr=CONDITIONS["10dB"], hours=bench.calibration_hours, part_name="train")
    scores = condition_scores(run, model, word, "calibration", cal)
    out = wakeword_metrics.calibrate_threshold(scores, cal.negative_seconds, model, bench.target_fa_per_hour)
    out.update(unique_negative_hours=cal.unique_negative_seconds / 3600, streams=cal.info)
    log(f"{word}: calibrated threshold {out['threshold']} for <= {bench.target_fa_per_hour:g} FA/h on "
        f"{out['negative_hours']:.1f} h of training-part audio")
    positives = held_out_positives(run, label) if positives is None else positives
    if not positives:
        out["detector"] = None
        out["detector_note"] = "no held-out synthetic positives in the run folder: the window was not calibrated"
        return out, int(out["threshold"]), None
    syn = build_condition(word, "calibration_synthetic", positives, *train_files, model.features, bench, label,
                          snr=CONDITIONS["10dB"], hours=bench.calibration_hours, part_name="train")
    syn_scores = condition_scores(run, model, word, "calibration_synthetic", syn)
    det = wakeword_metrics.detector_for_target(syn_scores, syn.events, syn.negative_seconds, model, bench.windows,
                                               bench.target_fa_per_hour)
    det.update(positives=len(positives), positives_kind="held-out synthetic (the run's validation + test voices)",
               negative_hours=float(sum(syn.negative_seconds)) / 3600)
    out["detector"] = det
    if not det.get("reached"):
        log(f"{word}: no window reaches <= {bench.target_fa_per_hour:g} FA/h with the synthetic positives")
        return out, int(out["threshold"]), None
    log(f"{word}: calibrated detector window {det['window_frames']}, threshold {det['threshold']} "
        f"({100 * det['miss_rate']:.1f}% of {len(positives)} held-out synthetic positives missed, "
        f"{det['fa_per_hour']:.2f} FA/h on training-part audio)")
    return out, int(out["threshold"]), det
