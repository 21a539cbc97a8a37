// Fake of tensorflow/lite/micro/micro_context.h (the kernel-facing part of MicroContext).
#ifndef FAKE_TFLM_MICRO_CONTEXT_H_
#define FAKE_TFLM_MICRO_CONTEXT_H_
#include "tensorflow/lite/c/common.h"
namespace tflite {
class MicroContext {
 public:
  virtual ~MicroContext() = default;
  virtual void* AllocatePersistentBuffer(size_t bytes) = 0;
  virtual TfLiteStatus RequestScratchBufferInArena(size_t bytes, int* buffer_idx) = 0;
  virtual void* GetScratchBuffer(int buffer_idx) = 0;
  virtual TfLiteTensor* AllocateTempTfLiteTensor(int tensor_idx) = 0;
  TfLiteTensor* AllocateTempInputTensor(const TfLiteNode* node, int index);
  TfLiteTensor* AllocateTempOutputTensor(const TfLiteNode* node, int index);
  virtual void DeallocateTempTfLiteTensor(TfLiteTensor* tensor) = 0;
  virtual TfLiteEvalTensor* GetEvalTensor(int tensor_idx) = 0;
};
inline MicroContext* GetMicroContext(const struct TfLiteContext* context) {
  return reinterpret_cast<MicroContext*>(context->impl_);
}
}  // namespace tflite
#endif  // FAKE_TFLM_MICRO_CONTEXT_H_
