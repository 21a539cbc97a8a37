// TFLM-independent pieces of the Nano 33 BLE wake-word sketch, tested on the host
// (wakeword_glue_test.cc): the interrupt-to-loop sample ring and the model-output-to-score map.
//
//   static wakeword::SampleRing<4096> ring;        // PDM.onReceive ISR: ring.Write(buf, n)
//   int16_t pcm[160]; uint32_t n = ring.Read(pcm, 160);   // loop()
//   wakeword::OutputScores(out->data.int8, num_classes, out->params.scale,
//                          out->params.zero_point, scores);   // uint8 scores for kws::Detector
//   static kws::FramePipeline<wakeword::InterpreterModel> pipe;  // the interpreter as the model stage
#ifndef TFLM_APP_ARDUINO_GLUE_WAKEWORD_GLUE_H_
#define TFLM_APP_ARDUINO_GLUE_WAKEWORD_GLUE_H_

#include <atomic>
#include <cstdint>

namespace wakeword {

// Single-producer (the PDM interrupt) single-consumer (loop) ring of int16 samples, lock-free:
// head_ counts samples ever written, tail_ samples ever read (uint32 wrap-around arithmetic).
// When the ring is full, new samples are dropped and counted (the consumer is too slow).
template <uint32_t kCapacity>
class SampleRing {
  static_assert(kCapacity >= 2 && (kCapacity & (kCapacity - 1)) == 0, "capacity: power of two >= 2");

 public:
  // Producer side. Returns the number of samples stored; the rest were dropped.
  uint32_t Write(const int16_t* samples, uint32_t n) {
    const uint32_t head = head_.load(std::memory_order_relaxed);
    const uint32_t tail = tail_.load(std::memory_order_acquire);
    const uint32_t space = kCapacity - (head - tail);
    const uint32_t stored = n < space ? n : space;
    for (uint32_t i = 0; i < stored; ++i) buf_[(head + i) & (kCapacity - 1)] = samples[i];
    head_.store(head + stored, std::memory_order_release);
    if (stored < n) dropped_.fetch_add(n - stored, std::memory_order_relaxed);
    return stored;
  }

  // Consumer side. Copies up to `max` of the oldest samples to `out`; returns how many.
  uint32_t Read(int16_t* out, uint32_t max) {
    const uint32_t tail = tail_.load(std::memory_order_relaxed);
    const uint32_t head = head_.load(std::memory_order_acquire);
    const uint32_t avail = head - tail;
    const uint32_t n = max < avail ? max : avail;
    for (uint32_t i = 0; i < n; ++i) out[i] = buf_[(tail + i) & (kCapacity - 1)];
    tail_.store(tail + n, std::memory_order_release);
    return n;
  }

  uint32_t Available() const {
    return head_.load(std::memory_order_acquire) - tail_.load(std::memory_order_acquire);
  }
  uint32_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  static constexpr uint32_t capacity() { return kCapacity; }

 private:
  int16_t buf_[kCapacity] = {0};
  std::atomic<uint32_t> head_{0};
  std::atomic<uint32_t> tail_{0};
  std::atomic<uint32_t> dropped_{0};
};

// TFLite's int8 SOFTMAX output always has scale 1/256 and zero point -128; any other int8 output
// is taken as the head's logits.
bool IsSoftmaxOutput(float scale, int32_t zero_point);

// Detector scores (keyword_spotting/detector_spec.md "Per-frame score") from the model's int8
// output of `num_classes` values: from logits exactly as the spec (head::Scores); from a SOFTMAX
// output as clamp(floor(255 * scale * (q - zp) + 0.5), 0, 255), which may differ by one from the
// spec's value because TFLite already rounded the probability to 1/256.
void OutputScores(const int8_t* output, int32_t num_classes, float scale, int32_t zero_point,
                  uint8_t* scores);

// The model stage of kws::FramePipeline (tflm_app/pipeline/pipeline.h) on the board: one frame into
// the TFLM interpreter's int8 input, Invoke (the FastGRNN custom op and the head), detector scores
// from its int8 output (OutputScores). TFLM-independent: the sketch passes the tensors' data and two
// callbacks (Invoke, and Reset of the interpreter's variable tensors, i.e. the FastGRNN state).
class InterpreterModel {
 public:
  using Call = bool (*)(void* user);  // true on success

  // nullptr or what is wrong. `input` holds num_features int8 values, `output` num_classes.
  const char* Init(int8_t* input, int32_t num_features, const int8_t* output, int32_t num_classes,
                   float output_scale, int32_t output_zero_point, Call invoke, Call reset, void* user);
  int32_t num_features() const { return num_features_; }
  int32_t num_classes() const { return num_classes_; }
  void Reset() {
    if (reset_ != nullptr) reset_(user_);
  }
  template <class Probe>
  bool Scores(const int8_t* features, uint8_t* scores) {
    for (int32_t i = 0; i < num_features_; ++i) input_[i] = features[i];
    if (!invoke_(user_)) return false;
    OutputScores(output_, num_classes_, scale_, zero_point_, scores);
    return true;
  }

 private:
  int8_t* input_ = nullptr;
  const int8_t* output_ = nullptr;
  int32_t num_features_ = 0;
  int32_t num_classes_ = 0;
  float scale_ = 1.0f;
  int32_t zero_point_ = 0;
  Call invoke_ = nullptr;
  Call reset_ = nullptr;
  void* user_ = nullptr;
};

}  // namespace wakeword

#endif  // TFLM_APP_ARDUINO_GLUE_WAKEWORD_GLUE_H_
