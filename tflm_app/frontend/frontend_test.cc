// Unit tests of the streaming frontend: hand-checked tables, the FFT on known signals, the float
// pipeline against a direct double-precision DFT, quantization and streaming. No file I/O, no heap:
// runs on the host (ctest) and under QEMU (tflm_app/m4).
#include "frontend.h"

#include <cmath>
#include <cstdint>
#include <cstdio>

#include "../common/test_macros.h"

namespace {

using frontend::Config;
using frontend::Frontend;

constexpr double kPi = 3.14159265358979323846;

// Large objects live in static storage, as on the device.
Frontend g_a, g_b;
int16_t g_audio[16000];
int8_t g_frames_a[120 * frontend::kMaxFeatures];
int8_t g_frames_b[120 * frontend::kMaxFeatures];
float g_z[frontend::kMaxFft];

#define EXPECT_NEAR(a, b, tol)                                                               \
  do {                                                                                       \
    const double near_a_ = (a), near_b_ = (b);                                               \
    if (!(std::fabs(near_a_ - near_b_) <= (tol))) {                                          \
      TEST_FAIL_AT_("EXPECT_NEAR(%s, %s): %.9g vs %.9g (tol %g)", #a, #b, near_a_, near_b_, \
                    static_cast<double>(tol));                                               \
    }                                                                                        \
  } while (0)

// Deterministic test audio: a 440 Hz + 2.5 kHz mix, a silent gap and LCG noise.
void MakeAudio(int16_t* out, int n) {
  uint32_t s = 12345;
  for (int i = 0; i < n; ++i) {
    s = s * 1664525u + 1013904223u;
    const double noise = static_cast<double>(static_cast<int32_t>(s) >> 20) / 2048.0;  // [-1, 1)
    double v = 0.3 * std::sin(2 * kPi * 440.0 * i / 16000) + 0.1 * std::sin(2 * kPi * 2500.0 * i / 16000);
    v += 0.05 * noise;
    if (i >= 6000 && i < 7000) v = 0.0;
    out[i] = static_cast<int16_t>(std::lround(v * 32767.0));
  }
}

TEST(HannWindowMatchesLibrosa) {
  // .venv/bin/python -c "import librosa, numpy as np; w = librosa.filters.get_window('hann', 400,
  //   fftbins=True).astype(np.float32); print([repr(float(w[i])) for i in (0, 1, 100, 200, 399)])"
  // -> ['0.0', '6.168375693960115e-05', '0.5', '1.0', '6.168375693960115e-05']
  Config cfg;
  EXPECT_TRUE(g_a.Init(cfg) == nullptr);
  EXPECT_TRUE(g_a.window_value(0) == 0.0f);
  EXPECT_NEAR(g_a.window_value(1), 6.168375693960115e-05, 1e-12);
  EXPECT_TRUE(g_a.window_value(100) == 0.5f);
  EXPECT_TRUE(g_a.window_value(200) == 1.0f);
  EXPECT_NEAR(g_a.window_value(399), 6.168375693960115e-05, 1e-12);
  // Periodic, not symmetric: w[n] == w[400 - n].
  for (int n = 1; n < 400; ++n) EXPECT_TRUE(g_a.window_value(n) == g_a.window_value(400 - n));
}

TEST(MelFilterbankMatchesLibrosa) {
  // .venv/bin/python -c "import librosa, numpy as np; M = librosa.filters.mel(sr=16000, n_fft=512,
  //   n_mels=32, fmin=20, fmax=8000, htk=False, norm='slaney', dtype=np.float32);
  //   print([repr(float(M[i, k])) for i, k in ((0,1), (0,4), (0,6), (10,33), (31,233), (31,255))])"
  // -> 0.0013645447324961424, 0.00929085724055767, 0.001710053184069693, 0.009217199869453907,
  //    0.0014556278474628925, 6.39679201412946e-05; filter 0 is nonzero on bins 1..6 only,
  //    filter 10 on 30..35, filter 31 on 213..255.
  Config cfg;
  EXPECT_TRUE(g_a.Init(cfg) == nullptr);
  const double rel = 1e-6;
  EXPECT_NEAR(g_a.mel_weight(0, 1), 0.0013645447324961424, rel * 0.0013645447324961424);
  EXPECT_NEAR(g_a.mel_weight(0, 4), 0.00929085724055767, rel * 0.00929085724055767);
  EXPECT_NEAR(g_a.mel_weight(0, 6), 0.001710053184069693, rel * 0.001710053184069693);
  EXPECT_NEAR(g_a.mel_weight(10, 33), 0.009217199869453907, rel * 0.009217199869453907);
  EXPECT_NEAR(g_a.mel_weight(31, 233), 0.0014556278474628925, rel * 0.0014556278474628925);
  EXPECT_NEAR(g_a.mel_weight(31, 255), 6.39679201412946e-05, rel * 6.39679201412946e-05);
  EXPECT_TRUE(g_a.mel_weight(0, 0) == 0.0f);
  EXPECT_TRUE(g_a.mel_weight(0, 7) == 0.0f);
  EXPECT_TRUE(g_a.mel_weight(10, 29) == 0.0f);
  EXPECT_TRUE(g_a.mel_weight(10, 36) == 0.0f);
  EXPECT_TRUE(g_a.mel_weight(31, 212) == 0.0f);
  EXPECT_TRUE(g_a.mel_weight(31, 256) == 0.0f);
  // Every bin touches at most 2 filters.
  for (int k = 0; k <= 256; ++k) {
    int touching = 0;
    for (int m = 0; m < 32; ++m) touching += g_a.mel_weight(m, k) != 0.0f;
    EXPECT_TRUE(touching <= 2);
  }
}

// Complex FFT against a direct double DFT, for the radix-4-only (n_fft 512) and the
// radix-2-first (n_fft 256) paths, plus two signals with a known answer.
void CheckFft(int n_fft) {
  Config cfg;
  cfg.n_fft = n_fft;
  cfg.window_samples = n_fft < 400 ? n_fft : 400;
  EXPECT_TRUE(g_a.Init(cfg) == nullptr);
  const int n = n_fft / 2;
  // Unit impulse at 0 -> all ones.
  for (int i = 0; i < 2 * n; ++i) g_z[i] = 0.f;
  g_z[0] = 1.f;
  g_a.ComplexFft(g_z);
  for (int k = 0; k < n; ++k) {
    EXPECT_NEAR(g_z[2 * k], 1.0, 1e-6);
    EXPECT_NEAR(g_z[2 * k + 1], 0.0, 1e-6);
  }
  // exp(2 pi i 5 m / n) -> n at bin 5, 0 elsewhere.
  for (int m = 0; m < n; ++m) {
    g_z[2 * m] = static_cast<float>(std::cos(2 * kPi * 5 * m / n));
    g_z[2 * m + 1] = static_cast<float>(std::sin(2 * kPi * 5 * m / n));
  }
  g_a.ComplexFft(g_z);
  for (int k = 0; k < n; ++k) {
    EXPECT_NEAR(g_z[2 * k], k == 5 ? n : 0.0, 1e-3);
    EXPECT_NEAR(g_z[2 * k + 1], 0.0, 1e-3);
  }
  // Pseudo-random input against a direct DFT.
  static float x[frontend::kMaxFft];
  uint32_t s = 7;
  for (int i = 0; i < 2 * n; ++i) {
    s = s * 1664525u + 1013904223u;
    x[i] = static_cast<float>(static_cast<int32_t>(s) >> 16) / 32768.0f;
    g_z[i] = x[i];
  }
  g_a.ComplexFft(g_z);
  double max_err = 0;
  for (int k = 0; k < n; ++k) {
    double re = 0, im = 0;
    for (int m = 0; m < n; ++m) {
      const double a = -2 * kPi * static_cast<double>((k * m) % n) / n;
      re += x[2 * m] * std::cos(a) - x[2 * m + 1] * std::sin(a);
      im += x[2 * m] * std::sin(a) + x[2 * m + 1] * std::cos(a);
    }
    max_err = std::fmax(max_err, std::fmax(std::fabs(re - g_z[2 * k]), std::fabs(im - g_z[2 * k + 1])));
  }
  EXPECT_TRUE(max_err < 1e-4);
  if (!(max_err < 1e-4)) printf("n_fft %d: max FFT error %g\n", n_fft, max_err);
}

TEST(FftRadix4MatchesDft) { CheckFft(512); }
TEST(FftRadix2FirstMatchesDft) { CheckFft(256); }
TEST(FftSmallestSize) { CheckFft(16); }

// The float log-mel of one frame against a double-precision direct DFT of the same frame.
void CheckFrameAgainstDft(const Config& cfg, const int16_t* audio) {
  EXPECT_TRUE(g_a.Init(cfg) == nullptr);
  EXPECT_EQ(g_a.Push(audio, static_cast<size_t>(cfg.window_samples), nullptr, nullptr), 1);
  const int pad = (cfg.n_fft - cfg.window_samples) / 2;
  static double power[frontend::kMaxBins];
  for (int k = 0; k <= cfg.n_fft / 2; ++k) {
    double re = 0, im = 0;
    for (int i = 0; i < cfg.window_samples; ++i) {
      const double v = audio[i] / 32768.0 * g_a.window_value(i);
      const double a = -2 * kPi * static_cast<double>((k * (i + pad)) % cfg.n_fft) / cfg.n_fft;
      re += v * std::cos(a);
      im += v * std::sin(a);
    }
    power[k] = re * re + im * im;
  }
  for (int m = 0; m < cfg.n_mels; ++m) {
    double mel = 0;
    for (int k = 0; k <= cfg.n_fft / 2; ++k) mel += g_a.mel_weight(m, k) * power[k];
    EXPECT_NEAR(g_a.last_float_features()[m], std::log(mel + cfg.log_floor), 2e-4);
  }
}

TEST(FrameMatchesDirectDft) {
  MakeAudio(g_audio, 16000);
  Config cfg;
  CheckFrameAgainstDft(cfg, g_audio);
  CheckFrameAgainstDft(cfg, g_audio + 5000);
  Config odd;  // radix-2 first pass, odd padding, other mel settings
  odd.n_fft = 256;
  odd.window_samples = 201;
  odd.hop_samples = 80;
  odd.n_mels = 20;
  odd.fmin = 0.0;
  odd.fmax = 7600.0;
  CheckFrameAgainstDft(odd, g_audio + 3000);
  Config tiny;  // smallest FFT: the fused last pass has q = 2
  tiny.n_fft = 16;
  tiny.window_samples = 16;
  tiny.hop_samples = 8;
  tiny.n_mels = 3;
  tiny.fmin = 0.0;
  CheckFrameAgainstDft(tiny, g_audio + 100);
  Config small;  // radix-4 first pass and a single twiddled pass
  small.n_fft = 32;
  small.window_samples = 25;
  small.hop_samples = 10;
  small.n_mels = 6;
  CheckFrameAgainstDft(small, g_audio + 7000);
  // n_fft 512 with other windows: the first pass skips other zero-padding ranges (480: 8 groups
  // with z[b] = 0 and 8 with z[b + 192] = 0; 512: none; 128: all groups have both, C++ path).
  const int windows[] = {480, 512, 128};
  for (int window : windows) {
    Config wide;
    wide.window_samples = window;
    CheckFrameAgainstDft(wide, g_audio + 9000);
  }
}

TEST(SilenceGivesTheFloor) {
  // ln(1e-6) = -13.8155; (-13.8155 + 1.2) / 0.1 = -126.155 -> -126.
  Config cfg;
  EXPECT_TRUE(g_a.Init(cfg) == nullptr);
  static const int16_t zeros[400] = {};
  EXPECT_EQ(g_a.Push(zeros, 400, g_frames_a, 1, nullptr), 1);
  for (int m = 0; m < 32; ++m) {
    EXPECT_EQ(g_frames_a[m], -126);
    EXPECT_NEAR(g_a.last_float_features()[m], std::log(1e-6), 1e-5);
  }
}

TEST(QuantizeRoundsHalfAwayFromZeroAndClamps) {
  using frontend::QuantizeFeature;
  EXPECT_EQ(QuantizeFeature(1.25f, 0.5f, 0.f), 3);    // 2.5 -> 3
  EXPECT_EQ(QuantizeFeature(-1.25f, 0.5f, 0.f), -3);  // -2.5 -> -3
  EXPECT_EQ(QuantizeFeature(0.75f, 0.5f, 0.f), 2);    // 1.5 -> 2
  EXPECT_EQ(QuantizeFeature(-0.25f, 0.5f, 0.f), -1);  // -0.5 -> -1
  EXPECT_EQ(QuantizeFeature(0.7f, 0.5f, 0.f), 1);     // 1.4 -> 1
  EXPECT_EQ(QuantizeFeature(-0.7f, 0.5f, 0.f), -1);
  EXPECT_EQ(QuantizeFeature(0.f, 0.1f, -1.2f), 12);   // the default zero point
  EXPECT_EQ(QuantizeFeature(100.f, 0.1f, -1.2f), 127);
  EXPECT_EQ(QuantizeFeature(-100.f, 0.1f, -1.2f), -128);
  EXPECT_EQ(QuantizeFeature(1e30f, 0.1f, -1.2f), 127);
  EXPECT_EQ(QuantizeFeature(-1e30f, 0.1f, -1.2f), -128);
}

TEST(FastLogIsAccurate) {
  double max_err = 0;
  for (double x = 1e-9; x < 1e7; x *= 1.0007) {
    const float xf = static_cast<float>(x);
    const double err = std::fabs(frontend::FastLog(xf) - std::log(static_cast<double>(xf)));
    const double ulp = std::fmax(1.0, std::fabs(std::log(static_cast<double>(xf)))) * 1.2e-7;
    max_err = std::fmax(max_err, err / ulp);
  }
  printf("FastLog max error: %d/100 ulp\n", static_cast<int>(max_err * 100));
  EXPECT_TRUE(max_err < 2.0);
  EXPECT_TRUE(frontend::FastLog(1.0f) == 0.0f);
  EXPECT_NEAR(frontend::FastLog(1e-40f), std::log(1e-40), 1e-4);  // subnormal input
}

TEST(StreamingAnyChunkSizeGivesTheSameFrames) {
  MakeAudio(g_audio, 16000);
  Config cfg;
  EXPECT_TRUE(g_a.Init(cfg) == nullptr);
  EXPECT_EQ(g_a.FramesAfter(16000), 98);
  size_t used = 0;
  const size_t n_a = g_a.Push(g_audio, 16000, g_frames_a, 120, &used);
  EXPECT_EQ(n_a, 98);  // 1 + (16000 - 400) / 160
  EXPECT_EQ(used, 16000);

  static const size_t kChunks[] = {1, 7, 13, 159, 160, 161, 401, 3, 1000};
  EXPECT_TRUE(g_b.Init(cfg) == nullptr);
  size_t pos = 0, n_b = 0, c = 0;
  while (pos < 16000) {
    size_t n = kChunks[c++ % 9];
    if (n > 16000 - pos) n = 16000 - pos;
    const size_t expect = g_b.FramesAfter(n);
    const size_t got = g_b.Push(g_audio + pos, n, g_frames_b + n_b * 32, 120 - n_b, &used);
    EXPECT_EQ(got, expect);
    EXPECT_EQ(used, n);
    n_b += got;
    pos += n;
  }
  EXPECT_EQ(n_b, 98);
  int diffs = 0;
  for (size_t i = 0; i < 98 * 32; ++i) diffs += g_frames_a[i] != g_frames_b[i];
  EXPECT_EQ(diffs, 0);

  // Output buffer of one frame: Push stops after it and reports what it consumed.
  EXPECT_TRUE(g_b.Init(cfg) == nullptr);
  pos = 0;
  n_b = 0;
  while (pos < 16000) {
    const size_t got = g_b.Push(g_audio + pos, 16000 - pos, g_frames_b + n_b * 32, 1, &used);
    EXPECT_TRUE(got <= 1);
    EXPECT_TRUE(used > 0);
    n_b += got;
    pos += used;
  }
  EXPECT_EQ(n_b, 98);
  diffs = 0;
  for (size_t i = 0; i < 98 * 32; ++i) diffs += g_frames_a[i] != g_frames_b[i];
  EXPECT_EQ(diffs, 0);

  // The frames are not all alike (the test signal has structure).
  int distinct = 0;
  for (size_t i = 32; i < 98 * 32; ++i) distinct += g_frames_a[i] != g_frames_a[i - 32];
  EXPECT_TRUE(distinct > 100);

  // Reset starts a new stream: the first frame is frame 0 again.
  g_b.Reset();
  EXPECT_EQ(g_b.Push(g_audio, 400, g_frames_b, 1, nullptr), 1);
  diffs = 0;
  for (int i = 0; i < 32; ++i) diffs += g_frames_a[i] != g_frames_b[i];
  EXPECT_EQ(diffs, 0);
}

TEST(HopLongerThanWindowSkipsSamples) {
  // Frame t covers [t * hop, t * hop + window): compare each streamed frame with a fresh frontend
  // fed exactly those samples.
  MakeAudio(g_audio, 16000);
  Config cfg;
  cfg.n_fft = 128;
  cfg.window_samples = 100;
  cfg.hop_samples = 160;
  cfg.n_mels = 16;
  EXPECT_TRUE(g_a.Init(cfg) == nullptr);
  size_t pos = 0, frames = 0;
  while (pos < 4000) {
    frames += g_a.Push(g_audio + pos, 37, g_frames_a + frames * 16, 120 - frames, nullptr);
    pos += 37;
  }
  EXPECT_EQ(frames, (4070 - 100) / 160 + 1);  // 4070 samples pushed
  for (size_t t = 0; t < frames; ++t) {
    EXPECT_TRUE(g_b.Init(cfg) == nullptr);
    EXPECT_EQ(g_b.Push(g_audio + t * 160, 100, g_frames_b, 1, nullptr), 1);
    int diffs = 0;
    for (int i = 0; i < 16; ++i) diffs += g_frames_a[t * 16 + i] != g_frames_b[i];
    EXPECT_EQ(diffs, 0);
  }
}

TEST(MfccIsOrthonormalDctOfLogMel) {
  MakeAudio(g_audio, 16000);
  Config mel;
  Config mfcc;
  mfcc.n_mfcc = 13;
  EXPECT_TRUE(g_a.Init(mel) == nullptr);
  EXPECT_TRUE(g_b.Init(mfcc) == nullptr);
  EXPECT_EQ(g_b.num_features(), 13);
  for (int f = 0; f < 5; ++f) {
    const int16_t* x = g_audio + 2000 * f;
    EXPECT_EQ(g_a.Push(x, 400, g_frames_a, 1, nullptr), 1);
    EXPECT_EQ(g_b.Push(x, 400, g_frames_b, 1, nullptr), 1);
    g_a.Reset();
    g_b.Reset();
    for (int k = 0; k < 13; ++k) {
      double y = 0;
      for (int n = 0; n < 32; ++n) y += g_a.last_float_features()[n] * std::cos(kPi * k * (2 * n + 1) / 64.0);
      y *= k == 0 ? std::sqrt(1.0 / 32) : std::sqrt(2.0 / 32);
      EXPECT_NEAR(g_b.last_float_features()[k], y, 1e-4);
      EXPECT_EQ(g_frames_b[k], frontend::QuantizeFeature(g_b.last_float_features()[k], 0.1f, -1.2f));
    }
  }
}

TEST(BadConfigsSayWhatIsWrong) {
  Config c;
  c.n_fft = 500;
  EXPECT_CONTAINS(g_a.Init(c), "n_fft");
  EXPECT_FALSE(g_a.initialized());
  c = Config();
  c.n_fft = 2 * frontend::kMaxFft;
  EXPECT_CONTAINS(g_a.Init(c), "FRONTEND_MAX_FFT");
  c = Config();
  c.window_samples = 600;
  EXPECT_CONTAINS(g_a.Init(c), "window_samples");
  c = Config();
  c.hop_samples = 0;
  EXPECT_CONTAINS(g_a.Init(c), "hop_samples");
  c = Config();
  c.n_mfcc = 40;
  EXPECT_CONTAINS(g_a.Init(c), "n_mfcc");
  c = Config();
  c.n_mels = frontend::kMaxMels + 1;
  EXPECT_CONTAINS(g_a.Init(c), "n_mels");
  c = Config();
  c.fmax = 9000;
  EXPECT_CONTAINS(g_a.Init(c), "fmax");
  c = Config();
  c.quant_scale = 0;
  EXPECT_CONTAINS(g_a.Init(c), "quant_scale");
  c = Config();
  c.log_floor = -1;
  EXPECT_CONTAINS(g_a.Init(c), "log_floor");
  c = Config();
  c.sample_rate = 0;
  EXPECT_CONTAINS(g_a.Init(c), "sample_rate");
  // An uninitialized frontend emits nothing.
  EXPECT_EQ(g_a.Push(g_audio, 1000, g_frames_a, 10, nullptr), 0);
  EXPECT_TRUE(g_a.Init(Config()) == nullptr);
  EXPECT_TRUE(g_a.initialized());
}

}  // namespace

