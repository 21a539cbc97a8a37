"""Static checks of the TFLM adapter `tflm_app/tflm/fastgrnn_op.{h,cc}` against its contracts.

TFLM is never vendored or built by `make test` (the opt-in tests/test_tflm_real_adapter.py, `make
firmware-m4` and `make sketch-check` build it against a checkout you provide). These tests check what can
be checked without it:
- every custom-option key of `fastgrnn_tf/int8/int8_step_spec.md` is parsed, and nothing else;
- the tensor index constants match the spec's input table (including the optional bitmaps 10-13 of
  bitmap-sparse weights), Prepare checks the spec's types and Eval binds every input (a sparse matrix
  from the copy Prepare expanded);
- every TFLM/flexbuffers symbol the adapter uses is in `TFLM_API` below, which names the TFLM
  header that declares it (read in tensorflow/tflite-micro) and the header the adapter includes;
- the registration follows TFLM's custom-op convention; no heap, exceptions or RTTI;
- `tflm_app/tflm/fake_tflm/` re-declares that API (same names and signatures, simplified
  structs); the adapter's host test `tflm_app/tflm/fastgrnn_op_test.cc` is built and run against it
  here (Init/Prepare/Eval through the registration, outputs equal to the int8 core, every bad
  tensor/option rejected with its message).
The sketch and prepare_sketch.sh: tests/test_arduino_sketch.py.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "fastgrnn_tf" / "int8" / "int8_step_spec.md"
HEADER = ROOT / "tflm_app" / "tflm" / "fastgrnn_op.h"
SOURCE = ROOT / "tflm_app" / "tflm" / "fastgrnn_op.cc"
CORE_HEADER = ROOT / "tflm_app" / "fastgrnn" / "fastgrnn_int8.h"

_MICRO_KU = "tensorflow/lite/micro/kernels/kernel_util.h"
_MICRO_CTX = "tensorflow/lite/micro/micro_context.h"
_COMMON = "tensorflow/lite/c/common.h"
_LITE_KU = "tensorflow/lite/kernels/kernel_util.h"
_FLEX = "flatbuffers/flexbuffers.h"

# symbol -> (TFLM file that declares it, header the adapter includes to get it)
TFLM_API: dict[str, tuple[str, str]] = {
    "TFLMRegistration": ("tensorflow/lite/micro/micro_common.h", "tensorflow/lite/micro/micro_common.h"),
    "TfLiteRegistration": ("tensorflow/lite/c/common.h (pre-2023 TFLM)", _COMMON),
    "RegisterOp": (_MICRO_KU, _MICRO_KU),
    "GetEvalInput": (_MICRO_KU, _MICRO_KU),
    "GetMutableEvalInput": (_MICRO_KU, _MICRO_KU),
    "GetEvalOutput": (_MICRO_KU, _MICRO_KU),
    "GetTensorData": (_MICRO_KU, _MICRO_KU),
    "TFLITE_DCHECK": ("tensorflow/lite/kernels/internal/compatibility.h", _MICRO_KU),
    "MicroContext": (_MICRO_CTX, _MICRO_CTX),
    "GetMicroContext": (_MICRO_CTX, _MICRO_CTX),
    "AllocatePersistentBuffer": (_MICRO_CTX, _MICRO_CTX),
    "RequestScratchBufferInArena": (_MICRO_CTX, _MICRO_CTX),
    "GetScratchBuffer": (_MICRO_CTX, _MICRO_CTX),
    "AllocateTempInputTensor": (_MICRO_CTX, _MICRO_CTX),
    "AllocateTempOutputTensor": (_MICRO_CTX, _MICRO_CTX),
    "DeallocateTempTfLiteTensor": (_MICRO_CTX, _MICRO_CTX),
    "MicroPrintf": ("tensorflow/lite/micro/micro_log.h", "tensorflow/lite/micro/micro_log.h"),
    "NumInputs": (_LITE_KU, _LITE_KU),
    "NumOutputs": (_LITE_KU, _LITE_KU),
    "NumDimensions": (_LITE_KU, _LITE_KU),
    "IsConstantTensor": (_LITE_KU, _LITE_KU),
    "TfLiteContext": (_COMMON, _COMMON),
    "TfLiteNode": (_COMMON, _COMMON),
    "TfLiteTensor": (_COMMON, _COMMON),
    "TfLiteEvalTensor": (_COMMON, _COMMON),
    "TfLiteStatus": (_COMMON, _COMMON),
    "TfLiteType": (_COMMON, _COMMON),
    "TfLiteTypeGetName": (_COMMON, _COMMON),
    "TfLiteAffineQuantization": (_COMMON, _COMMON),
    "kTfLiteOk": (_COMMON, _COMMON),
    "kTfLiteError": (_COMMON, _COMMON),
    "kTfLiteInt8": (_COMMON, _COMMON),
    "kTfLiteInt16": (_COMMON, _COMMON),
    "kTfLiteInt32": (_COMMON, _COMMON),
    "kTfLiteUInt8": (_COMMON, _COMMON),
    "kTfLiteAffineQuantization": (_COMMON, _COMMON),
    "flexbuffers": (_FLEX, _FLEX),
    "GetRoot": (_FLEX, _FLEX),
    "Reference": (_FLEX, _FLEX),
    "Map": (_FLEX, _FLEX),
    "IsNull": (_FLEX, _FLEX),
    "IsIntOrUint": (_FLEX, _FLEX),
    "IsBool": (_FLEX, _FLEX),
    "IsString": (_FLEX, _FLEX),
    "IsMap": (_FLEX, _FLEX),
    "AsInt64": (_FLEX, _FLEX),
    "AsBool": (_FLEX, _FLEX),
    "AsMap": (_FLEX, _FLEX),
}

# Spec table row label -> the adapter's constant.
ROW_TO_CONSTANT = {
    "input x": "kInputTensor",
    "W (full) or W1": "kW1Tensor",
    "W2 (low rank) or absent": "kW2Tensor",
    "U (full) or U1": "kU1Tensor",
    "U2 (low rank) or absent": "kU2Tensor",
    "bias_z": "kBiasZTensor",
    "bias_h": "kBiasHTensor",
    "gate_lut": "kGateLutTensor",
    "update_lut": "kUpdateLutTensor",
    "hidden state (variable)": "kStateTensor",
}
# The spec's range row "10-13" (one bitmap per weight input 1-4) -> the adapter's constants, in order.
BITMAP_ROW = "optional bitmaps of inputs 1-4 (see below)"
BITMAP_CONSTANTS = ["kW1BitmapTensor", "kW2BitmapTensor", "kU1BitmapTensor", "kU2BitmapTensor"]
WEIGHT_CONSTANTS = ["kW1Tensor", "kW2Tensor", "kU1Tensor", "kU2Tensor"]
SPEC_TYPE_TO_ENUM = {"int8": "kTfLiteInt8", "int16": "kTfLiteInt16", "int32": "kTfLiteInt32", "uint8": "kTfLiteUInt8"}


def _strip_comments_and_strings(code: str) -> str:
    code = re.sub(r"/\*.*?\*/", " ", code, flags=re.S)
    code = re.sub(r"//[^\n]*", " ", code)
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', code)


def _spec_section(title: str) -> str:
    text = SPEC.read_text()
    start = text.index(title)
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def _spec_option_keys() -> list[str]:
    section = _spec_section("## The custom operator")
    para = section[section.index("Custom options") :]
    return re.findall(r"`(\w+)`", para)


def _spec_input_rows() -> list[tuple[int, int, str, str]]:
    """(first, last, label, type) of every row of the input table; last > first for a range row ("10-13")."""
    rows = re.findall(r"^\| (\d+)(?:-(\d+))? \| ([^|]+?) \| (\w+) \|", _spec_section("## The custom operator"),
                      re.M)
    return [(int(i), int(j or i), name, dtype) for i, j, name, dtype in rows]


def _spec_inputs() -> list[tuple[int, str, str]]:
    """The single-tensor rows (inputs 0-9)."""
    return [(i, name, dtype) for i, j, name, dtype in _spec_input_rows() if i == j]


def _header_constants() -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r"constexpr int (k\w+) = (-?\d+);", HEADER.read_text())}


def _function_body(code: str, signature_regex: str) -> str:
    m = re.search(signature_regex, code)
    assert m, f"no function matching {signature_regex!r} in {SOURCE.name}"
    depth, i = 0, code.index("{", m.end())
    for j in range(i, len(code)):
        depth += {"{": 1, "}": -1}.get(code[j], 0)
        if depth == 0:
            return code[i : j + 1]
    raise AssertionError(f"unbalanced braces after {signature_regex!r}")


def test_every_spec_option_key_is_parsed_and_no_other() -> None:
    keys = _spec_option_keys()
    assert len(keys) == 17 and keys[0] == "version" and keys[-1] == "update_activation", keys
    code = SOURCE.read_text()
    parsed = set(re.findall(r'"(\w+)"', _function_body(code, r"const char\* ParseOptions\(")))
    missing = [k for k in keys if k not in parsed]
    assert not missing, f"option keys of the spec not parsed by the adapter: {missing}"
    # Every string literal used as a key in ParseOptions is a spec key (no invented options).
    key_literals = set(re.findall(r'(?:\{|m\[)"(\w+)"', _function_body(code, r"const char\* ParseOptions\(")))
    key_literals |= set(re.findall(r'"(\w+_activation)"', code))
    assert key_literals <= set(keys), f"adapter reads keys not in the spec: {key_literals - set(keys)}"


def test_option_keys_agree_with_the_oracle() -> None:
    from fastgrnn_tf.int8.oracle import OPTION_KEYS

    assert list(OPTION_KEYS) == _spec_option_keys()


def test_tensor_index_constants_match_the_spec_table() -> None:
    rows = _spec_inputs()
    consts = _header_constants()
    assert [i for i, _, _ in rows] == list(range(10))
    for index, label, _ in rows:
        name = ROW_TO_CONSTANT[label]
        got = consts.get(name)
        assert got == index, f"{name} should be {index} (spec row '{label}'), got {got}"
    assert consts["kNumInputs"] == len(rows)
    ranges = [(i, j, label, dtype) for i, j, label, dtype in _spec_input_rows() if i != j]
    assert ranges == [(10, 13, BITMAP_ROW, "uint8")], ranges
    for offset, name in enumerate(BITMAP_CONSTANTS):  # bitmap of input 1 + k is input 10 + k
        assert consts.get(name) == 10 + offset, f"{name} should be {10 + offset}, got {consts.get(name)}"
        assert consts[name] - consts["kW1BitmapTensor"] == consts[WEIGHT_CONSTANTS[offset]] - consts["kW1Tensor"]
    assert consts["kNumInputsWithBitmaps"] == 14
    assert consts["kOutputTensor"] == 0 and consts["kNumOutputs"] == 1
    assert consts["kOptionsVersion"] == 1 and consts["kLutSize"] == 256
    assert 'kFastGrnnOpName[] = "FastGRNN"' in HEADER.read_text()


def _prepare_section(code: str) -> str:
    """Prepare and the validators it calls: from CheckNode up to Eval's first helper."""
    start = code.index("TfLiteStatus CheckNode(")
    end = code.index("const T* InputData(")
    prepare = _function_body(code, r"TfLiteStatus Prepare\(TfLiteContext\* context, TfLiteNode\* node\)")
    for helper in ("CheckNode", "CheckPresence", "CheckInputX", "PrepareWeightMatrices", "CheckBiasesAndLuts",
                   "CheckStateAndOutput", "PrepareCore"):
        assert f"{helper}(" in prepare, f"Prepare does not call {helper}"
    assert len(prepare.splitlines()) < 40, "Prepare should stay a short sequence of validators"
    return code[start:end]


