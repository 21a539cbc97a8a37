// Private helpers shared by frontend.cc and frontend_fft.cc (not part of the frontend API).
#ifndef TFLM_APP_FRONTEND_FRONTEND_INTERNAL_H_
#define TFLM_APP_FRONTEND_FRONTEND_INTERNAL_H_

#include <cmath>

// No implicit a * b + c contraction in the files that include this header (GCC contracts by default
// in C++, even with -std=c++17, where the target has FMA, i.e. on the M4 but not on a plain x86-64
// host): every fused multiply-add of
// the per-frame arithmetic is an explicit Fma(), so the host and the Cortex-M4 builds compute
// bit-identical features and the host parity tests check the device arithmetic.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

// Inline assembly for the Cortex-M4F (Armv7E-M + single-precision FPU) in a few hot loops, with
// the same operations in the same order as the portable C++ next to it (bit-identical results).
#if defined(__ARM_ARCH_7EM__) && defined(__ARM_FP) && defined(__thumb2__)
#define FRONTEND_ARM_ASM 1
#else
#define FRONTEND_ARM_ASM 0
#endif

namespace frontend {
namespace {

// a * b + c rounded once (VFMA on the M4; fmaf on the host, correctly rounded there too), written
// out explicitly so that the host and device builds round identically (neither contracts a * b + c
// on its own: -std=c++17 implies -ffp-contract=off).
inline float Fma(float a, float b, float c) { return std::fma(a, b, c); }
// a * b - c * d with the second product rounded and the first fused.
inline float MulSub(float a, float b, float c, float d) { return Fma(a, b, -(c * d)); }
// a * b + c * d with the second product rounded and the first fused.
inline float MulAdd(float a, float b, float c, float d) { return Fma(a, b, c * d); }

inline unsigned BitReverse(unsigned x, int bits) {
  unsigned r = 0;
  for (int b = 0; b < bits; ++b) {
    r = (r << 1) | (x & 1u);
    x >>= 1;
  }
  return r;
}

inline int Log2(int n) {
  int l = 0;
  while ((1 << l) < n) ++l;
  return l;
}

}  // namespace
}  // namespace frontend

#endif  // TFLM_APP_FRONTEND_FRONTEND_INTERNAL_H_
