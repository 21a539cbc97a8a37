#include "bench_markers.h"

volatile uint32_t g_bench_marks[2 * BENCH_MAX_REGIONS];

__attribute__((noinline, section(".text.bench_markers"))) void bench_start(uint32_t id) {
  g_bench_marks[id % BENCH_MAX_REGIONS] = 1;
}

__attribute__((noinline, section(".text.bench_markers"))) void bench_stop(uint32_t id) {
  g_bench_marks[BENCH_MAX_REGIONS + id % BENCH_MAX_REGIONS] = 1;
}
