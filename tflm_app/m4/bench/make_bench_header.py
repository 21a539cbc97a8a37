"""Writes the C header the Cortex-M4 benchmark compiles in (tflm_app/m4/bench/bench_main.cc).

By default a Google-12-shaped FastGRNN (D=32, H=100, w_rank 16, u_rank 25, 30% of weights kept, a 10 ms hop
and 25 ms window) from `fastgrnn_tf.int8.quantize.random_int8_params` (random float params + quantize_params
with calibrated ranges), the int8 feature frames of the 1-s window, a random int8 FC head H -> 12, detector
settings, and 1 s of audio: a real Speech Commands clip from ../shared/data when present, else a
synthetic one (a tone sweep in noise). Compiled-in arrays keep the benchmark's flash/RAM figures
close to firmware (weights in flash, nothing read at run time). Other shapes (`--units`, `--w-rank`,
`--u-rank`, `--keep`, `--hop`, `--window`) measure another recipe's model: `make bench-m4 BENCH_TAG=name
BENCH_SHAPE="--units 128 ..."`. The shape is also written beside the header (`bench_model.json`, for report.py).

    .venv/bin/python tflm_app/m4/bench/make_bench_header.py OUT.h [--data ../shared/data] [--units 128 ...]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from fastgrnn_tf.int8.head_oracle import fc_multiplier  # noqa: E402
from fastgrnn_tf.int8.quantize import random_int8_inputs, random_int8_params  # noqa: E402
from keyword_spotting.audio_io import read_audio  # noqa: E402  (no TensorFlow: numpy, soundfile, librosa)

CLASSES, SAMPLES = 12, 16000


@dataclasses.dataclass(frozen=True)
class BenchShape:
    """The benchmarked model and frontend framing (defaults: the Google-12 shape every README figure uses)."""

    input_dim: int = 32
    units: int = 100
    w_rank: int = 16
    u_rank: int = 25
    keep: float = 0.3
    hop_samples: int = 160
    window_samples: int = 400

    def __post_init__(self) -> None:
        if not (1 <= self.units <= 256 and 1 <= self.w_rank <= 64 and 1 <= self.u_rank <= 128):
            raise ValueError(f"need units in [1, 256], w_rank in [1, 64], u_rank in [1, 128], got {self}")
        if not 0.0 < self.keep <= 1.0:
            raise ValueError(f"keep must be in (0, 1], got {self.keep}")
        if not (0 < self.hop_samples <= self.window_samples <= 512 and SAMPLES % self.hop_samples == 0):
            raise ValueError("need 0 < hop <= window <= 512 (the 512-point FFT) and a hop dividing 16000, got "
                             f"hop {self.hop_samples}, window {self.window_samples}")

    @property
    def steps(self) -> int:
        """Steps of the benchmark's 1-s window: hops per second - 1 (99 at the default 10 ms hop, as every
        earlier figure)."""
        return SAMPLES // self.hop_samples - 1

    @property
    def dense_weights(self) -> int:
        return (self.input_dim * self.w_rank + self.w_rank * self.units + self.units * self.u_rank
                + self.u_rank * self.units)

    def capacities(self) -> tuple[int, int]:
        """(prepared, scratch) static buffer bytes of the benchmark programs: the Google-12 figures (24,576 /
        1,536; its M4 path needs 15,832 / 1,264) for models up to its size, else scaled up by the weights and
        widths (each program prints what it needs and stops if a buffer is too small)."""
        g12 = BenchShape()
        prepared = max(24576, -(-int(24576 * self.dense_weights / g12.dense_weights) // 1024) * 1024)
        widths = self.units + self.w_rank + self.u_rank
        scratch = max(1536, -(-int(1536 * widths / (g12.units + g12.w_rank + g12.u_rank)) // 256) * 256)
        return prepared, scratch


def c_array(ctype: str, name: str, values: np.ndarray, per_line: int = 16) -> str:
    flat = [int(v) for v in np.asarray(values).reshape(-1)]
    lines = [", ".join(str(v) for v in flat[i:i + per_line]) for i in range(0, len(flat), per_line)]
    body = ",\n  ".join(lines)
    return f"alignas(4) static const {ctype} {name}[{len(flat)}] = {{\n  {body}\n}};\n"


def load_clip(data_dir: Path) -> tuple[np.ndarray, str]:
    """First clip of `yes` (sorted; `keyword_spotting.audio_io.read_audio`, 16 kHz mono int16), cut or
    zero-padded to [16000], or a synthetic clip when there is none."""
    folder = data_dir / "speech_commands_dev" / "yes"
    clips = sorted(folder.glob("*.wav")) if folder.is_dir() else []
    if clips:
        pcm = read_audio(clips[0])
        out = np.zeros(SAMPLES, np.int16)
        out[: min(SAMPLES, pcm.size)] = pcm[:SAMPLES]
        return out, str(clips[0].relative_to(data_dir))
    rng = np.random.default_rng(7)
    t = np.arange(SAMPLES) / 16000.0
    sweep = 0.3 * np.sin(2 * math.pi * (300 * t + 900 * t * t)) * np.hanning(SAMPLES)
    noise = 0.01 * rng.standard_normal(SAMPLES)
    return np.round((sweep + noise) * 32767).astype(np.int16), "synthetic (sweep 300-2100 Hz + noise)"


def make_header(data_dir: Path, shape: BenchShape = BenchShape()) -> str:
    D, H, STEPS = shape.input_dim, shape.units, shape.steps  # noqa: N806 (the header's names)
    ip, _ = random_int8_params(D, H, shape.w_rank, shape.u_rank, keep=shape.keep, seed=0)
    x = random_int8_inputs(D, STEPS, 1, seed=1, zero_point=ip.input_zero_point)[0]
    prepared, scratch = shape.capacities()

    rng = np.random.default_rng(3)
    head_w = rng.normal(0.0, 1.0 / math.sqrt(H), (CLASSES, H))
    w_scale = float(np.abs(head_w).max()) / 127.0
    head_wq = np.clip(np.round(head_w / w_scale), -127, 127).astype(np.int8)
    logit_scale = 0.1
    head_bias = np.round(rng.normal(0.0, 0.5, CLASSES) / ((1.0 / 128.0) * w_scale)).astype(np.int32)
    mult, shift = fc_multiplier(1.0 / 128.0, w_scale, logit_scale)
    audio, audio_source = load_clip(data_dir)

    out = [
        "// Generated by tflm_app/m4/bench/make_bench_header.py; do not edit.\n",
        "#pragma once\n#include <cstdint>\n\nnamespace bench_model {\n\n",
        f"constexpr int32_t kInputDim = {D}, kUnits = {H}, kWRank = {shape.w_rank}, kURank = {shape.u_rank};\n",
        f"constexpr int32_t kSteps = {STEPS}, kClasses = {CLASSES}, kSamples = {SAMPLES};\n",
        f"constexpr int32_t kHopSamples = {shape.hop_samples}, kWindowSamples = {shape.window_samples};\n",
        f"constexpr unsigned kPreparedCapacity = {prepared}, kScratchCapacity = {scratch};\n",
        f"constexpr int32_t kInputZeroPoint = {ip.input_zero_point};\n",
        f"constexpr int32_t kVMultiplier = {ip.v_multiplier}, kVShift = {ip.v_shift};\n",
        f"constexpr int32_t kUMultiplier = {ip.u_multiplier}, kUShift = {ip.u_shift};\n",
        f"constexpr int32_t kPreWMultiplier = {ip.pre_w_multiplier}, "
        f"kPreUMultiplier = {ip.pre_u_multiplier}, kPreShift = {ip.pre_shift};\n",
        f"constexpr int32_t kZetaQ15 = {ip.zeta_q15}, kNuQ15 = {ip.nu_q15};\n",
        f"constexpr int32_t kHeadMultiplier = {mult}, kHeadShift = {shift};\n",
        f"constexpr float kLogitScale = {logit_scale}f;\n",
        f'constexpr const char* kAudioSource = "{audio_source}";\n\n',
        c_array("int8_t", "kW1", ip.w1),
        c_array("int8_t", "kW2", ip.w2),
        c_array("int8_t", "kU1", ip.u1),
        c_array("int8_t", "kU2", ip.u2),
        c_array("int32_t", "kBiasZ", ip.bias_z, 8),
        c_array("int32_t", "kBiasH", ip.bias_h, 8),
        c_array("int16_t", "kGateLut", ip.gate_lut),
        c_array("int16_t", "kUpdateLut", ip.update_lut),
        c_array("int8_t", "kWindowInput", x),
        c_array("int8_t", "kHeadWeights", head_wq),
        c_array("int32_t", "kHeadBias", head_bias, 8),
        "#ifdef BENCH_WITH_AUDIO\n",
        c_array("int16_t", "kAudio", audio),
        "#endif\n",
        "\n}  // namespace bench_model\n",
    ]
    return "".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    g12 = BenchShape()
    parser.add_argument("--units", type=int, default=g12.units)
    parser.add_argument("--w-rank", type=int, default=g12.w_rank)
    parser.add_argument("--u-rank", type=int, default=g12.u_rank)
    parser.add_argument("--keep", type=float, default=g12.keep, help="fraction of W and U weights kept")
    parser.add_argument("--hop", type=int, default=g12.hop_samples, help="feature hop, samples at 16 kHz")
    parser.add_argument("--window", type=int, default=g12.window_samples, help="feature window, samples")
    args = parser.parse_args(argv)
    try:
        shape = BenchShape(units=args.units, w_rank=args.w_rank, u_rank=args.u_rank, keep=args.keep,
                           hop_samples=args.hop, window_samples=args.window)
    except ValueError as e:
        parser.error(str(e))
    text = make_header(args.data, shape)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {**dataclasses.asdict(shape), "steps_per_window": shape.steps, "classes": CLASSES}
    for path, content in ((args.out.with_name("bench_model.json"), json.dumps(meta, indent=2) + "\n"),
                          (args.out, text)):
        tmp = path.with_suffix(".tmp")
        tmp.write_text(content)
        tmp.replace(path)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
