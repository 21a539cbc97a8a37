// Fuzz target: the host runner's WAV reader (tflm_app/host/wav.h). Any byte string is parsed at
// 16 kHz; an accepted file must hold exactly the samples of its data chunk, and a rejected one
// must say why. The samples then go through the streaming frontend in odd chunk sizes, as
// kws_host feeds it (features of any audio must be computable).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "frontend.h"
#include "fuzz_input.h"
#include "wav.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> copy(data, data + size);  // exact size
  std::vector<int16_t> pcm;
  char error[256] = {0};
  if (!kws::ParseWav(copy.data(), copy.size(), "fuzz.wav", 16000, &pcm, error, sizeof(error))) {
    FUZZ_CHECK(error[0] != '\0');
    FUZZ_CHECK(memchr(error, '\0', sizeof(error)) != nullptr);
    return 0;
  }
  FUZZ_CHECK(pcm.size() * 2 <= size);
  static frontend::Frontend fe;
  static bool ready = fe.Init(frontend::Config()) == nullptr;
  FUZZ_CHECK(ready);
  fe.Reset();
  int8_t frames[4 * frontend::kMaxFeatures];
  // The reader is the target: the frontend sees at most the first 1,000 samples (4 frames).
  const size_t samples = pcm.size() < 1000 ? pcm.size() : 1000;
  size_t pos = 0, chunk = 1 + (size % 700), total = 0;
  while (pos < samples) {
    const size_t n = samples - pos < chunk ? samples - pos : chunk;
    size_t used = 0;
    total += fe.Push(pcm.data() + pos, n, frames, 4, &used);
    FUZZ_CHECK(used <= n);
    if (used == 0) break;
    pos += used;
  }
  const size_t expected = samples < 400 ? 0 : (samples - 400) / 160 + 1;
  FUZZ_CHECK(total == expected);
  return 0;
}
