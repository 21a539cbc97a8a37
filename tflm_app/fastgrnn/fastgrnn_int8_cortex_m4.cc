// Cortex-M4 (ARMv7E-M DSP) implementation of the int8 FastGRNN step, bit-exact with
// fastgrnn_int8_reference.cc and fastgrnn_tf/int8/oracle.py.
//
// Matvec core. PrepareWeights widens every weight matrix once to int16 in a blocked layout
// (RAM: 2 bytes per weight, columns padded to even, plus 8 bytes per unit for the biases and
// 1 KB for the gate table; see PreparedBytes). The kernel then needs no sign extension at all: per block of 4
// output rows and 8 input columns it loads the 8 inputs once (LDM, 4 registers of int16
// pairs), and for each row 8 weights with one LDM and 4 SMLAD: 21 instructions for 32 MACs.
//   * int16 vectors: each step converts x (minus its zero point), h and the low-rank
//     intermediates v, u to int16. SXTB16 yields the bytes of a word as (b0, b2), (b1, b3), so a
//     length-n vector is laid out in groups of four as (e0, e2, e1, e3); the n % 4 tail stays in
//     natural order, zero-padded to an even length. Weights are permuted the same way.
//   * weights [rows, cols]: columns padded to even cols2 = 8 * chunks + tail (tail in
//     {0, 2, 4, 6}); rows in blocks of 4, the rows % 4 leftover rows stored after the blocks and
//     computed by a plain SMLAD loop. Columns are cut into segments of up to 4
//     chunks (32 columns), the tail belonging to the last segment. Segment-major; in a segment,
//     block-major (4 rows); in a block, per chunk the 4 rows' 8 int16 each, then the tail
//     (t int16 per row, row-major).
//   * one straight-line assembly kernel per segment shape (chunks 0-4 x tail x first/accumulate,
//     38 small functions) walks all row blocks of a segment; unrolled, no per-chunk loop test.
// Element-wise part: 64-bit SMLAL pre-activation, QADD/SSAT LUT indices and the update formula
// of fastgrnn_int8_common.h.
#include <arm_acle.h>

#include <cstring>

#include "fastgrnn_int8.h"
#include "fastgrnn_int8_common.h"

