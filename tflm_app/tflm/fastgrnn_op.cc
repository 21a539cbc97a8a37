// TFLM kernel adapter of the custom operator "FastGRNN" (fastgrnn_tf/int8/int8_step_spec.md).
//
// Init parses and checks the flexbuffer options. Prepare is a short sequence of validators (as TFLM's
// svdf.cc): node and options, presence of the inputs, x, the weight matrices (bitmap-sparse ones,
// optional inputs 10-13, spec "Sparse-stored weights", expanded into the persistent arena), biases
// and LUTs, state and output; then it plans the memory and prepares the core's weights
// (fastgrnn::PrepareWeights, e.g. the Cortex-M4 int16 layout) once, so the first Eval costs the same
// as every other. Eval binds tensor pointers (the expanded copy for a sparse matrix) and runs the
// int8 core (../fastgrnn/fastgrnn_int8.h). No arithmetic lives here.
//
// Both TFLM API generations are supported, with the same code:
// - current TFLM (after PR #3797, tensorflow/tflite-micro 2026): the C API types (TfLiteContext,
//   TfLiteNode, TfLiteTensor, TfLiteEvalTensor, TfLiteStatus, TFLMRegistration) and MicroContext,
//   GetMicroContext, NumInputs... live in namespace tflite::micro (using-declarations re-export the
//   types into tflite and, unless TFLM_NO_GLOBAL_C_ALIASES, into the global namespace);
// - older TFLM, e.g. the Arduino library: global C API types, tflite::MicroContext, tflite::NumInputs.
// The `using namespace micro` below makes both spell the same; headers are chosen by __has_include.
//
// TFLM API used, read in tensorflow/tflite-micro (main branch, 2024-2026):
//   tensorflow/lite/micro/micro_common.h         TFLMRegistration (current TFLM: also every C API type)
//   tensorflow/lite/micro/c/common.h             C API types in tflite::micro (TFLM after PR #3797)
//   tensorflow/lite/c/common.h                   C API types, global (older TFLM)
//   tensorflow/lite/micro/kernels/kernel_util.h  micro::RegisterOp, GetEvalInput, GetMutableEvalInput,
//                                                GetEvalOutput, GetTensorData; current TFLM also
//                                                NumInputs, NumOutputs, NumDimensions, IsConstantTensor
//   tensorflow/lite/kernels/kernel_util.h        NumInputs, NumOutputs, NumDimensions, IsConstantTensor
//                                                (older TFLM, where micro's kernel_util.h lacks them)
//   tensorflow/lite/micro/kernels/kernel_util.cc an absent optional input (-1) gives nullptr
//   tensorflow/lite/micro/micro_context.h/.cc    GetMicroContext, AllocatePersistentBuffer,
//                                                RequestScratchBufferInArena, GetScratchBuffer,
//                                                AllocateTempInputTensor (nullptr for -1),
//                                                AllocateTempOutputTensor, DeallocateTempTfLiteTensor
//   tensorflow/lite/micro/micro_log.h            MicroPrintf (global in both generations)
//   tensorflow/lite/micro/micro_mutable_op_resolver.h  AddCustom(const char*, const TFLMRegistration*)
//   tensorflow/lite/micro/kernels/svdf.h, svdf.cc, svdf_common.cc  a stateful op: OpData from
//                                                AllocatePersistentBuffer, is_variable checked in Prepare
//   tensorflow/lite/micro/kernels/detection_postprocess.cc, signal/micro/kernels/rfft.cc
//                                                flexbuffers::GetRoot(...).AsMap(), m["key"], IsNull;
//                                                `static TFLMRegistration r = RegisterOp(...); return &r;`
//   tensorflow/lite/micro/micro_allocator.cc     tensors with flatbuffer data are kTfLiteMmapRo (so
//                                                Prepare can read the constant weights and bitmaps)
// This file is not compiled against TFLM by `make test` (TFLM is never vendored): make test builds it
// against tflm_app/tflm/fake_tflm/ (older API) and tests/test_tflm_adapter_static.py checks it
// statically. Opt-in, against a TFLM checkout you provide: tests/test_tflm_real_adapter.py runs it in
// that checkout's MicroInterpreter on the host (tflm_app/tflm/real), `make firmware-m4` on the emulated
// Cortex-M4 with CMSIS-NN, `make sketch-check` against the Arduino library (older API).
#include "fastgrnn_op.h"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <new>

