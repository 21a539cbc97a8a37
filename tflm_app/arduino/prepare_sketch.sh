#!/usr/bin/env bash
# Fills tflm_app/arduino/nano33ble_wakeword/src/ (generated, git-ignored) so arduino-cli can build
# the sketch: the tested C++ of tflm_app/{fastgrnn,frontend,detector,head,pipeline,tflm,arduino/glue}
# (.cc renamed .cpp, the only extension arduino-cli compiles), the model as model_data.cpp/.h
# (written by fastgrnn_tf/export/c_array.py) and wakeword_config.h (feature spec, detector parameters
# and class names, read from the model's .fgb bundle when there is one).
#
#   tflm_app/arduino/prepare_sketch.sh [--model-dir build/demo] [--bundle FILE.fgb]
#       [--keywords 2,3] [--classes silence,unknown,yes,no] [--impl cortex-m4|reference] [--out DIR]
#
# --keywords/--classes override the bundle (needed when there is no bundle); --out writes the
# tree elsewhere than the sketch's src/ (tests). See BUILD.md.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
APP=$(cd "$HERE/.." && pwd)
ROOT=$(cd "$APP/.." && pwd)
SKETCH="$HERE/nano33ble_wakeword"
SRC="$SKETCH/src"

MODEL_DIR="$ROOT/build/demo"
BUNDLE=""
KEYWORDS=""
CLASSES=""
IMPL="cortex-m4"

die() { echo "prepare_sketch.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --model-dir) MODEL_DIR="${2:?--model-dir needs a directory}"; shift 2 ;;
    --bundle) BUNDLE="${2:?--bundle needs a file}"; shift 2 ;;
    --keywords) KEYWORDS="${2:?--keywords needs class indices like 2,3}"; shift 2 ;;
    --classes) CLASSES="${2:?--classes needs names like silence,unknown,yes}"; shift 2 ;;
    --impl) IMPL="${2:?--impl needs cortex-m4 or reference}"; shift 2 ;;
    --out) SRC="${2:?--out needs a directory}"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

[ -f "$MODEL_DIR/model_data.cc" ] && [ -f "$MODEL_DIR/model_data.h" ] ||
  die "no model_data.cc/.h in '$MODEL_DIR' (run 'make demo' or kws-export first, or pass --model-dir)"
if [ -z "$BUNDLE" ] && [ -f "$MODEL_DIR/model.fgb" ]; then
  BUNDLE="$MODEL_DIR/model.fgb"
elif [ -z "$BUNDLE" ]; then
  BUNDLE=$(find "$MODEL_DIR" -maxdepth 1 -name '*.fgb' -print 2>/dev/null | sort | head -n 1)
fi
[ -z "$BUNDLE" ] || [ -f "$BUNDLE" ] || die "bundle '$BUNDLE' does not exist"
# Optimized variants: ../variants.txt pairs each portable source with its Cortex-M4 sibling.
case "$IMPL" in
  cortex-m4) VARIANT_COLUMN=2 ;;
  reference) VARIANT_COLUMN=1 ;;
  *) die "--impl must be cortex-m4 or reference, got '$IMPL'" ;;
esac
VARIANT_FILES=$(sed -e 's/#.*//' "$APP/variants.txt" | awk 'NF { print $1; print $2 }')
CHOSEN_VARIANTS=$(sed -e 's/#.*//' "$APP/variants.txt" | awk -v c="$VARIANT_COLUMN" 'NF { print $c }')
for f in $CHOSEN_VARIANTS; do [ -f "$APP/$f" ] || die "missing $APP/$f (use --impl reference?)"; done

# The array c_array.py declares in model_data.h (first unsigned char/uint8_t array).
MODEL_ARRAY=$(grep -oE '(unsigned char|uint8_t)[^;=]*\b[A-Za-z_][A-Za-z0-9_]*\s*\[' "$MODEL_DIR/model_data.h" |
  head -n 1 | sed -E 's/.*\b([A-Za-z_][A-Za-z0-9_]*)\s*\[$/\1/')
[ -n "$MODEL_ARRAY" ] || die "cannot find the model array declaration in $MODEL_DIR/model_data.h"

