// Fake of flatbuffers/flexbuffers.h: the Reference/Map calls the adapter makes, over a
// fake_tflm::FakeOptions table (see fake_tflm.h) instead of real flexbuffer bytes.
#ifndef FAKE_FLEXBUFFERS_H_
#define FAKE_FLEXBUFFERS_H_
#include <cstddef>
#include <cstdint>
namespace flexbuffers {
enum Type { FBT_NULL = 0, FBT_INT = 1, FBT_UINT = 2, FBT_BOOL = 26, FBT_STRING = 5, FBT_MAP = 9 };
class Map;
class Reference {
 public:
  Reference() = default;
  Reference(Type type, int64_t value, const void* map) : type_(type), value_(value), map_(map) {}
  bool IsNull() const { return type_ == FBT_NULL; }
  bool IsBool() const { return type_ == FBT_BOOL; }
  bool IsIntOrUint() const { return type_ == FBT_INT || type_ == FBT_UINT; }
  bool IsString() const { return type_ == FBT_STRING; }
  bool IsMap() const { return type_ == FBT_MAP; }
  int64_t AsInt64() const { return value_; }
  bool AsBool() const { return value_ != 0; }
  Map AsMap() const;

 private:
  Type type_ = FBT_NULL;
  int64_t value_ = 0;
  const void* map_ = nullptr;
};
class Map {
 public:
  explicit Map(const void* table) : table_(table) {}
  Reference operator[](const char* key) const;

 private:
  const void* table_;
};
Reference GetRoot(const uint8_t* buffer, size_t size);
}  // namespace flexbuffers
#endif  // FAKE_FLEXBUFFERS_H_
