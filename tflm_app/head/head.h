// The int8 classifier head after the FastGRNN op (fastgrnn_tf/int8/int8_step_spec.md, "The classifier
// head") and the detector scores (keyword_spotting/detector_spec.md, "Per-frame score").
//
// Fully connected layers use TFLite's reference int8 arithmetic (reference_integer_ops::
// FullyConnected with MultiplyByQuantizedMultiplier), so the logits are bit-exact with TFLite and
// with fastgrnn_tf/int8/head_oracle.py. No heap: the caller passes a scratch buffer.
//
//   head::HeadParams hp;   // filled from a bundle (host/model.h) or compiled-in arrays
//   if (const char* err = head::Validate(hp)) ...
//   int8_t scratch[head::kScratchBytes], logits[head::kMaxWidth];
//   head::Run(hp, h, logits, scratch);
//   head::Scores(logits, hp.num_classes(), hp.logit_scale, hp.logit_zero_point, scores);
#ifndef TFLM_APP_HEAD_HEAD_H_
#define TFLM_APP_HEAD_HEAD_H_

#include <cstdint>

namespace head {

constexpr int32_t kMaxLayers = 4;
constexpr int32_t kMaxWidth = 256;                // largest layer input/output size
constexpr int32_t kScratchBytes = 2 * kMaxWidth;  // ping-pong activations between layers

struct FcLayer {
  int32_t input_size = 0;
  int32_t output_size = 0;
  const int8_t* weights = nullptr;  // [output_size, input_size] row-major, zero point 0
  const int32_t* bias = nullptr;    // [output_size], may be nullptr (no bias)
  int32_t input_zero_point = 0;
  int32_t output_zero_point = 0;
  int32_t output_multiplier = 0;    // TFLite QuantizeMultiplier convention: Q31 in [2^30, 2^31)
  int32_t output_shift = 0;         // > 0 left shift, < 0 right shift
  bool relu = false;                // fused ReLU: clamp below at output_zero_point
};

struct HeadParams {
  int32_t num_layers = 0;
  FcLayer layers[kMaxLayers];
  float logit_scale = 1.0f;         // real logit = logit_scale * (l - logit_zero_point)
  int32_t logit_zero_point = 0;

  int32_t input_size() const { return num_layers > 0 ? layers[0].input_size : 0; }
  int32_t num_classes() const { return num_layers > 0 ? layers[num_layers - 1].output_size : 0; }
};

// nullptr when the layers chain and every value is in range, else what is wrong.
const char* Validate(const HeadParams& p);

// TFLite gemmlowp-style fixed point (tensorflow/lite/kernels/internal/common.h), exact.
int32_t SaturatingRoundingDoublingHighMul(int32_t a, int32_t b);
int32_t RoundingDivideByPOT(int32_t x, int32_t exponent);
int32_t MultiplyByQuantizedMultiplier(int32_t x, int32_t quantized_multiplier, int32_t shift);

// One layer: out[o] = clamp(MBQM(sum_i (in[i] - in_zp) * w[o, i] + bias[o]) + out_zp).
// FullyConnected is defined by the implementation the build links (like tflm_app/fastgrnn):
// head_reference.cc (portable; the host build) or head_cortex_m4.cc (ACLE dual MACs;
// the tflm_app/m4 IMPL=m4 build). Both give bit-identical outputs; FullyConnectedReference is the
// TFLite reference arithmetic itself, always present (tests compare the two).
void FullyConnected(const FcLayer& layer, const int8_t* input, int8_t* output);
void FullyConnectedReference(const FcLayer& layer, const int8_t* input, int8_t* output);

// All layers: h [input_size] -> logits [num_classes]. scratch: kScratchBytes bytes.
void Run(const HeadParams& p, const int8_t* input, int8_t* logits, int8_t* scratch);

// float32 sum in numpy's order (pairwise: 8 accumulators, blocks of 128), so that the softmax
// denominator is bit-identical with numpy's `sum(dtype=float32)` for any number of classes.
float PairwiseSum(const float* a, int32_t n);

// uint8 posteriors: clamp(floor(255 * softmax(scale * (l - zp)) + 0.5), 0, 255), float32 with
// expf, as fastgrnn_tf/int8/head_oracle.py `scores`. expf itself may differ from numpy's exp by an ulp,
// so a score exactly on a rounding boundary may differ by 1 (detector_spec.md allows it).
void Scores(const int8_t* logits, int32_t num_classes, float logit_scale, int32_t logit_zero_point,
            uint8_t* scores);

}  // namespace head

#endif  // TFLM_APP_HEAD_HEAD_H_
