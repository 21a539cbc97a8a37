// Unit tests of the int8 FastGRNN step: small hand-checked vectors, one behaviour per test.
// No file I/O, so the same binary runs on the host and under QEMU; it tests whichever
// implementation (reference or cortex-m4) the build links.
#include <cstdint>
#include <cstring>

#include "fastgrnn_int8.h"
#include "fastgrnn_int8_common.h"
#include "test_macros.h"

namespace {

using fastgrnn::Int8Params;
using fastgrnn::internal::LutLookup;
using fastgrnn::internal::PreActivation;
using fastgrnn::internal::Requant;
using fastgrnn::internal::RshiftRound;
using fastgrnn::internal::Sat8;

// Working memory for Run (static: no heap, fits the nRF52840 RAM map under QEMU).
alignas(8) uint8_t g_prepared[40 * 1024];
alignas(8) uint8_t g_scratch[4 * 1024];

// Runs `steps` steps through the public API (validate, prepare, run).
bool RunModel(const Int8Params& p, const int8_t* x, int steps, int8_t* h, int8_t* out, bool seq) {
  if (fastgrnn::Validate(p) != nullptr) {
    printf("Validate: %s\n", fastgrnn::Validate(p));
    return false;
  }
  if (fastgrnn::PreparedBytes(p) > sizeof(g_prepared) || fastgrnn::ScratchBytes(p) > sizeof(g_scratch)) {
    printf("test buffers too small\n");
    return false;
  }
  fastgrnn::PrepareWeights(p, g_prepared);
  fastgrnn::Run(p, g_prepared, x, steps, h, out, seq, g_scratch);
  return true;
}

// A "probe" configuration: gate LUT all zero (z = 0), zeta = 0, nu = 32767 and
// update_lut[i] = (i - 128) * 256, so the new state equals the update LUT index
// ic = sat8(rshift_round(p + bias_h, 8)) and the matvec results become visible in h.
struct Probe {
  int16_t gate_lut[256];
  int16_t update_lut[256];
  int32_t bias_z[16];
  int32_t bias_h[16];
  Probe() {
    for (int i = 0; i < 256; ++i) {
      gate_lut[i] = 0;
      update_lut[i] = static_cast<int16_t>((i - 128) * 256);
    }
    for (int k = 0; k < 16; ++k) bias_z[k] = bias_h[k] = 0;
  }
  void Attach(Int8Params* p) const {
    p->gate_lut = gate_lut;
    p->update_lut = update_lut;
    p->bias_z = bias_z;
    p->bias_h = bias_h;
    p->zeta_q15 = 0;
    p->nu_q15 = 32767;
    // p = aw * 256 + au * 256 exactly, so h = sat8(aw + au).
    p->pre_w_multiplier = 1 << 30;
    p->pre_u_multiplier = 1 << 30;
    p->pre_shift = 22;
  }
};

TEST(RequantRoundsHalfUp) {
  // m / 2^n = 0.5: x.5 rounds up, also for negatives.
  EXPECT_EQ(Requant(3, 1 << 30, 31), 2);    // 1.5 -> 2
  EXPECT_EQ(Requant(1, 1 << 30, 31), 1);    // 0.5 -> 1
  EXPECT_EQ(Requant(-1, 1 << 30, 31), 0);   // -0.5 -> 0
  EXPECT_EQ(Requant(-3, 1 << 30, 31), -1);  // -1.5 -> -1
  EXPECT_EQ(Requant(-4, 1 << 30, 31), -2);
}

TEST(RequantLargeShiftAndMultiplier) {
  // (2^31 - 1) * (2^31 - 1) needs 62 bits; n = 62 divides it back to ~1.
  EXPECT_EQ(Requant(INT32_MAX, INT32_MAX, 62), 1);
  EXPECT_EQ(Requant(INT32_MIN, INT32_MAX, 62), -1);
  EXPECT_EQ(Requant(1000, 0, 5), 0);
}

TEST(RshiftRoundHalfUp) {
  EXPECT_EQ(RshiftRound(5, 1), 3);
  EXPECT_EQ(RshiftRound(-5, 1), -2);
  EXPECT_EQ(RshiftRound(383, 8), 1);
  EXPECT_EQ(RshiftRound(384, 8), 2);
  EXPECT_EQ(RshiftRound(-384, 8), -1);
  EXPECT_EQ(RshiftRound(INT32_MAX, 8), 8388608);  // no int32 wrap
}

TEST(Sat8Clamps) {
  EXPECT_EQ(Sat8(128), 127);
  EXPECT_EQ(Sat8(-129), -128);
  EXPECT_EQ(Sat8(-128), -128);
  EXPECT_EQ(Sat8(int64_t{1} << 40), 127);
}

TEST(PreActivationOneRoundingAndSaturation) {
  // 10 * 0.5 + 3 * 0.25 = 5.75 -> 6; -10 * 0.5 - 3 * 0.25 = -5.75 -> -6; 1 * 0.5 -> 1.
  EXPECT_EQ(PreActivation(10, 3, 1 << 30, 1 << 29, 31), 6);
  EXPECT_EQ(PreActivation(-10, -3, 1 << 30, 1 << 29, 31), -6);
  EXPECT_EQ(PreActivation(1, 0, 1 << 30, 0, 31), 1);
  // Two halves that separately round up would give 2; one rounding of the sum gives 1.
  EXPECT_EQ(PreActivation(1, 1, 1 << 29, 1 << 29, 31), 1);
  EXPECT_EQ(PreActivation(INT32_MAX, INT32_MAX, INT32_MAX, INT32_MAX, 1), INT32_MAX);
  EXPECT_EQ(PreActivation(INT32_MIN, INT32_MIN, INT32_MAX, INT32_MAX, 1), INT32_MIN);
}

TEST(LutIndexRoundsAndSaturates) {
  int16_t lut[256];
  for (int i = 0; i < 256; ++i) lut[i] = static_cast<int16_t>(i - 128);  // lut value = index
  EXPECT_EQ(LutLookup(0, 127, lut), 0);
  EXPECT_EQ(LutLookup(0, 128, lut), 1);     // 0.5 -> 1
  EXPECT_EQ(LutLookup(0, -128, lut), 0);    // -0.5 -> 0
  EXPECT_EQ(LutLookup(0, -129, lut), -1);
  EXPECT_EQ(LutLookup(100, 32412, lut), 127);  // 127.0 exactly
  EXPECT_EQ(LutLookup(0, 1 << 20, lut), 127);
  EXPECT_EQ(LutLookup(0, -(1 << 20), lut), -128);
  EXPECT_EQ(LutLookup(INT32_MAX, INT32_MAX, lut), 127);  // sat32 before the shift
  EXPECT_EQ(LutLookup(INT32_MIN, INT32_MIN, lut), -128);
}

// The 2-unit example worked by hand (also checked with fastgrnn_tf/int8/oracle.py):
// aw = W (x - zp) = [10, -10]; au = U h = [128, 32]; p = aw + au / 2 (rounded) = [74, 6];
// iz = [10, 1] -> z = [13800, 12900]; ic = [-5, 3 (2.5 rounds up)] -> c = [-1000, 600];
// a = [10508, 10958]; hc = [-321, 201]; hz = [6900, -3225]; h = [26, -12].
TEST(StateUpdateTwoUnits) {
  static const int8_t w[4] = {1, 2, 3, -4};
  static const int8_t u[4] = {2, 0, 1, 1};
  static const int32_t bias_z[2] = {2560 - 74, 250};
  static const int32_t bias_h[2] = {-74 - 1280, -6 + 768 - 128};
  int16_t gate_lut[256], update_lut[256];
  for (int i = 0; i < 256; ++i) {
    gate_lut[i] = static_cast<int16_t>(i * 100);
    update_lut[i] = static_cast<int16_t>((i - 128) * 200);
  }
  Int8Params p;
  p.input_dim = 2;
  p.units = 2;
  p.input_zero_point = 1;
  p.w1 = w;
  p.u1 = u;
  p.bias_z = bias_z;
  p.bias_h = bias_h;
  p.gate_lut = gate_lut;
  p.update_lut = update_lut;
  p.pre_w_multiplier = 1 << 30;
  p.pre_u_multiplier = 1 << 29;
  p.pre_shift = 30;
  p.zeta_q15 = 16384;
  p.nu_q15 = 1024;
  const int8_t x[2] = {3, 5};
  int8_t h[2] = {64, -32};
  int8_t out[2] = {0, 0};
  EXPECT_TRUE(RunModel(p, x, 1, h, out, false));
  EXPECT_EQ(h[0], 26);
  EXPECT_EQ(h[1], -12);
  EXPECT_EQ(out[0], 26);
  EXPECT_EQ(out[1], -12);
}

TEST(FullRankMatVecSubtractsZeroPoint) {
  // D = 3, H = 2: h = W (x - zp) = [[1, -2, 3], [-4, 5, 6]] [2, -1, 3] = [13, 5].
  static const int8_t w[6] = {1, -2, 3, -4, 5, 6};
  static const int8_t u[4] = {0, 0, 0, 0};
  Probe probe;
  Int8Params p;
  p.input_dim = 3;
  p.units = 2;
  p.input_zero_point = -7;
  p.w1 = w;
  p.u1 = u;
  probe.Attach(&p);
  const int8_t x[3] = {-5, -8, -4};
  int8_t h[2] = {0, 0}, out[2];
  EXPECT_TRUE(RunModel(p, x, 1, h, out, false));
  EXPECT_EQ(h[0], 13);
  EXPECT_EQ(h[1], 5);
}

TEST(ZeroPointExtremesUseInt16Range) {
  // x - zp reaches 255 and -255; W = [1] -> p = 255 * 256 -> h saturates at 127 / -128.
  static const int8_t w[1] = {1};
  static const int8_t u[1] = {0};
  Probe probe;
  Int8Params p;
  p.input_dim = 1;
  p.units = 1;
  p.w1 = w;
  p.u1 = u;
  probe.Attach(&p);
  p.pre_w_multiplier = 1 << 30;
  p.pre_shift = 30;  // p = aw, h = rshift_round(aw, 8)
  p.input_zero_point = -128;
  int8_t x = 127, h = 0, out;
  EXPECT_TRUE(RunModel(p, &x, 1, &h, &out, false));
  EXPECT_EQ(h, 1);  // 255 / 256 -> 1
  p.input_zero_point = 127;
  x = -128;
  h = 0;
  EXPECT_TRUE(RunModel(p, &x, 1, &h, &out, false));
  EXPECT_EQ(h, -1);
}

TEST(UPathUsesPreviousState) {
  // U = [[1, 2], [0, -1]], h0 = [3, 4] -> au = [11, -4]; W = 0 -> h = [11, -4].
  static const int8_t w[2] = {0, 0};
  static const int8_t u[4] = {1, 2, 0, -1};
  Probe probe;
  Int8Params p;
  p.input_dim = 1;
  p.units = 2;
  p.w1 = w;
  p.u1 = u;
  probe.Attach(&p);
  const int8_t x = 9;
  int8_t h[2] = {3, 4}, out[2];
  EXPECT_TRUE(RunModel(p, &x, 1, h, out, false));
  EXPECT_EQ(h[0], 11);
  EXPECT_EQ(h[1], -4);
}

TEST(LowRankIntermediateRoundsAndSaturates) {
  // W1 = [[1, 1], [100, 100]], x - zp = [1, 2] -> av = [3, 300]; v = sat8(av * 0.5 rounded) = [2, 127];
  // W2 = [[1, 0], [1, -1]] -> aw = [2, -125]: h = aw.
  static const int8_t w1[4] = {1, 1, 100, 100};
  static const int8_t w2[4] = {1, 0, 1, -1};
  static const int8_t u[4] = {0, 0, 0, 0};
  Probe probe;
  Int8Params p;
  p.input_dim = 2;
  p.units = 2;
  p.w_rank = 2;
  p.w1 = w1;
  p.w2 = w2;
  p.u1 = u;
  p.v_multiplier = 1 << 30;
  p.v_shift = 31;
  probe.Attach(&p);
  const int8_t x[2] = {1, 2};
  int8_t h[2] = {0, 0}, out[2];
  EXPECT_TRUE(RunModel(p, x, 1, h, out, false));
  EXPECT_EQ(h[0], 2);
  EXPECT_EQ(h[1], -125);
}

TEST(LowRankUPath) {
  // U1 = [[2, 1]] (rank 1), h0 = [10, -3] -> au1 = 17; u = requant(17, 0.25) = 4 (4.25);
  // U2 = [[3], [-2]] -> au = [12, -8].
  static const int8_t w[2] = {0, 0};
  static const int8_t u1[2] = {2, 1};
  static const int8_t u2[2] = {3, -2};
  Probe probe;
  Int8Params p;
  p.input_dim = 1;
  p.units = 2;
  p.u_rank = 1;
  p.w1 = w;
  p.u1 = u1;
  p.u2 = u2;
  p.u_multiplier = 1 << 30;
  p.u_shift = 32;
  probe.Attach(&p);
  const int8_t x = 0;
  int8_t h[2] = {10, -3}, out[2];
  EXPECT_TRUE(RunModel(p, &x, 1, h, out, false));
  EXPECT_EQ(h[0], 12);
  EXPECT_EQ(h[1], -8);
}

TEST(StateSaturatesAt127) {
  // z = 32767 keeps h (hz ~ 127 * 256), c = 32767 adds a ~ nu -> sum > 127 * 256 -> 127.
  static const int8_t w[1] = {0};
  static const int8_t u[1] = {0};
  int16_t gate_lut[256], update_lut[256];
  for (int i = 0; i < 256; ++i) gate_lut[i] = update_lut[i] = 32767;
  static const int32_t zero[1] = {0};
  Int8Params p;
  p.input_dim = 1;
  p.units = 1;
  p.w1 = w;
  p.u1 = u;
  p.bias_z = zero;
  p.bias_h = zero;
  p.gate_lut = gate_lut;
  p.update_lut = update_lut;
  p.pre_w_multiplier = p.pre_u_multiplier = 1 << 30;
  p.pre_shift = 31;
  p.zeta_q15 = 32767;
  p.nu_q15 = 32767;
  const int8_t x = 0;
  int8_t h = 127, out;
  EXPECT_TRUE(RunModel(p, &x, 1, &h, &out, false));
  EXPECT_EQ(h, 127);
  for (int i = 0; i < 256; ++i) update_lut[i] = -32768;
  h = -128;
  EXPECT_TRUE(RunModel(p, &x, 1, &h, &out, false));
  EXPECT_EQ(h, -128);
}

// ---- random models: the linked implementation against a naive transcription of the spec ----

uint32_t g_rng = 12345;
int32_t Rand(int32_t lo, int32_t hi) {  // uniform-ish in [lo, hi]
  g_rng = g_rng * 1664525u + 1013904223u;
  return lo + static_cast<int32_t>((g_rng >> 8) % static_cast<uint32_t>(hi - lo + 1));
}

// Naive spec step (int8_step_spec.md steps 1-9) for one time step.
void SpecStep(const Int8Params& p, const int8_t* x, int8_t* h) {
  int32_t aw[128], au[128], tmp[128];
  int8_t v[128], hn[128];
  const int D = p.input_dim, H = p.units;
  auto matvec = [](const int8_t* w, const int8_t* in, int32_t zp, int rows, int cols, int32_t* out) {
    for (int r = 0; r < rows; ++r) {
      int32_t acc = 0;
      for (int i = 0; i < cols; ++i) acc += w[r * cols + i] * (in[i] - zp);
      out[r] = acc;
    }
  };
  auto path = [&](const int8_t* m1, const int8_t* m2, int rank, int32_t mult, int32_t sh, const int8_t* in,
                  int32_t zp, int cols, int32_t* out) {
    if (rank == 0) {
      matvec(m1, in, zp, H, cols, out);
      return;
    }
    matvec(m1, in, zp, rank, cols, tmp);
    for (int j = 0; j < rank; ++j) v[j] = static_cast<int8_t>(Sat8(Requant(tmp[j], mult, sh)));
    matvec(m2, v, 0, H, rank, out);
  };
  path(p.w1, p.w2, p.w_rank, p.v_multiplier, p.v_shift, x, p.input_zero_point, D, aw);
  path(p.u1, p.u2, p.u_rank, p.u_multiplier, p.u_shift, h, 0, H, au);
  for (int k = 0; k < H; ++k) {
    const int32_t pre = PreActivation(aw[k], au[k], p.pre_w_multiplier, p.pre_u_multiplier, p.pre_shift);
    const int64_t z = LutLookup(pre, p.bias_z[k], p.gate_lut);
    const int64_t c = LutLookup(pre, p.bias_h[k], p.update_lut);
    const int64_t a = RshiftRound(p.zeta_q15 * (32768 - z), 15) + p.nu_q15;
    const int64_t hc = RshiftRound(a * c, 15);
    const int64_t hz = RshiftRound(z * h[k], 7);
    hn[k] = static_cast<int8_t>(Sat8(RshiftRound(hc + hz, 8)));
  }
  memcpy(h, hn, static_cast<size_t>(H));
}

struct RandomModel {
  int8_t w1[128 * 40], w2[128 * 40], u1[128 * 128], u2[128 * 40];
  int32_t bias_z[128], bias_h[128];
  int16_t gate_lut[256], update_lut[256];
  Int8Params p;