namespace fastgrnn {
namespace {

// ---------------------------------------------------------------------------------------------
// Assembly matvec kernels.
struct MvCall {
  const uint32_t* w;      // first block of the segment
  const uint32_t* x;      // int16 inputs of the segment's first column
  int32_t* out;           // 4 accumulators per block (read when accumulating)
  const uint32_t* w_end;  // end of the segment's weights
};
static_assert(sizeof(void*) == 4, "Cortex-M4 kernel expects 32-bit pointers");

// Registers: r0 weights, r1 inputs, r4-r7 inputs (8 int16), r8-r11 weights (8 int16 of a row),
// accumulators r2, r3, r12, lr (rows 0-3); [sp] out pointer, [sp + 4] end of weights.
#define FG_ROW(acc, first)                                                                       \
  ".if " first "\n smuad " acc ", r8, r4\n .else\n smlad " acc ", r8, r4, " acc "\n .endif\n"   \
  " smlad " acc ", r9, r5, " acc "\n smlad " acc ", r10, r6, " acc "\n smlad " acc ", r11, r7, " \
  acc "\n"
#define FG_CHUNK(first)                                                                                  \
  " ldmia r1!, {r4-r7}\n ldmia r0!, {r8-r11}\n" FG_ROW("r2", first) " ldmia r0!, {r8-r11}\n"            \
  FG_ROW("r3", first) " ldmia r0!, {r8-r11}\n" FG_ROW("r12", first) " ldmia r0!, {r8-r11}\n"            \
  FG_ROW("lr", first)
#define FG_TAIL(t)                                                                                       \
  ".if " #t " == 2\n"                                                                                     \
  " ldr r4, [r1], #4\n ldmia r0!, {r8-r11}\n smlad r2, r8, r4, r2\n smlad r3, r9, r4, r3\n"              \
  " smlad r12, r10, r4, r12\n smlad lr, r11, r4, lr\n"                                                    \
  ".elseif " #t " == 4\n"                                                                                 \
  " ldmia r1!, {r4, r5}\n ldmia r0!, {r8-r11}\n smlad r2, r8, r4, r2\n smlad r2, r9, r5, r2\n"          \
  " smlad r3, r10, r4, r3\n smlad r3, r11, r5, r3\n ldmia r0!, {r8-r11}\n smlad r12, r8, r4, r12\n"     \
  " smlad r12, r9, r5, r12\n smlad lr, r10, r4, lr\n smlad lr, r11, r5, lr\n"                            \
  ".elseif " #t " == 6\n"                                                                                 \
  " ldmia r1!, {r4-r6}\n ldmia r0!, {r8-r10}\n smlad r2, r8, r4, r2\n smlad r2, r9, r5, r2\n"           \
  " smlad r2, r10, r6, r2\n ldmia r0!, {r8-r10}\n smlad r3, r8, r4, r3\n smlad r3, r9, r5, r3\n"        \
  " smlad r3, r10, r6, r3\n ldmia r0!, {r8-r10}\n smlad r12, r8, r4, r12\n smlad r12, r9, r5, r12\n"   \
  " smlad r12, r10, r6, r12\n ldmia r0!, {r8-r10}\n smlad lr, r8, r4, lr\n smlad lr, r9, r5, lr\n"      \
  " smlad lr, r10, r6, lr\n"                                                                              \
  ".endif\n"
// n chunks, tail t, acc = 0 (accumulate with SMUAD first) or 1 (load the accumulators from out).
#define FG_MV4_BODY(n, t, acc)                                                                           \
  " push {r3-r11, lr}\n ldr r2, [r0, #8]\n ldr r3, [r0, #12]\n ldr r1, [r0, #4]\n ldr r0, [r0, #0]\n"   \
  " push {r2, r3}\n"                                                                                      \
  "1:\n"                                                                                                  \
  ".if " #acc "\n ldr r4, [sp]\n ldmia r4, {r2, r3, r12, lr}\n"                                           \
  ".elseif " #n " == 0\n movs r2, #0\n movs r3, #0\n mov r12, #0\n mov lr, #0\n"                        \
  ".endif\n"                                                                                              \
  ".if " #n " > 0\n"                                                                                      \
  " .if " #acc "\n" FG_CHUNK("0") " .else\n" FG_CHUNK("1") " .endif\n"                                    \
  " .rept " #n " - 1\n" FG_CHUNK("0") " .endr\n"                                                          \
  ".endif\n" FG_TAIL(t)                                                                                  \
  " sub r1, r1, #(" #n " * 16 + " #t " * 2)\n"                                                            \
  " ldr r4, [sp]\n stmia r4!, {r2, r3, r12, lr}\n str r4, [sp]\n"                                        \
  " ldr r5, [sp, #4]\n cmp r0, r5\n bne 1b\n"                                                             \
  " add sp, #8\n pop {r3-r11, pc}\n"

#define FG_DEFINE_MV4(n, t, acc)                                                    \
  extern "C" __attribute__((naked, noinline)) void fg_mv4_##n##_##t##_##acc(const MvCall*) { \
    __asm__ volatile(FG_MV4_BODY(n, t, acc));                                       \
  }
#define FG_DEFINE_MV4_TAILS(n, acc) \
  FG_DEFINE_MV4(n, 2, acc)          \
  FG_DEFINE_MV4(n, 4, acc)          \
  FG_DEFINE_MV4(n, 6, acc)
#define FG_DEFINE_MV4_N(n, acc) FG_DEFINE_MV4(n, 0, acc) FG_DEFINE_MV4_TAILS(n, acc)

FG_DEFINE_MV4_TAILS(0, 0)
FG_DEFINE_MV4_TAILS(0, 1)
FG_DEFINE_MV4_N(1, 0)
FG_DEFINE_MV4_N(1, 1)
FG_DEFINE_MV4_N(2, 0)
FG_DEFINE_MV4_N(2, 1)
FG_DEFINE_MV4_N(3, 0)
FG_DEFINE_MV4_N(3, 1)
FG_DEFINE_MV4_N(4, 0)
FG_DEFINE_MV4_N(4, 1)

// One row (the rows % 4 leftover rows): out[0] = sum over [w, w_end) of SMLAD with x.
extern "C" __attribute__((naked, noinline)) void fg_mv1(const MvCall*) {
  __asm__ volatile(
      " push {r4-r11, lr}\n ldr r2, [r0, #8]\n ldr r3, [r0, #12]\n ldr r1, [r0, #4]\n ldr r0, [r0, #0]\n"
      " movs r12, #0\n sub lr, r3, r0\n bic lr, lr, #15\n add lr, lr, r0\n cmp r0, lr\n beq 2f\n"
      "1:\n ldmia r1!, {r4-r7}\n ldmia r0!, {r8-r11}\n smlad r12, r8, r4, r12\n smlad r12, r9, r5, r12\n"
      " smlad r12, r10, r6, r12\n smlad r12, r11, r7, r12\n cmp r0, lr\n bne 1b\n"
      "2:\n cmp r0, r3\n beq 3f\n ldr r4, [r1], #4\n ldr r8, [r0], #4\n smlad r12, r8, r4, r12\n b 2b\n"
      "3:\n str r12, [r2]\n pop {r4-r11, pc}\n");
}

using MvKernel = void (*)(const MvCall*);
// kKernels[n][t / 2][acc]; n = 0 with t = 0 never occurs.
#define FG_KERNEL_PAIR(n, t) {fg_mv4_##n##_##t##_0, fg_mv4_##n##_##t##_1}
#define FG_KERNEL_ROW(n) {FG_KERNEL_PAIR(n, 0), FG_KERNEL_PAIR(n, 2), FG_KERNEL_PAIR(n, 4), FG_KERNEL_PAIR(n, 6)}
const MvKernel kKernels[5][4][2] = {
    {{nullptr, nullptr}, FG_KERNEL_PAIR(0, 2), FG_KERNEL_PAIR(0, 4), FG_KERNEL_PAIR(0, 6)},
    FG_KERNEL_ROW(1), FG_KERNEL_ROW(2), FG_KERNEL_ROW(3), FG_KERNEL_ROW(4),
};

// ---------------------------------------------------------------------------------------------
// Assembly element-wise kernel (spec steps 4-9) for the common case: the pre-activation is the
// high word of the 64-bit sum with the rounding bit 2^31 (pre_shift 32 after weight scaling),
// and the prepared biases hold bias + 128. 20 instructions per unit, 4 units per loop pass.
struct EwCall {
  const int32_t* aw;      // 0
  const int32_t* au;      // 4
  const int32_t* bias2;   // 8: (bias_z + 128, bias_h + 128) per unit
  int8_t* h;              // 12: state, updated in place
  const int8_t* h_end;    // 16
  const uint32_t* gate_a; // 20: entry iz in [-128, 127]: (a << 16) | z
  const int16_t* update;  // 24: update_lut + 128
  int32_t mw, mu;         // 28, 32
};

#define FG_EW_UNIT                                                                              \
  " ldr r12, [r0], #4\n ldr lr, [r1], #4\n smull r10, r11, r12, r4\n smlal r10, r11, lr, r5\n"   \
  " add r11, r11, r10, lsr #31\n ldrd r12, lr, [r2], #8\n qadd r12, r12, r11\n qadd lr, lr, r11\n" \
  " ssat r12, #8, r12, asr #8\n ssat lr, #8, lr, asr #8\n ldr r12, [r6, r12, lsl #2]\n"          \
  " ldrsh lr, [r7, lr, lsl #1]\n lsr r10, r12, #16\n mla lr, r10, lr, r8\n ldrsb r11, [r3]\n"    \
  " smlabb r12, r12, r11, r9\n asr r12, r12, #7\n add r12, r12, lr, asr #15\n"                   \
  " ssat r12, #8, r12, asr #8\n strb r12, [r3], #1\n"

__attribute__((naked, noinline)) void ElementwiseAsm(const EwCall*) {
  __asm__ volatile(
      " push {r3-r11, lr}\n"
      " ldr r1, [r0, #16]\n ldr r3, [r0, #12]\n push {r1, r3}\n"  // [sp] = h_end, r3 = h
      " ldrd r4, r5, [r0, #28]\n ldrd r6, r7, [r0, #20]\n ldr r2, [r0, #8]\n ldr r1, [r0, #4]\n"
      " ldr r0, [r0, #0]\n mov r8, #16384\n movw r9, #16448\n"
      // Four units per pass; n % 4 = 1, 2, 3 enters the first pass at unit 4, 3, 2.
      " ldr r12, [sp, #0]\n subs r12, r12, r3\n ands r12, r12, #3\n beq 1f\n cmp r12, #2\n"
      " blt 4f\n beq 3f\n b 2f\n"
      "1:\n" FG_EW_UNIT
      "2:\n" FG_EW_UNIT
      "3:\n" FG_EW_UNIT
      "4:\n" FG_EW_UNIT
      " ldr r12, [sp]\n cmp r3, r12\n bne 1b\n"
      " add sp, #8\n pop {r3-r11, pc}\n");
}

// ---------------------------------------------------------------------------------------------
// Geometry.
constexpr int32_t kBlockRows = 4;
constexpr int32_t kSegChunks = 4;  // chunks of 8 columns per segment

int32_t RoundUp(int32_t v, int32_t m) { return (v + m - 1) / m * m; }

// Position of element j of a length-n vector in its int16 layout.
int32_t Pos(int32_t j, int32_t n) {
  static const int8_t kPerm[4] = {0, 2, 1, 3};
  return j < (n & ~3) ? (j & ~3) + kPerm[j & 3] : j;
}

// One weight matrix [rows, cols] in the prepared buffer: `blocks` blocks of 4 rows in the
// segment layout, then the rows % 4 leftover rows one after the other (cols2 int16 each).
struct Mat {
  // uint16 fields keep the header (stored in the prepared buffer) small; dims are < 2^16.
  uint16_t rows = 0, cols = 0, cols2 = 0, blocks = 0, rest = 0, chunks = 0, tail = 0, segments = 0;
  int32_t SegChunks(int32_t s) const { return s < segments - 1 ? kSegChunks : chunks - kSegChunks * (segments - 1); }
  int32_t SegTail(int32_t s) const { return s == segments - 1 ? tail : 0; }
  int32_t BlockHalfwords(int32_t s) const { return kBlockRows * (8 * SegChunks(s) + SegTail(s)); }
  int32_t RestOffset() const { return blocks * kBlockRows * cols2; }  // halfwords
  int32_t Halfwords() const { return rows * cols2; }
};

Mat MakeMat(int32_t rows, int32_t cols) {
  Mat m;
  if (rows == 0) return m;
  const int32_t cols2 = RoundUp(cols, 2), chunks = cols2 / 8;
  m.rows = static_cast<uint16_t>(rows);
  m.cols = static_cast<uint16_t>(cols);
  m.cols2 = static_cast<uint16_t>(cols2);
  m.blocks = static_cast<uint16_t>(rows / kBlockRows);
  m.rest = static_cast<uint16_t>(rows % kBlockRows);
  m.chunks = static_cast<uint16_t>(chunks);
  m.tail = static_cast<uint16_t>(cols2 % 8);
  m.segments = static_cast<uint16_t>(chunks == 0 ? 1 : (chunks + kSegChunks - 1) / kSegChunks);
  return m;
}

// Everything Run needs besides the arrays; stored at the start of the prepared buffer.
struct Header {
  Mat w1, w2, u1, u2;  // w2/u2 empty at full rank
  // Byte offsets in the prepared buffer.
  uint32_t w1_off, w2_off, u1_off, u2_off, bias_off, gate_a_off, prepared_bytes;
  // Byte offsets in the scratch buffer.
  uint32_t x16_off, h16_off, v16_off, u16_off, tmp_off, aw_off, au_off, scratch_bytes;
  // Set by PrepareWeights. The matrices producing av, au1, aw, au are scaled by 2^k so that
  // the effective shifts below are >= 32 when the accumulators stay within int32.
  int8_t v_shift, u_shift, pre_shift;
  uint8_t bias_plus_half;  // bias2 holds bias + 128
};

uint32_t Align8(uint32_t v) { return (v + 7u) & ~7u; }

Header MakeHeader(const Int8Params& p) {
  Header l;
  const int32_t d = p.input_dim, h = p.units, rw = p.w_rank, ru = p.u_rank;
  l.w1 = MakeMat(rw ? rw : h, d);
  l.w2 = MakeMat(rw ? h : 0, rw);
  l.u1 = MakeMat(ru ? ru : h, h);
  l.u2 = MakeMat(ru ? h : 0, ru);
  uint32_t off = Align8(sizeof(Header));
  l.w1_off = off;
  off += 2 * static_cast<uint32_t>(l.w1.Halfwords());
  l.w2_off = off;
  off += 2 * static_cast<uint32_t>(l.w2.Halfwords());
  l.u1_off = off;
  off += 2 * static_cast<uint32_t>(l.u1.Halfwords());
  l.u2_off = off;
  off += 2 * static_cast<uint32_t>(l.u2.Halfwords());
  l.bias_off = Align8(off);
  off = l.bias_off + 8 * static_cast<uint32_t>(h);
  l.gate_a_off = off;
  off += 4 * 256;
  l.prepared_bytes = off;

  const int32_t rank4 = RoundUp(rw > ru ? rw : ru, 4);
  uint32_t s = 0;
  l.x16_off = s;
  s += 2 * static_cast<uint32_t>(RoundUp(d, 4));
  l.h16_off = s;
  s += 2 * static_cast<uint32_t>(RoundUp(h, 4));
  l.v16_off = s;
  s += 2 * static_cast<uint32_t>(RoundUp(rw, 4));
  l.u16_off = s;
  s += 2 * static_cast<uint32_t>(RoundUp(ru, 4));
  l.tmp_off = s;
  s += 4 * static_cast<uint32_t>(rank4);
  l.aw_off = s;
  s += 4 * static_cast<uint32_t>(RoundUp(h, 4));
  l.au_off = s;
  s += 4 * static_cast<uint32_t>(RoundUp(h, 4));
  l.scratch_bytes = s;
  l.v_shift = static_cast<int8_t>(p.v_shift);
  l.u_shift = static_cast<int8_t>(p.u_shift);
  l.pre_shift = static_cast<int8_t>(p.pre_shift);
  l.bias_plus_half = 0;
  return l;
}

// Largest |sum_j w[r, j] * in_j| over rows for |in_j| <= in_max.
int64_t MaxAccumulator(const int8_t* w, int32_t rows, int32_t cols, int32_t in_max) {
  int64_t best = 0;
  for (int32_t r = 0; r < rows; ++r) {
    int64_t sum = 0;
    for (int32_t j = 0; j < cols; ++j) sum += w[r * cols + j] < 0 ? -w[r * cols + j] : w[r * cols + j];
    if (sum > best) best = sum;
  }
  return best * in_max;
}

// Exponent k (<= 8, int16 weights) that lifts `shift` to 32 while bound * 2^k stays in int32.
int32_t LiftExponent(int32_t shift, int64_t bound) {
  if (shift >= 32) return 0;
  const int32_t k = 32 - shift;
  if (k > 8 || (bound << k) > INT32_MAX) return 0;
  return k;
}

// Writes w [rows, cols] (int8, row-major) times 2^k as int16 in the blocked layout.
void PrepareMat(const int8_t* w, const Mat& m, int32_t k, int16_t* dst) {
  memset(dst, 0, 2 * static_cast<size_t>(m.Halfwords()));
  // Every segment but the last is full, so segment s starts after s full segments.
  const int32_t full_segment = m.blocks * m.BlockHalfwords(0);
  for (int32_t r = 0; r < m.rows; ++r) {
    const int32_t block = r / kBlockRows, rr = r % kBlockRows;
    for (int32_t j = 0; j < m.cols; ++j) {
      const int32_t pos = Pos(j, m.cols);
      const int32_t c8 = pos / 8;
      int32_t index;
      if (block >= m.blocks) {
        index = m.RestOffset() + (r - m.blocks * kBlockRows) * m.cols2 + pos;
      } else if (c8 < m.chunks) {
        const int32_t s = c8 / kSegChunks;
        index = s * full_segment + block * m.BlockHalfwords(s) + (c8 % kSegChunks) * 32 + rr * 8 + pos % 8;
      } else {
        const int32_t s = m.segments - 1;
        index = s * full_segment + block * m.BlockHalfwords(s) + m.SegChunks(s) * 32 + rr * m.tail +
                (pos - 8 * m.chunks);
      }
      dst[index] = static_cast<int16_t>(w[r * m.cols + j] * (1 << k));
    }
  }
}

// out[0 .. rows) = W x (int16 vector x in the layout above).
void MatVec(const Mat& m, const uint32_t* w, const uint32_t* x, int32_t* out) {
  const uint32_t* rest = w + m.RestOffset() / 2;
  if (m.blocks > 0) {
    MvCall call;
    call.out = out;
    const int32_t full_words = m.blocks * (kBlockRows * 8 * kSegChunks / 2);
    const int32_t last = m.segments - 1;
    for (int32_t s = 0; s < last; ++s) {
      call.w = w;
      call.x = x + s * (kSegChunks * 4);
      call.w_end = w + full_words;
      kKernels[kSegChunks][0][s > 0 ? 1 : 0](&call);
      w = call.w_end;
    }
    call.w = w;
    call.x = x + last * (kSegChunks * 4);
    call.w_end = rest;
    kKernels[m.SegChunks(last)][m.tail / 2][last > 0 ? 1 : 0](&call);
  }
  const int32_t words = m.cols2 / 2;
  for (int32_t r = 0; r < m.rest; ++r) {
    MvCall call;
    call.w = rest;
    call.x = x;
    call.out = out + m.blocks * kBlockRows + r;
    call.w_end = rest + words;
    fg_mv1(&call);
    rest += words;
  }
}

// ---------------------------------------------------------------------------------------------
// Vector conversions.

// SXTB16 of the word rotated right by 8: bytes 1 and 3 (GCC 12 does not fold the rotation).
inline uint32_t Sxtb16Ror8(uint32_t v) {
  uint32_t r;
  __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
  return r;
}

inline uint32_t Load32(const void* p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

// int8 vector minus zero point -> int16 layout; dst has room for RoundUp(n, 4) halfwords.
void ToInt16(const int8_t* src, int32_t n, int32_t zero_point, int16_t* dst) {
  const int32_t full = n & ~3;
  uint32_t* d32 = reinterpret_cast<uint32_t*>(dst);
  if (zero_point == 0) {
    for (int32_t j = 0; j < full; j += 4) {
      const uint32_t word = Load32(src + j);
      d32[0] = __sxtb16(word);
      d32[1] = Sxtb16Ror8(word);
      d32 += 2;
    }
  } else {
    const uint32_t zz = (static_cast<uint32_t>(zero_point) & 0xFFFF) * 0x10001u;
    for (int32_t j = 0; j < full; j += 4) {
      const uint32_t word = Load32(src + j);
      d32[0] = __ssub16(__sxtb16(word), zz);
      d32[1] = __ssub16(Sxtb16Ror8(word), zz);
      d32 += 2;
    }
  }
  for (int32_t j = full; j < RoundUp(n, 4); ++j) dst[j] = static_cast<int16_t>(j < n ? src[j] - zero_point : 0);
}

// v = sat8(requant(acc, mult, shift)) for n elements, written in the int16 layout.
// For shift > 32 the rounding term 2^(shift-1) has no low-word bits, so
// requant = (high word of acc * m + 2^(shift-33)) >> (shift - 32); for shift = 32 it is the
// high word plus bit 31 of the low word.
inline int32_t RequantHigh(int32_t acc, int32_t mult, int32_t round_hi, int32_t s2) {
  return __ssat((static_cast<int32_t>((static_cast<int64_t>(acc) * mult) >> 32) + round_hi) >> s2, 8);
}
inline int32_t Requant32(int32_t acc, int32_t mult) {
  const int64_t prod = static_cast<int64_t>(acc) * mult;
  return __ssat(static_cast<int32_t>(prod >> 32) + static_cast<int32_t>(static_cast<uint32_t>(prod) >> 31), 8);
}

void RequantToInt16(const int32_t* acc, int32_t n, int32_t mult, int32_t shift, int16_t* dst) {
  const int32_t full = n & ~3;
  if (shift > 32) {
    const int32_t s2 = shift - 32, round_hi = 1 << (s2 - 1);
    for (int32_t j = 0; j < full; j += 4) {
      dst[j] = static_cast<int16_t>(RequantHigh(acc[j], mult, round_hi, s2));
      dst[j + 2] = static_cast<int16_t>(RequantHigh(acc[j + 1], mult, round_hi, s2));
      dst[j + 1] = static_cast<int16_t>(RequantHigh(acc[j + 2], mult, round_hi, s2));
      dst[j + 3] = static_cast<int16_t>(RequantHigh(acc[j + 3], mult, round_hi, s2));
    }
  } else if (shift == 32) {
    for (int32_t j = 0; j < full; j += 4) {
      dst[j] = static_cast<int16_t>(Requant32(acc[j], mult));
      dst[j + 2] = static_cast<int16_t>(Requant32(acc[j + 1], mult));
      dst[j + 1] = static_cast<int16_t>(Requant32(acc[j + 2], mult));
      dst[j + 3] = static_cast<int16_t>(Requant32(acc[j + 3], mult));
    }
  } else {
    for (int32_t j = 0; j < full; ++j) {
      dst[Pos(j, n)] = static_cast<int16_t>(internal::Sat8(internal::Requant(acc[j], mult, shift)));
    }
  }
  for (int32_t j = full; j < RoundUp(n, 4); ++j) {
    dst[j] = static_cast<int16_t>(j < n ? internal::Sat8(internal::Requant(acc[j], mult, shift)) : 0);
  }
}

// acc = M x (full rank) or M2 sat8(requant(M1 x)) (low rank).
void Path(const Mat& m1, const Mat& m2, const uint32_t* w1, const uint32_t* w2, int32_t mult, int32_t shift,
          const int16_t* x16, int32_t* tmp, int16_t* mid16, int32_t* acc) {
  if (m2.rows == 0) {
    MatVec(m1, w1, reinterpret_cast<const uint32_t*>(x16), acc);
    return;
  }
  MatVec(m1, w1, reinterpret_cast<const uint32_t*>(x16), tmp);
  RequantToInt16(tmp, m1.rows, mult, shift, mid16);
  MatVec(m2, w2, reinterpret_cast<const uint32_t*>(mid16), acc);
}

// ---------------------------------------------------------------------------------------------
// Element-wise part in C for the uncommon cases: pre_shift > 32 after scaling (kHighWord: the
// pre-activation is the high word shifted by pre_shift - 32, which always fits), pre_shift < 32
// (64-bit shift and sat32), or a bias within 128 of INT32_MAX (kBiasPlusHalf false).
// With kBiasPlusHalf, sat8(sat32(p + b + 128) >> 8) equals the spec's sat8((sat32(p + b) + 128) >> 8):
// both saturate to the same end whenever a sum leaves int32.
template <bool kHighWord, bool kBiasPlusHalf>
void Elementwise(const Int8Params& p, int32_t pre_shift, const int32_t* aw, const int32_t* au,
                 const int32_t* bias2, int8_t* h) {
  const internal::UpdateConstants uc = internal::MakeUpdateConstants(p);
  const int32_t mw = p.pre_w_multiplier, mu = p.pre_u_multiplier, s = pre_shift;
  const int16_t* gate = p.gate_lut + 128;
  const int16_t* update = p.update_lut + 128;
  const int64_t round = int64_t{1} << (s - 1);
  for (int32_t k = 0; k < p.units; ++k) {
    const int64_t sum = round + static_cast<int64_t>(aw[k]) * mw + static_cast<int64_t>(au[k]) * mu;
    const int32_t pre = kHighWord ? static_cast<int32_t>(sum >> 32) >> (s - 32) : internal::Sat32(sum >> s);
    int32_t iz, ic;
    if (kBiasPlusHalf) {
      iz = __ssat(__qadd(pre, bias2[2 * k]) >> 8, 8);
      ic = __ssat(__qadd(pre, bias2[2 * k + 1]) >> 8, 8);
    } else {
      iz = __ssat(__qadd(__qadd(pre, bias2[2 * k]), 128) >> 8, 8);
      ic = __ssat(__qadd(__qadd(pre, bias2[2 * k + 1]), 128) >> 8, 8);
    }
    h[k] = static_cast<int8_t>(internal::UpdateUnit(gate[iz], update[ic], h[k], uc));
  }
}

// memcpy for small unaligned int8 vectors (newlib-nano's memcpy copies byte by byte).
void CopyBytes(const int8_t* src, int32_t n, int8_t* dst) {
  int32_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const uint32_t word = Load32(src + i);
    memcpy(dst + i, &word, 4);
  }
  for (; i < n; ++i) dst[i] = src[i];
}

}  // namespace

