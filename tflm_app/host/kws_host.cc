// Host runner of the whole wake-word pipeline on a WAV file, as the board runs it live:
// audio in microphone-sized chunks -> streaming frontend -> int8 FastGRNN step per frame (state
// kept) -> int8 head -> uint8 scores -> detector (kws::FramePipeline, tflm_app/pipeline; the core is
// called directly, not through the TFLM op). Bit-exact with keyword_spotting/streaming.py.
//
//   kws_host --model model.fgb --wav clip.wav [--scores scores.txt] [--features feats.txt]
//            [--chunk 512] [--quiet]
//   kws_host --model model.fgb --features-in feats.txt [--scores scores.txt]   (skip the frontend)
//
// Prints one line per detection and a final summary line:
//   detection t=1.230s frame=120 class=2 label=yes score=201
//   summary frames=98 detections=1 audio=1.000s
// Exit codes: 0 success, 2 bad arguments / unreadable or unsupported model or WAV file.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core_model.h"
#include "model.h"
#include "pipeline.h"
#include "wav.h"

namespace {

constexpr int kBadInput = 2;

int Usage(const char* msg) {
  fprintf(stderr, "kws_host: %s\n", msg);
  fprintf(stderr,
          "usage: kws_host --model model.fgb (--wav clip.wav | --features-in feats.txt) [--scores out.txt]\n"
          "                [--features out.txt] [--chunk samples] [--quiet]\n");
  return kBadInput;
}

// Writes what the pipeline hands back after every frame: feature and score rows, detections.
class FrameSink {
 public:
  explicit FrameSink(const kws::Model& model) : model_(model) {}

  void set_scores_file(FILE* f) { scores_file_ = f; }
  void set_features_file(FILE* f) { features_file_ = f; }
  void set_quiet(bool quiet) { quiet_ = quiet; }
  int32_t detections() const { return detections_; }

  void operator()(const kws::FrameResult& r) {
    if (features_file_ != nullptr) WriteRow(features_file_, r.features, model_.step.input_dim);
    if (scores_file_ != nullptr) WriteRow(scores_file_, r.scores, model_.num_classes);
    if (!r.detected) return;
    ++detections_;
    const kws::FeatureFields& f = model_.features;
    const kws::Detection& det = r.detection;
    const double t = (static_cast<double>(det.frame) * f.hop_samples + f.window_samples) / f.sample_rate;
    if (!quiet_) {
      printf("detection t=%.3fs frame=%d class=%d label=%s score=%d\n", t, static_cast<int>(det.frame),
             static_cast<int>(det.class_index), model_.class_names[det.class_index],
             static_cast<int>(det.score));
    }
  }

 private:
  template <typename T>
  static void WriteRow(FILE* f, const T* v, int32_t n) {
    for (int32_t i = 0; i < n; ++i) fprintf(f, i ? " %d" : "%d", static_cast<int>(v[i]));
    fputc('\n', f);
  }

  const kws::Model& model_;
  FILE* scores_file_ = nullptr;
  FILE* features_file_ = nullptr;
  bool quiet_ = false;
  int32_t detections_ = 0;
};

// Reads int8 rows of `dim` integers from a text file into `out` (row-major).
bool ReadFeatureText(const char* path, int32_t dim, std::vector<int8_t>* out) {
  FILE* f = fopen(path, "r");
  if (f == nullptr) {
    fprintf(stderr, "kws_host: %s: cannot open\n", path);
    return false;
  }
  int v = 0;
  bool ok = true;
  while (fscanf(f, "%d", &v) == 1) {
    if (v < -128 || v > 127) {
      fprintf(stderr, "kws_host: %s: feature value %d out of int8 range\n", path, v);
      ok = false;
      break;
    }
    out->push_back(static_cast<int8_t>(v));
  }
  if (ok && !feof(f)) {
    fprintf(stderr, "kws_host: %s: not a list of integers\n", path);
    ok = false;
  }
  fclose(f);
  if (ok && out->size() % static_cast<size_t>(dim) != 0) {
    fprintf(stderr, "kws_host: %s: %zu values is not a whole number of %d-value frames\n", path, out->size(),
            static_cast<int>(dim));
    ok = false;
  }
  return ok;
}

FILE* OpenOut(const char* path) {
  FILE* f = fopen(path, "w");
  if (f == nullptr) fprintf(stderr, "kws_host: %s: cannot open for writing\n", path);
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  const char* model_path = nullptr;
  const char* wav_path = nullptr;
  const char* features_in = nullptr;
  const char* scores_path = nullptr;
  const char* features_path = nullptr;
  long chunk = 512;
  bool quiet = false;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    const char** target = nullptr;
    if (strcmp(a, "--model") == 0) target = &model_path;
    else if (strcmp(a, "--wav") == 0) target = &wav_path;
    else if (strcmp(a, "--features-in") == 0) target = &features_in;
    else if (strcmp(a, "--scores") == 0) target = &scores_path;
    else if (strcmp(a, "--features") == 0) target = &features_path;
    if (target != nullptr) {
      if (i + 1 >= argc) return Usage("option needs a value");
      *target = argv[++i];
    } else if (strcmp(a, "--chunk") == 0) {
      if (i + 1 >= argc) return Usage("--chunk needs a value");
      char* end = nullptr;
      chunk = strtol(argv[++i], &end, 10);
      if (*end != '\0' || chunk < 1) return Usage("--chunk must be a positive integer");
    } else if (strcmp(a, "--quiet") == 0) {
      quiet = true;
    } else {
      fprintf(stderr, "kws_host: unknown argument %s\n", a);
      return Usage("bad arguments");
    }
  }
  if (model_path == nullptr) return Usage("--model is required");
  if ((wav_path == nullptr) == (features_in == nullptr)) {
    return Usage("give exactly one of --wav, --features-in");
  }

