// Cortex-M4F bare-metal startup for the nRF52840 memory map (and QEMU mps2-an386).
//
// Reset_Handler: enables the FPU (CPACR) before any float code, copies .data, zeroes .bss,
// sets up newlib's semihosting stdio, runs static constructors, builds argv from the
// semihosting command line (QEMU: -semihosting-config ...,arg=prog,arg=file) and calls
// exit(main(argc, argv)). exit() reports the status to QEMU through semihosting.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

extern uint32_t __etext, __data_start__, __data_end__, __bss_start__, __bss_end__, __StackTop;
extern void (*__preinit_array_start[])(void);
extern void (*__preinit_array_end[])(void);
extern void (*__init_array_start[])(void);
extern void (*__init_array_end[])(void);

extern int main(int argc, char** argv);
extern void initialise_monitor_handles(void);

void Reset_Handler(void) __attribute__((noreturn, naked));
void Default_Handler(void) __attribute__((noreturn));
void Startup_Main(void) __attribute__((noreturn, noinline));

// ARM semihosting call (Thumb: BKPT 0xAB).
static int Semihost(int op, void* arg) {
  register int r0 __asm__("r0") = op;
  register void* r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

enum { kSysGetCmdline = 0x15, kSysExitExtended = 0x20 };
enum { kMaxArgs = 16, kCmdlineBytes = 512 };
static char g_cmdline[kCmdlineBytes];
static char* g_argv[kMaxArgs + 1];

static int BuildArgv(void) {
  struct {
    char* buf;
    int len;
  } block = {g_cmdline, kCmdlineBytes - 1};
  int argc = 0;
  if (Semihost(kSysGetCmdline, &block) != 0) {
    g_argv[0] = (char*)"prog";
    g_argv[1] = NULL;
    return 1;
  }
  g_cmdline[block.len < kCmdlineBytes ? block.len : kCmdlineBytes - 1] = '\0';
  char* p = g_cmdline;
  while (*p != '\0' && argc < kMaxArgs) {
    while (*p == ' ') *p++ = '\0';
    if (*p == '\0') break;
    g_argv[argc++] = p;
    while (*p != '\0' && *p != ' ') p++;
  }
  if (argc == 0) g_argv[argc++] = (char*)"prog";
  g_argv[argc] = NULL;
  return argc;
}

void Reset_Handler(void) {
  // Stack pointer comes from the vector table. Enable CP10/CP11 (FPU) full access first,
  // in a naked function so the compiler cannot emit float code before it.
  __asm__ volatile(
      "ldr r0, =0xE000ED88\n"
      "ldr r1, [r0]\n"
      "orr r1, r1, #(0xF << 20)\n"
      "str r1, [r0]\n"
      "dsb\n"
      "isb\n"
      "b Startup_Main\n" ::: "r0", "r1", "memory");
}

void Startup_Main(void) {
  const uint32_t* src = &__etext;
  for (uint32_t* dst = &__data_start__; dst < &__data_end__;) *dst++ = *src++;
  for (uint32_t* dst = &__bss_start__; dst < &__bss_end__;) *dst++ = 0;
  initialise_monitor_handles();
  for (void (**f)(void) = __preinit_array_start; f < __preinit_array_end; ++f) (*f)();
  for (void (**f)(void) = __init_array_start; f < __init_array_end; ++f) (*f)();
  const int argc = BuildArgv();
  exit(main(argc, g_argv));
}

// The newlib-nano _exit of rdimon only reports success/failure on 32-bit ARM; report the
// real status with SYS_EXIT_EXTENDED (QEMU exits with it). Overrides libgloss' _exit.
void _exit(int status) {
  uint32_t block[2] = {0x20026u /* ADP_Stopped_ApplicationExit */, (uint32_t)status};
  for (;;) Semihost(kSysExitExtended, block);
}

// crti.o is not linked (-nostartfiles); newlib's __libc_init_array/__libc_fini_array call these.
void _init(void) {}
void _fini(void) {}
// Normally from crtbegin.o; libstdc++ objects refer to it (static destructors never run here).
void* __dso_handle = 0;

void Default_Handler(void) {
  // Unexpected exception (HardFault, ...): exit with a recognisable status.
  uint32_t block[2] = {0x20026u, 134u};
  for (;;) Semihost(kSysExitExtended, block);
}

void NMI_Handler(void) __attribute__((weak, noreturn, alias("Default_Handler")));
void HardFault_Handler(void) __attribute__((weak, noreturn, alias("Default_Handler")));
void MemManage_Handler(void) __attribute__((weak, noreturn, alias("Default_Handler")));
void BusFault_Handler(void) __attribute__((weak, noreturn, alias("Default_Handler")));
void UsageFault_Handler(void) __attribute__((weak, noreturn, alias("Default_Handler")));
void SVC_Handler(void) __attribute__((weak, noreturn, alias("Default_Handler")));
void DebugMon_Handler(void) __attribute__((weak, noreturn, alias("Default_Handler")));
void PendSV_Handler(void) __attribute__((weak, noreturn, alias("Default_Handler")));
void SysTick_Handler(void) __attribute__((weak, noreturn, alias("Default_Handler")));

typedef void (*Handler)(void);
__attribute__((section(".isr_vector"), used)) const Handler g_vector_table[16 + 48] = {
    (Handler)&__StackTop, Reset_Handler, NMI_Handler, HardFault_Handler, MemManage_Handler,
    BusFault_Handler, UsageFault_Handler, 0, 0, 0, 0, SVC_Handler, DebugMon_Handler, 0,
    PendSV_Handler, SysTick_Handler,
    // nRF52840 has 48 peripheral interrupts; none are enabled here.
    [16 ... 63] = Default_Handler,
};
