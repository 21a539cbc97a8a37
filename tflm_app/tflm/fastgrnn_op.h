// TFLM registration of the custom operator "FastGRNN" (fastgrnn_tf/int8/int8_step_spec.md).
//
// A thin adapter: it parses the flexbuffer options, validates every tensor in Prepare and calls
// the TFLM-independent int8 core (tflm_app/fastgrnn/fastgrnn_int8.h) in Eval. The hidden state
// is the variable input tensor 9, so MicroInterpreter::Reset() clears it. The op has 10 inputs, or
// 14 when weight matrices are stored bitmap-sparse (inputs 10-13, spec "Sparse-stored weights"):
// Prepare expands those once into the persistent arena (rows * cols bytes per sparse matrix) and
// prepares the core's weights (fastgrnn::PrepareWeights) there too: Eval does arithmetic only.
//
//   static tflite::MicroMutableOpResolver<3> resolver;
//   resolver.AddCustom(tflite::kFastGrnnOpName, tflite::Register_FASTGRNN());
//   resolver.AddFullyConnected();
//   resolver.AddSoftmax();
//
// Compiles against both TFLM API generations: current TFLM (C API types and MicroContext in
// namespace tflite::micro, after PR #3797) and older TFLM such as the Arduino library (global C API
// types, tflite::MicroContext); see fastgrnn_op.cc.
#ifndef TFLM_APP_TFLM_FASTGRNN_OP_H_
#define TFLM_APP_TFLM_FASTGRNN_OP_H_

#if __has_include("tensorflow/lite/micro/micro_common.h")
#include "tensorflow/lite/micro/micro_common.h"
#else
// TFLM snapshots before TFLMRegistration existed (some Arduino library releases) used
// TfLiteRegistration with the same init/prepare/invoke members.
#include "tensorflow/lite/c/common.h"
using TFLMRegistration = TfLiteRegistration;
#endif

namespace tflite {

// The custom-op name the exporter writes into the .tflite operator code.
constexpr char kFastGrnnOpName[] = "FastGRNN";

namespace fastgrnn_op {

// Input tensor indices (spec table "The custom operator FastGRNN"); -1 marks an absent tensor.
constexpr int kInputTensor = 0;      // x, int8 [B, T, D]
constexpr int kW1Tensor = 1;         // W (full rank) or W1, int8 [H, D] or [rw, D]
constexpr int kW2Tensor = 2;         // W2, int8 [H, rw]; absent at full rank
constexpr int kU1Tensor = 3;         // U (full rank) or U1, int8 [H, H] or [ru, H]
constexpr int kU2Tensor = 4;         // U2, int8 [H, ru]; absent at full rank
constexpr int kBiasZTensor = 5;      // int32 [H]
constexpr int kBiasHTensor = 6;      // int32 [H]
constexpr int kGateLutTensor = 7;    // int16 [256]
constexpr int kUpdateLutTensor = 8;  // int16 [256]
constexpr int kStateTensor = 9;      // variable int8 [B, H], scale 1/128, zero point 0
constexpr int kNumInputs = 10;       // without bitmaps (every weight matrix stored dense)
// Optional bitmaps of inputs 1-4, uint8 [ceil(rows * cols / 8)]; -1 (or no such input): the matrix is
// stored dense. With a bitmap, the weight input holds only the non-zero values, int8 [nnz].
constexpr int kW1BitmapTensor = 10;
constexpr int kW2BitmapTensor = 11;  // absent whenever W2 is
constexpr int kU1BitmapTensor = 12;
constexpr int kU2BitmapTensor = 13;  // absent whenever U2 is
constexpr int kNumInputsWithBitmaps = 14;

constexpr int kOutputTensor = 0;  // int8 [B, T, H] (return_sequences) or [B, H]
constexpr int kNumOutputs = 1;

constexpr int kOptionsVersion = 1;  // custom option `version` this adapter accepts
constexpr int kLutSize = 256;

}  // namespace fastgrnn_op

// The registration to pass to MicroMutableOpResolver::AddCustom (TFLM's convention for custom
// ops: a pointer to a function-local static).
TFLMRegistration* Register_FASTGRNN();

}  // namespace tflite

#endif  // TFLM_APP_TFLM_FASTGRNN_OP_H_
