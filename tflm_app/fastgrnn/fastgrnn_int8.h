// The int8 FastGRNN step of fastgrnn_tf/int8/int8_step_spec.md, independent of TFLM.
//
// Two implementations of the same arithmetic, chosen by the build (not by the caller):
// fastgrnn_int8_reference.cc (portable C++) and fastgrnn_int8_cortex_m4.cc (ACLE DSP
// intrinsics: SXTB16/SMLAD). Both are bit-exact with fastgrnn_tf/int8/oracle.py.
#ifndef TFLM_APP_FASTGRNN_FASTGRNN_INT8_H_
#define TFLM_APP_FASTGRNN_FASTGRNN_INT8_H_

#include <cstddef>
#include <cstdint>

namespace fastgrnn {

// Everything a step needs. Pointers are borrowed (flash or tensor data); nothing is copied.
struct Int8Params {
  int32_t input_dim = 0;         // D
  int32_t units = 0;             // H
  int32_t w_rank = 0;            // 0 = full rank W [H, D]; else W1 [w_rank, D], W2 [H, w_rank]
  int32_t u_rank = 0;            // 0 = full rank U [H, H]; else U1 [u_rank, H], U2 [H, u_rank]
  int32_t input_zero_point = 0;  // z_x
  const int8_t* w1 = nullptr;    // W or W1, [out, in] row-major
  const int8_t* w2 = nullptr;    // W2 or nullptr
  const int8_t* u1 = nullptr;    // U or U1
  const int8_t* u2 = nullptr;    // U2 or nullptr
  const int32_t* bias_z = nullptr;      // [H], scale s_p / 256
  const int32_t* bias_h = nullptr;      // [H]
  const int16_t* gate_lut = nullptr;    // [256], Q15
  const int16_t* update_lut = nullptr;  // [256], Q15
  int32_t v_multiplier = 0, v_shift = 0;
  int32_t u_multiplier = 0, u_shift = 0;
  int32_t pre_w_multiplier = 0, pre_u_multiplier = 0, pre_shift = 0;
  int32_t zeta_q15 = 0, nu_q15 = 0;
};

// nullptr when the parameters are consistent, else a message saying what is wrong.
const char* Validate(const Int8Params& p);

// Bytes of working memory Run() needs (the caller owns it: TFLM scratch/persistent buffer,
// a static array on device, a vector on the host). Aligned to 4 bytes by the caller.
size_t ScratchBytes(const Int8Params& p);

// Bytes of the per-model prepared data (e.g. weights re-laid out for the M4 path); 0 when the
// selected implementation needs none. PrepareWeights fills it once (buffer aligned to 4 bytes,
// kept as long as the model is used, e.g. a TFLM persistent buffer); Run reads it.
size_t PreparedBytes(const Int8Params& p);
void PrepareWeights(const Int8Params& p, void* prepared);

// Runs T steps for one batch row. x: [T, D] int8; h: [H] int8 state, updated in place;
// out: [T, H] when return_sequences else [H] (the last h); out may alias nothing else.
void Run(const Int8Params& p, const void* prepared, const int8_t* x, int32_t steps,
         int8_t* h, int8_t* out, bool return_sequences, void* scratch);

// Multiply-accumulates of the matvec core per step (spec: "matvec core").
int64_t MacsPerStep(const Int8Params& p);

// Bitmap-sparse weight storage (spec "Sparse-stored weights"): a [rows, cols] int8 matrix stored as
// its non-zero values in row-major order (`nnz` of them) and a bitmap of ceil(rows * cols / 8)
// bytes, where bit j (LSB first) of byte b is set iff element 8 b + j is non-zero; padding bits are 0.
int64_t BitmapBytes(int32_t rows, int32_t cols);
// nullptr when `bitmap` (`bitmap_bytes` long) is a valid bitmap of a [rows, cols] matrix with `nnz`
// stored values, else a message saying what is wrong (reads no byte beyond `bitmap_bytes`).
const char* CheckBitmapSparse(const uint8_t* bitmap, int64_t bitmap_bytes, int32_t rows, int32_t cols,
                              int64_t nnz);
// Writes the dense [rows, cols] matrix (rows * cols bytes) of a bitmap and values that passed
// CheckBitmapSparse. Run once (TFLM: in Prepare, into the persistent arena).
void ExpandBitmapSparse(const int8_t* values, const uint8_t* bitmap, int32_t rows, int32_t cols, int8_t* dense);

// Which implementation this build contains: "reference" or "cortex-m4".
const char* ImplementationName();

}  // namespace fastgrnn

#endif  // TFLM_APP_FASTGRNN_FASTGRNN_INT8_H_
