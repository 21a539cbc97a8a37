// Hand-made score streams with known answers (no file I/O: runs on the host and under QEMU).
#include "detector.h"

#include <cstdint>

#include "../common/test_macros.h"

namespace {

// Feeds `frames` rows of `classes` scores; records up to `max_out` detections, returns the count.
int Replay(kws::Detector* det, const uint8_t* scores, int frames, int classes, kws::Detection* out,
           int max_out) {
  int n = 0;
  for (int t = 0; t < frames; ++t) {
    kws::Detection d;
    if (det->Push(scores + t * classes, &d) && n < max_out) out[n++] = d;
  }
  return n;
}

kws::DetectorConfig OneKeyword(int32_t window, int32_t threshold, int32_t refractory) {
  kws::DetectorConfig cfg;
  cfg.window_frames = window;
  cfg.threshold = threshold;
  cfg.refractory_frames = refractory;
  cfg.num_keywords = 1;
  cfg.keywords[0] = 1;
  return cfg;
}

}  // namespace

TEST(ThresholdEqualityFires) {
  // N=3, threshold 100: the sum must reach exactly 300.
  kws::Detector det;
  EXPECT_TRUE(det.Init(OneKeyword(3, 100, 0), 2) == nullptr);
  const uint8_t s[] = {0, 100, 0, 100, 0, 99, 0, 101};  // sums: 100, 200, 299, 300
  kws::Detection out[4];
  const int n = Replay(&det, s, 4, 2, out, 4);
  EXPECT_EQ(n, 1);
  EXPECT_EQ(out[0].frame, 3);
  EXPECT_EQ(out[0].class_index, 1);
  EXPECT_EQ(out[0].score, 100);
}

TEST(OneBelowThresholdDoesNotFire) {
  kws::Detector det;
  EXPECT_TRUE(det.Init(OneKeyword(2, 200, 0), 2) == nullptr);
  const uint8_t s[] = {0, 200, 0, 199, 0, 200, 0, 199};  // sums stay at 399
  kws::Detection out[4];
  EXPECT_EQ(Replay(&det, s, 4, 2, out, 4), 0);
}

TEST(MinFramesDefaultsToWindow) {
  // Threshold 0 fires on every eligible frame; refractory 0. First eligible frame is N-1.
  kws::Detector det;
  EXPECT_TRUE(det.Init(OneKeyword(4, 0, 0), 2) == nullptr);
  const uint8_t s[12] = {0};
  kws::Detection out[6];
  const int n = Replay(&det, s, 6, 2, out, 6);
  EXPECT_EQ(n, 3);
  EXPECT_EQ(out[0].frame, 3);
  EXPECT_EQ(out[2].frame, 5);
}

TEST(ExplicitMinFrames) {
  kws::DetectorConfig cfg = OneKeyword(4, 0, 0);
  cfg.min_frames = 1;
  kws::Detector det;
  EXPECT_TRUE(det.Init(cfg, 2) == nullptr);
  const uint8_t s[4] = {0};
  kws::Detection out[2];
  EXPECT_EQ(Replay(&det, s, 2, 2, out, 2), 2);
  EXPECT_EQ(out[0].frame, 0);
}

TEST(PartialWindowSumsOnlySeenFrames) {
  // min_frames 1, N = 4, threshold 50: needs sum >= 200; one 255 in the first frame is enough.
  kws::DetectorConfig cfg = OneKeyword(4, 50, 100);
  cfg.min_frames = 1;
  kws::Detector det;
  EXPECT_TRUE(det.Init(cfg, 2) == nullptr);
  const uint8_t s[] = {0, 255};
  kws::Detection d;
  EXPECT_TRUE(det.Push(s, &d));
  EXPECT_EQ(d.frame, 0);
  EXPECT_EQ(d.score, 63);  // 255 / 4, floor
}

TEST(RefractoryExactlyR) {
  // Always above threshold; R = 3: detections at 1, 4, 7 (t - t_last >= 3).
  kws::Detector det;
  EXPECT_TRUE(det.Init(OneKeyword(2, 10, 3), 2) == nullptr);
  uint8_t s[16];
  for (int i = 0; i < 16; ++i) s[i] = 255;
  kws::Detection out[8];
  const int n = Replay(&det, s, 8, 2, out, 8);
  EXPECT_EQ(n, 3);
  EXPECT_EQ(out[0].frame, 1);
  EXPECT_EQ(out[1].frame, 4);
  EXPECT_EQ(out[2].frame, 7);
}

TEST(RefractoryIsAcrossKeywords) {
  kws::DetectorConfig cfg;
  cfg.window_frames = 1;
  cfg.threshold = 100;
  cfg.refractory_frames = 2;
  cfg.num_keywords = 2;
  cfg.keywords[0] = 1;
  cfg.keywords[1] = 2;
  kws::Detector det;
  EXPECT_TRUE(det.Init(cfg, 3) == nullptr);
  // frame 0: kw1 fires; frame 1: kw2 high but refractory; frame 2: kw2 fires.
  const uint8_t s[] = {0, 200, 0, 0, 0, 200, 0, 0, 200};
  kws::Detection out[3];
  const int n = Replay(&det, s, 3, 3, out, 3);
  EXPECT_EQ(n, 2);
  EXPECT_EQ(out[0].class_index, 1);
  EXPECT_EQ(out[1].frame, 2);
  EXPECT_EQ(out[1].class_index, 2);
}

