// A whole wake-word model read from a `.fgb` bundle (fastgrnn_tf/export/bundle_spec.md): the int8
// FastGRNN step, the classifier head, the feature spec, the detector parameters and the class
// names. Pointers in the params point into the bundle's storage, which must outlive the Model.
//
//   std::vector<uint8_t> storage;
//   kws::Model m;
//   if (!kws::LoadModel("model.fgb", &storage, &m)) { fprintf(stderr, "%s\n", m.error); ... }
#ifndef TFLM_APP_HOST_MODEL_H_
#define TFLM_APP_HOST_MODEL_H_

#include <cstdint>
#include <vector>

#include "bundle.h"
#include "detector.h"
#include "fastgrnn_int8.h"
#include "frontend.h"
#include "head.h"

namespace kws {

constexpr int32_t kMaxClasses = 64;
constexpr int32_t kMaxClassName = 32;

// `features.<field>` of the bundle (keyword_spotting/feature_spec.md).
struct FeatureFields {
  int32_t sample_rate = 16000;
  int32_t window_samples = 400;
  int32_t hop_samples = 160;
  int32_t n_fft = 512;
  int32_t n_mels = 32;
  int32_t n_mfcc = 0;
  float fmin = 20.0f;
  float fmax = 8000.0f;
  float log_floor = 1e-6f;
  float quant_scale = 0.1f;
  float quant_offset = -1.2f;
  float channel_norm = 0.0f;
  float channel_norm_smoothing = 0.025f;
  int32_t num_features() const { return n_mfcc > 0 ? n_mfcc : n_mels; }
};

struct Model {
  fastgrnn::Int8Params step;
  head::HeadParams head;
  DetectorConfig detector;
  FeatureFields features;
  int32_t num_classes = 0;
  char class_names[kMaxClasses][kMaxClassName] = {{0}};
  char error[320] = {0};
};

// The frontend configuration the bundle's feature fields describe.
inline frontend::Config FrontendConfig(const FeatureFields& ff) {
  frontend::Config cfg;
  cfg.sample_rate = ff.sample_rate;
  cfg.window_samples = ff.window_samples;
  cfg.hop_samples = ff.hop_samples;
  cfg.n_fft = ff.n_fft;
  cfg.n_mels = ff.n_mels;
  cfg.n_mfcc = ff.n_mfcc;
  cfg.fmin = ff.fmin;
  cfg.fmax = ff.fmax;
  cfg.log_floor = ff.log_floor;
  cfg.quant_scale = ff.quant_scale;
  cfg.quant_offset = ff.quant_offset;
  cfg.channel_norm = ff.channel_norm;
  cfg.channel_norm_smoothing = ff.channel_norm_smoothing;
  return cfg;
}

// Reads and checks everything (step/head/detector validation, dimensions chain:
// features -> step input_dim, units -> head input, head classes == class names).
bool LoadModel(const char* path, std::vector<uint8_t>* storage, Model* model);
// Same from an already loaded bundle.
bool ModelFromBundle(fgb::Bundle* bundle, Model* model);

}  // namespace kws

#endif  // TFLM_APP_HOST_MODEL_H_
