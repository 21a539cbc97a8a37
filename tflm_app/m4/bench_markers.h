// Region markers for the instruction-counting QEMU plugin (plugin/insn_count.c).
//
//   bench_start(3); Work(); bench_stop(3);
//
// Each marker is a tiny noinline function in section .text.bench_markers that stores to
// g_bench_marks[id] (start) or g_bench_marks[BENCH_MAX_REGIONS + id] (stop). The plugin watches
// stores made by code in that section; the store address gives the region and whether it
// starts or stops. It counts every guest instruction retired between the two stores (the
// marker call overhead is a small constant, measured with an empty region). Without the
// plugin the markers are just two stores, so the same ELF runs unchanged on plain QEMU.
#ifndef TFLM_APP_M4_BENCH_MARKERS_H_
#define TFLM_APP_M4_BENCH_MARKERS_H_

#include <stdint.h>

#define BENCH_MAX_REGIONS 64

#ifdef __cplusplus
extern "C" {
#endif

extern volatile uint32_t g_bench_marks[2 * BENCH_MAX_REGIONS];

void bench_start(uint32_t id);
void bench_stop(uint32_t id);

#ifdef __cplusplus
}
#endif

#endif  // TFLM_APP_M4_BENCH_MARKERS_H_
