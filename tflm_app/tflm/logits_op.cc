// See logits_op.h. TFLM API as in fastgrnn_op.cc (both generations; MicroContext temp tensors in
// Prepare, eval tensors in Eval).
#include "logits_op.h"

#include <cstring>

#if __has_include("tensorflow/lite/micro/c/common.h")
#include "tensorflow/lite/micro/c/common.h"
#elif __has_include("tensorflow/lite/c/common.h")
#include "tensorflow/lite/c/common.h"
#endif
#include "tensorflow/lite/micro/kernels/kernel_util.h"
#include "tensorflow/lite/micro/micro_context.h"
#include "tensorflow/lite/micro/micro_log.h"
#if __has_include("tensorflow/lite/kernels/kernel_util.h")
#include "tensorflow/lite/kernels/kernel_util.h"
#endif

namespace tflite {
namespace {

using namespace micro;  // NOLINT(build/namespaces): current TFLM's API; empty of these names in older TFLM

// Input and output int8 with the same number of bytes.
TfLiteStatus Prepare(TfLiteContext* context, TfLiteNode* node) {
  if (NumInputs(node) != 1 || NumOutputs(node) != 1) {
    MicroPrintf("SOFTMAX (as logits): expected 1 input and 1 output");
    return kTfLiteError;
  }
  MicroContext* mc = GetMicroContext(context);
  TfLiteTensor* in = mc->AllocateTempInputTensor(node, 0);
  TfLiteTensor* out = mc->AllocateTempOutputTensor(node, 0);
  TfLiteStatus status = kTfLiteOk;
  if (in == nullptr || out == nullptr || in->type != kTfLiteInt8 || out->type != kTfLiteInt8 ||
      in->bytes != out->bytes) {
    MicroPrintf("SOFTMAX (as logits): input and output must be int8 tensors of the same size");
    status = kTfLiteError;
  }
  if (in != nullptr) mc->DeallocateTempTfLiteTensor(in);
  if (out != nullptr) mc->DeallocateTempTfLiteTensor(out);
  return status;
}

TfLiteStatus Eval(TfLiteContext* context, TfLiteNode* node) {
  const TfLiteEvalTensor* in = tflite::micro::GetEvalInput(context, node, 0);
  TfLiteEvalTensor* out = tflite::micro::GetEvalOutput(context, node, 0);
  int32_t n = 1;
  for (int i = 0; i < in->dims->size; ++i) n *= in->dims->data[i];
  memcpy(tflite::micro::GetTensorData<int8_t>(out), tflite::micro::GetTensorData<int8_t>(in), static_cast<size_t>(n));
  return kTfLiteOk;
}

}  // namespace

TFLMRegistration* Register_SOFTMAX_AS_LOGITS() {
  static TFLMRegistration r = tflite::micro::RegisterOp(nullptr, Prepare, Eval);
  return &r;
}

bool SoftmaxLogitsQuantization(const Model* model, float* scale, int32_t* zero_point) {
  if (model->subgraphs() == nullptr || model->subgraphs()->size() < 1) return false;
  const SubGraph* g = model->subgraphs()->Get(0);
  if (g->operators() == nullptr || g->operators()->size() < 1 || g->outputs() == nullptr ||
      g->outputs()->size() != 1 || g->tensors() == nullptr) {
    return false;
  }
  const Operator* last = g->operators()->Get(g->operators()->size() - 1);
  const OperatorCode* code = model->operator_codes()->Get(last->opcode_index());
  const int32_t builtin = code->builtin_code() > static_cast<int32_t>(code->deprecated_builtin_code())
                              ? code->builtin_code()
                              : static_cast<int32_t>(code->deprecated_builtin_code());
  if (builtin != BuiltinOperator_SOFTMAX || last->inputs()->size() != 1 || last->outputs()->size() != 1 ||
      last->outputs()->Get(0) != g->outputs()->Get(0)) {
    return false;
  }
  const Tensor* logits = g->tensors()->Get(last->inputs()->Get(0));
  const QuantizationParameters* q = logits->quantization();
  if (logits->type() != TensorType_INT8 || q == nullptr || q->scale() == nullptr || q->zero_point() == nullptr ||
      q->scale()->size() != 1 || q->zero_point()->size() != 1) {
    return false;
  }
  *scale = q->scale()->Get(0);
  *zero_point = static_cast<int32_t>(q->zero_point()->Get(0));
  return true;
}

}  // namespace tflite
