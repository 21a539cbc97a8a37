"""Checks and reports `make firmware-m4`: the firmware path's detections and scores against kws_host on
the same WAV, instructions per hop and per audio second against the bench path, arena, flash and RAM.

    firmware_report.py --log firmware.log --counts firmware.counts --elf firmware.elf --size-elf firmware_size.elf
                       --kws-host build/host/host/kws_host --model model.fgb --wav audio.wav
                       --bench-json build/bench/m4_counts.json

Merges a "firmware" entry into --bench-json (other keys untouched). Exit 1 when the firmware's scores or
detections differ from kws_host's or its instructions per audio second exceed 1.1x the bench path's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from report import read_counts, total  # noqa: E402  (the bench's plugin-report reader)

RATIO_LIMIT = 1.1
REGIONS = {"firmware": 20, "bench": 21, "softmax": 22}


def parse_log(path: Path) -> tuple[list[list[int]], dict[str, list[tuple[int, int, int]]], dict[str, int]]:
    """(firmware score rows by frame, detections per path, K figures) of firmware_main's output."""
    scores: list[list[int]] = []
    dets: dict[str, list[tuple[int, int, int]]] = {p: [] for p in REGIONS}
    figures: dict[str, int] = {}
    for line in path.read_text().splitlines():
        f = line.split()
        if not f:
            continue
        if f[0] == "S":
            if int(f[1]) != len(scores):
                raise ValueError(f"{path}: score rows out of order at frame {f[1]}")
            scores.append([int(v) for v in f[2:]])
        elif f[0] == "D":
            dets.setdefault(f[1], []).append((int(f[2]), int(f[3]), int(f[4])))
        elif f[0] == "K":
            figures[f[1]] = int(f[2])
    if figures.get("done") != 1:
        raise ValueError(f"{path}: the firmware run did not finish:\n{path.read_text()[-2000:]}")
    return scores, dets, figures


def run_kws_host(exe: str, model: str, wav: str) -> tuple[list[list[int]], list[tuple[int, int, int]]]:
    """kws_host's per-frame scores and detections (frame, class, score) on the same audio."""
    with tempfile.TemporaryDirectory() as tmp:
        scores_path = Path(tmp) / "scores.txt"
        res = subprocess.run([exe, "--model", model, "--wav", wav, "--scores", str(scores_path)],
                             capture_output=True, text=True, check=True)
        rows = [[int(v) for v in line.split()] for line in scores_path.read_text().splitlines() if line.strip()]
    dets = []
    for line in res.stdout.splitlines():
        if line.startswith("detection "):
            kv = dict(item.split("=", 1) for item in line.split()[1:])
            dets.append((int(kv["frame"]), int(kv["class"]), int(kv["score"])))
    return rows, dets


def elf_size(elf: str) -> dict[str, int]:
    text, data, bss = (int(v) for v in subprocess.run(["arm-none-eabi-size", elf], capture_output=True, text=True,
                                                       check=True).stdout.splitlines()[1].split()[:3])
    return {"flash_bytes": text + data, "ram_bytes": data + bss}


