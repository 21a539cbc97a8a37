// ParseWav on WAV images built in memory (no file I/O).
#include "wav.h"

#include <cstdint>
#include <cstring>
#include <vector>

#include "../common/test_macros.h"

namespace {

void Put16(std::vector<uint8_t>* b, uint32_t v) {
  b->push_back(static_cast<uint8_t>(v));
  b->push_back(static_cast<uint8_t>(v >> 8));
}
void Put32(std::vector<uint8_t>* b, uint32_t v) {
  Put16(b, v & 0xFFFF);
  Put16(b, v >> 16);
}
void PutTag(std::vector<uint8_t>* b, const char* tag) { b->insert(b->end(), tag, tag + 4); }

// A WAV with an optional odd-sized LIST chunk before fmt and `n` samples 0, 1, -1, 2, -2, ...
std::vector<uint8_t> MakeWav(uint16_t format, uint16_t channels, uint32_t rate, uint16_t bits, uint32_t n,
                             bool list_chunk) {
  std::vector<uint8_t> b;
  PutTag(&b, "RIFF");
  Put32(&b, 0);  // patched below
  PutTag(&b, "WAVE");
  if (list_chunk) {
    PutTag(&b, "LIST");
    Put32(&b, 5);
    PutTag(&b, "INFO");
    b.push_back('x');
    b.push_back(0);  // pad byte
  }
  PutTag(&b, "fmt ");
  Put32(&b, 16);
  Put16(&b, format);
  Put16(&b, channels);
  Put32(&b, rate);
  Put32(&b, rate * channels * bits / 8);
  Put16(&b, static_cast<uint16_t>(channels * bits / 8));
  Put16(&b, bits);
  PutTag(&b, "data");
  Put32(&b, n * 2);
  for (uint32_t i = 0; i < n; ++i) {
    const int32_t v = (i % 2) ? static_cast<int32_t>((i + 1) / 2) : -static_cast<int32_t>(i / 2);
    Put16(&b, static_cast<uint16_t>(static_cast<int16_t>(v)));
  }
  const uint32_t riff = static_cast<uint32_t>(b.size() - 8);
  memcpy(b.data() + 4, &riff, 4);  // host is little endian
  return b;
}

bool Parse(const std::vector<uint8_t>& b, std::vector<int16_t>* s, char* err) {
  return kws::ParseWav(b.data(), b.size(), "t.wav", 16000, s, err, 200);
}

}  // namespace

TEST(ReadsMono16BitAndSkipsChunks) {
  std::vector<int16_t> s;
  char err[200] = {0};
  EXPECT_TRUE(Parse(MakeWav(1, 1, 16000, 16, 5, true), &s, err));
  EXPECT_EQ(s.size(), 5u);
  EXPECT_EQ(s[0], 0);
  EXPECT_EQ(s[1], 1);
  EXPECT_EQ(s[2], -1);
  EXPECT_EQ(s[4], -2);
}

TEST(RejectsWithReason) {
  std::vector<int16_t> s;
  char err[200] = {0};
  EXPECT_FALSE(Parse(MakeWav(1, 2, 16000, 16, 4, false), &s, err));
  EXPECT_CONTAINS(err, "channels");
  EXPECT_FALSE(Parse(MakeWav(1, 1, 8000, 16, 4, false), &s, err));
  EXPECT_CONTAINS(err, "8000 Hz");
  EXPECT_FALSE(Parse(MakeWav(3, 1, 16000, 32, 4, false), &s, err));
  EXPECT_CONTAINS(err, "not integer PCM");
  EXPECT_FALSE(Parse(MakeWav(1, 1, 16000, 16, 0, false), &s, err));
  EXPECT_CONTAINS(err, "empty");
  std::vector<uint8_t> b = MakeWav(1, 1, 16000, 16, 100, false);
  b.resize(b.size() - 10);
  EXPECT_FALSE(Parse(b, &s, err));
  EXPECT_CONTAINS(err, "truncated");
  b.resize(30);
  EXPECT_FALSE(Parse(b, &s, err));
  EXPECT_CONTAINS(err, "t.wav");
  EXPECT_FALSE(kws::ParseWav(b.data(), 0, "e.wav", 16000, &s, err, 200));
  EXPECT_CONTAINS(err, "empty");
  const uint8_t junk[] = "RIFX....WAVE";
  EXPECT_FALSE(kws::ParseWav(junk, 12, "j.wav", 16000, &s, err, 200));
  EXPECT_CONTAINS(err, "not a RIFF/WAVE");
}

int main() {
  RUN_TEST(ReadsMono16BitAndSkipsChunks);
  RUN_TEST(RejectsWithReason);
  return TestSummary("wav_test");
}
