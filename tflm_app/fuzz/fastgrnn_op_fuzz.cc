// Fuzz target: the FastGRNN TFLM op's option parsing and tensor validation (tflm_app/tflm), run
// through the fake TFLM (tflm/fake_tflm) exactly as the interpreter calls it: Init with the custom
// options, Prepare, and when Prepare accepts the node, two Invokes. Input format: op_fuzz_case.h.
// Every tensor's data is allocated at exactly its claimed size, so if Prepare accepts a node whose
// Eval would read or write outside a tensor, AddressSanitizer reports it. Prepare must also give
// back every temporary tensor it allocated, on every path.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "fake_tflm/fake_tflm.h"
#include "fastgrnn_op.h"
#include "fuzz_input.h"
#include "op_fuzz_case.h"

namespace {

bool Decode(fuzz::Input* in, fuzz::OpCase* c) {
  c->num_inputs = in->Take<uint8_t>();
  if (c->num_inputs > 14) return false;
  const uint8_t n = in->Take<uint8_t>();
  c->no_options = n == 255;
  if (!c->no_options && n > fuzz::kOpMaxOptions) return false;
  c->num_options = c->no_options ? 0 : n;
  for (int i = 0; i < c->num_options; ++i) {
    fuzz::OpOption& o = c->options[i];
    const uint8_t len = in->Take<uint8_t>();
    const uint8_t* key = nullptr;
    const size_t got = in->TakeBytes(len < sizeof(o.key) ? len : sizeof(o.key) - 1, &key);
    memcpy(o.key, key, got);
    o.key[got] = '\0';
    o.type = in->Take<uint8_t>();
    o.value = in->Take<int64_t>();
  }
  for (fuzz::OpTensor& t : c->tensors) {
    t.flags = in->Take<uint8_t>();
    // Within the value range of the fake's TfLiteType (0..15), so the cast below is defined; every code
    // the fake names (FLOAT32, INT32, UINT8, INT16, INT8) and unknown ones occur. Normalized here, so the
    // data size below is the one of the type the tensor claims.
    t.type = static_cast<uint8_t>(in->Take<uint8_t>() % 16);
    t.rank = in->Take<uint8_t>();
    if (t.rank > fuzz::kOpMaxRank) return false;
    for (int i = 0; i < t.rank; ++i) t.dims[i] = in->Take<uint16_t>();
    t.scale = in->Take<float>();
    t.zero_point = in->Take<int32_t>();
    if ((t.flags & 1) && fuzz::TensorBytes(t) > (1u << 16)) return false;  // larger than any arena here
  }
  for (fuzz::OpTensor& t : c->tensors) {
    if (!(t.flags & 1)) continue;
    t.data.assign(fuzz::TensorBytes(t), 0);
    const uint8_t* src = nullptr;
    const size_t got = in->TakeBytes(t.data.size(), &src);
    if (got > 0) memcpy(t.data.data(), src, got);
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Input in(data, size);
  static fuzz::OpCase c;
  c = fuzz::OpCase();
  if (!Decode(&in, &c)) return 0;

  static fake_tflm::FakeOptions opts;
  opts = fake_tflm::FakeOptions();
  // Entries point at c's keys (static, outlive the call). A type byte that is no flexbuffers::Type of
  // the fake is mapped onto one (an out-of-range enum value would be undefined behaviour of the harness).
  static const flexbuffers::Type kTypes[] = {flexbuffers::FBT_NULL, flexbuffers::FBT_INT, flexbuffers::FBT_UINT,
                                             flexbuffers::FBT_BOOL, flexbuffers::FBT_STRING, flexbuffers::FBT_MAP};
  for (int i = 0; i < c.num_options; ++i) {
    flexbuffers::Type type = kTypes[c.options[i].type % 6];
    for (flexbuffers::Type t : kTypes) {
      if (static_cast<uint8_t>(t) == c.options[i].type) type = t;
    }
    opts.entries[opts.count++] = {c.options[i].key, type, c.options[i].value};
  }
  alignas(fake_tflm::FakeContext) static unsigned char ctx_storage[sizeof(fake_tflm::FakeContext)];
  fake_tflm::FakeContext* ctx = new (ctx_storage) fake_tflm::FakeContext();
  int index[fuzz::kOpTensors];
  // Heap copies of exactly the claimed size (so ASan bounds every tensor).
  std::vector<std::vector<uint8_t>> buffers(fuzz::kOpTensors);
  for (int i = 0; i < fuzz::kOpTensors; ++i) {
    fuzz::OpTensor& t = c.tensors[i];
    index[i] = -1;
    if (!(t.flags & 1)) continue;
    buffers[i] = t.data;
    void* ptr = buffers[i].empty() ? nullptr : buffers[i].data();
    const int d0 = t.dims[0], d1 = t.dims[1], d2 = t.dims[2], d3 = t.dims[3];
    const TfLiteType type = static_cast<TfLiteType>(t.type);
    const bool constant = t.flags & 2, variable = t.flags & 4;
    switch (t.rank) {
      case 0: index[i] = ctx->AddTensor(type, {}, ptr, t.scale, t.zero_point, constant, variable); break;
      case 1: index[i] = ctx->AddTensor(type, {d0}, ptr, t.scale, t.zero_point, constant, variable); break;
      case 2: index[i] = ctx->AddTensor(type, {d0, d1}, ptr, t.scale, t.zero_point, constant, variable); break;
      case 3: index[i] = ctx->AddTensor(type, {d0, d1, d2}, ptr, t.scale, t.zero_point, constant, variable); break;
      default: index[i] = ctx->AddTensor(type, {d0, d1, d2, d3}, ptr, t.scale, t.zero_point, constant, variable);
    }
  }
  TfLiteIntArray inputs{}, outputs{};
  inputs.size = c.num_inputs;
  for (int i = 0; i < c.num_inputs; ++i) inputs.data[i] = index[i];
  outputs.size = 1;
  outputs.data[0] = index[fuzz::kOpTensors - 1];
  TfLiteNode node{};
  node.inputs = &inputs;
  node.outputs = &outputs;

  const TFLMRegistration* r = tflite::Register_FASTGRNN();
  fake_tflm::ClearLog();
  node.user_data = c.no_options ? r->init(&ctx->context, nullptr, 0)
                                : r->init(&ctx->context, reinterpret_cast<const char*>(&opts), sizeof(opts));
  const TfLiteStatus prepared = r->prepare(&ctx->context, &node);
  FUZZ_CHECK(ctx->live_temp_tensors == 0);
  static const bool verbose = getenv("FUZZ_VERBOSE") != nullptr;  // replay: say what Prepare decided
  if (verbose) printf("%s\n", prepared == kTfLiteOk ? "accepted" : fake_tflm::LastMessage());
  if (prepared != kTfLiteOk) {
    FUZZ_CHECK(fake_tflm::LastMessage()[0] != '\0');  // a rejection always says why
  } else if (ctx->PlanScratch() && c.tensors[0].rank >= 2 &&
             static_cast<uint32_t>(c.tensors[0].dims[0]) * c.tensors[0].dims[1] <= 8) {
    // Eval only for up to 8 steps x batch rows: a valid [B, T, D] with large B * T only costs time.
    FUZZ_CHECK(r->invoke(&ctx->context, &node) == kTfLiteOk);
    FUZZ_CHECK(r->invoke(&ctx->context, &node) == kTfLiteOk);
  }
  ctx->~FakeContext();
  return 0;
}
