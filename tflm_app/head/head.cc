#include "head.h"

#include <cmath>
#include <cstdint>
#include <limits>

// No implicit a * b + c contraction: GCC contracts by default in C++ where the target has FMA (the
// Cortex-M4, not a plain x86-64 host), and in Scores it turned 255 * p + 0.5 into one VFMA, which
// rounds differently from the oracle's float32 `255 * p` then `+ 0.5`.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace head {

int32_t SaturatingRoundingDoublingHighMul(int32_t a, int32_t b) {
  const bool overflow = a == b && a == std::numeric_limits<int32_t>::min();
  const int64_t ab = static_cast<int64_t>(a) * static_cast<int64_t>(b);
  const int32_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
  // Division truncates toward zero, as in TFLite (not an arithmetic shift).
  const int32_t high = static_cast<int32_t>((ab + nudge) / (int64_t{1} << 31));
  return overflow ? std::numeric_limits<int32_t>::max() : high;
}

int32_t RoundingDivideByPOT(int32_t x, int32_t exponent) {
  const int32_t mask = static_cast<int32_t>((int64_t{1} << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

int32_t MultiplyByQuantizedMultiplier(int32_t x, int32_t quantized_multiplier, int32_t shift) {
  const int32_t left_shift = shift > 0 ? shift : 0;
  const int32_t right_shift = shift > 0 ? 0 : -shift;
  // TFLite multiplies in int32 (x * (1 << left_shift)); do it in uint32 to keep the same wrap
  // without signed-overflow undefined behaviour.
  const int32_t shifted = static_cast<int32_t>(static_cast<uint32_t>(x) << left_shift);
  return RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(shifted, quantized_multiplier), right_shift);
}

float PairwiseSum(const float* a, int32_t n) {
  if (n < 8) {
    float res = 0.0f;
    for (int32_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {
    float r[8];
    for (int32_t j = 0; j < 8; ++j) r[j] = a[j];
    int32_t i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (int32_t j = 0; j < 8; ++j) r[j] += a[i + j];
    }
    float res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  int32_t n2 = n / 2;
  n2 -= n2 % 8;
  return PairwiseSum(a, n2) + PairwiseSum(a + n2, n - n2);
}

const char* Validate(const HeadParams& p) {
  if (p.num_layers < 1 || p.num_layers > kMaxLayers) return "head: num_layers must be in [1, kMaxLayers=4]";
  for (int32_t i = 0; i < p.num_layers; ++i) {
    const FcLayer& l = p.layers[i];
    if (l.input_size < 1 || l.input_size > kMaxWidth || l.output_size < 1 || l.output_size > kMaxWidth) {
      return "head: layer input/output size must be in [1, kMaxWidth=256]";
    }
    if (i > 0 && l.input_size != p.layers[i - 1].output_size) {
      return "head: layer input_size differs from the previous layer's output_size";
    }
    if (l.weights == nullptr) return "head: layer weights missing";
    if (l.input_zero_point < -128 || l.input_zero_point > 127 || l.output_zero_point < -128 ||
        l.output_zero_point > 127) {
      return "head: zero points must be in [-128, 127]";
    }
    if (l.output_multiplier < 0) return "head: output_multiplier must be >= 0";
    if (l.output_shift < -31 || l.output_shift > 30) return "head: output_shift must be in [-31, 30]";
  }
  if (!(p.logit_scale > 0.0f) || !std::isfinite(p.logit_scale)) return "head: logit_scale must be > 0";
  if (p.logit_zero_point < -128 || p.logit_zero_point > 127) {
    return "head: logit_zero_point must be in [-128, 127]";
  }
  return nullptr;
}

void FullyConnectedReference(const FcLayer& layer, const int8_t* input, int8_t* output) {
  const int32_t lo = layer.relu ? (layer.output_zero_point > -128 ? layer.output_zero_point : -128) : -128;
  const int32_t hi = 127;
  for (int32_t o = 0; o < layer.output_size; ++o) {
    const int8_t* w = layer.weights + static_cast<int64_t>(o) * layer.input_size;
    int32_t acc = 0;
    for (int32_t i = 0; i < layer.input_size; ++i) {
      acc += (static_cast<int32_t>(input[i]) - layer.input_zero_point) * static_cast<int32_t>(w[i]);
    }
    if (layer.bias != nullptr) acc += layer.bias[o];
    acc = MultiplyByQuantizedMultiplier(acc, layer.output_multiplier, layer.output_shift);
    acc += layer.output_zero_point;
    acc = acc < lo ? lo : (acc > hi ? hi : acc);
    output[o] = static_cast<int8_t>(acc);
  }
}

void Run(const HeadParams& p, const int8_t* input, int8_t* logits, int8_t* scratch) {
  const int8_t* in = input;
  for (int32_t i = 0; i < p.num_layers; ++i) {
    int8_t* out = (i == p.num_layers - 1) ? logits : scratch + (i % 2) * kMaxWidth;
    FullyConnected(p.layers[i], in, out);
    in = out;
  }
}

void Scores(const int8_t* logits, int32_t num_classes, float logit_scale, int32_t logit_zero_point,
            uint8_t* scores) {
  // Only x[0, num_classes) is used, and written before it is read; not zeroed (a 1 KB memset per
  // frame), which GCC cannot see through PairwiseSum's pointer.
#pragma GCC diagnostic push
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
  float x[kMaxWidth];
  float max_x = -std::numeric_limits<float>::infinity();
  for (int32_t c = 0; c < num_classes; ++c) {
    x[c] = logit_scale * static_cast<float>(static_cast<int32_t>(logits[c]) - logit_zero_point);
    if (x[c] > max_x) max_x = x[c];
  }
  for (int32_t c = 0; c < num_classes; ++c) x[c] = expf(x[c] - max_x);
  const float sum = PairwiseSum(x, num_classes);
#pragma GCC diagnostic pop
  for (int32_t c = 0; c < num_classes; ++c) {
    // floor(255 p + 0.5) in float32, as fastgrnn_tf/int8/head_oracle.py (not roundf: the float32 sum
    // x + 0.5 may round up where roundf(x) would not).
    const float scaled = 255.0f * (x[c] / sum);
    // scaled is in [0, 255] (x[c] <= sum), so truncation is the floor (floorf is a libm call).
    const float r = scaled + 0.5f;
    const int32_t v = r < 256.0f ? static_cast<int32_t>(r) : 255;
    scores[c] = static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
  }
}

}  // namespace head
