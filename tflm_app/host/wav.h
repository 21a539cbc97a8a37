// A small RIFF/WAVE reader for the host runner: 16 kHz (or a given rate) mono 16-bit PCM only.
// Skips unknown chunks (LIST, fact, ...), accepts WAVE_FORMAT_EXTENSIBLE with the PCM subformat,
// and rejects anything else with a message naming the file and what is wrong.
#ifndef TFLM_APP_HOST_WAV_H_
#define TFLM_APP_HOST_WAV_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace kws {

// Parses a WAV file already in memory. On failure returns false and writes the reason to `error`.
bool ParseWav(const uint8_t* data, size_t size, const char* label, int32_t expected_rate,
              std::vector<int16_t>* samples, char* error, size_t error_size);

// Reads and parses a file.
bool ReadWav(const char* path, int32_t expected_rate, std::vector<int16_t>* samples, char* error,
             size_t error_size);

}  // namespace kws

#endif  // TFLM_APP_HOST_WAV_H_
