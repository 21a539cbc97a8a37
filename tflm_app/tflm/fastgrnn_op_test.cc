// Host tests of the TFLM adapter against the fake TFLM of fake_tflm/ (TFLM itself is not built
// here): Init/Prepare/Eval run through the registration exactly as the interpreter calls them; the
// output and state must equal the int8 core run directly, and every bad tensor or option must be
// rejected with a message naming it, without leaking temporary tensors. Models may store weight
// matrices bitmap-sparse (inputs 10-13): the same outputs as dense storage, malformed bitmaps rejected.
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
constexpr int kMaxWeight = kMaxH * kMaxD;  // >= kMaxH * kMaxH

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
  int idx[14] = {0};
  int out_idx = 0;
  // Bitmap-sparse storage: sparse[k] stores weight k (W1, W2, U1, U2) as values + bitmap (input 10 + k);
  // bitmap_inputs gives the op 14 inputs even when no matrix is sparse (bitmaps -1).
  bool sparse[4] = {false, false, false, false};
  bool bitmap_inputs = false;
  int keep_pct = 100;  // < 100: Fill prunes the weights to about this density
  int8_t values[4][kMaxWeight + 1] = {};
  uint8_t bitmaps[4][kMaxWeight / 8 + 2] = {};
  int nnz[4] = {0, 0, 0, 0};

  int8_t* Weight(int k) { return k == 0 ? w1 : k == 1 ? w2 : k == 2 ? u1 : u2; }
  int Rows(int k) const { return k == 0 ? (rw ? rw : H) : k == 1 ? H : k == 2 ? (ru ? ru : H) : H; }
  int Cols(int k) const { return k == 0 ? D : k == 1 ? rw : k == 2 ? H : ru; }
  bool Present(int k) const { return k == 0 || k == 2 || (k == 1 && rw > 0) || (k == 3 && ru > 0); }
  bool AnySparse() const { return sparse[0] || sparse[1] || sparse[2] || sparse[3]; }

  // Fills data and options; call AddTensors() afterwards (tests may edit fields in between).
  void Fill() {
    for (auto& v : x) v = RandomWeight();
    for (auto& v : w1) v = RandomWeight();
    for (auto& v : w2) v = RandomWeight();
    for (auto& v : u1) v = RandomWeight();
    for (auto& v : u2) v = RandomWeight();
    if (keep_pct < 100) {
      for (int k = 0; k < 4; ++k) {
        int8_t* w = Weight(k);
        const int size = k == 0 ? static_cast<int>(sizeof(w1)) : static_cast<int>(sizeof(w2));
        for (int i = 0; i < size; ++i) {
          g_seed = g_seed * 1664525u + 1013904223u;
          if (static_cast<int>((g_seed >> 16) % 100) >= keep_pct) w[i] = 0;
        }
        w[k] = static_cast<int8_t>(k + 1);  // nnz >= 1
      }
    }
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
    for (int k = 0; k < 4; ++k) {
      idx[1 + k] = idx[10 + k] = -1;
      if (!Present(k)) continue;
      if (!sparse[k]) {
        idx[1 + k] = c.AddTensor(kTfLiteInt8, {Rows(k), Cols(k)}, Weight(k), 0.01f, 0, true);
        continue;
      }
      // The exporter's layout: row-major non-zero values, bit j of byte b for element 8 b + j.
      const int n = Rows(k) * Cols(k);
      nnz[k] = 0;
      memset(bitmaps[k], 0, sizeof(bitmaps[k]));
      for (int i = 0; i < n; ++i) {
        if (Weight(k)[i] == 0) continue;
        bitmaps[k][i / 8] = static_cast<uint8_t>(bitmaps[k][i / 8] | (1u << (i % 8)));
        values[k][nnz[k]++] = Weight(k)[i];
      }
      idx[1 + k] = c.AddTensor(kTfLiteInt8, {nnz[k]}, values[k], 0.01f, 0, true);
      idx[10 + k] = c.AddTensor(kTfLiteUInt8, {(n + 7) / 8}, bitmaps[k], 0.0f, 0, true);
    }
    idx[5] = c.AddTensor(kTfLiteInt32, {H}, bias_z, 0.0f, 0, true);
    idx[6] = c.AddTensor(kTfLiteInt32, {H}, bias_h, 0.0f, 0, true);
    idx[7] = c.AddTensor(kTfLiteInt16, {256}, gate_lut, 0.0f, 0, true);
    idx[8] = c.AddTensor(kTfLiteInt16, {256}, update_lut, 0.0f, 0, true);
    idx[9] = c.AddTensor(kTfLiteInt8, {B, H}, state, 1.0f / 128, 0, false, true);
    out_idx = return_sequences ? c.AddTensor(kTfLiteInt8, {B, T, H}, out, 1.0f / 128, 0)
                               : c.AddTensor(kTfLiteInt8, {B, H}, out, 1.0f / 128, 0);
    inputs.size = bitmap_inputs || AnySparse() ? 14 : 10;
    for (int i = 0; i < inputs.size; ++i) inputs.data[i] = idx[i];
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
  // Sparse matrices were expanded by Prepare: Eval must not read their values or bitmaps again.
  for (int k = 0; k < 4; ++k) {
    if (!m->sparse[k]) continue;
    memset(m->values[k], 0x7F, sizeof(m->values[k]));
    memset(m->bitmaps[k], 0xFF, sizeof(m->bitmaps[k]));
  }
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

TEST(SparseAndDenseMixMatchesTheCore) {
  static Model m;
  m.keep_pct = 30;
  m.sparse[0] = true;  // W sparse, U dense (bitmap input 12 is -1)
  CheckAgainstCore(&m);
  EXPECT_EQ(m.inputs.size, 14);
  EXPECT_EQ(m.inputs.data[12], -1);
}

TEST(SparseLowRankAllFourMatchesTheCore) {
  static Model m;
  m.rw = 2;
  m.ru = 3;
  m.T = 4;
  m.return_sequences = true;
  m.keep_pct = 40;
  for (bool& s : m.sparse) s = true;
  CheckAgainstCore(&m);
}

TEST(SparseLowRankSomeDenseMatchesTheCore) {
  static Model m;
  m.B = 1;
  m.T = 1;
  m.rw = 3;
  m.ru = 2;
  m.keep_pct = 50;
  m.sparse[1] = m.sparse[2] = true;  // W2, U1 sparse; W1, U2 dense with bitmaps -1
  CheckAgainstCore(&m);
  EXPECT_EQ(m.inputs.data[10], -1);
  EXPECT_EQ(m.inputs.data[13], -1);
}

TEST(FourteenInputsWithoutBitmapsMatchesTheCore) {
  static Model m;
  m.rw = 2;
  m.bitmap_inputs = true;  // inputs 10-13 all -1: every matrix dense
  CheckAgainstCore(&m);
  EXPECT_EQ(m.inputs.size, 14);
}

// The same pruned model stored dense and stored sparse: identical outputs and states on every invoke;
// the sparse one holds rows * cols more persistent bytes per sparse matrix (its expanded copy).
TEST(SparseStorageEqualsDenseStorage) {
  static Model dense, sparse;
  dense.rw = sparse.rw = 3;
  dense.ru = sparse.ru = 2;
  dense.T = sparse.T = 2;
  dense.return_sequences = sparse.return_sequences = true;
  dense.keep_pct = sparse.keep_pct = 30;
  sparse.sparse[0] = sparse.sparse[1] = sparse.sparse[3] = true;  // U1 dense
  g_seed = 777;
  dense.Fill();
  g_seed = 777;
  sparse.Fill();
  dense.AddTensors();
  sparse.AddTensors();
  EXPECT_EQ(dense.InitAndPrepare(), kTfLiteOk);
  EXPECT_EQ(sparse.InitAndPrepare(), kTfLiteOk);
  int expanded = 0, stored = 0;
  for (int k = 0; k < 4; ++k) {
    if (!sparse.sparse[k]) continue;
    expanded += sparse.Rows(k) * sparse.Cols(k);
    stored += sparse.nnz[k] + (sparse.Rows(k) * sparse.Cols(k) + 7) / 8;
    EXPECT_TRUE(sparse.nnz[k] < sparse.Rows(k) * sparse.Cols(k));
  }
  EXPECT_EQ(sparse.ctx.persistent_bytes - dense.ctx.persistent_bytes, static_cast<size_t>(expanded));
  EXPECT_TRUE(stored < expanded);
  int nonzero = 0;
  for (int invoke = 0; invoke < 3; ++invoke) {
    for (int i = 0; i < dense.B * dense.T * dense.D; ++i) dense.x[i] = sparse.x[i] = RandomWeight();
    EXPECT_EQ(dense.Invoke(), kTfLiteOk);
    EXPECT_EQ(sparse.Invoke(), kTfLiteOk);
    for (int i = 0; i < dense.B * dense.T * dense.H; ++i) {
      EXPECT_EQ(sparse.out[i], dense.out[i]);
      nonzero += dense.out[i] != 0;
    }
    for (int i = 0; i < dense.B * dense.H; ++i) EXPECT_EQ(sparse.state[i], dense.state[i]);
  }
  EXPECT_TRUE(nonzero > 0);
}

// Builds a valid model (full rank; `configure` may change it before Fill), lets `edit` break it,
// expects Prepare to fail naming `needle`.
template <typename Configure, typename Edit>
void ExpectRejectedWith(Configure configure, Edit edit, const char* needle) {
  static Model m;
  m.~Model();
  new (&m) Model();
  configure(&m);
  m.Fill();
  m.AddTensors();
  edit(&m);
  EXPECT_EQ(m.InitAndPrepare(), kTfLiteError);
  EXPECT_CONTAINS(fake_tflm::LastMessage(), needle);
  EXPECT_EQ(m.ctx.live_temp_tensors, 0);
}

template <typename Edit>
void ExpectRejected(Edit edit, const char* needle) {
  ExpectRejectedWith([](Model*) {}, edit, needle);
}

// Full rank, W sparse (values input 1, bitmap input 10: [5, 4] = 20 elements, 3 bytes, 4 padding bits),
// U dense with bitmap input 12 = -1.
template <typename Edit>
void ExpectSparseRejected(Edit edit, const char* needle) {
  ExpectRejectedWith(
      [](Model* m) {
        m->keep_pct = 50;
        m->sparse[0] = true;
      },
      edit, needle);
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

TEST(RejectsBadSparseTensors) {
  ExpectSparseRejected([](Model* m) { m->ctx.dims[m->idx[10]].data[0] = 4; },
                       "W/W1 bitmap (input 10) does not fit a [5, 4] matrix with");
  ExpectSparseRejected([](Model* m) { m->ctx.dims[m->idx[10]].data[0] = 2; },
                       "must have ceil(rows * cols / 8) bytes");
  ExpectSparseRejected([](Model* m) { m->ctx.dims[m->idx[1]].data[0] -= 1; },
                       "set bitmap bits differs from the number of stored values");
  ExpectSparseRejected([](Model* m) { m->ctx.dims[m->idx[1]].data[0] += 1; }, "set bitmap bits differs");
  ExpectSparseRejected(
      [](Model* m) {
        m->bitmaps[0][2] = static_cast<uint8_t>(m->bitmaps[0][2] | 0x80);  // element 23 of 20
        m->ctx.dims[m->idx[1]].data[0] += 1;                               // popcount still matches
      },
      "padding bits after element rows * cols of the bitmap must be 0");
  ExpectSparseRejected(
      [](Model* m) {
        m->ctx.dims[m->idx[1]].size = 2;  // values [1, nnz]
        m->ctx.dims[m->idx[1]].data[1] = m->ctx.dims[m->idx[1]].data[0];
        m->ctx.dims[m->idx[1]].data[0] = 1;
      },
      "W/W1 (input 1, sparse values) has rank 2, expected 1");
  ExpectSparseRejected([](Model* m) { m->ctx.tensors[m->idx[10]].type = kTfLiteInt8; },
                       "W/W1 bitmap (input 10) has type INT8, expected UINT8");
  ExpectSparseRejected([](Model* m) { m->ctx.dims[m->idx[10]].size = 2; },
                       "W/W1 bitmap (input 10) has rank 2, expected 1");
  ExpectSparseRejected([](Model* m) { m->ctx.tensors[m->idx[10]].allocation_type = kTfLiteArenaRw; },
                       "W/W1 bitmap (input 10) must be a constant");
  ExpectSparseRejected([](Model* m) { m->ctx.tensors[m->idx[1]].allocation_type = kTfLiteArenaRw; },
                       "W/W1 (input 1, sparse values) must be a constant");
  ExpectSparseRejected([](Model* m) { m->ctx.tensors[m->idx[1]].type = kTfLiteInt16; },
                       "W/W1 (input 1, sparse values) has type INT16, expected INT8");
  ExpectSparseRejected([](Model* m) { m->ctx.tensors[m->idx[1]].params.zero_point = 1; },
                       "W/W1 (input 1, sparse values) has zero point 1, expected 0");
  ExpectSparseRejected([](Model* m) { m->values[0][0] = -128; }, "W holds -128");  // checked after expansion
  ExpectSparseRejected([](Model* m) { m->inputs.data[11] = m->idx[10]; },
                       "input 11 (W2 bitmap) must be absent (-1) at full rank");
  ExpectSparseRejected([](Model* m) { m->inputs.data[13] = m->idx[10]; },
                       "input 13 (U2 bitmap) must be absent (-1) at full rank");
  ExpectSparseRejected([](Model* m) { m->inputs.size = 12; }, "has 12 inputs, expected 10");
  // A bitmap for the dense U: U's [5, 5] tensor is not 1-D values.
  ExpectSparseRejected([](Model* m) { m->inputs.data[12] = m->idx[10]; },
                       "U/U1 (input 3, sparse values) has rank 2, expected 1");
  // Without its bitmap, W's values tensor is checked as a dense [5, 4] matrix.
  ExpectSparseRejected([](Model* m) { m->inputs.data[10] = -1; }, "W/W1 (input 1) has rank 1, expected 2");
}

TEST(SparseFixtureIsValid) {
  static Model m;
  m.keep_pct = 50;
  m.sparse[0] = true;
  m.Fill();
  m.AddTensors();
  EXPECT_EQ(m.InitAndPrepare(), kTfLiteOk);
  EXPECT_EQ(m.inputs.size, 14);
  EXPECT_EQ(m.ctx.dims[m.idx[10]].data[0], 3);
  EXPECT_TRUE(m.nnz[0] >= 1 && m.nnz[0] < 20);
  EXPECT_EQ(m.ctx.live_temp_tensors, 0);
}

TEST(LowRankSparseBitmapsOfAbsentMatrices) {
  // Low-rank W (W2 present), full-rank U: a bitmap for U2 is rejected, one for W2 accepted.
  static Model m;
  m.rw = 2;
  m.keep_pct = 50;
  m.sparse[1] = true;
  m.Fill();
  m.AddTensors();
  m.inputs.data[13] = m.idx[11];
  EXPECT_EQ(m.InitAndPrepare(), kTfLiteError);
  EXPECT_CONTAINS(fake_tflm::LastMessage(), "input 13 (U2 bitmap) must be absent (-1) at full rank");
  EXPECT_EQ(m.ctx.live_temp_tensors, 0);
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
  RUN_TEST(SparseAndDenseMixMatchesTheCore);
  RUN_TEST(SparseLowRankAllFourMatchesTheCore);
  RUN_TEST(SparseLowRankSomeDenseMatchesTheCore);
  RUN_TEST(FourteenInputsWithoutBitmapsMatchesTheCore);
  RUN_TEST(SparseStorageEqualsDenseStorage);
  RUN_TEST(SparseFixtureIsValid);
  RUN_TEST(RejectsBadSparseTensors);
  RUN_TEST(LowRankSparseBitmapsOfAbsentMatrices);
  return TestSummary("fastgrnn_op_test");
}
