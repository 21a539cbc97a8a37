"""Synthetic wake-word data from every installed TTS engine (the library behind `kws-tts`, `tts_cli.py`).

Writes the custom-folder layout that `datasets.load_custom_folder` reads:

    DIR/positives/<voice>__pos_<n>.wav   the wake phrase, at a random offset in a 1 s clip
    DIR/negatives/<voice>__neg_<n>.wav   common English words and near misses of the phrase
    DIR/noise/noise__<kind>_<n>.wav      white / pink / brown noise, mains hum, synthetic babble
    DIR/manifest.json                    the parameters and every file ("complete": true when done)

All clips are 16 kHz mono int16, 1 s. The voice (`tts_engines`: `espeak-en-us+f3`, `flite-slt`,
`festival-kal`, `piper-joe`, ...; unique across engines) is the part of the file name before `__`,
so splits hold whole voices out. Engines are drawn with weight min(voices, weight_cap) (default 8; 1 gives
every engine the same share, e.g. piper's one natural voice as many clips as espeak-ng's hundreds), then a
voice of the engine. Each clip is planned in the parent from one `np.random.Generator(seed)` (text, voice,
rate, pitch, emphasis, surrounding words, placement, level) and rendered by a small process pool,
so the output depends only on the arguments and the installed voices (both in the manifest's
params). Negatives mix common words, near misses and phoneme confusables (`tts_confusables`);
homophones of the phrase are dropped. Each utterance is silence-trimmed and scaled to a random
peak level.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import json
import multiprocessing
import os
import re
import time
from pathlib import Path

import numpy as np

from fastgrnn_tf.atomic_io import atomic_write_bytes
from keyword_spotting.audio_io import CLIP_SAMPLES, SAMPLE_RATE, write_wav
from keyword_spotting.tts_confusables import confusables, is_homophone
from keyword_spotting.tts_engines import Engine, EngineMissingError, EspeakEngine, engine_of, get_engines

__all__ = ["EngineMissingError", "generate_dataset", "ensure_dataset", "list_voices", "plan", "render"]

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


def list_voices(engines: list[str] | tuple[str, ...] | None = None) -> dict[str, list[str]]:
    """Voices of the requested engines (None: every installed one), e.g. {'flite': ['flite-awb', ...]}."""
    return {name: e.list_voices() for name, e in get_engines(engines).items()}


def check_phrase(phrase: str) -> str:
    """`phrase` stripped; ValueError when it is empty or has no letter or digit to say (e.g. "!!!")."""
    if not isinstance(phrase, str) or not phrase.strip():
        raise ValueError("the wake phrase is empty: give the words to say, e.g. --phrase \"hey nano\"")
    if not re.search(r"[^\W_]", phrase):
        raise ValueError(f"the wake phrase {phrase!r} has nothing to say: it has no letter or digit")
    return phrase.strip()


def check_speakable(phrase: str, engines: dict[str, Engine], voices: dict[str, list[str]]) -> None:
    """Say `phrase` once with the first voice of each engine; ValueError naming the engines that fail on
    it or render it as (near) silence (peak below -34 dBFS or under 0.1 s above -40 dB of the peak)."""
    bad = []
    for name in sorted(engines):
        if not voices.get(name):
            continue
        voice = voices[name][0]
        try:
            y = _trim(engines[name].synth(phrase, voice))
        except RuntimeError as e:
            bad.append(f"{name} fails on it ({str(e)[:80]})")
            continue
        if y.size < SAMPLE_RATE // 10 or float(np.max(np.abs(y))) < 0.02:
            bad.append(f"{name} ({voice}) renders it as silence")
    if bad:
        raise ValueError(f"the wake phrase {phrase!r} cannot be synthesized: {'; '.join(bad)}. Use words the "
                         "engines can say, or leave those engines out (kws-tts --engines, data.tts_engines)")


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
    rates: tuple[float, ...]
    pitches: tuple[float, ...]
    emphasis: tuple[bool, ...]
    context: tuple[str, str]  # positives: words said before / after the phrase ("" = none)
    noise_kind: str
    seed: int
    peak_db: float


def _synth(engines: dict[str, Engine], text: str, voice: str, rate: float, pitch: float,
           emphasis: bool) -> np.ndarray:
    """One utterance as float32 at 16 kHz."""
    name = engine_of(voice)
    if name not in engines:
        raise ValueError(f"voice {voice!r} needs engine {name!r}, which this run does not use")
    return engines[name].synth(text, voice, rate, pitch, emphasis)


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


def _with_context(u: np.ndarray, before: np.ndarray, after: np.ndarray, rng: np.random.Generator,
                  n: int = CLIP_SAMPLES) -> np.ndarray:
    """The phrase `u` whole at a random offset, with the surrounding words cut by the clip's edges."""
    gap = int(rng.integers(800, 3200))  # 50..200 ms between words
    start = int(rng.integers(0, n - len(u) + 1))
    out = np.zeros(n, np.float32)
    out[start:start + len(u)] = u
    if before.size:
        end = start - gap
        if end > 0:
            seg = before[-end:]
            out[end - len(seg):end] += seg
    if after.size:
        s0 = start + len(u) + gap
        if s0 < n:
            seg = after[:n - s0]
            out[s0:s0 + len(seg)] += seg
    return out


