// Private helpers shared by frontend.cc and frontend_fft.cc (not part of the frontend API).
#ifndef TFLM_APP_FRONTEND_FRONTEND_INTERNAL_H_
#define TFLM_APP_FRONTEND_FRONTEND_INTERNAL_H_

#include <cmath>

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
