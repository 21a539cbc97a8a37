"""The frontend's Cortex-M4 build (with its inline assembly, `FRONTEND_ARM_ASM`, selected by the target in
tflm_app/frontend/frontend_internal.h) against the host build (portable C++): the same `frontend_dump`
program, cross-compiled by tflm_app/m4 and run under QEMU (semihosting file I/O), must write the same int8
and float32 features byte for byte, for several configs and chunk sizes, on synthetic and real audio."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import REPO_ROOT, build_host_target

DATA = REPO_ROOT.parent / "shared" / "data"
M4_ELF = REPO_ROOT / "build" / "m4" / "frontend_dump.elf"
CONFIGS = {"default": [], "mfcc13": ["--set", "n_mfcc=13"], "fft256": ["--set", "n_fft=256", "--set",
                                                                     "window_samples=256"],
           "channel_norm": ["--set", "channel_norm=1", "--set", "quant_offset=0"]}


@pytest.fixture(scope="module")
def exes() -> tuple[Path, Path]:
    """(host frontend_dump, Cortex-M4 frontend_dump ELF)."""
    for tool in ("arm-none-eabi-g++", "qemu-system-arm"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (make setup installs it)")
    host = build_host_target("frontend_dump")
    r = subprocess.run(["make", "-s", "-C", str(REPO_ROOT / "tflm_app" / "m4"), "elf",
                        "MAIN=tflm_app/frontend/frontend_dump_main.cc", f"OUT={M4_ELF}", "LIBC=full"],
                       capture_output=True, text=True)
    assert r.returncode == 0, f"Cortex-M4 build of frontend_dump failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return host, M4_ELF


def _clips(tmp: Path) -> list[Path]:
    rng = np.random.default_rng(11)
    t = np.arange(16000) / 16000
    chirp = 0.4 * np.sin(2 * np.pi * (200 + 3000 * t) * t) + 0.02 * rng.standard_normal(t.size)
    loud = np.clip(3.0 * rng.standard_normal(12345), -1, 1)  # clipping, odd length
    paths = []
    for name, y in (("chirp", chirp), ("loud", loud), ("silence", np.zeros(8000))):
        paths.append(tmp / f"{name}.wav")
        sf.write(str(paths[-1]), y, 16000, subtype="PCM_16")
    # 1-s word clips (a minute of background noise would not fit the board's RAM as one buffer)
    words = [p for p in sorted(DATA.glob("speech_commands_dev/*/*.wav")) if not p.parent.name.startswith("_")]
    real = words[::311][:4] if DATA.is_dir() else []
    return paths + real


def test_m4_frontend_equals_host_bit_for_bit(exes, tmp_path: Path) -> None:
    host, m4 = exes
    disasm = subprocess.run(["arm-none-eabi-objdump", "-d", str(m4)], capture_output=True, text=True).stdout
    assert "vldmia" in disasm  # the assembly paths (VLDM in the mel dot products) are in the ELF
    compared = 0
    for wav in _clips(tmp_path):
        for config, sets in CONFIGS.items():
            for chunk in ("160", "0"):
                outs = []
                for exe, build in ((host, "host"), (m4, "m4")):
                    tag = f"{wav.stem}_{config}_{chunk}_{build}"
                    out, flt = tmp_path / f"{tag}.bin", tmp_path / f"{tag}.f32"
                    cmd = [str(exe), "--chunk", chunk, *sets, "--float", str(flt), str(wav), str(out)]
                    if exe == m4:
                        cmd = [str(REPO_ROOT / "tflm_app" / "m4" / "run_qemu.sh"), "--timeout", "120", *cmd]
                    r = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT)
                    assert r.returncode == 0, f"{cmd}: {r.stdout[-2000:]}{r.stderr[-2000:]}"
                    outs.append((out.read_bytes(), flt.read_bytes()))
                assert outs[0][0] and outs[0] == outs[1], f"{wav.name} {config} chunk {chunk}: M4 != host"
                compared += len(outs[0][0])
    print(f"Cortex-M4 frontend = host frontend on {compared} int8 features (and their float32 values)")
    assert compared > 10000
