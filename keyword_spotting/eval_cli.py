"""`kws-eval`: accuracy per model and streaming FRR / false accepts per hour of a `kws-train` run.

    kws-eval --run build/train [--split test] [--out DIR] [--minutes 10] [--fa-target 1.0] [--seed 0]
             [--extra-negatives ../shared/data/negatives/speech]
             [--extra-noise ../shared/data/speech_commands_dev/_background_noise_]
             [--no-accuracy | --no-streaming]

Writes `eval_report.json`, `plots/eval_confusion_<model>_<split>.png`, `plots/det.png` and the test stream
`eval_stream.wav` + `eval_stream.json` into the run folder (or `--out`) and prints a summary.
See `keyword_spotting/evaluate.py` (clip accuracy) and `stream_eval.py` (streaming) for what is measured.

On your own folders of real recordings instead of the run's data (the wake-word benchmark's streams and numbers,
`keyword_spotting/folder_eval.py`; only the run's model.fgb is needed):

    kws-eval --run runs/hey_nano --positives my_recordings/ --negatives podcasts/ [--negatives more/]
             [--noise cafe/ --snr-db 10] [--hours 1] [--fa-target 0.5] [--out report.json | --out DIR]
             [--skip-unreadable]

Each positive file is one utterance of the wake word; negatives are speech without it (any length);
noise is mixed in at --snr-db (default 10 dB; no --noise: no noise). Prints the miss rate at 0.1 / 0.5 / 1
FA/h, FA/h at 5% / 10% miss and the configured threshold's result; writes the JSON (default
`<run>/real_eval.json`) and a DET plot beside it. Without --positives: false accepts only (FA/h at the
configured threshold, the lowest threshold for --fa-target).
"""

from __future__ import annotations

import argparse
import math
import os
import sys


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return v


def _non_negative_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(v) and v >= 0):
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}")
    return v


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="kws-eval", description=__doc__.split("\n")[0])
    ap.add_argument("--run", required=True, help="kws-train output folder (config.json, model.tflite, ...)")
    ap.add_argument("--split", default="test", choices=("train", "val", "test"), help="split to evaluate")
    ap.add_argument("--out", help="where the report, plots and stream go (default: the run folder)")
    ap.add_argument("--minutes", type=_positive_float, default=10.0, help="test stream length (default 10)")
    ap.add_argument("--fa-target", type=_non_negative_float, default=None,
                    help="false accepts per hour allowed at the operating point (default 1.0; with --positives: "
                         "0.5, the benchmark's)")
    ap.add_argument("--seed", type=int, default=0, help="stream seed (default 0)")
    ap.add_argument("--extra-negatives", action="append", default=[], metavar="DIR",
                    help="folder of non-keyword speech WAVs to insert into the stream (repeatable)")
    ap.add_argument("--extra-noise", action="append", default=[], metavar="DIR",
                    help="folder of background noise WAVs for the stream (repeatable)")
    ap.add_argument("--tolerance", type=_non_negative_float, default=0.5,
                    help="seconds after a keyword's end a detection still counts (default 0.5)")
    ap.add_argument("--no-accuracy", action="store_true", help="skip the clip accuracy")
    ap.add_argument("--no-streaming", action="store_true", help="skip the streaming evaluation")
    ap.add_argument("--no-progress", action="store_true")
    real = ap.add_argument_group("your own recordings (instead of the run's data)")
    real.add_argument("--positives", action="append", default=[], metavar="DIR",
                      help="folder of recordings, each one utterance of the wake word (repeatable)")
    real.add_argument("--negatives", action="append", default=[], metavar="DIR",
                      help="folder of speech without the wake word, any length (repeatable)")
    real.add_argument("--noise", action="append", default=[], metavar="DIR",
                      help="folder of background noise recordings (repeatable)")
    real.add_argument("--snr-db", type=float, help="speech-to-noise ratio of the noise bed (default 10 with --noise)")
    real.add_argument("--hours", type=_positive_float, default=1.0, help="hours of stream (default 1)")
    real.add_argument("--chunk-seconds", type=_positive_float, default=300.0,
                      help="length of each independent stream (default 300)")
    real.add_argument("--skip-unreadable", action="store_true",
                      help="skip files that do not decode or are silent (default: stop and name them)")
    real.add_argument("--frontend", choices=("auto", "device", "reference"), default="auto",
                      help="features: the device's C++ frontend, the Python reference, or auto")
    return ap


RUN_DATA_ONLY = ("split", "minutes", "extra_negatives", "extra_noise", "tolerance", "no_accuracy", "no_streaming")
"""Flags about the run's own data, meaningless with --positives / --negatives."""
FOLDERS_ONLY = ("snr_db", "hours", "chunk_seconds", "skip_unreadable", "frontend")
"""Flags about given folders, meaningless without them."""


def _given(ap: argparse.ArgumentParser, args: argparse.Namespace, names: tuple[str, ...]) -> list[str]:
    return [f"--{n.replace('_', '-')}" for n in names if getattr(args, n) != ap.get_default(n)]


def _folder_mode(ap: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """kws-eval on given folders of recordings (`keyword_spotting.folder_eval`)."""
    from keyword_spotting import folder_eval

    if not args.negatives:
        ap.error("measuring on your own recordings needs --negatives (speech without the wake word)")
    given = _given(ap, args, RUN_DATA_ONLY)
    if given:
        ap.error(f"{', '.join(given)} apply to the run's own data, not to --positives / --negatives")
    try:
        cfg = folder_eval.FolderEvalConfig(
            tuple(args.positives), tuple(args.negatives), tuple(args.noise), args.snr_db, args.hours,
            args.chunk_seconds, seed=args.seed, frontend=args.frontend,
            target_fa_per_hour=0.5 if args.fa_target is None else args.fa_target,
            skip_unreadable=args.skip_unreadable, progress=not args.no_progress)
        out = folder_eval.report_path(args.out, args.run)
        report = folder_eval.evaluate_folders(args.run, cfg, out)
    except ValueError as e:
        print(f"kws-eval: {e}", file=sys.stderr)
        return 2
    print(folder_eval.summary(report))
    return 0


def main(argv: list[str] | None = None) -> int:
    from fastgrnn_tf.quiet_tf import quiet_tensorflow

    quiet_tensorflow()
    ap = build_parser()
    args = ap.parse_args(argv)
    if args.positives or args.negatives or args.noise:
        return _folder_mode(ap, args)
    if _given(ap, args, FOLDERS_ONLY):
        ap.error(f"{', '.join(_given(ap, args, FOLDERS_ONLY))} apply to --positives / --negatives folders only")
    if args.no_accuracy and args.no_streaming:
        ap.error("--no-accuracy and --no-streaming leave nothing to evaluate")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from keyword_spotting import evaluate, run_folder

    try:
        run_folder.load_run(args.run)  # a bad --run fails here, before TensorFlow loads
        import fastgrnn_tf  # noqa: F401  (tf_keras set-up before TensorFlow)

        report = evaluate.evaluate_run(
            args.run, split=args.split, out_dir=args.out, accuracy=not args.no_accuracy,
            streaming=not args.no_streaming, minutes=args.minutes,
            fa_target=1.0 if args.fa_target is None else args.fa_target, seed=args.seed,
            extra_negative_dirs=args.extra_negatives, extra_noise_dirs=args.extra_noise,
            tolerance_s=args.tolerance, progress=not args.no_progress)
    except ValueError as e:
        print(f"kws-eval: {e}", file=sys.stderr)
        return 2
    print(evaluate.summary(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
