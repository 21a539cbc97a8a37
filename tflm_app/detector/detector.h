// The streaming keyword detector of keyword_spotting/detector_spec.md, integer-exact with
// keyword_spotting/detector.py. No heap: the score rings are sized by compile-time maxima.
//
//   kws::DetectorConfig cfg;                       // defaults of the spec
//   cfg.num_keywords = 2; cfg.keywords[0] = 2; cfg.keywords[1] = 3;
//   kws::Detector det;
//   if (const char* err = det.Init(cfg, num_classes)) { ... }   // nullptr when valid
//   kws::Detection d;
//   if (det.Push(scores, &d)) printf("frame %d class %d score %d\n", d.frame, d.class_index, d.score);
#ifndef TFLM_APP_DETECTOR_DETECTOR_H_
#define TFLM_APP_DETECTOR_DETECTOR_H_

#include <cstdint>

namespace kws {

constexpr int32_t kMaxWindowFrames = 256;  // detector.py MAX_WINDOW_FRAMES
constexpr int32_t kMaxKeywords = 16;       // detector.py MAX_KEYWORDS

struct DetectorConfig {
  int32_t window_frames = 30;       // N
  int32_t threshold = 160;          // 0..255, compared as sum >= threshold * N
  int32_t refractory_frames = 100;  // R
  int32_t min_frames = -1;          // -1 = window_frames (the spec's default)
  int32_t num_keywords = 0;
  int32_t keywords[kMaxKeywords] = {0};  // class indices
};

// nullptr when `cfg` is valid for scores of `num_classes` classes, else what is wrong.
const char* ValidateDetectorConfig(const DetectorConfig& cfg, int32_t num_classes);

struct Detection {
  int32_t frame = 0;        // 0-based index of the newest frame
  int32_t class_index = 0;  // the winning keyword's class index
  int32_t score = 0;        // smoothed score sum / N (floor)
};

class Detector {
 public:
  // Validates and stores the config, then Reset(). Returns nullptr or an error message.
  const char* Init(const DetectorConfig& cfg, int32_t num_classes);
  void Reset();
  // Adds one frame of scores (num_classes values). True when it triggers a detection (*out set).
  bool Push(const uint8_t* scores, Detection* out);
  int32_t frames_seen() const { return frame_; }
  const DetectorConfig& config() const { return cfg_; }

 private:
  DetectorConfig cfg_;
  int32_t num_classes_ = 0;
  int32_t frame_ = 0;
  int32_t last_detection_ = -1;  // -1 = none yet
  bool has_detection_ = false;
  int32_t sums_[kMaxKeywords] = {0};
  uint8_t ring_[kMaxKeywords][kMaxWindowFrames] = {{0}};
};

}  // namespace kws

#endif  // TFLM_APP_DETECTOR_DETECTOR_H_