const char* ImplementationName() { return "cortex-m4"; }

size_t ScratchBytes(const Int8Params& p) { return MakeHeader(p).scratch_bytes; }

size_t PreparedBytes(const Int8Params& p) { return MakeHeader(p).prepared_bytes; }

void PrepareWeights(const Int8Params& p, void* prepared) {
  Header l = MakeHeader(p);
  uint8_t* base = static_cast<uint8_t*>(prepared);
  const int32_t d = p.input_dim, hu = p.units, rw = p.w_rank, ru = p.u_rank;
  // Scale exponents: av (W1 x), au1 (U1 h) and the pre-activation sources aw, au.
  int32_t kv = 0, ku = 0;
  if (rw) kv = LiftExponent(p.v_shift, MaxAccumulator(p.w1, rw, d, 255));
  if (ru) ku = LiftExponent(p.u_shift, MaxAccumulator(p.u1, ru, hu, 128));
  const int64_t aw_max = rw ? MaxAccumulator(p.w2, hu, rw, 128) : MaxAccumulator(p.w1, hu, d, 255);
  const int64_t au_max = ru ? MaxAccumulator(p.u2, hu, ru, 128) : MaxAccumulator(p.u1, hu, hu, 128);
  const int32_t kp = LiftExponent(p.pre_shift, aw_max > au_max ? aw_max : au_max);
  l.v_shift = static_cast<int8_t>(p.v_shift + kv);
  l.u_shift = static_cast<int8_t>(p.u_shift + ku);
  l.pre_shift = static_cast<int8_t>(p.pre_shift + kp);
  PrepareMat(p.w1, l.w1, rw ? kv : kp, reinterpret_cast<int16_t*>(base + l.w1_off));
  if (rw) PrepareMat(p.w2, l.w2, kp, reinterpret_cast<int16_t*>(base + l.w2_off));
  PrepareMat(p.u1, l.u1, ru ? ku : kp, reinterpret_cast<int16_t*>(base + l.u1_off));
  if (ru) PrepareMat(p.u2, l.u2, kp, reinterpret_cast<int16_t*>(base + l.u2_off));

  bool plus_half = true;
  for (int32_t k = 0; k < hu; ++k) {
    if (p.bias_z[k] > INT32_MAX - 128 || p.bias_h[k] > INT32_MAX - 128) plus_half = false;
  }
  const int32_t add = plus_half ? 128 : 0;
  int32_t* bias2 = reinterpret_cast<int32_t*>(base + l.bias_off);
  for (int32_t k = 0; k < hu; ++k) {
    bias2[2 * k] = p.bias_z[k] + add;
    bias2[2 * k + 1] = p.bias_h[k] + add;
  }
  l.bias_plus_half = plus_half ? 1 : 0;
  // Gate table for the assembly element-wise kernel: z and a = (k - zeta z) >> 15 in [0, 65534].
  const internal::UpdateConstants uc = internal::MakeUpdateConstants(p);
  uint32_t* gate_a = reinterpret_cast<uint32_t*>(base + l.gate_a_off);
  for (int32_t i = 0; i < 256; ++i) {
    const int32_t z = p.gate_lut[i];
    const int32_t a = (uc.k - uc.zeta_q15 * z) >> 15;
    gate_a[i] = (static_cast<uint32_t>(a) << 16) | static_cast<uint32_t>(z);
  }
  memcpy(base, &l, sizeof(l));
}

