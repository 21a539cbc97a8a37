// Wake-word detector for the Arduino Nano 33 BLE Sense (rev1 or rev2; nRF52840 with the on-board PDM
// microphone; a plain Nano 33 BLE has no microphone, see BUILD.md): PDM microphone -> streaming int8
// log-mel frontend -> TFLM model with the FastGRNN custom op (one step per 10 ms hop) -> smoothing
// detector -> LED + Serial. Arduino I/O only: the model half (interpreter, pipeline) is
// src/arduino/glue/wakeword_firmware.cpp, the same code `make firmware-m4` runs under QEMU; every piece
// of logic is tested C++ copied into src/ by ../prepare_sketch.sh (run it first; see BUILD.md).
//
// Serial (115200 baud):  "# ..." status lines, "S <frame> <score per class>" every
// kScorePrintEvery frames, "D <frame> <time_s> <class> <name> <smoothed score>" per detection.
#include <PDM.h>
#include <TensorFlowLite.h>

#include <string.h>

#include "src/arduino/glue/wakeword_firmware.h"
#include "src/arduino/glue/wakeword_glue.h"
#include "src/wakeword_config.h"
#include "tensorflow/lite/micro/micro_log.h"
#include "tensorflow/lite/micro/system_setup.h"

namespace {

// Tensor arena: a Google-12-size FastGRNN (H = 100, ranks 16/25) on the Cortex-M4 path needs about
// 26 KB: 16,376 B of prepared int16 weights, 7,112 B of sparse-stored weights expanded in Prepare,
// 1,264 B of scratch and the head's tensors (`make firmware-m4` reports the exact figure). Raise it if
// AllocateTensors fails ("arena too small" on Serial); the nRF52840 has 256 KB of RAM.
constexpr int kTensorArenaSize = 48 * 1024;
constexpr int kScorePrintEvery = 10;  // frames (100 ms)
constexpr int kPdmGain = 20;          // 0..80 on the Nano 33 BLE Sense; see BUILD.md "mic gain"
constexpr int kLedOnMs = 500;
constexpr int kMaxClasses = 64;

alignas(16) uint8_t g_arena[kTensorArenaSize];
wakeword::SampleRing<8192> g_ring;  // 512 ms of audio between the PDM interrupt and loop()
int16_t g_pdm_chunk[512];           // one PDM callback's samples (the core delivers 256)
int g_num_classes = 0;
uint32_t g_led_off_at = 0;
bool g_ready = false;

// PDM interrupt: move the new samples into the ring (dropped samples are counted there).
void OnPdmData() {
  int bytes = PDM.available();
  if (bytes > static_cast<int>(sizeof(g_pdm_chunk))) bytes = sizeof(g_pdm_chunk);
  PDM.read(g_pdm_chunk, bytes);
  g_ring.Write(g_pdm_chunk, static_cast<uint32_t>(bytes / 2));
}

void Fail(const char* what) {
  MicroPrintf("# setup failed: %s", what);
  g_ready = false;
}

// After each frame of the pipeline (FastGRNN step + head in TFLM, scores, detector): Serial and LED.
void OnFrame(const kws::FrameResult& r) {
  if (!r.ok) {
    MicroPrintf("# Invoke failed");
    return;
  }
  const uint8_t* scores = r.scores;
  const kws::Detection& d = r.detection;
  const bool fired = r.detected;
  const int32_t frame = r.frame;
  if (frame % kScorePrintEvery == 0) {
    Serial.print("S ");
    Serial.print(frame);
    for (int c = 0; c < g_num_classes; ++c) {
      Serial.print(' ');
      Serial.print(scores[c]);
    }
    Serial.println();
  }
  if (fired) {
    const float t = (static_cast<float>(d.frame) * wakeword_config::kHopSamples + wakeword_config::kWindowSamples) /
                    wakeword_config::kSampleRate;
    Serial.print("D ");
    Serial.print(d.frame);
    Serial.print(' ');
    Serial.print(t, 2);
    Serial.print(' ');
    Serial.print(d.class_index);
    Serial.print(' ');
    Serial.print(wakeword_config::kClassNames[d.class_index]);
    Serial.print(' ');
    Serial.println(d.score);
    digitalWrite(LED_BUILTIN, HIGH);
    g_led_off_at = millis() + kLedOnMs;
  }
}

}  // namespace

void setup() {
  tflite::InitializeTarget();  // Serial at 115200 in the TFLM Arduino library
  Serial.begin(115200);
  pinMode(LED_BUILTIN, OUTPUT);
  digitalWrite(LED_BUILTIN, LOW);

  // frontend -> interpreter (FastGRNN op + head) -> scores -> detector (wakeword_firmware.h)
  if (const char* err = wakeword::SetupFirmware(g_arena, kTensorArenaSize)) return Fail(err);
  MicroPrintf("# arena used: %d of %d bytes", static_cast<int>(wakeword::FirmwareArenaUsedBytes()), kTensorArenaSize);
  g_num_classes = wakeword::FirmwarePipeline().num_classes();
  if (g_num_classes > kMaxClasses) return Fail("more classes than kMaxClasses");

  PDM.onReceive(OnPdmData);
  PDM.setGain(kPdmGain);
  if (!PDM.begin(1, wakeword_config::kSampleRate)) return Fail("PDM.begin");
  g_ready = true;
  MicroPrintf("# ready: %d features, %d classes", wakeword::FirmwarePipeline().num_features(), g_num_classes);
}

void loop() {
  if (!g_ready) return;
  if (g_led_off_at != 0 && static_cast<int32_t>(millis() - g_led_off_at) >= 0) {
    digitalWrite(LED_BUILTIN, LOW);
    g_led_off_at = 0;
  }
  int16_t pcm[wakeword_config::kHopSamples];
  const uint32_t n = g_ring.Read(pcm, wakeword_config::kHopSamples);
  wakeword::FirmwarePipeline().Push(pcm, n, OnFrame);
  static uint32_t reported_drops = 0;
  if (g_ring.dropped() != reported_drops) {
    reported_drops = g_ring.dropped();
    MicroPrintf("# audio overrun: %d samples dropped so far", static_cast<int>(reported_drops));
  }
}
