// The byte format of the FastGRNN-op fuzz target (fastgrnn_op_fuzz.cc): a node's custom options and
// tensors as a TFLM model would present them. Shared by the target (decoding) and the seed tool
// (encoding real models, fuzz_seeds_main.cc). Little endian:
//   u8 num_inputs (0..14)
//   u8 num_options (255: no option buffer at all); per option: u8 key length, key bytes,
//      u8 flexbuffer type (flexbuffers::Type), i64 value
//   15 tensors (inputs 0..13, then output 0): u8 flags (1 present, 2 constant, 4 variable),
//      u8 TfLiteType, u8 rank (<= 4), rank x u16 dims, f32 scale, i32 zero point
//   the rest: data bytes, dealt to the tensors in order (each tensor gets exactly its size; zeros
//      when the input runs out)
#ifndef TFLM_APP_FUZZ_OP_FUZZ_CASE_H_
#define TFLM_APP_FUZZ_OP_FUZZ_CASE_H_

#include <cstdint>
#include <cstring>
#include <vector>

namespace fuzz {

constexpr int kOpTensors = 15;  // 14 inputs + the output
constexpr int kOpMaxRank = 4;
constexpr int kOpMaxOptions = 32;

struct OpTensor {
  uint8_t flags = 0;  // 1 present, 2 constant, 4 variable
  uint8_t type = 0;   // TfLiteType
  uint8_t rank = 0;
  uint16_t dims[kOpMaxRank] = {0, 0, 0, 0};
  float scale = 0.0f;
  int32_t zero_point = 0;
  std::vector<uint8_t> data;  // encode: the tensor's bytes (decode fills them)
};

struct OpOption {
  char key[64] = {0};
  uint8_t type = 0;  // flexbuffers::Type
  int64_t value = 0;
};

struct OpCase {
  uint8_t num_inputs = 10;
  bool no_options = false;
  int num_options = 0;
  OpOption options[kOpMaxOptions];
  OpTensor tensors[kOpTensors];
};

inline size_t TypeBytes(uint8_t type) {
  switch (type) {
    case 1: return 4;  // float32
    case 2: return 4;  // int32
    case 3: return 1;  // uint8
    case 7: return 2;  // int16
    case 9: return 1;  // int8
    default: return 1;
  }
}

inline size_t TensorBytes(const OpTensor& t) {
  size_t n = TypeBytes(t.type);
  for (int i = 0; i < t.rank && i < kOpMaxRank; ++i) n *= t.dims[i];
  return n;
}

template <typename T>
void Put(std::vector<uint8_t>* out, T v) {
  uint8_t b[sizeof(T)];
  memcpy(b, &v, sizeof(T));
  out->insert(out->end(), b, b + sizeof(T));
}

inline std::vector<uint8_t> EncodeOpCase(const OpCase& c) {
  std::vector<uint8_t> out;
  Put<uint8_t>(&out, c.num_inputs);
  Put<uint8_t>(&out, c.no_options ? 255 : static_cast<uint8_t>(c.num_options));
  for (int i = 0; i < c.num_options && !c.no_options; ++i) {
    const OpOption& o = c.options[i];
    Put<uint8_t>(&out, static_cast<uint8_t>(strlen(o.key)));
    out.insert(out.end(), o.key, o.key + strlen(o.key));
    Put<uint8_t>(&out, o.type);
    Put<int64_t>(&out, o.value);
  }
  for (const OpTensor& t : c.tensors) {
    Put<uint8_t>(&out, t.flags);
    Put<uint8_t>(&out, t.type);
    Put<uint8_t>(&out, t.rank);
    for (int i = 0; i < t.rank; ++i) Put<uint16_t>(&out, t.dims[i]);
    Put<float>(&out, t.scale);
    Put<int32_t>(&out, t.zero_point);
  }
  for (const OpTensor& t : c.tensors) {
    if (t.flags & 1) out.insert(out.end(), t.data.begin(), t.data.end());
  }
  return out;
}

}  // namespace fuzz

#endif  // TFLM_APP_FUZZ_OP_FUZZ_CASE_H_
