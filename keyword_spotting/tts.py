"""Synthetic wake-word data with espeak-ng (the library behind `kws-tts`, `tts_cli.py`).

Writes the custom-folder layout that `datasets.load_custom_folder` reads:

    DIR/positives/<voice>__pos_<n>.wav   the wake phrase, at a random offset in a 1 s clip
    DIR/negatives/<voice>__neg_<n>.wav   common English words and near misses of the phrase
    DIR/noise/noise__<kind>_<n>.wav      white / pink / brown noise, mains hum, synthetic babble
    DIR/manifest.json                    the parameters and every file ("complete": true when done)

All clips are 16 kHz mono int16, 1 s. The voice (espeak-ng language voice + variant, e.g.
`en-us+f3`) is the part of the file name before `__`, so splits are voice-disjoint. Each clip
is planned in the parent from one `np.random.Generator(seed)` (text, voice, speed, pitch,
amplitude, word gap, placement, level) and rendered by a small process pool, so the output
depends only on the arguments. espeak-ng (`-w` to a temporary WAV) runs at 22.05 kHz; the
clip is resampled with librosa, silence-trimmed and scaled to a random peak level.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from fastgrnn_tf.atomic_io import atomic_write_bytes
from keyword_spotting.audio_io import CLIP_SAMPLES, SAMPLE_RATE, read_audio, write_wav

ESPEAK = "espeak-ng"

COMMON_WORDS = (
    "the be to of and a in that have it for not on with he as you do at this but his by from they we say "
    "her she or an will my one all would there their what so up out if about who get which go me when make "
    "can like time no just him know take people into year your good some could them see other than then "
    "now look only come its over think also back after use two how our work first well way even new want "
    "because any these give day most us yes left right stop down off open close light music play pause next "
    "hello okay thanks please morning evening water coffee kitchen window door table phone radio weather "
    "seven eight nine zero number happy house bird tree dog cat banana animal computer machine money "
    "hand nothing never maybe later today tonight hello there come here how are you what time is it "
    "turn on the lights turn it off play some music set a timer good night see you later let me know"
).split()

COMMON_PHRASES = (
    "good morning", "turn on the lights", "what time is it", "play some music", "set a timer",
    "see you later", "how are you", "let me know", "good night", "thank you very much",
    "open the door", "call my phone", "not now", "come over here", "I don't know",
)

_ONSETS = ("", "b", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "w", "y", "ch", "sh", "th")
_VOWELS = ("a", "e", "i", "o", "u", "ay", "ee", "oo", "ai")


class EspeakNotFoundError(RuntimeError):
    """espeak-ng is not installed (or not on PATH)."""


def find_espeak() -> str:
    """Path of the espeak-ng binary, or EspeakNotFoundError with how to install it."""
    path = shutil.which(ESPEAK)
    if path is None:
        raise EspeakNotFoundError(
            "espeak-ng was not found on PATH; install it (Debian/Ubuntu: `sudo apt-get install espeak-ng`, "
            "or `make setup`) to generate synthetic wake-word data"
        )
    return path


def _voice_table(espeak: str, arg: str) -> list[list[str]]:
    res = subprocess.run([espeak, arg], capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"`{espeak} {arg}` failed: {res.stderr.strip()}")
    rows = []
    for line in res.stdout.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 5:
            rows.append(parts)
    return rows


def list_voices(espeak: str | None = None) -> tuple[list[str], list[str]]:
    """Installed (English language voices, voice variants), e.g. (['en-gb', 'en-us', ...], ['f3', ...]).

    MBROLA voices (`mb/...`) are skipped: they need the separate mbrola program.
    """
    espeak = espeak or find_espeak()
    langs = sorted({r[1] for r in _voice_table(espeak, "--voices=en") if r[4].startswith("gmw/")})
    variants = []
    for line in subprocess.run([espeak, "--voices=variant"], capture_output=True, text=True,
                               check=False).stdout.splitlines()[1:]:
        m = re.search(r"!v/(\S+)\s*(\(|$)", line)
        if m and re.fullmatch(r"[A-Za-z0-9_-]+", m.group(1)):
            variants.append(m.group(1))
    if not langs:
        raise RuntimeError(f"{espeak} lists no English voices (is espeak-ng-data installed?)")
    return langs, sorted(set(variants))


def near_misses(phrase: str) -> list[str]:
    """Phrases that sound close to `phrase` but are not it: parts of it, and one word changed."""
    words = phrase.lower().split()
    if not words:
        raise ValueError("phrase must not be empty")
    out = set()
    for i in range(len(words)):
        for j in range(i + 1, len(words) + 1):
            if (i, j) != (0, len(words)):
                out.add(" ".join(words[i:j]))
    for i, w in enumerate(words):
        m = re.fullmatch(r"([^aeiouy]*)([aeiouy]+)(.*)", w)
        variants = set()
        if m:
            onset, vowel, rest = m.groups()
            variants |= {o + vowel + rest for o in _ONSETS}
            variants |= {onset + v + rest for v in _VOWELS}
            if len(rest) > 1:
                variants.add(onset + vowel + rest[:-1])
        variants |= {w + "s", w + "y"}
        for v in variants:
            if v and v != w:
                out.add(" ".join(words[:i] + [v] + words[i + 1:]))
    out.discard(phrase.lower())
    return sorted(out)


@dataclasses.dataclass(frozen=True)
class ClipJob:
    """Everything needed to render one clip (planned in the parent, rendered in a worker)."""

    path: str
    kind: str  # positive | negative | noise
    texts: tuple[str, ...]  # one text; babble: several
    voices: tuple[str, ...]
    speeds: tuple[int, ...]
    pitches: tuple[int, ...]
    amplitudes: tuple[int, ...]
    gaps: tuple[int, ...]
    noise_kind: str
    seed: int
    peak_db: float


def _synth(espeak: str, text: str, voice: str, speed: int, pitch: int, amplitude: int, gap: int,
           tmpdir: str) -> np.ndarray:
    """One espeak-ng utterance as float32 at 16 kHz."""
    out = os.path.join(tmpdir, "utt.wav")
    cmd = [espeak, "-v", voice, "-s", str(speed), "-p", str(pitch), "-a", str(amplitude), "-g", str(gap),
           "-w", out, "--", text]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"espeak-ng failed ({' '.join(cmd)}): {res.stderr.strip()}")
    return read_audio(out, SAMPLE_RATE).astype(np.float32) / 32768.0


def _trim(y: np.ndarray, top_db: float = 40.0) -> np.ndarray:
    """Drop leading/trailing samples more than `top_db` below the peak (10 ms resolution)."""
    peak = np.max(np.abs(y)) if y.size else 0.0
    if peak <= 0:
        return y[:0]
    frames = np.abs(y[: len(y) // 160 * 160]).reshape(-1, 160).max(axis=1)
    loud = np.nonzero(frames > peak * 10 ** (-top_db / 20))[0]
    if loud.size == 0:
        return y[:0]
    return y[loud[0] * 160:(loud[-1] + 1) * 160]


def _place(y: np.ndarray, rng: np.random.Generator, n: int = CLIP_SAMPLES) -> np.ndarray:
    out = np.zeros(n, np.float32)
    if len(y) >= n:
        return y[:n].astype(np.float32)
    start = int(rng.integers(0, n - len(y) + 1))
    out[start:start + len(y)] = y
    return out


def _coloured_noise(kind: str, rng: np.random.Generator, n: int = CLIP_SAMPLES) -> np.ndarray:
    if kind == "hum":
        t = np.arange(n) / SAMPLE_RATE
        f0 = rng.choice([50.0, 60.0]) * rng.uniform(0.99, 1.01)
        y = sum(rng.uniform(0.2, 1.0) / k * np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 2 * np.pi))
                for k in range(1, 8))
        return (y + 0.02 * rng.standard_normal(n)).astype(np.float32)
    white = rng.standard_normal(n)
    if kind == "white":
        return white.astype(np.float32)
    spec = np.fft.rfft(white)
    f = np.maximum(np.fft.rfftfreq(n, 1 / SAMPLE_RATE), 20.0)
    spec /= np.sqrt(f) if kind == "pink" else f
    return np.fft.irfft(spec, n).astype(np.float32)


def render(job: ClipJob, espeak: str) -> str:
    """Render one planned clip to `job.path` (atomic write); returns the path."""
    rng = np.random.default_rng(job.seed)
    with tempfile.TemporaryDirectory(prefix="kws-tts-") as tmp:
        if job.kind == "noise" and job.noise_kind != "babble":
            y = _coloured_noise(job.noise_kind, rng)
        elif job.kind == "noise":
            y = np.zeros(CLIP_SAMPLES, np.float32)
            for i, text in enumerate(job.texts):
                u = _trim(_synth(espeak, text, job.voices[i], job.speeds[i], job.pitches[i],
                                 job.amplitudes[i], job.gaps[i], tmp))
                if u.size:
                    u = u / np.max(np.abs(u)) * rng.uniform(0.3, 1.0)
                    y += _place(u, rng)
        else:
            speed = job.speeds[0]
            for _ in range(4):
                u = _trim(_synth(espeak, job.texts[0], job.voices[0], speed, job.pitches[0],
                                 job.amplitudes[0], job.gaps[0], tmp))
                if len(u) <= CLIP_SAMPLES - 800 or job.kind == "negative":
                    break
                speed = int(speed * 1.25)  # the wake phrase must fit in the clip whole
            if u.size == 0:
                raise RuntimeError(f"espeak-ng produced silence for {job.texts[0]!r} "
                                   f"with voice {job.voices[0]}")
            y = _place(u, rng)
    peak = float(np.max(np.abs(y)))
    if peak > 0:
        y = y / peak * 10 ** (job.peak_db / 20)
    write_wav(job.path, y.astype(np.float32))
    return job.path


def _safe(voice: str) -> str:
    return re.sub(r"[^A-Za-z0-9+.-]", "-", voice)


def plan(out: str | os.PathLike, phrase: str, positives: int, negatives: int, noise: int, seed: int,
         voices: tuple[list[str], list[str]]) -> list[ClipJob]:
    """All clip jobs, deterministic in (arguments, installed voices)."""
    if not phrase.strip():
        raise ValueError("phrase must not be empty")
    for name, v in (("positives", positives), ("negatives", negatives), ("noise", noise), ("seed", seed)):
        if v < 0:
            raise ValueError(f"{name} must be >= 0, got {v}")
    out = Path(out)
    langs, variants = voices
    rng = np.random.default_rng(seed)
    misses = near_misses(phrase)
    phrase_forms = (phrase, phrase + "!", phrase.replace(" ", ", ", 1), phrase + "?")

    def voice() -> str:
        lang = langs[int(rng.integers(len(langs)))]
        if variants and rng.random() < 0.9:
            return f"{lang}+{variants[int(rng.integers(len(variants)))]}"
        return lang

    def prosody() -> tuple[int, int, int, int]:
        return (int(rng.integers(110, 221)), int(rng.integers(10, 91)), int(rng.integers(60, 161)),
                int(rng.integers(0, 6)))

    def negative_text() -> str:
        r = rng.random()
        if r < 0.35 and misses:
            return misses[int(rng.integers(len(misses)))]
        if r < 0.5:
            return COMMON_PHRASES[int(rng.integers(len(COMMON_PHRASES)))]
        k = int(rng.integers(1, 4))
        return " ".join(COMMON_WORDS[int(i)] for i in rng.integers(len(COMMON_WORDS), size=k))

    jobs = []
    for kind, count, sub, tag in (("positive", positives, "positives", "pos"),
                                  ("negative", negatives, "negatives", "neg")):
        for i in range(count):
            if kind == "positive":
                text = phrase_forms[int(rng.integers(len(phrase_forms)))]
            else:
                text = negative_text()
            v = voice()
            s, p, a, g = prosody()
            jobs.append(ClipJob(str(out / sub / f"{_safe(v)}__{tag}_{i:05d}.wav"), kind, (text,), (v,), (s,),
                                (p,), (a,), (g,), "", int(rng.integers(2**62)), float(rng.uniform(-24, -1))))
    kinds = ("white", "pink", "brown", "hum", "babble")
    for i in range(noise):
        nk = kinds[i % len(kinds)]
        k = int(rng.integers(3, 7)) if nk == "babble" else 0
        texts = tuple(negative_text() for _ in range(k))
        vs = tuple(voice() for _ in range(k))
        pros = [prosody() for _ in range(k)]
        jobs.append(ClipJob(str(out / "noise" / f"noise__{nk}_{i:05d}.wav"), "noise", texts, vs,
                            tuple(p[0] for p in pros), tuple(p[1] for p in pros), tuple(p[2] for p in pros),
                            tuple(p[3] for p in pros), nk, int(rng.integers(2**62)),
                            float(rng.uniform(-30, -6))))
    return jobs


def _render_chunk(jobs: list[ClipJob], espeak: str) -> list[str]:
    return [render(j, espeak) for j in jobs]


def generate_dataset(out: str | os.PathLike, phrase: str = "hey nano", positives: int = 400,
                     negatives: int = 800, noise: int = 120, seed: int = 0, workers: int = 2,
                     progress: bool = True) -> dict:
    """Synthesize the folder (see module docstring); returns the manifest (also in out/manifest.json)."""
    espeak = find_espeak()
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    out = Path(out)
    voices = list_voices(espeak)
    jobs = plan(out, phrase, positives, negatives, noise, seed, voices)
    for sub in ("positives", "negatives", "noise"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    manifest = {
        "params": _params(phrase, positives, negatives, noise, seed),
        "voices": {"languages": voices[0], "variants": voices[1]},
        "files": [os.path.relpath(j.path, out) for j in jobs],
        "complete": False,
    }
    # Written first (complete: false) so an interrupted run's files can be cleaned up by `ensure_dataset`.
    atomic_write_bytes(out / "manifest.json", json.dumps(manifest, indent=1).encode())
    t0 = time.time()
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(jobs), desc="kws-tts", unit="clip")
    chunks = [jobs[i:i + 16] for i in range(0, len(jobs), 16)]
    if workers == 1 or len(chunks) <= 1:
        for c in chunks:
            _render_chunk(c, espeak)
            if bar is not None:
                bar.update(len(c))
    else:
        ctx = multiprocessing.get_context("forkserver")
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            futures = [pool.submit(_render_chunk, c, espeak) for c in chunks]
            for f in concurrent.futures.as_completed(futures):
                done = f.result()
                if bar is not None:
                    bar.update(len(done))
    if bar is not None:
        bar.close()
    manifest["complete"] = True
    manifest["seconds"] = round(time.time() - t0, 2)
    atomic_write_bytes(out / "manifest.json", json.dumps(manifest, indent=1).encode())
    return manifest


def _params(phrase: str, positives: int, negatives: int, noise: int, seed: int) -> dict:
    return {"phrase": phrase, "positives": positives, "negatives": negatives, "noise": noise, "seed": seed,
            "format": 1}


def ensure_dataset(out: str | os.PathLike, phrase: str = "hey nano", positives: int = 400,
                   negatives: int = 800, noise: int = 120, seed: int = 0, workers: int = 2,
                   progress: bool = True) -> Path:
    """Generate the folder unless `out/manifest.json` records a complete run with the same
    parameters and all its files exist. Files of an older or interrupted run (listed in its
    manifest) are removed first."""
    out = Path(out)
    mpath = out / "manifest.json"
    if mpath.is_file():
        try:
            old = json.loads(mpath.read_text())
        except (OSError, json.JSONDecodeError):
            old = None
        if old is not None:
            same = old.get("params") == _params(phrase, positives, negatives, noise, seed)
            if same and old.get("complete") and all((out / f).is_file() for f in old.get("files", [])):
                return out
            for f in old.get("files", []):
                p = out / f
                if p.is_file() and p.suffix == ".wav":
                    p.unlink()
            mpath.unlink()
    generate_dataset(out, phrase, positives, negatives, noise, seed, workers, progress)
    return out
