// Streaming int8 log-mel / MFCC frontend of keyword_spotting/feature_spec.md (contract v2).
//
// Float32 arithmetic (the Cortex-M4F has an FPU), no heap, no exceptions. Every table (periodic
// Hann window, Slaney mel filterbank, FFT twiddles, DCT cosines) is computed by Init() from the
// Config into arrays inside the object, sized by compile-time maxima, so on the device the object
// should live in static storage (~22 KB with the default maxima, 17 KB of code on the M4):
//
//   static frontend::Frontend fe;
//   frontend::Config cfg;                      // FeatureSpec() defaults
//   if (const char* err = fe.Init(cfg)) { printf("frontend: %s\n", err); ... }
//   int8_t frames[4 * frontend::kMaxFeatures];
//   size_t used = 0;
//   size_t n = fe.Push(pcm, num_samples, frames, 4, &used);   // n frames of fe.num_features()
//
// Framing is the offline one: frame t covers samples [t*hop, t*hop + window) of the stream, so
// pushing a clip in chunks of any size emits exactly the frames of keyword_spotting.features.
#ifndef TFLM_APP_FRONTEND_FRONTEND_H_
#define TFLM_APP_FRONTEND_FRONTEND_H_

#include <cstddef>
#include <cstdint>

#ifndef FRONTEND_MAX_FFT
#define FRONTEND_MAX_FFT 512
#endif
#ifndef FRONTEND_MAX_MELS
#define FRONTEND_MAX_MELS 64
#endif

namespace frontend {

constexpr int kMaxFft = FRONTEND_MAX_FFT;     // largest n_fft (power of two)
constexpr int kMinFft = 16;                   // smallest n_fft
constexpr int kMaxMels = FRONTEND_MAX_MELS;   // largest n_mels
constexpr int kMaxFeatures = kMaxMels;        // largest num_features()
constexpr int kMaxBins = kMaxFft / 2 + 1;     // largest number of rfft bins
static_assert((kMaxFft & (kMaxFft - 1)) == 0 && kMaxFft >= kMinFft, "FRONTEND_MAX_FFT: power of two >= 16");
static_assert(kMaxMels >= 1, "FRONTEND_MAX_MELS must be positive");

// Mirrors keyword_spotting.features.FeatureSpec field by field (same names, same defaults).
// Real-valued fields are double because librosa computes the filterbank in float64; the
// per-frame arithmetic uses them as float32, as the Python side does.
struct Config {
  int sample_rate = 16000;
  int window_samples = 400;
  int hop_samples = 160;
  int n_fft = 512;
  int n_mels = 32;
  double fmin = 20.0;
  double fmax = 8000.0;
  double log_floor = 1e-6;
  int n_mfcc = 0;
  double quant_scale = 0.1;
  double quant_offset = -1.2;
  double channel_norm = 0.0;             // contract v2: per-channel normalization strength, 0 = off
  double channel_norm_smoothing = 0.025;

  int num_features() const { return n_mfcc > 0 ? n_mfcc : n_mels; }
};

// nullptr when `cfg` is usable by this build, else a message naming the bad field (points to
// `buf`, which must hold at least 160 chars).
const char* ValidateConfig(const Config& cfg, char* buf, size_t buf_size);

// Called once per emitted frame with num_features int8 values.
using FrameCallback = void (*)(const int8_t* features, int num_features, void* user);

// int8 feature = clamp(round_half_away((value - offset) / scale), -128, 127), in float32 exactly as
// keyword_spotting.features.quantize.
int8_t QuantizeFeature(float value, float scale, float offset);

// ln(x) for x > 0, float32, max error 0.8 ulp of the result measured over 1e-9..1e7 (no libm call;
// ~36 instructions on the M4). Handles subnormals; ln(0) = -inf.
float FastLog(float x);

class Frontend {
 public:
  // Validates `cfg`, builds every table and resets the stream. Returns nullptr on success, else a
  // message saying what is wrong (owned by this object); the frontend is then unusable.
  const char* Init(const Config& cfg);

