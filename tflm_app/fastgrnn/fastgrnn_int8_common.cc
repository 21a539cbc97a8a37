// The implementation-independent part of fastgrnn_int8.h: parameter validation, MAC count and the
// expansion of bitmap-sparse weights.
#include "fastgrnn_int8.h"

namespace fastgrnn {

namespace {

bool HasWeightMinus128(const int8_t* w, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    if (w[i] == -128) return true;
  }
  return false;
}

bool MultiplierOk(int32_t m, int32_t shift) { return m >= 0 && shift >= 1 && shift <= 62; }

int PopCount8(uint32_t byte) {
  int n = 0;
  for (; byte != 0; byte &= byte - 1) ++n;
  return n;
}

}  // namespace

const char* Validate(const Int8Params& p) {
  if (p.input_dim <= 0) return "input_dim must be > 0";
  if (p.units <= 0) return "units must be > 0";
  if (p.w_rank < 0) return "w_rank must be >= 0 (0 = full rank)";
  if (p.u_rank < 0) return "u_rank must be >= 0 (0 = full rank)";
  if (p.input_zero_point < -128 || p.input_zero_point > 127) return "input_zero_point must be in [-128, 127]";
  if (p.w1 == nullptr) return "w1 (W or W1) is missing";
  if (p.u1 == nullptr) return "u1 (U or U1) is missing";
  if (p.w_rank > 0 && p.w2 == nullptr) return "w2 is missing although w_rank > 0";
  if (p.w_rank == 0 && p.w2 != nullptr) return "w2 must be absent at full rank (w_rank = 0)";
  if (p.u_rank > 0 && p.u2 == nullptr) return "u2 is missing although u_rank > 0";
  if (p.u_rank == 0 && p.u2 != nullptr) return "u2 must be absent at full rank (u_rank = 0)";
  if (p.bias_z == nullptr || p.bias_h == nullptr) return "bias_z/bias_h missing";
  if (p.gate_lut == nullptr || p.update_lut == nullptr) return "gate_lut/update_lut missing";
  if (!MultiplierOk(p.pre_w_multiplier, p.pre_shift) || !MultiplierOk(p.pre_u_multiplier, p.pre_shift)) {
    return "pre_w/pre_u multiplier must be in [0, 2^31) and pre_shift in [1, 62]";
  }
  if (p.w_rank > 0 && !MultiplierOk(p.v_multiplier, p.v_shift)) {
    return "v_multiplier must be in [0, 2^31) and v_shift in [1, 62]";
  }
  if (p.u_rank > 0 && !MultiplierOk(p.u_multiplier, p.u_shift)) {
    return "u_multiplier must be in [0, 2^31) and u_shift in [1, 62]";
  }
  if (p.zeta_q15 < 0 || p.zeta_q15 > 32767) return "zeta_q15 must be in [0, 32767]";
  if (p.nu_q15 < 0 || p.nu_q15 > 32767) return "nu_q15 must be in [0, 32767]";
  for (int i = 0; i < 256; ++i) {
    if (p.gate_lut[i] < 0) return "gate_lut must lie in [0, 32767] (gate output in [0, 1])";
  }
  const int64_t d = p.input_dim, h = p.units, rw = p.w_rank, ru = p.u_rank;
  if (HasWeightMinus128(p.w1, rw > 0 ? rw * d : h * d) || (rw > 0 && HasWeightMinus128(p.w2, h * rw))) {
    return "W holds -128; weights must be in [-127, 127]";
  }
  if (HasWeightMinus128(p.u1, ru > 0 ? ru * h : h * h) || (ru > 0 && HasWeightMinus128(p.u2, h * ru))) {
    return "U holds -128; weights must be in [-127, 127]";
  }
  return nullptr;
}

int64_t MacsPerStep(const Int8Params& p) {
  const int64_t d = p.input_dim, h = p.units, rw = p.w_rank, ru = p.u_rank;
  const int64_t w = rw > 0 ? d * rw + rw * h : d * h;
  const int64_t u = ru > 0 ? h * ru + ru * h : h * h;
  return w + u;
}

int64_t BitmapBytes(int32_t rows, int32_t cols) {
  return (static_cast<int64_t>(rows) * cols + 7) / 8;
}

const char* CheckBitmapSparse(const uint8_t* bitmap, int64_t bitmap_bytes, int32_t rows, int32_t cols,
                              int64_t nnz) {
  if (rows <= 0 || cols <= 0) return "the matrix shape must be positive";
  if (bitmap_bytes != BitmapBytes(rows, cols)) return "the bitmap must have ceil(rows * cols / 8) bytes";
  if (nnz < 1) return "a sparse matrix must store at least one value (nnz >= 1)";
  if (bitmap == nullptr) return "the bitmap data is missing";
  const int64_t elements = static_cast<int64_t>(rows) * cols;
  const int used_bits = static_cast<int>(elements % 8);  // of the last byte; 0: no padding
  if (used_bits != 0 && (bitmap[bitmap_bytes - 1] >> used_bits) != 0) {
    return "padding bits after element rows * cols of the bitmap must be 0";
  }
  int64_t set = 0;
  for (int64_t b = 0; b < bitmap_bytes; ++b) set += PopCount8(bitmap[b]);
  if (set != nnz) return "the number of set bitmap bits differs from the number of stored values";
  return nullptr;
}

void ExpandBitmapSparse(const int8_t* values, const uint8_t* bitmap, int32_t rows, int32_t cols, int8_t* dense) {
  const int64_t elements = static_cast<int64_t>(rows) * cols;
  for (int64_t i = 0; i < elements; ++i) {
    dense[i] = (bitmap[i >> 3] >> (i & 7)) & 1 ? *values++ : 0;
  }
}

}  // namespace fastgrnn
