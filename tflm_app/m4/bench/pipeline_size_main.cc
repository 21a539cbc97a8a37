// Flash/RAM footprint of the nRF52840 pipeline (kws::FramePipeline): frontend + FastGRNN (G12,
// compiled-in weights; another shape with BENCH_SHAPE) + head + scores + detector, fed from a hop-sized buffer
// as a microphone driver would fill it. No printf; only what firmware would link (plus the semihosting startup, a few hundred
// bytes). Built per FastGRNN implementation and measured with arm-none-eabi-size.
#include <cstdint>
#include <cstring>

#include "core_model.h"
#include "pipeline.h"

#include "bench_params.h"

namespace {
namespace bm = bench_model;
// Static working memory for either implementation (G12: 1536 + 24576; its M4 path needs 1264 + 15832 bytes).
constexpr size_t kScratchCapacity = bm::kScratchCapacity;
constexpr size_t kPreparedCapacity = bm::kPreparedCapacity;
constexpr int kHop = bm::kHopSamples;
alignas(8) uint8_t g_scratch[kScratchCapacity];
alignas(8) uint8_t g_prepared[kPreparedCapacity];
volatile int16_t g_mic[kHop];  // filled by the PDM driver on the board
kws::FramePipeline<kws::CoreModel> g_pipeline;
}  // namespace

int main() {
  const fastgrnn::Int8Params p = BenchModelParams();
  const head::HeadParams hp = BenchHeadParams();
  if (g_pipeline.model().Init(p, hp, g_prepared, kPreparedCapacity, g_scratch, kScratchCapacity) != nullptr) {
    return 1;
  }
  const frontend::Config fcfg = BenchFrontendConfig();
  kws::DetectorConfig dcfg;
  dcfg.num_keywords = 1;
  dcfg.keywords[0] = 2;
  if (g_pipeline.Init(&fcfg, dcfg) != nullptr) return 1;

  int detections = 0;
  for (int hop = 0; hop < bm::kSamples / kHop; ++hop) {  // on the board: forever, one hop per PDM buffer
    int16_t pcm[kHop];
    for (int i = 0; i < kHop; ++i) pcm[i] = g_mic[i];
    g_pipeline.Push(pcm, kHop, [&detections](const kws::FrameResult& r) { detections += r.detected ? 1 : 0; });
  }
  return detections >= 0 ? 0 : 1;
}
