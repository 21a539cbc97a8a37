// C ABI of the streaming frontend for Python (ctypes): keyword_spotting/device_frontend.py loads the
// shared library `kws_frontend` built from this file, so that the Python streaming pipeline computes
// exactly the device's int8 features (as TFLM's micro_speech trains on its C frontend). Host only: it
// allocates the Frontend with new; the device code never links this file.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <new>

#include "frontend.h"

namespace {

void CopyError(const char* msg, char* err, int err_len) {
  if (err != nullptr && err_len > 0) std::snprintf(err, static_cast<size_t>(err_len), "%s", msg);
}

struct Sink {
  int8_t* out;
  int64_t written;
};

void Collect(const int8_t* features, int num_features, void* user) {
  auto* sink = static_cast<Sink*>(user);
  for (int i = 0; i < num_features; ++i) sink->out[sink->written * num_features + i] = features[i];
  ++sink->written;
}

}  // namespace

extern "C" {

// Field order of `fields` (num_fields 13, or 11 for contract v1: no channel normalization):
// sample_rate, window_samples, hop_samples, n_fft, n_mels, fmin, fmax, log_floor, n_mfcc, quant_scale,
// quant_offset, channel_norm, channel_norm_smoothing (keyword_spotting.FeatureSpec).
// Returns a handle, or nullptr with the reason in `err`.
__attribute__((visibility("default"))) void* kws_frontend_create(const double* fields, int num_fields, char* err,
                                                                 int err_len) {
  if (fields == nullptr || (num_fields != 13 && num_fields != 11)) {
    CopyError("kws_frontend_create: expected 13 config fields (11 for contract v1)", err, err_len);
    return nullptr;
  }
  frontend::Config c;
  c.sample_rate = static_cast<int>(fields[0]);
  c.window_samples = static_cast<int>(fields[1]);
  c.hop_samples = static_cast<int>(fields[2]);
  c.n_fft = static_cast<int>(fields[3]);
  c.n_mels = static_cast<int>(fields[4]);
  c.fmin = fields[5];
  c.fmax = fields[6];
  c.log_floor = fields[7];
  c.n_mfcc = static_cast<int>(fields[8]);
  c.quant_scale = fields[9];
  c.quant_offset = fields[10];
  if (num_fields == 13) {
    c.channel_norm = fields[11];
    c.channel_norm_smoothing = fields[12];
  }
  auto* fe = new (std::nothrow) frontend::Frontend();
  if (fe == nullptr) {
    CopyError("kws_frontend_create: out of memory", err, err_len);
    return nullptr;
  }
  if (const char* msg = fe->Init(c)) {
    CopyError(msg, err, err_len);
    delete fe;
    return nullptr;
  }
  return fe;
}

__attribute__((visibility("default"))) void kws_frontend_destroy(void* handle) {
  delete static_cast<frontend::Frontend*>(handle);
}

__attribute__((visibility("default"))) void kws_frontend_reset(void* handle) {
  static_cast<frontend::Frontend*>(handle)->Reset();
}

__attribute__((visibility("default"))) int kws_frontend_num_features(void* handle) {
  return static_cast<frontend::Frontend*>(handle)->num_features();
}

// Frames that pushing `n` more samples will complete.
__attribute__((visibility("default"))) int64_t kws_frontend_frames_after(void* handle, int64_t n) {
  return static_cast<int64_t>(static_cast<frontend::Frontend*>(handle)->FramesAfter(static_cast<size_t>(n)));
}

// Pushes all `n` samples; writes the completed frames (int8 [frames, num_features]) to `out`, which
// must hold kws_frontend_frames_after(n) frames. Returns the number of frames, or -1 if `max_frames`
// is too small (nothing is consumed then).
__attribute__((visibility("default"))) int64_t kws_frontend_push(void* handle, const int16_t* pcm, int64_t n,
                                                                 int8_t* out, int64_t max_frames) {
  auto* fe = static_cast<frontend::Frontend*>(handle);
  if (n < 0 || static_cast<int64_t>(fe->FramesAfter(static_cast<size_t>(n))) > max_frames) return -1;
  Sink sink{out, 0};
  fe->Push(pcm, static_cast<size_t>(n), Collect, &sink);
  return sink.written;
}

}  // extern "C"
