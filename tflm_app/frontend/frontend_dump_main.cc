// frontend_dump: int8 features of a mono int16 WAV with the streaming C++ frontend, written as a
// raw int8 file [frames, num_features] (row-major), for comparison with keyword_spotting.features.
//
//   frontend_dump [--chunk N] [--set field=value]... [--float F32] [--tables F32] IN.wav OUT.bin
//
//   --chunk N         push the samples N at a time (default 512; 0 = the whole clip at once)
//   --set f=v         override a Config / FeatureSpec field (sample_rate, window_samples, hop_samples,
//                     n_fft, n_mels, fmin, fmax, log_floor, n_mfcc, quant_scale, quant_offset,
//                     channel_norm, channel_norm_smoothing)
//   --float F32       also write the float features (float32 [frames, num_features])
//   --tables F32      also write the init tables: float32 window[window_samples], then
//                     mel[n_mels][n_fft / 2 + 1] (as librosa.filters.mel gives them)
//
// The WAV must be PCM 16-bit mono at the config's sample rate (16 kHz by default); anything else is
// rejected with a message. Host only (file I/O); the library itself has none.
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "frontend.h"

namespace {

int Usage(const char* msg) {
  fprintf(stderr, "frontend_dump: %s\n", msg);
  fprintf(stderr,
          "usage: frontend_dump [--chunk N] [--set field=value]... [--float F32] [--tables F32] IN.wav OUT.bin\n");
  return 2;
}

uint32_t Le32(const uint8_t* p) { return p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24); }
uint16_t Le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

bool ReadFile(const char* path, std::vector<uint8_t>* data) {
  FILE* f = fopen(path, "rb");
  if (f == nullptr) {
    fprintf(stderr, "frontend_dump: cannot open %s: %s\n", path, strerror(errno));
    return false;
  }
  uint8_t buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) data->insert(data->end(), buf, buf + n);
  fclose(f);
  return true;
}

// Parses a RIFF/WAVE file holding 16-bit PCM mono at `rate` Hz into `pcm`.
bool ParseWav(const char* path, const std::vector<uint8_t>& d, int rate, std::vector<int16_t>* pcm) {
  if (d.size() < 12 || memcmp(d.data(), "RIFF", 4) != 0 || memcmp(d.data() + 8, "WAVE", 4) != 0) {
    fprintf(stderr, "frontend_dump: %s is not a RIFF/WAVE file\n", path);
    return false;
  }
  bool have_fmt = false;
  size_t pos = 12;
  while (pos + 8 <= d.size()) {
    const uint8_t* h = d.data() + pos;
    const uint32_t size = Le32(h + 4);
    const size_t body = pos + 8;
    const size_t avail = d.size() - body;
    if (memcmp(h, "fmt ", 4) == 0) {
      if (size < 16 || avail < 16) {
        fprintf(stderr, "frontend_dump: %s: truncated fmt chunk\n", path);
        return false;
      }
      const uint8_t* f = d.data() + body;
      uint16_t format = Le16(f);
      if (format == 0xFFFE && size >= 40 && avail >= 40) format = Le16(f + 24);  // WAVE_FORMAT_EXTENSIBLE
      const uint16_t channels = Le16(f + 2);
      const uint32_t sr = Le32(f + 4);
      const uint16_t bits = Le16(f + 14);
      if (format != 1 || bits != 16) {
        fprintf(stderr, "frontend_dump: %s: need 16-bit integer PCM, got format %u with %u bits\n", path, format,
                bits);
        return false;
      }
      if (channels != 1) {
        fprintf(stderr, "frontend_dump: %s: need mono, got %u channels\n", path, channels);
        return false;
      }
      if (static_cast<int>(sr) != rate) {
        fprintf(stderr, "frontend_dump: %s: need %d Hz (resample it first), got %u Hz\n", path, rate,
                static_cast<unsigned>(sr));
        return false;
      }
      have_fmt = true;
    } else if (memcmp(h, "data", 4) == 0) {
      if (!have_fmt) {
        fprintf(stderr, "frontend_dump: %s: data chunk before fmt chunk\n", path);
        return false;
      }
      const size_t bytes = (size > avail ? avail : size) & ~static_cast<size_t>(1);
      pcm->resize(bytes / 2);
      for (size_t i = 0; i < pcm->size(); ++i) (*pcm)[i] = static_cast<int16_t>(Le16(d.data() + body + 2 * i));
      return true;
    }
    pos = body + size + (size & 1u);
  }
  fprintf(stderr, "frontend_dump: %s: no %s chunk\n", path, have_fmt ? "data" : "fmt");
  return false;
}

