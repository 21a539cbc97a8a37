// The sketch's model path on the Cortex-M4 under QEMU (`make firmware-m4`): the sketch tree written by
// prepare_sketch.sh (its model, wakeword_config.h and every source the .ino compiles) with TFLM and
// CMSIS-NN, audio read from a WAV through semihosting in place of the PDM microphone.
//
//   firmware.elf MODEL.fgb AUDIO.wav
//
// The WAV (16-bit PCM mono at the model's rate) arrives in 256-sample chunks, as the PDM callback
// delivers them, into the same SampleRing; each "loop()" reads at most one hop from the ring and pushes
// it through wakeword::FirmwarePipeline() (wakeword_firmware.cc: frontend -> MicroInterpreter with the
// FastGRNN op and the head ops -> scores -> detector), exactly as nano33ble_wakeword.ino does.
// The bench path (kws::CoreModel from MODEL.fgb, what kws_host and `make bench-m4` run) is fed the
// same chunks for comparison. Prints, for firmware_report.py:
//   S <frame> <score per class>          every frame of the firmware path (logits head)
//   D <path> <frame> <class> <score>     every detection (path: firmware | bench | softmax)
//   K <key> <value>                      setup figures (arena bytes, hops, frames, ...)
// Regions counted by the insn_count plugin (bench_markers.h), 0 = empty (marker overhead):
//   20 firmware loop() with one hop (Push)    21 bench path, same   22 firmware with TFLM SOFTMAX, same
//   23 SetupFirmware (AllocateTensors: Prepare of every op, incl. the FastGRNN weight preparation)
//   24 the first Invoke after setup           25 a later Invoke (same input)
//   30 + i  operator i of the graph in every Invoke of a second firmware pass (TFLM profiler events;
//           "K op<i> <name>" names them), 29 = that pass's loop() as region 20
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "arduino/glue/wakeword_firmware.h"
#include "arduino/glue/wakeword_glue.h"
#include "bench_markers.h"
#include "model.h"
#include "pipeline/core_model.h"
#include "tensorflow/lite/micro/micro_profiler_interface.h"
#include "tensorflow/lite/schema/schema_generated.h"
#include "wakeword_config.h"

namespace {

constexpr size_t kArenaBytes = 48 * 1024;  // as nano33ble_wakeword.ino
constexpr uint32_t kPdmChunk = 256;        // samples per PDM callback on the Nano 33 BLE Sense
alignas(16) uint8_t g_arena[kArenaBytes];
wakeword::SampleRing<8192> g_ring;

alignas(8) uint8_t g_prepared[24576];
alignas(8) uint8_t g_scratch[4096];
kws::FramePipeline<kws::CoreModel> g_bench;

// A 16-bit PCM mono RIFF/WAVE file read chunk by chunk (no whole-file buffer: 256 KB of RAM).
class WavReader {
 public:
  const char* Open(const char* path, int32_t want_rate) {
    f_ = fopen(path, "rb");
    if (f_ == nullptr) return "cannot open the WAV";
    uint8_t h[12];
    if (fread(h, 1, 12, f_) != 12 || memcmp(h, "RIFF", 4) != 0 || memcmp(h + 8, "WAVE", 4) != 0) {
      return "not a RIFF/WAVE file";
    }
    bool fmt_ok = false;
    for (;;) {
      uint8_t c[8];
      if (fread(c, 1, 8, f_) != 8) return "no data chunk";
      const uint32_t size = c[4] | (c[5] << 8) | (c[6] << 16) | (static_cast<uint32_t>(c[7]) << 24);
      if (memcmp(c, "fmt ", 4) == 0) {
        uint8_t fmt[16];
        if (size < 16 || fread(fmt, 1, 16, f_) != 16) return "bad fmt chunk";
        const int format = fmt[0] | (fmt[1] << 8), channels = fmt[2] | (fmt[3] << 8);
        const int32_t rate = fmt[4] | (fmt[5] << 8) | (fmt[6] << 16) | (fmt[7] << 24);
        const int bits = fmt[14] | (fmt[15] << 8);
        if (format != 1 || channels != 1 || bits != 16 || rate != want_rate) {
          return "the WAV must be 16-bit PCM mono at the model's sample rate";
        }
        fmt_ok = true;
        if (size > 16) fseek(f_, static_cast<long>(size - 16 + (size & 1)), SEEK_CUR);
      } else if (memcmp(c, "data", 4) == 0) {
        if (!fmt_ok) return "data chunk before fmt chunk";
        remaining_ = size / 2;
        return nullptr;
      } else {
        fseek(f_, static_cast<long>(size + (size & 1)), SEEK_CUR);
      }
    }
  }
  void Rewind() {
    fseek(f_, -static_cast<long>(2 * (total_read_)), SEEK_CUR);
    remaining_ += total_read_;
    total_read_ = 0;
  }
  uint32_t Read(int16_t* out, uint32_t max) {
    const uint32_t n = max < remaining_ ? max : remaining_;
    const uint32_t got = static_cast<uint32_t>(fread(out, 2, n, f_));
    remaining_ -= got;
    total_read_ += got;
    return got;
  }

