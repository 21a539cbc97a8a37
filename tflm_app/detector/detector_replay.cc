// Host CLI for tests/test_detector_parity.py: replays a score file through kws::Detector.
//
//   detector_replay --classes C --keywords 1,2 [--window N] [--threshold T] [--refractory R]
//                   [--min-frames M] scores.txt
// scores.txt: one frame per line, C integers 0..255. Prints "frame class score" per detection.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "detector.h"

namespace {

int Usage(const char* msg) {
  fprintf(stderr, "detector_replay: %s\n", msg);
  fprintf(stderr, "usage: detector_replay --classes C --keywords k1,k2 [--window N] [--threshold T] "
                  "[--refractory R] [--min-frames M] scores.txt\n");
  return 2;
}

bool ParseInt(const char* s, int32_t* out) {
  char* end = nullptr;
  const long v = strtol(s, &end, 10);
  if (end == s || *end != '\0') return false;
  *out = static_cast<int32_t>(v);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  kws::DetectorConfig cfg;
  int32_t classes = 0;
  const char* path = nullptr;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    const bool has_value = i + 1 < argc;
    int32_t* target = nullptr;
    if (strcmp(a, "--classes") == 0) target = &classes;
    else if (strcmp(a, "--window") == 0) target = &cfg.window_frames;
    else if (strcmp(a, "--threshold") == 0) target = &cfg.threshold;
    else if (strcmp(a, "--refractory") == 0) target = &cfg.refractory_frames;
    else if (strcmp(a, "--min-frames") == 0) target = &cfg.min_frames;
    if (target != nullptr) {
      if (!has_value || !ParseInt(argv[++i], target)) return Usage("bad integer option value");
    } else if (strcmp(a, "--keywords") == 0) {
      if (!has_value) return Usage("--keywords needs a value");
      char* p = argv[++i];
      cfg.num_keywords = 0;
      while (*p != '\0') {
        char* end = nullptr;
        const long v = strtol(p, &end, 10);
        if (end == p || cfg.num_keywords >= kws::kMaxKeywords) return Usage("bad --keywords list");
        cfg.keywords[cfg.num_keywords++] = static_cast<int32_t>(v);
        p = (*end == ',') ? end + 1 : end;
        if (*end != ',' && *end != '\0') return Usage("bad --keywords list");
      }
    } else if (a[0] != '-' && path == nullptr) {
      path = a;
    } else {
      return Usage("unknown argument");
    }
  }
  if (path == nullptr) return Usage("missing scores file");
  kws::Detector det;
  if (const char* err = det.Init(cfg, classes)) return Usage(err);
  FILE* f = fopen(path, "r");
  if (f == nullptr) {
    fprintf(stderr, "detector_replay: cannot open %s\n", path);
    return 2;
  }
  uint8_t row[1024];
  if (classes > 1024) return Usage("too many classes");
  for (int32_t line = 1;; ++line) {
    int32_t c = 0;
    for (; c < classes; ++c) {
      int v = 0;
      if (fscanf(f, "%d", &v) != 1) break;
      if (v < 0 || v > 255) {
        fprintf(stderr, "detector_replay: %s line %d: score %d out of [0, 255]\n", path,
                static_cast<int>(line), v);
        fclose(f);
        return 2;
      }
      row[c] = static_cast<uint8_t>(v);
    }
    if (c == 0) break;
    if (c != classes) {
      fprintf(stderr, "detector_replay: %s line %d: expected %d scores\n", path, static_cast<int>(line),
              static_cast<int>(classes));
      fclose(f);
      return 2;
    }
    kws::Detection d;
    if (det.Push(row, &d)) printf("%d %d %d\n", static_cast<int>(d.frame), static_cast<int>(d.class_index),
                                    static_cast<int>(d.score));
  }
  fclose(f);
  return 0;
}
