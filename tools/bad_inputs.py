"""Try malformed inputs against the real components and print what a user sees, as a Markdown table.

    .venv/bin/python tools/bad_inputs.py [--kws-host build/host/host/kws_host] [--out table.md]

Components: the `.tflite` reader (`read_exported`), the `.fgb` reader (`kws_model.load_model`), the audio
reader (`audio_io.read_audio`), `kws_host` (when built: `make cpp-host`) on `.fgb` models and WAVs, and
`kws-train` (its `main`, with the training itself replaced by a stop, so that a config that passes the
checks never trains). A row is a BUG when the input escapes as another exception than ValueError (a
traceback), gives an empty message, crashes (a signal), hangs (`TIMEOUT` s) or exits with an unknown code.
Exit status: 1 when any row is a BUG.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import struct
import subprocess
import sys
import tempfile
import types
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tools.fuzz_seeds import audio_seeds, fgb_seeds, tflite_seeds  # noqa: E402

TIMEOUT = 60


@dataclasses.dataclass
class Row:
    input: str
    component: str
    result: str
    message: str
    bug: bool = False


# ---------------------------------------------------------------------------------------------- running
def run_python(label: str, component: str, fn: Callable[[], object], path: Path | None = None) -> Row:
    """Call `fn`: accepted, a ValueError (its message), or a BUG (any other exception)."""
    try:
        fn()
        return Row(label, component, "accepted", "")
    except ValueError as e:
        msg = str(e).replace(str(path.parent) + "/", "").replace(str(path.parent), "<folder>") if path else str(e)
        return Row(label, component, "ValueError", msg, bug=not msg.strip())
    except Exception as e:  # the bug this table looks for
        return Row(label, component, f"{type(e).__name__} (traceback)", str(e), bug=True)


def run_kws_host(label: str, exe: Path, args: list[str], cwd: Path) -> Row:
    """`kws_host args`: exit 0 (accepted) or 2 with a message; a signal, a timeout or no message is a BUG."""
    try:
        res = subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=TIMEOUT, cwd=cwd)
    except subprocess.TimeoutExpired:
        return Row(label, "kws_host", f"hang (> {TIMEOUT} s)", "", bug=True)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip() and not ln.startswith("usage:")
             and not ln.startswith(" ")]
    msg = lines[0] if lines else ""
    if res.returncode == 0:
        return Row(label, "kws_host", "exit 0 (accepted)", res.stdout.strip().splitlines()[-1] if res.stdout else "")
    bug = res.returncode != 2 or not msg
    return Row(label, "kws_host", f"exit {res.returncode}" + (" (signal)" if res.returncode < 0 else ""), msg, bug)


class _TrainingWouldStart(Exception):
    pass


def run_kws_train(label: str, argv: list[str]) -> Row:
    """`kws-train argv` through its `main`, with `keyword_spotting.train` replaced by a stub that stops the
    run where training would begin: a bad config must exit 2 with a message before that point."""
    from keyword_spotting import train_cli

    def stop(*args, **kwargs):
        raise _TrainingWouldStart

    stub = types.ModuleType("keyword_spotting.train")
    stub.run_training = stop
    err = io.StringIO()
    try:
        with mock.patch.dict(sys.modules, {"keyword_spotting.train": stub}), contextlib.redirect_stderr(err):
            rc = train_cli.main(argv)
    except _TrainingWouldStart:
        return Row(label, "kws-train", "accepted (stopped before training)", "")
    except SystemExit as e:  # argparse
        msg = err.getvalue().strip().splitlines()[-1:] or [""]
        return Row(label, "kws-train", f"exit {e.code}", msg[0], bug=e.code not in (0, 2) or not msg[0])
    except Exception as e:
        return Row(label, "kws-train", f"{type(e).__name__} (traceback)", str(e), bug=True)
    msg = err.getvalue().strip().splitlines()[-1:] or [""]
    return Row(label, "kws-train", f"exit {rc}", msg[0], bug=rc != 2 or not msg[0])


# ---------------------------------------------------------------------------------------------- inputs
def tflite_cases(base: bytes) -> dict[str, bytes]:
    """Malformed `.tflite` files made from a valid custom-op model."""
    from flatbuffers import flexbuffers
    from tensorflow.lite.python import schema_py_generated as S

    from fastgrnn_tf.export.tflite_writer import pack_model

    def edit(fn: Callable) -> bytes:
        model = S.ModelT.InitFromObj(S.Model.GetRootAs(base, 0))
        fn(model, model.subgraphs[0], model.subgraphs[0].operators[0])
        return pack_model(model)

    def options(**changes) -> bytes:
        def fn(model, sg, op):
            opts = flexbuffers.Loads(bytes(np.asarray(op.customOptions, np.uint8)))
            opts.update(changes)
            for key in [k for k, v in changes.items() if v is None]:
                del opts[key]
            op.customOptions = np.frombuffer(bytes(flexbuffers.Dumps(opts)), np.uint8)
        return edit(fn)

    def tensor(k: int, **fields) -> bytes:
        def fn(model, sg, op):
            for name, value in fields.items():
                setattr(sg.tensors[int(op.inputs[k])], name, value)
        return edit(fn)

    def raw_options(data: bytes) -> bytes:
        return edit(lambda m, sg, op: setattr(op, "customOptions", np.frombuffer(data, np.uint8)))

    flipped = bytearray(base)
    for pos in range(0, len(flipped), 97):
        flipped[pos] ^= 0x10
    return {
        "empty file": b"", "text file": b"hello, not a model\n", "random bytes (4 KB)": _garbage(4096),
        "truncated to 100 bytes": base[:100], "truncated to half": base[:len(base) // 2],
        "bit flips every 97 bytes": bytes(flipped), "root offset past the end": b"\xff\xff\x00\x00TFL3" + base[8:],
        "a .fgb renamed .tflite": fgb_seeds()["low_rank_2fc"],
        "option missing (units)": options(units=None), "option of wrong type (units=[1, 2])": options(units=[1, 2]),
        "option of wrong type (zeta_q15='0.5')": options(zeta_q15="0.5"),
        "options version 2": options(version=2), "units not matching the tensors": options(units=13),
        "shift out of range (pre_shift=99)": options(pre_shift=99),
        "options not a flexbuffer": raw_options(b"\x01\x02\x03"), "options empty": raw_options(b""),
        "bias_z INT8 instead of INT32": tensor(5, type=S.TensorType.INT8),
        "gate_lut shape [128]": tensor(7, shape=np.asarray([128], np.int32)),
        "hidden state not a variable": tensor(9, isVariable=False),
        "input x FLOAT32": tensor(0, type=S.TensorType.FLOAT32),
        "input index out of range": edit(lambda m, sg, op: setattr(op, "inputs", np.asarray(
            [*op.inputs[:3], 999, *op.inputs[4:]], np.int32))),
        "opcode index out of range": edit(lambda m, sg, op: setattr(op, "opcodeIndex", 7)),
        "no FastGRNN op (custom code renamed)": edit(lambda m, sg, op: setattr(
            m.operatorCodes[op.opcodeIndex], "customCode", "FastLSTM")),
    }


def fgb_cases(base: bytes) -> dict[str, bytes]:
    """Malformed `.fgb` files made from a valid whole-model bundle."""
    from fastgrnn_tf.export.bundle import decode_bundle, encode_bundle

    def entries(**changes) -> bytes:
        arrays = decode_bundle(base)
        for name, value in changes.items():
            name = name.replace("__", ".")
            if value is None:
                del arrays[name]
            else:
                arrays[name] = value
        return encode_bundle(arrays)

    count = struct.unpack_from("<I", base, 4)[0]
    return {
        "empty file": b"", "text file": b"hello, not a model\n", "random bytes (4 KB)": _garbage(4096),
        "truncated header (6 bytes)": base[:6], "truncated to half": base[:len(base) // 2],
        "trailing garbage": base + b"\x00junk", "entry count + 1": base[:4] + struct.pack("<I", count + 1) + base[8:],
        "entry count 0xFFFFFFFF": base[:4] + struct.pack("<I", 0xFFFFFFFF) + base[8:],
        "first entry dims 2^32-1 x 2^32-1": _huge_dims(base),
        "a .tflite renamed .fgb": tflite_seeds_cached()["low_rank_dense"],
        "missing fastgrnn.w1": entries(fastgrnn__w1=None), "fastgrnn.w1 int16": entries(
            fastgrnn__w1=decode_bundle(base)["fastgrnn.w1"].astype(np.int16)),
        "fastgrnn.w1 wrong shape": entries(fastgrnn__w1=np.zeros((3, 3), np.int8)),
        "opt.version 2": entries(fastgrnn__opt__version=2), "opt.units empty": entries(
            fastgrnn__opt__units=np.zeros(0, np.int32)),
        "head.num_layers 0": entries(head__num_layers=0),
        "head.logit_scale NaN": entries(head__logit_scale=np.float32(np.nan)),
        "classes not UTF-8": entries(classes=np.frombuffer(b"_silence_\n\xff\xfe\nno", np.uint8)),
        "classes with a control character (ESC)": entries(
            classes=np.frombuffer(b"_silence_\nyes\x1b[2J\nno", np.uint8)),
        "detector keyword 9 of 3 classes": entries(detector__keywords=np.asarray([9], np.int32)),
        "features.n_fft 1000 (not a power of 2)": entries(features__n_fft=1000),
    }


def _garbage(n: int) -> bytes:
    return np.random.default_rng(0).integers(0, 256, n, dtype=np.uint8).tobytes()


def _huge_dims(base: bytes) -> bytes:
    """The first entry's (a matrix's) two dims set to 2^32-1."""
    pos = 10 + struct.unpack_from("<H", base, 8)[0] + 2
    return base[:pos] + struct.pack("<II", 0xFFFFFFFF, 0xFFFFFFFF) + base[pos + 8:]


_TFLITE: dict[str, bytes] = {}


def tflite_seeds_cached() -> dict[str, bytes]:
    if not _TFLITE:
        _TFLITE.update(tflite_seeds())
    return _TFLITE


def _wav(pcm: np.ndarray, rate: int, subtype: str, fmt: str = "WAV") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, pcm, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


def audio_cases() -> dict[str, bytes]:
    """Odd and malformed audio files (name -> bytes; the name's suffix is the file's)."""
    t = np.arange(16000) / 16000
    tone = 0.3 * np.sin(2 * np.pi * 440 * t)
    ok = _wav(tone, 16000, "PCM_16")
    data_at = ok.find(b"data")
    flac = audio_seeds()["pcm16.flac"]
    nan = bytearray(_wav(tone, 16000, "FLOAT"))
    nan[-4:] = struct.pack("<f", float("nan"))
    return {
        "16 kHz mono PCM16 (valid).wav": ok,
        "8 kHz mono PCM16.wav": _wav(tone[::2], 8000, "PCM_16"), "44.1 kHz stereo PCM16.wav": _wav(
            np.stack([tone, tone], 1), 44100, "PCM_16"),
        "16 kHz stereo PCM16.wav": _wav(np.stack([tone, -tone], 1), 16000, "PCM_16"),
        "8-bit unsigned.wav": _wav(tone, 16000, "PCM_U8"), "24-bit.wav": _wav(tone, 16000, "PCM_24"),
        "32-bit float.wav": _wav(tone, 16000, "FLOAT"), "64-bit float.wav": _wav(tone, 16000, "DOUBLE"),
        "mu-law.wav": _wav(tone, 16000, "ULAW"), "float with a NaN sample.wav": bytes(nan),
        "empty file.wav": b"", "header only, 0 samples.wav": _wav(np.zeros(0), 16000, "PCM_16"),
        "truncated header (20 bytes).wav": ok[:20], "truncated data (half).wav": ok[:len(ok) // 2],
        "data size 0xFFFFFFFF.wav": ok[:data_at + 4] + struct.pack("<I", 0xFFFFFFFF) + ok[data_at + 8:],
        "fmt size 0xFFFFFFF0.wav": ok[:16] + struct.pack("<I", 0xFFFFFFF0) + ok[20:],
        "RIFF size 0xFFFFFFFF.wav": ok[:4] + struct.pack("<I", 0xFFFFFFFF) + ok[8:],
        "channels 0.wav": ok[:22] + struct.pack("<H", 0) + ok[24:],
        "sample rate 0.wav": ok[:24] + struct.pack("<I", 0) + ok[28:],
        "bits per sample 13.wav": ok[:34] + struct.pack("<H", 13) + ok[36:],
        "text file named .wav.wav": b"this is not audio\n" * 10,
        "PNG named .wav.wav": b"\x89PNG\r\n\x1a\n" + _garbage(500),
        "16 kHz mono FLAC (valid).flac": flac, "8 kHz stereo 24-bit FLAC.flac": _wav(
            np.stack([tone[::2], tone[::2]], 1), 8000, "PCM_24", "FLAC"),
        "truncated FLAC (half).flac": flac[:len(flac) // 2], "FLAC header only (42 bytes).flac": flac[:42],
        "random bytes named .flac.flac": b"fLaC" + _garbage(300), "random bytes named .mp3.mp3": b"ID3" + _garbage(300),
        "truncated OGG.ogg": audio_seeds()["vorbis.ogg"][:600],
    }


CONFIGS = {
    "YAML syntax error": ("train: {epochs_dense: [1,\n", []),
    "a list instead of a mapping": ("- data\n- train\n", []),
    "unknown section": ("trian:\n  epochs_dense: 3\n", []),
    "unknown key": ("train:\n  epochz_dense: 3\n", []),
    "wrong type (train.epochs_dense: ten)": ("train:\n  epochs_dense: ten\n", []),
    "wrong type (model.units: [64])": ("model:\n  units: [64]\n", []),
    "wrong type (data.snr_db: loud)": ("data:\n  snr_db: loud\n", []),
    "wrong type (features.n_mels: many)": ("features:\n  n_mels: many\n", []),
    "section not a mapping (data: 5)": ("data: 5\n", []),
    "negative value (data.augment_copies: -1)": ("data:\n  augment_copies: -1\n", []),
    "unknown data.kind": ("data:\n  kind: youtube\n", []),
    "missing data folder": ("data:\n  kind: speech_commands\n  root: /nonexistent/speech\n", []),
    "missing noise folder": ("data:\n  noise_dirs: [/nonexistent/noise]\n", []),
    "missing real-positives folder": ("", ["--real-positives", "/nonexistent/recordings"]),
    "empty phrase": ("", ["--phrase", "   "]),
    "config file not found": (None, ["--config", "/nonexistent/config.yaml"]),
    "--set without a section": ("", ["--set", "epochs=3"]),
}


# ---------------------------------------------------------------------------------------------- the table
def collect(work: Path, kws_host: Path | None, train: bool = True) -> list[Row]:
    from fastgrnn_tf.export.tflite_reader import read_exported
    from keyword_spotting.audio_io import read_audio
    from keyword_spotting.kws_model import load_model

    rows: list[Row] = []
    good_fgb = work / "good.fgb"
    good_fgb.write_bytes(fgb_seeds()["low_rank_2fc"])
    good_wav = work / "good.wav"
    good_wav.write_bytes(audio_cases()["16 kHz mono PCM16 (valid).wav"])
    for i, (label, data) in enumerate(tflite_cases(tflite_seeds_cached()["low_rank_dense"]).items()):
        path = work / f"t{i}.tflite"
        path.write_bytes(data)
        rows.append(run_python(f".tflite: {label}", "read_exported", lambda p=path: read_exported(p), path))
    for i, (label, data) in enumerate(fgb_cases(fgb_seeds()["low_rank_2fc"]).items()):
        path = work / f"m{i}.fgb"
        path.write_bytes(data)
        rows.append(run_python(f".fgb: {label}", "load_model", lambda p=path: load_model(p), path))
        if kws_host:
            rows.append(run_kws_host(f".fgb: {label}", kws_host, ["--model", path.name, "--wav", good_wav.name,
                                                                  "--quiet"], work))
    if kws_host:
        (work / "good.tflite").write_bytes(tflite_seeds_cached()["low_rank_dense"])
        rows.append(run_kws_host(".tflite given as --model", kws_host, ["--model", "good.tflite", "--wav",
                                                                         good_wav.name, "--quiet"], work))
    for i, (label, data) in enumerate(audio_cases().items()):
        suffix = Path(label).suffix
        path = work / f"a{i}{suffix}"
        path.write_bytes(data)
        name = f"audio: {label[:-len(suffix)]}"
        rows.append(run_python(name, "read_audio", lambda p=path: read_audio(p), path))
        if kws_host and suffix == ".wav":
            rows.append(run_kws_host(name, kws_host, ["--model", good_fgb.name, "--wav", path.name, "--quiet"], work))
    if kws_host:
        rows.append(run_kws_host("audio: missing file", kws_host, ["--model", good_fgb.name, "--wav", "no.wav"], work))
    rows.append(run_python("audio: missing file", "read_audio", lambda: read_audio(work / "nope.wav"), work / "x"))
    rows.append(run_python("audio: a directory", "read_audio", lambda: read_audio(work), work / "x"))
    for i, (label, (text, args)) in enumerate(CONFIGS.items() if train else ()):
        argv = list(args)
        if text is not None:
            cfg = work / f"c{i}.yaml"
            cfg.write_text(text)
            argv = ["--config", str(cfg), *argv]
        row = run_kws_train(f"config: {label}", [*argv, "--out", str(work / "train_out")])
        row.message = row.message.replace(str(work) + "/", "")
        rows.append(row)
    return rows


def markdown(rows: list[Row]) -> str:
    def cell(s: str) -> str:
        s = " ".join(s.split()).replace("|", "\\|")
        return s if len(s) <= 200 else s[:197] + "..."

    out = ["| input | component | result | message the user sees |", "| --- | --- | --- | --- |"]
    for r in rows:
        out.append(f"| {cell(r.input)} | {r.component} | {'**BUG** ' if r.bug else ''}{cell(r.result)} | "
                   f"{cell(r.message) or '-'} |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kws-host", type=Path, default=ROOT / "build" / "host" / "host" / "kws_host",
                    help="kws_host to try (skipped when it does not exist; `make cpp-host` builds it)")
    ap.add_argument("--no-train", action="store_true", help="skip the kws-train config rows")
    ap.add_argument("--out", type=Path, help="also write the table here")
    args = ap.parse_args(argv)
    exe = args.kws_host.resolve() if args.kws_host.is_file() else None
    if exe is None:
        print(f"bad_inputs: {args.kws_host} not built; kws_host rows skipped (make cpp-host)", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="bad_inputs-") as tmp:
        rows = collect(Path(tmp), exe, train=not args.no_train)
    table = markdown(rows)
    print(table)
    if args.out:
        args.out.write_text(table)
    bugs = sum(r.bug for r in rows)
    print(f"{len(rows)} rows, {bugs} bugs", file=sys.stderr)
    return 1 if bugs else 0


if __name__ == "__main__":
    sys.exit(main())
