// Cortex-M4 FullyConnected (ACLE DSP: SXTB16 / SXTAB16 / SMLAD), bit-identical to the TFLite
// reference arithmetic of head.cc: the Cortex-M4 sibling of head_reference.cc (tflm_app/variants.txt),
// linked instead of it by tflm_app/m4 (IMPL=m4) and the Arduino sketch (--impl cortex-m4).
//
// Like CMSIS-NN's arm_nn_vec_mat_mult_t_s8: several output rows per pass share each input word.
// The input is widened once, with the input offset added in the same instruction: four int8
// inputs become (x0 - zp, x2 - zp) and (x1 - zp, x3 - zp) (SXTAB16, and SXTAB16 of the word
// rotated by 8). Three rows per pass (with four, GCC spills inside the loop); each row's weight
// word becomes (w0, w2) and (w1, w3) (SXTB16) and two SMLADs add its four products: 19
// instructions per 12 MACs in the loop, 2.8 k instructions for the whole 100 -> 12 layer (was
// 7.6 k). Nothing is precomputed, so the layer needs no prepare step. The accumulator starts at
// the bias: integer addition is exact and associative (int32 wraps identically in both orders),
// so the sum is the reference's.
#include <arm_acle.h>

#include <cstdint>
#include <cstring>

#include "head.h"

#if !defined(__ARM_FEATURE_DSP)
#error "head_cortex_m4.cc needs the Armv7E-M DSP extension (-mcpu=cortex-m4)"
#endif

namespace head {
namespace {

inline uint32_t Load32(const int8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);  // LDR: unaligned access is allowed on the M4
  return v;
}

// SXTB16 / SXTAB16 of the operand rotated right by 8 in one instruction (ACLE has no form
// with the rotation).
inline int32_t Sxtb16Ror8(uint32_t x) {
  int32_t r;
  __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
  return r;
}
inline int32_t Sxtab16Ror8(int32_t a, uint32_t x) {
  int32_t r;
  __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(x));
  return r;
}

// acc + the four products of one weight word with the widened input pairs.
inline int32_t Dot4(uint32_t w, int32_t x02, int32_t x13, int32_t acc) {
  acc = __smlad(__sxtb16(w), x02, acc);
  return __smlad(Sxtb16Ror8(w), x13, acc);
}

// MultiplyByQuantizedMultiplier + output zero point + clamp, with the shift split once per layer.
// Same arithmetic as head.cc: x << left (int32 wrap), SaturatingRoundingDoublingHighMul (the
// multiplier is >= 0, so its only overflow case cannot occur), RoundingDivideByPOT(right).
struct Requant {
  int32_t multiplier, left, right, mask, zero_point, lo;
  explicit Requant(const FcLayer& l)
      : multiplier(l.output_multiplier),
        left(l.output_shift > 0 ? l.output_shift : 0),
        right(l.output_shift > 0 ? 0 : -l.output_shift),
        mask(static_cast<int32_t>((int64_t{1} << right) - 1)),
        zero_point(l.output_zero_point),
        lo(l.relu ? (l.output_zero_point > -128 ? l.output_zero_point : -128) : -128) {}

  int8_t operator()(int32_t acc) const {
    const int32_t a = static_cast<int32_t>(static_cast<uint32_t>(acc) << left);
    int64_t ab = static_cast<int64_t>(a) * multiplier;
    ab += ab >= 0 ? (1 << 30) : (1 - (1 << 30));
    if (ab < 0) ab += (int64_t{1} << 31) - 1;  // division by 2^31 truncates toward zero
    const int32_t high = static_cast<int32_t>(ab >> 31);
    const int32_t threshold = (mask >> 1) + (high < 0 ? 1 : 0);
    int32_t v = (high >> right) + ((high & mask) > threshold ? 1 : 0) + zero_point;
    v = v < lo ? lo : (v > 127 ? 127 : v);
    return static_cast<int8_t>(v);
  }
};

inline int32_t Bias(const FcLayer& l, int32_t o) { return l.bias != nullptr ? l.bias[o] : 0; }

}  // namespace

void FullyConnected(const FcLayer& layer, const int8_t* input, int8_t* output) {
  const int32_t n = layer.input_size;
  const int32_t zp = layer.input_zero_point;
  const Requant requant(layer);
  // The input widened once, with the offset: word 2k = (x[4k] - zp, x[4k+2] - zp), word 2k+1 =
  // (x[4k+1] - zp, x[4k+3] - zp) as int16 pairs (|x - zp| <= 255), so that every row pass reads
  // one word pair per four inputs (LDRD) and keeps all its pointers and accumulators in registers.
  int32_t xw[kMaxWidth / 2];
  const int32_t neg_zp2 = static_cast<int32_t>((static_cast<uint32_t>(-zp) & 0xffffu) * 0x10001u);
  const int32_t n4 = n & ~3;
  for (int32_t i = 0; i < n4; i += 4) {
    const uint32_t v = Load32(input + i);
    xw[i / 2] = __sxtab16(neg_zp2, v);
    xw[i / 2 + 1] = Sxtab16Ror8(neg_zp2, v);
  }
  const int32_t* const xw_end = xw + n4 / 2;
  int32_t o = 0;
  for (; o + 3 <= layer.output_size; o += 3) {
    const int8_t* w0 = layer.weights + o * n;
    const int8_t* w1 = w0 + n;
    const int8_t* w2 = w1 + n;
    int32_t a0 = Bias(layer, o), a1 = Bias(layer, o + 1), a2 = Bias(layer, o + 2);
    for (const int32_t* x = xw; x < xw_end; x += 2, w0 += 4, w1 += 4, w2 += 4) {
      const int32_t x02 = x[0], x13 = x[1];
      a0 = Dot4(Load32(w0), x02, x13, a0);
      a1 = Dot4(Load32(w1), x02, x13, a1);
      a2 = Dot4(Load32(w2), x02, x13, a2);
    }
    for (int32_t i = n4; i < n; ++i) {
      const int32_t xi = input[i] - zp;
      a0 += xi * w0[i - n4];
      a1 += xi * w1[i - n4];
      a2 += xi * w2[i - n4];
    }
    output[o] = requant(a0);
    output[o + 1] = requant(a1);
    output[o + 2] = requant(a2);
  }
  for (; o < layer.output_size; ++o) {
    const int8_t* w = layer.weights + o * n;
    int32_t acc = Bias(layer, o);
    for (const int32_t* x = xw; x < xw_end; x += 2, w += 4) acc = Dot4(Load32(w), x[0], x[1], acc);
    for (int32_t i = n4; i < n; ++i) acc += (input[i] - zp) * w[i - n4];
    output[o] = requant(acc);
  }
}

}  // namespace head
