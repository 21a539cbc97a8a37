// The in-memory "interpreter" behind the fake TFLM headers (see README.md): a tensor table, one
// arena for persistent and scratch buffers, temp-tensor bookkeeping and a log of MicroPrintf.
#ifndef FAKE_TFLM_FAKE_TFLM_H_
#define FAKE_TFLM_FAKE_TFLM_H_

#include <cstddef>
#include <cstdint>
#include <initializer_list>

#include "flatbuffers/flexbuffers.h"
#include "tensorflow/lite/c/common.h"
#include "tensorflow/lite/micro/micro_context.h"

namespace fake_tflm {

constexpr uint32_t kOptionsMagic = 0xF1E7B0F5u;

// What the fake flexbuffers::GetRoot reads instead of real flexbuffer bytes.
struct FakeOptions {
  struct Entry {
    const char* key;
    flexbuffers::Type type;
    int64_t value;
  };
  uint32_t magic = kOptionsMagic;
  int count = 0;
  Entry entries[32] = {};

  void Set(const char* key, flexbuffers::Type type, int64_t value);  // adds or replaces
  void Remove(const char* key);
};

class FakeContext : public tflite::MicroContext {
 public:
  static constexpr int kMaxTensors = 16;
  static constexpr int kMaxScratch = 4;

  FakeContext();
  // Adds a tensor; data is borrowed. Returns its index.
  int AddTensor(TfLiteType type, std::initializer_list<int> shape, void* data, float scale = 0.0f,
                int32_t zero_point = 0, bool constant = false, bool variable = false);
  // Carves every requested scratch buffer out of the arena (TFLM does this between Prepare and Eval).
  bool PlanScratch();

  void* AllocatePersistentBuffer(size_t bytes) override;
  TfLiteStatus RequestScratchBufferInArena(size_t bytes, int* buffer_idx) override;
  void* GetScratchBuffer(int buffer_idx) override;
  TfLiteTensor* AllocateTempTfLiteTensor(int tensor_idx) override;
  void DeallocateTempTfLiteTensor(TfLiteTensor* tensor) override;
  TfLiteEvalTensor* GetEvalTensor(int tensor_idx) override;

  TfLiteContext context;
  TfLiteTensor tensors[kMaxTensors];
  TfLiteEvalTensor evals[kMaxTensors];
  TfLiteIntArray dims[kMaxTensors];
  TfLiteAffineQuantization affine[kMaxTensors];
  TfLiteFloatArray scales[kMaxTensors];
  int num_tensors = 0;
  int live_temp_tensors = 0;  // AllocateTemp* minus DeallocateTemp*
  size_t persistent_bytes = 0;
  size_t scratch_requested[kMaxScratch] = {};
  void* scratch[kMaxScratch] = {};
  int num_scratch = 0;

 private:
  void* Carve(size_t bytes);
  alignas(16) uint8_t arena_[64 * 1024];
  size_t arena_used_ = 0;
};

// The last MicroPrintf message ("" if none since ClearLog).
const char* LastMessage();
void ClearLog();

}  // namespace fake_tflm

#endif  // FAKE_TFLM_FAKE_TFLM_H_
