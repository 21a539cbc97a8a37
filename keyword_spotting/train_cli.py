"""`kws-train`: train a FastGRNN keyword spotter from a config and export it (`keyword_spotting.train`).

    kws-train --config my.yaml [--set train.epochs_dense=10 ...] [--out build/train] [--baseline-gru]
    kws-train --phrase "hey nano" [--real-positives my_recordings/ [--real-positives-max 20]] --out runs/hey_nano

The inputs are checked first (`train_inputs`): a bad phrase, engine or data folder stops the run in seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fastgrnn_tf.quiet_tf import quiet_tensorflow
from keyword_spotting.train_config import Config, load_config


def add_config_arguments(ap: argparse.ArgumentParser) -> None:
    """--config, --set and --data, shared by the CLIs that take a training config."""
    ap.add_argument("--config", help="YAML config (see keyword_spotting/train_config.py)")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="override a value")
    ap.add_argument("--data", help="Speech Commands folder (shortcut for data.kind/root)")


def config_from_arguments(args: argparse.Namespace) -> Config:
    """The Config of `add_config_arguments`' flags (and kws-train's --phrase / --real-positives, when the
    parser has them); ValueError names what is wrong."""
    overrides = list(args.set)
    if args.data:
        overrides += ["data.kind=speech_commands", f"data.root={args.data}"]
    phrase = getattr(args, "phrase", None)
    if phrase is not None:
        if args.data:
            raise ValueError("--phrase trains a wake word from text; --data names a Speech Commands folder: "
                             "give one of them")
        overrides += ["data.kind=tts", f"data.phrase={json.dumps(phrase)}"]
    if getattr(args, "real_positives", None):
        overrides.append(f"data.real_positives={json.dumps(args.real_positives)}")
    if getattr(args, "real_positives_max", None) is not None:
        overrides.append(f"data.real_positives_max={args.real_positives_max}")
    return load_config(args.config, overrides)


def main(argv: list[str] | None = None) -> int:
    from keyword_spotting.train_inputs import check_training_inputs
    from keyword_spotting.tts_engines import EngineMissingError

    ap = argparse.ArgumentParser(prog="kws-train", description=__doc__.split("\n")[0])
    add_config_arguments(ap)
    ap.add_argument("--phrase", help="wake phrase to synthesize and train (shortcut for data.kind=tts, data.phrase)")
    ap.add_argument("--real-positives", metavar="DIR",
                    help="your own recordings of the phrase, added to the training positives (data.real_positives)")
    ap.add_argument("--real-positives-max", type=int, metavar="N",
                    help="use at most N of them, a seeded pick (data.real_positives_max; default all)")
    ap.add_argument("--out", help="output folder (overrides out_dir)")
    ap.add_argument("--baseline-gru", action="store_true", help="also train a float GRU baseline")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    try:
        cfg = config_from_arguments(args)
        check_training_inputs(cfg)  # seconds, before TensorFlow and any synthesis
    except (ValueError, EngineMissingError) as e:
        print(f"kws-train: {e}", file=sys.stderr)
        return 2
    if args.out:
        cfg.out_dir = args.out
    quiet_tensorflow()
    from fastgrnn_tf.collapse import TrainingCollapsed
    from keyword_spotting.real_positives import record_in_card
    from keyword_spotting.train import run_training

    try:
        card = run_training(cfg, baseline_gru=args.baseline_gru, progress=not args.no_progress)
        if cfg.data.real_positives:
            card["real_positives"] = record_in_card(Path(cfg.out_dir) / "model_card.json", cfg.data.real_positives,
                                                    cfg.data.real_positives_max, cfg.data.seed)
    except TrainingCollapsed as e:  # a stage stayed at chance after its restarts: say so, export nothing
        print(f"kws-train: {e}", file=sys.stderr)
        return 1
    except (ValueError, EngineMissingError) as e:  # bad data found on the way; what was computed stays on disk
        print(f"kws-train: {e}", file=sys.stderr)
        return 2
    keys = ("accuracy_float", "accuracy_pruned", "accuracy_qat", "accuracy_int8", "accuracy_gru_float_baseline",
            "model_bytes")
    print(json.dumps({k: card[k] for k in keys if k in card}, indent=2))
    if "real_positives" in card:
        rp = card["real_positives"]
        print(f"real positives in training: {rp['count']} recordings of {rp['folder']} (listed in model_card.json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