#ifndef FLATBUFFERS_LOCALE_INDEPENDENT
#define FLATBUFFERS_LOCALE_INDEPENDENT 0
#endif
#if __has_include("flatbuffers/flexbuffers.h")
#include "flatbuffers/flexbuffers.h"
#else  // the TFLM Arduino library rewrites third-party include paths
#include "third_party/flatbuffers/include/flatbuffers/flexbuffers.h"
#endif
#include "../fastgrnn/fastgrnn_int8.h"
#if __has_include("tensorflow/lite/micro/c/common.h")
#include "tensorflow/lite/micro/c/common.h"
#elif __has_include("tensorflow/lite/c/common.h")
#include "tensorflow/lite/c/common.h"
#endif  // else the C API types come with tensorflow/lite/micro/micro_common.h (fastgrnn_op.h)
#include "tensorflow/lite/micro/kernels/kernel_util.h"
#include "tensorflow/lite/micro/micro_context.h"
#include "tensorflow/lite/micro/micro_log.h"
#if __has_include("tensorflow/lite/kernels/kernel_util.h")
#include "tensorflow/lite/kernels/kernel_util.h"
#endif

namespace tflite {
namespace {

using namespace micro;        // NOLINT(build/namespaces): current TFLM's API; empty of these names in older TFLM
using namespace fastgrnn_op;  // NOLINT(build/namespaces): the tensor index constants

constexpr const char* kTensorNames[kNumInputsWithBitmaps] = {
    "input x", "W/W1", "W2", "U/U1", "U2", "bias_z", "bias_h", "gate_lut", "update_lut", "hidden state",
    "W/W1 bitmap", "W2 bitmap", "U/U1 bitmap", "U2 bitmap"};
constexpr int kNumWeights = 4;  // W/W1, W2, U/U1, U2: inputs kW1Tensor + k, bitmaps kW1BitmapTensor + k

struct OpData {
  fastgrnn::Int8Params params;  // shapes and constants; tensor pointers are bound in Eval
  // Weight matrices expanded from bitmap-sparse storage in Prepare (persistent arena), indexed by
  // input - kW1Tensor; nullptr: stored dense (or absent), Eval binds the tensor data.
  const int8_t* expanded[kNumWeights] = {};
  bool return_sequences = false;
  int32_t batch = 0;
  int32_t steps = 0;
  int scratch_index = -1;          // -1: the core needs no scratch
  void* prepared = nullptr;        // PreparedBytes() in the persistent arena, filled by Prepare
  const char* options_error = nullptr;  // found by Init, reported by Prepare
  const char* options_key = "";
};

// ---------------------------------------------------------------------------------------------
// Custom options (flexbuffer map, every key of the spec required).

const char* ReadInt(const flexbuffers::Map& m, const char* key, int32_t* out) {
  const flexbuffers::Reference v = m[key];
  if (v.IsNull()) return "missing";
  if (!v.IsIntOrUint()) return "not an integer";
  const int64_t x = v.AsInt64();
  if (x < INT32_MIN || x > INT32_MAX) return "out of int32 range";
  *out = static_cast<int32_t>(x);
  return nullptr;
}

const char* ParseOptions(const char* buffer, size_t length, OpData* data) {
  data->options_key = "";
  if (buffer == nullptr || length < 3) return "no custom options (expected a flexbuffer map)";
  const flexbuffers::Reference root =
      flexbuffers::GetRoot(reinterpret_cast<const uint8_t*>(buffer), length);
  if (!root.IsMap()) return "custom options are not a flexbuffer map";
  const flexbuffers::Map m = root.AsMap();

  fastgrnn::Int8Params& p = data->params;
  int32_t version = 0;
  struct IntKey {
    const char* key;
    int32_t* dst;
  };
  const IntKey keys[] = {
      {"version", &version},
      {"units", &p.units},
      {"input_dim", &p.input_dim},
      {"w_rank", &p.w_rank},
      {"u_rank", &p.u_rank},
      {"v_multiplier", &p.v_multiplier},
      {"v_shift", &p.v_shift},
      {"u_multiplier", &p.u_multiplier},
      {"u_shift", &p.u_shift},
      {"pre_w_multiplier", &p.pre_w_multiplier},
      {"pre_u_multiplier", &p.pre_u_multiplier},
      {"pre_shift", &p.pre_shift},
      {"zeta_q15", &p.zeta_q15},
      {"nu_q15", &p.nu_q15},
  };
  for (const IntKey& k : keys) {
    data->options_key = k.key;
    if (const char* err = ReadInt(m, k.key, k.dst)) return err;
  }
  data->options_key = "version";
  if (version != kOptionsVersion) return "unsupported version (this adapter reads version 1)";

  data->options_key = "return_sequences";
  const flexbuffers::Reference rs = m["return_sequences"];
  if (rs.IsNull()) return "missing";
  if (!rs.IsBool() && !rs.IsIntOrUint()) return "not a bool";
  data->return_sequences = rs.AsBool();

  // Informational names: required and must be strings; the LUTs carry the arithmetic.
  const char* const names[] = {"gate_activation", "update_activation"};
  for (const char* key : names) {
    data->options_key = key;
    const flexbuffers::Reference v = m[key];
    if (v.IsNull()) return "missing";
    if (!v.IsString()) return "not a string";
  }
  data->options_key = "";
  return nullptr;
}

void* Init(TfLiteContext* context, const char* buffer, size_t length) {
  void* raw = GetMicroContext(context)->AllocatePersistentBuffer(sizeof(OpData));
  if (raw == nullptr) return nullptr;  // Prepare reports it
  OpData* data = new (raw) OpData();
  data->options_error = ParseOptions(buffer, length, data);
  return data;
}

// ---------------------------------------------------------------------------------------------
// Prepare: tensor checks.

// Holds the temporary TfLiteTensors of one Prepare and gives them back on every return path.
class TempTensors {
 public:
  // Inputs past `num_inputs` (the bitmaps of a 10-input op) stay nullptr, as absent ones.
  TempTensors(MicroContext* mc, const TfLiteNode* node, int num_inputs) : mc_(mc) {
    for (int i = 0; i < num_inputs; ++i) in[i] = mc->AllocateTempInputTensor(node, i);
    out = mc->AllocateTempOutputTensor(node, kOutputTensor);
  }
  ~TempTensors() {
    for (TfLiteTensor* t : in) {
      if (t != nullptr) mc_->DeallocateTempTfLiteTensor(t);
    }
    if (out != nullptr) mc_->DeallocateTempTfLiteTensor(out);
  }
  TempTensors(const TempTensors&) = delete;
  TempTensors& operator=(const TempTensors&) = delete;

