// Hand-checked values of the TFLite fixed-point helpers, one FC layer, layer chaining and scores.
#include "head.h"

#include <cstdint>
#include <limits>

#include "../common/test_macros.h"

namespace {
constexpr int32_t kMin = std::numeric_limits<int32_t>::min();
constexpr int32_t kMax = std::numeric_limits<int32_t>::max();
constexpr int32_t kHalf = 1 << 30;  // 0.5 in Q31
}  // namespace

TEST(DoublingHighMulRoundsHalfUpAndSaturates) {
  EXPECT_EQ(head::SaturatingRoundingDoublingHighMul(kMin, kMin), kMax);       // the only overflow
  EXPECT_EQ(head::SaturatingRoundingDoublingHighMul(kHalf, kHalf), 1 << 29);  // 0.5 * 0.5
  EXPECT_EQ(head::SaturatingRoundingDoublingHighMul(1, kHalf), 1);            // +0.5 -> 1
  EXPECT_EQ(head::SaturatingRoundingDoublingHighMul(-1, kHalf), 0);           // -0.5 -> 0
  EXPECT_EQ(head::SaturatingRoundingDoublingHighMul(3, kHalf), 2);            // 1.5 -> 2
  EXPECT_EQ(head::SaturatingRoundingDoublingHighMul(-3, kHalf), -1);          // -1.5 -> -1
  EXPECT_EQ(head::SaturatingRoundingDoublingHighMul(kMin, kHalf), kMin / 2);
  EXPECT_EQ(head::SaturatingRoundingDoublingHighMul(kMax, kMax), kMax - 1);
}

TEST(RoundingDivideByPotRoundsHalfAwayFromZero) {
  EXPECT_EQ(head::RoundingDivideByPOT(5, 1), 3);    // 2.5
  EXPECT_EQ(head::RoundingDivideByPOT(-5, 1), -3);  // -2.5
  EXPECT_EQ(head::RoundingDivideByPOT(-3, 1), -2);  // -1.5
  EXPECT_EQ(head::RoundingDivideByPOT(7, 2), 2);    // 1.75
  EXPECT_EQ(head::RoundingDivideByPOT(6, 2), 2);    // 1.5
  EXPECT_EQ(head::RoundingDivideByPOT(-6, 2), -2);  // -1.5
  EXPECT_EQ(head::RoundingDivideByPOT(-5, 2), -1);  // -1.25
  EXPECT_EQ(head::RoundingDivideByPOT(-7, 2), -2);  // -1.75
  EXPECT_EQ(head::RoundingDivideByPOT(123, 0), 123);
  EXPECT_EQ(head::RoundingDivideByPOT(kMax, 31), 1);
  EXPECT_EQ(head::RoundingDivideByPOT(kMin, 31), -1);
}

TEST(MultiplyByQuantizedMultiplierShifts) {
  EXPECT_EQ(head::MultiplyByQuantizedMultiplier(100, kHalf, 0), 50);
  EXPECT_EQ(head::MultiplyByQuantizedMultiplier(3, kHalf, 1), 3);      // left shift first
  EXPECT_EQ(head::MultiplyByQuantizedMultiplier(100, kHalf, -2), 13);  // 12.5 -> 13
  EXPECT_EQ(head::MultiplyByQuantizedMultiplier(-100, kHalf, -2), -13);  // -12.5 -> -13
  // Double rounding: 1 * 0.75 -> 1 (SRDHM), then / 2 -> 0.5 -> 1 although 0.375 rounds to 0.
  EXPECT_EQ(head::MultiplyByQuantizedMultiplier(1, 3 << 29, -1), 1);
  // 1.5 * 2^-4 of 1000 = 93.75 -> 94.
  EXPECT_EQ(head::MultiplyByQuantizedMultiplier(1000, 3 << 29, -3), 94);
}

TEST(FullyConnectedHandComputed) {
  const int8_t w[] = {1, 2, -3, 4};
  const int32_t bias[] = {10, -5};
  head::FcLayer l;
  l.input_size = 2;
  l.output_size = 2;
  l.weights = w;
  l.bias = bias;
  l.input_zero_point = 1;
  l.output_zero_point = -3;
  l.output_multiplier = kHalf;
  l.output_shift = 0;
  const int8_t x[] = {3, -2};  // (2, -3) after the zero point
  int8_t y[2];
  head::FullyConnected(l, x, y);
  EXPECT_EQ(y[0], 0);    // acc 6 -> 3 -> 0
  EXPECT_EQ(y[1], -14);  // acc -23 -> -11.5 -> -11 -> -14
  l.relu = true;
  head::FullyConnected(l, x, y);
  EXPECT_EQ(y[0], 0);
  EXPECT_EQ(y[1], -3);  // clamped at the output zero point
}

