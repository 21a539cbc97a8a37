#!/usr/bin/env bash
# Runs every libFuzzer target of a `make fuzz` build for a bounded time, one after the other on one
# CPU core (taskset, nice), from the seeds + regression inputs, growing a corpus kept in the build dir.
#   tflm_app/fuzz/run_fuzz.sh <build dir> <seconds per target> [cpu]
# A crash, sanitizer report, timeout or out-of-memory stops with the failing input in
# <build dir>/artifacts/<target>/ (fix it, then keep it in tflm_app/fuzz/regressions/<target>/).
# Writes <build dir>/fuzz_report.txt: executions and seconds per target and in total.
set -euo pipefail
BUILD=${1:?build dir}
SECONDS_EACH=${2:?seconds per target}
CPU=${3:-1}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TARGETS="fgb_bundle wav fastgrnn_op bitmap_sparse"
REPORT="$BUILD/fuzz_report.txt"
: > "$REPORT.tmp"
total_execs=0
total_secs=0
for t in $TARGETS; do
  corpus="$BUILD/corpus/$t"
  artifacts="$BUILD/artifacts/$t/"
  mkdir -p "$corpus" "$artifacts"
  dict=()
  [ -f "$HERE/$t.dict" ] && dict=(-dict="$HERE/$t.dict")
  log="$BUILD/fuzz_$t.log"
  start=$(date +%s)
  set +e
  # -close_fd_mask=1: the targets' stdout (the fake TFLM logs every rejection there) is dropped.
  taskset -c "$CPU" nice -n 10 "$BUILD/fuzz/${t}_fuzz" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
    -close_fd_mask=1 \
    -print_final_stats=1 -artifact_prefix="$artifacts" "${dict[@]}" \
    "$corpus" "$BUILD/seeds/$t" "$HERE/regressions/$t" >"$log" 2>&1
  status=$?
  set -e
  secs=$(( $(date +%s) - start ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  execs=${execs:-0}
  total_execs=$((total_execs + execs))
  total_secs=$((total_secs + secs))
  echo "$t: $execs executions in $secs s, corpus $(ls "$corpus" | wc -l) inputs, status $status" | tee -a "$REPORT.tmp"
  if [ "$status" -ne 0 ]; then
    echo "fuzz: $t FAILED (status $status); log $log, input(s) in $artifacts:" >&2
    grep -E "ERROR|SUMMARY|FUZZ_CHECK|runtime error|Test unit written" "$log" | head -n 20 >&2
    mv "$REPORT.tmp" "$REPORT"
    exit 1
  fi
done
echo "total: $total_execs executions in $total_secs s on CPU $CPU, 0 crashes / sanitizer reports / timeouts" \
  | tee -a "$REPORT.tmp"
mv "$REPORT.tmp" "$REPORT"
