// Fuzz target: the bitmap-sparse weight check and expansion (fastgrnn_int8.h, spec "Sparse-stored
// weights"). Input: u8 rows, u8 cols, u16 nnz, u16 bitmap bytes, then the bitmap, then the values.
// Every buffer is allocated at exactly its claimed size, so AddressSanitizer sees any read past it.
// A bitmap that passes CheckBitmapSparse must expand to a matrix whose non-zero pattern is the
// bitmap and whose non-zeros are the values in row-major order.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "fastgrnn_int8.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Input in(data, size);
  const int32_t rows = in.Take<uint8_t>();
  const int32_t cols = in.Take<uint8_t>();
  const int64_t nnz = in.Take<uint16_t>();
  const size_t bitmap_bytes = in.Take<uint16_t>();
  const uint8_t* raw = nullptr;
  std::vector<uint8_t> bitmap(bitmap_bytes);  // exact size: copied so ASan bounds it
  const size_t got = in.TakeBytes(bitmap_bytes, &raw);
  for (size_t i = 0; i < got; ++i) bitmap[i] = raw[i];
  std::vector<int8_t> values(static_cast<size_t>(nnz), 1);  // odd, so never 0 (stored values are non-zero)
  const uint8_t* v = nullptr;
  const size_t nv = in.TakeBytes(values.size(), &v);
  for (size_t i = 0; i < nv; ++i) values[i] = static_cast<int8_t>(v[i] | 1);

  const char* err = fastgrnn::CheckBitmapSparse(bitmap.data(), static_cast<int64_t>(bitmap.size()), rows, cols, nnz);
  if (err != nullptr) return 0;
  FUZZ_CHECK(fastgrnn::BitmapBytes(rows, cols) == static_cast<int64_t>(bitmap.size()));
  std::vector<int8_t> dense(static_cast<size_t>(rows) * static_cast<size_t>(cols));
  fastgrnn::ExpandBitmapSparse(values.data(), bitmap.data(), rows, cols, dense.data());
  int64_t k = 0;
  for (size_t i = 0; i < dense.size(); ++i) {
    const bool bit = (bitmap[i / 8] >> (i % 8)) & 1u;
    if (bit) {
      FUZZ_CHECK(k < nnz);
      FUZZ_CHECK(dense[i] == values[static_cast<size_t>(k)]);
      ++k;
    } else {
      FUZZ_CHECK(dense[i] == 0);
    }
  }
  FUZZ_CHECK(k == nnz);
  return 0;
}
