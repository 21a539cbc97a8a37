// Seed inputs for the FastGRNN-op and bitmap-sparse fuzz targets, made from real `.fgb` models (the
// exporter's bundles; make_seeds.py writes them and calls this tool):
//   fuzz_seeds <out dir> model.fgb...
// writes <out>/fastgrnn_op/<model>_{dense,sparse,seq}.bin (the model's step as the exporter lays out
// the op: options, 10 or 14 tensors) and <out>/bitmap_sparse/<model>_<matrix>.bin.
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bundle.h"
#include "fake_tflm/fake_tflm.h"
#include "fastgrnn_int8.h"
#include "fastgrnn_int8_bundle.h"
#include "op_fuzz_case.h"

namespace {

bool WriteFile(const std::string& path, const std::vector<uint8_t>& bytes) {
  FILE* f = fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  const bool ok = fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  return fclose(f) == 0 && ok;
}

template <typename T>
std::vector<uint8_t> Bytes(const T* p, size_t n) {
  const uint8_t* b = reinterpret_cast<const uint8_t*>(p);
  return std::vector<uint8_t>(b, b + n * sizeof(T));
}

fuzz::OpTensor Tensor(uint8_t type, std::vector<uint16_t> dims, std::vector<uint8_t> data, float scale, int32_t zp,
                      bool constant, bool variable = false) {
  fuzz::OpTensor t;
  t.flags = static_cast<uint8_t>(1 | (constant ? 2 : 0) | (variable ? 4 : 0));
  t.type = type;
  t.rank = static_cast<uint8_t>(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) t.dims[i] = dims[i];
  t.scale = scale;
  t.zero_point = zp;
  t.data = std::move(data);
  return t;
}

void Option(fuzz::OpCase* c, const char* key, flexbuffers::Type type, int64_t value) {
  fuzz::OpOption& o = c->options[c->num_options++];
  snprintf(o.key, sizeof(o.key), "%s", key);
  o.type = static_cast<uint8_t>(type);
  o.value = value;
}

// The op node of one step: x [1, T, D]; the weight matrices dense or bitmap-sparse (sparse_mask bit k).
fuzz::OpCase OpCaseOf(const fastgrnn::Int8Params& p, unsigned sparse_mask, int steps, bool return_sequences) {
  fuzz::OpCase c;
  const flexbuffers::Type kInt = flexbuffers::FBT_INT;
  Option(&c, "version", kInt, 1);
  Option(&c, "units", kInt, p.units);
  Option(&c, "input_dim", kInt, p.input_dim);
  Option(&c, "w_rank", kInt, p.w_rank);
  Option(&c, "u_rank", kInt, p.u_rank);
  Option(&c, "v_multiplier", kInt, p.v_multiplier);
  Option(&c, "v_shift", kInt, p.v_shift);
  Option(&c, "u_multiplier", kInt, p.u_multiplier);
  Option(&c, "u_shift", kInt, p.u_shift);
  Option(&c, "pre_w_multiplier", kInt, p.pre_w_multiplier);
  Option(&c, "pre_u_multiplier", kInt, p.pre_u_multiplier);
  Option(&c, "pre_shift", kInt, p.pre_shift);
  Option(&c, "zeta_q15", kInt, p.zeta_q15);
  Option(&c, "nu_q15", kInt, p.nu_q15);
  Option(&c, "return_sequences", flexbuffers::FBT_BOOL, return_sequences ? 1 : 0);
  Option(&c, "gate_activation", flexbuffers::FBT_STRING, 0);
  Option(&c, "update_activation", flexbuffers::FBT_STRING, 0);
  const int d = p.input_dim, h = p.units, rw = p.w_rank, ru = p.u_rank;
  const uint16_t D = static_cast<uint16_t>(d), H = static_cast<uint16_t>(h), T = static_cast<uint16_t>(steps);
  std::vector<uint8_t> x(static_cast<size_t>(steps * d));
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<uint8_t>(i * 37 + 11);
  c.tensors[0] = Tensor(kTfLiteInt8, {1, T, D}, x, 0.1f, p.input_zero_point, false);
  const int8_t* w[4] = {p.w1, p.w2, p.u1, p.u2};
  const int rows[4] = {rw ? rw : h, h, ru ? ru : h, h};
  const int cols[4] = {d, rw, h, ru};
  for (int k = 0; k < 4; ++k) {
    if (w[k] == nullptr) continue;
    const size_t n = static_cast<size_t>(rows[k]) * static_cast<size_t>(cols[k]);
    if (!(sparse_mask & (1u << k))) {
      c.tensors[1 + k] = Tensor(kTfLiteInt8, {static_cast<uint16_t>(rows[k]), static_cast<uint16_t>(cols[k])},
                                Bytes(w[k], n), 0.01f, 0, true);
      continue;
    }
    std::vector<uint8_t> values, bitmap((n + 7) / 8, 0);
    for (size_t i = 0; i < n; ++i) {
      if (w[k][i] == 0) continue;
      bitmap[i / 8] = static_cast<uint8_t>(bitmap[i / 8] | (1u << (i % 8)));
      values.push_back(static_cast<uint8_t>(w[k][i]));
    }
    if (values.empty()) values.push_back(0);  // keeps the tensor non-empty; the op must reject the count
    c.tensors[1 + k] = Tensor(kTfLiteInt8, {static_cast<uint16_t>(values.size())}, values, 0.01f, 0, true);
    c.tensors[10 + k] = Tensor(kTfLiteUInt8, {static_cast<uint16_t>(bitmap.size())}, bitmap, 0.0f, 0, true);
  }
  c.tensors[5] = Tensor(kTfLiteInt32, {H}, Bytes(p.bias_z, static_cast<size_t>(h)), 0.0f, 0, true);
  c.tensors[6] = Tensor(kTfLiteInt32, {H}, Bytes(p.bias_h, static_cast<size_t>(h)), 0.0f, 0, true);
  c.tensors[7] = Tensor(kTfLiteInt16, {256}, Bytes(p.gate_lut, 256), 0.0f, 0, true);
  c.tensors[8] = Tensor(kTfLiteInt16, {256}, Bytes(p.update_lut, 256), 0.0f, 0, true);
  c.tensors[9] = Tensor(kTfLiteInt8, {1, H}, std::vector<uint8_t>(static_cast<size_t>(h), 0), 1.0f / 128, 0, false,
                        true);
  c.tensors[14] = return_sequences ? Tensor(kTfLiteInt8, {1, T, H}, {}, 1.0f / 128, 0, false)
                                   : Tensor(kTfLiteInt8, {1, H}, {}, 1.0f / 128, 0, false);
  c.tensors[14].data.assign(fuzz::TensorBytes(c.tensors[14]), 0);
  c.num_inputs = sparse_mask ? 14 : 10;
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: fuzz_seeds <out dir> model.fgb...\n");
    return 2;
  }
  const std::string out = argv[1];
  mkdir(out.c_str(), 0755);
  mkdir((out + "/fastgrnn_op").c_str(), 0755);
  mkdir((out + "/bitmap_sparse").c_str(), 0755);
  int written = 0;
  for (int a = 2; a < argc; ++a) {
    std::vector<uint8_t> storage;
    fgb::Bundle b;
    fastgrnn::Int8Params p;
    char error[256];
    if (!b.LoadFile(argv[a], &storage) || !fastgrnn::LoadInt8Params(&b, &p, nullptr, error, sizeof(error))) {
      fprintf(stderr, "fuzz_seeds: %s: %s\n", argv[a], b.error()[0] ? b.error() : error);
      return 2;
    }
    std::string name = argv[a];
    name = name.substr(name.find_last_of('/') + 1);
    name = name.substr(0, name.find_last_of('.'));
    const struct {
      const char* suffix;
      unsigned mask;
      int steps;
      bool seq;
    } variants[] = {{"dense", 0, 1, false}, {"sparse", 15, 1, false}, {"seq", 5, 3, true}};
    for (const auto& v : variants) {
      const fuzz::OpCase c = OpCaseOf(p, v.mask, v.steps, v.seq);
      if (!WriteFile(out + "/fastgrnn_op/" + name + "_" + v.suffix + ".bin", fuzz::EncodeOpCase(c))) return 2;
      ++written;
    }
    const int8_t* w[4] = {p.w1, p.w2, p.u1, p.u2};
    const char* names[4] = {"w1", "w2", "u1", "u2"};
    const int d = p.input_dim, h = p.units, rw = p.w_rank, ru = p.u_rank;
    const int rows[4] = {rw ? rw : h, h, ru ? ru : h, h};
    const int cols[4] = {d, rw, h, ru};
    for (int k = 0; k < 4; ++k) {
      if (w[k] == nullptr || rows[k] > 255 || cols[k] > 255) continue;  // the target's u8 rows and cols
      const size_t n = static_cast<size_t>(rows[k]) * static_cast<size_t>(cols[k]);
      std::vector<uint8_t> bitmap((n + 7) / 8, 0), values;
      for (size_t i = 0; i < n; ++i) {
        if (w[k][i] == 0) continue;
        bitmap[i / 8] = static_cast<uint8_t>(bitmap[i / 8] | (1u << (i % 8)));
        values.push_back(static_cast<uint8_t>(w[k][i]));
      }
      std::vector<uint8_t> seed;
      fuzz::Put<uint8_t>(&seed, static_cast<uint8_t>(rows[k]));
      fuzz::Put<uint8_t>(&seed, static_cast<uint8_t>(cols[k]));
      fuzz::Put<uint16_t>(&seed, static_cast<uint16_t>(values.size()));
      fuzz::Put<uint16_t>(&seed, static_cast<uint16_t>(bitmap.size()));
      seed.insert(seed.end(), bitmap.begin(), bitmap.end());
      seed.insert(seed.end(), values.begin(), values.end());
      if (!WriteFile(out + "/bitmap_sparse/" + name + "_" + names[k] + ".bin", seed)) return 2;
      ++written;
    }
  }
  printf("fuzz_seeds: %d seeds in %s\n", written, out.c_str());
  return 0;
}