// The log-mel lookup table returns exactly QuantizeFeature(FastLog(y)): every float y from
// log_floor up to where the feature saturates is checked with a stride, and every float around
// each step (where FastLog rounding could make the pair non-monotonic) one by one.
TEST(LogTableEqualsFastLogQuantize) {
  frontend::Config configs[3];
  configs[1].log_floor = 1e-4;
  configs[1].quant_scale = 0.125;
  configs[1].quant_offset = -2.0;
  configs[2].quant_scale = 0.02;  // finer buckets
  configs[2].log_floor = 1e-3;
  for (const frontend::Config& cfg : configs) {
    EXPECT_TRUE(g_a.Init(cfg) == nullptr);
    EXPECT_TRUE(g_a.uses_log_table());
    const float scale = static_cast<float>(cfg.quant_scale), offset = static_cast<float>(cfg.quant_offset);
    auto direct = [&](uint32_t bits) {
      float y;
      memcpy(&y, &bits, sizeof y);
      return frontend::QuantizeFeature(frontend::FastLog(y), scale, offset);
    };
    auto table = [&](uint32_t bits) {
      float y;
      memcpy(&y, &bits, sizeof y);
      return g_a.LogMelFeature(y);
    };
    const float floor_f = static_cast<float>(cfg.log_floor);
    uint32_t bits;
    memcpy(&bits, &floor_f, sizeof bits);
    int mismatches = 0, steps = 0;
    int prev = direct(bits);
    const uint32_t kStride = 997;
    for (; bits < 0x7f000000u; bits += kStride) {
      const int q = direct(bits);
      mismatches += q != table(bits);
      if (q != prev) {  // a step in (bits - stride, bits]: check every float around it
        ++steps;
        for (uint32_t b = bits - kStride - 2048; b <= bits + 2048; ++b) mismatches += direct(b) != table(b);
      }
      prev = q;
      if (q == 127) break;
    }
    for (uint32_t b = bits; b < bits + 100 * kStride; b += kStride) mismatches += table(b) != 127;
    EXPECT_EQ(mismatches, 0);
    EXPECT_TRUE(steps > 100);
  }
}

int main() {
  RUN_TEST(HannWindowMatchesLibrosa);
  RUN_TEST(MelFilterbankMatchesLibrosa);
  RUN_TEST(FftRadix4MatchesDft);
  RUN_TEST(FftRadix2FirstMatchesDft);
  RUN_TEST(FftSmallestSize);
  RUN_TEST(FrameMatchesDirectDft);
  RUN_TEST(SilenceGivesTheFloor);
  RUN_TEST(QuantizeRoundsHalfAwayFromZeroAndClamps);
  RUN_TEST(FastLogIsAccurate);
  RUN_TEST(LogTableEqualsFastLogQuantize);
  RUN_TEST(StreamingAnyChunkSizeGivesTheSameFrames);
  RUN_TEST(HopLongerThanWindowSkipsSamples);
  RUN_TEST(MfccIsOrthonormalDctOfLogMel);
  RUN_TEST(BadConfigsSayWhatIsWrong);
  return TestSummary("frontend_test");
}