def test_prepare_checks_the_spec_types_of_every_input() -> None:
    code = _strip_comments_and_strings(SOURCE.read_text())
    prepare = _prepare_section(code)
    for _, label, dtype in _spec_inputs():
        const = ROW_TO_CONSTANT[label]
        enum = SPEC_TYPE_TO_ENUM[dtype]
        assert const in prepare, f"Prepare never looks at {const} ({label})"
        if const in ("kBiasZTensor", "kBiasHTensor", "kGateLutTensor", "kUpdateLutTensor"):
            assert re.search(rf"\{{{const}, \"\", {enum}", prepare), f"{const} must be checked as {enum}"
    # Weights go through CheckWeight (int8 [rows, cols], constant, zero point 0) or, with a bitmap,
    # CheckSparseWeight (int8 [nnz] values, constant, zero point 0 + constant uint8 1-D bitmap checked by
    # the core's CheckBitmapSparse); x and state are int8 too.
    assert "kTfLiteInt8, 2, dims) && CheckConstant(t, what) && CheckZeroPoint(t, what, 0)" in code
    sparse = _function_body(code, r"bool CheckSparseWeight\(")
    for needle in ("CheckShape(values, what, kTfLiteInt8, 1, any)", "CheckConstant(values, what)",
                   "CheckZeroPoint(values, what, 0)", "CheckShape(bitmap, bitmap_what, kTfLiteUInt8, 1, any)",
                   "CheckConstant(bitmap, bitmap_what)", "fastgrnn::CheckBitmapSparse("):
        assert needle in sparse, f"CheckSparseWeight lacks {needle}"
    for weight, bitmap in zip(WEIGHT_CONSTANTS, BITMAP_CONSTANTS, strict=True):  # a table row per weight + bitmap
        assert re.search(rf"\{{{weight}, {bitmap}, ", prepare), f"Prepare's weight table lacks {weight}/{bitmap}"
    assert prepare.count("CheckWeight(") == 1 and prepare.count("CheckSparseWeight(") == 1
    assert "fastgrnn::ExpandBitmapSparse(" in prepare and "AllocatePersistentBuffer(" in prepare
    assert "is_variable" in prepare and "CheckQ07(state" in prepare and "CheckQ07(t.out" in prepare
    assert "kTfLiteInt8, 3, x_dims" in prepare


