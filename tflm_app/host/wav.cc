#include "wav.h"

#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace kws {

namespace {

uint16_t U16(const uint8_t* b) { return static_cast<uint16_t>(b[0] | (b[1] << 8)); }
uint32_t U32(const uint8_t* b) {
  return static_cast<uint32_t>(b[0]) | (static_cast<uint32_t>(b[1]) << 8) |
         (static_cast<uint32_t>(b[2]) << 16) | (static_cast<uint32_t>(b[3]) << 24);
}

bool Fail(char* error, size_t size, const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  vsnprintf(error, size, fmt, args);
  va_end(args);
  return false;
}

constexpr uint16_t kFormatPcm = 1;
constexpr uint16_t kFormatExtensible = 0xFFFE;

}  // namespace

bool ParseWav(const uint8_t* data, size_t size, const char* label, int32_t expected_rate,
              std::vector<int16_t>* samples, char* error, size_t error_size) {
  if (size == 0) return Fail(error, error_size, "%s: empty file, not a WAV", label);
  if (size < 12 || memcmp(data, "RIFF", 4) != 0 || memcmp(data + 8, "WAVE", 4) != 0) {
    return Fail(error, error_size, "%s: not a RIFF/WAVE file", label);
  }
  bool have_fmt = false;
  uint16_t channels = 0, bits = 0;
  uint32_t rate = 0;
  size_t pos = 12;
  while (pos + 8 <= size) {
    const uint8_t* chunk = data + pos;
    const uint32_t chunk_size = U32(chunk + 4);
    const size_t body = pos + 8;
    const size_t available = size - body;
    if (memcmp(chunk, "fmt ", 4) == 0) {
      if (chunk_size < 16 || available < 16) return Fail(error, error_size, "%s: truncated fmt chunk", label);
      uint16_t format = U16(data + body);
      channels = U16(data + body + 2);
      rate = U32(data + body + 4);
      bits = U16(data + body + 14);
      if (format == kFormatExtensible) {
        // cbSize(2) validBits(2) channelMask(4) SubFormat GUID: the first 2 bytes are the format.
        if (chunk_size < 40 || available < 40) {
          return Fail(error, error_size, "%s: truncated WAVE_FORMAT_EXTENSIBLE fmt chunk", label);
        }
        format = U16(data + body + 24);
      }
      if (format != kFormatPcm) {
        return Fail(error, error_size, "%s: audio format %u is not integer PCM (need 16-bit PCM)", label,
                    static_cast<unsigned>(format));
      }
      have_fmt = true;
    } else if (memcmp(chunk, "data", 4) == 0) {
      if (!have_fmt) return Fail(error, error_size, "%s: data chunk before the fmt chunk", label);
      if (channels != 1) {
        return Fail(error, error_size, "%s: %u channels, need mono (1 channel)", label,
                    static_cast<unsigned>(channels));
      }
      if (bits != 16) {
        return Fail(error, error_size, "%s: %u bits per sample, need 16-bit PCM", label,
                    static_cast<unsigned>(bits));
      }
      if (expected_rate > 0 && rate != static_cast<uint32_t>(expected_rate)) {
        return Fail(error, error_size, "%s: sample rate %u Hz, need %d Hz", label,
                    static_cast<unsigned>(rate), static_cast<int>(expected_rate));
      }
      if (chunk_size > available) {
        return Fail(error, error_size, "%s: truncated data chunk (header says %u bytes, file has %zu)", label,
                    static_cast<unsigned>(chunk_size), available);
      }
      if (chunk_size % 2 != 0) {
        return Fail(error, error_size, "%s: data chunk of %u bytes is not whole 16-bit samples", label,
                    static_cast<unsigned>(chunk_size));
      }
      const size_t n = chunk_size / 2;
      if (n == 0) return Fail(error, error_size, "%s: data chunk holds no samples (empty WAV)", label);
      samples->resize(n);
      for (size_t i = 0; i < n; ++i) (*samples)[i] = static_cast<int16_t>(U16(data + body + 2 * i));
      return true;
    }
    // Chunks are padded to an even size.
    const size_t advance = 8 + static_cast<size_t>(chunk_size) + (chunk_size & 1u);
    if (advance > size - pos) break;
    pos += advance;
  }
  if (!have_fmt) return Fail(error, error_size, "%s: no fmt chunk (truncated or not a WAV)", label);
  return Fail(error, error_size, "%s: no data chunk (truncated?)", label);
}

bool ReadWav(const char* path, int32_t expected_rate, std::vector<int16_t>* samples, char* error,
             size_t error_size) {
  FILE* f = fopen(path, "rb");
  if (f == nullptr) return Fail(error, error_size, "%s: cannot open", path);
  std::vector<uint8_t> data;
  uint8_t buf[65536];
  size_t got = 0;
  while ((got = fread(buf, 1, sizeof(buf), f)) > 0) data.insert(data.end(), buf, buf + got);
  const bool read_error = ferror(f) != 0;
  fclose(f);
  if (read_error) return Fail(error, error_size, "%s: read error", path);
  return ParseWav(data.data(), data.size(), path, expected_rate, samples, error, error_size);
}

}  // namespace kws
