"""`make soak-m4`: minutes of audio through the sketch's model path on the emulated Cortex-M4 and through
`kws_host`, compared byte for byte.

    soak_m4.py --minutes 10 --model-dir build/demo --elf build/firmware_m4/firmware.elf \
               --kws-host build/host/host/kws_host --out build/soak_m4 [--data ../shared/data] [--seed 0]

The audio (`<out>/soak.wav`, 16 kHz mono) is one stream laid out as the wake-word benchmark lays them out
(`keyword_spotting.wakeword_streams`): real wake-word recordings (the model's phrase from `config.json` when
`<data>/wakewords/<phrase>` exists, else every word there), about 3 a minute, among real background speech in
real noise at 10 dB SNR, from the MEASURING part of `<data>` (`keyword_spotting.real_data`); without `<data>`,
synthetic chirps among tones in white noise. `firmware.elf` (firmware_main.cc, built by `make firmware-m4`'s
rules) runs under QEMU without the counting plugin: the firmware path (TFLM MicroInterpreter with the FastGRNN
op), the same with TFLM's SOFTMAX, a profiled pass and the bench path, each over the whole WAV read through
semihosting in 256-sample chunks. Its score rows and detections, written as `kws_host --scores` writes them,
must equal `kws_host`'s on the same WAV byte for byte (the bench path's detections too).
Prints the JSON report (also `<out>/soak_m4.json`); exit 1 when anything differs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from firmware_report import parse_log  # noqa: E402  (firmware_main's log reader)

from fastgrnn_tf.atomic_io import atomic_write_text  # noqa: E402
from keyword_spotting import real_data  # noqa: E402
from keyword_spotting.audio_io import read_audio, write_wav  # noqa: E402
from keyword_spotting.wakeword_streams import SAMPLE_RATE, BenchStreamConfig, plan_streams, render_chunk  # noqa: E402

WAKE_WORDS_PER_MINUTE = 3
QEMU = ROOT / "tflm_app" / "m4" / "run_qemu.sh"


def _seconds(clips: list[np.ndarray]) -> float:
    return sum(len(c) for c in clips) / SAMPLE_RATE


def _load(paths: list[Path], rng: np.random.Generator, need_s: float | None = None, count: int | None = None
          ) -> list[np.ndarray]:
    """Recordings of `paths` in a seeded order, until `need_s` seconds or `count` clips; files that do not
    decode are skipped with a message (14 of ../shared/data's alexa FLACs)."""
    out: list[np.ndarray] = []
    for i in rng.permutation(len(paths)):
        try:
            out.append(read_audio(paths[int(i)], SAMPLE_RATE))
        except ValueError as e:
            print(f"soak_m4: skipped {e}", file=sys.stderr)
            continue
        if (count is not None and len(out) >= count) or (need_s is not None and _seconds(out) >= need_s):
            break
    return out


def real_sources(data: Path, phrase: str, minutes: float, seed: int
                 ) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], str]:
    """(wake words, background speech, noise, label) from the measuring part of `data`."""
    found = real_data.discover(data)
    words = [phrase] if phrase in found.wakewords else sorted(found.wakewords)
    if not words:
        raise ValueError(f"{data}: no wakewords/<word>/ recordings")
    part = found.part("measure")
    rng = np.random.default_rng([seed, 11])
    positives = _load([p for w in words for p in found.wakewords[w]], rng,
                      count=max(1, round(minutes * WAKE_WORDS_PER_MINUTE)))
    negatives = _load([f.path for f in part.negatives], rng, need_s=minutes * 60)
    noise = _load([f.path for f in part.noise], rng, count=6)
    return positives, negatives, noise, "+".join(words)


def synthetic_sources(minutes: float, seed: int) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], str]:
    """Rising chirps (the "wake word"), falling chirps and tones (background), white noise."""
    rng = np.random.default_rng([seed, 12])

    def sweep(f0: float, f1: float, seconds: float) -> np.ndarray:
        t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
        x = np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t * t / (2 * t[-1]))) * np.hanning(len(t))
        return np.round(x * 8000).astype(np.int16)

    positives = [sweep(500, 1800, rng.uniform(0.4, 0.6)) for _ in range(max(1, round(minutes * 3)))]
    negatives = [sweep(*((1800, 500) if k % 2 else (3000, 3000)), rng.uniform(0.4, 1.5)) for k in range(200)]
    noise = [np.round(rng.normal(0, 2000, 30 * SAMPLE_RATE)).astype(np.int16)]
    return positives, negatives, noise, "chirp"


