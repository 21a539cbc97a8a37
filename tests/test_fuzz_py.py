"""Mutation fuzzing of the Python parsers with Hypothesis: the `.tflite` reader (`read_exported`), the
whole-model `.fgb` reader (`read_model_bundle` + `kws_model.load_model`) and the audio reader
(`audio_io.read_audio` / `audio_info`).

Seeds are valid files (`tools/fuzz_seeds.py`: models the exporter writes, WAV/FLAC/OGG soundfile writes,
cuts of real recordings from ../shared/data when present). Each example mutates one seed: bytes (bit
flips, byte and int32 overwrites, truncation, deletion, splices from other seeds; for a `.tflite` also the
flexbuffer bytes of the custom options) or the decoded structure (flatbuffer fields, option values and
types, `.fgb` entries' dtype / shape / values / presence), and re-encodes it.

Contract: the input is accepted (and the accepted model runs, the accepted audio is 1-D int16), or it is
rejected with a ValueError whose message names the file; never another exception, never a hang
(`HANG_SECONDS` of CPU time per input). Inputs that once broke it live in tests/data/fuzz_regressions/ and are replayed.

    FUZZ_EXAMPLES=20000 nice -n 19 .venv/bin/python -m pytest -q tests/test_fuzz_py.py   # `make fuzz-py`
(default 200 examples per target, derandomized; FUZZ_SEED=n draws a different sequence.)
"""

from __future__ import annotations

import copy
import os
import signal
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO_ROOT

hypothesis = pytest.importorskip("hypothesis", reason="hypothesis is not installed (make setup installs it)")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tools import fuzz_seeds  # noqa: E402

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))
HANG_SECONDS = 20  # CPU seconds for one input (a valid one takes well under 1 s)
REGRESSIONS = REPO_ROOT / "tests" / "data" / "fuzz_regressions"
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize="FUZZ_SEED" not in os.environ,
                suppress_health_check=list(HealthCheck), print_blob=True)
INTS = (0, 1, 2, 3, 7, 8, 16, 127, 128, 255, 256, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)


class Seeds(dict):
    """The seeds a strategy mutates (a short repr, so that Hypothesis does not print the files)."""

    def __repr__(self) -> str:
        return f"<{len(self)} seeds>"


def _seeded(test: Callable) -> Callable:
    """FUZZ_SEED=n: a different (random but repeatable) example sequence."""
    return hypothesis.seed(int(os.environ["FUZZ_SEED"]))(test) if "FUZZ_SEED" in os.environ else test


# ---------------------------------------------------------------------------------------------- byte mutations
@st.composite
def mutated_bytes(draw: st.DrawFn, seeds: dict[str, bytes], regions: dict[str, tuple[int, int]] | None = None
                  ) -> tuple[str, bytes]:
    """(seed name, the seed's bytes after 1-8 byte-level mutations). `regions` (seed -> (start, end)) is
    a span that some mutations aim at (the custom options' flexbuffer in a `.tflite`)."""
    name = draw(st.sampled_from(sorted(seeds)))
    data = bytearray(seeds[name])
    for _ in range(draw(st.integers(1, 8))):
        if not data:
            break
        kind = draw(st.sampled_from(["flip", "byte", "int32", "int16", "truncate", "delete", "splice", "region"]))
        lo, hi = 0, len(data)
        if kind == "region":
            if not regions or name not in regions or regions[name][1] > len(data):
                continue
            lo, hi = regions[name]
            kind = draw(st.sampled_from(["flip", "byte", "int32", "int16"]))
        elif kind in ("int32", "int16") and draw(st.booleans()):
            hi = min(hi, 64)  # headers: flatbuffer root table, RIFF/fmt/data, bundle count and first entry
        pos = draw(st.integers(lo, hi - 1))
        if kind == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "byte":
            data[pos] = draw(st.integers(0, 255))
        elif kind in ("int32", "int16"):
            width = 4 if kind == "int32" else 2
            pos -= pos % width
            data[pos:pos + width] = (draw(st.sampled_from(INTS)) & (256**width - 1)).to_bytes(width, "little")
        elif kind == "truncate":
            del data[pos:]
        elif kind == "delete":
            del data[pos:pos + draw(st.integers(1, 64))]
        else:
            other = seeds[draw(st.sampled_from(sorted(seeds)))]
            start = draw(st.integers(0, len(other) - 1))
            data[pos:pos + draw(st.integers(0, 64))] = other[start:start + draw(st.integers(1, 64))]
    return name, bytes(data)


# ---------------------------------------------------------------------------------------------- contract
class Hang(BaseException):  # not an Exception: no reader may catch it and turn it into a ValueError
    pass


