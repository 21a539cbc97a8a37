// Fake of tensorflow/lite/kernels/internal/compatibility.h.
#ifndef FAKE_TFLM_COMPATIBILITY_H_
#define FAKE_TFLM_COMPATIBILITY_H_
#define TFLITE_DCHECK(x) (void)(x)
#endif  // FAKE_TFLM_COMPATIBILITY_H_