def build_wav(path: Path, minutes: float, data: Path, phrase: str, seed: int) -> dict:
    """Writes the stream; returns its description."""
    real = data.is_dir()
    positives, negatives, noise, label = (real_sources(data, phrase, minutes, seed) if real
                                          else synthetic_sources(minutes, seed))
    cfg = BenchStreamConfig(hours=minutes / 60, chunk_s=minutes * 60, snr_db=10.0)
    plan = plan_streams(len(positives), cfg, seed)
    audio, events, _ = render_chunk(plan.chunks[0], positives, negatives, noise, cfg, label, seed)
    write_wav(path, audio)
    return {"audio": "real" if real else "synthetic", "wake_word": label, "wake_words_in_audio": len(events),
            "audio_seconds": len(audio) / SAMPLE_RATE}


def firmware_outputs(log: Path) -> tuple[bytes, dict[str, bytes], dict[str, int]]:
    """The firmware path's score rows as `kws_host --scores` writes them, detections per path ("frame class
    score" lines) and the K figures."""
    scores, dets, figures = parse_log(log)
    rows = "".join(" ".join(str(v) for v in row) + "\n" for row in scores).encode()
    lines = {p: "".join(f"{f} {c} {s}\n" for f, c, s in d).encode() for p, d in dets.items()}
    return rows, lines, figures


def host_outputs(kws_host: Path, model: Path, wav: Path, scores: Path) -> tuple[bytes, bytes]:
    """kws_host's score file and its detections as "frame class score" lines."""
    res = subprocess.run([str(kws_host), "--model", str(model), "--wav", str(wav), "--scores", str(scores)],
                         capture_output=True, text=True, check=True)
    dets = []
    for line in res.stdout.splitlines():
        if line.startswith("detection "):
            kv = dict(item.split("=", 1) for item in line.split()[1:])
            dets.append(f"{kv['frame']} {kv['class']} {kv['score']}\n")
    return scores.read_bytes(), "".join(dets).encode()


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()[:16]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--model-dir", required=True, help="model.fgb (+ config.json for the phrase)")
    ap.add_argument("--elf", required=True)
    ap.add_argument("--kws-host", required=True)
    ap.add_argument("--out", required=True, help="folder for soak.wav, the logs and soak_m4.json")
    ap.add_argument("--data", default=str(real_data.ROOT), help="real recordings (default ../shared/data)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=None,
                    help="QEMU wall seconds (default 600 + 4 x the audio: 4 passes, on a loaded machine)")
    args = ap.parse_args(argv)
    if not 0 < args.minutes <= 600:
        ap.error(f"--minutes must be in (0, 600], got {args.minutes}")
    model_dir, out = Path(args.model_dir).resolve(), Path(args.out).resolve()
    fgb = model_dir / "model.fgb"
    for p in (fgb, Path(args.elf), Path(args.kws_host)):
        if not p.is_file():
            ap.error(f"{p} does not exist")
    config = model_dir / "config.json"
    phrase = json.loads(config.read_text()).get("data", {}).get("phrase", "") if config.is_file() else ""
    out.mkdir(parents=True, exist_ok=True)

    t0 = time.time()
    wav = out / "soak.wav"
    report: dict = {"minutes": args.minutes, **build_wav(wav, args.minutes, Path(args.data), phrase, args.seed)}
    t1 = time.time()
    log = out / "firmware.log"
    timeout = args.timeout or 600 + 4 * args.minutes * 60
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(log, "wb") as f:  # the ELF's stdout; parse_log rejects a run that did not finish
        qemu = subprocess.run([str(QEMU), "--timeout", str(int(timeout)), str(Path(args.elf).resolve()), str(fgb),
                               str(wav)], stdout=f, cwd=ROOT, check=False)
    t2 = time.time()
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if qemu.returncode != 0:
        print(f"soak_m4: firmware.elf exited {qemu.returncode} (log {log})", file=sys.stderr)
        return 1
    fw_scores, fw_dets, figures = firmware_outputs(log)
    host_scores, host_dets = host_outputs(Path(args.kws_host), fgb, wav, out / "host_scores.txt")
    t3 = time.time()
    same = {"scores_identical": fw_scores == host_scores, "detections_identical": fw_dets["firmware"] == host_dets,
            "bench_path_identical": fw_dets["bench"] == host_dets}
    report |= {
        "frames": figures["firmware_frames"], "detections": fw_dets["firmware"].count(b"\n"),
        "host_detections": host_dets.count(b"\n"), "softmax_detections": fw_dets["softmax"].count(b"\n"),
        **same, "identical": all(same.values()),
        "scores_sha256": {"firmware": _sha(fw_scores), "kws_host": _sha(host_scores)},
        "wall_s": {"build_wav": round(t1 - t0, 1), "qemu": round(t2 - t1, 1), "kws_host": round(t3 - t2, 1),
                   "total": round(t3 - t0, 1)},
        "qemu_cpu_s": round(cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime, 1),
        "qemu_passes": 4, "model": os.path.relpath(fgb, ROOT), "elf": os.path.relpath(Path(args.elf).resolve(), ROOT),
    }
    text = json.dumps(report, indent=2)
    atomic_write_text(out / "soak_m4.json", text + "\n")
    print(text)
    return 0 if report["identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
