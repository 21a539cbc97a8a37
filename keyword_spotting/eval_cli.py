"""`kws-eval`: accuracy per model and streaming FRR / false accepts per hour of a `kws-train` run.

    kws-eval --run build/train [--split test] [--out DIR] [--minutes 10] [--fa-target 1.0] [--seed 0]
             [--extra-negatives ../shared/data/negatives/speech]
             [--extra-noise ../shared/data/speech_commands_dev/_background_noise_]
             [--no-accuracy | --no-streaming]

Writes `eval_report.json`, `plots/eval_confusion_<model>_<split>.png`, `plots/det.png` and the test stream
`eval_stream.wav` + `eval_stream.json` into the run folder (or `--out`) and prints a summary.
See `keyword_spotting/evaluate.py` (clip accuracy) and `stream_eval.py` (streaming) for what is measured.
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
    ap.add_argument("--fa-target", type=_non_negative_float, default=1.0,
                    help="false accepts per hour allowed at the operating point (default 1.0)")
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
    return ap


def main(argv: list[str] | None = None) -> int:
    from fastgrnn_tf.quiet_tf import quiet_tensorflow

    quiet_tensorflow()
    ap = build_parser()
    args = ap.parse_args(argv)
    if args.no_accuracy and args.no_streaming:
        ap.error("--no-accuracy and --no-streaming leave nothing to evaluate")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from keyword_spotting import evaluate, run_folder

    try:
        run_folder.load_run(args.run)  # a bad --run fails here, before TensorFlow loads
        import fastgrnn_tf  # noqa: F401  (tf_keras set-up before TensorFlow)

        report = evaluate.evaluate_run(
            args.run, split=args.split, out_dir=args.out, accuracy=not args.no_accuracy,
            streaming=not args.no_streaming, minutes=args.minutes, fa_target=args.fa_target, seed=args.seed,
            extra_negative_dirs=args.extra_negatives, extra_noise_dirs=args.extra_noise,
            tolerance_s=args.tolerance, progress=not args.no_progress)
    except ValueError as e:
        print(f"kws-eval: {e}", file=sys.stderr)
        return 2
    print(evaluate.summary(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
