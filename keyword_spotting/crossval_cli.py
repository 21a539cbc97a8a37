"""`kws-crossval`: speaker K-fold cross-validation of the whole `kws-train` job (`keyword_spotting.crossval`).

    kws-crossval --config my.yaml --folds 5 --out build/cv [--set train.epochs_dense=40 ...]

Writes `--out/fold<k>/` (one `kws-train` output per fold; finished folds are reused) and
`--out/cv_report.json`, then prints the pooled accuracies and gaps. Exit status 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys

from keyword_spotting.crossval import run_crossval


def main(argv: list[str] | None = None) -> int:
    from fastgrnn_tf.quiet_tf import quiet_tensorflow

    quiet_tensorflow()
    from keyword_spotting.train_cli import add_config_arguments, config_from_arguments

    ap = argparse.ArgumentParser(prog="kws-crossval", description=__doc__.split("\n")[0])
    add_config_arguments(ap)
    ap.add_argument("--folds", type=int, default=5, help="number of speaker folds (>= 3; default 5)")
    ap.add_argument("--out", default="build/crossval", help="output folder (one sub-folder per fold)")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    try:
        cfg = config_from_arguments(args)
        if cfg.data.folds:
            raise ValueError("data.folds is set by --folds; remove it from the config")
        report = run_crossval(cfg, args.folds, args.out, progress=not args.no_progress)
    except ValueError as e:
        print(f"kws-crossval: {e}", file=sys.stderr)
        return 2
    keys = [k for k in report if k.startswith(("accuracy_", "int8_")) or k == "test_clips"]
    print(json.dumps({k: report[k] for k in keys}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
