"""`kws-bench-wakeword`: train each wake word from text, measure it on real people in real speech and noise.

    kws-bench-wakeword                                   # every word of ../shared/data/wakewords, 5 h per condition
    kws-bench-wakeword --words alexa --hours 1           # quicker
    kws-bench-wakeword --config my_recipe.yaml --set train.epochs_dense=30    # another recipe, same measurement
    kws-bench-wakeword --real-positives 20               # also text + 20 real recordings per word (held out)

Writes build/bench/wakeword.json and the DET plots in build/bench/wakeword/<word>/; reruns reuse the trained
models, stream features and scores in --work (see `keyword_spotting.wakeword_bench`).
"""

from __future__ import annotations

import argparse
import sys

from keyword_spotting.wakeword_bench import CONDITIONS, BenchConfig, run_benchmark


def main(argv: list[str] | None = None) -> int:
    from fastgrnn_tf.quiet_tf import quiet_tensorflow

    quiet_tensorflow()
    d = BenchConfig()
    ap = argparse.ArgumentParser(prog="kws-bench-wakeword", description=__doc__.split("\n")[0])
    ap.add_argument("--words", nargs="+", default=[], help="wake words to measure (default: every folder)")
    ap.add_argument("--data", default=None, help="real data folder (default ../shared/data)")
    ap.add_argument("--config", default=None, help="the training recipe: a kws-train config (default: today's)")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                    help="override a recipe value (as kws-train --set)")
    ap.add_argument("--hours", type=float, default=d.hours, help="hours of stream per condition (default 5)")
    ap.add_argument("--chunk-seconds", type=float, default=d.chunk_s, help="length of each independent stream")
    ap.add_argument("--conditions", nargs="+", default=list(d.conditions), choices=list(CONDITIONS))
    ap.add_argument("--target-fa", type=float, default=d.target_fa_per_hour,
                    help="false accepts per hour for the detector settings chosen (default 0.5)")
    ap.add_argument("--calibration-hours", type=float, default=d.calibration_hours,
                    help="hours of training-part speech + noise to set the threshold for --target-fa (0 = off)")
    ap.add_argument("--real-positives", type=int, default=d.real_positives, metavar="N",
                    help="also train text + N real recordings of each word (held out of measurement for both "
                         "recipes); JSON key words.<word>[\"text+N_real\"] (default 0: text only)")
    ap.add_argument("--frontend", choices=("auto", "device", "reference"), default=d.frontend,
                    help="features: the device's C++ frontend (`make cpp-host`), the Python reference, or auto")
    ap.add_argument("--work", default=d.work, help="work folder (models, stream features, scores)")
    ap.add_argument("--out", default=d.out_json, help="JSON report")
    ap.add_argument("--seed", type=int, default=d.seed)
    ap.add_argument("--no-progress", action="store_true", help="no progress bars (a log line per step remains)")
    args = ap.parse_args(argv)
    bench = BenchConfig(words=tuple(args.words), data_root=args.data, work=args.work, out_json=args.out,
                        recipe=args.config, overrides=tuple(args.set), hours=args.hours, chunk_s=args.chunk_seconds,
                        conditions=tuple(args.conditions), seed=args.seed, frontend=args.frontend,
                        progress=not args.no_progress, target_fa_per_hour=args.target_fa,
                        calibration_hours=args.calibration_hours, real_positives=args.real_positives)
    if args.real_positives < 0:
        ap.error(f"--real-positives must be >= 0, got {args.real_positives}")
    from fastgrnn_tf.collapse import TrainingCollapsed

    try:
        run_benchmark(bench)
    except (ValueError, FileNotFoundError) as e:
        print(f"kws-bench-wakeword: {e}", file=sys.stderr)
        return 2
    except TrainingCollapsed as e:  # a recipe's training stayed at chance: named, no traceback
        print(f"kws-bench-wakeword: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
