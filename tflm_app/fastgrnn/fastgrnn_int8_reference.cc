// Portable reference implementation of the int8 FastGRNN step (int8_step_spec.md): plain loops,
// no prepared data. The element-wise part lives in fastgrnn_int8_common.h.
#include <cstring>

#include "fastgrnn_int8.h"
#include "fastgrnn_int8_common.h"

namespace fastgrnn {

namespace {

using internal::Requant;
using internal::Sat8;

// out[r] = sum_i w[r, i] * (x[i] - zp), w int8 [rows, cols].
void MatVec(const int8_t* w, const int8_t* x, int32_t zp, int rows, int cols, int32_t* out) {
  for (int r = 0; r < rows; ++r) {
    const int8_t* row = w + static_cast<int64_t>(r) * cols;
    int32_t acc = 0;
    for (int i = 0; i < cols; ++i) acc += static_cast<int32_t>(row[i]) * (static_cast<int32_t>(x[i]) - zp);
    out[r] = acc;
  }
}

// acc = M x (full rank) or M2 sat8(requant(M1 x)) (low rank). tmp32: [rank] int32, tmp8: [rank].
void Path(const int8_t* m1, const int8_t* m2, int rank, int32_t mult, int32_t shift, const int8_t* x,
          int32_t zp, int in, int units, int32_t* tmp32, int8_t* tmp8, int32_t* acc) {
  if (rank == 0) {
    MatVec(m1, x, zp, units, in, acc);
    return;
  }
  MatVec(m1, x, zp, rank, in, tmp32);
  for (int j = 0; j < rank; ++j) tmp8[j] = static_cast<int8_t>(Sat8(Requant(tmp32[j], mult, shift)));
  MatVec(m2, tmp8, 0, units, rank, acc);
}

struct Scratch {
  int32_t* aw;
  int32_t* au;
  int32_t* tmp32;
  int8_t* tmp8;
};

int32_t MaxRank(const Int8Params& p) { return p.w_rank > p.u_rank ? p.w_rank : p.u_rank; }

Scratch Carve(const Int8Params& p, void* scratch) {
  Scratch s;
  int32_t* base = static_cast<int32_t*>(scratch);
  s.aw = base;
  s.au = base + p.units;
  s.tmp32 = base + 2 * p.units;
  s.tmp8 = reinterpret_cast<int8_t*>(base + 2 * p.units + MaxRank(p));
  return s;
}

}  // namespace

const char* ImplementationName() { return "reference"; }

size_t ScratchBytes(const Int8Params& p) {
  const size_t rank = static_cast<size_t>(MaxRank(p));
  return (2 * static_cast<size_t>(p.units) + rank) * sizeof(int32_t) + ((rank + 3) & ~size_t{3});
}

size_t PreparedBytes(const Int8Params&) { return 0; }

void PrepareWeights(const Int8Params&, void*) {}

void Run(const Int8Params& p, const void* /*prepared*/, const int8_t* x, int32_t steps, int8_t* h,
         int8_t* out, bool return_sequences, void* scratch) {
  const Scratch s = Carve(p, scratch);
  const internal::UpdateConstants uc = internal::MakeUpdateConstants(p);
  const int H = p.units;
  for (int32_t t = 0; t < steps; ++t) {
    const int8_t* xt = x + static_cast<int64_t>(t) * p.input_dim;
    Path(p.w1, p.w2, p.w_rank, p.v_multiplier, p.v_shift, xt, p.input_zero_point, p.input_dim, H, s.tmp32,
         s.tmp8, s.aw);
    Path(p.u1, p.u2, p.u_rank, p.u_multiplier, p.u_shift, h, 0, H, H, s.tmp32, s.tmp8, s.au);
    // Every unit reads only its own h[k], so the state can be overwritten in place.
    for (int k = 0; k < H; ++k) {
      h[k] = static_cast<int8_t>(internal::ElementwiseUnit(p, k, s.aw[k], s.au[k], h[k], uc));
    }
    if (return_sequences) memcpy(out + static_cast<int64_t>(t) * H, h, static_cast<size_t>(H));
  }
  if (!return_sequences) memcpy(out, h, static_cast<size_t>(H));
}

}  // namespace fastgrnn