def render(job: ClipJob, engines: dict[str, Engine]) -> str:
    """Render one planned clip to `job.path` (atomic write); returns the path."""
    rng = np.random.default_rng(job.seed)
    if job.kind == "noise" and job.noise_kind != "babble":
        y = _coloured_noise(job.noise_kind, rng)
    elif job.kind == "noise":
        y = np.zeros(CLIP_SAMPLES, np.float32)
        for i, text in enumerate(job.texts):
            u = _trim(_synth(engines, text, job.voices[i], job.rates[i], job.pitches[i], job.emphasis[i]))
            if u.size:
                u = u / np.max(np.abs(u)) * rng.uniform(0.3, 1.0)
                y += _place(u, rng)
    else:
        rate = job.rates[0]
        for _ in range(4):
            u = _trim(_synth(engines, job.texts[0], job.voices[0], rate, job.pitches[0], job.emphasis[0]))
            if len(u) <= CLIP_SAMPLES - 800 or job.kind == "negative":
                break
            rate *= 1.25  # the wake phrase must fit in the clip whole
        if u.size == 0:
            raise RuntimeError(f"{job.voices[0]} produced silence for {job.texts[0]!r}")
        if job.kind == "positive" and any(job.context) and len(u) < CLIP_SAMPLES:
            ctx = [_trim(_synth(engines, t, job.voices[0], rate, job.pitches[0], False)) if t
                   else np.zeros(0, np.float32) for t in job.context]
            ref = float(np.max(np.abs(u)))
            ctx = [c / max(float(np.max(np.abs(c))), 1e-9) * ref * rng.uniform(0.5, 1.0) if c.size else c
                   for c in ctx]
            y = _with_context(u, ctx[0], ctx[1], rng)
        else:
            y = _place(u, rng)
    peak = float(np.max(np.abs(y)))
    if peak > 0:
        y = y / peak * 10 ** (job.peak_db / 20)
    write_wav(job.path, y.astype(np.float32))
    return job.path


def _safe(voice: str) -> str:
    return re.sub(r"[^A-Za-z0-9+.-]", "-", voice)


