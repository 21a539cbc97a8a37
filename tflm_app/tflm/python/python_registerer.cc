// Registers the FastGRNN op with the tflite-micro Python interpreter (pip package tflite-micro).
//
// The interpreter looks each name of `custom_op_registerers` up with dlsym(RTLD_DEFAULT, name) and
// calls it as `bool (*)(tflite::PythonOpsResolver*)` (python/tflite_micro/interpreter_wrapper.cc,
// AddCustomOpRegistererByName). Build this file, fastgrnn_op.cc and the reference int8 core into a
// shared library against the TFLM headers of the same version as the pip package, load it with
// ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL), then:
//   tflite_micro.runtime.Interpreter.from_file(path, custom_op_registerers=["FastGRNNRegisterer"])
// tests/test_tflm_real_adapter.py does this (opt-in: TFLM_DIR=<TFLM checkout>). It sits in its own
// directory so that prepare_sketch.sh (which copies tflm_app/tflm/*.cc) leaves it out of the sketch.
#if __has_include("python/tflite_micro/python_ops_resolver.h")
#include "python/tflite_micro/python_ops_resolver.h"
#else  // older TFLM trees
#include "tensorflow/lite/micro/python/interpreter/src/python_ops_resolver.h"
#endif
#include "../fastgrnn_op.h"

namespace tflite {

extern "C" __attribute__((visibility("default"))) bool FastGRNNRegisterer(PythonOpsResolver* resolver) {
  return resolver->AddCustom(kFastGrnnOpName, Register_FASTGRNN()) == kTfLiteOk;
}

}  // namespace tflite
