// The benchmark model (generated bench_model.h, see make_bench_header.py) as the parameter structs of
// the FastGRNN core and the head; shared by bench_main.cc and pipeline_size_main.cc.
#ifndef TFLM_APP_M4_BENCH_BENCH_PARAMS_H_
#define TFLM_APP_M4_BENCH_BENCH_PARAMS_H_

#include "bench_model.h"
#include "fastgrnn_int8.h"
#include "frontend.h"
#include "head.h"

inline fastgrnn::Int8Params BenchModelParams() {
  fastgrnn::Int8Params p;
  p.input_dim = bench_model::kInputDim;
  p.units = bench_model::kUnits;
  p.w_rank = bench_model::kWRank;
  p.u_rank = bench_model::kURank;
  p.input_zero_point = bench_model::kInputZeroPoint;
  p.w1 = bench_model::kW1;
  p.w2 = bench_model::kW2;
  p.u1 = bench_model::kU1;
  p.u2 = bench_model::kU2;
  p.bias_z = bench_model::kBiasZ;
  p.bias_h = bench_model::kBiasH;
  p.gate_lut = bench_model::kGateLut;
  p.update_lut = bench_model::kUpdateLut;
  p.v_multiplier = bench_model::kVMultiplier;
  p.v_shift = bench_model::kVShift;
  p.u_multiplier = bench_model::kUMultiplier;
  p.u_shift = bench_model::kUShift;
  p.pre_w_multiplier = bench_model::kPreWMultiplier;
  p.pre_u_multiplier = bench_model::kPreUMultiplier;
  p.pre_shift = bench_model::kPreShift;
  p.zeta_q15 = bench_model::kZetaQ15;
  p.nu_q15 = bench_model::kNuQ15;
  return p;
}

inline head::HeadParams BenchHeadParams() {
  head::HeadParams hp;
  hp.num_layers = 1;
  head::FcLayer& l = hp.layers[0];
  l.input_size = bench_model::kUnits;
  l.output_size = bench_model::kClasses;
  l.weights = bench_model::kHeadWeights;
  l.bias = bench_model::kHeadBias;
  l.input_zero_point = 0;
  l.output_zero_point = 0;
  l.output_multiplier = bench_model::kHeadMultiplier;
  l.output_shift = bench_model::kHeadShift;
  hp.logit_scale = bench_model::kLogitScale;
  hp.logit_zero_point = 0;
  return hp;
}

// The frontend's defaults with the benchmarked framing (hop and window of make_bench_header.py's shape).
inline frontend::Config BenchFrontendConfig() {
  frontend::Config c;
  c.hop_samples = bench_model::kHopSamples;
  c.window_samples = bench_model::kWindowSamples;
  return c;
}

#endif  // TFLM_APP_M4_BENCH_BENCH_PARAMS_H_