def plan(out: str | os.PathLike, phrase: str, positives: int, negatives: int, noise: int, seed: int,
         voices: dict[str, list[str]], confusable: list[str] | tuple[str, ...] = (),
         homophones: list[str] | tuple[str, ...] = (), weight_cap: int = 8) -> list[ClipJob]:
    """All clip jobs, deterministic in (arguments, voices per engine, confusable phrases); near misses
    listed in `homophones` (they sound like the phrase) are never negatives."""
    check_phrase(phrase)
    for name, v in (("positives", positives), ("negatives", negatives), ("noise", noise), ("seed", seed)):
        if v < 0:
            raise ValueError(f"{name} must be >= 0, got {v}")
    engines = sorted(e for e, vs in voices.items() if vs)
    if not engines:
        raise ValueError("no voices to plan with")
    out = Path(out)
    rng = np.random.default_rng(seed)
    if isinstance(weight_cap, bool) or not isinstance(weight_cap, int) or weight_cap < 1:
        raise ValueError(f"the engines' weight cap must be an integer >= 1, got {weight_cap!r}")
    weights = np.array([min(len(voices[e]), weight_cap) for e in engines], float)
    weights /= weights.sum()
    misses = [m for m in near_misses(phrase) if m not in set(homophones)]
    confusable = list(confusable)
    phrase_forms = (phrase, phrase + "!", phrase.replace(" ", ", ", 1), phrase + "?")

    def voice() -> str:
        vs = voices[engines[int(rng.choice(len(engines), p=weights))]]
        return vs[int(rng.integers(len(vs)))]

    def prosody(v: str) -> tuple[float, float, bool]:
        lo, hi = (0.6, 1.4) if v.startswith("espeak-") else (0.85, 1.18)
        return (round(float(rng.uniform(0.7, 1.3)), 3), round(float(np.exp(rng.uniform(np.log(lo), np.log(hi)))), 3),
                bool(rng.random() < 0.2))

    def words(k: int) -> str:
        return " ".join(COMMON_WORDS[int(i)] for i in rng.integers(len(COMMON_WORDS), size=k))

    def negative_text() -> str:
        r = rng.random()
        if r < 0.25 and confusable:
            return confusable[int(rng.integers(len(confusable)))]
        if r < 0.4 and misses:
            return misses[int(rng.integers(len(misses)))]
        if r < 0.55:
            return COMMON_PHRASES[int(rng.integers(len(COMMON_PHRASES)))]
        return words(int(rng.integers(1, 4)))

    jobs = []
    for kind, count, sub, tag in (("positive", positives, "positives", "pos"),
                                  ("negative", negatives, "negatives", "neg")):
        for i in range(count):
            context = ("", "")
            if kind == "positive":
                text = phrase_forms[int(rng.integers(len(phrase_forms)))]
                if rng.random() < 0.35:
                    context = (words(1) if rng.random() < 0.6 else "", words(1) if rng.random() < 0.6 else "")
            else:
                text = negative_text()
            v = voice()
            r, p, e = prosody(v)
            jobs.append(ClipJob(str(out / sub / f"{_safe(v)}__{tag}_{i:05d}.wav"), kind, (text,), (v,), (r,),
                                (p,), (e,), context, "", int(rng.integers(2**62)), float(rng.uniform(-24, -1))))
    kinds = ("white", "pink", "brown", "hum", "babble")
    for i in range(noise):
        nk = kinds[i % len(kinds)]
        k = int(rng.integers(3, 7)) if nk == "babble" else 0
        texts = tuple(negative_text() for _ in range(k))
        vs = tuple(voice() for _ in range(k))
        pros = [prosody(v) for v in vs]
        jobs.append(ClipJob(str(out / "noise" / f"noise__{nk}_{i:05d}.wav"), "noise", texts, vs,
                            tuple(p[0] for p in pros), tuple(p[1] for p in pros), tuple(p[2] for p in pros),
                            ("", ""), nk, int(rng.integers(2**62)), float(rng.uniform(-30, -6))))
    return jobs


def negative_phrases(phrase: str, engines: dict[str, Engine]) -> tuple[list[str], list[str]]:
    """(phoneme confusables, homophones dropped from the near misses); both empty without espeak-ng."""
    espeak = engines.get("espeak")
    if espeak is None and EspeakEngine.available():
        espeak = EspeakEngine()
    if not isinstance(espeak, EspeakEngine):
        return [], []
    misses = near_misses(phrase)
    homo = [m for m, h in zip(misses, is_homophone(phrase, misses, espeak), strict=True) if h]
    return confusables(phrase, 60, espeak), homo


def _render_chunk(jobs: list[ClipJob], engine_names: list[str]) -> list[str]:
    engines = get_engines(engine_names)
    return [render(j, engines) for j in jobs]


def _resolve(engines: list[str] | tuple[str, ...] | None) -> tuple[dict[str, Engine], dict[str, list[str]]]:
    chosen = get_engines(engines)
    return chosen, {name: e.list_voices() for name, e in chosen.items()}