  void Fill(int8_t* w, int n, int sparsity_pct) {
    for (int i = 0; i < n; ++i) w[i] = Rand(0, 99) < sparsity_pct ? 0 : static_cast<int8_t>(Rand(-127, 127));
  }
  // Random weights and scales chosen so that saturation happens sometimes but not always.
  void Make(int d, int h, int rw, int ru, int sparsity_pct) {
    p = Int8Params();
    p.input_dim = d;
    p.units = h;
    p.w_rank = rw;
    p.u_rank = ru;
    p.input_zero_point = Rand(-128, 127);
    Fill(w1, (rw ? rw : h) * d, sparsity_pct);
    Fill(u1, (ru ? ru : h) * h, sparsity_pct);
    p.w1 = w1;
    p.u1 = u1;
    if (rw) {
      Fill(w2, h * rw, sparsity_pct);
      p.w2 = w2;
      p.v_multiplier = Rand(1 << 30, INT32_MAX);
      p.v_shift = 44 - Rand(0, 20) / 10;  // ~ 1 / (d * 127 * 4)
    }
    if (ru) {
      Fill(u2, h * ru, sparsity_pct);
      p.u2 = u2;
      p.u_multiplier = Rand(1 << 30, INT32_MAX);
      p.u_shift = 42 - Rand(0, 20) / 10;
    }
    for (int k = 0; k < h; ++k) {
      bias_z[k] = Rand(-20000, 20000);
      bias_h[k] = Rand(-20000, 20000);
    }
    for (int i = 0; i < 256; ++i) {
      gate_lut[i] = static_cast<int16_t>(i * 128);  // in [0, 32640]
      update_lut[i] = static_cast<int16_t>((i - 128) * 256 + Rand(0, 255));
    }
    p.bias_z = bias_z;
    p.bias_h = bias_h;
    p.gate_lut = gate_lut;
    p.update_lut = update_lut;
    p.pre_w_multiplier = Rand(1 << 29, INT32_MAX);
    p.pre_u_multiplier = Rand(1 << 29, INT32_MAX);
    p.pre_shift = Rand(28, 40);
    p.zeta_q15 = Rand(0, 32767);
    p.nu_q15 = Rand(0, 32767);
  }
};

RandomModel g_model;

int CompareModel(int steps);

// Runs `steps` steps of a random model in window mode and step by step; compares with SpecStep.
int CompareRandom(int d, int h, int rw, int ru, int sparsity_pct, int steps) {
  g_model.Make(d, h, rw, ru, sparsity_pct);
  return CompareModel(steps);
}

// The same for g_model as it is.
int CompareModel(int steps) {
  const Int8Params& p = g_model.p;
  const int d = p.input_dim, h = p.units;
  int8_t x[8 * 128], h_spec[128], h_win[128], h_stream[128], seq[8 * 128], out[128];
  for (int i = 0; i < steps * d; ++i) x[i] = static_cast<int8_t>(Rand(-128, 127));
  for (int k = 0; k < h; ++k) h_spec[k] = h_win[k] = h_stream[k] = static_cast<int8_t>(Rand(-128, 127));
  int mismatches = 0;
  if (!RunModel(p, x, steps, h_win, seq, true)) return -1;
  for (int t = 0; t < steps; ++t) {
    SpecStep(p, x + t * d, h_spec);
    if (!RunModel(p, x + t * d, 1, h_stream, out, false)) return -1;
    for (int k = 0; k < h; ++k) {
      mismatches += (seq[t * h + k] != h_spec[k]) + (out[k] != h_spec[k]) + (h_stream[k] != h_spec[k]);
    }
  }
  for (int k = 0; k < h; ++k) mismatches += h_win[k] != h_spec[k];
  if (mismatches) {
    printf("  shape D=%d H=%d rw=%d ru=%d pre_shift=%d: %d mismatches\n", d, h, static_cast<int>(p.w_rank),
           static_cast<int>(p.u_rank), static_cast<int>(p.pre_shift), mismatches);
  }
  return mismatches;
}

TEST(RandomModelsMatchSpecAllTails) {
  // Shapes cover every column tail (in % 8) and row tail, full and low rank, dense and sparse.
  static const int kShapes[][5] = {
      {1, 1, 0, 0, 0},   {2, 3, 0, 0, 0},   {7, 5, 0, 0, 30},   {8, 8, 0, 0, 0},   {9, 13, 0, 0, 50},
      {15, 6, 3, 0, 0},  {16, 17, 0, 5, 0}, {17, 22, 5, 7, 40}, {32, 100, 16, 25, 0},
      {32, 100, 16, 25, 70}, {10, 31, 1, 1, 0}, {11, 12, 11, 12, 0}, {40, 64, 0, 0, 60},
      {3, 128, 2, 9, 0}, {33, 19, 6, 4, 20},
  };
  for (const auto& s : kShapes) EXPECT_EQ(CompareRandom(s[0], s[1], s[2], s[3], s[4], 4), 0);
}

TEST(EveryColumnCountAndSegmentShape) {
  // Input widths 1..41 (W full rank) and 1..70 (U full rank) reach every chunk/tail shape of the
  // blocked matvec, with one, two and three column segments.
  for (int d = 1; d <= 41; ++d) EXPECT_EQ(CompareRandom(d, 6, 0, 0, 10, 2), 0);
  for (int h = 1; h <= 70; h += 3) EXPECT_EQ(CompareRandom(3, h, 0, 0, 10, 2), 0);
}

TEST(EveryPreShiftAndExtremeBiases) {
  // Shifts below 32 (weights lifted by up to 2^8, or not liftable), exactly 32 and above; biases
  // at INT32_MAX / INT32_MIN make the LUT index saturate through sat32.
  for (int shift = 18; shift <= 44; ++shift) {
    g_model.Make(13, 10, 0, 3, 0);
    g_model.p.pre_shift = shift;
    EXPECT_EQ(CompareModel(3), 0);
    g_model.bias_z[0] = INT32_MAX;
    g_model.bias_h[1] = INT32_MAX - 100;
    g_model.bias_z[2] = INT32_MIN;
    g_model.bias_h[3] = INT32_MIN + 7;
    EXPECT_EQ(CompareModel(3), 0);
  }
}

TEST(StreamingEqualsWindowAndLastOutput) {
  g_model.Make(12, 20, 4, 6, 0);
  int8_t x[6 * 12], h_a[20], h_b[20], seq[6 * 20], last[20], out[20];
  for (int i = 0; i < 6 * 12; ++i) x[i] = static_cast<int8_t>(Rand(-128, 127));
  for (int k = 0; k < 20; ++k) h_a[k] = h_b[k] = static_cast<int8_t>(Rand(-128, 127));
  int8_t h_c[20];
  memcpy(h_c, h_a, sizeof(h_c));
  EXPECT_TRUE(RunModel(g_model.p, x, 6, h_a, seq, true));
  EXPECT_TRUE(RunModel(g_model.p, x, 6, h_b, last, false));
  EXPECT_TRUE(RunModel(g_model.p, x, 3, h_c, out, false));          // split window: 3 + 3
  EXPECT_TRUE(RunModel(g_model.p, x + 3 * 12, 3, h_c, out, false));
  for (int k = 0; k < 20; ++k) {
    EXPECT_EQ(last[k], seq[5 * 20 + k]);
    EXPECT_EQ(h_b[k], h_a[k]);
    EXPECT_EQ(out[k], h_a[k]);
  }
}

TEST(ValidateNamesTheProblem) {
  static const int8_t w[4] = {1, 2, 3, 4};
  static const int8_t bad[4] = {1, -128, 3, 4};
  static const int32_t b[2] = {0, 0};
  int16_t lut[256];
  for (int i = 0; i < 256; ++i) lut[i] = 0;
  Int8Params p;
  p.input_dim = 2;
  p.units = 2;
  p.w1 = w;
  p.u1 = w;
  p.bias_z = b;
  p.bias_h = b;
  p.gate_lut = lut;
  p.update_lut = lut;
  p.pre_w_multiplier = p.pre_u_multiplier = 1 << 30;
  p.pre_shift = 31;
  EXPECT_TRUE(fastgrnn::Validate(p) == nullptr);

  Int8Params q = p;
  q.units = 0;
  EXPECT_CONTAINS(fastgrnn::Validate(q), "units");
  q = p;
  q.w_rank = 1;
  EXPECT_CONTAINS(fastgrnn::Validate(q), "w2 is missing");
  q = p;
  q.u2 = w;
  EXPECT_CONTAINS(fastgrnn::Validate(q), "u2 must be absent");
  q = p;
  q.input_zero_point = 128;
  EXPECT_CONTAINS(fastgrnn::Validate(q), "input_zero_point");
  q = p;
  q.pre_shift = 0;
  EXPECT_CONTAINS(fastgrnn::Validate(q), "pre_shift");
  q = p;
  q.w_rank = 1;
  q.w2 = w;
  q.v_shift = 63;
  q.v_multiplier = 1;
  EXPECT_CONTAINS(fastgrnn::Validate(q), "v_shift");
  q = p;
  q.nu_q15 = 32768;
  EXPECT_CONTAINS(fastgrnn::Validate(q), "nu_q15");
  q = p;
  q.u1 = bad;
  EXPECT_CONTAINS(fastgrnn::Validate(q), "U holds -128");
  q = p;
  int16_t neg[256];
  for (int i = 0; i < 256; ++i) neg[i] = static_cast<int16_t>(i == 7 ? -1 : 0);
  q.gate_lut = neg;
  EXPECT_CONTAINS(fastgrnn::Validate(q), "gate_lut");
  q = p;
  q.bias_h = nullptr;
  EXPECT_CONTAINS(fastgrnn::Validate(q), "bias");
}

TEST(MacsPerStepGoogle12) {
  Int8Params p;
  p.input_dim = 32;
  p.units = 100;
  p.w_rank = 16;
  p.u_rank = 25;
  EXPECT_EQ(fastgrnn::MacsPerStep(p), 32 * 16 + 16 * 100 + 100 * 25 + 25 * 100);
  p.w_rank = 0;
  p.u_rank = 0;
  EXPECT_EQ(fastgrnn::MacsPerStep(p), 32 * 100 + 100 * 100);
}

// ---- bitmap-sparse weights (spec "Sparse-stored weights") ----

// The bitmap and row-major non-zero values of a dense [rows, cols] matrix, as the exporter writes them.
int Compress(const int8_t* dense, int rows, int cols, uint8_t* bitmap, int8_t* values) {
  const int n = rows * cols;
  for (int b = 0; b < (n + 7) / 8; ++b) bitmap[b] = 0;
  int nnz = 0;
  for (int i = 0; i < n; ++i) {
    if (dense[i] != 0) {
      bitmap[i / 8] = static_cast<uint8_t>(bitmap[i / 8] | (1u << (i % 8)));
      values[nnz++] = dense[i];
    }
  }
  return nnz;
}

TEST(BitmapSparseExpandsRowMajorLsbFirst) {
  // [3, 4] = 12 elements: byte 0 holds elements 0-7 (bit 0 = element 0), byte 1 elements 8-11 + 4 padding bits.
  static const int8_t want[12] = {0, 5, 0, 0,  //
                                  -7, 0, 0, 127,  //
                                  0, 0, -127, 1};
  static const uint8_t bitmap[2] = {0x92, 0x0C};  // bits 1, 4, 7 | bits 10, 11 (2, 3 of byte 1)
  static const int8_t values[5] = {5, -7, 127, -127, 1};
  EXPECT_EQ(fastgrnn::BitmapBytes(3, 4), 2);
  EXPECT_TRUE(fastgrnn::CheckBitmapSparse(bitmap, 2, 3, 4, 5) == nullptr);
  int8_t dense[12];
  memset(dense, 0x55, sizeof(dense));
  fastgrnn::ExpandBitmapSparse(values, bitmap, 3, 4, dense);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(dense[i], want[i]);
}

TEST(BitmapSparseRoundTripsRandomMatrices) {
  // Sizes with and without padding, densities from one value to full.
  static const int kShapes[][2] = {{1, 1}, {1, 8}, {3, 5}, {16, 32}, {100, 25}, {25, 100}, {7, 9}};
  static int8_t dense[100 * 25], back[100 * 25 + 1], values[100 * 25];
  static uint8_t bitmap[(100 * 25 + 7) / 8];
  int cases = 0;
  for (const auto& shape : kShapes) {
    const int rows = shape[0], cols = shape[1], n = rows * cols;
    static const int kKeptPct[] = {0, 30, 70, 100};  // percentage of elements kept
    for (int pct : kKeptPct) {
      for (int i = 0; i < n; ++i) {
        dense[i] = Rand(0, 99) < pct ? static_cast<int8_t>(Rand(1, 127) * (Rand(0, 1) ? 1 : -1)) : 0;
      }
      dense[Rand(0, n - 1)] = -3;  // nnz >= 1
      const int nnz = Compress(dense, rows, cols, bitmap, values);
      EXPECT_EQ(fastgrnn::BitmapBytes(rows, cols), (n + 7) / 8);
      EXPECT_TRUE(fastgrnn::CheckBitmapSparse(bitmap, (n + 7) / 8, rows, cols, nnz) == nullptr);
      memset(back, 0x55, sizeof(back));
      fastgrnn::ExpandBitmapSparse(values, bitmap, rows, cols, back);
      EXPECT_EQ(memcmp(back, dense, static_cast<size_t>(n)), 0);
      EXPECT_EQ(back[n], 0x55);  // nothing written past rows * cols
      ++cases;
    }
  }
  EXPECT_EQ(cases, 28);
}

TEST(BitmapSparseRejectsMalformed) {
  // [3, 5]: 15 elements, 2 bytes, bit 7 of byte 1 is padding.
  uint8_t bitmap[3] = {0x21, 0x41, 0xFF};  // elements 0, 5, 8, 14: nnz 4
  EXPECT_TRUE(fastgrnn::CheckBitmapSparse(bitmap, 2, 3, 5, 4) == nullptr);
  EXPECT_CONTAINS(fastgrnn::CheckBitmapSparse(bitmap, 3, 3, 5, 4), "ceil(rows * cols / 8) bytes");
  EXPECT_CONTAINS(fastgrnn::CheckBitmapSparse(bitmap, 1, 3, 5, 4), "ceil(rows * cols / 8) bytes");
  EXPECT_CONTAINS(fastgrnn::CheckBitmapSparse(bitmap, 2, 3, 5, 3), "set bitmap bits differs");
  EXPECT_CONTAINS(fastgrnn::CheckBitmapSparse(bitmap, 2, 3, 5, 5), "set bitmap bits differs");
  EXPECT_CONTAINS(fastgrnn::CheckBitmapSparse(bitmap, 2, 0, 5, 4), "shape must be positive");
  EXPECT_CONTAINS(fastgrnn::CheckBitmapSparse(nullptr, 2, 3, 5, 4), "bitmap data is missing");
  bitmap[1] = 0xC1;  // the padding bit too
  EXPECT_CONTAINS(fastgrnn::CheckBitmapSparse(bitmap, 2, 3, 5, 5), "padding bits");
  const uint8_t empty[2] = {0, 0};
  EXPECT_CONTAINS(fastgrnn::CheckBitmapSparse(empty, 2, 3, 5, 0), "nnz >= 1");
  // No padding when rows * cols is a multiple of 8: every bit of the last byte is an element.
  const uint8_t full[2] = {0xFF, 0xFF};
  EXPECT_TRUE(fastgrnn::CheckBitmapSparse(full, 2, 2, 8, 16) == nullptr);
}

TEST(SparseExpandedModelRunsLikeTheDenseOne) {
  // A pruned low-rank model expanded from sparse storage gives the same outputs as the dense original.
  g_model.Make(10, 12, 4, 5, 70);
  const Int8Params dense_p = g_model.p;
  static int8_t x[3 * 10];
  for (auto& v : x) v = static_cast<int8_t>(Rand(-128, 127));
  static int8_t values[4][12 * 12], expanded[4][12 * 12];
  static uint8_t bitmaps[4][(12 * 12 + 7) / 8];
  const int8_t* mats[4] = {dense_p.w1, dense_p.w2, dense_p.u1, dense_p.u2};
  const int shapes[4][2] = {{4, 10}, {12, 4}, {5, 12}, {12, 5}};
  for (int k = 0; k < 4; ++k) {
    const int nnz = Compress(mats[k], shapes[k][0], shapes[k][1], bitmaps[k], values[k]);
    EXPECT_TRUE(nnz < shapes[k][0] * shapes[k][1]);
    EXPECT_TRUE(fastgrnn::CheckBitmapSparse(bitmaps[k], fastgrnn::BitmapBytes(shapes[k][0], shapes[k][1]),
                                            shapes[k][0], shapes[k][1], nnz) == nullptr);
    fastgrnn::ExpandBitmapSparse(values[k], bitmaps[k], shapes[k][0], shapes[k][1], expanded[k]);
  }
  Int8Params sparse_p = dense_p;
  sparse_p.w1 = expanded[0];
  sparse_p.w2 = expanded[1];
  sparse_p.u1 = expanded[2];
  sparse_p.u2 = expanded[3];
  int8_t h_a[12] = {0}, h_b[12] = {0}, out_a[3 * 12], out_b[3 * 12];
  EXPECT_TRUE(RunModel(dense_p, x, 3, h_a, out_a, true));
  EXPECT_TRUE(RunModel(sparse_p, x, 3, h_b, out_b, true));
  EXPECT_EQ(memcmp(out_a, out_b, sizeof(out_a)), 0);
  EXPECT_EQ(memcmp(h_a, h_b, sizeof(h_a)), 0);
}

}  // namespace

