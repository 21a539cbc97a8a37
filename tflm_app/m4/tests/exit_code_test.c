// Startup check: printf works, argv arrives, static data is initialised, and the exit status of
// main reaches QEMU. Expects to be run as: exit_code_test.elf <status>  (exits with <status>).
#include <stdio.h>
#include <stdlib.h>

static int g_initialised = 42;  // .data
static int g_zeroed;            // .bss
static volatile float g_f = 1.5f;

int main(int argc, char** argv) {
  if (g_initialised != 42 || g_zeroed != 0) return 3;
  const float f = g_f * 2.0f;  // needs the FPU enabled
  printf("exit_code_test: argc=%d argv0=%s f=%d\n", argc, argv[0], (int)f);
  if (f != 3.0f) return 4;
  return argc > 1 ? atoi(argv[1]) : 0;
}
