// Host tests of the sketch's TFLM-independent glue (ctest; also fine under QEMU).
#include <cstdint>

#include "../../common/test_macros.h"
#include "../../head/head.h"
#include "../../pipeline/pipeline.h"
#include "wakeword_glue.h"

TEST(RingReturnsSamplesInOrderAcrossWrapAround) {
  wakeword::SampleRing<8> ring;
  int16_t in[5], out[8];
  int16_t next_in = 0, next_out = 0;
  for (int round = 0; round < 7; ++round) {  // 35 samples through an 8-slot ring
    for (int i = 0; i < 5; ++i) in[i] = next_in++;
    EXPECT_EQ(ring.Write(in, 5), 5u);
    EXPECT_EQ(ring.Available(), 5u);
    const uint32_t n = ring.Read(out, 8);
    EXPECT_EQ(n, 5u);
    for (uint32_t i = 0; i < n; ++i) EXPECT_EQ(out[i], next_out++);
  }
  EXPECT_EQ(ring.dropped(), 0u);
}

TEST(RingDropsNewSamplesWhenFull) {
  wakeword::SampleRing<4> ring;
  const int16_t in[6] = {1, 2, 3, 4, 5, 6};
  EXPECT_EQ(ring.Write(in, 6), 4u);
  EXPECT_EQ(ring.dropped(), 2u);
  int16_t out[6] = {0};
  EXPECT_EQ(ring.Read(out, 2), 2u);
  EXPECT_EQ(out[0], 1);
  EXPECT_EQ(out[1], 2);
  EXPECT_EQ(ring.Write(in + 4, 2), 2u);  // room for two again
  EXPECT_EQ(ring.Read(out, 6), 4u);
  EXPECT_EQ(out[0], 3);
  EXPECT_EQ(out[3], 6);
  EXPECT_EQ(ring.Read(out, 6), 0u);
}

TEST(SoftmaxOutputIsRecognisedByItsFixedQuantization) {
  EXPECT_TRUE(wakeword::IsSoftmaxOutput(1.0f / 256.0f, -128));
  EXPECT_FALSE(wakeword::IsSoftmaxOutput(1.0f / 256.0f, 0));
  EXPECT_FALSE(wakeword::IsSoftmaxOutput(0.1f, -128));
}

TEST(SoftmaxOutputMapsToScores) {
  // q = -128 -> p 0 -> 0; q = 127 -> p 255/256 -> floor(254.00390625 + 0.5) = 254;
  // q = 0 -> p 0.5 -> floor(128.0) = 128; q = -1 -> p 127/256 -> floor(126.50390625 + 0.5) = 127.
  const int8_t out[4] = {-128, 127, 0, -1};
  uint8_t scores[4] = {9, 9, 9, 9};
  wakeword::OutputScores(out, 4, 1.0f / 256.0f, -128, scores);
  EXPECT_EQ(scores[0], 0);
  EXPECT_EQ(scores[1], 254);
  EXPECT_EQ(scores[2], 128);
  EXPECT_EQ(scores[3], 127);
}

TEST(LogitOutputUsesTheSpecSoftmax) {
  const int8_t logits[3] = {10, -20, 3};
  uint8_t got[3], want[3];
  wakeword::OutputScores(logits, 3, 0.25f, 2, got);
  head::Scores(logits, 3, 0.25f, 2, want);
  for (int c = 0; c < 3; ++c) EXPECT_EQ(got[c], want[c]);
  // Equal logits -> equal thirds: floor(85 + 0.5) = 85.
  const int8_t flat[3] = {7, 7, 7};
  wakeword::OutputScores(flat, 3, 0.5f, 0, got);
  for (int c = 0; c < 3; ++c) EXPECT_EQ(got[c], 85);
}

// A fake interpreter: output = softmax-quantized "probabilities" where class 1 gets input[0] + 128
// (so loud frames vote for class 1); every fifth Invoke fails.
struct FakeInterpreter {
  int8_t input[32] = {0};
  int8_t output[3] = {0};
  int invokes = 0;
  int resets = 0;
  static bool Invoke(void* user) {
    FakeInterpreter* f = static_cast<FakeInterpreter*>(user);
    if (++f->invokes % 5 == 0) return false;
    const int p1 = f->input[0] + 128;  // 0..255 of 256
    f->output[1] = static_cast<int8_t>(p1 - 128);
    f->output[0] = static_cast<int8_t>(255 - p1 - 128);
    f->output[2] = -128;
    return true;
  }
  static bool Reset(void* user) {
    static_cast<FakeInterpreter*>(user)->resets++;
    return true;
  }
};

TEST(TheInterpreterIsThePipelinesModelStage) {
  static FakeInterpreter interp;
  static kws::FramePipeline<wakeword::InterpreterModel> pipe;
  EXPECT_TRUE(pipe.model().Init(interp.input, 32, interp.output, 3, 1.0f / 256.0f, -128, &FakeInterpreter::Invoke,
                                &FakeInterpreter::Reset, &interp) == nullptr);
  kws::DetectorConfig dc;
  dc.window_frames = 3;
  dc.threshold = 200;
  dc.refractory_frames = 5;
  dc.num_keywords = 1;
  dc.keywords[0] = 1;
  EXPECT_TRUE(pipe.Init(nullptr, dc) == nullptr);
  EXPECT_EQ(interp.resets, 1);  // Init starts a new stream: the FastGRNN state is reset
  int ok = 0, failed = 0, detections = 0;
  int8_t features[32] = {0};
  for (int f = 0; f < 20; ++f) {
    features[0] = static_cast<int8_t>(f < 10 ? -100 : 120);
    pipe.Frame(features, [&](const kws::FrameResult& r) {
      if (!r.ok) {
        ++failed;
        return;
      }
      ++ok;
      EXPECT_EQ(interp.input[0], features[0]);  // the frame reached the interpreter's input
      EXPECT_EQ(r.scores[1], (255 * (features[0] + 128) + 128) / 256);  // softmax output -> score
      if (r.detected) {
        ++detections;
        EXPECT_EQ(r.detection.class_index, 1);
        EXPECT_TRUE(r.frame >= 10);
      }
    });
  }
  EXPECT_EQ(failed, 4);
  EXPECT_EQ(ok, 16);
  EXPECT_EQ(pipe.detector().frames_seen(), 16);  // failed frames skip the detector
  EXPECT_EQ(detections, 2);                      // frames 12 and 18 (refractory 5, frame 14 failed)
  EXPECT_CONTAINS(pipe.model().Init(nullptr, 32, interp.output, 3, 1.0f, 0, &FakeInterpreter::Invoke, nullptr,
                                    &interp), "missing");
}

int main() {
  RUN_TEST(RingReturnsSamplesInOrderAcrossWrapAround);
  RUN_TEST(RingDropsNewSamplesWhenFull);
  RUN_TEST(SoftmaxOutputIsRecognisedByItsFixedQuantization);
  RUN_TEST(SoftmaxOutputMapsToScores);
  RUN_TEST(LogitOutputUsesTheSpecSoftmax);
  RUN_TEST(TheInterpreterIsThePipelinesModelStage);
  return TestSummary("wakeword_glue_test");
}
