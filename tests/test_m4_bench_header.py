"""The Cortex-M4 benchmark's generated model header: the default Google-12 shape, other shapes, bad shapes."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("make_bench_header", ROOT / "tflm_app/m4/bench/make_bench_header.py")
assert _spec is not None and _spec.loader is not None
mbh = importlib.util.module_from_spec(_spec)
sys.modules["make_bench_header"] = mbh  # dataclasses look their module up
_spec.loader.exec_module(mbh)


def _constants(text: str) -> dict[str, float]:
    return {k: float(v) for k, v in re.findall(r"\b(k[A-Z]\w*) = (-?[\d.]+)f?\b", text)}


def test_default_shape_is_google12(tmp_path: Path) -> None:
    g12 = mbh.BenchShape()
    assert (g12.units, g12.w_rank, g12.u_rank, g12.keep, g12.hop_samples, g12.window_samples) == (
        100, 16, 25, 0.3, 160, 400)
    assert g12.steps == 99 and g12.dense_weights == 7112 and g12.capacities() == (24576, 1536)
    out = tmp_path / "gen" / "bench_model.h"
    assert mbh.main([str(out), "--data", str(tmp_path / "no_data")]) == 0
    c = _constants(out.read_text())
    assert (c["kUnits"], c["kWRank"], c["kURank"], c["kSteps"], c["kHopSamples"], c["kWindowSamples"]) == (
        100, 16, 25, 99, 160, 400)
    assert (c["kPreparedCapacity"], c["kScratchCapacity"]) == (24576, 1536)
    assert "kWindowInput[3168]" in out.read_text()  # 99 frames x 32 features
    meta = json.loads((out.parent / "bench_model.json").read_text())
    assert meta["units"] == 100 and meta["steps_per_window"] == 99 and meta["hop_samples"] == 160


def test_other_shape_and_framing(tmp_path: Path) -> None:
    out = tmp_path / "bench_model.h"
    args = ["--units", "128", "--w-rank", "20", "--u-rank", "32", "--keep", "0.5", "--hop", "320", "--window", "480"]
    assert mbh.main([str(out), "--data", str(tmp_path), *args]) == 0
    text = out.read_text()
    c = _constants(text)
    assert (c["kUnits"], c["kWRank"], c["kURank"], c["kSteps"], c["kHopSamples"], c["kWindowSamples"]) == (
        128, 20, 32, 49, 320, 480)
    shape = mbh.BenchShape(units=128, w_rank=20, u_rank=32, keep=0.5, hop_samples=320, window_samples=480)
    assert shape.dense_weights == 32 * 20 + 20 * 128 + 128 * 32 + 32 * 128
    prepared, scratch = shape.capacities()  # scaled up with the weights and widths, in whole KB / 256 B
    assert prepared >= 24576 * 11392 / 7112 and prepared % 1024 == 0 and scratch >= 1536 * 180 / 141
    assert (c["kPreparedCapacity"], c["kScratchCapacity"]) == (prepared, scratch)
    assert f"kW2[{20 * 128}]" in text and "kWindowInput[1568]" in text  # 49 x 32
    assert json.loads((tmp_path / "bench_model.json").read_text())["keep"] == 0.5


@pytest.mark.parametrize("args, message", [
    (["--units", "0"], "units"),
    (["--keep", "0"], "keep"),
    (["--hop", "300"], "hop dividing 16000"),
    (["--hop", "320", "--window", "1024"], "window <= 512"),
])
def test_bad_shapes_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                                message: str) -> None:
    with pytest.raises(SystemExit) as e:
        mbh.main([str(tmp_path / "h.h"), *args])
    assert e.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "h.h").exists()
