// Tests of the frame pipeline (host ctest and QEMU): chunked audio through kws::FramePipeline gives
// exactly the frames, scores and detections of the stages called one by one; Frame() skips the
// frontend; a failing model frame skips the detector; Init rejects models that do not chain.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "../common/test_macros.h"
#include "core_model.h"
#include "pipeline.h"

namespace {

constexpr int32_t kD = 32, kH = 16, kC = 4;
constexpr int32_t kSamples = 12000;  // 0.75 s: 73 frames

uint32_t g_seed = 12345;
int32_t Rand(int32_t lo, int32_t hi) {  // uniform in [lo, hi]
  g_seed = g_seed * 1664525u + 1013904223u;
  return lo + static_cast<int32_t>((g_seed >> 8) % static_cast<uint32_t>(hi - lo + 1));
}

// A small full-rank model with pseudo-random weights: valid, and its scores move with the audio.
struct TinyModel {
  int8_t w[kH * kD], u[kH * kH], head_w[kC * kH];
  int32_t bias_z[kH], bias_h[kH], head_b[kC];
  int16_t gate_lut[256], update_lut[256];
  fastgrnn::Int8Params p;
  head::HeadParams hp;

  TinyModel() {
    for (int8_t& v : w) v = static_cast<int8_t>(Rand(-40, 40));
    for (int8_t& v : u) v = static_cast<int8_t>(Rand(-40, 40));
    for (int8_t& v : head_w) v = static_cast<int8_t>(Rand(-60, 60));
    for (int32_t& v : bias_z) v = Rand(-2000, 2000);
    for (int32_t& v : bias_h) v = Rand(-2000, 2000);
    for (int32_t& v : head_b) v = Rand(-500, 500);
    for (int i = 0; i < 256; ++i) {
      const double x = (i - 128) / 16.0;
      gate_lut[i] = static_cast<int16_t>(std::lround(32767.0 / (1.0 + std::exp(-x))));
      update_lut[i] = static_cast<int16_t>(std::lround(32767.0 * std::tanh(x)));
    }
    p.input_dim = kD;
    p.units = kH;
    p.input_zero_point = -10;
    p.w1 = w;
    p.u1 = u;
    p.bias_z = bias_z;
    p.bias_h = bias_h;
    p.gate_lut = gate_lut;
    p.update_lut = update_lut;
    p.pre_w_multiplier = 1 << 30;
    p.pre_u_multiplier = 1 << 29;
    p.pre_shift = 12;
    p.zeta_q15 = 16384;
    p.nu_q15 = 1024;
    hp.num_layers = 1;
    head::FcLayer& l = hp.layers[0];
    l.input_size = kH;
    l.output_size = kC;
    l.weights = head_w;
    l.bias = head_b;
    l.output_multiplier = 1 << 30;
    l.output_shift = -5;
    hp.logit_scale = 0.02f;
  }
};

TinyModel& Model() {
  static TinyModel m;
  return m;
}

kws::DetectorConfig Detector() {
  kws::DetectorConfig c;
  c.window_frames = 4;
  c.threshold = 60;
  c.refractory_frames = 10;
  c.num_keywords = 2;
  c.keywords[0] = 1;
  c.keywords[1] = 3;
  return c;
}

// A chirp with pseudo-random noise and a loud middle, so the features move.
const int16_t* Audio() {
  static int16_t pcm[kSamples];
  static bool made = false;
  if (!made) {
    for (int32_t i = 0; i < kSamples; ++i) {
      const double t = i / 16000.0;
      const double amp = (i > 4000 && i < 8000) ? 12000.0 : 1500.0;
      pcm[i] = static_cast<int16_t>(amp * std::sin(2 * 3.14159265 * (200 + 2000 * t) * t) + Rand(-300, 300));
    }
    made = true;
  }
  return pcm;
}

constexpr int32_t kMaxFrames = 80;
struct Record {
  int32_t frames = 0;
  int8_t features[kMaxFrames][kD];
  uint8_t scores[kMaxFrames][kC];
  int32_t detections = 0;
  kws::Detection detection[kMaxFrames];
  void operator()(const kws::FrameResult& r) {
    if (frames >= kMaxFrames) return;
    memcpy(features[frames], r.features, kD);
    memcpy(scores[frames], r.scores, kC);
    EXPECT_EQ(r.frame, frames);
    if (r.detected) detection[detections++] = r.detection;
    ++frames;
  }
};

// The stages called one by one, as the four per-frame loops did before the pipeline.
void RunStagesByHand(Record* rec) {
  static frontend::Frontend fe;
  EXPECT_TRUE(fe.Init(frontend::Config()) == nullptr);
  static int8_t frames[kMaxFrames * kD];
  const size_t n = fe.Push(Audio(), kSamples, frames, kMaxFrames, nullptr);
  const fastgrnn::Int8Params& p = Model().p;
  static uint32_t prepared[1024], scratch[256];
  EXPECT_TRUE(fastgrnn::PreparedBytes(p) <= sizeof(prepared) && fastgrnn::ScratchBytes(p) <= sizeof(scratch));
  fastgrnn::PrepareWeights(p, prepared);
  int8_t h[kH] = {0}, out[kH], logits[kC], head_scratch[head::kScratchBytes];
  kws::Detector det;
  EXPECT_TRUE(det.Init(Detector(), kC) == nullptr);
  for (size_t f = 0; f < n; ++f) {
    kws::FrameResult r;
    uint8_t scores[kC];
    r.features = frames + f * kD;
    r.frame = static_cast<int32_t>(f);
    r.ok = true;
    fastgrnn::Run(p, prepared, r.features, 1, h, out, false, scratch);
    head::Run(Model().hp, h, logits, head_scratch);
    head::Scores(logits, kC, Model().hp.logit_scale, Model().hp.logit_zero_point, scores);
    r.scores = scores;
    r.detected = det.Push(scores, &r.detection);
    (*rec)(r);
  }
}

kws::FramePipeline<kws::CoreModel>& CorePipeline() {
  static kws::FramePipeline<kws::CoreModel> pipe;
  static uint32_t prepared[1024], scratch[256];
  static bool ready = false;
  if (!ready) {
    EXPECT_TRUE(pipe.model().Init(Model().p, Model().hp, prepared, sizeof(prepared), scratch, sizeof(scratch)) ==
                nullptr);
    const frontend::Config fc;
    EXPECT_TRUE(pipe.Init(&fc, Detector()) == nullptr);
    ready = true;
  }
  pipe.Reset();
  return pipe;
}

void ExpectSame(const Record& a, const Record& b) {
  EXPECT_EQ(a.frames, b.frames);
  EXPECT_EQ(a.detections, b.detections);
  EXPECT_EQ(memcmp(a.features, b.features, sizeof(a.features[0]) * a.frames), 0);
  EXPECT_EQ(memcmp(a.scores, b.scores, sizeof(a.scores[0]) * a.frames), 0);
  for (int32_t i = 0; i < a.detections && i < b.detections; ++i) {
    EXPECT_EQ(a.detection[i].frame, b.detection[i].frame);
    EXPECT_EQ(a.detection[i].class_index, b.detection[i].class_index);
    EXPECT_EQ(a.detection[i].score, b.detection[i].score);
  }
}

Record g_by_hand, g_piped;

TEST(ChunkedPushEqualsTheStagesCalledByHand) {
  RunStagesByHand(&g_by_hand);
  EXPECT_EQ(g_by_hand.frames, 73);
  EXPECT_TRUE(g_by_hand.detections > 0);  // the test model fires: detections are compared too
  const size_t chunks[] = {1, 7, 160, 512, static_cast<size_t>(kSamples)};
  for (size_t chunk : chunks) {
    kws::FramePipeline<kws::CoreModel>& pipe = CorePipeline();
    g_piped = Record();
    size_t frames = 0;
    for (size_t pos = 0; pos < static_cast<size_t>(kSamples); pos += chunk) {
      const size_t n = kSamples - pos < chunk ? kSamples - pos : chunk;
      frames += pipe.Push(Audio() + pos, n, g_piped);
    }
    EXPECT_EQ(frames, static_cast<size_t>(g_by_hand.frames));
    EXPECT_EQ(pipe.frames(), g_by_hand.frames);
    ExpectSame(g_piped, g_by_hand);
  }
}

TEST(FrameSkipsTheFrontend) {
  static kws::FramePipeline<kws::CoreModel> pipe;
  static uint32_t prepared[1024], scratch[256];
  EXPECT_TRUE(pipe.model().Init(Model().p, Model().hp, prepared, sizeof(prepared), scratch, sizeof(scratch)) ==
              nullptr);
  EXPECT_TRUE(pipe.Init(nullptr, Detector()) == nullptr);
  g_piped = Record();
  EXPECT_EQ(pipe.Push(Audio(), kSamples, g_piped), 0u);  // no frontend: audio is not taken
  for (int32_t f = 0; f < g_by_hand.frames; ++f) pipe.Frame(g_by_hand.features[f], g_piped);
  ExpectSame(g_piped, g_by_hand);
}

TEST(ResetStartsANewStream) {
  kws::FramePipeline<kws::CoreModel>& pipe = CorePipeline();
  Record first;
  pipe.Push(Audio(), kSamples, first);
  pipe.Reset();
  EXPECT_EQ(pipe.frames(), 0);
  for (int32_t i = 0; i < kH; ++i) EXPECT_EQ(pipe.model().state()[i], 0);
  g_piped = Record();
  pipe.Push(Audio(), kSamples, g_piped);
  ExpectSame(g_piped, g_by_hand);
}

// A model whose every third frame fails (as a TFLM Invoke may): those frames reach the caller with
// ok = false and do not advance the detector.
struct FlakyModel {
  int32_t calls = 0;
  int32_t num_features() const { return kD; }
  int32_t num_classes() const { return kC; }
  void Reset() { calls = 0; }
  template <class Probe>
  bool Scores(const int8_t* features, uint8_t* scores) {
    for (int32_t c = 0; c < kC; ++c) scores[c] = static_cast<uint8_t>(c == 1 ? 250 : features[c] & 3);
    return ++calls % 3 != 0;
  }
};

TEST(AFailedModelFrameSkipsTheDetector) {
  static kws::FramePipeline<FlakyModel> pipe;
  const frontend::Config fc;
  EXPECT_TRUE(pipe.Init(&fc, Detector()) == nullptr);
  int32_t failed = 0, ok = 0;
  pipe.Push(Audio(), kSamples, [&](const kws::FrameResult& r) { (r.ok ? ok : failed)++; });
  EXPECT_EQ(failed, 73 / 3);
  EXPECT_EQ(ok + failed, 73);
  EXPECT_EQ(pipe.detector().frames_seen(), ok);
}

struct OrderProbe {
  static int log[8];
  static int n;
  static void Begin(int stage) {
    if (n < 8) log[n++] = stage;
  }
  static void End(int stage) {
    if (n < 8) log[n++] = 10 + stage;
  }
};
int OrderProbe::log[8];
int OrderProbe::n = 0;

TEST(TheProbeSeesEveryStageInOrder) {
  kws::FramePipeline<kws::CoreModel>& pipe = CorePipeline();
  pipe.Push(Audio(), 399, [](const kws::FrameResult&) {});  // one sample short of the first frame
  OrderProbe::n = 0;
  pipe.Push<OrderProbe>(Audio() + 399, 1, [](const kws::FrameResult&) {});
  const int expected[8] = {0, 10, 1, 11, 2, 12, 3, 13};
  EXPECT_EQ(OrderProbe::n, 8);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(OrderProbe::log[i], expected[i]);
}

TEST(InitRejectsStagesThatDoNotChain) {
  static kws::FramePipeline<kws::CoreModel> pipe;
  const frontend::Config fc;
  EXPECT_CONTAINS(pipe.Init(&fc, Detector()), "not initialized");  // model not initialized
  static uint32_t prepared[1024], scratch[256];
  EXPECT_TRUE(pipe.model().Init(Model().p, Model().hp, prepared, sizeof(prepared), scratch, sizeof(scratch)) ==
              nullptr);
  frontend::Config mels40;
  mels40.n_mels = 40;
  EXPECT_CONTAINS(pipe.Init(&mels40, Detector()), "input size");
  frontend::Config bad;
  bad.hop_samples = 0;
  EXPECT_CONTAINS(pipe.Init(&bad, Detector()), "frontend: ");
  kws::DetectorConfig dc = Detector();
  dc.keywords[0] = kC;  // not a class
  EXPECT_TRUE(pipe.Init(&fc, dc) != nullptr);
  EXPECT_EQ(pipe.Push(Audio(), kSamples, [](const kws::FrameResult&) {}), 0u);  // not ready
  head::HeadParams wide = Model().hp;
  wide.layers[0].input_size = kH + 1;
  EXPECT_CONTAINS(pipe.model().Init(Model().p, wide, prepared, sizeof(prepared), scratch, sizeof(scratch)), "head");
  EXPECT_CONTAINS(pipe.model().Init(Model().p, Model().hp, prepared, 0, scratch, 0), "too small");
}

}  // namespace

int main() {
  RUN_TEST(ChunkedPushEqualsTheStagesCalledByHand);
  RUN_TEST(FrameSkipsTheFrontend);
  RUN_TEST(ResetStartsANewStream);
  RUN_TEST(AFailedModelFrameSkipsTheDetector);
  RUN_TEST(TheProbeSeesEveryStageInOrder);
  RUN_TEST(InitRejectsStagesThatDoNotChain);
  return TestSummary("pipeline_test");
}