int main() {
  printf("fastgrnn_int8_test: implementation %s\n", fastgrnn::ImplementationName());
  RUN_TEST(RequantRoundsHalfUp);
  RUN_TEST(RequantLargeShiftAndMultiplier);
  RUN_TEST(RshiftRoundHalfUp);
  RUN_TEST(Sat8Clamps);
  RUN_TEST(PreActivationOneRoundingAndSaturation);
  RUN_TEST(LutIndexRoundsAndSaturates);
  RUN_TEST(StateUpdateTwoUnits);
  RUN_TEST(FullRankMatVecSubtractsZeroPoint);
  RUN_TEST(ZeroPointExtremesUseInt16Range);
  RUN_TEST(UPathUsesPreviousState);
  RUN_TEST(LowRankIntermediateRoundsAndSaturates);
  RUN_TEST(LowRankUPath);
  RUN_TEST(StateSaturatesAt127);
  RUN_TEST(RandomModelsMatchSpecAllTails);
  RUN_TEST(EveryColumnCountAndSegmentShape);
  RUN_TEST(EveryPreShiftAndExtremeBiases);
  RUN_TEST(StreamingEqualsWindowAndLastOutput);
  RUN_TEST(ValidateNamesTheProblem);
  RUN_TEST(MacsPerStepGoogle12);
  RUN_TEST(BitmapSparseExpandsRowMajorLsbFirst);
  RUN_TEST(BitmapSparseRoundTripsRandomMatrices);
  RUN_TEST(BitmapSparseRejectsMalformed);
  RUN_TEST(SparseExpandedModelRunsLikeTheDenseOne);
  return TestSummary("fastgrnn_int8_test");
}
