// Flash/RAM footprint of the nRF52840 pipeline: frontend + FastGRNN (G12, compiled-in weights)
// + head + scores + detector, fed from a 160-sample buffer as a microphone driver would fill
// it. No printf; only what firmware would link (plus the semihosting startup, a few hundred
// bytes). Built per FastGRNN implementation and measured with arm-none-eabi-size.
#include <cstdint>
#include <cstring>

#include "detector.h"
#include "fastgrnn_int8.h"
#include "frontend.h"
#include "head.h"

#include "bench_params.h"

namespace {
namespace bm = bench_model;
// Static working memory for either implementation (G12: M4 needs 15832 + 1264 bytes).
constexpr size_t kScratchCapacity = 1536;
constexpr size_t kPreparedCapacity = 24576;
alignas(8) uint8_t g_scratch[kScratchCapacity];
alignas(8) uint8_t g_prepared[kPreparedCapacity];
int8_t g_h[bm::kUnits];
int8_t g_out[bm::kUnits];
int8_t g_head_scratch[head::kScratchBytes];
int8_t g_logits[head::kMaxWidth];
uint8_t g_scores[head::kMaxWidth];
volatile int16_t g_mic[160];  // filled by the PDM driver on the board
frontend::Frontend g_frontend;
kws::Detector g_detector;
}  // namespace

int main() {
  const fastgrnn::Int8Params p = BenchModelParams();
  if (fastgrnn::Validate(p) != nullptr || fastgrnn::ScratchBytes(p) > kScratchCapacity ||
      fastgrnn::PreparedBytes(p) > kPreparedCapacity) {
    return 1;
  }
  fastgrnn::PrepareWeights(p, g_prepared);

  const head::HeadParams hp = BenchHeadParams();
  if (head::Validate(hp) != nullptr) return 1;

  frontend::Config fcfg;
  if (g_frontend.Init(fcfg) != nullptr) return 1;
  kws::DetectorConfig dcfg;
  dcfg.num_keywords = 1;
  dcfg.keywords[0] = 2;
  if (g_detector.Init(dcfg, bm::kClasses) != nullptr) return 1;

  int detections = 0;
  for (int hop = 0; hop < 100; ++hop) {  // on the board: forever, one hop per PDM buffer
    int16_t pcm[160];
    for (int i = 0; i < 160; ++i) pcm[i] = g_mic[i];
    int8_t frame[frontend::kMaxFeatures];
    if (g_frontend.Push(pcm, 160, frame, 1, nullptr) != 1) continue;
    fastgrnn::Run(p, g_prepared, frame, 1, g_h, g_out, false, g_scratch);
    head::Run(hp, g_h, g_logits, g_head_scratch);
    head::Scores(g_logits, hp.num_classes(), hp.logit_scale, hp.logit_zero_point, g_scores);
    kws::Detection d;
    if (g_detector.Push(g_scores, &d)) detections++;
  }
  return detections >= 0 ? 0 : 1;
}
