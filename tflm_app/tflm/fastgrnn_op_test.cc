// Host tests of the TFLM adapter against the fake TFLM of fake_tflm/ (TFLM itself is not built
// here): Init/Prepare/Eval run through the registration exactly as the interpreter calls them; the
// output and state must equal the int8 core run directly, and every bad tensor or option must be
// rejected with a message naming it, without leaking temporary tensors.
#include <cstdint>
#include <cstring>
#include <new>

#include "../common/test_macros.h"
#include "../fastgrnn/fastgrnn_int8.h"
#include "fake_tflm/fake_tflm.h"
#include "fastgrnn_op.h"

namespace {

using flexbuffers::FBT_BOOL;
using flexbuffers::FBT_INT;
using flexbuffers::FBT_STRING;

constexpr int kMaxB = 2, kMaxT = 4, kMaxD = 6, kMaxH = 5;

uint32_t g_seed = 12345;
int8_t RandomWeight() {
  g_seed = g_seed * 1664525u + 1013904223u;
  return static_cast<int8_t>(static_cast<int>((g_seed >> 16) % 255) - 127);
}

// One FastGRNN node with its tensors, options and interpreter fake.
struct Model {
  int B = 2, T = 3, D = 4, H = 5, rw = 0, ru = 0;
  bool return_sequences = false;
  fake_tflm::FakeContext ctx;
  fake_tflm::FakeOptions opts;
  TfLiteIntArray inputs{}, outputs{};
  TfLiteNode node{};
  int8_t x[kMaxB * kMaxT * kMaxD], w1[kMaxH * kMaxD], w2[kMaxH * kMaxH], u1[kMaxH * kMaxH], u2[kMaxH * kMaxH];
  int32_t bias_z[kMaxH], bias_h[kMaxH];
  int16_t gate_lut[256], update_lut[256];
  int8_t state[kMaxB * kMaxH] = {0};
  int8_t out[kMaxB * kMaxT * kMaxH] = {0};
  int idx[10] = {0};
  int out_idx = 0;

  // Fills data and options; call AddTensors() afterwards (tests may edit fields in between).
  void Fill() {
    for (auto& v : x) v = RandomWeight();
    for (auto& v : w1) v = RandomWeight();
    for (auto& v : w2) v = RandomWeight();
    for (auto& v : u1) v = RandomWeight();
    for (auto& v : u2) v = RandomWeight();
    for (int k = 0; k < kMaxH; ++k) {
      bias_z[k] = 300 * k - 600;
      bias_h[k] = -200 * k + 350;
    }
    for (int i = 0; i < 256; ++i) {
      gate_lut[i] = static_cast<int16_t>(i * 128);                 // 0 .. 32640, monotone
      update_lut[i] = static_cast<int16_t>((i - 128) * 256 + 100);  // about -1 .. 1
    }
    opts.Set("version", FBT_INT, 1);
    opts.Set("units", FBT_INT, H);
    opts.Set("input_dim", FBT_INT, D);
    opts.Set("w_rank", FBT_INT, rw);
    opts.Set("u_rank", FBT_INT, ru);
    opts.Set("v_multiplier", FBT_INT, rw ? (1 << 30) : 0);
    opts.Set("v_shift", FBT_INT, rw ? 37 : 0);
    opts.Set("u_multiplier", FBT_INT, ru ? (1 << 30) : 0);
    opts.Set("u_shift", FBT_INT, ru ? 37 : 0);
    opts.Set("pre_w_multiplier", FBT_INT, 1 << 30);
    opts.Set("pre_u_multiplier", FBT_INT, 1500000000);
    opts.Set("pre_shift", FBT_INT, 33);
    opts.Set("zeta_q15", FBT_INT, 30000);
    opts.Set("nu_q15", FBT_INT, 1000);
    opts.Set("return_sequences", FBT_BOOL, return_sequences ? 1 : 0);
    opts.Set("gate_activation", FBT_STRING, 0);
    opts.Set("update_activation", FBT_STRING, 0);
  }

