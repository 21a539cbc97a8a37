#include "fake_tflm.h"

#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "tensorflow/lite/micro/kernels/kernel_util.h"
#include "tensorflow/lite/micro/micro_log.h"

namespace {
char g_last_message[512] = "";

int TensorIndex(int index, const TfLiteIntArray* indices) {
  if (index < 0 || index >= indices->size) return -1;
  return indices->data[index] == kTfLiteOptionalTensor ? -1 : indices->data[index];
}
}  // namespace

void MicroPrintf(const char* format, ...) {
  va_list args;
  va_start(args, format);
  vsnprintf(g_last_message, sizeof(g_last_message), format, args);
  va_end(args);
  printf("  [MicroPrintf] %s\n", g_last_message);
}

const char* TfLiteTypeGetName(TfLiteType type) {
  switch (type) {
    case kTfLiteInt8: return "INT8";
    case kTfLiteInt16: return "INT16";
    case kTfLiteInt32: return "INT32";
    case kTfLiteUInt8: return "UINT8";
    case kTfLiteFloat32: return "FLOAT32";
    default: return "Unknown type";
  }
}

namespace flexbuffers {
Reference GetRoot(const uint8_t* buffer, size_t size) {
  const auto* opts = reinterpret_cast<const fake_tflm::FakeOptions*>(buffer);
  if (size < sizeof(fake_tflm::FakeOptions) || opts->magic != fake_tflm::kOptionsMagic) return Reference();
  return Reference(FBT_MAP, 0, opts);
}
Map Reference::AsMap() const { return Map(type_ == FBT_MAP ? map_ : nullptr); }
Reference Map::operator[](const char* key) const {
  const auto* opts = static_cast<const fake_tflm::FakeOptions*>(table_);
  if (opts == nullptr) return Reference();
  for (int i = 0; i < opts->count; ++i) {
    if (strcmp(opts->entries[i].key, key) == 0) {
      return Reference(opts->entries[i].type, opts->entries[i].value, nullptr);
    }
  }
  return Reference();
}
}  // namespace flexbuffers

namespace tflite {
TfLiteTensor* MicroContext::AllocateTempInputTensor(const TfLiteNode* node, int index) {
  const int t = TensorIndex(index, node->inputs);
  return t < 0 ? nullptr : AllocateTempTfLiteTensor(t);
}
TfLiteTensor* MicroContext::AllocateTempOutputTensor(const TfLiteNode* node, int index) {
  const int t = TensorIndex(index, node->outputs);
  return t < 0 ? nullptr : AllocateTempTfLiteTensor(t);
}
namespace micro {
TFLMRegistration RegisterOp(void* (*init)(TfLiteContext*, const char*, size_t),
                            TfLiteStatus (*prepare)(TfLiteContext*, TfLiteNode*),
                            TfLiteStatus (*invoke)(TfLiteContext*, TfLiteNode*),
                            void (*free)(TfLiteContext*, void*), void (*reset)(TfLiteContext*, void*)) {
  return {init, free, prepare, invoke, reset, 0, nullptr};
}
TfLiteEvalTensor* GetMutableEvalInput(const TfLiteContext* context, const TfLiteNode* node, int index) {
  const int t = TensorIndex(index, node->inputs);
  return t < 0 ? nullptr : GetMicroContext(context)->GetEvalTensor(t);
}
const TfLiteEvalTensor* GetEvalInput(const TfLiteContext* context, const TfLiteNode* node, int index) {
  return GetMutableEvalInput(context, node, index);
}
TfLiteEvalTensor* GetEvalOutput(const TfLiteContext* context, const TfLiteNode* node, int index) {
  return GetMicroContext(context)->GetEvalTensor(node->outputs->data[index]);
}
}  // namespace micro
}  // namespace tflite

namespace fake_tflm {

void FakeOptions::Set(const char* key, flexbuffers::Type type, int64_t value) {
  for (int i = 0; i < count; ++i) {
    if (strcmp(entries[i].key, key) == 0) {
      entries[i] = {key, type, value};
      return;
    }
  }
  entries[count++] = {key, type, value};
}

void FakeOptions::Remove(const char* key) {
  for (int i = 0; i < count; ++i) {
    if (strcmp(entries[i].key, key) == 0) {
      entries[i] = entries[--count];
      return;
    }
  }
}

FakeContext::FakeContext() {
  context.impl_ = this;
  memset(tensors, 0, sizeof(tensors));
  memset(evals, 0, sizeof(evals));
}

int FakeContext::AddTensor(TfLiteType type, std::initializer_list<int> shape, void* data, float scale,
                           int32_t zero_point, bool constant, bool variable) {
  const int i = num_tensors++;
  dims[i].size = static_cast<int>(shape.size());
  int k = 0;
  for (int d : shape) dims[i].data[k++] = d;
  TfLiteTensor& t = tensors[i];
  t.type = type;
  t.data.data = data;
  t.dims = &dims[i];
  t.params = {scale, zero_point};
  t.allocation_type = constant ? kTfLiteMmapRo : kTfLiteArenaRw;
  t.is_variable = variable;
  scales[i].size = 1;
  scales[i].data[0] = scale;
  affine[i] = {&scales[i], nullptr, 0};
  t.quantization = {scale != 0.0f ? kTfLiteAffineQuantization : kTfLiteNoQuantization, &affine[i]};
  evals[i] = {t.data, t.dims, type};
  return i;
}

void* FakeContext::Carve(size_t bytes) {
  const size_t start = (arena_used_ + 15) & ~static_cast<size_t>(15);
  if (start + bytes > sizeof(arena_)) return nullptr;
  arena_used_ = start + bytes;
  return arena_ + start;
}

void* FakeContext::AllocatePersistentBuffer(size_t bytes) {
  persistent_bytes += bytes;
  return Carve(bytes);
}

TfLiteStatus FakeContext::RequestScratchBufferInArena(size_t bytes, int* buffer_idx) {
  if (num_scratch >= kMaxScratch) return kTfLiteError;
  scratch_requested[num_scratch] = bytes;
  *buffer_idx = num_scratch++;
  return kTfLiteOk;
}

bool FakeContext::PlanScratch() {
  for (int i = 0; i < num_scratch; ++i) {
    scratch[i] = Carve(scratch_requested[i]);
    if (scratch[i] == nullptr) return false;
    memset(scratch[i], 0xA5, scratch_requested[i]);  // garbage, as a reused arena would hold
  }
  return true;
}

void* FakeContext::GetScratchBuffer(int buffer_idx) {
  return buffer_idx >= 0 && buffer_idx < num_scratch ? scratch[buffer_idx] : nullptr;
}

TfLiteTensor* FakeContext::AllocateTempTfLiteTensor(int tensor_idx) {
  if (tensor_idx < 0 || tensor_idx >= num_tensors) return nullptr;
  ++live_temp_tensors;
  return &tensors[tensor_idx];
}

void FakeContext::DeallocateTempTfLiteTensor(TfLiteTensor* tensor) {
  if (tensor != nullptr) --live_temp_tensors;
}

TfLiteEvalTensor* FakeContext::GetEvalTensor(int tensor_idx) {
  return tensor_idx >= 0 && tensor_idx < num_tensors ? &evals[tensor_idx] : nullptr;
}

const char* LastMessage() { return g_last_message; }
void ClearLog() { g_last_message[0] = '\0'; }

}  // namespace fake_tflm
