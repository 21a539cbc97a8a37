// Private to tflm_app/fastgrnn: the exact integer helpers of int8_step_spec.md and the
// element-wise part of a step (pre-activation, LUTs, state update), shared by the reference and
// the Cortex-M4 implementation. Portable C++ (no intrinsics).
#ifndef TFLM_APP_FASTGRNN_FASTGRNN_INT8_COMMON_H_
#define TFLM_APP_FASTGRNN_FASTGRNN_INT8_COMMON_H_

#include <cstdint>

#include "fastgrnn_int8.h"

namespace fastgrnn {
namespace internal {

inline int32_t Sat8(int64_t x) { return x < -128 ? -128 : (x > 127 ? 127 : static_cast<int32_t>(x)); }
// The same on int32: GCC turns this clamp into one SSAT on the M4.
inline int32_t Sat8From32(int32_t x) { return x < -128 ? -128 : (x > 127 ? 127 : x); }

inline int32_t Sat32(int64_t x) {
  return x < INT32_MIN ? INT32_MIN : (x > INT32_MAX ? INT32_MAX : static_cast<int32_t>(x));
}

// (x + 2^(k-1)) >> k, k >= 1, in 64 bits so it cannot wrap (as the oracle).
inline int64_t RshiftRound(int64_t x, int k) { return (x + (int64_t{1} << (k - 1))) >> k; }

// requant(acc, m, n) = (int64(acc) * m + 2^(n-1)) >> n, m in [0, 2^31), n in [1, 62].
inline int64_t Requant(int32_t acc, int32_t m, int32_t n) {
  return (static_cast<int64_t>(acc) * m + (int64_t{1} << (n - 1))) >> n;
}

// Step 4: p = sat32((aw * mw + au * mu + 2^(s-1)) >> s).
inline int32_t PreActivation(int32_t aw, int32_t au, int32_t mw, int32_t mu, int32_t s) {
  const int64_t sum = static_cast<int64_t>(aw) * mw + static_cast<int64_t>(au) * mu + (int64_t{1} << (s - 1));
  return Sat32(sum >> s);
}

// Steps 5-6: LUT index sat8(rshift_round(sat32(p + bias), 8)) and the Q15 LUT value.
inline int32_t LutLookup(int32_t p, int32_t bias, const int16_t* lut) {
  const int32_t index = Sat8(RshiftRound(Sat32(static_cast<int64_t>(p) + bias), 8));
  return lut[index + 128];
}

// Per-model constants of the state update.
// Step 7, a = rshift_round(zeta * (32768 - z), 15) + nu, is computed as a = (k - zeta * z) >> 15
// with k = zeta * 2^15 + 2^14 + nu * 2^15: adding the multiple nu * 2^15 commutes with the floor.
// k <= 2 * 32767 * 32768 + 16384 < 2^31 and k - zeta * z > 0 for z in [0, 32767].
struct UpdateConstants {
  int32_t zeta_q15;
  int32_t k;
};

inline UpdateConstants MakeUpdateConstants(const Int8Params& p) {
  return UpdateConstants{p.zeta_q15, p.zeta_q15 * 32768 + 16384 + p.nu_q15 * 32768};
}

// Steps 7-8 for one unit: z, c in Q15, h_prev int8 -> new h (int8 value in int32).
// z in [0, 32767] (Validate checks gate_lut >= 0), so a in [0, 65534] and |a * c| < 2^31.
// hz + 128 = (z * h + 64 + 128 * 128) >> 7 folds the final rounding constant into hz.
inline int32_t UpdateUnit(int32_t z, int32_t c, int32_t h_prev, const UpdateConstants& uc) {
  const int32_t a = (uc.k - uc.zeta_q15 * z) >> 15;
  const int32_t hc = (a * c + (1 << 14)) >> 15;
  const int32_t hz_plus_half = (z * h_prev + (1 << 6) + (1 << 14)) >> 7;
  return Sat8From32((hc + hz_plus_half) >> 8);
}

// The whole element-wise part for one unit k, given the matvec results aw[k], au[k].
inline int32_t ElementwiseUnit(const Int8Params& p, int k, int32_t aw, int32_t au, int32_t h_prev,
                               const UpdateConstants& uc) {
  const int32_t pre = PreActivation(aw, au, p.pre_w_multiplier, p.pre_u_multiplier, p.pre_shift);
  const int32_t z = LutLookup(pre, p.bias_z[k], p.gate_lut);
  const int32_t c = LutLookup(pre, p.bias_h[k], p.update_lut);
  return UpdateUnit(z, c, h_prev, uc);
}

}  // namespace internal
}  // namespace fastgrnn

#endif  // TFLM_APP_FASTGRNN_FASTGRNN_INT8_COMMON_H_
