// Wake-word detector for the Arduino Nano 33 BLE (nRF52840): PDM microphone -> streaming int8
// log-mel frontend -> TFLM model with the FastGRNN custom op (one step per 10 ms hop) ->
// smoothing detector -> LED + Serial. Glue only: every piece of logic is tested C++ copied into
// src/ by ../prepare_sketch.sh (run it first; see BUILD.md).
//
// Serial (115200 baud):  "# ..." status lines, "S <frame> <score per class>" every
// kScorePrintEvery frames, "D <frame> <time_s> <class> <name> <smoothed score>" per detection.
#include <PDM.h>
#include <TensorFlowLite.h>

#include <string.h>

#include "src/arduino/glue/wakeword_glue.h"
#include "src/model_data.h"
#include "src/pipeline/pipeline.h"
#include "src/tflm/fastgrnn_op.h"
#include "src/wakeword_config.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_log.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/micro/system_setup.h"
#include "tensorflow/lite/schema/schema_generated.h"

namespace {

// Tensor arena: a Google-12-size FastGRNN (H = 100, ranks 16/25) on the Cortex-M4 path needs about
// 26 KB: 16,376 B of prepared int16 weights, 7,112 B of sparse-stored weights expanded in Prepare,
// 1,264 B of scratch and the head's tensors. Raise it if AllocateTensors fails ("arena too small" on
// Serial); the nRF52840 has 256 KB of RAM.
constexpr int kTensorArenaSize = 48 * 1024;
constexpr int kScorePrintEvery = 10;  // frames (100 ms)
constexpr int kPdmGain = 20;          // 0..80 on the Nano 33 BLE; see BUILD.md "mic gain"
constexpr int kLedOnMs = 500;
constexpr int kMaxClasses = 64;

alignas(16) uint8_t g_arena[kTensorArenaSize];
wakeword::SampleRing<8192> g_ring;  // 512 ms of audio between the PDM interrupt and loop()
int16_t g_pdm_chunk[512];           // one PDM callback's samples (the core delivers 256)
// frontend -> interpreter (FastGRNN op + head) -> scores -> detector; ~22 KB of frontend tables: static
kws::FramePipeline<wakeword::InterpreterModel> g_pipeline;
tflite::MicroInterpreter* g_interpreter = nullptr;
TfLiteTensor* g_input = nullptr;
TfLiteTensor* g_output = nullptr;
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

bool Invoke(void*) { return g_interpreter->Invoke() == kTfLiteOk; }
bool ResetState(void*) { return g_interpreter->Reset() == kTfLiteOk; }  // zero the FastGRNN state

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

  const tflite::Model* model = tflite::GetModel(wakeword_config::ModelData());
  if (model->version() != TFLITE_SCHEMA_VERSION) return Fail("model schema version mismatch");

  static tflite::MicroMutableOpResolver<6> resolver;
  if (resolver.AddCustom(tflite::kFastGrnnOpName, tflite::Register_FASTGRNN()) != kTfLiteOk ||
      resolver.AddFullyConnected() != kTfLiteOk || resolver.AddReshape() != kTfLiteOk ||
      resolver.AddSoftmax() != kTfLiteOk || resolver.AddQuantize() != kTfLiteOk ||
      resolver.AddDequantize() != kTfLiteOk) {
    return Fail("op resolver");
  }
  static tflite::MicroInterpreter interpreter(model, resolver, g_arena, kTensorArenaSize);
  g_interpreter = &interpreter;
  if (interpreter.AllocateTensors() != kTfLiteOk) return Fail("AllocateTensors (arena too small or bad model)");
  interpreter.Reset();  // zero the FastGRNN state (variable tensor)
  MicroPrintf("# arena used: %d of %d bytes", static_cast<int>(interpreter.arena_used_bytes()), kTensorArenaSize);

  frontend::Config fc;
  fc.sample_rate = wakeword_config::kSampleRate;
  fc.window_samples = wakeword_config::kWindowSamples;
  fc.hop_samples = wakeword_config::kHopSamples;
  fc.n_fft = wakeword_config::kNFft;
  fc.n_mels = wakeword_config::kNMels;
  fc.n_mfcc = wakeword_config::kNMfcc;
  fc.fmin = wakeword_config::kFmin;
  fc.fmax = wakeword_config::kFmax;
  fc.log_floor = wakeword_config::kLogFloor;
  fc.quant_scale = wakeword_config::kQuantScale;
  fc.quant_offset = wakeword_config::kQuantOffset;

  g_input = interpreter.input(0);
  g_output = interpreter.output(0);
  if (g_input->type != kTfLiteInt8 || g_input->bytes != static_cast<size_t>(fc.num_features())) {
    return Fail("model input is not one int8 frame of num_features (streaming export? feature spec mismatch?)");
  }
  g_num_classes = g_output->dims->data[g_output->dims->size - 1];
  if (g_output->type != kTfLiteInt8 || g_num_classes != wakeword_config::kNumClasses || g_num_classes > kMaxClasses) {
    return Fail("model output is not int8 [.., num_classes] matching wakeword_config.h");
  }

  kws::DetectorConfig dc;
  dc.window_frames = wakeword_config::kWindowFrames;
  dc.threshold = wakeword_config::kThreshold;
  dc.refractory_frames = wakeword_config::kRefractoryFrames;
  dc.min_frames = wakeword_config::kMinFrames;
  dc.num_keywords = wakeword_config::kNumKeywords;
  for (int i = 0; i < dc.num_keywords; ++i) dc.keywords[i] = wakeword_config::kKeywords[i];
  if (const char* err = g_pipeline.model().Init(g_input->data.int8, fc.num_features(), g_output->data.int8,
                                                g_num_classes, g_output->params.scale,
                                                g_output->params.zero_point, Invoke, ResetState, nullptr)) {
    return Fail(err);
  }
  if (const char* err = g_pipeline.Init(&fc, dc)) return Fail(err);  // also zeroes the FastGRNN state

  PDM.onReceive(OnPdmData);
  PDM.setGain(kPdmGain);
  if (!PDM.begin(1, wakeword_config::kSampleRate)) return Fail("PDM.begin");
  g_ready = true;
  MicroPrintf("# ready: %d features, %d classes", g_pipeline.num_features(), g_num_classes);
}

void loop() {
  if (!g_ready) return;
  if (g_led_off_at != 0 && static_cast<int32_t>(millis() - g_led_off_at) >= 0) {
    digitalWrite(LED_BUILTIN, LOW);
    g_led_off_at = 0;
  }
  int16_t pcm[wakeword_config::kHopSamples];
  const uint32_t n = g_ring.Read(pcm, wakeword_config::kHopSamples);
  g_pipeline.Push(pcm, n, OnFrame);
  static uint32_t reported_drops = 0;
  if (g_ring.dropped() != reported_drops) {
    reported_drops = g_ring.dropped();
    MicroPrintf("# audio overrun: %d samples dropped so far", static_cast<int>(reported_drops));
  }
}
