// Fake of tensorflow/lite/micro/micro_log.h (format-checked here; TFLM's is not).
#ifndef FAKE_TFLM_MICRO_LOG_H_
#define FAKE_TFLM_MICRO_LOG_H_
void MicroPrintf(const char* format, ...) __attribute__((format(printf, 1, 2)));
#endif  // FAKE_TFLM_MICRO_LOG_H_
