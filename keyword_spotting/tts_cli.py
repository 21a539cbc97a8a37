"""`kws-tts`: synthetic wake-word data with espeak-ng (`keyword_spotting.tts`).

    kws-tts --phrase "hey nano" --out DIR [--positives 400 --negatives 800 --noise 120 --seed 0]
"""

from __future__ import annotations

import argparse
import sys
import time

from keyword_spotting.tts import EspeakNotFoundError, ensure_dataset, generate_dataset, list_voices


def main(argv: list[str] | None = None) -> int:
    """Console script `kws-tts`."""
    ap = argparse.ArgumentParser(prog="kws-tts", description=__doc__.split("\n")[0])
    ap.add_argument("--phrase", default="hey nano", help="wake phrase (default: %(default)s)")
    ap.add_argument("--out", help="output folder (positives/ negatives/ noise/ manifest.json)")
    ap.add_argument("--positives", type=int, default=400)
    ap.add_argument("--negatives", type=int, default=800)
    ap.add_argument("--noise", type=int, default=120)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2, help="processes (default: %(default)s)")
    ap.add_argument("--force", action="store_true", help="regenerate even if the manifest matches")
    ap.add_argument("--list-voices", action="store_true", help="print the voices and variants used and exit")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    try:
        if args.list_voices:
            langs, variants = list_voices()
            print("languages:", " ".join(langs))
            print("variants:", " ".join(variants))
            return 0
        if not args.out:
            ap.error("--out is required")
        if args.force:
            manifest = generate_dataset(args.out, args.phrase, args.positives, args.negatives, args.noise,
                                        args.seed, args.workers, not args.quiet)
            print(f"wrote {len(manifest['files'])} clips to {args.out} in {manifest['seconds']} s")
        else:
            t0 = time.time()
            ensure_dataset(args.out, args.phrase, args.positives, args.negatives, args.noise, args.seed,
                           args.workers, not args.quiet)
            print(f"{args.out} ready ({time.time() - t0:.1f} s)")
    except (EspeakNotFoundError, ValueError, RuntimeError) as e:
        print(f"kws-tts: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
