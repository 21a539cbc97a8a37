#!/usr/bin/env bash
# Runs a Cortex-M4 ELF bare-metal on QEMU mps2-an386 and exits with the program's status.
#
#   run_qemu.sh [--timeout SECONDS] [--plugin SO[,key=value...]] ELF [ARGS...]
#
# ARGS reach main(argc, argv) through semihosting (argv[0] is the ELF path); host files are
# opened through semihosting, relative to the current directory. stdout/stderr of the program
# go to this script's stdout/stderr. Exit status: the program's, 124 on timeout, 134 on an
# unexpected CPU exception (Default_Handler). QEMU_TIMEOUT (default 120 s) sets the timeout.
set -euo pipefail

timeout_s="${QEMU_TIMEOUT:-120}"
plugin=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --timeout) timeout_s="$2"; shift 2 ;;
    --plugin) plugin=(-plugin "$2"); shift 2 ;;
    --) shift; break ;;
    *) break ;;
  esac
done
if [[ $# -lt 1 ]]; then
  echo "usage: $0 [--timeout S] [--plugin SO[,k=v...]] ELF [ARGS...]" >&2
  exit 2
fi
elf="$1"
shift
if [[ ! -f "$elf" ]]; then
  echo "run_qemu.sh: no such ELF: $elf" >&2
  exit 2
fi

# QEMU option values escape ',' as ',,'.
semi="enable=on,target=native"
for a in "$elf" "$@"; do
  if [[ "$a" == *" "* ]]; then
    echo "run_qemu.sh: arguments with spaces are not supported: '$a'" >&2
    exit 2
  fi
  semi+=",arg=${a//,/,,}"
done

set +e
timeout -k 5 "$timeout_s" qemu-system-arm -M mps2-an386 -cpu cortex-m4 -nographic \
  -monitor none -serial null -semihosting-config "$semi" "${plugin[@]}" -kernel "$elf" </dev/null
status=$?
set -e
if [[ $status -eq 124 ]]; then
  echo "run_qemu.sh: TIMEOUT after ${timeout_s}s: $elf" >&2
fi
exit $status