def test_eval_binds_every_input_from_eval_tensors() -> None:
    code = _strip_comments_and_strings(SOURCE.read_text())
    ev = _function_body(code, r"TfLiteStatus Eval\(TfLiteContext\* context, TfLiteNode\* node\)")
    for const in ROW_TO_CONSTANT.values():
        assert const in ev, f"Eval does not bind {const}"
    # Weights come from WeightData: Prepare's expanded copy of a sparse matrix, else the tensor data;
    # the bitmaps are not read after Prepare.
    for const in WEIGHT_CONSTANTS:
        assert f"WeightData(context, node, data, {const})" in ev, f"Eval must bind {const} through WeightData"
    weight_data = _function_body(code, r"const int8_t\* WeightData\(")
    assert "data->expanded[" in weight_data and "InputData<int8_t>(context, node, index)" in weight_data
    assert not any(const in ev for const in BITMAP_CONSTANTS)
    assert "GetMutableEvalInput(context, node, kStateTensor)" in ev
    assert "GetEvalOutput(context, node, kOutputTensor)" in ev
    # The weights are prepared once in Prepare (PrepareCore), never on an Eval.
    assert "fastgrnn::PrepareWeights(" not in ev
    assert "fastgrnn::PrepareWeights(data->prepared" not in code
    assert "fastgrnn::PrepareWeights(p, data->prepared)" in _function_body(code, r"TfLiteStatus PrepareCore\(")
    assert re.search(r"for \(int32_t b = 0; b < data->batch; \+\+b\)\s*\{\s*fastgrnn::Run\(", ev)


