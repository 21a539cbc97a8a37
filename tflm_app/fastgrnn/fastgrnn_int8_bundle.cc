#include "fastgrnn_int8_bundle.h"

#include <cstdio>

namespace fastgrnn {

namespace {

// Finds an int8/int32/int16 array of exactly [d0, d1] (d1 = 0: 1-D [d0]).
bool Get2d(fgb::Bundle* b, const char* name, fgb::DType dtype, uint32_t d0, uint32_t d1, fgb::Array* a,
           char* error, size_t cap) {
  if (!b->Find(name, dtype, a)) {
    snprintf(error, cap, "%s", b->error());
    return false;
  }
  const int want_ndim = d1 == 0 ? 1 : 2;
  if (a->ndim != want_ndim || a->dims[0] != d0 || (d1 != 0 && a->dims[1] != d1)) {
    snprintf(error, cap, "%s: entry '%s' has shape [%u, %u] (ndim %d), expected [%u%s%u]", b->label(), name,
             static_cast<unsigned>(a->dims[0]), static_cast<unsigned>(a->dims[1]), static_cast<int>(a->ndim),
             static_cast<unsigned>(d0), d1 == 0 ? "" : ", ", static_cast<unsigned>(d1));
    return false;
  }
  return true;
}

}  // namespace

bool LoadInt8Params(fgb::Bundle* b, Int8Params* p, bool* return_sequences, char* error, size_t cap) {
  struct Opt {
    const char* name;
    int32_t* dst;
  };
  int32_t version = 0, rs = 0;
  *p = Int8Params();
  const Opt opts[] = {
      {"fastgrnn.opt.version", &version},
      {"fastgrnn.opt.units", &p->units},
      {"fastgrnn.opt.input_dim", &p->input_dim},
      {"fastgrnn.opt.w_rank", &p->w_rank},
      {"fastgrnn.opt.u_rank", &p->u_rank},
      {"fastgrnn.opt.v_multiplier", &p->v_multiplier},
      {"fastgrnn.opt.v_shift", &p->v_shift},
      {"fastgrnn.opt.u_multiplier", &p->u_multiplier},
      {"fastgrnn.opt.u_shift", &p->u_shift},
      {"fastgrnn.opt.pre_w_multiplier", &p->pre_w_multiplier},
      {"fastgrnn.opt.pre_u_multiplier", &p->pre_u_multiplier},
      {"fastgrnn.opt.pre_shift", &p->pre_shift},
      {"fastgrnn.opt.zeta_q15", &p->zeta_q15},
      {"fastgrnn.opt.nu_q15", &p->nu_q15},
      {"fastgrnn.opt.return_sequences", &rs},
      {"input.zero_point", &p->input_zero_point},
  };
  for (const Opt& o : opts) {
    if (!b->GetInt(o.name, o.dst)) {
      snprintf(error, cap, "%s", b->error());
      return false;
    }
  }
  if (version != 1) {
    snprintf(error, cap, "%s: fastgrnn.opt.version is %d, this build reads version 1", b->label(),
             static_cast<int>(version));
    return false;
  }
  if (p->units <= 0 || p->input_dim <= 0 || p->w_rank < 0 || p->u_rank < 0) {
    snprintf(error, cap, "%s: bad fastgrnn.opt dims (units %d, input_dim %d, w_rank %d, u_rank %d)",
             b->label(), static_cast<int>(p->units), static_cast<int>(p->input_dim),
             static_cast<int>(p->w_rank), static_cast<int>(p->u_rank));
    return false;
  }
  const uint32_t d = static_cast<uint32_t>(p->input_dim), h = static_cast<uint32_t>(p->units);
  const uint32_t rw = static_cast<uint32_t>(p->w_rank), ru = static_cast<uint32_t>(p->u_rank);
  fgb::Array a;
  if (!Get2d(b, "fastgrnn.w1", fgb::DType::kInt8, rw ? rw : h, d, &a, error, cap)) return false;
  p->w1 = a.i8();
  if (rw) {
    if (!Get2d(b, "fastgrnn.w2", fgb::DType::kInt8, h, rw, &a, error, cap)) return false;
    p->w2 = a.i8();
  }
  if (!Get2d(b, "fastgrnn.u1", fgb::DType::kInt8, ru ? ru : h, h, &a, error, cap)) return false;
  p->u1 = a.i8();
  if (ru) {
    if (!Get2d(b, "fastgrnn.u2", fgb::DType::kInt8, h, ru, &a, error, cap)) return false;
    p->u2 = a.i8();
  }
  if (!Get2d(b, "fastgrnn.bias_z", fgb::DType::kInt32, h, 0, &a, error, cap)) return false;
  p->bias_z = a.i32();
  if (!Get2d(b, "fastgrnn.bias_h", fgb::DType::kInt32, h, 0, &a, error, cap)) return false;
  p->bias_h = a.i32();
  if (!Get2d(b, "fastgrnn.gate_lut", fgb::DType::kInt16, 256, 0, &a, error, cap)) return false;
  p->gate_lut = a.i16();
  if (!Get2d(b, "fastgrnn.update_lut", fgb::DType::kInt16, 256, 0, &a, error, cap)) return false;
  p->update_lut = a.i16();
  if (const char* why = Validate(*p)) {
    snprintf(error, cap, "%s: invalid FastGRNN parameters: %s", b->label(), why);
    return false;
  }
  if (return_sequences != nullptr) *return_sequences = rs != 0;
  return true;
}

}  // namespace fastgrnn
