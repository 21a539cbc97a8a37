#include "frontend.h"

#include <cmath>
#include <cstdio>
#include <cstring>

// No implicit a * b + c contraction (GCC contracts by default in C++, even with -std=c++17, where
// the target has FMA, i.e. on the M4 but not on a plain x86-64 host): every fused multiply-add of
// the per-frame arithmetic is an explicit Fma() below, so the host and the Cortex-M4 builds compute
// bit-identical features and the host parity tests check the device arithmetic.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

// Inline assembly for the Cortex-M4F (Armv7E-M + single-precision FPU) in a few hot loops, with
// the same operations in the same order as the portable C++ next to it (bit-identical results).
#if defined(__ARM_ARCH_7EM__) && defined(__ARM_FP) && defined(__thumb2__)
#define FRONTEND_ARM_ASM 1
#else
#define FRONTEND_ARM_ASM 0
#endif

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

unsigned BitReverse(unsigned x, int bits) {
  unsigned r = 0;
  for (int b = 0; b < bits; ++b) {
    r = (r << 1) | (x & 1u);
    x >>= 1;
  }
  return r;
}

int Log2(int n) {
  int l = 0;
  while ((1 << l) < n) ++l;
  return l;
}

bool IsFinite(double x) { return std::isfinite(x); }

}  // namespace

namespace {

// a * b + c rounded once (VFMA on the M4; fmaf on the host, correctly rounded there too), written
// out explicitly so that the host and device builds round identically (neither contracts a * b + c
// on its own: -std=c++17 implies -ffp-contract=off).
inline float Fma(float a, float b, float c) { return std::fma(a, b, c); }
// a * b - c * d with the second product rounded and the first fused.
inline float MulSub(float a, float b, float c, float d) { return Fma(a, b, -(c * d)); }
// a * b + c * d with the second product rounded and the first fused.
inline float MulAdd(float a, float b, float c, float d) { return Fma(a, b, c * d); }

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

  log_table_ = n_mfcc_ == 0 && BuildLogTable();

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
  for (int i = 0; i < n_mels_; ++i) logmel[i] = FastLogInline(acc[i + 1] + log_floor_);
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