 private:
  FILE* f_ = nullptr;
  uint32_t remaining_ = 0;
  uint32_t total_read_ = 0;
};

// Counts each operator of an Invoke as its own region (30 + position in the graph).
class OpRegions : public tflite::MicroProfilerInterface {
 public:
  // The graph's operators run in order, one event each, so the position is the event count modulo
  // the number of operators.
  uint32_t BeginEvent(const char* tag) override {
    uint32_t op = num_ops_ > 0 ? next_++ % num_ops_ : 0;
    if (op >= kMaxOps) op = kMaxOps - 1;
    if (tags_[op] == nullptr) tags_[op] = tag;
    bench_start(30 + op);
    return op;
  }
  void EndEvent(uint32_t handle) override { bench_stop(30 + handle); }
  void set_num_ops(uint32_t n) { num_ops_ = n; }
  void Print() const {
    for (uint32_t i = 0; i < kMaxOps && tags_[i] != nullptr; ++i) {
      printf("K op%d_%s 1\n", static_cast<int>(i), tags_[i]);
    }
  }

 private:
  static constexpr uint32_t kMaxOps = 16;
  uint32_t next_ = 0;
  uint32_t num_ops_ = 0;
  const char* tags_[kMaxOps] = {nullptr};
};
OpRegions g_op_regions;

// The last frame a Push produced (at most one per hop), copied so that printing stays out of the
// counted region.
struct LastFrame {
  bool any = false;
  bool detected = false;
  int32_t frame = 0;
  kws::Detection detection;
  uint8_t scores[kws::kMaxScores] = {0};
  int32_t num_classes = 0;
  void operator()(const kws::FrameResult& r) {
    any = true;
    frame = r.frame;
    detected = r.ok && r.detected;
    detection = r.detection;
    if (r.ok) memcpy(scores, r.scores, static_cast<size_t>(num_classes));
  }
};

// Streams the WAV through `pipe` as the sketch does: PDM-sized chunks into the ring, one hop per
// loop(); counts each loop() as region `region`. Returns the number of loop() calls.
template <class Pipe>
int32_t RunStream(WavReader* wav, Pipe* pipe, uint32_t region, const char* path, bool print_scores) {
  int16_t chunk[kPdmChunk];
  int16_t pcm[wakeword_config::kHopSamples];
  LastFrame last;
  last.num_classes = pipe->num_classes();
  int32_t loops = 0;
  for (;;) {
    const uint32_t n = wav->Read(chunk, kPdmChunk);  // the PDM interrupt
    if (n == 0) break;
    g_ring.Write(chunk, n);
    while (g_ring.Available() > 0) {  // loop() until the ring is drained
      const uint32_t got = g_ring.Read(pcm, wakeword_config::kHopSamples);
      last.any = false;
      bench_start(region);
      pipe->Push(pcm, got, last);
      bench_stop(region);
      ++loops;
      if (!last.any) continue;
      if (print_scores) {
        printf("S %d", static_cast<int>(last.frame));
        for (int32_t c = 0; c < last.num_classes; ++c) printf(" %d", last.scores[c]);
        printf("\n");
      }
      if (last.detected) {
        printf("D %s %d %d %d\n", path, static_cast<int>(last.detection.frame),
               static_cast<int>(last.detection.class_index), static_cast<int>(last.detection.score));
      }
    }
  }
  printf("K %s_frames %d\nK %s_loops %d\n", path, static_cast<int>(pipe->frames()), path, static_cast<int>(loops));
  return loops;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    printf("usage: firmware.elf MODEL.fgb AUDIO.wav\n");
    return 2;
  }
  bench_start(0);  // empty region: the marker overhead, subtracted per call by firmware_report.py
  bench_stop(0);
  // Firmware path (the sketch's setup(), then loop()).
  bench_start(23);
  const char* err = wakeword::SetupFirmware(g_arena, kArenaBytes);
  bench_stop(23);
  if (err != nullptr) {
    printf("firmware: setup failed: %s\n", err);
    return 1;
  }
  printf("K arena_used_bytes %d\nK arena_bytes %d\n", static_cast<int>(wakeword::FirmwareArenaUsedBytes()),
         static_cast<int>(kArenaBytes));
  {  // first and second Invoke of a silent frame, then a fresh stream
    const int8_t silent[frontend::kMaxFeatures] = {0};
    uint8_t scores[kws::kMaxScores];
    auto& model = wakeword::FirmwarePipeline().model();
    bench_start(24);
    const bool ok1 = model.Scores<kws::NoProbe>(silent, scores);
    bench_stop(24);
    bench_start(25);
    const bool ok2 = model.Scores<kws::NoProbe>(silent, scores);
    bench_stop(25);
    if (!ok1 || !ok2) {
      printf("firmware: Invoke failed\n");
      return 1;
    }
    wakeword::FirmwarePipeline().Reset();
  }
  WavReader wav;
  if (const char* werr = wav.Open(argv[2], wakeword_config::kSampleRate)) {
    printf("firmware: %s: %s\n", argv[2], werr);
    return 2;
  }
  RunStream(&wav, &wakeword::FirmwarePipeline(), 20, "firmware", true);

