#!/usr/bin/env bash
# kws_host of a sanitizer build on every seed model x every seed WAV (chunk sizes 1..512), on
# features text, and on inputs it must reject with exit 2 (missing, truncated or corrupted files):
# any sanitizer report or other exit status fails.
#   tflm_app/fuzz/sanitize_kws_host.sh build/host-asan/host/kws_host build/host-asan/seeds
set -euo pipefail
EXE=${1:?kws_host}
SEEDS=${2:?seeds dir (make_seeds.py)}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
runs=0
expect() {  # <status> args...
  local want=$1; shift
  set +e
  "$EXE" "$@" >"$TMP/out" 2>"$TMP/err"
  local got=$?
  set -e
  runs=$((runs + 1))
  if [ "$got" -ne "$want" ]; then
    echo "sanitize_kws_host: kws_host $* exited $got, expected $want" >&2
    cat "$TMP/err" >&2
    exit 1
  fi
}
chunks=(1 160 512 7)
i=0
for model in "$SEEDS"/fgb_bundle/*.fgb; do
  for wav in "$SEEDS"/wav/*.wav; do
    [ "$(basename "$wav")" = empty.wav ] && continue  # rejected by design (below)
    expect 0 --model "$model" --wav "$wav" --chunk "${chunks[$((i % 4))]}" --quiet --scores "$TMP/s.txt" \
      --features "$TMP/f.txt"
    i=$((i + 1))
  done
  expect 0 --model "$model" --features-in "$TMP/f.txt" --quiet
  head -c 100 "$model" >"$TMP/truncated.fgb"
  expect 2 --model "$TMP/truncated.fgb" --wav "$SEEDS/wav/chirp.wav"
  { printf 'FGB1\377\377\377\377'; tail -c +9 "$model"; } >"$TMP/huge_count.fgb"
  expect 2 --model "$TMP/huge_count.fgb" --wav "$SEEDS/wav/chirp.wav"
done
model=$(ls "$SEEDS"/fgb_bundle/*.fgb | head -n 1)
head -c 30 "$SEEDS/wav/chirp.wav" >"$TMP/truncated.wav"
expect 2 --model "$model" --wav "$TMP/truncated.wav"
expect 2 --model "$model" --wav "$SEEDS/wav/empty.wav"
expect 2 --model "$model" --wav "$TMP/missing.wav"
expect 2 --model "$TMP/missing.fgb" --wav "$SEEDS/wav/chirp.wav"
echo "sanitize_kws_host: $runs kws_host runs, no sanitizer report"
