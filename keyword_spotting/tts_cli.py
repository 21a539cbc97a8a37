"""`kws-tts`: synthetic wake-word data from every installed TTS engine (`keyword_spotting.tts`).

    kws-tts --phrase "hey nano" --out DIR [--positives 400 --negatives 800 --noise 120 --seed 0]
            [--engines espeak,flite,festival,piper]
"""

from __future__ import annotations

import argparse
import sys
import time

from keyword_spotting.tts import EngineMissingError, ensure_dataset, generate_dataset, list_voices
from keyword_spotting.tts_engines import ENGINE_NAMES


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
    ap.add_argument("--engines", default="",
                    help=f"comma-separated TTS engines ({','.join(ENGINE_NAMES)}; default: every installed one)")
    ap.add_argument("--weight-cap", type=int, default=8,
                    help="an engine's share of the clips ~ min(its voices, this); 1 = every engine the same share")
    ap.add_argument("--list-voices", action="store_true", help="print the voices of each engine and exit")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()] or None
    try:
        if args.list_voices:
            for name, voices in list_voices(engines).items():
                print(f"{name} ({len(voices)}):", " ".join(voices))
            return 0
        if not args.out:
            ap.error("--out is required")
        if args.force:
            manifest = generate_dataset(args.out, args.phrase, args.positives, args.negatives, args.noise,
                                        args.seed, args.workers, not args.quiet, engines,
                                        weight_cap=args.weight_cap)
            print(f"wrote {len(manifest['files'])} clips to {args.out} in {manifest['seconds']} s")
        else:
            t0 = time.time()
            ensure_dataset(args.out, args.phrase, args.positives, args.negatives, args.noise, args.seed,
                           args.workers, not args.quiet, engines, weight_cap=args.weight_cap)
            print(f"{args.out} ready ({time.time() - t0:.1f} s)")
    except (EngineMissingError, ValueError, RuntimeError) as e:
        print(f"kws-tts: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
