// Footprint build of the sketch's model path (`make firmware-m4` reports its flash and RAM): what
// nano33ble_wakeword.ino links besides the Arduino core and mbed OS, i.e. wakeword::SetupFirmware (TFLM
// interpreter, FastGRNN op, head kernels, model, frontend, detector) and one loop() of silence per hop
// through the same SampleRing. No file I/O, no printf of its own.
#include <cstdint>

#include "arduino/glue/wakeword_firmware.h"
#include "arduino/glue/wakeword_glue.h"
#include "wakeword_config.h"

namespace {
alignas(16) uint8_t g_arena[48 * 1024];  // as the .ino
wakeword::SampleRing<8192> g_ring;
}  // namespace

int main() {
  if (wakeword::SetupFirmware(g_arena, sizeof(g_arena)) != nullptr) return 1;
  int16_t chunk[256] = {0};
  int32_t detections = 0;
  for (int i = 0; i < 100; ++i) {
    g_ring.Write(chunk, 256);
    int16_t hop[wakeword_config::kHopSamples];
    while (const uint32_t n = g_ring.Read(hop, wakeword_config::kHopSamples)) {
      wakeword::FirmwarePipeline().Push(hop, n, [&](const kws::FrameResult& r) { detections += r.detected; });
    }
  }
  return detections >= 0 ? 0 : 1;
}