void Run(const Int8Params& p, const void* prepared, const int8_t* x, int32_t steps, int8_t* h, int8_t* out,
         bool return_sequences, void* scratch) {
  const Header& l = *static_cast<const Header*>(prepared);
  const uint8_t* pb = static_cast<const uint8_t*>(prepared);
  uint8_t* sb = static_cast<uint8_t*>(scratch);
  const uint32_t* w1 = reinterpret_cast<const uint32_t*>(pb + l.w1_off);
  const uint32_t* w2 = reinterpret_cast<const uint32_t*>(pb + l.w2_off);
  const uint32_t* u1 = reinterpret_cast<const uint32_t*>(pb + l.u1_off);
  const uint32_t* u2 = reinterpret_cast<const uint32_t*>(pb + l.u2_off);
  const int32_t* bias2 = reinterpret_cast<const int32_t*>(pb + l.bias_off);
  int16_t* x16 = reinterpret_cast<int16_t*>(sb + l.x16_off);
  int16_t* h16 = reinterpret_cast<int16_t*>(sb + l.h16_off);
  int16_t* v16 = reinterpret_cast<int16_t*>(sb + l.v16_off);
  int16_t* u16 = reinterpret_cast<int16_t*>(sb + l.u16_off);
  int32_t* tmp = reinterpret_cast<int32_t*>(sb + l.tmp_off);
  int32_t* aw = reinterpret_cast<int32_t*>(sb + l.aw_off);
  int32_t* au = reinterpret_cast<int32_t*>(sb + l.au_off);
  const int32_t d = p.input_dim, hu = p.units;
  const bool asm_elementwise = l.pre_shift == 32 && l.bias_plus_half;
  EwCall ew;
  ew.bias2 = bias2;
  ew.h = h;
  ew.h_end = h + hu;
  ew.gate_a = reinterpret_cast<const uint32_t*>(pb + l.gate_a_off) + 128;
  ew.update = p.update_lut + 128;
  ew.mw = p.pre_w_multiplier;
  ew.mu = p.pre_u_multiplier;
  for (int32_t t = 0; t < steps; ++t) {
    ToInt16(x + t * d, d, p.input_zero_point, x16);
    ToInt16(h, hu, 0, h16);
    Path(l.w1, l.w2, w1, w2, p.v_multiplier, l.v_shift, x16, tmp, v16, aw);
    Path(l.u1, l.u2, u1, u2, p.u_multiplier, l.u_shift, h16, tmp, u16, au);
    if (asm_elementwise) {
      ew.aw = aw;
      ew.au = au;
      ElementwiseAsm(&ew);
    } else if (l.pre_shift >= 32) {
      if (l.bias_plus_half) {
        Elementwise<true, true>(p, l.pre_shift, aw, au, bias2, h);
      } else {
        Elementwise<true, false>(p, l.pre_shift, aw, au, bias2, h);
      }
    } else if (l.bias_plus_half) {
      Elementwise<false, true>(p, l.pre_shift, aw, au, bias2, h);
    } else {
      Elementwise<false, false>(p, l.pre_shift, aw, au, bias2, h);
    }
    if (return_sequences) CopyBytes(h, hu, out + t * hu);
  }
  if (!return_sequences) CopyBytes(h, hu, out);
}

}  // namespace fastgrnn