  // Forgets buffered samples and the channel normalization's running means: the next pushed sample
  // is sample 0 of a new stream.
  void Reset();

  // Feeds `n` samples; calls `cb` (may be nullptr) for every completed frame, during which
  // last_float_features() is that frame's. Returns the number of frames. Does nothing (returns 0)
  // before a successful Init. Cost on the M4: ~15 k instructions per frame (default config).
  size_t Push(const int16_t* pcm, size_t n, FrameCallback cb, void* user);

  // Feeds samples until `n` are consumed or `max_frames` frames were written to `out`
  // (frame f at out + f * num_features()). Returns the number of frames written; `*consumed`
  // (may be nullptr when max_frames >= FramesAfter(n)) receives how many samples were used,
  // so the caller can push the rest later.
  size_t Push(const int16_t* pcm, size_t n, int8_t* out, size_t max_frames, size_t* consumed);

  // Frames a Push of `n` more samples would emit from the current state.
  size_t FramesAfter(size_t n) const;

  bool initialized() const { return initialized_; }
  int num_features() const { return num_features_; }
  const Config& config() const { return cfg_; }
  // Float features (log-mel or MFCC, before quantization) of the last emitted frame.
  // (Log-mel: computed on the first call after a frame; the per-frame path quantizes without logs.)
  const float* last_float_features() const;

  // Offline helpers for tests and tools (the streaming path does not use them directly).
  // Periodic Hann window value n (0 <= n < window_samples), float32 as librosa gives it.
  float window_value(int n) const;
  // Mel filterbank weight M[mel][bin] as librosa.filters.mel(..., dtype=float32) gives it.
  float mel_weight(int mel, int bin) const;
  // The int8 log-mel feature of y = mel energy + log_floor (y >= log_floor) as frames compute it:
  // QuantizeFeature(FastLog(y)), through the lookup table when the config has one.
  int8_t LogMelFeature(float y) const;
  bool uses_log_table() const { return log_table_; }
  // Complex FFT of the first n_fft/2 complex values of `inout` (interleaved re, im), in place,
  // with the same radix-4 code the frames use; exposed so it can be tested on known signals.
  void ComplexFft(float* inout) const;

 private:
  bool AddSample(const int16_t* pcm, size_t n, size_t* used);  // true when a frame completed
  void ComputeFrame();
  void FirstPass(float* z) const;        // windowing + bit reversal + first FFT pass, fused
  void FirstPassInPlace(float* z) const; // first FFT pass on data already in bit-reversed order
  void Radix4Passes(float* z, bool last) const;  // the twiddled passes (the last one if `last`)
  void LastPassSplitPower(const float* z);       // last pass + rfft split + 4 |X|^2 into bin_
  void MelLogQuantize();
  bool BuildLogTable();                          // false: the config needs the FastLog path
  int QuantizedLog(uint32_t y_bits) const;       // QuantizeFeature(FastLog(y)), y > 0

  Config cfg_;
  bool initialized_ = false;
  int num_features_ = 0;
  int n_fft_ = 0, nc_ = 0, pad_ = 0, window_ = 0, hop_ = 0, n_mels_ = 0, n_mfcc_ = 0;
  bool first_radix4_ = true;
  int first_h_ = 1;      // h of the first twiddled radix-4 pass
  int last_tw_off_ = 0;  // twiddle_ offset of the last pass (h = n_fft / 8)
  float log_floor_ = 0.f, quant_scale_ = 0.f, quant_offset_ = 0.f;
  float norm_alpha_ = 0.f, norm_s_ = 0.f;  // channel normalization (0 = off)
  bool norm_started_ = false;              // norm_mean_ holds the stream's running means
  float norm_mean_[kMaxMels];

