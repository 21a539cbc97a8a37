// Reads typed values off a fuzzer's byte string: past the end every value is 0 and every byte
// string empty, so a target never reads outside the input (libFuzzer hands over exactly `size`
// bytes, and AddressSanitizer would catch any read past them).
#ifndef TFLM_APP_FUZZ_FUZZ_INPUT_H_
#define TFLM_APP_FUZZ_FUZZ_INPUT_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace fuzz {

class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  template <typename T>
  T Take() {
    T v{};
    if (size_ - pos_ >= sizeof(T)) {
      memcpy(&v, data_ + pos_, sizeof(T));
      pos_ += sizeof(T);
    } else {
      pos_ = size_;
    }
    return v;
  }
  // Up to `n` bytes (fewer at the end); returns how many.
  size_t TakeBytes(size_t n, const uint8_t** out) {
    const size_t k = n < size_ - pos_ ? n : size_ - pos_;
    *out = data_ + pos_;
    pos_ += k;
    return k;
  }
  const uint8_t* rest() const { return data_ + pos_; }
  size_t remaining() const { return size_ - pos_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Aborts the process (a finding for the fuzzer) when an invariant of the code under test fails.
#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
      abort();                                                                      \
    }                                                                               \
  } while (0)

}  // namespace fuzz

#endif  // TFLM_APP_FUZZ_FUZZ_INPUT_H_