  std::vector<uint8_t> storage;
  static kws::Model model;  // large (class names): static storage
  if (!kws::LoadModel(model_path, &storage, &model)) {
    fprintf(stderr, "kws_host: %s\n", model.error);
    return kBadInput;
  }
  const kws::FeatureFields& ff = model.features;
  const frontend::Config cfg = kws::FrontendConfig(ff);
  const fastgrnn::Int8Params& p = model.step;
  std::vector<uint32_t> prepared(fastgrnn::PreparedBytes(p) / 4 + 1);  // uint32: 4-byte alignment
  std::vector<uint32_t> scratch(fastgrnn::ScratchBytes(p) / 4 + 1);
  static kws::FramePipeline<kws::CoreModel> pipeline;  // large (frontend tables): static storage
  if (const char* err = pipeline.model().Init(p, model.head, prepared.data(), prepared.size() * 4,
                                              scratch.data(), scratch.size() * 4)) {
    fprintf(stderr, "kws_host: %s: %s\n", model_path, err);
    return kBadInput;
  }
  if (const char* err = pipeline.Init(wav_path != nullptr ? &cfg : nullptr, model.detector)) {
    fprintf(stderr, "kws_host: %s: %s\n", model_path, err);
    return kBadInput;
  }
  FrameSink sink(model);
  FILE* scores_file = nullptr;
  FILE* features_file = nullptr;
  if (scores_path != nullptr && (scores_file = OpenOut(scores_path)) == nullptr) return kBadInput;
  if (features_path != nullptr && (features_file = OpenOut(features_path)) == nullptr) return kBadInput;
  sink.set_scores_file(scores_file);
  sink.set_features_file(features_file);
  sink.set_quiet(quiet);

  size_t num_samples = 0;
  if (wav_path != nullptr) {
    std::vector<int16_t> pcm;
    char error[256];
    if (!kws::ReadWav(wav_path, ff.sample_rate, &pcm, error, sizeof(error))) {
      fprintf(stderr, "kws_host: %s\n", error);
      return kBadInput;
    }
    num_samples = pcm.size();
    // Microphone-style delivery: fixed-size chunks, the last one partial.
    for (size_t pos = 0; pos < pcm.size(); pos += static_cast<size_t>(chunk)) {
      const size_t left = pcm.size() - pos;
      const size_t n = left < static_cast<size_t>(chunk) ? left : static_cast<size_t>(chunk);
      pipeline.Push(pcm.data() + pos, n, sink);
    }
  } else {
    std::vector<int8_t> feats;
    if (!ReadFeatureText(features_in, model.step.input_dim, &feats)) return kBadInput;
    for (size_t pos = 0; pos < feats.size(); pos += static_cast<size_t>(model.step.input_dim)) {
      pipeline.Frame(feats.data() + pos, sink);
    }
  }
  if (scores_file != nullptr) fclose(scores_file);
  if (features_file != nullptr) fclose(features_file);
  printf("summary frames=%d detections=%d audio=%.3fs\n", static_cast<int>(pipeline.frames()),
         static_cast<int>(sink.detections()),
         static_cast<double>(num_samples) / ff.sample_rate);
  return 0;
}
