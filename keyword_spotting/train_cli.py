"""`kws-train`: train a FastGRNN keyword spotter from a config and export it (`keyword_spotting.train`).

    kws-train --config my.yaml [--set train.epochs_dense=10 ...] [--out build/train] [--baseline-gru]
"""

from __future__ import annotations

import argparse
import json
import sys

from fastgrnn_tf.quiet_tf import quiet_tensorflow
from keyword_spotting.train_config import Config, load_config


def add_config_arguments(ap: argparse.ArgumentParser) -> None:
    """--config, --set and --data, shared by the CLIs that take a training config."""
    ap.add_argument("--config", help="YAML config (see keyword_spotting/train_config.py)")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="override a value")
    ap.add_argument("--data", help="Speech Commands folder (shortcut for data.kind/root)")


def config_from_arguments(args: argparse.Namespace) -> Config:
    """The Config of `add_config_arguments`' flags; ValueError names what is wrong."""
    overrides = list(args.set)
    if args.data:
        overrides += ["data.kind=speech_commands", f"data.root={args.data}"]
    return load_config(args.config, overrides)


def main(argv: list[str] | None = None) -> int:
    quiet_tensorflow()
    from keyword_spotting.train import run_training

    ap = argparse.ArgumentParser(prog="kws-train", description=__doc__.split("\n")[0])
    add_config_arguments(ap)
    ap.add_argument("--out", help="output folder (overrides out_dir)")
    ap.add_argument("--baseline-gru", action="store_true", help="also train a float GRU baseline")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    try:
        cfg = config_from_arguments(args)
    except ValueError as e:
        print(f"kws-train: {e}", file=sys.stderr)
        return 2
    if args.out:
        cfg.out_dir = args.out
    from fastgrnn_tf.collapse import TrainingCollapsed

    try:
        card = run_training(cfg, baseline_gru=args.baseline_gru, progress=not args.no_progress)
    except TrainingCollapsed as e:  # a stage stayed at chance after its restarts: say so, export nothing
        print(f"kws-train: {e}", file=sys.stderr)
        return 1
    keys = ("accuracy_float", "accuracy_pruned", "accuracy_qat", "accuracy_int8", "accuracy_gru_float_baseline",
            "model_bytes")
    print(json.dumps({k: card[k] for k in keys if k in card}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
