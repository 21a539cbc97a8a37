// Reader of the named-array model bundle `.fgb` (fastgrnn_tf/export/bundle_spec.md).
//
// Loading copies every entry into caller-owned storage with each array aligned to 8 bytes, so
// the typed pointers Find() returns can be dereferenced directly (the file itself packs arrays
// without padding). The storage is a static buffer on device (QEMU semihosting) or a vector on
// the host. Errors are reported through error(), a message naming the file and the entry.
//
//   fgb::Bundle b;
//   std::vector<uint8_t> storage;
//   if (!b.LoadFile("model.fgb", &storage)) { fprintf(stderr, "%s\n", b.error()); return 1; }
//   fgb::Array w;
//   if (!b.Find("fastgrnn.w1", fgb::DType::kInt8, &w)) ...   // w.i8(), w.dims[0], w.dims[1]
//   int32_t units;
//   if (!b.GetInt("fastgrnn.opt.units", &units)) ...
#ifndef TFLM_APP_COMMON_BUNDLE_H_
#define TFLM_APP_COMMON_BUNDLE_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace fgb {

enum class DType : uint8_t { kInt8 = 1, kInt16 = 2, kInt32 = 3, kFloat32 = 4, kUint8 = 5 };

constexpr int kMaxDims = 4;

// Size in bytes of one element; 0 for an unknown dtype code.
size_t DTypeSize(uint8_t code);
const char* DTypeName(DType dtype);

// One named array; pointers point into the bundle's storage.
struct Array {
  const char* name = nullptr;  // NUL-terminated
  DType dtype = DType::kInt8;
  int32_t ndim = 0;            // 0 = scalar
  uint32_t dims[kMaxDims] = {0, 0, 0, 0};
  size_t count = 0;            // number of elements (1 for a scalar)
  const void* data = nullptr;  // aligned to 8 bytes

  const int8_t* i8() const { return static_cast<const int8_t*>(data); }
  const int16_t* i16() const { return static_cast<const int16_t*>(data); }
  const int32_t* i32() const { return static_cast<const int32_t*>(data); }
  const float* f32() const { return static_cast<const float*>(data); }
  const uint8_t* u8() const { return static_cast<const uint8_t*>(data); }
};

class Bundle {
 public:
  // Reads a whole file into `storage` (capacity bytes, any alignment). False on any error.
  bool LoadFile(const char* path, void* storage, size_t capacity);
  // Host convenience: sizes `storage` as needed.
  bool LoadFile(const char* path, std::vector<uint8_t>* storage);
  // Parses a bundle already in memory (e.g. compiled in); `label` names it in messages.
  bool LoadMemory(const void* data, size_t size, const char* label, void* storage, size_t capacity);
  // Host convenience: sizes `storage` as needed (LoadFile's vector form does the same). A header
  // claiming more entries than the bytes can hold is rejected before anything is allocated.
  bool LoadMemory(const void* data, size_t size, const char* label, std::vector<uint8_t>* storage);
  // Storage LoadMemory/LoadFile needs for a bundle of `file_bytes` bytes with `count` entries.
  static size_t StorageBytes(size_t file_bytes, uint32_t count);

  size_t size() const { return count_; }       // number of entries
  bool At(size_t index, Array* out) const;     // entries in file order
  bool Has(const char* name) const;

  // Finds `name` with the given dtype. On failure: false, error() says why (absent / wrong dtype).
  bool Find(const char* name, DType dtype, Array* out);
  // Same, and also checks the number of elements.
  bool FindCount(const char* name, DType dtype, size_t count, Array* out);
  // An int32 scalar (or 1-element array).
  bool GetInt(const char* name, int32_t* value);
  // A float32 scalar (or 1-element array).
  bool GetFloat(const char* name, float* value);
  // A uint8 text entry; copies at most capacity-1 bytes and NUL-terminates.
  bool GetText(const char* name, char* out, size_t capacity);

  const char* error() const { return error_; }
  const char* label() const { return label_; }

 private:
  struct Entry;
  struct Source;
  bool Load(Source* src, void* storage, size_t capacity);
  bool SizeStorage(size_t file_bytes, const uint8_t* header, std::vector<uint8_t>* storage);
  const Entry* Lookup(const char* name) const;
  bool Fail(const char* fmt, ...);

  const Entry* entries_ = nullptr;
  size_t count_ = 0;
  char label_[128] = {0};
  char error_[256] = {0};
};

}  // namespace fgb

#endif  // TFLM_APP_COMMON_BUNDLE_H_
