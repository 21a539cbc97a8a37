#include "wakeword_glue.h"

#include <cmath>

#include "../../head/head.h"

namespace wakeword {

bool IsSoftmaxOutput(float scale, int32_t zero_point) {
  return zero_point == -128 && std::fabs(scale * 256.0f - 1.0f) < 1e-6f;
}

void OutputScores(const int8_t* output, int32_t num_classes, float scale, int32_t zero_point,
                  uint8_t* scores) {
  if (!IsSoftmaxOutput(scale, zero_point)) {
    head::Scores(output, num_classes, scale, zero_point, scores);
    return;
  }
  for (int32_t c = 0; c < num_classes; ++c) {
    const float p = scale * static_cast<float>(static_cast<int32_t>(output[c]) - zero_point);
    const float v = std::floor(255.0f * p + 0.5f);
    scores[c] = static_cast<uint8_t>(v < 0.0f ? 0.0f : (v > 255.0f ? 255.0f : v));
  }
}

const char* InterpreterModel::Init(int8_t* input, int32_t num_features, const int8_t* output, int32_t num_classes,
                                   float output_scale, int32_t output_zero_point, Call invoke, Call reset,
                                   void* user) {
  if (input == nullptr || output == nullptr || invoke == nullptr) return "model: input, output or Invoke missing";
  if (num_features < 1 || num_classes < 1) return "model: no features or no classes";
  input_ = input;
  output_ = output;
  num_features_ = num_features;
  num_classes_ = num_classes;
  scale_ = output_scale;
  zero_point_ = output_zero_point;
  invoke_ = invoke;
  reset_ = reset;
  user_ = user;
  return nullptr;
}

}  // namespace wakeword
