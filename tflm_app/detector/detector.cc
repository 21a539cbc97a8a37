#include "detector.h"

namespace kws {

const char* ValidateDetectorConfig(const DetectorConfig& cfg, int32_t num_classes) {
  if (cfg.window_frames < 1 || cfg.window_frames > kMaxWindowFrames) {
    return "detector: window_frames must be in [1, kMaxWindowFrames=256]";
  }
  if (cfg.threshold < 0 || cfg.threshold > 255) return "detector: threshold must be in [0, 255]";
  if (cfg.refractory_frames < 0) return "detector: refractory_frames must be >= 0";
  if (cfg.min_frames < -1) return "detector: min_frames must be >= 0 (or -1 for window_frames)";
  if (cfg.num_keywords < 1 || cfg.num_keywords > kMaxKeywords) {
    return "detector: num_keywords must be in [1, kMaxKeywords=16]";
  }
  if (num_classes < 1) return "detector: num_classes must be >= 1";
  for (int32_t i = 0; i < cfg.num_keywords; ++i) {
    if (cfg.keywords[i] < 0 || cfg.keywords[i] >= num_classes) {
      return "detector: keyword class index out of range [0, num_classes)";
    }
    for (int32_t j = 0; j < i; ++j) {
      if (cfg.keywords[j] == cfg.keywords[i]) return "detector: duplicate keyword class index";
    }
  }
  return nullptr;
}

const char* Detector::Init(const DetectorConfig& cfg, int32_t num_classes) {
  const char* err = ValidateDetectorConfig(cfg, num_classes);
  if (err != nullptr) return err;
  cfg_ = cfg;
  if (cfg_.min_frames < 0) cfg_.min_frames = cfg_.window_frames;
  num_classes_ = num_classes;
  Reset();
  return nullptr;
}

void Detector::Reset() {
  frame_ = 0;
  last_detection_ = -1;
  has_detection_ = false;
  for (int32_t k = 0; k < kMaxKeywords; ++k) {
    sums_[k] = 0;
    for (int32_t i = 0; i < kMaxWindowFrames; ++i) ring_[k][i] = 0;
  }
}

bool Detector::Push(const uint8_t* scores, Detection* out) {
  const int32_t t = frame_++;
  const int32_t slot = t % cfg_.window_frames;
  for (int32_t i = 0; i < cfg_.num_keywords; ++i) {
    const uint8_t v = scores[cfg_.keywords[i]];
    sums_[i] += static_cast<int32_t>(v) - static_cast<int32_t>(ring_[i][slot]);
    ring_[i][slot] = v;
  }
  if (t + 1 < cfg_.min_frames) return false;
  if (has_detection_ && t - last_detection_ < cfg_.refractory_frames) return false;
  const int32_t needed = cfg_.threshold * cfg_.window_frames;
  int32_t best = -1;
  for (int32_t i = 0; i < cfg_.num_keywords; ++i) {
    if (sums_[i] < needed) continue;
    if (best < 0 || sums_[i] > sums_[best] ||
        (sums_[i] == sums_[best] && cfg_.keywords[i] < cfg_.keywords[best])) {
      best = i;
    }
  }
  if (best < 0) return false;
  has_detection_ = true;
  last_detection_ = t;
  out->frame = t;
  out->class_index = cfg_.keywords[best];
  out->score = sums_[best] / cfg_.window_frames;
  return true;
}

}  // namespace kws