def _alarm(signum, frame):
    raise Hang(f"no answer within {HANG_SECONDS} s of CPU time")


def _save_artifact(path: Path, e: BaseException) -> None:
    """FUZZ_ARTIFACTS=dir: keep each input that broke the contract, one per exception type and place."""
    if "FUZZ_ARTIFACTS" in os.environ and not isinstance(e, KeyboardInterrupt):
        tb = traceback.extract_tb(e.__traceback__)[-1]
        out = Path(os.environ["FUZZ_ARTIFACTS"])
        out.mkdir(parents=True, exist_ok=True)
        name = f"{type(e).__name__}-{Path(tb.filename).stem}-{tb.lineno}{path.suffix}"
        if not (out / name).exists():
            (out / name).write_bytes(path.read_bytes())


def check_contract(path: Path, call: Callable[[Path], object]) -> str:
    """Run `call(path)`: 'accepted' or 'rejected' (a ValueError naming the file); anything else fails."""
    old = signal.signal(signal.SIGPROF, _alarm)
    signal.setitimer(signal.ITIMER_PROF, HANG_SECONDS)  # CPU seconds: a busy shared machine is no hang
    try:
        call(path)
    except ValueError as e:
        if not (str(path) in str(e) or path.name in str(e)):
            _save_artifact(path, e)
            raise AssertionError(f"the message does not name the file: {e!r}") from e
        return "rejected"
    except BaseException as e:
        _save_artifact(path, e)
        raise
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, old)
    return "accepted"


def load_tflite(path: Path) -> None:
    from fastgrnn_tf.export.tflite_reader import read_exported
    from fastgrnn_tf.int8.model import run_model

    m = read_exported(path)
    logits, _ = run_model(m, np.full((1, 3, m.fastgrnn.input_dim), 5, np.int8))
    assert logits.shape == (1, m.head[-1].weights.shape[0])


def load_fgb(path: Path) -> None:
    from fastgrnn_tf.export.model_bundle import read_model_bundle
    from fastgrnn_tf.int8.head_oracle import run_head
    from fastgrnn_tf.int8.oracle import run
    from keyword_spotting.kws_model import load_model

    b = read_model_bundle(path)
    out, _ = run(b.step, np.full((1, 3, b.step.input_dim), 5, np.int8))
    assert run_head(b.head, out).shape == (1, b.head[-1].weights.shape[0])
    load_model(path)


def load_audio(path: Path) -> None:
    from keyword_spotting.audio_io import audio_info, read_audio

    info = audio_info(path)
    assert info["frames"] > 0 and info["sample_rate"] > 0
    pcm = read_audio(path)
    assert pcm.dtype == np.int16 and pcm.ndim == 1 and pcm.size > 0


TARGETS = {"tflite": load_tflite, "fgb": load_fgb, "audio": load_audio}


# ---------------------------------------------------------------------------------------------- seeds
@pytest.fixture(scope="session")
def tflite_seeds() -> dict[str, bytes]:
    return fuzz_seeds.tflite_seeds()


@pytest.fixture(scope="session")
def fgb_seeds() -> dict[str, bytes]:
    return fuzz_seeds.fgb_seeds()


@pytest.fixture(scope="session")
def audio_seeds() -> dict[str, bytes]:
    return fuzz_seeds.audio_seeds()


@pytest.fixture(scope="session")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _options_span(data: bytes) -> tuple[int, int]:
    """Where the FastGRNN op's flexbuffer options lie in a `.tflite`."""
    from fastgrnn_tf.export.tflite_reader import find_fastgrnn_op, read_model

    model, label = read_model(data)
    opts = bytes(np.asarray(find_fastgrnn_op(model, label).customOptions, np.uint8))
    start = data.find(opts)
    return start, start + len(opts)


def test_seeds_are_accepted(tflite_seeds, fgb_seeds, audio_seeds, fuzz_dir) -> None:
    """Every seed passes its reader (else the fuzzing would only test rejection)."""
    for target, seeds in (("tflite", tflite_seeds), ("fgb", fgb_seeds), ("audio", audio_seeds)):
        for name, data in seeds.items():
            path = fuzz_dir / (name if target == "audio" else f"{name}.{target}")
            path.write_bytes(data)
            assert check_contract(path, TARGETS[target]) == "accepted", (target, name)


# ---------------------------------------------------------------------------------------------- byte-level fuzzing
def _write(fuzz_dir: Path, suffix: str, data: bytes) -> Path:
    path = fuzz_dir / f"mutant{suffix}"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("target", ["tflite", "fgb", "audio"])
