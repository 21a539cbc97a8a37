// Fake of tensorflow/lite/micro/kernels/kernel_util.h.
#ifndef FAKE_TFLM_MICRO_KERNEL_UTIL_H_
#define FAKE_TFLM_MICRO_KERNEL_UTIL_H_
#include "tensorflow/lite/kernels/internal/compatibility.h"
#include "tensorflow/lite/micro/micro_common.h"
#include "tensorflow/lite/micro/micro_context.h"
namespace tflite {
namespace micro {
TFLMRegistration RegisterOp(void* (*init)(TfLiteContext* context, const char* buffer, size_t length),
                            TfLiteStatus (*prepare)(TfLiteContext* context, TfLiteNode* node),
                            TfLiteStatus (*invoke)(TfLiteContext* context, TfLiteNode* node),
                            void (*free)(TfLiteContext* context, void* buffer) = nullptr,
                            void (*reset)(TfLiteContext* context, void* buffer) = nullptr);
TfLiteEvalTensor* GetMutableEvalInput(const TfLiteContext* context, const TfLiteNode* node, int index);
const TfLiteEvalTensor* GetEvalInput(const TfLiteContext* context, const TfLiteNode* node, int index);
TfLiteEvalTensor* GetEvalOutput(const TfLiteContext* context, const TfLiteNode* node, int index);
template <typename T>
T* GetTensorData(TfLiteEvalTensor* tensor) {
  return reinterpret_cast<T*>(tensor->data.raw);
}
template <typename T>
const T* GetTensorData(const TfLiteEvalTensor* tensor) {
  return reinterpret_cast<const T*>(tensor->data.raw);
}
}  // namespace micro
}  // namespace tflite
#endif  // FAKE_TFLM_MICRO_KERNEL_UTIL_H_
