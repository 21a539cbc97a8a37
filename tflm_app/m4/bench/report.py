"""Turns the insn_count plugin reports of the Cortex-M4 benchmark into build/bench/m4_counts.json.

Inputs (build/m4/bench/, from bench.mk): per implementation (`reference`, `m4`)
  bench_<impl>.counts   region report of `bench_<impl>.elf all`
  bench_<impl>.log      the program's stdout (MACs per step, scratch and prepared bytes)
  bench_<impl>.profile  per-address counts of region 1 (streaming FastGRNN steps)
  pipeline_size_<impl>.elf  footprint build (arm-none-eabi-size)
Region ids: see bench_main.cc. Every per-call figure has the marker overhead (region 0, an empty
region) subtracted.

The matvec core (int8_step_spec.md steps 1-3) is separated from the element-wise part (steps 4-9)
by attributing every executed instruction address of the step profile to source with
`arm-none-eabi-addr2line -i` (inlining chain): an address whose chain contains one of the
element-wise helpers of fastgrnn_int8_common.h (ElementwiseUnit, PreActivation, LutLookup,
UpdateUnit) is element-wise; any other address in tflm_app/fastgrnn/ is the matvec core,
including the requantization of the low-rank intermediates and all loop bookkeeping of Run
(so the per-MAC figure is an upper bound); anything else (memcpy, markers) is "other".
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ELEMENTWISE_FUNCS = ("ElementwiseUnit", "PreActivation", "LutLookup", "UpdateUnit", "Elementwise")
KERNEL_DIR = "tflm_app/fastgrnn/"
TARGETS = {
    "matvec_instructions_per_mac": 1.0,
    "g12_window_instructions": 1.0e6,
    "pipeline_instructions_per_audio_second": 3.0e6,
    "pipeline_instructions_per_audio_second_channel_norm": 3.0e6,
}
METHOD = (
    "QEMU 7.2 mps2-an386 (Cortex-M4F) running the nRF52840 build (-O2, arm-none-eabi-gcc 12.2); "
    "tflm_app/m4/plugin/insn_count.c counts retired guest instructions between bench_start(id) and "
    "bench_stop(id) marker stores (exact, verified on a 4-instruction loop); per-call figures have "
    "the empty-region marker overhead subtracted. Model: G12 shape (D=32, H=100, w_rank 16, "
    "u_rank 25, 30% weights kept) from fastgrnn_tf.int8.quantize.random_int8_params, compiled in. "
    "Step = fastgrnn::Run with T=1 (state carried), averaged over 99 calls; window = one Run with "
    "T=99. matvec per MAC: a per-address profile of the 99 steps is attributed to source with "
    "addr2line -i and objdump: addresses inside an element-wise helper (ElementwiseUnit/"
    "PreActivation/LutLookup/UpdateUnit of fastgrnn_int8_common.h or the kernel's Elementwise*) "
    "are element-wise (int8_step_spec steps 4-9); every other address of the kernel (its .cc "
    "lines or functions, incl. file-scope asm matvec kernels) is matvec core (steps 1-3, incl. "
    "input/state widening, low-rank requantization and loop bookkeeping, so an upper bound), "
    "divided by fastgrnn::MacsPerStep; the rest (memcpy) is other. Pipeline = 100 hops of 160 "
    "samples of a 1-s clip after priming the frontend with 240 samples: frontend Push + Run(T=1) "
    "+ head::Run + head::Scores + Detector::Push, no inner markers; a second pass with per-stage "
    "markers gives the breakdown. Instructions are not cycles: on the M4, loads, taken branches, "
    "LDM and 64-bit multiplies take more than one cycle."
)


@dataclass
class Region:
    calls: int
    insns: int
    min: int
    max: int


def read_counts(path: Path) -> tuple[dict[int, Region], dict[int, int]]:
    regions: dict[int, Region] = {}
    profile: dict[int, int] = {}
    for line in path.read_text().splitlines():
        f = line.split()
        if f and f[0] == "region":
            regions[int(f[1])] = Region(int(f[3]), int(f[5]), int(f[7]), int(f[9]))
        elif f and f[0] == "pc":
            profile[int(f[1], 16)] = int(f[2])
    return regions, profile


def per_call(regions: dict[int, Region], rid: int) -> float:
    r = regions[rid]
    overhead = regions[0].insns if 0 in regions else 0
    return (r.insns - r.calls * overhead) / r.calls


def total(regions: dict[int, Region], rid: int) -> int:
    r = regions[rid]
    overhead = regions[0].insns if 0 in regions else 0
    return r.insns - r.calls * overhead


def kernel_functions(obj: Path) -> set[str]:
    """Functions defined in the FastGRNN implementation's object (incl. file-scope asm kernels)."""
    out = subprocess.run(["arm-none-eabi-nm", "-C", "--defined-only", str(obj)], check=True,
                         capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        f = line.split(maxsplit=2)
        if len(f) == 3 and f[1] in "tT":
            names.add(f[2].replace("(anonymous namespace)", "{anon}").split("(")[0])
    return names


def attribute(elf: Path, profile: dict[int, int], kernel_funcs: set[str]) -> dict[str, int]:
    """Instruction counts of the profile split into matvec / elementwise / other by source."""
    funcs = {a: f for a, (_, f) in disassemble(elf).items()}
    addrs = sorted(profile)
    out = subprocess.run(
        ["arm-none-eabi-addr2line", "-e", str(elf), "-i", "-f", "-C", "-a"] + [hex(a) for a in addrs],
        check=True, capture_output=True, text=True).stdout.splitlines()
    chains: dict[int, list[tuple[str, str]]] = {}
    current = -1
    i = 0
    while i < len(out):
        line = out[i]
        if re.fullmatch(r"0x[0-9a-f]+", line):
            current = int(line, 16)
            chains[current] = []
            i += 1
            continue
        func, loc = line, out[i + 1] if i + 1 < len(out) else "??:0"
        chains[current].append((func, loc))
        i += 2
    split = {"matvec": 0, "elementwise": 0, "other": 0}
    for addr, count in profile.items():
        chain = chains.get(addr, [])
        if any(any(name in func for name in ELEMENTWISE_FUNCS) for func, _ in chain):
            split["elementwise"] += count
        elif any(KERNEL_DIR in loc for _, loc in chain) or funcs.get(addr) in kernel_funcs:
            split["matvec"] += count
        else:
            split["other"] += count
    return split


def disassemble(elf: Path) -> dict[int, tuple[str, str]]:
    """address -> (instruction text, function name) from arm-none-eabi-objdump -d."""
    dump = subprocess.run(["arm-none-eabi-objdump", "-d", "--no-show-raw-insn", "-C", str(elf)],
                          check=True, capture_output=True, text=True).stdout
    insn: dict[int, tuple[str, str]] = {}
    func = ""
    for line in dump.splitlines():
        m = re.match(r"^([0-9a-f]+) <(.*)>:$", line)
        if m:
            func = m.group(2).replace("(anonymous namespace)", "{anon}").split("(")[0]
            continue
        m = re.match(r"^\s+([0-9a-f]+):\s+(.*)$", line)
        if m:
            insn[int(m.group(1), 16)] = (m.group(2).strip(), func)
    return insn


def top_functions(elf: Path, profile: dict[int, int], limit: int = 12) -> dict[str, int]:
    """Instructions per function (after inlining) of a profile, largest first."""
    insn = disassemble(elf)
    per_func: dict[str, int] = {}
    for addr, count in profile.items():
        func = insn.get(addr, ("?", "?"))[1]
        per_func[func] = per_func.get(func, 0) + count
    return dict(sorted(per_func.items(), key=lambda kv: -kv[1])[:limit])


def hot_listing(elf: Path, profile: dict[int, int], steps: int, limit: int = 60) -> str:
    """The most executed instructions of the step (per step), in address order, disassembled."""
    insn = {a: f"{text:40s} <{func}>" for a, (text, func) in disassemble(elf).items()}
    hot = sorted(profile, key=lambda a: -profile[a])[:limit]
    lines = [f"# top {len(hot)} instruction addresses of one FastGRNN step (executions per step)"]
    for addr in sorted(hot):
        lines.append(f"{addr:08x} {profile[addr] / steps:8.1f}  {insn.get(addr, '?')}")
    return "\n".join(lines) + "\n"


def read_log(path: Path) -> dict[str, str]:
    text = path.read_text()
    fields = dict(re.findall(r"(\w+)=(\S+)", text))
    m = re.search(r"pipeline over (\S+(?: \([^)]*\))?): (\d+) hops, (\d+) detections", text)
    if m:
        fields["audio_source"] = m.group(1)
        fields["detections"] = m.group(3)
    return fields


def size_of(elf: Path) -> dict[str, int]:
    out = subprocess.run(["arm-none-eabi-size", "-B", str(elf)], check=True, capture_output=True,
                         text=True).stdout.splitlines()
    text, data, bss = (int(v) for v in out[1].split()[:3])
    return {"flash_bytes": text + data, "ram_bytes": data + bss, "text": text, "data": data, "bss": bss}


def impl_results(build: Path, impl: str) -> dict[str, object]:
    regions, _ = read_counts(build / f"bench_{impl}.counts")
    _, profile = read_counts(build / f"bench_{impl}.profile")
    log = read_log(build / f"bench_{impl}.log")
    macs = int(log["macs_per_step"])
    source = "fastgrnn_int8_cortex_m4.cc" if impl == "m4" else "fastgrnn_int8_reference.cc"
    kernel_obj = build.parent / "obj" / impl / "tflm_app" / "fastgrnn" / f"{source}.o"
    split = attribute(build / f"bench_{impl}.elf", profile, kernel_functions(kernel_obj))
    steps = regions[1].calls
    profiled = sum(profile.values())
    if profiled != regions[1].insns:
        raise SystemExit(f"{impl}: profile covers {profiled} instructions, region 1 has {regions[1].insns}")
    size = size_of(build / f"pipeline_size_{impl}.elf")
    hot_path = build / f"hot_{impl}.txt"
    hot_path.write_text(hot_listing(build / f"bench_{impl}.elf", profile, steps))
    _, pipe_profile = read_counts(build / f"bench_{impl}.pipeprofile")
    stage = {name: total(regions, rid) for name, rid in
             (("frontend", 11), ("fastgrnn_step", 12), ("head_and_scores", 13), ("detector", 14))}
    return {
        "implementation": log.get("implementation", impl),
        "macs_per_step": macs,
        "fastgrnn_step_instructions": round(per_call(regions, 1), 1),
        "matvec_instructions_per_step": round(split["matvec"] / steps, 1),
        "elementwise_instructions_per_step": round(split["elementwise"] / steps, 1),
        "other_instructions_per_step": round(split["other"] / steps, 1),
        "matvec_instructions_per_mac": round(split["matvec"] / steps / macs, 3),
        "step_instructions_per_mac": round(per_call(regions, 1) / macs, 3),
        "g12_window_instructions": total(regions, 2),
        "prepare_weights_instructions": total(regions, 3),
        "pipeline_instructions_per_audio_second": total(regions, 10),
        "pipeline_instructions_per_audio_second_channel_norm": total(regions, 15) if 15 in regions else None,
        "pipeline_hop_instructions_min_max": [regions[10].min - regions[0].insns,
                                              regions[10].max - regions[0].insns],
        "pipeline_breakdown_per_audio_second": stage,
        "pipeline_top_functions_per_audio_second": top_functions(build / f"bench_{impl}.elf", pipe_profile),
        "kernel_prepared_bytes": int(log["prepared_bytes"]),
        "kernel_scratch_bytes": int(log["scratch_bytes"]),
        "flash_bytes": size["flash_bytes"],
        "ram_bytes": size["ram_bytes"],
        "size_detail": size,
        "hot_instructions_listing": str(hot_path),
        "audio_source": log.get("audio_source", "?"),
        "detections_in_clip": int(log.get("detections", "0")),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=Path, required=True)
    parser.add_argument("--impls", nargs="+", required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    per_impl = {impl: impl_results(args.build, impl) for impl in args.impls}
    m4 = per_impl.get("m4")
    ref = per_impl["reference"]
    result: dict[str, object] = {}
    headline = ("matvec_instructions_per_mac", "g12_window_instructions",
                "pipeline_instructions_per_audio_second", "pipeline_instructions_per_audio_second_channel_norm",
                "fastgrnn_step_instructions",
                "step_instructions_per_mac")
    for key in headline:
        result[key] = m4[key] if m4 else None
        result[f"{key}_reference"] = ref[key]
    main_impl = m4 or ref
    result["flash_bytes"] = main_impl["flash_bytes"]
    result["ram_bytes"] = main_impl["ram_bytes"]
    result["ram_stack_reserved_bytes"] = 16384
    result["kernel_prepared_bytes"] = m4["kernel_prepared_bytes"] if m4 else None
    result["kernel_scratch_bytes"] = m4["kernel_scratch_bytes"] if m4 else None
    result["kernel_prepared_bytes_reference"] = ref["kernel_prepared_bytes"]
    result["kernel_scratch_bytes_reference"] = ref["kernel_scratch_bytes"]
    result["targets"] = {
        key: {"limit": limit, "m4": result[key], "met": (result[key] is not None and result[key] <= limit)}
        for key, limit in TARGETS.items()
    }
    shape_file = args.build / "gen" / "bench_model.json"  # written by make_bench_header.py with the header
    shape = json.loads(shape_file.read_text()) if shape_file.is_file() else {
        "input_dim": 32, "units": 100, "w_rank": 16, "u_rank": 25, "keep": 0.3, "hop_samples": 160,
        "window_samples": 400, "steps_per_window": 99, "classes": 12}
    result["model"] = {**shape, "macs_per_step": ref["macs_per_step"]}
    if shape.get("units") != 100 or shape.get("hop_samples", 160) != 160 or shape.get("w_rank") != 16:
        result["shape_note"] = ("not the Google-12 shape the method text describes: the model and framing are "
                                "result.model (make_bench_header.py --units/--w-rank/--u-rank/--keep/--hop/--window); "
                                "the pipeline is 1 s of audio in hops of hop_samples, the window one Run of "
                                "steps_per_window steps")
    result["size_build"] = ("build/m4/bench/pipeline_size_<impl>.elf: frontend + FastGRNN + head + scores + "
                            "detector with compiled-in G12 weights, no printf; flash = text + data, "
                            "ram = data + bss (the 16 KB stack reserve is extra)")
    if not m4:
        result["note"] = "tflm_app/fastgrnn/fastgrnn_int8_cortex_m4.cc absent: M4 path not measured"
    result["method"] = METHOD
    result["per_implementation"] = per_impl
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2)
    args.out.write_text(text + "\n")
    print(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