def test_fuzz_bytes(target: str, request: pytest.FixtureRequest, fuzz_dir: Path) -> None:
    """Byte-level mutants of the target's seeds (for a `.tflite`, some aimed at the custom options)."""
    seeds = request.getfixturevalue(f"{target}_seeds")
    spans = Seeds({name: _options_span(data) for name, data in seeds.items()}) if target == "tflite" else None

    @FUZZ
    @_seeded
    @given(mutated_bytes(Seeds(seeds), spans))
    def run(case: tuple[str, bytes]) -> None:
        suffix = Path(case[0]).suffix if target == "audio" else f".{target}"
        check_contract(_write(fuzz_dir, suffix, case[1]), TARGETS[target])

    run()


# ---------------------------------------------------------------------------------------------- structure-level fuzzing
ODD_VALUES = st.one_of(st.sampled_from([0, 1, -1, 2**31 - 1, -(2**31), 2**40, True, 1.5, float("nan"), "", "tanh",
                                        "\u00e9", [], [1, 2], {"a": 1}, b"\x00"]), st.integers(-300, 300))


@st.composite
def mutated_model(draw: st.DrawFn, models: dict[str, object]) -> bytes:
    """A `.tflite` whose decoded flatbuffer (schema object API) had 1-4 fields changed, packed again."""
    from flatbuffers import flexbuffers
    from tensorflow.lite.python import schema_py_generated as S

    from fastgrnn_tf.export.tflite_writer import pack_model
    from fastgrnn_tf.int8.oracle import OPTION_KEYS

    model = copy.deepcopy(models[draw(st.sampled_from(sorted(models)))])
    sg = model.subgraphs[0]
    n_t = len(sg.tensors)
    for _ in range(draw(st.integers(1, 4))):
        what = draw(st.sampled_from(["option", "option", "tensor", "tensor", "op", "graph", "buffer", "code"]))
        op = sg.operators[draw(st.integers(0, len(sg.operators) - 1))]
        if what == "option" and op.customOptions is not None:
            opts = flexbuffers.Loads(bytes(np.asarray(op.customOptions, np.uint8)))
            key = draw(st.sampled_from([*OPTION_KEYS, "extra"]))
            if draw(st.booleans()):
                opts.pop(key, None)
            else:
                opts[key] = draw(ODD_VALUES)
            op.customOptions = np.frombuffer(bytes(flexbuffers.Dumps(opts)), np.uint8)
        elif what == "tensor":
            t = sg.tensors[draw(st.integers(0, n_t - 1))]
            field = draw(st.sampled_from(["type", "shape", "buffer", "isVariable", "scale", "zeroPoint"]))
            if field == "type":
                t.type = draw(st.integers(0, 17))
            elif field == "shape":
                t.shape = np.asarray(draw(st.lists(st.integers(-2, 300), max_size=5)), np.int32)
            elif field == "buffer":
                t.buffer = draw(st.integers(0, len(model.buffers) + 2))
            elif field == "isVariable":
                t.isVariable = not t.isVariable
            elif t.quantization is not None:
                value = draw(st.sampled_from([0.0, -1.0, float("nan"), float("inf"), 1e-30, 1e30, 1 / 128]))
                t.quantization.scale = np.asarray([value] * draw(st.integers(0, 2)), np.float32)
                if field == "zeroPoint":
                    t.quantization.zeroPoint = np.asarray(draw(st.lists(st.sampled_from([0, -128, 300, 2**40]),
                                                                        max_size=2)), np.int64)
        elif what == "op":
            idx = draw(st.lists(st.integers(-2, n_t + 2), max_size=15))
            field = draw(st.sampled_from(["inputs", "outputs", "opcodeIndex", "one_input"]))
            if field == "opcodeIndex":
                op.opcodeIndex = draw(st.integers(0, len(model.operatorCodes) + 1))
            elif field == "one_input" and len(op.inputs):
                op.inputs = np.asarray(op.inputs, np.int32).copy()
                op.inputs[draw(st.integers(0, len(op.inputs) - 1))] = draw(st.integers(-2, n_t + 2))
            else:
                setattr(op, field.replace("one_input", "inputs"), np.asarray(idx, np.int32))
        elif what == "graph":
            setattr(sg, draw(st.sampled_from(["inputs", "outputs"])),
                    np.asarray(draw(st.lists(st.integers(-2, n_t + 2), max_size=3)), np.int32))
        elif what == "buffer":
            buf = model.buffers[draw(st.integers(0, len(model.buffers) - 1))]
            if buf.data is not None:
                buf.data = np.asarray(buf.data, np.uint8)[:draw(st.integers(0, len(buf.data)))]
        else:
            code = model.operatorCodes[draw(st.integers(0, len(model.operatorCodes) - 1))]
            code.builtinCode = draw(st.sampled_from([S.BuiltinOperator.CUSTOM, S.BuiltinOperator.FULLY_CONNECTED,
                                                     S.BuiltinOperator.SOFTMAX, S.BuiltinOperator.RESHAPE,
                                                     S.BuiltinOperator.ABS]))
            code.deprecatedBuiltinCode = min(code.builtinCode, 127)
            code.customCode = draw(st.sampled_from([None, "FastGRNN", "Other", ""]))
    try:
        return pack_model(model)
    except Exception:  # a value the flatbuffer cannot hold (e.g. a too large int): not a file anyone gets
        hypothesis.assume(False)
        raise


