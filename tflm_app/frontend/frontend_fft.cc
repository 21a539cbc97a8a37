// The FFT of the streaming frontend: first radix-4 pass fused with the window, radix-4 passes, and the
// last pass fused with the real-FFT split and the power spectrum (members of Frontend, frontend.h).
#include "frontend.h"
#include "frontend_internal.h"

#include <cmath>
#include <cstdio>
#include <cstring>

namespace frontend {

// ---- FFT ------------------------------------------------------------------------------------
// Decimation in time over nc_ complex points with bit-reversed input. A radix-4 pass with span
// h combines a = x[k], b = x[k+h], c = x[k+2h], d = x[k+3h] (two radix-2 stages at once):
//   b' = W^{2j} b, c' = W^{j} c, d' = W^{3j} d (W = exp(-2 pi i / 4h))
//   x[k] = a + b' + (c' + d'), x[k+2h] = a + b' - (c' + d'),
//   x[k+h] = a - b' - i (c' - d'), x[k+3h] = a - b' + i (c' - d').

namespace {
// First radix-4 pass fused with the windowing, reading z[m] = (x[2m] w[2m], x[2m+1] w[2m+1]) in
// bit-reversed order: the group of base b (b < q = nc/4) reads z[b], z[b + nc/2], z[b + nc/4],
// z[b + 3nc/4] and writes the 4 outputs of group g = bitrev(b) (bit reversal is an involution, so
// first_base[b] = g). Groups are visited by b so that the zero padding is contiguous: kZeroA / kZeroD
// mean z[b] / z[b + 3nc/4] lie where the window is zero, and their products and sums are skipped
// (x * 0 is a signed zero, and a signed zero changes no power).
// kNc > 0 makes nc a compile-time constant (immediate load offsets) for the default n_fft.
template <bool kZeroA, bool kZeroD, int kNc>
void FirstRadix4Range(const float* x, const float* w, const uint16_t* first_base, int nc_runtime, int b0, int b1,
                      float* out) {
  const int nc = kNc > 0 ? kNc : nc_runtime;
  const int q = nc / 4;
  const int off_b = 2 * (nc / 2), off_c = 2 * q, off_d = 2 * (3 * q);
  for (int b = b0; b < b1; ++b) {
    const float* xa = x + 2 * b;
    const float* wa = w + 2 * b;
    const float br = xa[off_b] * wa[off_b], bi = xa[off_b + 1] * wa[off_b + 1];
    const float cr = xa[off_c] * wa[off_c], ci = xa[off_c + 1] * wa[off_c + 1];
    float* o = out + 8 * first_base[b];
    if (!kZeroA && !kZeroD) {
      const float ar = xa[0] * wa[0], ai = xa[1] * wa[1];
      const float dr = xa[off_d] * wa[off_d], di = xa[off_d + 1] * wa[off_d + 1];
      const float s1r = ar + br, s1i = ai + bi, d1r = ar - br, d1i = ai - bi;
      const float s2r = cr + dr, s2i = ci + di, d2r = cr - dr, d2i = ci - di;
      o[0] = s1r + s2r;
      o[1] = s1i + s2i;
      o[2] = d1r + d2i;
      o[3] = d1i - d2r;
      o[4] = s1r - s2r;
      o[5] = s1i - s2i;
      o[6] = d1r - d2i;
      o[7] = d1i + d2r;
    } else if (kZeroA && !kZeroD) {  // a = 0: s1 = b, d1 = -b
      const float dr = xa[off_d] * wa[off_d], di = xa[off_d + 1] * wa[off_d + 1];
      const float s2r = cr + dr, s2i = ci + di, d2r = cr - dr, d2i = ci - di;
      o[0] = br + s2r;
      o[1] = bi + s2i;
      o[2] = d2i - br;
      o[3] = -(bi + d2r);
      o[4] = br - s2r;
      o[5] = bi - s2i;
      o[6] = -(br + d2i);
      o[7] = d2r - bi;
    } else if (!kZeroA && kZeroD) {  // d = 0: s2 = d2 = c
      const float ar = xa[0] * wa[0], ai = xa[1] * wa[1];
      const float s1r = ar + br, s1i = ai + bi, d1r = ar - br, d1i = ai - bi;
      o[0] = s1r + cr;
      o[1] = s1i + ci;
      o[2] = d1r + ci;
      o[3] = d1i - cr;
      o[4] = s1r - cr;
      o[5] = s1i - ci;
      o[6] = d1r - ci;
      o[7] = d1i + cr;
    } else {  // a = d = 0
      o[0] = br + cr;
      o[1] = bi + ci;
      o[2] = ci - br;
      o[3] = -(bi + cr);
      o[4] = br - cr;
      o[5] = bi - ci;
      o[6] = -(br + ci);
      o[7] = cr - bi;
    }
  }
}
}  // namespace

namespace {
#if FRONTEND_ARM_ASM
// FirstRadix4Range for nc = 256 (the default n_fft) on the M4: each complex sample and window
// pair moved by one 64-bit VLDR, the eight outputs by one VSTM; the same operations in the same
// order as the C++ above. xm / wm point 192 floats into x / w so that the four inputs of a group
// (z[b], z[b + 64], z[b + 128], z[b + 192] at -768, -256, +256, +768 bytes) are in VLDR's range.
#define FRONTEND_FP_CLOBBERS \
  "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12", "s13", "s14", "s15", "cc", "memory"
#define FRONTEND_FP_STORE                                                 \
  "ldrh %[g], [%[rev]], #2\n\t"                                           \
  "add %[g], %[out], %[g], lsl #5\n\t"                                    \
  "vstmia %[g], {s0-s7}\n\t"                                              \
  "add %[xm], %[xm], #8\n\t"                                              \
  "add %[wm], %[wm], #8\n\t"                                              \
  "subs %[n], %[n], #1\n\t"                                               \
  "bne 1b"
#define FRONTEND_FP_LOAD_A                                                \
  "vldr d0, [%[xm], #-768]\n\t"                                           \
  "vldr d1, [%[wm], #-768]\n\t"                                           \
  "vmul.f32 s0, s0, s2\n\t"                                               \
  "vmul.f32 s1, s1, s3\n\t"
#define FRONTEND_FP_LOAD_B                                                \
  "vldr d1, [%[xm], #256]\n\t"                                            \
  "vldr d2, [%[wm], #256]\n\t"                                            \
  "vmul.f32 s2, s2, s4\n\t"                                               \
  "vmul.f32 s3, s3, s5\n\t"
#define FRONTEND_FP_LOAD_C                                                \
  "vldr d2, [%[xm], #-256]\n\t"                                           \
  "vldr d3, [%[wm], #-256]\n\t"                                           \
  "vmul.f32 s4, s4, s6\n\t"                                               \
  "vmul.f32 s5, s5, s7\n\t"
#define FRONTEND_FP_LOAD_D                                                \
  "vldr d3, [%[xm], #768]\n\t"                                            \
  "vldr d4, [%[wm], #768]\n\t"                                            \
  "vmul.f32 s6, s6, s8\n\t"                                               \
  "vmul.f32 s7, s7, s9\n\t"

template <bool kZeroA, bool kZeroD>
void FirstRadix4Range256Asm(const float* x, const float* w, const uint16_t* first_base, int b0, int b1,
                            float* out) {
  static_assert(!(kZeroA && kZeroD), "no assembly for a = d = 0");
  int n = b1 - b0;
  if (n <= 0) return;
  const float* xm = x + 2 * b0 + 192;
  const float* wm = w + 2 * b0 + 192;
  const uint16_t* rev = first_base + b0;
  uint32_t g;
  if (!kZeroA && !kZeroD) {
    __asm__ volatile(
        "1:\n\t"
        FRONTEND_FP_LOAD_A FRONTEND_FP_LOAD_B FRONTEND_FP_LOAD_C FRONTEND_FP_LOAD_D
        "vadd.f32 s8, s0, s2\n\t"    // s1r
        "vadd.f32 s9, s1, s3\n\t"    // s1i
        "vsub.f32 s10, s0, s2\n\t"   // d1r
        "vsub.f32 s11, s1, s3\n\t"   // d1i
        "vadd.f32 s12, s4, s6\n\t"   // s2r
        "vadd.f32 s13, s5, s7\n\t"   // s2i
        "vsub.f32 s14, s4, s6\n\t"   // d2r
        "vsub.f32 s15, s5, s7\n\t"   // d2i
        "vadd.f32 s0, s8, s12\n\t"
        "vadd.f32 s1, s9, s13\n\t"
        "vadd.f32 s2, s10, s15\n\t"
        "vsub.f32 s3, s11, s14\n\t"
        "vsub.f32 s4, s8, s12\n\t"
        "vsub.f32 s5, s9, s13\n\t"
        "vsub.f32 s6, s10, s15\n\t"
        "vadd.f32 s7, s11, s14\n\t"
        FRONTEND_FP_STORE
        : [xm] "+r"(xm), [wm] "+r"(wm), [rev] "+r"(rev), [n] "+r"(n), [g] "=&r"(g)
        : [out] "r"(out)
        : FRONTEND_FP_CLOBBERS);
  } else if (kZeroA) {
    __asm__ volatile(
        "1:\n\t"
        FRONTEND_FP_LOAD_B FRONTEND_FP_LOAD_C FRONTEND_FP_LOAD_D
        "vadd.f32 s12, s4, s6\n\t"   // s2r
        "vadd.f32 s13, s5, s7\n\t"   // s2i
        "vsub.f32 s14, s4, s6\n\t"   // d2r
        "vsub.f32 s15, s5, s7\n\t"   // d2i
        "vadd.f32 s0, s2, s12\n\t"   // br + s2r
        "vadd.f32 s1, s3, s13\n\t"   // bi + s2i
        "vsub.f32 s4, s2, s12\n\t"   // br - s2r
        "vsub.f32 s5, s3, s13\n\t"   // bi - s2i
        "vadd.f32 s9, s2, s15\n\t"   // br + d2i
        "vadd.f32 s10, s3, s14\n\t"  // bi + d2r
        "vsub.f32 s2, s15, s2\n\t"   // d2i - br
        "vsub.f32 s7, s14, s3\n\t"   // d2r - bi
        "vneg.f32 s6, s9\n\t"
        "vneg.f32 s3, s10\n\t"
        FRONTEND_FP_STORE
        : [xm] "+r"(xm), [wm] "+r"(wm), [rev] "+r"(rev), [n] "+r"(n), [g] "=&r"(g)
        : [out] "r"(out)
        : FRONTEND_FP_CLOBBERS);
  } else {
    __asm__ volatile(
        "1:\n\t"
        FRONTEND_FP_LOAD_A FRONTEND_FP_LOAD_B FRONTEND_FP_LOAD_C
        "vadd.f32 s8, s0, s2\n\t"    // s1r
        "vadd.f32 s9, s1, s3\n\t"    // s1i
        "vsub.f32 s10, s0, s2\n\t"   // d1r
        "vsub.f32 s11, s1, s3\n\t"   // d1i
        "vadd.f32 s0, s8, s4\n\t"    // s1r + cr
        "vadd.f32 s1, s9, s5\n\t"    // s1i + ci
        "vadd.f32 s2, s10, s5\n\t"   // d1r + ci
        "vsub.f32 s3, s11, s4\n\t"   // d1i - cr
        "vsub.f32 s6, s10, s5\n\t"   // d1r - ci
        "vadd.f32 s7, s11, s4\n\t"   // d1i + cr
        "vsub.f32 s4, s8, s4\n\t"    // s1r - cr
        "vsub.f32 s5, s9, s5\n\t"    // s1i - ci
        FRONTEND_FP_STORE
        : [xm] "+r"(xm), [wm] "+r"(wm), [rev] "+r"(rev), [n] "+r"(n), [g] "=&r"(g)
        : [out] "r"(out)
        : FRONTEND_FP_CLOBBERS);
  }
}
#undef FRONTEND_FP_CLOBBERS
#undef FRONTEND_FP_STORE
#undef FRONTEND_FP_LOAD_A
#undef FRONTEND_FP_LOAD_B
#undef FRONTEND_FP_LOAD_C
#undef FRONTEND_FP_LOAD_D
#endif  // FRONTEND_ARM_ASM

// The radix-4 first pass: b in [0, a): z[b] is zero padding; b in [d, q): z[b + 3q] is.
template <int kNc>
void FirstRadix4(const float* x, const float* w, const uint16_t* first_base, int nc, int a, int d, float* out) {
  const int q = nc / 4;
#if FRONTEND_ARM_ASM
  if (kNc == 256 && a <= d) {
    FirstRadix4Range256Asm<true, false>(x, w, first_base, 0, a, out);
    FirstRadix4Range256Asm<false, false>(x, w, first_base, a, d, out);
    FirstRadix4Range256Asm<false, true>(x, w, first_base, d, q, out);
    return;
  }
#endif
  if (a <= d) {
    FirstRadix4Range<true, false, kNc>(x, w, first_base, nc, 0, a, out);
    FirstRadix4Range<false, false, kNc>(x, w, first_base, nc, a, d, out);
    FirstRadix4Range<false, true, kNc>(x, w, first_base, nc, d, q, out);
  } else {
    FirstRadix4Range<true, false, kNc>(x, w, first_base, nc, 0, d, out);
    FirstRadix4Range<true, true, kNc>(x, w, first_base, nc, d, a, out);
    FirstRadix4Range<false, true, kNc>(x, w, first_base, nc, a, q, out);
  }
}
}  // namespace

void Frontend::FirstPass(float* out) const {
  const float* x = stream_ + base_;
  const float* w = win_;
  if (first_radix4_) {
    // b in [0, zero_a_end_): z[b] is zero padding; b in [zero_d_begin_, q): z[b + 3q] is.
    if (nc_ == 256) {
      FirstRadix4<256>(x, w, first_base_, nc_, zero_a_end_, zero_d_begin_, out);
    } else {
      FirstRadix4<0>(x, w, first_base_, nc_, zero_a_end_, zero_d_begin_, out);
    }
  } else {
    const int half = nc_ / 2;
    for (int g = 0; g < half; ++g) {
      const int ia = 2 * first_base_[g];
      const int ib = ia + 2 * half;
      const float ar = x[ia] * w[ia], ai = x[ia + 1] * w[ia + 1];
      const float br = x[ib] * w[ib], bi = x[ib + 1] * w[ib + 1];
      float* o = out + 4 * g;
      o[0] = ar + br;
      o[1] = ai + bi;
      o[2] = ar - br;
      o[3] = ai - bi;
    }
  }
}

void Frontend::FirstPassInPlace(float* z) const {
  if (first_radix4_) {
    for (int g = 0; g < nc_ / 4; ++g) {
      float* o = z + 8 * g;
      const float ar = o[0], ai = o[1], br = o[2], bi = o[3], cr = o[4], ci = o[5], dr = o[6], di = o[7];
      const float s1r = ar + br, s1i = ai + bi, d1r = ar - br, d1i = ai - bi;
      const float s2r = cr + dr, s2i = ci + di, d2r = cr - dr, d2i = ci - di;
      o[0] = s1r + s2r;
      o[1] = s1i + s2i;
      o[2] = d1r + d2i;
      o[3] = d1i - d2r;
      o[4] = s1r - s2r;
      o[5] = s1i - s2i;
      o[6] = d1r - d2i;
      o[7] = d1i + d2r;
    }
  } else {
    for (int g = 0; g < nc_ / 2; ++g) {
      float* o = z + 4 * g;
      const float ar = o[0], ai = o[1], br = o[2], bi = o[3];
      o[0] = ar + br;
      o[1] = ai + bi;
      o[2] = ar - br;
      o[3] = ai - bi;
    }
  }
}

namespace {
#if FRONTEND_ARM_ASM
// The radix-4 butterflies of Radix4Pass<kH> for one j over `count` groups from a, with each
// complex value moved by one 64-bit VLDR / VSTR (d0-d7 = s0-s15) instead of two 32-bit ones:
// 39 instructions per twiddled butterfly instead of 47, the same operations in the same order.
#define FRONTEND_R4_TAIL                                                                        \
  "vadd.f32 s14, s0, s8\n\t"   /* s1r */                                                   \
  "vadd.f32 s15, s1, s9\n\t"   /* s1i */                                                   \
  "vsub.f32 s0, s0, s8\n\t"    /* d1r */                                                   \
  "vsub.f32 s1, s1, s9\n\t"    /* d1i */                                                   \
  "vadd.f32 s2, s10, s12\n\t"  /* s2r */                                                   \
  "vadd.f32 s3, s11, s13\n\t"  /* s2i */                                                   \
  "vsub.f32 s10, s10, s12\n\t" /* d2r */                                                   \
  "vsub.f32 s11, s11, s13\n\t" /* d2i */                                                   \
  "vadd.f32 s4, s14, s2\n\t"                                                                   \
  "vadd.f32 s5, s15, s3\n\t"                                                                   \
  "vsub.f32 s6, s14, s2\n\t"                                                                   \
  "vsub.f32 s7, s15, s3\n\t"                                                                   \
  "vadd.f32 s12, s0, s11\n\t"                                                                  \
  "vsub.f32 s13, s1, s10\n\t"                                                                  \
  "vsub.f32 s14, s0, s11\n\t"                                                                  \
  "vadd.f32 s15, s1, s10\n\t"                                                                  \
  "vstr d2, [%[a]]\n\t"                                                                        \
  "vstr d6, [%[a], %[ob]]\n\t"                                                                 \
  "vstr d3, [%[a], %[oc]]\n\t"                                                                 \
  "vstr d7, [%[a], %[od]]\n\t"                                                                 \
  "add %[a], %[a], %[stride]\n\t"                                                              \
  "subs %[n], %[n], #1\n\t"                                                                    \
  "bne 1b"
#define FRONTEND_R4_CLOBBERS \
  "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12", "s13", "s14", "s15", "cc", "memory"

template <int kH>
inline void Radix4GroupsAsm(float* a, int count, const float* tw) {
  const float wbr = tw[0], wbi = tw[1], wcr = tw[2], wci = tw[3], wdr = tw[4], wdi = tw[5];
  __asm__ volatile(
      "1:\n\t"
      "vldr d0, [%[a]]\n\t"
      "vldr d1, [%[a], %[ob]]\n\t"
      "vldr d2, [%[a], %[oc]]\n\t"
      "vldr d3, [%[a], %[od]]\n\t"
      "vnmul.f32 s8, s3, %[wbi]\n\t"  // br = fma(b0, wbr, -(b1 wbi)), bi = fma(b0, wbi, b1 wbr)
      "vmul.f32 s9, s3, %[wbr]\n\t"
      "vnmul.f32 s10, s5, %[wci]\n\t"
      "vmul.f32 s11, s5, %[wcr]\n\t"
      "vnmul.f32 s12, s7, %[wdi]\n\t"
      "vmul.f32 s13, s7, %[wdr]\n\t"
      "vfma.f32 s8, s2, %[wbr]\n\t"
      "vfma.f32 s9, s2, %[wbi]\n\t"
      "vfma.f32 s10, s4, %[wcr]\n\t"
      "vfma.f32 s11, s4, %[wci]\n\t"
      "vfma.f32 s12, s6, %[wdr]\n\t"
      "vfma.f32 s13, s6, %[wdi]\n\t"
      FRONTEND_R4_TAIL
      : [a] "+r"(a), [n] "+r"(count)
      : [ob] "i"(8 * kH), [oc] "i"(16 * kH), [od] "i"(24 * kH), [stride] "i"(32 * kH), [wbr] "t"(wbr),
        [wbi] "t"(wbi), [wcr] "t"(wcr), [wci] "t"(wci), [wdr] "t"(wdr), [wdi] "t"(wdi)
      : FRONTEND_R4_CLOBBERS);
}

// j = 0: no twiddles (b, c, d as loaded).
template <int kH>
inline void Radix4Groups0Asm(float* a, int count) {
  __asm__ volatile(
      "1:\n\t"
      "vldr d0, [%[a]]\n\t"
      "vldr d4, [%[a], %[ob]]\n\t"  // s8, s9 = b
      "vldr d5, [%[a], %[oc]]\n\t"  // s10, s11 = c
      "vldr d6, [%[a], %[od]]\n\t"  // s12, s13 = d
      FRONTEND_R4_TAIL
      : [a] "+r"(a), [n] "+r"(count)
      : [ob] "i"(8 * kH), [oc] "i"(16 * kH), [od] "i"(24 * kH), [stride] "i"(32 * kH)
      : FRONTEND_R4_CLOBBERS);
}
#undef FRONTEND_R4_TAIL
#undef FRONTEND_R4_CLOBBERS
#endif  // FRONTEND_ARM_ASM

// One twiddled radix-4 pass of span h over n complex values; kH > 0 makes h a compile-time
// constant (immediate offsets, better scheduling) for the passes of the default n_fft.
template <int kH>
void Radix4Pass(float* z, int n, int h_runtime, const float* tw) {
  const int h = kH > 0 ? kH : h_runtime;
  const int stride = 2 * 4 * h;  // floats between groups
#if FRONTEND_ARM_ASM
  if (kH > 0) {
    Radix4Groups0Asm<kH>(z, n / (4 * kH));
    for (int j = 1; j < kH; ++j) Radix4GroupsAsm<kH>(z + 2 * j, n / (4 * kH), tw + 6 * j);
    return;
  }
#endif
  // j = 0: all twiddles are 1.
  for (float* a = z; a < z + 2 * n; a += stride) {
    float* b = a + 2 * h;
    float* c = a + 4 * h;
    float* d = a + 6 * h;
    const float s1r = a[0] + b[0], s1i = a[1] + b[1], d1r = a[0] - b[0], d1i = a[1] - b[1];
    const float s2r = c[0] + d[0], s2i = c[1] + d[1], d2r = c[0] - d[0], d2i = c[1] - d[1];
    a[0] = s1r + s2r;
    a[1] = s1i + s2i;
    b[0] = d1r + d2i;
    b[1] = d1i - d2r;
    c[0] = s1r - s2r;
    c[1] = s1i - s2i;
    d[0] = d1r - d2i;
    d[1] = d1i + d2r;
  }
  tw += 6;
  for (int j = 1; j < h; ++j, tw += 6) {
    const float wbr = tw[0], wbi = tw[1], wcr = tw[2], wci = tw[3], wdr = tw[4], wdi = tw[5];
    for (float* a = z + 2 * j; a < z + 2 * n; a += stride) {
      float* b = a + 2 * h;
      float* c = a + 4 * h;
      float* d = a + 6 * h;
      const float ar = a[0], ai = a[1];
      const float br = MulSub(b[0], wbr, b[1], wbi), bi = MulAdd(b[0], wbi, b[1], wbr);
      const float cr = MulSub(c[0], wcr, c[1], wci), ci = MulAdd(c[0], wci, c[1], wcr);
      const float dr = MulSub(d[0], wdr, d[1], wdi), di = MulAdd(d[0], wdi, d[1], wdr);
      const float s1r = ar + br, s1i = ai + bi, d1r = ar - br, d1i = ai - bi;
      const float s2r = cr + dr, s2i = ci + di, d2r = cr - dr, d2i = ci - di;
      a[0] = s1r + s2r;
      a[1] = s1i + s2i;
      b[0] = d1r + d2i;
      b[1] = d1i - d2r;
      c[0] = s1r - s2r;
      c[1] = s1i - s2i;
      d[0] = d1r - d2i;
      d[1] = d1i + d2r;
    }
  }
}
}  // namespace

void Frontend::Radix4Passes(float* z, bool last) const {
  const float* tw = twiddle_;
  const int end = last ? nc_ : nc_ / 4;
  for (int h = first_h_; h < end; tw += 6 * h, h *= 4) {
    if (h == 4) {
      Radix4Pass<4>(z, nc_, h, tw);
    } else if (h == 16) {
      Radix4Pass<16>(z, nc_, h, tw);
    } else {
      Radix4Pass<0>(z, nc_, h, tw);
    }
  }
}

void Frontend::ComplexFft(float* z) const {
  if (!initialized_) return;
  const int bits = Log2(nc_);
  for (int i = 0; i < nc_; ++i) {
    const int r = static_cast<int>(BitReverse(static_cast<unsigned>(i), bits));
    if (r > i) {
      const float tr = z[2 * i], ti = z[2 * i + 1];
      z[2 * i] = z[2 * r];
      z[2 * i + 1] = z[2 * r + 1];
      z[2 * r] = tr;
      z[2 * r + 1] = ti;
    }
  }
  FirstPassInPlace(z);
  Radix4Passes(z, true);
}

// Real FFT of n_fft points from the nc_-point complex FFT Z of z[m] = x[2m] + i x[2m+1]:
//   2 X[k] = E + T, 2 X[nc-k] = conj(E - T), E = Z[k] + conj(Z[nc-k]),
//   T = W^k (-i) (Z[k] - conj(Z[nc-k])), W = exp(-i pi / nc).
// bin_[3k + 2] = |2 X[k]|^2 = 4 |X[k]|^2 exactly (the 1/4 is folded into the mel weights).
namespace {
inline void SplitPair(float ar, float ai, float zr, float zi, const float* w, float* pk, float* pnk) {
  const float er = ar + zr, ei = ai - zi;
  const float dr = ar - zr, di = ai + zi;
  const float tr = MulAdd(w[0], di, w[1], dr);
  const float ti = MulSub(w[1], di, w[0], dr);
  const float xr = er + tr, xi = ei + ti;
  const float yr = er - tr, yi = ei - ti;
  *pk = MulAdd(xr, xr, xi, xi);
  *pnk = MulAdd(yr, yr, yi, yi);
}
// Butterfly j of the last radix-4 pass (span q): Z[j + r q], r = 0..3, into o[2r], o[2r + 1].
// Always inlined: as a call, its outputs go through memory.
__attribute__((always_inline)) inline void LastButterfly(const float* z, int q, const float* tw_last, int j,
                                                         float* o) {
  const float* tw = tw_last + 6 * j;
  const float* a = z + 2 * j;
  const float* b = a + 2 * q;
  const float* c = a + 4 * q;
  const float* d = a + 6 * q;
  const float br = MulSub(b[0], tw[0], b[1], tw[1]), bi = MulAdd(b[0], tw[1], b[1], tw[0]);
  const float cr = MulSub(c[0], tw[2], c[1], tw[3]), ci = MulAdd(c[0], tw[3], c[1], tw[2]);
  const float dr = MulSub(d[0], tw[4], d[1], tw[5]), di = MulAdd(d[0], tw[5], d[1], tw[4]);
  const float s1r = a[0] + br, s1i = a[1] + bi, d1r = a[0] - br, d1i = a[1] - bi;
  const float s2r = cr + dr, s2i = ci + di, d2r = cr - dr, d2i = ci - di;
  o[0] = s1r + s2r;
  o[1] = s1i + s2i;
  o[2] = d1r + d2i;
  o[3] = d1i - d2r;
  o[4] = s1r - s2r;
  o[5] = s1i - s2i;
  o[6] = d1r - d2i;
  o[7] = d1i + d2r;
}

}  // namespace

// The last radix-4 pass (h = nc/4 = q) fused with the split: butterfly j yields Z[j + r q],
// r = 0..3, whose split partners Z[nc - j - r q] = Z[(q - j) + (3 - r) q] come from butterfly
// q - j, so Z is never stored. j = 0 and j = q/2 pair with themselves.
namespace {
#if FRONTEND_ARM_ASM
// The j loop of LastPassSplitPowerImpl<256> on the M4: the two butterflies (j and q - j) and the
// four split pairs of an iteration in registers (u in s22-s29, v in s16-s21 and s30-s31),
// complex values and twiddles moved by 64-bit VLDR / VLDM with writeback, the same operations in
// the same order as LastButterfly and SplitPair. ~150 instructions per iteration instead of 187.
// Offsets for nc = 256, q = 64 (bytes): b = a + 512, c = a + 1024, d = a + 1536.
#define FRONTEND_BFLY_MATH \
  "vnmul.f32 s8, s3, s17\n\t"                                                  \
  "vmul.f32 s9, s3, s16\n\t"                                                   \
  "vnmul.f32 s10, s5, s19\n\t"                                                 \
  "vmul.f32 s11, s5, s18\n\t"                                                  \
  "vnmul.f32 s12, s7, s21\n\t"                                                 \
  "vmul.f32 s13, s7, s20\n\t"                                                  \
  "vfma.f32 s8, s2, s16\n\t"                                                   \
  "vfma.f32 s9, s2, s17\n\t"                                                   \
  "vfma.f32 s10, s4, s18\n\t"                                                  \
  "vfma.f32 s11, s4, s19\n\t"                                                  \
  "vfma.f32 s12, s6, s20\n\t"                                                  \
  "vfma.f32 s13, s6, s21\n\t"                                                  \
  "vadd.f32 s14, s0, s8\n\t"  /* s1r */                                       \
  "vadd.f32 s15, s1, s9\n\t"  /* s1i */                                       \
  "vsub.f32 s0, s0, s8\n\t"   /* d1r */                                       \
  "vsub.f32 s1, s1, s9\n\t"   /* d1i */                                       \
  "vadd.f32 s2, s10, s12\n\t" /* s2r */                                       \
  "vadd.f32 s3, s11, s13\n\t" /* s2i */                                       \
  "vsub.f32 s10, s10, s12\n\t" /* d2r */                                      \
  "vsub.f32 s11, s11, s13\n\t" /* d2i */
#define FRONTEND_SPLIT(AR, AI, ZR, ZI, LOAD_W, PK, PNK) \
  LOAD_W                                                  \
  "vadd.f32 s2, " AR ", " ZR "\n\t"   /* er */          \
  "vsub.f32 s3, " AI ", " ZI "\n\t"   /* ei */          \
  "vsub.f32 s4, " AR ", " ZR "\n\t"   /* dr */          \
  "vadd.f32 s5, " AI ", " ZI "\n\t"   /* di */          \
  "vmul.f32 s6, s1, s4\n\t"                             \
  "vnmul.f32 s7, s0, s4\n\t"                            \
  "vfma.f32 s6, s0, s5\n\t"           /* tr */          \
  "vfma.f32 s7, s1, s5\n\t"           /* ti */          \
  "vadd.f32 s8, s2, s6\n\t"           /* xr */          \
  "vadd.f32 s9, s3, s7\n\t"           /* xi */          \
  "vsub.f32 s10, s2, s6\n\t"          /* yr */          \
  "vsub.f32 s11, s3, s7\n\t"          /* yi */          \
  "vmul.f32 s12, s9, s9\n\t"                            \
  "vmul.f32 s13, s11, s11\n\t"                          \
  "vfma.f32 s12, s8, s8\n\t"                            \
  "vfma.f32 s13, s10, s10\n\t"                          \
  "vstr s12, " PK "\n\t"                                \
  "vstr s13, " PNK "\n\t"

void LastPassLoop256Asm(const float* z, const float* tw_last, const float* sw, float* pw) {
  constexpr int q = 64;
  const float* pa = z + 2;                 // u: a of butterfly j = 1
  const float* pvb = z + 2 * q;            // v: 8 bytes past a of butterfly q - 1
  const float* twu = tw_last + 6;          // twiddles of butterfly 1
  const float* twd = tw_last + 6 * q;      // end of the twiddles of butterfly q - 1
  const float* swu = sw + 2;               // split twiddle of bin j
  const float* swd = sw + 2 * q;           // 8 bytes past the split twiddle of bin q - j
  float* pwu = pw + 3;                     // power of bin j
  float* pwd = pw + 3 * (q - 1);           // power of bin q - j
  int n = q / 2 - 1;
  uint32_t t, t2, t3;
  __asm__ volatile(
      "1:\n\t"
      // Butterfly j -> u0..u7 = s22..s29.
      "vldr d1, [%[pa], #512]\n\t"
      "add %[t], %[pa], #1024\n\t"
      "vldr d2, [%[t]]\n\t"
      "vldr d3, [%[t], #512]\n\t"
      "vldmia %[pa]!, {s0-s1}\n\t"
      "vldmia %[twu]!, {s16-s21}\n\t"
      FRONTEND_BFLY_MATH
      "vadd.f32 s22, s14, s2\n\t"
      "vadd.f32 s23, s15, s3\n\t"
      "vadd.f32 s24, s0, s11\n\t"
      "vsub.f32 s25, s1, s10\n\t"
      "vsub.f32 s26, s14, s2\n\t"
      "vsub.f32 s27, s15, s3\n\t"
      "vsub.f32 s28, s0, s11\n\t"
      "vadd.f32 s29, s1, s10\n\t"
      // Butterfly q - j -> v0..v7 = s16..s21, s30, s31.
      "vldr d1, [%[pvb], #504]\n\t"
      "add %[t], %[pvb], #1016\n\t"
      "vldr d2, [%[t]]\n\t"
      "vldr d3, [%[t], #512]\n\t"
      "vldmdb %[pvb]!, {s0-s1}\n\t"
      "vldmdb %[twd]!, {s16-s21}\n\t"
      FRONTEND_BFLY_MATH
      "vadd.f32 s16, s14, s2\n\t"
      "vadd.f32 s17, s15, s3\n\t"
      "vadd.f32 s18, s0, s11\n\t"
      "vsub.f32 s19, s1, s10\n\t"
      "vsub.f32 s20, s14, s2\n\t"
      "vsub.f32 s21, s15, s3\n\t"
      "vsub.f32 s30, s0, s11\n\t"
      "vadd.f32 s31, s1, s10\n\t"
      // Split pairs (bins j + q, j, 2q - j, q - j and their mirrors).
      "add %[t2], %[pwu], #1536\n\t"  // pw + 3 (2q + j)
      "add %[t3], %[pwd], #1536\n\t"  // pw + 3 (3q - j)
      FRONTEND_SPLIT("s24", "s25", "s20", "s21", "vldr d0, [%[swu], #512]\n\t", "[%[pwu], #768]", "[%[t3]]")
      FRONTEND_SPLIT("s22", "s23", "s30", "s31", "vldmia %[swu]!, {s0-s1}\n\t", "[%[pwu]]", "[%[t3], #768]")
      FRONTEND_SPLIT("s18", "s19", "s26", "s27", "vldr d0, [%[swd], #504]\n\t", "[%[pwd], #768]", "[%[t2]]")
      FRONTEND_SPLIT("s16", "s17", "s28", "s29", "vldmdb %[swd]!, {s0-s1}\n\t", "[%[pwd]]", "[%[t2], #768]")
      "add %[pwu], %[pwu], #12\n\t"
      "sub %[pwd], %[pwd], #12\n\t"
      "subs %[n], %[n], #1\n\t"
      "bne 1b"
      : [pa] "+r"(pa), [pvb] "+r"(pvb), [twu] "+r"(twu), [twd] "+r"(twd), [swu] "+r"(swu), [swd] "+r"(swd),
        [pwu] "+r"(pwu), [pwd] "+r"(pwd), [n] "+r"(n), [t] "=&r"(t), [t2] "=&r"(t2), [t3] "=&r"(t3)
      :
      : "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12", "s13", "s14", "s15",
        "s16", "s17", "s18", "s19", "s20", "s21", "s22", "s23", "s24", "s25", "s26", "s27", "s28", "s29", "s30",
        "s31", "cc", "memory");
}
#undef FRONTEND_BFLY_MATH
#undef FRONTEND_SPLIT
#endif  // FRONTEND_ARM_ASM

// Frontend::LastPassSplitPower with kNc > 0: nc a compile-time constant (immediate offsets).
template <int kNc>
void LastPassSplitPowerImpl(const float* z, int nc_runtime, const float* tw_last, const float* sw, float* pw) {
  const int n = kNc > 0 ? kNc : nc_runtime, q = n / 4;
  float u[8], v[8];
  LastButterfly(z, q, tw_last, 0, u);
  const float t0 = u[0] + u[1], tn = u[0] - u[1];  // X[0], X[nc] are real
  pw[0] = (t0 + t0) * (t0 + t0);
  pw[3 * n] = (tn + tn) * (tn + tn);
  SplitPair(u[2], u[3], u[6], u[7], sw + 2 * q, pw + 3 * q, pw + 3 * (n - q));
  const float hr = u[4] + u[4], hi = u[5] + u[5];  // k = nc/2: 2 X = 2 conj(Z[nc/2])
  pw[3 * (n / 2)] = MulAdd(hr, hr, hi, hi);
#if FRONTEND_ARM_ASM
  if (kNc == 256) {
    LastPassLoop256Asm(z, tw_last, sw, pw);
  } else
#endif
  for (int j = 1; j < q / 2; ++j) {
    LastButterfly(z, q, tw_last, j, u);
    LastButterfly(z, q, tw_last, q - j, v);
    SplitPair(u[0], u[1], v[6], v[7], sw + 2 * j, pw + 3 * j, pw + 3 * (n - j));
    SplitPair(u[2], u[3], v[4], v[5], sw + 2 * (j + q), pw + 3 * (j + q), pw + 3 * (n - j - q));
    SplitPair(v[2], v[3], u[4], u[5], sw + 2 * (2 * q - j), pw + 3 * (2 * q - j), pw + 3 * (n - 2 * q + j));
    SplitPair(v[0], v[1], u[6], u[7], sw + 2 * (q - j), pw + 3 * (q - j), pw + 3 * (n - q + j));
  }
  LastButterfly(z, q, tw_last, q / 2, u);
  SplitPair(u[0], u[1], u[6], u[7], sw + q, pw + 3 * (q / 2), pw + 3 * (n - q / 2));
  SplitPair(u[2], u[3], u[4], u[5], sw + 3 * q, pw + 3 * (3 * q / 2), pw + 3 * (n - 3 * q / 2));
}
}  // namespace

void Frontend::LastPassSplitPower(const float* z) {
  const float* tw_last = twiddle_ + last_tw_off_;
  float* const pw = bin_ + 2;  // power of bin k at pw[3 k]
  if (nc_ == 256) {
    LastPassSplitPowerImpl<256>(z, nc_, tw_last, split_tw_, pw);
  } else {
    LastPassSplitPowerImpl<0>(z, nc_, tw_last, split_tw_, pw);
  }
}

}  // namespace frontend