TEST(FullyConnectedSaturatesAndAllowsNoBias) {
  const int8_t w[] = {127, 127, -127, -127};
  head::FcLayer l;
  l.input_size = 2;
  l.output_size = 2;
  l.weights = w;
  l.output_multiplier = kHalf;
  l.output_shift = 1;  // x1.0
  const int8_t x[] = {100, 100};
  int8_t y[2];
  head::FullyConnected(l, x, y);
  EXPECT_EQ(y[0], 127);
  EXPECT_EQ(y[1], -128);
}

TEST(RunChainsLayers) {
  // Layer 0: identity-ish 2 -> 2 with ReLU, layer 1: sum 2 -> 1.
  const int8_t w0[] = {2, 0, 0, 2};
  const int8_t w1[] = {1, 1};
  head::HeadParams p;
  p.num_layers = 2;
  p.layers[0].input_size = 2;
  p.layers[0].output_size = 2;
  p.layers[0].weights = w0;
  p.layers[0].output_multiplier = kHalf;
  p.layers[0].relu = true;
  p.layers[1].input_size = 2;
  p.layers[1].output_size = 1;
  p.layers[1].weights = w1;
  p.layers[1].output_multiplier = kHalf;
  p.layers[1].output_shift = 1;
  EXPECT_TRUE(head::Validate(p) == nullptr);
  const int8_t x[] = {5, -7};  // layer 0: (5, -7) -> ReLU (5, 0); layer 1: 5
  int8_t scratch[head::kScratchBytes];
  int8_t logits[1];
  head::Run(p, x, logits, scratch);
  EXPECT_EQ(logits[0], 5);
  p.layers[1].input_size = 3;
  EXPECT_CONTAINS(head::Validate(p), "previous layer");
}

TEST(ValidateRejects) {
  head::HeadParams p;
  EXPECT_CONTAINS(head::Validate(p), "num_layers");
  const int8_t w[] = {1};
  p.num_layers = 1;
  p.layers[0].input_size = 1;
  p.layers[0].output_size = 1;
  p.layers[0].weights = w;
  EXPECT_TRUE(head::Validate(p) == nullptr);
  p.logit_scale = 0.0f;
  EXPECT_CONTAINS(head::Validate(p), "logit_scale");
  p.logit_scale = 1.0f;
  p.layers[0].output_shift = 31;
  EXPECT_CONTAINS(head::Validate(p), "output_shift");
  p.layers[0].output_shift = 0;
  p.layers[0].input_zero_point = 128;
  EXPECT_CONTAINS(head::Validate(p), "zero point");
  p.layers[0].input_zero_point = 0;
  p.layers[0].weights = nullptr;
  EXPECT_CONTAINS(head::Validate(p), "weights");
}

TEST(ScoresAreRoundedPosteriors) {
  uint8_t s[4];
  const int8_t equal2[] = {7, 7};
  head::Scores(equal2, 2, 0.5f, 3, s);
  EXPECT_EQ(s[0], 128);  // 127.5 rounds up
  EXPECT_EQ(s[1], 128);
  const int8_t equal4[] = {-9, -9, -9, -9};
  head::Scores(equal4, 4, 0.25f, 0, s);
  EXPECT_EQ(s[0], 64);  // 63.75
  const int8_t dominant[] = {127, -128};
  head::Scores(dominant, 2, 1.0f, 0, s);
  EXPECT_EQ(s[0], 255);
  EXPECT_EQ(s[1], 0);
  // softmax of (ln 3, 0) = (0.75, 0.25): 191.25 -> 191, 63.75 -> 64. scale = ln(3) / 10.
  const int8_t three[] = {12, 2};
  head::Scores(three, 2, 0.10986123f, 2, s);
  EXPECT_EQ(s[0], 191);
  EXPECT_EQ(s[1], 64);
}

