"""Classifies the symbols the sketch's relocatable link leaves undefined (sketch-check's `link` step).

    classify_undefined.py undefined.txt     (one demangled symbol a line, from `nm -u -C`)

Each symbol belongs to the Arduino core / mbed OS (libmbed.a and the core, absent from the public
repository's build), the C/C++ runtime (newlib, libstdc++, libgcc), or to our sources / TFLM / CMSIS-NN,
which the sketch and the library must define themselves: any of those is an error (exit 1).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

OURS = re.compile(r"^(tflite::|fastgrnn::|kws::|frontend::|head::|wakeword::|wakeword_config::|flatbuffers::|"
                  r"MicroPrintf|DebugLog|DebugVsnprintf|arm_|g_model_data|setup$|loop$)")
CORE = re.compile(r"^(arduino::|mbed::|rtos::|PDMClass|PDM\b|_UART|SerialUSB|_SerialUSB|Serial\b|"
                  r"millis|micros|delay|digitalWrite|pinMode|digitalRead|__wrap_|core_util_|NVIC_|"
                  r"mbed_|wait_us|HardwareSerial|UART)")
RUNTIME = re.compile(r"^(mem\w+|str\w+|v?s?n?printf|v?snprintf|f?puts|putchar|abort|exit|atexit|"
                     r"__aeabi_\w+|__cxa_\w+|__gxx_\w+|__dso_handle|_impure_ptr|__errno|errno|"
                     r"operator (new|delete)|std::|(sqrt|exp|log|floor|ceil|round|fabs|pow|frexp|ldexp|"
                     r"cos|sin|tanh|lround|fmod|trunc)f?$|__assert_func|__stack_chk_\w+|_ZTV\w+|"
                     r"__sync_\w+|__atomic_\w+|__(ieee754|kernel)_\w+|malloc|free|calloc|realloc|"
                     r"_exit|fflush|stderr|stdout|_(fwrite|fputs|fputc)\w*|fwrite|fputc|fputs|"
                     r"bsearch|qsort|f(max|min)f?|__(udiv|div|mul|ashl|ashr|lshr|clz|ctz|popcount|bswap)\w*)")


def classify(symbols: list[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {"ours_or_tflm": [], "core_mbed": [], "runtime": [], "other": []}
    for s in symbols:
        if OURS.match(s):
            groups["ours_or_tflm"].append(s)
        elif CORE.match(s):
            groups["core_mbed"].append(s)
        elif RUNTIME.match(s):
            groups["runtime"].append(s)
        else:
            groups["other"].append(s)
    return groups


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    symbols = [line.strip() for line in Path(argv[1]).read_text().splitlines() if line.strip()]
    groups = classify(symbols)
    print(f"sketch-check link: {len(symbols)} symbols left undefined after linking the sketch with "
          f"Arduino_TensorFlowLite (libmbed.a and the core are not in the public repository):")
    for name, syms in groups.items():
        print(f"  {name:13s} {len(syms):4d}  {', '.join(syms[:8])}{' ...' if len(syms) > 8 else ''}")
    if groups["ours_or_tflm"]:
        print("sketch-check: FAILED: symbols of our sources / TFLM / CMSIS-NN are undefined:")
        for s in groups["ours_or_tflm"]:
            print(f"  {s}")
        return 1
    print("sketch-check: every symbol of our sources, TFLM and CMSIS-NN resolves; the rest is the core's, "
          "mbed OS's (libmbed.a) or the C/C++ runtime's")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
