// A replacement registration for the head's final SOFTMAX that hands the logits through: the output
// tensor receives the int8 logits unchanged (same shape; Prepare checks it), so the firmware scores
// the logits exactly as keyword_spotting/detector_spec.md "Per-frame score" (head::Scores), with the
// logits' scale and zero point read from the model (SoftmaxLogitsQuantization), instead of TFLM's
// int8 SOFTMAX (~6.6 k instructions per hop on the Cortex-M4, probabilities rounded to 1/256).
//
//   resolver.AddSoftmax(*tflite::Register_SOFTMAX_AS_LOGITS());
//   float scale; int32_t zero_point;
//   if (tflite::SoftmaxLogitsQuantization(model, &scale, &zero_point)) { ... output holds logits ... }
#ifndef TFLM_APP_TFLM_LOGITS_OP_H_
#define TFLM_APP_TFLM_LOGITS_OP_H_

#include <cstdint>

#include "fastgrnn_op.h"  // TFLMRegistration for both TFLM API generations
#include "tensorflow/lite/schema/schema_generated.h"

namespace tflite {

TFLMRegistration* Register_SOFTMAX_AS_LOGITS();

// When the last operator of subgraph 0 is SOFTMAX producing the model's only output: true and the
// scale and zero point of its int8 input (the logits). Else false (the output is what the graph says).
bool SoftmaxLogitsQuantization(const Model* model, float* scale, int32_t* zero_point);

}  // namespace tflite

#endif  // TFLM_APP_TFLM_LOGITS_OP_H_