  // Stream state: the current n_fft frame is stream_[base_ .. base_ + n_fft); sample i of its
  // window is stream_[base_ + pad_ + i]. The frame slides forward by hop inside stream_ and the
  // kept samples are moved back to the front only when it reaches the end (not every hop).
  // Outside the window the stream holds old finite samples, which the zero window ignores.
  size_t base_ = 0;
  size_t filled_ = 0;  // samples of the current window received
  size_t skip_ = 0;    // samples to drop before the next window starts (hop > window)

  static constexpr int kStreamSize = 2 * kMaxFft;
  float stream_[kStreamSize];
  float win_[kMaxFft];                 // Hann / 32768 centred in n_fft, zero elsewhere
  float fft_[kMaxFft];                 // n_fft / 2 complex values, interleaved
  float twiddle_[kMaxFft];             // per radix-4 pass, per j: W^{2j}, W^{j}, W^{3j}
  float split_tw_[kMaxFft / 2 + 2];    // exp(-i pi k / nc), k = 0..nc/2
  uint16_t first_base_[kMaxFft / 4];   // z index of the first input of each first-pass group
  int zero_a_end_ = 0, zero_d_begin_ = 0;  // first-pass groups with zero-padding inputs (FirstPass)
  // Mel filterbank as segments of bins between consecutive filter centres: every bin k of segment s
  // feeds filter seg_j_[s] - 1 (its falling slope, weight bin_[3k]) and filter seg_j_[s] (its
  // rising slope, bin_[3k + 1]); bin_[3k + 2] is the bin's power 4 |X[k]|^2 (hence weights / 4),
  // so the mel loop reads one contiguous triple per bin. acc_[j + 1] sums filter j (acc_[0] and
  // acc_[n_mels + 1] absorb the missing neighbours of the first and last filter).
  float bin_[3 * kMaxBins];
  uint16_t seg_j_[kMaxMels + 1];
  uint16_t seg_start_[kMaxMels + 1];
  uint16_t seg_len_[kMaxMels + 1];
  int num_segs_ = 0;
  bool mel_rolling_ = false;           // segments contiguous, j + 1 each (MelLogQuantize)
  float acc_[kMaxMels + 2];
  uint16_t mel_start_[kMaxMels];       // first nonzero bin of each filter
  uint16_t mel_len_[kMaxMels];         // number of bins from there to its last nonzero bin
  double mel_edges_[kMaxMels + 2];     // librosa's mel_f (Hz): filter i spans edges i .. i + 2
  double bin_hz_ = 0.0;                // Hz per FFT bin (rfftfreq step)
  float dct_cos_[4 * kMaxMels];        // cos(pi m / (2 n_mels)), m = 0..4 n_mels - 1
  float dct_scale0_ = 0.f, dct_scale_ = 0.f;
  // Log-mel path: int8 feature = QuantizeFeature(FastLog(y)) with y = mel + log_floor, looked up
  // instead of computed. y's float bits, shifted right by log_shift_, select a bucket (1/2^B of an
  // octave, B chosen so that a bucket spans less than one quantization step); within a bucket the
  // feature is log_q_[b], or log_q_[b] + 1 from y's bits log_thr_[b] on (Init finds every
  // threshold by bisection over FastLog + quantize, so the lookup returns exactly their value).
  static constexpr int kMaxLogBuckets = 768;  // 256 steps at >= 3/8 step per bucket, + margin
  bool log_table_ = false;
  int log_shift_ = 0;
  uint32_t log_base_bits_ = 0;   // first bit pattern of bucket 0
  uint32_t log_last_ = 0;        // last bucket; larger y all quantize to its values
  uint32_t log_thr_[kMaxLogBuckets];
  int8_t log_q_[kMaxLogBuckets];
  float mel_y_[kMaxMels];                // y of the last frame (for last_float_features)
  mutable bool floats_valid_ = false;
  mutable float feats_[kMaxMels];
  float logmel_[kMaxMels];
  int8_t out_[kMaxFeatures];
  char error_[160];
};

}  // namespace frontend

#endif  // TFLM_APP_FRONTEND_FRONTEND_H_