bool SetField(frontend::Config* c, const std::string& kv) {
  const size_t eq = kv.find('=');
  if (eq == std::string::npos) return false;
  const std::string k = kv.substr(0, eq);
  const char* v = kv.c_str() + eq + 1;
  char* end = nullptr;
  const double x = strtod(v, &end);
  if (end == v || *end != '\0') return false;
  const int i = static_cast<int>(x);
  const bool integral = static_cast<double>(i) == x;
  if (k == "sample_rate" && integral) c->sample_rate = i;
  else if (k == "window_samples" && integral) c->window_samples = i;
  else if (k == "hop_samples" && integral) c->hop_samples = i;
  else if (k == "n_fft" && integral) c->n_fft = i;
  else if (k == "n_mels" && integral) c->n_mels = i;
  else if (k == "n_mfcc" && integral) c->n_mfcc = i;
  else if (k == "fmin") c->fmin = x;
  else if (k == "fmax") c->fmax = x;
  else if (k == "log_floor") c->log_floor = x;
  else if (k == "quant_scale") c->quant_scale = x;
  else if (k == "quant_offset") c->quant_offset = x;
  else if (k == "channel_norm") c->channel_norm = x;
  else if (k == "channel_norm_smoothing") c->channel_norm_smoothing = x;
  else return false;
  return true;
}

bool WriteFile(const char* path, const void* data, size_t bytes) {
  FILE* f = fopen(path, "wb");
  if (f == nullptr || (bytes > 0 && fwrite(data, 1, bytes, f) != bytes) || fclose(f) != 0) {
    fprintf(stderr, "frontend_dump: cannot write %s: %s\n", path, strerror(errno));
    return false;
  }
  return true;
}

struct Sink {
  std::vector<int8_t> q;
  std::vector<float> f;
  const frontend::Frontend* fe;
};

void OnFrame(const int8_t* features, int n, void* user) {
  Sink* s = static_cast<Sink*>(user);
  s->q.insert(s->q.end(), features, features + n);
  const float* f = s->fe->last_float_features();
  s->f.insert(s->f.end(), f, f + n);
}

frontend::Frontend g_frontend;  // ~18 KB of tables: static storage, as on the device

}  // namespace

int main(int argc, char** argv) {
  frontend::Config cfg;
  long chunk = 512;
  const char* float_path = nullptr;
  const char* tables_path = nullptr;
  std::vector<const char*> positional;
  for (int a = 1; a < argc; ++a) {
    const std::string arg = argv[a];
    const bool has_value = a + 1 < argc;
    if (arg == "--chunk" && has_value) {
      char* end = nullptr;
      chunk = strtol(argv[++a], &end, 10);
      if (*end != '\0' || chunk < 0) return Usage("--chunk needs a non-negative integer");
    } else if (arg == "--set" && has_value) {
      if (!SetField(&cfg, argv[++a])) {
        return Usage(("bad --set " + std::string(argv[a]) + " (unknown field or bad number)").c_str());
      }
    } else if (arg == "--float" && has_value) {
      float_path = argv[++a];
    } else if (arg == "--tables" && has_value) {
      tables_path = argv[++a];
    } else if (arg.size() > 1 && arg[0] == '-') {
      return Usage(("unknown option or missing value: " + arg).c_str());
    } else {
      positional.push_back(argv[a]);
    }
  }
  if (positional.size() != 2) return Usage("need IN.wav and OUT.bin");
  if (const char* err = g_frontend.Init(cfg)) {
    fprintf(stderr, "frontend_dump: bad config: %s\n", err);
    return 2;
  }
  std::vector<uint8_t> bytes;
  std::vector<int16_t> pcm;
  if (!ReadFile(positional[0], &bytes) || !ParseWav(positional[0], bytes, cfg.sample_rate, &pcm)) return 1;

  Sink sink;
  sink.fe = &g_frontend;
  const size_t step = chunk == 0 ? (pcm.empty() ? 1 : pcm.size()) : static_cast<size_t>(chunk);
  for (size_t i = 0; i < pcm.size(); i += step) {
    const size_t n = pcm.size() - i < step ? pcm.size() - i : step;
    g_frontend.Push(pcm.data() + i, n, OnFrame, &sink);
  }
  if (!WriteFile(positional[1], sink.q.data(), sink.q.size())) return 1;
  if (float_path != nullptr && !WriteFile(float_path, sink.f.data(), sink.f.size() * sizeof(float))) return 1;
  if (tables_path != nullptr) {
    std::vector<float> t;
    for (int i = 0; i < cfg.window_samples; ++i) t.push_back(g_frontend.window_value(i));
    for (int m = 0; m < cfg.n_mels; ++m) {
      for (int k = 0; k <= cfg.n_fft / 2; ++k) t.push_back(g_frontend.mel_weight(m, k));
    }
    if (!WriteFile(tables_path, t.data(), t.size() * sizeof(float))) return 1;
  }
  return 0;
}
