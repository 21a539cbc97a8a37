// Verifies the insn_count plugin on loops of known length: spin(n) retires 4 instructions per
// iteration (adds, nop, subs, bne), so region(n) = 4 n + c with the same small c for every n.
// Region 0 is empty (marker overhead); region 9 nests regions 1..3. check_plugin_loop.sh
// compares the plugin's report with these expectations.
#include <stdint.h>
#include <stdio.h>

#include "bench_markers.h"

uint32_t spin(uint32_t n);
__asm__(
    ".syntax unified\n"
    ".thumb\n"
    ".section .text.spin,\"ax\",%progbits\n"
    ".global spin\n"
    ".type spin, %function\n"
    ".thumb_func\n"
    "spin:\n"
    "  movs r1, #0\n"
    "1:\n"
    "  adds r1, r1, #1\n"
    "  nop\n"
    "  subs r0, r0, #1\n"
    "  bne 1b\n"
    "  mov r0, r1\n"
    "  bx lr\n"
    ".size spin, . - spin\n");

int main(void) {
  static const uint32_t kN[3] = {10, 1000, 100000};
  uint32_t sum = 0;
  bench_start(0);
  bench_stop(0);
  bench_start(9);
  for (int i = 0; i < 3; i++) {
    bench_start((uint32_t)(i + 1));
    sum += spin(kN[i]);
    bench_stop((uint32_t)(i + 1));
  }
  bench_stop(9);
  for (int rep = 0; rep < 5; rep++) {  // the same region 5 times: min == max
    bench_start(4);
    sum += spin(kN[1]);
    bench_stop(4);
  }
  printf("plugin_loop_test: spun %lu iterations\n", (unsigned long)sum);
  return sum == kN[0] + kN[1] + kN[2] + 5 * kN[1] ? 0 : 1;
}
