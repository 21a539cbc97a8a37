// Fuzz target: the `.fgb` bundle reader (tflm_app/common/bundle.h) and the whole-model loader on top
// of it (tflm_app/host/model.h), as kws_host uses them. A bundle that loads must give in-bounds
// entries; a model that loads must run: a few frames through the frame pipeline (frontend ->
// FastGRNN core -> head -> scores -> detector), so a model that passes validation but would make
// the core read outside its arrays is caught by AddressSanitizer.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "bundle.h"
#include "core_model.h"
#include "fuzz_input.h"
#include "model.h"
#include "pipeline.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> copy(data, data + size);  // exact size
  std::vector<uint8_t> storage;
  fgb::Bundle bundle;
  if (!bundle.LoadMemory(copy.data(), copy.size(), "fuzz.fgb", &storage)) {
    FUZZ_CHECK(bundle.error()[0] != '\0');
    return 0;
  }
  for (size_t i = 0; i < bundle.size(); ++i) {  // every entry lies inside the storage
    fgb::Array a;
    FUZZ_CHECK(bundle.At(i, &a));
    const uint8_t* p = static_cast<const uint8_t*>(a.data);
    FUZZ_CHECK(p >= storage.data() && p <= storage.data() + storage.size());
    FUZZ_CHECK(strlen(a.name) > 0);
  }
  static kws::Model model;  // large: static, reset per input
  model = kws::Model();
  static const bool verbose = getenv("FUZZ_VERBOSE") != nullptr;  // replay: say what the loader decided
  if (!kws::ModelFromBundle(&bundle, &model)) {
    FUZZ_CHECK(model.error[0] != '\0');
    if (verbose) printf("%s\n", model.error);
    return 0;
  }
  if (verbose) printf("model accepted\n");
  const fastgrnn::Int8Params& p = model.step;
  std::vector<uint32_t> prepared(fastgrnn::PreparedBytes(p) / 4 + 1), scratch(fastgrnn::ScratchBytes(p) / 4 + 1);
  static kws::FramePipeline<kws::CoreModel> pipe;
  if (pipe.model().Init(p, model.head, prepared.data(), prepared.size() * 4, scratch.data(), scratch.size() * 4) !=
      nullptr) {
    return 0;
  }
  const kws::FeatureFields& ff = model.features;
  const frontend::Config cfg = kws::FrontendConfig(ff);
  // The frontend's Init builds its tables (~1 ms): audio runs for one model in 32, the frames for all.
  const bool with_frontend = (copy.size() % 32 == 0) && pipe.Init(&cfg, model.detector) == nullptr;
  if (!with_frontend && pipe.Init(nullptr, model.detector) != nullptr) return 0;
  int32_t frames = 0;
  const int32_t num_classes = model.num_classes;
  auto count = [&frames, num_classes](const kws::FrameResult& r) {
    ++frames;
    if (r.detected) FUZZ_CHECK(r.detection.class_index >= 0 && r.detection.class_index < num_classes);
  };
  int8_t features[frontend::kMaxFeatures];
  for (int i = 0; i < 2; ++i) {
    for (int32_t k = 0; k < p.input_dim && k < frontend::kMaxFeatures; ++k) {
      features[k] = static_cast<int8_t>(copy[(static_cast<size_t>(k) * 7 + i) % copy.size()]);
    }
    if (p.input_dim <= frontend::kMaxFeatures) pipe.Frame(features, count);
  }
  if (with_frontend) {
    int16_t pcm[1024];
    for (int i = 0; i < 1024; ++i) pcm[i] = static_cast<int16_t>((i * 2654435761u) >> 16);
    pipe.Push(pcm, 1024, count);
  }
  FUZZ_CHECK(frames == pipe.frames());
  return 0;
}