def merge_json(path: Path, key: str, value: dict) -> None:
    """Sets `key` in the JSON object at `path` (created if absent), atomically; other keys kept."""
    doc = json.loads(path.read_text()) if path.is_file() else {}
    doc[key] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".")
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name in ("log", "counts", "elf", "size-elf", "kws-host", "model", "wav", "bench-json"):
        ap.add_argument(f"--{name}", required=True)
    args = ap.parse_args(argv)

    scores, dets, figures = parse_log(Path(args.log))
    host_scores, host_dets = run_kws_host(args.kws_host, args.model, args.wav)
    with wave.open(args.wav) as w:
        seconds = w.getnframes() / w.getframerate()
    regions, _ = read_counts(Path(args.counts))
    frames = figures["firmware_frames"]
    paths = {}
    for path, rid in REGIONS.items():
        insns = total(regions, rid)
        paths[path] = {"instructions_per_audio_second": round(insns / seconds),
                       "instructions_per_hop": round(insns / max(frames, 1), 1),
                       "loop_calls": regions[rid].calls, "loop_min_max": [regions[rid].min, regions[rid].max]}
    ratio = paths["firmware"]["instructions_per_audio_second"] / paths["bench"]["instructions_per_audio_second"]
    setup, first, later = (total(regions, r) for r in (23, 24, 25))
    # Per operator of an Invoke (the profiled pass): "K op<i>_<name> 1" names region 30 + i.
    ops = {}
    for key in sorted((k for k in figures if k.startswith("op") and "_" in k), key=lambda k: int(k[2:k.index("_")])):
        rid = 30 + int(key[2:key.index("_")])
        if rid in regions:
            ops[key] = round(total(regions, rid) / regions[rid].calls, 1)
    scores_equal = scores == host_scores
    dets_equal = dets["firmware"] == host_dets and dets["bench"] == host_dets
    result = {
        "detections_equal_kws_host": dets_equal,
        "scores_equal_kws_host": scores_equal,
        "frames": frames,
        "audio_seconds": seconds,
        "detections": len(dets["firmware"]),
        "softmax_detections": len(dets["softmax"]),
        "paths": paths,
        "firmware_over_bench": round(ratio, 4),
        "ratio_limit": RATIO_LIMIT,
        "softmax_over_bench": round(paths["softmax"]["instructions_per_audio_second"]
                                    / paths["bench"]["instructions_per_audio_second"], 4),
        "setup_instructions": setup,
        "first_invoke_instructions": first,
        "later_invoke_instructions": later,
        "invoke_instructions_per_operator": ops,
        "arena_used_bytes": figures["arena_used_bytes"],
        "arena_bytes": figures["arena_bytes"],
        "softmax_arena_used_bytes": figures["softmax_arena_used_bytes"],
        **elf_size(args.size_elf),
        "size_build": ("firmware_size.elf: the sketch's model path alone (wakeword::SetupFirmware: TFLM interpreter, "
                       "FastGRNN op, FULLY_CONNECTED etc., model, frontend, detector, SampleRing), without the "
                       "Arduino core / mbed OS; flash = text + data, ram = data + bss incl. the 48 KB arena"),
        "counting_elf": elf_size(args.elf),
        "method": ("tflm_app/m4/firmware: the sketch tree of prepare_sketch.sh (wakeword_firmware.cc: "
                   "MicroInterpreter with the FastGRNN op, FULLY_CONNECTED (CMSIS-NN) and the final SOFTMAX run "
                   "as a logits pass-through, kws::FramePipeline) on QEMU mps2-an386, audio from the WAV in "
                   "256-sample PDM-sized chunks through the sketch's SampleRing, one hop per loop(); 'bench' = "
                   "kws::CoreModel from model.fgb on the same chunks; 'softmax' = the firmware with TFLM's int8 "
                   "SOFTMAX (CMSIS-NN). Instructions per loop() summed over the stream, marker overhead "
                   "subtracted."),
        "model": args.model,
        "wav": args.wav,
    }
    merge_json(Path(args.bench_json), "firmware", result)
    print(f"firmware-m4: {frames} frames ({seconds:.2f} s of audio): scores {'==' if scores_equal else '!='} "
          f"kws_host; detections firmware {dets['firmware']} bench {dets['bench']} kws_host {host_dets} "
          f"-> {'identical' if dets_equal else 'DIFFERENT'}")
    for path, p in paths.items():
        print(f"  {path:8s}: {p['instructions_per_audio_second']:>9,d} instructions per audio second, "
              f"{p['instructions_per_hop']:>9,.1f} per hop")
    print(f"  firmware / bench = {ratio:.3f} (limit {RATIO_LIMIT}); "
          f"with TFLM SOFTMAX {result['softmax_over_bench']:.3f}")
    print(f"  setup (AllocateTensors, weights prepared) {setup:,d} instructions; first Invoke {first:,d}, "
          f"a later one {later:,d}")
    print("  per operator of an Invoke: " + ", ".join(f"{k[k.index('_') + 1:]} {v:,.0f}" for k, v in ops.items()))
    print(f"  arena used {result['arena_used_bytes']:,d} of {result['arena_bytes']:,d} bytes; "
          f"model path flash {result['flash_bytes']:,d} B, RAM {result['ram_bytes']:,d} B")
    print(f"  -> {args.bench_json} [\"firmware\"]")
    return 0 if scores_equal and dets_equal and ratio <= RATIO_LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
