// Reads the int8 FastGRNN step of a `.fgb` bundle (fastgrnn_tf/export/bundle_spec.md names
// `fastgrnn.*`, `input.zero_point`) into Int8Params. Pointers borrow the bundle's storage.
#ifndef TFLM_APP_FASTGRNN_FASTGRNN_INT8_BUNDLE_H_
#define TFLM_APP_FASTGRNN_FASTGRNN_INT8_BUNDLE_H_

#include "bundle.h"
#include "fastgrnn_int8.h"

namespace fastgrnn {

// False with a message in `error` (naming the bundle and the entry) when an entry is missing,
// has the wrong dtype or shape, or the parameters fail Validate(). `return_sequences` may be null.
bool LoadInt8Params(fgb::Bundle* bundle, Int8Params* params, bool* return_sequences, char* error,
                    size_t error_capacity);

}  // namespace fastgrnn

#endif  // TFLM_APP_FASTGRNN_FASTGRNN_INT8_BUNDLE_H_
