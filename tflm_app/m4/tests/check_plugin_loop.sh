#!/usr/bin/env bash
# Runs plugin_loop_test.elf under the insn_count plugin twice and checks the counts:
# region(n) = 4 n + c (c constant and small), nesting adds up, and runs are reproducible.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
elf="$1"
out="$2"
"$here/count_qemu.sh" "$out.1" "$elf" >/dev/null
"$here/count_qemu.sh" "$out.2" "$elf" >/dev/null
cmp -s "$out.1" "$out.2" || { echo "plugin: two runs differ"; diff "$out.1" "$out.2"; exit 1; }
get() { awk -v r="$1" -v f="$2" '$1 == "region" && $2 == r { for (i = 3; i < NF; i += 2) if ($i == f) print $(i + 1) }' "$out.1"; }
r0=$(get 0 insns); r1=$(get 1 insns); r2=$(get 2 insns); r3=$(get 3 insns); r9=$(get 9 insns)
r4min=$(get 4 min); r4max=$(get 4 max); r4calls=$(get 4 calls)
c1=$((r1 - 4 * 10)); c2=$((r2 - 4 * 1000)); c3=$((r3 - 4 * 100000))
echo "plugin: empty region = $r0 insns; spin(10)=$r1 spin(1000)=$r2 spin(100000)=$r3 -> 4n + $c1"
fail=0
[[ $c1 -eq $c2 && $c2 -eq $c3 ]] || { echo "FAIL: constant differs: $c1 $c2 $c3"; fail=1; }
[[ $c1 -gt $r0 && $c1 -lt $((r0 + 16)) ]] || { echo "FAIL: c=$c1 not just above the empty region $r0"; fail=1; }
[[ $r9 -ge $((r1 + r2 + r3)) && $r9 -lt $((r1 + r2 + r3 + 64)) ]] || { echo "FAIL: nesting $r9 vs $((r1 + r2 + r3))"; fail=1; }
[[ $r4calls -eq 5 && $r4min -eq $r4max && $r4min -eq $r2 ]] || { echo "FAIL: repeat $r4calls $r4min $r4max vs $r2"; fail=1; }
# Profile mode: per-address counts of region 2 (spin(1000)) add up to the region's count and
# the 4 loop instructions ran exactly 1000 times each.
"$here/count_qemu.sh" --profile 2 "$out.p" "$elf" >/dev/null
psum=$(awk '$1 == "pc" { s += $3 } END { print s + 0 }' "$out.p")
loop=$(awk '$1 == "pc" && $3 == 1000 { n++ } END { print n + 0 }' "$out.p")
[[ $psum -eq $r2 && $loop -eq 4 ]] || { echo "FAIL: profile sum $psum (want $r2), $loop addresses ran 1000 times (want 4)"; fail=1; }
[[ $fail -eq 0 ]] && echo "plugin: profile of spin(1000) sums to $psum with 4 addresses x 1000"
[[ $fail -eq 0 ]] && echo "plugin: OK (exact: 4 instructions per iteration, overhead $c1)"
exit $fail
