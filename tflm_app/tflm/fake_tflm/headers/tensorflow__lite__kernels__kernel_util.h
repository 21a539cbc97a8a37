// Fake of tensorflow/lite/kernels/kernel_util.h (the inline helpers the adapter uses).
#ifndef FAKE_TFLM_LITE_KERNEL_UTIL_H_
#define FAKE_TFLM_LITE_KERNEL_UTIL_H_
#include "tensorflow/lite/c/common.h"
namespace tflite {
inline int NumDimensions(const TfLiteTensor* t) { return t->dims->size; }
inline int NumInputs(const TfLiteNode* node) { return node->inputs->size; }
inline int NumOutputs(const TfLiteNode* node) { return node->outputs->size; }
inline bool IsConstantTensor(const TfLiteTensor* tensor) { return tensor->allocation_type == kTfLiteMmapRo; }
}  // namespace tflite
#endif  // FAKE_TFLM_LITE_KERNEL_UTIL_H_