  void AddTensors() {
    auto& c = ctx;
    idx[0] = c.AddTensor(kTfLiteInt8, {B, T, D}, x, 0.1f, 12);
    idx[1] = c.AddTensor(kTfLiteInt8, {rw ? rw : H, D}, w1, 0.01f, 0, true);
    idx[2] = rw ? c.AddTensor(kTfLiteInt8, {H, rw}, w2, 0.01f, 0, true) : -1;
    idx[3] = c.AddTensor(kTfLiteInt8, {ru ? ru : H, H}, u1, 0.01f, 0, true);
    idx[4] = ru ? c.AddTensor(kTfLiteInt8, {H, ru}, u2, 0.01f, 0, true) : -1;
    idx[5] = c.AddTensor(kTfLiteInt32, {H}, bias_z, 0.0f, 0, true);
    idx[6] = c.AddTensor(kTfLiteInt32, {H}, bias_h, 0.0f, 0, true);
    idx[7] = c.AddTensor(kTfLiteInt16, {256}, gate_lut, 0.0f, 0, true);
    idx[8] = c.AddTensor(kTfLiteInt16, {256}, update_lut, 0.0f, 0, true);
    idx[9] = c.AddTensor(kTfLiteInt8, {B, H}, state, 1.0f / 128, 0, false, true);
    out_idx = return_sequences ? c.AddTensor(kTfLiteInt8, {B, T, H}, out, 1.0f / 128, 0)
                               : c.AddTensor(kTfLiteInt8, {B, H}, out, 1.0f / 128, 0);
    inputs.size = 10;
    for (int i = 0; i < 10; ++i) inputs.data[i] = idx[i];
    outputs.size = 1;
    outputs.data[0] = out_idx;
    node.inputs = &inputs;
    node.outputs = &outputs;
  }

  TfLiteStatus InitAndPrepare() {
    const TFLMRegistration* r = tflite::Register_FASTGRNN();
    fake_tflm::ClearLog();
    node.user_data = r->init(&ctx.context, reinterpret_cast<const char*>(&opts), sizeof(opts));
    const TfLiteStatus s = r->prepare(&ctx.context, &node);
    if (s == kTfLiteOk && !ctx.PlanScratch()) return kTfLiteError;
    return s;
  }

  TfLiteStatus Invoke() { return tflite::Register_FASTGRNN()->invoke(&ctx.context, &node); }

