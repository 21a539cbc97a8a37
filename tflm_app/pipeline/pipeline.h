// The per-frame wake-word pipeline, written once: audio -> streaming frontend -> model (features ->
// uint8 detector scores) -> detector. kws_host, the Cortex-M4 benchmarks and the Arduino sketch all
// run it; only the model stage differs, as a template parameter:
//   kws::CoreModel (core_model.h): the FastGRNN core and the head called directly (kws_host, benches);
//   wakeword::InterpreterModel (arduino/glue): the TFLM interpreter with the FastGRNN custom op.
// No heap, no virtual calls; the object holds the frontend's tables (~22 KB), so on a device it
// lives in static storage.
//
//   static kws::FramePipeline<kws::CoreModel> pipe;
//   pipe.model().Init(params, head, prepared, prepared_bytes, scratch, scratch_bytes);
//   if (const char* err = pipe.Init(&frontend_config, detector_config)) { ... }
//   pipe.Push(pcm, n, [](const kws::FrameResult& r) { if (r.detected) ... });   // any chunk size
//   pipe.Frame(features, on_frame);                                              // skip the frontend
//
// A Model provides: num_features(), num_classes(), Reset() (zero the recurrent state) and
// `template <class Probe> bool Scores(const int8_t* features, uint8_t* scores)` (false: this frame
// failed, e.g. TFLM Invoke). A Probe (benchmarks) gets Begin(stage) / End(stage) around each stage.
#ifndef TFLM_APP_PIPELINE_PIPELINE_H_
#define TFLM_APP_PIPELINE_PIPELINE_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>

#include "../detector/detector.h"
#include "../frontend/frontend.h"

namespace kws {

// Stages a Probe sees (the M4 benchmark counts them as regions 11..14).
enum Stage : int { kStageFrontend = 0, kStageStep = 1, kStageHead = 2, kStageDetector = 3 };

struct NoProbe {
  static void Begin(int) {}
  static void End(int) {}
};

// What the pipeline hands its caller after every frame.
struct FrameResult {
  const int8_t* features = nullptr;  // the frame's int8 features (num_features values)
  const uint8_t* scores = nullptr;   // its detector scores (num_classes values), valid when ok
  int32_t frame = 0;                 // 0-based index of the frame in the stream
  bool ok = false;                   // false: the model failed on this frame; the detector skipped it
  bool detected = false;             // the detector fired on this frame
  Detection detection;               // valid when detected
};

constexpr int32_t kMaxScores = 256;  // largest num_classes (= head::kMaxWidth)

template <class Model>
class FramePipeline {
 public:
  // The model must be initialized first. `frontend_config` may be nullptr when frames come only from
  // Frame() (features computed elsewhere). Checks that the model reads the frontend's frames and that
  // the detector's keywords are classes of the model; then Reset(). nullptr or what is wrong.
  const char* Init(const frontend::Config* frontend_config, const DetectorConfig& detector_config) {
    ready_ = push_ready_ = false;
    if (model_.num_classes() < 1 || model_.num_classes() > kMaxScores) {
      return "the model is not initialized or its number of classes is not in [1, 256]";
    }
    if (frontend_config != nullptr) {
      if (const char* err = frontend_.Init(*frontend_config)) {
        snprintf(error_, sizeof(error_), "frontend: %s", err);
        return error_;
      }
      if (frontend_.num_features() != model_.num_features()) {
        return "the frontend's features per frame differ from the model's input size";
      }
    }
    if (const char* err = detector_.Init(detector_config, model_.num_classes())) return err;
    Reset();
    ready_ = true;
    push_ready_ = frontend_config != nullptr;
    return nullptr;
  }

  // A new stream: no buffered audio, zero recurrent state, empty detector history.
  void Reset() {
    frontend_.Reset();
    model_.Reset();
    detector_.Reset();
    result_ = FrameResult();
    result_.scores = scores_;
    result_.frame = -1;
  }

  // Feeds `n` samples (any chunk size); every completed frame goes through the model and the
  // detector, then to on_frame(const FrameResult&). Returns the number of frames.
  template <class Probe = NoProbe, class OnFrame>
  size_t Push(const int16_t* pcm, size_t n, OnFrame&& on_frame) {
    if (!push_ready_) return 0;
    size_t frames = 0;
    for (;;) {
      size_t used = 0;
      Probe::Begin(kStageFrontend);
      const size_t got = frontend_.Push(pcm, n, frame_, 1, &used);
      Probe::End(kStageFrontend);
      if (got == 0) return frames;
      RunFrame<Probe>(frame_, on_frame);
      ++frames;
      pcm += used;
      n -= used;
      if (n == 0) return frames;
    }
  }

  // One frame of features (num_features values) straight to the model and the detector.
  template <class Probe = NoProbe, class OnFrame>
  void Frame(const int8_t* features, OnFrame&& on_frame) {
    if (ready_) RunFrame<Probe>(features, on_frame);
  }

  Model& model() { return model_; }
  const Model& model() const { return model_; }
  frontend::Frontend& frontend() { return frontend_; }
  const Detector& detector() const { return detector_; }
  int32_t frames() const { return result_.frame + 1; }
  int32_t num_features() const { return model_.num_features(); }
  int32_t num_classes() const { return model_.num_classes(); }

 private:
  template <class Probe, class OnFrame>
  void RunFrame(const int8_t* features, OnFrame& on_frame) {
    // The result lives in the object: scores_ never moves, so only what changes is written.
    FrameResult& r = result_;
    r.features = features;
    ++r.frame;
    r.ok = model_.template Scores<Probe>(features, scores_);
    r.detected = false;
    if (r.ok) {
      Probe::Begin(kStageDetector);
      r.detected = detector_.Push(scores_, &r.detection);
      Probe::End(kStageDetector);
    }
    on_frame(static_cast<const FrameResult&>(r));
  }

  frontend::Frontend frontend_;
  Model model_;
  Detector detector_;
  bool ready_ = false;       // Frame() may run
  bool push_ready_ = false;  // Push() may run (there is a frontend)
  FrameResult result_;
  int8_t frame_[frontend::kMaxFeatures] = {0};
  uint8_t scores_[kMaxScores] = {0};
  char error_[200] = {0};
};

}  // namespace kws

#endif  // TFLM_APP_PIPELINE_PIPELINE_H_