TEST(PairwiseSumFollowsNumpyOrder) {
  // 2^24 + 1 == 2^24 in float32: a sequential sum loses every 1, numpy's pairwise sum does not.
  float a[200];
  a[0] = 16777216.0f;
  for (int i = 1; i < 200; ++i) a[i] = 1.0f;
  EXPECT_EQ(static_cast<long long>(head::PairwiseSum(a, 7)), 16777216);   // < 8: sequential
  EXPECT_EQ(static_cast<long long>(head::PairwiseSum(a, 8)), 16777222);   // 8 accumulators
  EXPECT_EQ(static_cast<long long>(head::PairwiseSum(a, 12)), 16777224);  // + 4 sequential, ties to even
  EXPECT_EQ(static_cast<long long>(head::PairwiseSum(a, 200)), 16777404);  // split 96 + 104
}

namespace {
uint32_t g_rng = 12345u;
uint32_t Rand() {  // xorshift32: the same sequence on the host and under QEMU
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 17;
  g_rng ^= g_rng << 5;
  return g_rng;
}
int32_t RandIn(int32_t lo, int32_t hi) {
  return lo + static_cast<int32_t>(Rand() % static_cast<uint32_t>(hi - lo + 1));
}
}  // namespace

// The linked FullyConnected (head_cortex_m4.cc under tflm_app/m4, head_reference.cc on
// the host) against the TFLite reference on random layers: every size remainder mod 4 and mod the
// 4-row pass, extreme zero points and values, unaligned rows and inputs, ReLU, with and without bias.
TEST(FullyConnectedMatchesReferenceOnRandomLayers) {
  static int8_t w[1 + head::kMaxWidth * 24];
  static int8_t x[1 + head::kMaxWidth];
  static int32_t bias[24];
  int mismatches = 0;
  for (int t = 0; t < 300; ++t) {
    head::FcLayer l;
    l.input_size = t < 16 ? 1 + t : (t % 3 == 0 ? 100 : RandIn(1, head::kMaxWidth));
    l.output_size = t < 16 ? 1 + (t % 9) : RandIn(1, 24);
    const int align = t % 2;  // odd start address: unaligned word loads
    for (int i = 0; i < l.input_size * l.output_size; ++i) {
      w[align + i] = static_cast<int8_t>(t % 5 == 1 ? (i % 2 ? 127 : -128) : RandIn(-128, 127));
    }
    for (int i = 0; i < l.input_size; ++i) {
      x[align + i] = static_cast<int8_t>(t % 5 == 2 ? (i % 3 ? -128 : 127) : RandIn(-128, 127));
    }
    for (int o = 0; o < l.output_size; ++o) bias[o] = static_cast<int32_t>(Rand() >> (t % 4 == 0 ? 1 : 12)) - (1 << 18);
    l.weights = w + align;
    l.bias = t % 7 == 3 ? nullptr : bias;
    l.input_zero_point = t % 5 == 2 ? (t % 2 ? 127 : -128) : RandIn(-128, 127);
    l.output_zero_point = RandIn(-128, 127);
    l.output_multiplier = static_cast<int32_t>((1u << 30) | (Rand() >> 2));
    l.output_shift = t % 4 == 0 ? RandIn(-31, 2) : RandIn(-16, -6);
    l.relu = t % 3 == 1;
    int8_t got[24], want[24];
    head::FullyConnected(l, x + align, got);
    head::FullyConnectedReference(l, x + align, want);
    for (int o = 0; o < l.output_size; ++o) mismatches += got[o] != want[o];
  }
  EXPECT_EQ(mismatches, 0);
}

int main() {
  RUN_TEST(DoublingHighMulRoundsHalfUpAndSaturates);
  RUN_TEST(RoundingDivideByPotRoundsHalfAwayFromZero);
  RUN_TEST(MultiplyByQuantizedMultiplierShifts);
  RUN_TEST(FullyConnectedHandComputed);
  RUN_TEST(FullyConnectedSaturatesAndAllowsNoBias);
  RUN_TEST(RunChainsLayers);
  RUN_TEST(ValidateRejects);
  RUN_TEST(ScoresAreRoundedPosteriors);
  RUN_TEST(PairwiseSumFollowsNumpyOrder);
  RUN_TEST(FullyConnectedMatchesReferenceOnRandomLayers);
  return TestSummary("head_test");
}
