#include "wakeword_firmware.h"

#include <new>

#include "../../tflm/fastgrnn_op.h"
#include "../../tflm/logits_op.h"
#include "../../wakeword_config.h"  // the sketch tree's src/wakeword_config.h (prepare_sketch.sh)
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"

namespace wakeword {
namespace {

using Resolver = tflite::MicroMutableOpResolver<6>;

// Static storage, constructed in place by SetupFirmware (no heap, no static constructors to order).
alignas(Resolver) unsigned char g_resolver_storage[sizeof(Resolver)];
alignas(tflite::MicroInterpreter) unsigned char g_interpreter_storage[sizeof(tflite::MicroInterpreter)];
Resolver* g_resolver = nullptr;
tflite::MicroInterpreter* g_interpreter = nullptr;
kws::FramePipeline<InterpreterModel> g_pipeline;

bool Invoke(void*) { return g_interpreter->Invoke() == kTfLiteOk; }
bool ResetState(void*) { return g_interpreter->Reset() == kTfLiteOk; }  // zero the FastGRNN state

void Teardown() {
  if (g_interpreter != nullptr) g_interpreter->~MicroInterpreter();
  if (g_resolver != nullptr) g_resolver->~Resolver();
  g_interpreter = nullptr;
  g_resolver = nullptr;
}

frontend::Config FrontendConfig() {
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
  fc.channel_norm = wakeword_config::kChannelNorm;
  fc.channel_norm_smoothing = wakeword_config::kChannelNormSmoothing;
  return fc;
}

kws::DetectorConfig DetectorConfig() {
  kws::DetectorConfig dc;
  dc.window_frames = wakeword_config::kWindowFrames;
  dc.threshold = wakeword_config::kThreshold;
  dc.refractory_frames = wakeword_config::kRefractoryFrames;
  dc.min_frames = wakeword_config::kMinFrames;
  dc.num_keywords = wakeword_config::kNumKeywords;
  for (int i = 0; i < dc.num_keywords; ++i) dc.keywords[i] = wakeword_config::kKeywords[i];
  return dc;
}

}  // namespace

const char* SetupFirmware(uint8_t* arena, size_t arena_bytes, HeadMode mode,
                          tflite::MicroProfilerInterface* profiler) {
  Teardown();
  const tflite::Model* model = tflite::GetModel(wakeword_config::ModelData());
  if (model->version() != TFLITE_SCHEMA_VERSION) return "model schema version mismatch";

  float logit_scale = 0.0f;
  int32_t logit_zero_point = 0;
  const bool softmax_as_logits =
      mode == HeadMode::kLogits && tflite::SoftmaxLogitsQuantization(model, &logit_scale, &logit_zero_point);
  g_resolver = new (g_resolver_storage) Resolver();
  const TfLiteStatus softmax = softmax_as_logits ? g_resolver->AddSoftmax(*tflite::Register_SOFTMAX_AS_LOGITS())
                                                 : g_resolver->AddSoftmax();
  if (g_resolver->AddCustom(tflite::kFastGrnnOpName, tflite::Register_FASTGRNN()) != kTfLiteOk ||
      g_resolver->AddFullyConnected() != kTfLiteOk || g_resolver->AddReshape() != kTfLiteOk ||
      softmax != kTfLiteOk || g_resolver->AddQuantize() != kTfLiteOk || g_resolver->AddDequantize() != kTfLiteOk) {
    return "op resolver";
  }
  g_interpreter =
      new (g_interpreter_storage) tflite::MicroInterpreter(model, *g_resolver, arena, arena_bytes, nullptr, profiler);
  if (g_interpreter->AllocateTensors() != kTfLiteOk) return "AllocateTensors (arena too small or bad model)";

  const frontend::Config fc = FrontendConfig();
  TfLiteTensor* input = g_interpreter->input(0);
  const TfLiteTensor* output = g_interpreter->output(0);
  if (input->type != kTfLiteInt8 || input->bytes != static_cast<size_t>(fc.num_features())) {
    return "model input is not one int8 frame of num_features (streaming export? feature spec mismatch?)";
  }
  const int num_classes = output->dims->data[output->dims->size - 1];
  if (output->type != kTfLiteInt8 || num_classes != wakeword_config::kNumClasses || num_classes > kws::kMaxScores) {
    return "model output is not int8 [.., num_classes] matching wakeword_config.h";
  }
  if (!softmax_as_logits) {  // the output is what the graph computes: logits or SOFTMAX probabilities
    logit_scale = output->params.scale;
    logit_zero_point = output->params.zero_point;
  }
  if (const char* err = g_pipeline.model().Init(input->data.int8, fc.num_features(), output->data.int8, num_classes,
                                                logit_scale, logit_zero_point, Invoke, ResetState, nullptr)) {
    return err;
  }
  return g_pipeline.Init(&fc, DetectorConfig());  // also zeroes the FastGRNN state
}

kws::FramePipeline<InterpreterModel>& FirmwarePipeline() { return g_pipeline; }

size_t FirmwareArenaUsedBytes() { return g_interpreter != nullptr ? g_interpreter->arena_used_bytes() : 0; }

}  // namespace wakeword
