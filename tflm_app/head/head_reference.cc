// Portable FullyConnected: the TFLite reference arithmetic (head.cc). The host build and the
// tflm_app/m4 IMPL=reference build link this file; IMPL=m4 links head_cortex_m4.cc (tflm_app/variants.txt).
#include "head.h"

namespace head {

void FullyConnected(const FcLayer& layer, const int8_t* input, int8_t* output) {
  FullyConnectedReference(layer, input, output);
}

}  // namespace head