def generate_dataset(out: str | os.PathLike, phrase: str = "hey nano", positives: int = 400,
                     negatives: int = 800, noise: int = 120, seed: int = 0, workers: int = 2,
                     progress: bool = True, engines: list[str] | tuple[str, ...] | None = None,
                     resume: bool = False, weight_cap: int = 8) -> dict:
    """Synthesize the folder (see module docstring) with `engines` (None: every installed one);
    returns the manifest (also in out/manifest.json). The phrase is checked first (`check_phrase`,
    `check_speakable`). `resume`: clips already on disk are kept (each was written atomically by the same
    plan: `ensure_dataset` resumes an interrupted run of the same parameters)."""
    check_phrase(phrase)
    chosen, voices = _resolve(engines)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    check_speakable(phrase, chosen, voices)
    out = Path(out)
    confusable, homophones = negative_phrases(phrase, chosen)
    all_jobs = plan(out, phrase, positives, negatives, noise, seed, voices, confusable, homophones, weight_cap)
    jobs = [j for j in all_jobs if not (resume and Path(j.path).is_file())]
    for sub in ("positives", "negatives", "noise"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    manifest = {
        "params": _params(phrase, positives, negatives, noise, seed, voices, weight_cap),
        "voices": voices,
        "confusables": confusable,
        "files": [os.path.relpath(j.path, out) for j in all_jobs],
        "complete": False,
    }
    # Written first (complete: false) so an interrupted run's files can be cleaned up by `ensure_dataset`.
    atomic_write_bytes(out / "manifest.json", json.dumps(manifest, indent=1).encode())
    t0 = time.time()
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(jobs), desc="kws-tts", unit="clip")
    names = sorted(chosen)
    chunks = [jobs[i:i + 16] for i in range(0, len(jobs), 16)]
    if workers == 1 or len(chunks) <= 1:
        for c in chunks:
            _render_chunk(c, names)
            if bar is not None:
                bar.update(len(c))
    else:
        ctx = multiprocessing.get_context("forkserver")
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            futures = [pool.submit(_render_chunk, c, names) for c in chunks]
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


def _params(phrase: str, positives: int, negatives: int, noise: int, seed: int,
            voices: dict[str, list[str]], weight_cap: int = 8) -> dict:
    """What decides the clips: the engines and a digest of their voices are part of it."""
    digest = hashlib.sha1(json.dumps(voices, sort_keys=True).encode()).hexdigest()
    params = {"phrase": phrase, "positives": positives, "negatives": negatives, "noise": noise, "seed": seed,
              "engines": {name: len(vs) for name, vs in sorted(voices.items())}, "voices_sha1": digest,
              "format": 2}
    return params if weight_cap == 8 else params | {"weight_cap": weight_cap}  # the default keeps old folders


def ensure_dataset(out: str | os.PathLike, phrase: str = "hey nano", positives: int = 400,
                   negatives: int = 800, noise: int = 120, seed: int = 0, workers: int = 2,
                   progress: bool = True, engines: list[str] | tuple[str, ...] | None = None,
                   weight_cap: int = 8) -> Path:
    """Generate the folder unless `out/manifest.json` records a complete run with the same
    parameters (engines and their voices included) and all its files exist. An interrupted run of the
    same parameters is resumed (its clips kept); files of a run with other parameters (listed in its
    manifest) are removed first."""
    out = Path(out)
    check_phrase(phrase)
    _, voices = _resolve(engines)
    mpath = out / "manifest.json"
    resume = False
    if mpath.is_file():
        try:
            old = json.loads(mpath.read_text())
        except (OSError, json.JSONDecodeError):
            old = None
        if old is not None:
            same = old.get("params") == _params(phrase, positives, negatives, noise, seed, voices, weight_cap)
            if same and old.get("complete") and all((out / f).is_file() for f in old.get("files", [])):
                return out
            resume = same
            for f in [] if same else old.get("files", []):
                p = out / f
                if p.is_file() and p.suffix == ".wav":
                    p.unlink()
            mpath.unlink()
    generate_dataset(out, phrase, positives, negatives, noise, seed, workers, progress, engines, resume, weight_cap)
    return out
