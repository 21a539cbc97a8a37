#!/usr/bin/env bash
# Runs an ELF under QEMU with the insn_count plugin and writes its per-region report.
#
#   count_qemu.sh [--profile REGION] REPORT ELF [ARGS...]
#
# The plugin arguments (address of g_bench_marks, range of the marker code) come from the
# ELF's symbols. Exit status: the program's (see run_qemu.sh). Needs build/m4/plugin/libinsn_count.so
# (make -C tflm_app/m4 plugin).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
plugin="${INSN_COUNT_PLUGIN:-$root/build/m4/plugin/libinsn_count.so}"
extra=""
if [[ "${1:-}" == "--profile" ]]; then
  extra=",profile=$2"
  shift 2
fi
if [[ $# -lt 2 ]]; then
  echo "usage: $0 REPORT ELF [ARGS...]" >&2
  exit 2
fi
report="$1"
elf="$2"
shift 2
[[ -f "$plugin" ]] || { echo "count_qemu.sh: missing $plugin (make -C tflm_app/m4 plugin)" >&2; exit 2; }
sym() {
  local v
  v="$(arm-none-eabi-nm "$elf" | awk -v s="$1" '$3 == s { print $1 }')"
  [[ -n "$v" ]] || { echo "count_qemu.sh: symbol $1 not in $elf" >&2; exit 2; }
  echo "0x$v"
}
marks="$(sym g_bench_marks)"
lo="$(sym __bench_markers_start)"
hi="$(sym __bench_markers_end)"
rm -f "$report"
exec "$here/run_qemu.sh" --plugin "$plugin,marks=$marks,code=$lo-$hi,out=$report$extra" "$elf" "$@"
