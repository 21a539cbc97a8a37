// The implementation-independent part of fastgrnn_int8.h: parameter validation and MAC count.
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

}  // namespace fastgrnn
