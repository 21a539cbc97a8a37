"""The Arduino sketch and its opt-in build checks, without the Arduino core or TFLM.

- the .ino and its TFLM half (glue/wakeword_firmware.cc) call only known TFLM API, register the
  FastGRNN op and the logits pass-through, and stay Arduino I/O + setup;
- prepare_sketch.sh writes a self-contained source tree that compiles against the fake TFLM (the two
  units that need the real interpreter are compiled by `make sketch-check` / `make firmware-m4`);
- the helpers of those opt-in targets: sketch-check's undefined-symbol classifier and firmware-m4's
  log reader and JSON merge.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_tflm_adapter_static import FAKE, _strip_comments_and_strings, fake_include_tree

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tflm_app" / "arduino" / "sketch_check"))
sys.path.insert(0, str(ROOT / "tflm_app" / "m4" / "firmware"))

SKETCH = ROOT / "tflm_app" / "arduino" / "nano33ble_wakeword" / "nano33ble_wakeword.ino"
FIRMWARE = ROOT / "tflm_app" / "arduino" / "glue" / "wakeword_firmware.cc"
# TFLM API the sketch calls -> the TFLM file that declares it.
SKETCH_API = {
    "AddCustom": "tensorflow/lite/micro/micro_mutable_op_resolver.h",
    "AddFullyConnected": "tensorflow/lite/micro/micro_mutable_op_resolver.h",
    "AddReshape": "tensorflow/lite/micro/micro_mutable_op_resolver.h",
    "AddSoftmax": "tensorflow/lite/micro/micro_mutable_op_resolver.h",
    "AddQuantize": "tensorflow/lite/micro/micro_mutable_op_resolver.h",
    "AddDequantize": "tensorflow/lite/micro/micro_mutable_op_resolver.h",
    "MicroInterpreter": "tensorflow/lite/micro/micro_interpreter.h",
    "AllocateTensors": "tensorflow/lite/micro/micro_interpreter.h",
    "Invoke": "tensorflow/lite/micro/micro_interpreter.h",
    "Reset": "tensorflow/lite/micro/micro_interpreter.h",
    "input": "tensorflow/lite/micro/micro_interpreter.h",
    "output": "tensorflow/lite/micro/micro_interpreter.h",
    "arena_used_bytes": "tensorflow/lite/micro/micro_interpreter.h",
    "GetModel": "tensorflow/lite/schema/schema_generated.h",
    "InitializeTarget": "tensorflow/lite/micro/system_setup.h",
}


def test_sketch_calls_only_known_tflm_api_and_registers_the_op() -> None:
    """The .ino and its TFLM half (glue/wakeword_firmware.cc) call only listed TFLM API, each with its header."""
    for path in (SKETCH, FIRMWARE):
        code = _strip_comments_and_strings(path.read_text())
        calls = set(re.findall(r"\b(?:resolver|interpreter|g_resolver|g_interpreter)(?:\.|->)(\w+)\(", code))
        calls |= set(re.findall(r"\btflite::(\w+)\(", code)) - {"Register_FASTGRNN", "Register_SOFTMAX_AS_LOGITS",
                                                                 "SoftmaxLogitsQuantization"}
        unknown = sorted(calls - set(SKETCH_API))
        assert not unknown, f"{path.name} calls TFLM API not listed in SKETCH_API: {unknown}"
        includes = set(re.findall(r'#include "([^"]+)"', path.read_text()))
        for name in calls:
            assert SKETCH_API[name] in includes, f"{path.name}: {name} needs #include \"{SKETCH_API[name]}\""
    code = _strip_comments_and_strings(FIRMWARE.read_text())
    assert "g_resolver->AddCustom(tflite::kFastGrnnOpName, tflite::Register_FASTGRNN())" in code
    # The final SOFTMAX runs as the logits pass-through unless the TFLM softmax is asked for.
    assert "AddSoftmax(*tflite::Register_SOFTMAX_AS_LOGITS())" in code
    assert "g_pipeline.Init(&fc, DetectorConfig())" in code  # Init resets the stream: FastGRNN state zeroed
    assert "g_interpreter->Reset()" in code
    ino = _strip_comments_and_strings(SKETCH.read_text())
    assert "wakeword::SetupFirmware(g_arena, kTensorArenaSize)" in ino
    assert "wakeword::FirmwarePipeline().Push(pcm, n, OnFrame)" in ino
    # Arduino I/O only: the model half is wakeword_firmware.cc, the arithmetic tested C++.
    assert len(SKETCH.read_text().splitlines()) < 160


# --- tflm_app/arduino/prepare_sketch.sh -------------------------------------------------------
PREPARE = ROOT / "tflm_app" / "arduino" / "prepare_sketch.sh"


def test_prepare_sketch_builds_a_self_contained_source_tree(tmp_path: Path) -> None:
    from fastgrnn_tf.export.bundle import write_bundle
    from fastgrnn_tf.export.c_array import write_c_array

    model_dir = tmp_path / "model"
    model_dir.mkdir()
    write_c_array(b"TFL3-not-a-real-model", model_dir)
    write_bundle(model_dir / "model.fgb", {
        "features.n_mels": np.int32(40), "features.quant_scale": np.float32(0.1),
        "detector.threshold": np.int32(150), "detector.keywords": np.array([2, 3], np.int32),
        "classes": np.frombuffer(b"_silence_\n_unknown_\nyes\nno", np.uint8)})
    out = tmp_path / "sketch" / "src"
    res = subprocess.run(["bash", str(PREPARE), "--model-dir", str(model_dir), "--impl", "reference",
                          "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    for must in ("fastgrnn/fastgrnn_int8_reference.cpp", "fastgrnn/fastgrnn_int8.h", "frontend/frontend.cpp",
                 "detector/detector.cpp", "head/head.cpp", "tflm/fastgrnn_op.cpp", "tflm/fastgrnn_op.h",
                 "arduino/glue/wakeword_glue.cpp", "arduino/glue/wakeword_firmware.cpp", "tflm/logits_op.cpp",
                 "model_data.cpp", "model_data.h", "wakeword_config.h"):
        assert must in files, f"{must} missing from the sketch tree: {files}"
    assert not [f for f in files if f.endswith(".cc") or "_test" in f or "_main" in f or "_bundle" in f
                or "cortex_m4" in f], files
    assert [p.name for p in out.parent.iterdir()] == ["src"]  # no temporary directory left
    cfg = (out / "wakeword_config.h").read_text()
    for line in ("inline const void* ModelData() { return g_model_data; }", "constexpr int32_t kNMels = 40;",
                 "constexpr double kQuantScale = 0.1;", "constexpr int32_t kThreshold = 150;",
                 "constexpr int32_t kWindowFrames = 30;", "constexpr int32_t kKeywords[] = {2, 3};",
                 'constexpr const char* kClassNames[] = {"_silence_", "_unknown_", "yes", "no"};'):
        assert line in cfg, f"{line!r} not in wakeword_config.h:\n{cfg}"

    bad = subprocess.run(["bash", str(PREPARE), "--model-dir", str(model_dir), "--keywords", "9", "--out",
                          str(out)], capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "not class indices" in bad.stderr
    assert (out / "wakeword_config.h").read_text() == cfg  # a failed run leaves the old tree alone

    # The tree compiles with only its own relative includes (+ TFLM declarations for the adapter).
    cxx = shutil.which("arm-none-eabi-g++") or shutil.which("g++")
    if cxx is None:
        pytest.skip("no C++ compiler")
    include = fake_include_tree(tmp_path / "fake_include")
    # Units that need the real interpreter and schema (not in fake_tflm/) are compiled by the opt-in
    # `make sketch-check` / `make firmware-m4` against a real TFLM; only these two, by name.
    real_only = sorted(str(src.relative_to(out)) for src in out.rglob("*.cpp")
                       if re.search(r'#include "[./]*(tflm/)?logits_op\.h"|micro_interpreter\.h"', src.read_text()))
    assert real_only == ["arduino/glue/wakeword_firmware.cpp", "tflm/logits_op.cpp"], real_only
    for src in sorted(out.rglob("*.cpp")):
        if str(src.relative_to(out)) in real_only:
            continue
        cmd = [cxx, "-std=c++17", "-fsyntax-only", "-fno-exceptions", "-fno-rtti", f"-I{include}", f"-I{FAKE}",
               "-x", "c++",
               str(src)]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"{src.relative_to(out)}:\n{r.stderr}"


def test_undefined_symbols_of_ours_or_tflm_fail_the_link_check(tmp_path: Path) -> None:
    from classify_undefined import classify, main

    groups = classify(["tflite::MicroInterpreter::Invoke()", "arm_fully_connected_s8", "fastgrnn::Run(x)",
                       "PDMClass::begin(int, int)", "millis", "memcpy", "__aeabi_dadd", "fmaxf"])
    assert groups["ours_or_tflm"] == ["tflite::MicroInterpreter::Invoke()", "arm_fully_connected_s8",
                                      "fastgrnn::Run(x)"]
    assert groups["core_mbed"] == ["PDMClass::begin(int, int)", "millis"]
    assert groups["runtime"] == ["memcpy", "__aeabi_dadd", "fmaxf"] and groups["other"] == []
    ok, bad = tmp_path / "ok.txt", tmp_path / "bad.txt"
    ok.write_text("millis\nmemcpy\n")
    bad.write_text("millis\nwakeword::SetupFirmware(unsigned char*, unsigned int, wakeword::HeadMode)\n")
    assert main(["x", str(ok)]) == 0 and main(["x", str(bad)]) == 1


def test_firmware_log_reader_and_json_merge(tmp_path: Path) -> None:
    from firmware_report import merge_json, parse_log

    log = tmp_path / "firmware.log"
    log.write_text("K arena_used_bytes 26000\nS 0 1 2\nS 1 3 4\nD firmware 1 2 200\nD bench 1 2 200\nK done 1\n")
    scores, dets, figures = parse_log(log)
    assert scores == [[1, 2], [3, 4]] and dets["firmware"] == [(1, 2, 200)] and dets["softmax"] == []
    assert figures == {"arena_used_bytes": 26000, "done": 1}
    log.write_text("S 0 1 2\nS 2 3 4\nK done 1\n")
    with pytest.raises(ValueError, match="out of order"):
        parse_log(log)
    log.write_text("S 0 1 2\n")  # the run stopped early
    with pytest.raises(ValueError, match="did not finish"):
        parse_log(log)
    out = tmp_path / "m4_counts.json"
    out.write_text(json.dumps({"flash_bytes": 1, "firmware": {"old": True}}))
    merge_json(out, "firmware", {"frames": 3})
    assert json.loads(out.read_text()) == {"flash_bytes": 1, "firmware": {"frames": 3}}  # bench keys kept