# Copy one component: headers and sources, without tests, host tools, bundle readers and the
# variants not chosen (of each variants.txt pair, only the --impl one).
copy_component() {  # <from dir> <to dir> [extra find exclusions...]
  local from="$1" to="$2"; shift 2
  mkdir -p "$to"
  find "$from" -maxdepth 1 -type f \( -name '*.h' -o -name '*.cc' \) \
    ! -name '*_test.cc' ! -name '*_main.cc' ! -name '*_replay.cc' ! -name '*_bundle.*' "$@" -print |
    while read -r f; do
      local base rel; base=$(basename "$f"); rel=${f#"$APP/"}
      if grep -qxF "$rel" <<<"$VARIANT_FILES" && ! grep -qxF "$rel" <<<"$CHOSEN_VARIANTS"; then continue; fi
      cp "$f" "$to/${base%.cc}$( [[ "$base" == *.cc ]] && echo .cpp )"
    done
}

mkdir -p "$(dirname "$SRC")"
TMP=$(mktemp -d "$(dirname "$SRC")/.src.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
copy_component "$APP/fastgrnn" "$TMP/fastgrnn"
copy_component "$APP/frontend" "$TMP/frontend"
copy_component "$APP/detector" "$TMP/detector"
copy_component "$APP/head" "$TMP/head"
copy_component "$APP/pipeline" "$TMP/pipeline"
copy_component "$APP/tflm" "$TMP/tflm"
copy_component "$HERE/glue" "$TMP/arduino/glue"
cp "$MODEL_DIR/model_data.cc" "$TMP/model_data.cpp"
cp "$MODEL_DIR/model_data.h" "$TMP/model_data.h"

PY="$ROOT/.venv/bin/python"
[ -x "$PY" ] || PY=python3
(cd "$ROOT" && "$PY" - "$TMP/wakeword_config.h" "$BUNDLE" "$KEYWORDS" "$CLASSES" "$MODEL_ARRAY" <<'PYEOF'
"""Writes wakeword_config.h from a .fgb bundle (fastgrnn_tf/export/bundle_spec.md) or the spec defaults.

The bundle is read by fastgrnn_tf.export.bundle (numpy only: no TensorFlow import).
"""
import sys

import numpy as np

from fastgrnn_tf.export.bundle import read_bundle, text

out, bundle, keywords, classes, array = sys.argv[1:6]


features = {"sample_rate": 16000, "window_samples": 400, "hop_samples": 160, "n_fft": 512, "n_mels": 32,
            "n_mfcc": 0, "fmin": 20.0, "fmax": 8000.0, "log_floor": 1e-6, "quant_scale": 0.1,
            "quant_offset": -1.2, "channel_norm": 0.0, "channel_norm_smoothing": 0.025}
detector = {"window_frames": 30, "threshold": 160, "refractory_frames": 100, "min_frames": -1}
kw, names = [1], []
if bundle:
    try:
        b = read_bundle(bundle)
    except (OSError, ValueError) as e:
        sys.exit(f"prepare_sketch.sh: {e}")
    for k in features:
        if f"features.{k}" in b:
            v = b[f"features.{k}"].item()
            # float32 in the bundle: keep its shortest decimal (0.1, not 0.10000000149011612)
            features[k] = int(v) if isinstance(features[k], int) else float(str(np.float32(v)))
    for k in detector:
        if f"detector.{k}" in b:
            detector[k] = int(b[f"detector.{k}"].item())
    if "detector.keywords" in b:
        kw = [int(v) for v in b["detector.keywords"].reshape(-1)]
    if "classes" in b:
        names = text(b["classes"]).split("\n")
if keywords:
    kw = [int(v) for v in keywords.split(",")]
if classes:
    names = classes.split(",")
if not names:
    sys.exit("prepare_sketch.sh: no class names: pass --classes or a --bundle with 'classes'")
if not kw or min(kw) < 0 or max(kw) >= len(names):
    sys.exit(f"prepare_sketch.sh: keywords {kw} are not class indices of {names}")
ints = ("sample_rate", "window_samples", "hop_samples", "n_fft", "n_mels", "n_mfcc")
camel = {k: "k" + "".join(p.capitalize() for p in k.split("_")) for k in list(features) + list(detector)}
camel.update(n_fft="kNFft", n_mels="kNMels", n_mfcc="kNMfcc")
lines = [f"// Generated by tflm_app/arduino/prepare_sketch.sh from {bundle or 'the spec defaults'}; do not edit.",
         "#pragma once", "#include <cstdint>", '#include "model_data.h"', "", "namespace wakeword_config {", ""]
lines += [f"inline const void* ModelData() {{ return {array}; }}", ""]
for k, v in features.items():
    lines.append(f"constexpr int32_t {camel[k]} = {v};" if k in ints else f"constexpr double {camel[k]} = {v!r};")
for k, v in detector.items():
    lines.append(f"constexpr int32_t {camel[k]} = {v};")
lines.append(f"constexpr int32_t kNumKeywords = {len(kw)};")
lines.append("constexpr int32_t kKeywords[] = {" + ", ".join(map(str, kw)) + "};")
lines.append(f"constexpr int32_t kNumClasses = {len(names)};")
lines.append("constexpr const char* kClassNames[] = {" + ", ".join(f'"{n}"' for n in names) + "};")
lines += ["", "}  // namespace wakeword_config", ""]
with open(out, "w") as f:
    f.write("\n".join(lines))
PYEOF
)

rm -rf "$SRC"
mv "$TMP" "$SRC"
trap - EXIT
echo "prepared $SRC (core: $IMPL, model array: $MODEL_ARRAY${BUNDLE:+, config from $BUNDLE})"