def _used_api_symbols(code: str) -> set[str]:
    code = _strip_comments_and_strings(code)
    used: set[str] = set()
    used |= set(re.findall(r"\btflite::micro::(\w+)", code))
    used |= {"flexbuffers"} if "flexbuffers::" in code else set()
    used |= set(re.findall(r"\bflexbuffers::(\w+)", code))
    used |= set(re.findall(r"\b(TfLite\w+|kTfLite\w+|TFLM[A-Z][a-z]\w*|TFLITE_\w+)\b", code))
    used |= set(re.findall(r"\.(Is\w+|As\w+)\(", code))
    used |= set(re.findall(r"(?:mc|mc_|GetMicroContext\(context\))->(\w+)\(", code))
    # Unqualified calls of capitalised functions not defined in this file nor in the core.
    defined = set(re.findall(r"^\s*(?:[\w:<>*&]+\s+)+\**(\w+)\(", code, re.M))
    defined |= set(re.findall(r"\b(?:class|struct)\s+(\w+)", code))
    core = set(re.findall(r"\b(\w+)\(", CORE_HEADER.read_text()))
    for name in re.findall(r"(?<![\w.>:])([A-Z]\w*)\(", code):
        if name not in defined and name not in core:
            used.add(name)
    if "MicroContext*" in code:
        used.add("MicroContext")
    return used


