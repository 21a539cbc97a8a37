#include "frontend.h"
#include "frontend_internal.h"

#include <cmath>
#include <cstdio>
#include <cstring>

namespace frontend {
namespace {

constexpr double kPi = 3.14159265358979323846;

// ---- librosa's Slaney mel scale (librosa/core/convert.py), in float64 like librosa ----------
constexpr double kFSp = 200.0 / 3;
constexpr double kMinLogHz = 1000.0;
constexpr double kMinLogMel = kMinLogHz / kFSp;  // 15

double LogStep() { return std::log(6.4) / 27.0; }

double HzToMel(double hz) {
  if (hz >= kMinLogHz) return kMinLogMel + std::log(hz / kMinLogHz) / LogStep();
  return (hz - 0.0) / kFSp;
}

double MelToHz(double mel) {
  if (mel >= kMinLogMel) return kMinLogHz * std::exp(LogStep() * (mel - kMinLogMel));
  return 0.0 + kFSp * mel;
}

// mel_f[i] of librosa.filters.mel: np.linspace(min_mel, max_mel, n_mels + 2) mapped to Hz.
double MelEdgeHz(const Config& c, int i) {
  const double min_mel = HzToMel(c.fmin);
  const double max_mel = HzToMel(c.fmax);
  const int num = c.n_mels + 2;
  const double step = (max_mel - min_mel) / (num - 1);
  const double mel = (i == num - 1) ? max_mel : i * step + min_mel;
  return MelToHz(mel);
}

// np.fft.rfftfreq(n_fft, 1 / sr)[k]
double BinHz(const Config& c, int k) {
  const double d = 1.0 / c.sample_rate;
  const double val = 1.0 / (c.n_fft * d);
  return k * val;
}

// librosa.filters.mel(...)[i, k] with dtype float32, from the filter's edges m0 < m1 < m2 (Hz) and
// the bin frequency f: the weights are stored as float32 first, then multiplied in float64 by the
// Slaney norm and rounded again, exactly as librosa does.
float MelWeightLibrosa(double m0, double m1, double m2, double f) {
  const double lower = -(m0 - f) / (m1 - m0);
  const double upper = (m2 - f) / (m2 - m1);
  double w = lower < upper ? lower : upper;
  if (!(w > 0.0)) w = 0.0;
  const float w32 = static_cast<float>(w);
  const double enorm = 2.0 / (m2 - m0);
  return static_cast<float>(static_cast<double>(w32) * enorm);
}

// scipy.signal.get_window("hann", N, fftbins=True)[n] as float32.
float HannValue(int n, int window) {
  // scipy: general_cosine([0.5, 0.5]) with fac = linspace(-pi, pi, N + 1)[n] = n * (2 pi / N) - pi.
  const double fac = n * ((kPi - -kPi) / window) + -kPi;
  return static_cast<float>(0.5 + 0.5 * std::cos(fac));
}

bool IsFinite(double x) { return std::isfinite(x); }

}  // namespace

namespace {


inline float FastLogInline(float x) {
  // x = 2^e * m, m in [sqrt(1/2), sqrt(2)); ln m = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172;
  // the odd series to s^9 is exact to 1e-9, so float rounding (~1 ulp) dominates.
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  int e = 0;
  if ((bits & 0x7f800000u) == 0) {  // zero or subnormal: scale into the normal range
    if ((bits & 0x007fffffu) == 0) return -INFINITY;
    x *= 8388608.0f;  // 2^23
    std::memcpy(&bits, &x, sizeof bits);
    e = -23;
  }
  e += static_cast<int>((bits >> 23) & 0xffu) - 127;
  bits = (bits & 0x007fffffu) | 0x3f800000u;
  float m;
  std::memcpy(&m, &bits, sizeof m);
  if (m > 1.41421356f) {
    m *= 0.5f;
    ++e;
  }
  const float s = (m - 1.0f) / (m + 1.0f);
  const float s2 = s * s;
  const float p = s2 * (1.0f / 3 + s2 * (1.0f / 5 + s2 * (1.0f / 7 + s2 * (1.0f / 9))));
  const float ln_m = 2.0f * s + 2.0f * s * p;
  const float fe = static_cast<float>(e);
  // ln 2 split so that fe * kLn2Hi is exact for |e| < 256.
  constexpr float kLn2Hi = 0.693145751953125f;
  constexpr float kLn2Lo = 1.42860682030941723212e-06f;
  return fe * kLn2Hi + (ln_m + fe * kLn2Lo);
}

inline int8_t QuantizeInline(float value, float scale, float offset) {
  // quantize(): sign(x) * floor(|x| + 0.5) in float32, then clamp. |x| + 0.5 >= 0, so the int
  // conversion (truncation) is the floor; clamping first keeps it in range (and maps NaN to 128).
  const float x = (value - offset) / scale;
  float a = std::fabs(x) + 0.5f;
  if (!(a <= 128.f)) a = 128.f;
  const int r = static_cast<int>(a);
  const int q = x < 0.f ? -r : r;
  return static_cast<int8_t>(q > 127 ? 127 : q);
}

// The log-mel table lookup (frontend.h, log_thr_); y below bucket 0 (all -128) or above the last
// bucket (127 from its step on) is clamped to them.
inline int8_t LookupLog(float y, const uint32_t* thr, const int8_t* q, uint32_t base_bits, int shift,
                        uint32_t last) {
  uint32_t bits;
  std::memcpy(&bits, &y, sizeof bits);
  int32_t k = static_cast<int32_t>(bits - base_bits) >> shift;  // y > 0: bits - base_bits fits
  k = k < 0 ? 0 : (k > static_cast<int32_t>(last) ? static_cast<int32_t>(last) : k);
  return static_cast<int8_t>(q[k] + (bits >= thr[k] ? 1 : 0));
}

}  // namespace

float FastLog(float x) { return FastLogInline(x); }

int8_t QuantizeFeature(float value, float scale, float offset) { return QuantizeInline(value, scale, offset); }


const char* ValidateConfig(const Config& c, char* buf, size_t n) {
  if (c.sample_rate <= 0) {
    snprintf(buf, n, "sample_rate must be positive, got %d", c.sample_rate);
  } else if (c.hop_samples <= 0) {
    snprintf(buf, n, "hop_samples must be positive, got %d", c.hop_samples);
  } else if (c.n_fft < kMinFft || c.n_fft > kMaxFft || (c.n_fft & (c.n_fft - 1)) != 0) {
    snprintf(buf, n, "n_fft must be a power of two in [%d, %d] (FRONTEND_MAX_FFT), got %d", kMinFft, kMaxFft,
             c.n_fft);
  } else if (c.window_samples <= 0 || c.window_samples > c.n_fft) {
    snprintf(buf, n, "window_samples must be in (0, n_fft=%d], got %d", c.n_fft, c.window_samples);
  } else if (c.n_mels < 1 || c.n_mels > kMaxMels) {
    snprintf(buf, n, "n_mels must be in [1, %d] (FRONTEND_MAX_MELS), got %d", kMaxMels, c.n_mels);
  } else if (c.n_mfcc < 0 || c.n_mfcc > c.n_mels) {
    snprintf(buf, n, "n_mfcc must be in [0, n_mels=%d], got %d", c.n_mels, c.n_mfcc);
  } else if (!IsFinite(c.fmin) || !IsFinite(c.fmax) || !(0.0 <= c.fmin && c.fmin < c.fmax) ||
             c.fmax > c.sample_rate / 2.0) {
    snprintf(buf, n, "need 0 <= fmin < fmax <= sample_rate / 2, got fmin=%g fmax=%g sample_rate=%d", c.fmin,
             c.fmax, c.sample_rate);
  } else if (!IsFinite(c.quant_scale) || !(c.quant_scale > 0.0)) {
    snprintf(buf, n, "quant_scale must be positive, got %g", c.quant_scale);
  } else if (!IsFinite(c.quant_offset)) {
    snprintf(buf, n, "quant_offset must be finite, got %g", c.quant_offset);
  } else if (!IsFinite(c.log_floor) || !(c.log_floor > 0.0)) {
    snprintf(buf, n, "log_floor must be positive, got %g", c.log_floor);
  } else if (!IsFinite(c.channel_norm) || !(c.channel_norm >= 0.0 && c.channel_norm <= 1.0)) {
    snprintf(buf, n, "channel_norm must be in [0, 1] (0 = off), got %g", c.channel_norm);
  } else if (!IsFinite(c.channel_norm_smoothing) ||
             !(c.channel_norm_smoothing > 0.0 && c.channel_norm_smoothing <= 1.0)) {
    snprintf(buf, n, "channel_norm_smoothing must be in (0, 1], got %g", c.channel_norm_smoothing);
  } else {
    return nullptr;
  }
  return buf;
}

const char* Frontend::Init(const Config& cfg) {
  initialized_ = false;
  if (const char* err = ValidateConfig(cfg, error_, sizeof error_)) return err;
  cfg_ = cfg;
  n_fft_ = cfg.n_fft;
  nc_ = n_fft_ / 2;
  window_ = cfg.window_samples;
  pad_ = (n_fft_ - window_) / 2;
  hop_ = cfg.hop_samples;
  n_mels_ = cfg.n_mels;
  n_mfcc_ = cfg.n_mfcc;
  num_features_ = cfg.num_features();
  log_floor_ = static_cast<float>(cfg.log_floor);
  quant_scale_ = static_cast<float>(cfg.quant_scale);
  quant_offset_ = static_cast<float>(cfg.quant_offset);
  norm_alpha_ = static_cast<float>(cfg.channel_norm);
  norm_s_ = static_cast<float>(cfg.channel_norm_smoothing);

  // Window: Hann / 32768 (folds the int16 -> float scaling in exactly: both are powers of two).
  for (int i = 0; i < n_fft_; ++i) win_[i] = 0.f;
  for (int i = 0; i < window_; ++i) win_[pad_ + i] = HannValue(i, window_) * (1.0f / 32768.0f);

  // FFT of nc_ complex points: an optional radix-2 first pass, then radix-4 passes.
  const int log2nc = Log2(nc_);
  first_radix4_ = (log2nc % 2) == 0;
  first_h_ = first_radix4_ ? 4 : 2;
  const int first_group = first_radix4_ ? 4 : 2;
  const int quarter_bits = log2nc - (first_radix4_ ? 2 : 1);
  for (int g = 0; g < nc_ / first_group; ++g) {
    first_base_[g] = static_cast<uint16_t>(BitReverse(static_cast<unsigned>(g), quarter_bits));
  }
  // Zero padding seen by the radix-4 first pass: z[m] is zero when both of its window values are.
  zero_a_end_ = 0;
  zero_d_begin_ = nc_ / 4;
  if (first_radix4_) {
    const int q = nc_ / 4;
    auto zero = [this](int m) { return win_[2 * m] == 0.f && win_[2 * m + 1] == 0.f; };
    while (zero_a_end_ < q && zero(zero_a_end_)) ++zero_a_end_;
    while (zero_d_begin_ > 0 && zero(zero_d_begin_ - 1 + 3 * q)) --zero_d_begin_;
  }
  int t = 0;
  for (int h = first_h_; h < nc_; h *= 4) {
    if (4 * h == nc_) last_tw_off_ = t;
    for (int j = 0; j < h; ++j) {
      const double a = -2.0 * kPi * j / (4.0 * h);
      twiddle_[t++] = static_cast<float>(std::cos(2 * a));
      twiddle_[t++] = static_cast<float>(std::sin(2 * a));
      twiddle_[t++] = static_cast<float>(std::cos(a));
      twiddle_[t++] = static_cast<float>(std::sin(a));
      twiddle_[t++] = static_cast<float>(std::cos(3 * a));
      twiddle_[t++] = static_cast<float>(std::sin(3 * a));
    }
  }
  for (int k = 0; k <= nc_ / 2; ++k) {
    const double a = -kPi * k / nc_;
    split_tw_[2 * k] = static_cast<float>(std::cos(a));
    split_tw_[2 * k + 1] = static_cast<float>(std::sin(a));
  }

  // Mel filterbank: filter i is nonzero on bins [mel_start_[i], + mel_len_[i]). A weight is
  // nonzero only for m0 < f < m2, so only bins near that range are evaluated (fast Init on the M4,
  // where float64 is emulated).
  double* edges = mel_edges_;
  for (int i = 0; i < n_mels_ + 2; ++i) edges[i] = MelEdgeHz(cfg, i);
  const int bins = nc_ + 1;
  const double bin_hz = BinHz(cfg, 1);  // k * bin_hz == BinHz(cfg, k) exactly (rfftfreq: k * val)
  bin_hz_ = bin_hz;
  for (int i = 0; i < n_mels_; ++i) {
    const double m0 = edges[i], m1 = edges[i + 1], m2 = edges[i + 2];
    int k_lo = static_cast<int>(m0 / bin_hz) - 1, k_hi = static_cast<int>(m2 / bin_hz) + 2;
    k_lo = k_lo < 0 ? 0 : k_lo;
    k_hi = k_hi > bins ? bins : k_hi;
    int first = -1, last = -1;
    for (int k = k_lo; k < k_hi; ++k) {
      if (MelWeightLibrosa(m0, m1, m2, k * bin_hz) != 0.f) {
        if (first < 0) first = k;
        last = k;
      }
    }
    const int len = first < 0 ? 0 : last - first + 1;
    mel_start_[i] = static_cast<uint16_t>(first < 0 ? 0 : first);
    mel_len_[i] = static_cast<uint16_t>(len);
  }

  // Per bin: the (at most two, adjacent) filters it feeds, grouped into segments of equal j.
  for (int k = 0; k < 3 * kMaxBins; ++k) bin_[k] = 0.f;
  num_segs_ = 0;
  int prev_j = -1;
  for (int k = 0; k < bins; ++k) {
    int lo = -1, count = 0;
    float w[3] = {0.f, 0.f, 0.f};  // weights of filters lo, lo + 1 (and a third one: an error)
    for (int i = 0; i < n_mels_; ++i) {
      const float wi = mel_weight(i, k);
      if (wi != 0.f) {
        if (count == 0) lo = i;
        if (count < 3) w[count] = wi;
        ++count;
      }
    }
    if (count == 0) continue;
    int j;  // filter on its rising slope at bin k (j - 1 is on its falling slope)
    float w_down = 0.f, w_up = 0.f;
    if (count == 2 && mel_weight(lo + 1, k) != 0.f) {
      j = lo + 1;
      w_down = w[0];
      w_up = w[1];
    } else if (count == 1) {
      j = k * bin_hz < edges[lo + 1] ? lo : lo + 1;
      (j == lo ? w_up : w_down) = w[0];
    } else {
      snprintf(error_, sizeof error_, "FFT bin %d feeds %d mel filters, need at most 2 adjacent ones", k, count);
      return error_;
    }
    if (j < prev_j) {
      snprintf(error_, sizeof error_, "mel filters are not ordered at FFT bin %d", k);
      return error_;
    }
    bin_[3 * k] = w_down * 0.25f;
    bin_[3 * k + 1] = w_up * 0.25f;
    if (j != prev_j || seg_start_[num_segs_ - 1] + seg_len_[num_segs_ - 1] != k) {
      if (num_segs_ == kMaxMels + 1) {
        snprintf(error_, sizeof error_, "mel filterbank has more than %d bin segments", kMaxMels + 1);
        return error_;
      }
      seg_j_[num_segs_] = static_cast<uint16_t>(j);
      seg_start_[num_segs_] = static_cast<uint16_t>(k);
      seg_len_[num_segs_] = 0;
      ++num_segs_;
    }
    ++seg_len_[num_segs_ - 1];
    prev_j = j;
  }

  // Contiguous segments of consecutive filters: the mel sums roll through registers (MelLogQuantize);
  // the filters they never reach stay zero.
  mel_rolling_ = num_segs_ > 0;
  for (int s = 1; s < num_segs_; ++s) {
    if (seg_start_[s] != seg_start_[s - 1] + seg_len_[s - 1] || seg_j_[s] != seg_j_[s - 1] + 1) mel_rolling_ = false;
  }
  for (int i = 0; i < kMaxMels + 2; ++i) acc_[i] = 0.f;

  // DCT-II ortho: y[k] = scale_k * sum_n x[n] cos(pi k (2n + 1) / (2N)).
  if (n_mfcc_ > 0) {
    for (int m = 0; m < 4 * n_mels_; ++m) {
      dct_cos_[m] = static_cast<float>(std::cos(kPi * m / (2.0 * n_mels_)));
    }
    dct_scale0_ = static_cast<float>(std::sqrt(1.0 / n_mels_));
    dct_scale_ = static_cast<float>(std::sqrt(2.0 / n_mels_));
  }

  log_table_ = n_mfcc_ == 0 && norm_alpha_ == 0.f && BuildLogTable();

  for (int i = 0; i < kMaxFeatures; ++i) {
    feats_[i] = 0.f;
    mel_y_[i] = 1.f;
    out_[i] = 0;
  }
  floats_valid_ = true;
  initialized_ = true;
  Reset();
  return nullptr;
}

void Frontend::Reset() {
  for (int i = 0; i < kStreamSize; ++i) stream_[i] = 0.f;
  base_ = 0;
  filled_ = 0;
  skip_ = 0;
  norm_started_ = false;
  for (int i = 0; i < kMaxMels; ++i) norm_mean_[i] = 0.f;
}

int8_t Frontend::LogMelFeature(float y) const {
  if (log_table_) return LookupLog(y, log_thr_, log_q_, log_base_bits_, log_shift_, log_last_);
  return QuantizeInline(FastLogInline(y), quant_scale_, quant_offset_);
}

int Frontend::QuantizedLog(uint32_t y_bits) const {
  float y;
  std::memcpy(&y, &y_bits, sizeof y);
  return QuantizeInline(FastLogInline(y), quant_scale_, quant_offset_);
}

bool Frontend::BuildLogTable() {
  // Buckets of 1/2^B octave with 2^-B ln 2 <= 0.75 quant_scale: at most one step per bucket.
  int b = 0;
  while (b < 12 && 0.6931471805599453 / (1 << b) > 0.75 * cfg_.quant_scale) ++b;
  if (b >= 12) return false;
  log_shift_ = 23 - b;
  uint32_t floor_bits;
  std::memcpy(&floor_bits, &log_floor_, sizeof floor_bits);
  const uint32_t kInfBits = 0x7f800000u;
  log_base_bits_ = (floor_bits >> log_shift_) << log_shift_;
  // Bucket 0 is the first whose end quantizes above -128 (y >= log_floor never lies lower).
  while (log_base_bits_ < kInfBits && QuantizedLog(log_base_bits_ + ((1u << log_shift_) - 1)) == -128) {
    log_base_bits_ += 1u << log_shift_;
  }
  for (int i = 0; i < kMaxLogBuckets; ++i) {
    const uint32_t lo = log_base_bits_ + (static_cast<uint32_t>(i) << log_shift_);
    const uint32_t hi = lo + ((1u << log_shift_) - 1);
    if (hi >= kInfBits) return false;
    const int q_lo = QuantizedLog(lo), q_hi = QuantizedLog(hi);
    if (q_hi < q_lo || q_hi > q_lo + 1) return false;  // not monotonic or too coarse: use FastLog
    log_q_[i] = static_cast<int8_t>(q_lo);
    log_thr_[i] = 0xffffffffu;  // no step inside the bucket
    if (q_hi > q_lo) {
      uint32_t l = lo, h = hi;  // QuantizedLog(l) == q_lo, QuantizedLog(h) == q_hi
      while (h - l > 1) {
        const uint32_t m = l + (h - l) / 2;
        (QuantizedLog(m) > q_lo ? h : l) = m;
      }
      log_thr_[i] = h;
    }
    if (q_hi == 127) {  // every larger y quantizes to 127 too
      log_last_ = static_cast<uint32_t>(i);
      return true;
    }
  }
  return false;
}

const float* Frontend::last_float_features() const {
  if (!floats_valid_) {
    for (int i = 0; i < n_mels_; ++i) feats_[i] = FastLogInline(mel_y_[i]);
    floats_valid_ = true;
  }
  return feats_;
}

float Frontend::window_value(int n) const {
  if (n < 0 || n >= window_) return 0.f;
  return win_[pad_ + n] * 32768.0f;
}

float Frontend::mel_weight(int mel, int bin) const {
  if (mel < 0 || mel >= n_mels_ || bin < mel_start_[mel] || bin >= mel_start_[mel] + mel_len_[mel]) return 0.f;
  return MelWeightLibrosa(mel_edges_[mel], mel_edges_[mel + 1], mel_edges_[mel + 2], bin * bin_hz_);
}

size_t Frontend::FramesAfter(size_t n) const {
  if (!initialized_ || n <= skip_) return 0;
  n -= skip_;
  const size_t need = static_cast<size_t>(window_) - filled_;
  if (n < need) return 0;
  return 1 + (n - need) / static_cast<size_t>(hop_);
}

namespace {
// dst[0, n) = src[0, n) for dst <= src (forward copy; here the ranges never overlap: base_ >
// kStreamSize - n_fft >= n_fft >= pad + filled). Eight floats per VLDM / VSTM pair on the M4
// (newlib's memmove takes ~3 instructions per float).
void MoveFloats(float* dst, const float* src, size_t n) {
#if FRONTEND_ARM_ASM
  if (size_t blocks = n / 8) {
    __asm__ volatile(
        "1:\n\t"
        "vldmia %[s]!, {s8-s15}\n\t"
        "vstmia %[d]!, {s8-s15}\n\t"
        "subs %[n], %[n], #1\n\t"
        "bne 1b"
        : [s] "+r"(src), [d] "+r"(dst), [n] "+r"(blocks)
        :
        : "s8", "s9", "s10", "s11", "s12", "s13", "s14", "s15", "cc", "memory");
    n &= 7;  // src and dst have moved past the blocks
  }
#endif
  std::memmove(dst, src, sizeof(float) * n);
}
}  // namespace

bool Frontend::AddSample(const int16_t* pcm, size_t n, size_t* used) {
  size_t i = 0;
  if (skip_ > 0) {
    const size_t s = skip_ < n ? skip_ : n;
    skip_ -= s;
    i = s;
  }
  const size_t need = static_cast<size_t>(window_) - filled_;
  const size_t take = (n - i) < need ? (n - i) : need;
  float* dst = stream_ + base_ + pad_ + filled_;
  size_t k = 0;
#if FRONTEND_ARM_ASM
  // Four samples per iteration: two (unaligned) word loads, VCVT of the low halfword directly
  // (.s16 fixed point, 0 fraction bits) and of the high one after a shift, one VSTM: 3.25
  // instructions per sample instead of 6.
  if (size_t quads = take / 4) {
    const int16_t* src = pcm + i;
    float* d = dst;
    uint32_t w0, w1, h0, h1;
    __asm__ volatile(
        "1:\n\t"
        "ldr %[w0], [%[src]], #4\n\t"
        "ldr %[w1], [%[src]], #4\n\t"
        "asr %[h0], %[w0], #16\n\t"
        "asr %[h1], %[w1], #16\n\t"
        "vmov s12, s13, %[w0], %[h0]\n\t"
        "vmov s14, s15, %[w1], %[h1]\n\t"
        "vcvt.f32.s16 s12, s12, #0\n\t"
        "vcvt.f32.s32 s13, s13\n\t"
        "vcvt.f32.s16 s14, s14, #0\n\t"
        "vcvt.f32.s32 s15, s15\n\t"
        "vstmia %[d]!, {s12-s15}\n\t"
        "subs %[n], %[n], #1\n\t"
        "bne 1b"
        : [src] "+r"(src), [d] "+r"(d), [n] "+r"(quads), [w0] "=&r"(w0), [w1] "=&r"(w1), [h0] "=&r"(h0),
          [h1] "=&r"(h1)
        :
        : "s12", "s13", "s14", "s15", "cc", "memory");
    k = take & ~static_cast<size_t>(3);
  }
#endif
  for (; k < take; ++k) dst[k] = static_cast<float>(pcm[i + k]);
  filled_ += take;
  *used = i + take;
  if (filled_ < static_cast<size_t>(window_)) return false;

  ComputeFrame();
  if (hop_ < window_) {
    filled_ = static_cast<size_t>(window_ - hop_);
    base_ += static_cast<size_t>(hop_);
    if (base_ + static_cast<size_t>(n_fft_) > static_cast<size_t>(kStreamSize)) {
      // Move the kept samples (and the zeros/old samples before them) back to the front.
      MoveFloats(stream_, stream_ + base_, static_cast<size_t>(pad_) + filled_);
      base_ = 0;
    }
  } else {
    filled_ = 0;
    skip_ = static_cast<size_t>(hop_ - window_);
  }
  return true;
}

size_t Frontend::Push(const int16_t* pcm, size_t n, FrameCallback cb, void* user) {
  if (!initialized_ || pcm == nullptr) return 0;
  size_t frames = 0;
  while (n > 0) {
    size_t used = 0;
    if (AddSample(pcm, n, &used)) {
      ++frames;
      if (cb != nullptr) cb(out_, num_features_, user);
    }
    pcm += used;
    n -= used;
  }
  return frames;
}

size_t Frontend::Push(const int16_t* pcm, size_t n, int8_t* out, size_t max_frames, size_t* consumed) {
  size_t frames = 0, total = 0;
  if (initialized_ && pcm != nullptr && out != nullptr) {
    while (total < n && frames < max_frames) {
      size_t used = 0;
      if (AddSample(pcm + total, n - total, &used)) {
        std::memcpy(out + frames * static_cast<size_t>(num_features_), out_, static_cast<size_t>(num_features_));
        ++frames;
      }
      total += used;
    }
  }
  if (consumed != nullptr) *consumed = total;
  return frames;
}

namespace {
// One mel segment (frontend.h, bin_): `len` bins from b (3 floats each), in increasing order, each
// filter a sequential sum as a dot product: down += w_down p, up += w_up p. Returns the end of b.
inline const float* SegmentDot(const float* b, int len, float* down_io, float* up_io) {
  float down = *down_io, up = *up_io;
#if FRONTEND_ARM_ASM
  // Two bins per iteration, their six floats in one VLDM: 7 instructions instead of 14.
  if (int pairs = len / 2) {
    __asm__ volatile(
        "1:\n\t"
        "vldmia %[b]!, {s8-s13}\n\t"
        "vfma.f32 %[down], s8, s10\n\t"
        "vfma.f32 %[up], s9, s10\n\t"
        "vfma.f32 %[down], s11, s13\n\t"
        "vfma.f32 %[up], s12, s13\n\t"
        "subs %[n], %[n], #1\n\t"
        "bne 1b"
        : [b] "+r"(b), [n] "+r"(pairs), [down] "+t"(down), [up] "+t"(up)
        :
        : "s8", "s9", "s10", "s11", "s12", "s13", "cc", "memory");
  }
#else
  for (int i = 0; i + 2 <= len; i += 2, b += 6) {
    down = Fma(b[0], b[2], down);
    up = Fma(b[1], b[2], up);
    down = Fma(b[3], b[5], down);
    up = Fma(b[4], b[5], up);
  }
#endif
  if (len & 1) {
    down = Fma(b[0], b[2], down);
    up = Fma(b[1], b[2], up);
    b += 3;
  }
  *down_io = down;
  *up_io = up;
  return b;
}
}  // namespace

void Frontend::MelLogQuantize() {
  float* logmel = n_mfcc_ > 0 ? logmel_ : feats_;
  float* acc = acc_;
  if (mel_rolling_) {
    // Segments are contiguous and segment s + 1 has j + 1: filter j - 1 is complete after segment
    // s, and filter j carries over from `up` to `down` (the same sums as below, in registers).
    int j = seg_j_[0];
    float down = 0.f, up = 0.f;
    const float* b = bin_ + 3 * seg_start_[0];
    for (int s = 0; s < num_segs_; ++s, ++j) {
      b = SegmentDot(b, seg_len_[s], &down, &up);
      acc[j] = down;
      down = up;
      up = 0.f;
    }
    acc[j] = down;
  } else {
    for (int i = 0; i < n_mels_ + 2; ++i) acc[i] = 0.f;
    for (int s = 0; s < num_segs_; ++s) {
      const int j = seg_j_[s];
      SegmentDot(bin_ + 3 * seg_start_[s], seg_len_[s], &acc[j], &acc[j + 1]);
    }
  }
  if (log_table_) {
    const uint32_t* thr = log_thr_;
    const int8_t* q = log_q_;
    for (int i = 0; i < n_mels_; ++i) {
      const float y = acc[i + 1] + log_floor_;
      mel_y_[i] = y;
      out_[i] = LookupLog(y, thr, q, log_base_bits_, log_shift_, log_last_);
    }
    floats_valid_ = false;
    return;
  }
  if (norm_alpha_ != 0.f) {  // feature_spec.md, "Channel normalization"
    float* m = norm_mean_;
    // The stream's first frame: m = x exactly (Reset zeroed m: 0 + 1 * (x - 0)).
    const float s = norm_started_ ? norm_s_ : 1.f;
    const float alpha = norm_alpha_;
    norm_started_ = true;
    if (n_mfcc_ == 0) {  // one pass: log, running mean, normalize, quantize
      const float scale = quant_scale_, offset = quant_offset_;
      for (int i = 0; i < n_mels_; ++i) {
        const float x = FastLogInline(acc[i + 1] + log_floor_);
        const float mi = m[i] + s * (x - m[i]);
        m[i] = mi;
        const float v = x - alpha * mi;
        logmel[i] = v;
        out_[i] = QuantizeInline(v, scale, offset);
      }
      return;
    }
    for (int i = 0; i < n_mels_; ++i) {
      const float x = FastLogInline(acc[i + 1] + log_floor_);
      m[i] = m[i] + s * (x - m[i]);
      logmel[i] = x - alpha * m[i];
    }
  } else {
    for (int i = 0; i < n_mels_; ++i) logmel[i] = FastLogInline(acc[i + 1] + log_floor_);
  }
  if (n_mfcc_ > 0) {
    const int m4 = 4 * n_mels_;
    for (int k = 0; k < n_mfcc_; ++k) {
      float acc = 0.f;
      int idx = k;  // k (2n + 1) mod 4N
      for (int n = 0; n < n_mels_; ++n) {
        acc += logmel[n] * dct_cos_[idx];
        idx += 2 * k;
        while (idx >= m4) idx -= m4;
      }
      feats_[k] = acc * (k == 0 ? dct_scale0_ : dct_scale_);
    }
  }
  for (int i = 0; i < num_features_; ++i) out_[i] = QuantizeInline(feats_[i], quant_scale_, quant_offset_);
}

void Frontend::ComputeFrame() {
  FirstPass(fft_);
  Radix4Passes(fft_, false);
  LastPassSplitPower(fft_);
  MelLogQuantize();
}

}  // namespace frontend