TEST(LargestSumWins) {
  kws::DetectorConfig cfg;
  cfg.window_frames = 2;
  cfg.threshold = 100;
  cfg.refractory_frames = 0;
  cfg.num_keywords = 2;
  cfg.keywords[0] = 1;
  cfg.keywords[1] = 2;
  kws::Detector det;
  EXPECT_TRUE(det.Init(cfg, 3) == nullptr);
  const uint8_t s[] = {0, 150, 100, 0, 100, 160};  // sums: kw1 250, kw2 260
  kws::Detection out[2];
  EXPECT_EQ(Replay(&det, s, 2, 3, out, 2), 1);
  EXPECT_EQ(out[0].class_index, 2);
  EXPECT_EQ(out[0].score, 130);
}

TEST(TieGoesToLowestClassIndex) {
  // Keywords listed out of class order: the tie still goes to class 1.
  kws::DetectorConfig cfg;
  cfg.window_frames = 1;
  cfg.threshold = 100;
  cfg.refractory_frames = 0;
  cfg.num_keywords = 2;
  cfg.keywords[0] = 3;
  cfg.keywords[1] = 1;
  kws::Detector det;
  EXPECT_TRUE(det.Init(cfg, 4) == nullptr);
  const uint8_t s[] = {0, 180, 0, 180};
  kws::Detection d;
  EXPECT_TRUE(det.Push(s, &d));
  EXPECT_EQ(d.class_index, 1);
}

TEST(NonKeywordClassesIgnored) {
  kws::Detector det;
  EXPECT_TRUE(det.Init(OneKeyword(1, 10, 0), 3) == nullptr);
  const uint8_t s[] = {255, 0, 255};
  kws::Detection d;
  EXPECT_FALSE(det.Push(s, &d));
}

TEST(ResetForgetsHistory) {
  kws::Detector det;
  EXPECT_TRUE(det.Init(OneKeyword(2, 100, 50), 2) == nullptr);
  const uint8_t hi[] = {0, 255};
  kws::Detection d;
  EXPECT_FALSE(det.Push(hi, &d));
  EXPECT_TRUE(det.Push(hi, &d));
  det.Reset();
  EXPECT_EQ(det.frames_seen(), 0);
  EXPECT_FALSE(det.Push(hi, &d));  // min_frames again, ring cleared
  EXPECT_TRUE(det.Push(hi, &d));   // refractory forgotten
  EXPECT_EQ(d.frame, 1);
}

TEST(RejectsBadConfig) {
  kws::DetectorConfig cfg = OneKeyword(30, 160, 100);
  kws::Detector det;
  cfg.window_frames = 0;
  EXPECT_CONTAINS(det.Init(cfg, 2), "window_frames");
  cfg.window_frames = kws::kMaxWindowFrames + 1;
  EXPECT_CONTAINS(det.Init(cfg, 2), "window_frames");
  cfg = OneKeyword(30, 256, 100);
  EXPECT_CONTAINS(det.Init(cfg, 2), "threshold");
  cfg = OneKeyword(30, 160, -1);
  EXPECT_CONTAINS(det.Init(cfg, 2), "refractory");
  cfg = OneKeyword(30, 160, 100);
  cfg.keywords[0] = 2;
  EXPECT_CONTAINS(det.Init(cfg, 2), "out of range");
  cfg.num_keywords = 0;
  EXPECT_CONTAINS(det.Init(cfg, 2), "num_keywords");
  cfg.num_keywords = 2;
  cfg.keywords[0] = 1;
  cfg.keywords[1] = 1;
  EXPECT_CONTAINS(det.Init(cfg, 2), "duplicate");
  cfg = OneKeyword(30, 160, 100);
  cfg.min_frames = -2;
  EXPECT_CONTAINS(det.Init(cfg, 2), "min_frames");
}

int main() {
  RUN_TEST(ThresholdEqualityFires);
  RUN_TEST(OneBelowThresholdDoesNotFire);
  RUN_TEST(MinFramesDefaultsToWindow);
  RUN_TEST(ExplicitMinFrames);
  RUN_TEST(PartialWindowSumsOnlySeenFrames);
  RUN_TEST(RefractoryExactlyR);
  RUN_TEST(RefractoryIsAcrossKeywords);
  RUN_TEST(LargestSumWins);
  RUN_TEST(TieGoesToLowestClassIndex);
  RUN_TEST(NonKeywordClassesIgnored);
  RUN_TEST(ResetForgetsHistory);
  RUN_TEST(RejectsBadConfig);
  return TestSummary("detector_test");
}
