// A MicroInterpreter with the FastGRNN op and the head's builtin ops, behind a C API for Python
// (ctypes), built against the TFLM checkout given as TFLM_DIR (tflm_app/tflm/real/Makefile), so the
// opt-in test tests/test_tflm_real_adapter.py runs the adapter in the real interpreter of exactly that
// checkout, without the pip package tflite-micro. Host-only test harness: it owns heap buffers.
//
//   void* r = fgr_create(model, bytes, arena_bytes);   // nullptr: AllocateTensors failed (MicroPrintf says why)
//   fgr_input(r, 0, x, n); fgr_invoke(r); fgr_tensor(r, index, out, n); fgr_reset(r); fgr_destroy(r);
// Every tensor is preserved (preserve_all_tensors), so intermediate tensors can be read after Invoke.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include "../fastgrnn_op.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"

namespace {

struct Runner {
  uint8_t* model = nullptr;  // a copy: the flatbuffer must outlive the interpreter
  uint8_t* arena = nullptr;
  tflite::MicroMutableOpResolver<6> resolver;
  tflite::MicroInterpreter* interpreter = nullptr;
  alignas(16) unsigned char interpreter_storage[sizeof(tflite::MicroInterpreter)];
};

void Destroy(Runner* r) {
  if (r == nullptr) return;
  if (r->interpreter != nullptr) r->interpreter->~MicroInterpreter();
  free(r->model);
  free(r->arena);
  r->~Runner();
  free(r);
}

// Copies up to `bytes` of an eval tensor into `out`; its size in bytes, or -1.
long CopyOut(const TfLiteEvalTensor* t, void* out, size_t bytes) {
  if (t == nullptr || t->data.data == nullptr) return -1;
  size_t n = 1;
  for (int i = 0; i < t->dims->size; ++i) n *= static_cast<size_t>(t->dims->data[i]);
  size_t elem = 1;
  if (t->type == kTfLiteInt16) elem = 2;
  if (t->type == kTfLiteInt32 || t->type == kTfLiteFloat32) elem = 4;
  n *= elem;
  memcpy(out, t->data.data, n < bytes ? n : bytes);
  return static_cast<long>(n);
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) void* fgr_create(const uint8_t* model, size_t model_bytes,
                                                         size_t arena_bytes) {
  void* mem = malloc(sizeof(Runner));
  if (mem == nullptr) return nullptr;
  Runner* r = new (mem) Runner();
  r->model = static_cast<uint8_t*>(aligned_alloc(16, (model_bytes + 15) / 16 * 16));
  r->arena = static_cast<uint8_t*>(aligned_alloc(16, (arena_bytes + 15) / 16 * 16));
  if (r->model == nullptr || r->arena == nullptr) {
    Destroy(r);
    return nullptr;
  }
  memcpy(r->model, model, model_bytes);
  if (r->resolver.AddCustom(tflite::kFastGrnnOpName, tflite::Register_FASTGRNN()) != kTfLiteOk ||
      r->resolver.AddFullyConnected() != kTfLiteOk || r->resolver.AddSoftmax() != kTfLiteOk ||
      r->resolver.AddReshape() != kTfLiteOk || r->resolver.AddQuantize() != kTfLiteOk ||
      r->resolver.AddDequantize() != kTfLiteOk) {
    Destroy(r);
    return nullptr;
  }
  r->interpreter = new (r->interpreter_storage) tflite::MicroInterpreter(
      tflite::GetModel(r->model), r->resolver, r->arena, arena_bytes, nullptr, nullptr, true);
  if (r->interpreter->AllocateTensors() != kTfLiteOk || r->interpreter->Reset() != kTfLiteOk) {
    Destroy(r);
    return nullptr;
  }
  return r;
}

__attribute__((visibility("default"))) void fgr_destroy(void* r) { Destroy(static_cast<Runner*>(r)); }

__attribute__((visibility("default"))) int fgr_input(void* r, int index, const void* data, size_t bytes) {
  TfLiteTensor* t = static_cast<Runner*>(r)->interpreter->input(index);
  if (t == nullptr || t->bytes != bytes) return -1;
  memcpy(t->data.raw, data, bytes);
  return 0;
}

__attribute__((visibility("default"))) int fgr_invoke(void* r) {
  return static_cast<Runner*>(r)->interpreter->Invoke() == kTfLiteOk ? 0 : -1;
}

__attribute__((visibility("default"))) int fgr_reset(void* r) {
  return static_cast<Runner*>(r)->interpreter->Reset() == kTfLiteOk ? 0 : -1;
}

// Tensor `index` of subgraph 0 (any tensor: all are preserved); bytes copied = min(size, bytes).
__attribute__((visibility("default"))) long fgr_tensor(void* r, int index, void* out, size_t bytes) {
  return CopyOut(static_cast<Runner*>(r)->interpreter->GetTensor(index), out, bytes);
}

__attribute__((visibility("default"))) long fgr_output(void* r, int index, void* out, size_t bytes) {
  const TfLiteTensor* t = static_cast<Runner*>(r)->interpreter->output(index);
  if (t == nullptr) return -1;
  memcpy(out, t->data.raw, t->bytes < bytes ? t->bytes : bytes);
  return static_cast<long>(t->bytes);
}

__attribute__((visibility("default"))) size_t fgr_arena_used(void* r) {
  return static_cast<Runner*>(r)->interpreter->arena_used_bytes();
}

}  // extern "C"
