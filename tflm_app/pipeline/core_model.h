// The model stage of kws::FramePipeline (pipeline.h) without TFLM: the int8 FastGRNN step
// (fastgrnn_int8.h, the variant the build links) and the int8 head called directly, then the
// detector scores. kws_host and the Cortex-M4 benchmarks use it; the firmware runs the same core
// through the TFLM op (tflm/fastgrnn_op.cc) instead.
//
//   kws::CoreModel& m = pipe.model();
//   // prepared: fastgrnn::PreparedBytes(p) bytes, scratch: fastgrnn::ScratchBytes(p); 4-byte aligned,
//   // owned by the caller like p and hp (borrowed, must outlive the model).
//   if (const char* err = m.Init(p, hp, prepared, prepared_bytes, scratch, scratch_bytes)) { ... }
#ifndef TFLM_APP_PIPELINE_CORE_MODEL_H_
#define TFLM_APP_PIPELINE_CORE_MODEL_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "../fastgrnn/fastgrnn_int8.h"
#include "../head/head.h"
#include "pipeline.h"

namespace kws {

class CoreModel {
 public:
  // Validates the step and the head and that they chain (units = head input), checks the buffer
  // sizes, prepares the weights (fastgrnn::PrepareWeights) and zeroes the state.
  const char* Init(const fastgrnn::Int8Params& p, const head::HeadParams& hp, void* prepared,
                   size_t prepared_bytes, void* scratch, size_t scratch_bytes) {
    p_ = nullptr;
    if (const char* err = fastgrnn::Validate(p)) return err;
    if (const char* err = head::Validate(hp)) return err;
    if (hp.input_size() != p.units) return "the head's input size differs from the FastGRNN units";
    if (p.units > head::kMaxWidth) return "FastGRNN units exceed head::kMaxWidth";
    if (fastgrnn::PreparedBytes(p) > prepared_bytes) return "prepared-weights buffer too small";
    if (fastgrnn::ScratchBytes(p) > scratch_bytes) return "scratch buffer too small";
    if (fastgrnn::PreparedBytes(p) > 0 && prepared == nullptr) return "prepared-weights buffer missing";
    if (fastgrnn::ScratchBytes(p) > 0 && scratch == nullptr) return "scratch buffer missing";
    fastgrnn::PrepareWeights(p, prepared);
    p_ = &p;
    hp_ = &hp;
    prepared_ = prepared;
    scratch_ = scratch;
    Reset();
    return nullptr;
  }

  void Reset() { memset(h_, 0, sizeof(h_)); }

  // One frame: h = step(h, features); scores = Scores(head(h)). Needs a successful Init.
  template <class Probe>
  bool Scores(const int8_t* features, uint8_t* scores) {
    Probe::Begin(kStageStep);
    fastgrnn::Run(*p_, prepared_, features, 1, h_, out_, false, scratch_);
    Probe::End(kStageStep);
    Probe::Begin(kStageHead);
    head::Run(*hp_, h_, logits_, head_scratch_);
    head::Scores(logits_, hp_->num_classes(), hp_->logit_scale, hp_->logit_zero_point, scores);
    Probe::End(kStageHead);
    return true;
  }

  int32_t num_features() const { return p_ != nullptr ? p_->input_dim : 0; }
  int32_t num_classes() const { return p_ != nullptr ? hp_->num_classes() : 0; }
  int32_t units() const { return p_ != nullptr ? p_->units : 0; }
  const int8_t* state() const { return h_; }       // h, units() values
  const int8_t* logits() const { return logits_; }  // of the last frame, num_classes() values

 private:
  const fastgrnn::Int8Params* p_ = nullptr;
  const head::HeadParams* hp_ = nullptr;
  void* prepared_ = nullptr;
  void* scratch_ = nullptr;
  int8_t h_[head::kMaxWidth] = {0};
  int8_t out_[head::kMaxWidth] = {0};
  int8_t logits_[head::kMaxWidth] = {0};
  int8_t head_scratch_[head::kScratchBytes] = {0};
};

}  // namespace kws

#endif  // TFLM_APP_PIPELINE_CORE_MODEL_H_