def test_every_tflm_symbol_used_is_known_and_its_header_included() -> None:
    header_code, source_code = HEADER.read_text(), SOURCE.read_text()
    used = _used_api_symbols(source_code) | _used_api_symbols(header_code)
    unknown = sorted(used - set(TFLM_API))
    assert not unknown, f"TFLM symbols missing from TFLM_API (add each with its declaring header): {unknown}"
    includes = set(re.findall(r'#include "([^"]+)"', header_code + source_code))
    for sym in sorted(used):
        via = TFLM_API[sym][1]
        assert any(inc.endswith(via) for inc in includes), f"{sym} needs #include \"{via}\""


def test_source_cites_the_tflm_files_it_follows() -> None:
    head = SOURCE.read_text().split("#include", 1)[0]
    for declared_in, _ in TFLM_API.values():
        path = declared_in.split(" ")[0]
        if path.startswith("tensorflow/lite/micro") or path == _LITE_KU:
            assert path in head, f"{SOURCE.name} top comment should cite {path}"
    assert "not compiled against TFLM" in head


def test_registration_follows_the_tflm_custom_op_convention() -> None:
    assert re.search(r"^TFLMRegistration\* Register_FASTGRNN\(\);", HEADER.read_text(), re.M)
    body = _function_body(SOURCE.read_text(), r"TFLMRegistration\* Register_FASTGRNN\(\)")
    assert "static TFLMRegistration r = tflite::micro::RegisterOp(Init, Prepare, Eval);" in body
    assert "return &r;" in body


def test_device_code_rules() -> None:
    code = _strip_comments_and_strings(HEADER.read_text() + SOURCE.read_text()).replace("= delete;", ";")
    code = re.sub(r"^#include[^\n]*", "", code, flags=re.M)
    assert not re.search(r"\b(throw|try|catch|dynamic_cast|typeid|malloc|calloc|free|delete)\b", code)
    assert re.findall(r"\bnew\b\s*(\S)", code) == ["("], "only placement new into the persistent arena"
    assert "std::vector" not in code and "std::string" not in code


FAKE = ROOT / "tflm_app" / "tflm" / "fake_tflm"
FLAGS = ["-std=c++17", "-Wall", "-Wextra", "-Werror", "-fno-exceptions", "-fno-rtti"]


def fake_include_tree(root: Path) -> Path:
    """The include tree the adapter expects (`a/b/c.h`), forwarding to fake_tflm/headers/a__b__c.h
    (the repository holds no file at a TFLM path; tflm_app/tflm/CMakeLists.txt does the same)."""
    for header in (FAKE / "headers").glob("*.h"):
        target = root / header.name.replace("__", "/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f'#include "{header}"\n')
    return root


def test_fake_tflm_declares_every_symbol_the_adapter_uses() -> None:
    """fake_tflm/ re-declares exactly the TFLM API of TFLM_API, each in the header TFLM has it in."""
    for sym, (declared_in, _) in TFLM_API.items():
        if sym == "TfLiteRegistration":  # the pre-2023 fallback only
            continue
        text = (FAKE / "headers" / declared_in.replace("/", "__")).read_text()
        assert re.search(rf"\b{sym}\b", text), f"fake_tflm/{declared_in} does not declare {sym}"


@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed")
def test_adapter_runs_against_the_fake_tflm(tmp_path: Path) -> None:
    """Builds and runs tflm_app/tflm/fastgrnn_op_test.cc (Init/Prepare/Eval vs the int8 core)."""
    exe = tmp_path / "fastgrnn_op_test"
    include = fake_include_tree(tmp_path / "include")
    srcs = [SOURCE, FAKE / "fake_tflm.cc", ROOT / "tflm_app" / "tflm" / "fastgrnn_op_test.cc",
            ROOT / "tflm_app" / "fastgrnn" / "fastgrnn_int8_common.cc",
            ROOT / "tflm_app" / "fastgrnn" / "fastgrnn_int8_reference.cc"]
    res = subprocess.run(["g++", *FLAGS, "-Wformat=2", f"-I{include}", f"-I{FAKE}", *map(str, srcs), "-o", str(exe)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "14 tests, 0 failed" in run.stdout