  // The same firmware with TFLM's int8 SOFTMAX in the graph (what the sketch ran before).
  if ((err = wakeword::SetupFirmware(g_arena, kArenaBytes, wakeword::HeadMode::kTflmSoftmax)) != nullptr) {
    printf("firmware: softmax setup failed: %s\n", err);
    return 1;
  }
  printf("K softmax_arena_used_bytes %d\n", static_cast<int>(wakeword::FirmwareArenaUsedBytes()));
  wav.Rewind();
  RunStream(&wav, &wakeword::FirmwarePipeline(), 22, "softmax", false);

  // The firmware again with a profiler: every operator of every Invoke counted apart (regions 30 + i).
  g_op_regions.set_num_ops(tflite::GetModel(wakeword_config::ModelData())->subgraphs()->Get(0)->operators()->size());
  if ((err = wakeword::SetupFirmware(g_arena, kArenaBytes, wakeword::HeadMode::kLogits, &g_op_regions)) != nullptr) {
    printf("firmware: profiled setup failed: %s\n", err);
    return 1;
  }
  wav.Rewind();
  RunStream(&wav, &wakeword::FirmwarePipeline(), 29, "profiled", false);
  g_op_regions.Print();

  // Bench path: the core and our head called directly (kws::CoreModel), model from the bundle.
  std::vector<uint8_t> storage;
  static kws::Model m;
  if (!kws::LoadModel(argv[1], &storage, &m)) {
    printf("firmware: %s: %s\n", argv[1], m.error);
    return 2;
  }
  if (const char* cerr = g_bench.model().Init(m.step, m.head, g_prepared, sizeof(g_prepared), g_scratch,
                                              sizeof(g_scratch))) {
    printf("firmware: bench model: %s\n", cerr);
    return 1;
  }
  frontend::Config fc = kws::FrontendConfig(m.features);
  if (const char* perr = g_bench.Init(&fc, m.detector)) {
    printf("firmware: bench pipeline: %s\n", perr);
    return 1;
  }
  wav.Rewind();
  RunStream(&wav, &g_bench, 21, "bench", false);
  printf("K done 1\n");
  return 0;
}