def test_fuzz_tflite_structure(tflite_seeds, fuzz_dir) -> None:
    from tensorflow.lite.python import schema_py_generated as S

    models = {k: S.ModelT.InitFromObj(S.Model.GetRootAs(v, 0)) for k, v in tflite_seeds.items()}

    @FUZZ
    @_seeded
    @given(mutated_model(Seeds(models)))
    def run(data: bytes) -> None:
        check_contract(_write(fuzz_dir, ".tflite", data), load_tflite)

    run()


@st.composite
def mutated_bundle(draw: st.DrawFn, bundles: dict[str, dict[str, np.ndarray]]) -> bytes:
    """A `.fgb` whose decoded entries had 1-4 entries dropped, retyped, reshaped or overwritten."""
    from fastgrnn_tf.export.bundle import encode_bundle

    arrays = dict(bundles[draw(st.sampled_from(sorted(bundles)))])
    for _ in range(draw(st.integers(1, 4))):
        name = draw(st.sampled_from(sorted(arrays)))
        value = np.asarray(arrays[name])
        kind = draw(st.sampled_from(["drop", "dtype", "shape", "value", "text"]))
        if kind == "drop":
            del arrays[name]
            if not arrays:
                break
        elif kind == "dtype":
            dtype = draw(st.sampled_from(["<i1", "<i2", "<i4", "<f4", "u1"]))
            with np.errstate(all="ignore"):
                arrays[name] = value.astype(dtype)
        elif kind == "shape":
            flat = value.reshape(-1)
            arrays[name] = [flat[:0], flat[:1].reshape(-1 if flat.size == 0 else ()), flat[None],
                            flat[:-1], value[None, None]][draw(st.integers(0, 4))]
        elif kind == "value":
            flat = value.reshape(-1).copy()
            if flat.size:
                info = np.finfo(flat.dtype) if flat.dtype.kind == "f" else np.iinfo(flat.dtype)
                pick = [info.min, info.max, 0, -1 if flat.dtype.kind != "u" else 1]
                if flat.dtype.kind == "f":
                    pick += [np.nan, np.inf]
                flat[draw(st.integers(0, flat.size - 1))] = draw(st.sampled_from(pick))
            arrays[name] = flat.reshape(value.shape)
        else:
            arrays[name] = np.frombuffer(draw(st.sampled_from([b"", b"\xff\xfe", b"a\nb", b"tanh", b"\n"])), np.uint8)
    try:
        return encode_bundle(arrays)
    except ValueError:  # more than 4 dims: the writer refuses, the byte-level test covers such files
        hypothesis.assume(False)
        raise


def test_fuzz_fgb_structure(fgb_seeds, fuzz_dir) -> None:
    from fastgrnn_tf.export.bundle import decode_bundle

    bundles = {k: decode_bundle(v) for k, v in fgb_seeds.items()}

    @FUZZ
    @_seeded
    @given(mutated_bundle(Seeds(bundles)))
    def run(data: bytes) -> None:
        check_contract(_write(fuzz_dir, ".fgb", data), load_fgb)

    run()


# ---------------------------------------------------------------------------------------------- regressions
REGRESSION_FILES = sorted(p for p in REGRESSIONS.glob("*") if p.suffix in (".tflite", ".fgb", ".wav", ".flac", ".ogg"))


@pytest.mark.parametrize("path", REGRESSION_FILES, ids=[p.name for p in REGRESSION_FILES])
def test_regression_inputs(path: Path) -> None:
    """Inputs the fuzzing once found breaking the contract (tests/data/fuzz_regressions/README.md) are rejected
    with a ValueError naming the file."""
    target = {".tflite": "tflite", ".fgb": "fgb"}.get(path.suffix, "audio")
    assert check_contract(path, TARGETS[target]) == "rejected"
