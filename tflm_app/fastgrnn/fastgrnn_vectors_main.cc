// Bit-exact check of the linked int8 FastGRNN implementation against vectors written by the
// Python oracle (tests/test_kernel_parity.py). Runs on the host and under QEMU (semihosting).
//
//   fastgrnn_vectors VECTORS.fgb [--repeat N]
//
// The bundle holds the step (`fastgrnn.*`, `input.zero_point`) and
//   vec.x    int8 [B, T, D]   inputs
//   vec.h0   int8 [B, H]      initial state
//   vec.seq  int8 [B, T, H]   expected h_t of every step (the oracle's return_sequences output)
// Every batch row is run in window mode (T steps in one Run, return_sequences on and off),
// streaming mode (T Runs of one step, state kept) and in chunks of 7 steps. Prints one summary
// line; exit status 0 when everything matches, 1 on a mismatch, 2 on a usage/file error.
// --repeat N runs window mode N more times without checking (for instruction counting).
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "bundle.h"
#include "fastgrnn_int8.h"
#include "fastgrnn_int8_bundle.h"

namespace {

// Static working memory (no heap on the device build); sized for Google-12-size vector files.
alignas(8) uint8_t g_storage[160 * 1024];
alignas(8) uint8_t g_prepared[40 * 1024];
alignas(8) uint8_t g_scratch[8 * 1024];
int8_t g_seq[16 * 1024];
int8_t g_h[512];
int8_t g_last[512];

struct Counts {
  long checked = 0;
  long mismatches = 0;
  bool reported = false;
};

void Compare(const char* mode, int b, int t, const int8_t* got, const int8_t* want, int n, Counts* c) {
  for (int k = 0; k < n; ++k) {
    ++c->checked;
    if (got[k] != want[k]) {
      ++c->mismatches;
      if (!c->reported) {
        printf("MISMATCH %s: batch %d step %d unit %d: got %d, expected %d\n", mode, b, t, k, got[k], want[k]);
        c->reported = true;
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s VECTORS.fgb [--repeat N]\n", argc > 0 ? argv[0] : "fastgrnn_vectors");
    return 2;
  }
  const char* path = argv[1];
  int repeat = 0;
  if (argc >= 4 && strcmp(argv[2], "--repeat") == 0) repeat = atoi(argv[3]);

  fgb::Bundle bundle;
  if (!bundle.LoadFile(path, g_storage, sizeof(g_storage))) {
    fprintf(stderr, "fastgrnn_vectors: %s\n", bundle.error());
    return 2;
  }
  fastgrnn::Int8Params p;
  char error[256];
  if (!fastgrnn::LoadInt8Params(&bundle, &p, nullptr, error, sizeof(error))) {
    fprintf(stderr, "fastgrnn_vectors: %s\n", error);
    return 2;
  }
  fgb::Array x, h0, seq;
  if (!bundle.Find("vec.x", fgb::DType::kInt8, &x) || !bundle.Find("vec.h0", fgb::DType::kInt8, &h0) ||
      !bundle.Find("vec.seq", fgb::DType::kInt8, &seq)) {
    fprintf(stderr, "fastgrnn_vectors: %s\n", bundle.error());
    return 2;
  }
  const int B = static_cast<int>(x.dims[0]), T = static_cast<int>(x.dims[1]);
  const int D = p.input_dim, H = p.units;
  if (x.ndim != 3 || static_cast<int>(x.dims[2]) != D || h0.ndim != 2 || static_cast<int>(h0.dims[0]) != B ||
      static_cast<int>(h0.dims[1]) != H || seq.ndim != 3 || static_cast<int>(seq.dims[0]) != B ||
      static_cast<int>(seq.dims[1]) != T || static_cast<int>(seq.dims[2]) != H || T < 1) {
    fprintf(stderr, "fastgrnn_vectors: %s: vec.x/vec.h0/vec.seq shapes disagree with D=%d H=%d\n", path, D, H);
    return 2;
  }
  if (fastgrnn::PreparedBytes(p) > sizeof(g_prepared) || fastgrnn::ScratchBytes(p) > sizeof(g_scratch) ||
      static_cast<size_t>(T) * H > sizeof(g_seq) || static_cast<size_t>(H) > sizeof(g_h)) {
    fprintf(stderr, "fastgrnn_vectors: %s: model/vectors too large for the static buffers "
            "(prepared %u, scratch %u, T*H %d)\n", path, static_cast<unsigned>(fastgrnn::PreparedBytes(p)),
            static_cast<unsigned>(fastgrnn::ScratchBytes(p)), T * H);
    return 2;
  }
  fastgrnn::PrepareWeights(p, g_prepared);

  Counts c;
  for (int b = 0; b < B; ++b) {
    const int8_t* xb = x.i8() + static_cast<long>(b) * T * D;
    const int8_t* hb = h0.i8() + static_cast<long>(b) * H;
    const int8_t* want = seq.i8() + static_cast<long>(b) * T * H;

    // Window mode, return_sequences.
    memcpy(g_h, hb, static_cast<size_t>(H));
    fastgrnn::Run(p, g_prepared, xb, T, g_h, g_seq, true, g_scratch);
    for (int t = 0; t < T; ++t) Compare("window", b, t, g_seq + t * H, want + t * H, H, &c);
    Compare("window-state", b, T - 1, g_h, want + (T - 1) * H, H, &c);

    // Window mode, last output only.
    memcpy(g_h, hb, static_cast<size_t>(H));
    fastgrnn::Run(p, g_prepared, xb, T, g_h, g_last, false, g_scratch);
    Compare("window-last", b, T - 1, g_last, want + (T - 1) * H, H, &c);

    // Streaming: one step per Run, state kept by the caller.
    memcpy(g_h, hb, static_cast<size_t>(H));
    for (int t = 0; t < T; ++t) {
      fastgrnn::Run(p, g_prepared, xb + t * D, 1, g_h, g_last, false, g_scratch);
      Compare("stream", b, t, g_last, want + t * H, H, &c);
    }

    // Chunks of 7 steps with return_sequences.
    memcpy(g_h, hb, static_cast<size_t>(H));
    for (int t0 = 0; t0 < T; t0 += 7) {
      const int n = T - t0 < 7 ? T - t0 : 7;
      fastgrnn::Run(p, g_prepared, xb + t0 * D, n, g_h, g_seq, true, g_scratch);
      for (int t = 0; t < n; ++t) Compare("chunked", b, t0 + t, g_seq + t * H, want + (t0 + t) * H, H, &c);
    }
  }
  for (int r = 0; r < repeat; ++r) {
    memcpy(g_h, h0.i8(), static_cast<size_t>(H));
    fastgrnn::Run(p, g_prepared, x.i8(), T, g_h, g_last, false, g_scratch);
  }

  printf("fastgrnn_vectors: %s impl=%s B=%d T=%d D=%d H=%d w_rank=%d u_rank=%d zp=%d prepared=%u scratch=%u "
         "checked=%ld mismatches=%ld %s\n",
         path, fastgrnn::ImplementationName(), B, T, D, H, static_cast<int>(p.w_rank), static_cast<int>(p.u_rank),
         static_cast<int>(p.input_zero_point), static_cast<unsigned>(fastgrnn::PreparedBytes(p)),
         static_cast<unsigned>(fastgrnn::ScratchBytes(p)), c.checked, c.mismatches,
         c.mismatches == 0 ? "OK" : "FAIL");
  return c.mismatches == 0 ? 0 : 1;
}