  // The same step run on the core directly, for comparison.
  fastgrnn::Int8Params CoreParams() const {
    fastgrnn::Int8Params p;
    p.input_dim = D;
    p.units = H;
    p.w_rank = rw;
    p.u_rank = ru;
    p.input_zero_point = 12;
    p.w1 = w1;
    p.w2 = rw ? w2 : nullptr;
    p.u1 = u1;
    p.u2 = ru ? u2 : nullptr;
    p.bias_z = bias_z;
    p.bias_h = bias_h;
    p.gate_lut = gate_lut;
    p.update_lut = update_lut;
    p.v_multiplier = rw ? (1 << 30) : 0;
    p.v_shift = rw ? 37 : 0;
    p.u_multiplier = ru ? (1 << 30) : 0;
    p.u_shift = ru ? 37 : 0;
    p.pre_w_multiplier = 1 << 30;
    p.pre_u_multiplier = 1500000000;
    p.pre_shift = 33;
    p.zeta_q15 = 30000;
    p.nu_q15 = 1000;
    return p;
  }
};

// Runs two invokes through the adapter and the same two on the core; outputs and states agree.
void CheckAgainstCore(Model* m) {
  m->Fill();
  m->AddTensors();
  EXPECT_EQ(m->InitAndPrepare(), kTfLiteOk);
  EXPECT_EQ(m->ctx.live_temp_tensors, 0);
  const fastgrnn::Int8Params p = m->CoreParams();
  EXPECT_TRUE(fastgrnn::Validate(p) == nullptr);
  EXPECT_EQ(m->ctx.num_scratch, fastgrnn::ScratchBytes(p) > 0 ? 1 : 0);
  if (m->ctx.num_scratch == 1) EXPECT_EQ(m->ctx.scratch_requested[0], fastgrnn::ScratchBytes(p));

  int8_t h[kMaxB * kMaxH] = {0};
  int8_t want[kMaxB * kMaxT * kMaxH] = {0};
  alignas(16) uint8_t scratch[4096];
  alignas(16) uint8_t prepared[4096];
  if (fastgrnn::PreparedBytes(p) > 0) fastgrnn::PrepareWeights(p, prepared);
  const int out_per_row = m->return_sequences ? m->T * m->H : m->H;
  int nonzero = 0;
  for (int invoke = 0; invoke < 2; ++invoke) {
    for (int i = 0; i < m->B * m->T * m->D; ++i) m->x[i] = RandomWeight();  // new input per invoke
    EXPECT_EQ(m->Invoke(), kTfLiteOk);
    for (int b = 0; b < m->B; ++b) {
      fastgrnn::Run(p, prepared, m->x + b * m->T * m->D, m->T, h + b * m->H, want + b * out_per_row,
                    m->return_sequences, scratch);
    }
    for (int i = 0; i < m->B * out_per_row; ++i) {
      EXPECT_EQ(m->out[i], want[i]);
      nonzero += m->out[i] != 0;
    }
    for (int i = 0; i < m->B * m->H; ++i) EXPECT_EQ(m->state[i], h[i]);
  }
  EXPECT_TRUE(nonzero > 0);  // the comparison is not between two all-zero buffers
}

TEST(FullRankMatchesTheCore) {
  static Model m;
  CheckAgainstCore(&m);
}

TEST(LowRankReturnSequencesMatchesTheCore) {
  static Model m;
  m.rw = 2;
  m.ru = 3;
  m.T = 4;
  m.return_sequences = true;
  CheckAgainstCore(&m);
}

TEST(StreamingBatchOneMatchesTheCore) {
  static Model m;
  m.B = 1;
  m.T = 1;
  m.rw = 3;
  CheckAgainstCore(&m);
}

// Builds a valid full-rank model, lets `edit` break it, expects Prepare to fail naming `needle`.
template <typename Edit>
void ExpectRejected(Edit edit, const char* needle) {
  static Model m;
  m.~Model();
  new (&m) Model();
  m.Fill();
  m.AddTensors();
  edit(&m);
  EXPECT_EQ(m.InitAndPrepare(), kTfLiteError);
  EXPECT_CONTAINS(fake_tflm::LastMessage(), needle);
  EXPECT_EQ(m.ctx.live_temp_tensors, 0);
}

TEST(RejectsBadOptions) {
  ExpectRejected([](Model* m) { m->opts.Remove("pre_shift"); }, "'pre_shift': missing");
  ExpectRejected([](Model* m) { m->opts.Set("version", FBT_INT, 2); }, "'version': unsupported version");
  ExpectRejected([](Model* m) { m->opts.Set("units", FBT_STRING, 0); }, "'units': not an integer");
  ExpectRejected([](Model* m) { m->opts.Set("nu_q15", FBT_INT, int64_t{1} << 40); }, "'nu_q15': out of int32");
  ExpectRejected([](Model* m) { m->opts.Remove("update_activation"); }, "'update_activation': missing");
  ExpectRejected([](Model* m) { m->opts.Set("gate_activation", FBT_INT, 1); }, "'gate_activation': not a string");
  ExpectRejected([](Model* m) { m->opts.Set("return_sequences", FBT_STRING, 0); }, "'return_sequences': not a bool");
  ExpectRejected([](Model* m) { m->opts.magic = 0; }, "not a flexbuffer map");
  ExpectRejected([](Model* m) { m->opts.Set("zeta_q15", FBT_INT, 40000); }, "zeta_q15 must be in [0, 32767]");
}

TEST(RejectsBadTensors) {
  ExpectRejected([](Model* m) { m->inputs.size = 9; }, "has 9 inputs, expected 10");
  ExpectRejected([](Model* m) { m->ctx.dims[m->idx[0]].data[2] = 7; }, "input x (input 0) dimension 2 is 7, expected 4");
  ExpectRejected([](Model* m) { m->ctx.tensors[m->idx[0]].type = kTfLiteInt16; }, "input x (input 0) has type INT16");
  ExpectRejected([](Model* m) { m->ctx.dims[m->idx[1]].data[0] = 4; }, "W/W1 (input 1) dimension 0 is 4, expected 5");
  ExpectRejected([](Model* m) { m->ctx.tensors[m->idx[3]].allocation_type = kTfLiteArenaRw; },
                 "U/U1 (input 3) must be a constant");
  ExpectRejected([](Model* m) { m->ctx.tensors[m->idx[1]].params.zero_point = 3; }, "zero point 3, expected 0");
  ExpectRejected([](Model* m) { m->ctx.scales[m->idx[1]].size = 5; }, "per channel (5 scales)");
  ExpectRejected([](Model* m) { m->ctx.dims[m->idx[5]].data[0] = 6; }, "bias_z (input 5) dimension 0 is 6");
  ExpectRejected([](Model* m) { m->ctx.tensors[m->idx[6]].type = kTfLiteInt8; }, "bias_h (input 6) has type INT8");
  ExpectRejected([](Model* m) { m->ctx.dims[m->idx[7]].data[0] = 255; }, "gate_lut (input 7) dimension 0 is 255");
  ExpectRejected([](Model* m) { m->ctx.tensors[m->idx[8]].type = kTfLiteInt8; }, "update_lut (input 8) has type");
  ExpectRejected([](Model* m) { m->ctx.tensors[m->idx[9]].is_variable = false; }, "must be a variable tensor");
  ExpectRejected([](Model* m) { m->ctx.tensors[m->idx[9]].params.scale = 0.01f; }, "expected 1/128");
  ExpectRejected([](Model* m) { m->ctx.dims[m->idx[9]].data[0] = 1; }, "hidden state (input 9) dimension 0 is 1");
  ExpectRejected([](Model* m) { m->ctx.tensors[m->out_idx].params.zero_point = -128; }, "output has zero point -128");
  ExpectRejected([](Model* m) { m->ctx.dims[m->out_idx].size = 3; }, "output has rank 3, expected 2");
  ExpectRejected([](Model* m) { m->inputs.data[2] = m->idx[1]; }, "input 2 (W2) must be absent (-1) at full rank");
  ExpectRejected([](Model* m) { m->inputs.data[6] = -1; }, "input 6 (bias_h) is missing");
  ExpectRejected([](Model* m) { m->ctx.tensors[m->idx[0]].params.zero_point = 300; }, "outside int8");
  ExpectRejected([](Model* m) { m->w1[3] = -128; }, "W holds -128");
}

TEST(LowRankNeedsW2) {
  static Model m;
  m.rw = 2;
  m.Fill();
  m.AddTensors();
  m.inputs.data[2] = -1;
  EXPECT_EQ(m.InitAndPrepare(), kTfLiteError);
  EXPECT_CONTAINS(fake_tflm::LastMessage(), "input 2 (W2) is missing");
  EXPECT_EQ(m.ctx.live_temp_tensors, 0);
}

}  // namespace

int main() {
  RUN_TEST(FullRankMatchesTheCore);
  RUN_TEST(LowRankReturnSequencesMatchesTheCore);
  RUN_TEST(StreamingBatchOneMatchesTheCore);
  RUN_TEST(RejectsBadOptions);
  RUN_TEST(RejectsBadTensors);
  RUN_TEST(LowRankNeedsW2);
  return TestSummary("fastgrnn_op_test");
}