  TfLiteTensor* in[kNumInputsWithBitmaps] = {};
  TfLiteTensor* out = nullptr;

 private:
  MicroContext* mc_;
};

// Type and exact shape; `what` names the tensor in the message.
bool CheckShape(const TfLiteTensor* t, const char* what, TfLiteType type, int rank, const int32_t* dims) {
  if (t->type != type) {
    MicroPrintf("FastGRNN: %s has type %s, expected %s", what, TfLiteTypeGetName(t->type),
                TfLiteTypeGetName(type));
    return false;
  }
  if (NumDimensions(t) != rank) {
    MicroPrintf("FastGRNN: %s has rank %d, expected %d", what, NumDimensions(t), rank);
    return false;
  }
  for (int i = 0; i < rank; ++i) {
    if (dims[i] >= 0 && t->dims->data[i] != dims[i]) {
      MicroPrintf("FastGRNN: %s dimension %d is %d, expected %d", what, i,
                  static_cast<int>(t->dims->data[i]), static_cast<int>(dims[i]));
      return false;
    }
  }
  return true;
}

// Per-tensor quantization with zero point `zp` (per-channel is rejected).
bool CheckZeroPoint(const TfLiteTensor* t, const char* what, int32_t zp) {
  if (t->quantization.type == kTfLiteAffineQuantization && t->quantization.params != nullptr) {
    const auto* q = static_cast<const TfLiteAffineQuantization*>(t->quantization.params);
    if (q->scale != nullptr && q->scale->size > 1) {
      MicroPrintf("FastGRNN: %s is quantized per channel (%d scales); the op needs one scale", what,
                  q->scale->size);
      return false;
    }
  }
  if (t->params.zero_point != zp) {
    MicroPrintf("FastGRNN: %s has zero point %d, expected %d", what,
                static_cast<int>(t->params.zero_point), static_cast<int>(zp));
    return false;
  }
  return true;
}

// Scale 1/128 (Q0.7) and zero point 0: the hidden state and the output.
bool CheckQ07(const TfLiteTensor* t, const char* what) {
  if (std::fabs(t->params.scale * 128.0f - 1.0f) > 1e-5f) {
    MicroPrintf("FastGRNN: %s has scale %f, expected 1/128 = 0.0078125", what,
                static_cast<double>(t->params.scale));
    return false;
  }
  return CheckZeroPoint(t, what, 0);
}

bool CheckConstant(const TfLiteTensor* t, const char* what) {
  if (!IsConstantTensor(t)) {
    MicroPrintf("FastGRNN: %s must be a constant tensor (weights stored in the model)", what);
    return false;
  }
  return true;
}

// A constant int8 weight matrix [rows, cols] with zero point 0.
bool CheckWeight(const TfLiteTensor* t, const char* what, int32_t rows, int32_t cols) {
  const int32_t dims[2] = {rows, cols};
  return CheckShape(t, what, kTfLiteInt8, 2, dims) && CheckConstant(t, what) && CheckZeroPoint(t, what, 0);
}

// A bitmap-sparse weight matrix [rows, cols]: constant int8 values [nnz] with zero point 0 and a
// constant uint8 bitmap [ceil(rows * cols / 8)] whose set bits count nnz (padding bits 0).
bool CheckSparseWeight(const TfLiteTensor* values, const char* what, const TfLiteTensor* bitmap,
                       const char* bitmap_what, int32_t rows, int32_t cols) {
  const int32_t any[1] = {-1};
  if (!CheckShape(values, what, kTfLiteInt8, 1, any) || !CheckConstant(values, what) ||
      !CheckZeroPoint(values, what, 0) || !CheckShape(bitmap, bitmap_what, kTfLiteUInt8, 1, any) ||
      !CheckConstant(bitmap, bitmap_what)) {
    return false;
  }
  const int32_t bitmap_bytes = bitmap->dims->data[0];
  const int32_t nnz = values->dims->data[0];
  if (const char* err = fastgrnn::CheckBitmapSparse(bitmap->data.uint8, bitmap_bytes, rows, cols, nnz)) {
    MicroPrintf("FastGRNN: %s does not fit a [%d, %d] matrix with %d stored values (%d bitmap bytes): %s",
                bitmap_what, static_cast<int>(rows), static_cast<int>(cols), static_cast<int>(nnz),
                static_cast<int>(bitmap_bytes), err);
    return false;
  }
  return true;
}

// The op data exists, the options parsed, and the node has 10 or 14 inputs and one output.
TfLiteStatus CheckNode(const OpData* data, const TfLiteNode* node) {
  if (data == nullptr) {
    MicroPrintf("FastGRNN: the arena has no room for the op data (%d bytes)", static_cast<int>(sizeof(OpData)));
    return kTfLiteError;
  }
  if (data->options_error != nullptr) {
    if (data->options_key[0] != '\0') {
      MicroPrintf("FastGRNN: custom option '%s': %s", data->options_key, data->options_error);
    } else {
      MicroPrintf("FastGRNN: %s", data->options_error);
    }
    return kTfLiteError;
  }
  const int num_inputs = NumInputs(node);
  if (num_inputs != kNumInputs && num_inputs != kNumInputsWithBitmaps) {
    MicroPrintf("FastGRNN: has %d inputs, expected %d (x, W1, W2, U1, U2, bias_z, bias_h, gate_lut, "
                "update_lut, state) or %d (and the bitmaps of W1, W2, U1, U2)", num_inputs, kNumInputs,
                kNumInputsWithBitmaps);
    return kTfLiteError;
  }
  if (NumOutputs(node) != kNumOutputs) {
    MicroPrintf("FastGRNN: has %d outputs, expected %d", NumOutputs(node), kNumOutputs);
    return kTfLiteError;
  }
  const fastgrnn::Int8Params& p = data->params;
  if (p.units <= 0 || p.input_dim <= 0 || p.w_rank < 0 || p.u_rank < 0) {
    MicroPrintf("FastGRNN: options units=%d input_dim=%d w_rank=%d u_rank=%d are invalid",
                static_cast<int>(p.units), static_cast<int>(p.input_dim), static_cast<int>(p.w_rank),
                static_cast<int>(p.u_rank));
    return kTfLiteError;
  }
  return kTfLiteOk;
}

// Every required input is there; W2/U2 and their bitmaps are absent at full rank; the output exists.
TfLiteStatus CheckPresence(const TempTensors& t, int num_inputs, const fastgrnn::Int8Params& p) {
  for (int i = 0; i < num_inputs; ++i) {
    const bool optional_absent = ((i == kW2Tensor || i == kW2BitmapTensor) && p.w_rank == 0) ||
                                 ((i == kU2Tensor || i == kU2BitmapTensor) && p.u_rank == 0);
    if (optional_absent && t.in[i] != nullptr) {
      MicroPrintf("FastGRNN: input %d (%s) must be absent (-1) at full rank", i, kTensorNames[i]);
      return kTfLiteError;
    }
    // A bitmap may be absent for any matrix (stored dense).
    if (!optional_absent && i < kNumInputs && t.in[i] == nullptr) {
      MicroPrintf("FastGRNN: input %d (%s) is missing", i, kTensorNames[i]);
      return kTfLiteError;
    }
  }
  if (t.out == nullptr) {
    MicroPrintf("FastGRNN: output 0 is missing");
    return kTfLiteError;
  }
  return kTfLiteOk;
}

// x: int8 [B, T, D] with B, T >= 1 and an int8 zero point (its scale is folded into the multipliers).
TfLiteStatus CheckInputX(const TfLiteTensor* x, int32_t D, int32_t* batch, int32_t* steps) {
  const int32_t x_dims[3] = {-1, -1, D};
  if (!CheckShape(x, "input x (input 0)", kTfLiteInt8, 3, x_dims)) return kTfLiteError;
  *batch = x->dims->data[0];
  *steps = x->dims->data[1];
  if (*batch < 1 || *steps < 1) {
    MicroPrintf("FastGRNN: input x has shape [%d, %d, %d]; batch and steps must be >= 1",
                static_cast<int>(*batch), static_cast<int>(*steps), static_cast<int>(D));
    return kTfLiteError;
  }
  const int32_t zx = x->params.zero_point;
  if (zx < -128 || zx > 127) {
    MicroPrintf("FastGRNN: input x zero point %d is outside int8", static_cast<int>(zx));
    return kTfLiteError;
  }
  return kTfLiteOk;
}

// Weights: constant int8 matrices of the spec's shapes, each stored dense [rows, cols] or, with its
// bitmap, bitmap-sparse (values [nnz]); a sparse one is expanded once into the persistent arena
// (data->expanded). Binds p->w1, w2, u1, u2 to the dense data (nullptr for an absent matrix).
TfLiteStatus PrepareWeightMatrices(MicroContext* mc, const TempTensors& t, OpData* data, fastgrnn::Int8Params* p) {
  const int32_t H = p->units;
  const bool w_low = p->w_rank > 0;
  const bool u_low = p->u_rank > 0;
  const struct {
    int index;
    int bitmap;
    const char* what;
    const char* sparse_what;
    const char* bitmap_what;
    int32_t rows;
    int32_t cols;
    bool present;
  } weights[kNumWeights] = {
      {kW1Tensor, kW1BitmapTensor, "W/W1 (input 1)", "W/W1 (input 1, sparse values)", "W/W1 bitmap (input 10)",
       w_low ? p->w_rank : H, p->input_dim, true},
      {kW2Tensor, kW2BitmapTensor, "W2 (input 2)", "W2 (input 2, sparse values)", "W2 bitmap (input 11)", H,
       p->w_rank, w_low},
      {kU1Tensor, kU1BitmapTensor, "U/U1 (input 3)", "U/U1 (input 3, sparse values)", "U/U1 bitmap (input 12)",
       u_low ? p->u_rank : H, H, true},
      {kU2Tensor, kU2BitmapTensor, "U2 (input 4)", "U2 (input 4, sparse values)", "U2 bitmap (input 13)", H,
       p->u_rank, u_low},
  };
  const int8_t* weight_data[kNumWeights] = {};
  for (int k = 0; k < kNumWeights; ++k) {
    const auto& w = weights[k];
    data->expanded[k] = nullptr;
    if (!w.present) continue;
    const TfLiteTensor* wt = t.in[w.index];
    const TfLiteTensor* bitmap = t.in[w.bitmap];
    if (bitmap == nullptr) {
      if (!CheckWeight(wt, w.what, w.rows, w.cols)) return kTfLiteError;
      weight_data[k] = wt->data.int8;
      continue;
    }
    if (!CheckSparseWeight(wt, w.sparse_what, bitmap, w.bitmap_what, w.rows, w.cols)) return kTfLiteError;
    const size_t bytes = static_cast<size_t>(w.rows) * static_cast<size_t>(w.cols);
    int8_t* dense = static_cast<int8_t*>(mc->AllocatePersistentBuffer(bytes));
    if (dense == nullptr) {
      MicroPrintf("FastGRNN: arena too small for %d bytes of %s expanded from its bitmap", static_cast<int>(bytes),
                  w.what);
      return kTfLiteError;
    }
    fastgrnn::ExpandBitmapSparse(wt->data.int8, bitmap->data.uint8, w.rows, w.cols, dense);
    data->expanded[k] = dense;
    weight_data[k] = dense;
  }
  p->w1 = weight_data[0];
  p->w2 = weight_data[1];
  p->u1 = weight_data[2];
  p->u2 = weight_data[3];
  return kTfLiteOk;
}

// Biases and LUTs: constant tensors of the spec's shapes and types. Binds them into p.
TfLiteStatus CheckBiasesAndLuts(const TempTensors& t, fastgrnn::Int8Params* p) {
  const int32_t h_dims[1] = {p->units};
  const int32_t lut_dims[1] = {kLutSize};
  const struct {
    int index;
    const char* what;
    TfLiteType type;
    const int32_t* dims;
  } vectors[] = {
      {kBiasZTensor, "bias_z (input 5)", kTfLiteInt32, h_dims},
      {kBiasHTensor, "bias_h (input 6)", kTfLiteInt32, h_dims},
      {kGateLutTensor, "gate_lut (input 7)", kTfLiteInt16, lut_dims},
      {kUpdateLutTensor, "update_lut (input 8)", kTfLiteInt16, lut_dims},
  };
  for (const auto& v : vectors) {
    const TfLiteTensor* vt = t.in[v.index];
    if (!CheckShape(vt, v.what, v.type, 1, v.dims) || !CheckConstant(vt, v.what) ||
        !CheckZeroPoint(vt, v.what, 0)) {
      return kTfLiteError;
    }
  }
  p->bias_z = t.in[kBiasZTensor]->data.i32;
  p->bias_h = t.in[kBiasHTensor]->data.i32;
  p->gate_lut = t.in[kGateLutTensor]->data.i16;
  p->update_lut = t.in[kUpdateLutTensor]->data.i16;
  return kTfLiteOk;
}

// State: variable int8 [B, H], Q0.7. Output: int8 [B, T, H] (return_sequences) or [B, H], Q0.7.
TfLiteStatus CheckStateAndOutput(const TempTensors& t, bool return_sequences, int32_t B, int32_t T, int32_t H) {
  const TfLiteTensor* state = t.in[kStateTensor];
  const int32_t state_dims[2] = {B, H};
  if (!CheckShape(state, "hidden state (input 9)", kTfLiteInt8, 2, state_dims) ||
      !CheckQ07(state, "hidden state (input 9)")) {
    return kTfLiteError;
  }
  if (!state->is_variable) {
    MicroPrintf("FastGRNN: hidden state (input 9) must be a variable tensor");
    return kTfLiteError;
  }
  const int32_t seq_dims[3] = {B, T, H};
  const int32_t last_dims[2] = {B, H};
  if (!CheckShape(t.out, return_sequences ? "output (return_sequences)" : "output", kTfLiteInt8,
                  return_sequences ? 3 : 2, return_sequences ? seq_dims : last_dims) ||
      !CheckQ07(t.out, "output")) {
    return kTfLiteError;
  }
  return kTfLiteOk;
}

// Memory and the one-time work: the scratch buffer of every invoke and the prepared weights, which
// PrepareWeights fills here (p has the constant data bound), so Eval does arithmetic only.
TfLiteStatus PrepareCore(MicroContext* mc, const fastgrnn::Int8Params& p, OpData* data) {
  data->scratch_index = -1;
  const size_t scratch_bytes = fastgrnn::ScratchBytes(p);
  if (scratch_bytes > 0 && mc->RequestScratchBufferInArena(scratch_bytes, &data->scratch_index) != kTfLiteOk) {
    MicroPrintf("FastGRNN: arena too small for %d scratch bytes", static_cast<int>(scratch_bytes));
    return kTfLiteError;
  }
  data->prepared = nullptr;
  const size_t prepared_bytes = fastgrnn::PreparedBytes(p);
  if (prepared_bytes > 0) {
    data->prepared = mc->AllocatePersistentBuffer(prepared_bytes);
    if (data->prepared == nullptr) {
      MicroPrintf("FastGRNN: arena too small for %d bytes of prepared weights", static_cast<int>(prepared_bytes));
      return kTfLiteError;
    }
    fastgrnn::PrepareWeights(p, data->prepared);
  }
  return kTfLiteOk;
}

TfLiteStatus Prepare(TfLiteContext* context, TfLiteNode* node) {
  OpData* data = static_cast<OpData*>(node->user_data);
  if (CheckNode(data, node) != kTfLiteOk) return kTfLiteError;
  fastgrnn::Int8Params p = data->params;  // options; data pointers and input zero point below
  MicroContext* mc = GetMicroContext(context);
  TempTensors t(mc, node, NumInputs(node));
  if (CheckPresence(t, NumInputs(node), p) != kTfLiteOk) return kTfLiteError;
  int32_t batch = 0, steps = 0;
  if (CheckInputX(t.in[kInputTensor], p.input_dim, &batch, &steps) != kTfLiteOk) return kTfLiteError;
  p.input_zero_point = t.in[kInputTensor]->params.zero_point;
  if (PrepareWeightMatrices(mc, t, data, &p) != kTfLiteOk) return kTfLiteError;
  if (CheckBiasesAndLuts(t, &p) != kTfLiteOk) return kTfLiteError;
  if (CheckStateAndOutput(t, data->return_sequences, batch, steps, p.units) != kTfLiteOk) return kTfLiteError;
  if (const char* err = fastgrnn::Validate(p)) {  // the core's own consistency check, data bound
    MicroPrintf("FastGRNN: %s", err);
    return kTfLiteError;
  }
  if (PrepareCore(mc, p, data) != kTfLiteOk) return kTfLiteError;
  // Keep shapes and constants only; Eval binds the data pointers from TfLiteEvalTensors.
  p.w1 = p.w2 = p.u1 = p.u2 = nullptr;
  p.bias_z = p.bias_h = nullptr;
  p.gate_lut = p.update_lut = nullptr;
  data->params = p;
  data->batch = batch;
  data->steps = steps;
  return kTfLiteOk;
}

// ---------------------------------------------------------------------------------------------
// Eval: bind the tensors, run each batch row.

template <typename T>
const T* InputData(TfLiteContext* context, TfLiteNode* node, int index) {
  return tflite::micro::GetTensorData<T>(tflite::micro::GetEvalInput(context, node, index));
}

// A weight matrix (input kW1Tensor..kU2Tensor): the copy Prepare expanded from bitmap-sparse
// storage, else the dense tensor data.
const int8_t* WeightData(TfLiteContext* context, TfLiteNode* node, const OpData* data, int index) {
  const int8_t* expanded = data->expanded[index - kW1Tensor];
  return expanded != nullptr ? expanded : InputData<int8_t>(context, node, index);
}

TfLiteStatus Eval(TfLiteContext* context, TfLiteNode* node) {
  OpData* data = static_cast<OpData*>(node->user_data);
  TFLITE_DCHECK(data != nullptr);

  fastgrnn::Int8Params p = data->params;
  p.w1 = WeightData(context, node, data, kW1Tensor);
  p.w2 = p.w_rank > 0 ? WeightData(context, node, data, kW2Tensor) : nullptr;
  p.u1 = WeightData(context, node, data, kU1Tensor);
  p.u2 = p.u_rank > 0 ? WeightData(context, node, data, kU2Tensor) : nullptr;
  p.bias_z = InputData<int32_t>(context, node, kBiasZTensor);
  p.bias_h = InputData<int32_t>(context, node, kBiasHTensor);
  p.gate_lut = InputData<int16_t>(context, node, kGateLutTensor);
  p.update_lut = InputData<int16_t>(context, node, kUpdateLutTensor);
  const int8_t* x = InputData<int8_t>(context, node, kInputTensor);
  int8_t* h = tflite::micro::GetTensorData<int8_t>(tflite::micro::GetMutableEvalInput(context, node, kStateTensor));
  int8_t* out = tflite::micro::GetTensorData<int8_t>(tflite::micro::GetEvalOutput(context, node, kOutputTensor));

  void* scratch = data->scratch_index >= 0 ? GetMicroContext(context)->GetScratchBuffer(data->scratch_index) : nullptr;

  const int32_t T = data->steps;
  const int32_t D = p.input_dim;
  const int32_t H = p.units;
  const int32_t out_stride = data->return_sequences ? T * H : H;
  for (int32_t b = 0; b < data->batch; ++b) {
    fastgrnn::Run(p, data->prepared, x + b * T * D, T, h + b * H, out + b * out_stride, data->return_sequences,
                  scratch);
  }
  return kTfLiteOk;
}

}  // namespace

TFLMRegistration* Register_FASTGRNN() {
  static TFLMRegistration r = tflite::micro::RegisterOp(Init, Prepare, Eval);
  return &r;
}

}  // namespace tflite
