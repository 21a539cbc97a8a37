// Instruction-count benchmark of the frontend on Cortex-M4 (QEMU + tflm_app/m4 counting plugin):
//
//   make -C tflm_app/m4 elf MAIN=tflm_app/frontend/frontend_bench_main.cc OUT=build/m4/frontend_bench.elf
//   tflm_app/m4/count_qemu.sh build/m4/frontend_bench.counts build/m4/frontend_bench.elf
//
// Regions: 1 = one audio second (16000 samples pushed 160 at a time, 98 frames, default config),
//          2 = one hop (160 samples -> 1 frame) in steady state, 3 = Init, 4 = one second with n_mfcc 13,
//          5 = one second with n_fft 256, window 256 (16 ms), 32 mels (a cheaper spec, for comparison).
// Not part of the host build (needs bench_markers from tflm_app/m4).
#include <cmath>
#include <cstdint>
#include <cstdio>

#include "bench_markers.h"
#include "frontend.h"

namespace {

frontend::Frontend g_fe;
int16_t g_audio[16000 + 160];
int8_t g_out[frontend::kMaxFeatures];
int g_checksum = 0;

void OnFrame(const int8_t* f, int n, void*) {
  for (int i = 0; i < n; ++i) g_checksum += f[i];
}

void OneSecond() {
  for (int i = 0; i < 16000; i += 160) g_fe.Push(g_audio + i, 160, OnFrame, nullptr);
}

}  // namespace

int main() {
  uint32_t s = 1;
  for (int i = 0; i < 16000 + 160; ++i) {
    s = s * 1664525u + 1013904223u;
    const float tone = 0.3f * std::sin(6.2831853f * 440.0f * static_cast<float>(i) / 16000.0f);
    g_audio[i] = static_cast<int16_t>(tone * 32767.0f) + static_cast<int16_t>(static_cast<int32_t>(s) >> 22);
  }
  frontend::Config cfg;
  bench_start(3);
  const char* err = g_fe.Init(cfg);
  bench_stop(3);
  if (err != nullptr) {
    printf("init: %s\n", err);
    return 1;
  }
  bench_start(1);
  OneSecond();
  bench_stop(1);
  bench_start(2);
  const size_t frames = g_fe.Push(g_audio + 16000, 160, g_out, 1, nullptr);
  bench_stop(2);
  cfg.n_mfcc = 13;
  if ((err = g_fe.Init(cfg)) != nullptr) {
    printf("init mfcc: %s\n", err);
    return 1;
  }
  bench_start(4);
  OneSecond();
  bench_stop(4);
  cfg = frontend::Config();
  cfg.n_fft = 256;
  cfg.window_samples = 256;
  if ((err = g_fe.Init(cfg)) != nullptr) {
    printf("init n_fft 256: %s\n", err);
    return 1;
  }
  bench_start(5);
  OneSecond();
  bench_stop(5);
  printf("frontend_bench: %u frame(s) in the hop region, checksum %d\n", static_cast<unsigned>(frames),
         g_checksum);
  return frames == 1 ? 0 : 1;
}
