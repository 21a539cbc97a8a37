/*
 * insn_count: a QEMU TCG plugin counting guest instructions inside marked regions.
 *
 * The guest calls bench_start(id) / bench_stop(id) (tflm_app/m4/bench_markers.c), which store
 * to g_bench_marks[id] / g_bench_marks[BENCH_MAX_REGIONS + id]. The plugin
 *   - adds each executed translation block's instruction count to a running total (inline op,
 *     no helper call: fast),
 *   - registers a store callback only on instructions inside the marker code range,
 * and converts the running total at a marker store into "instructions retired up to and
 * including this store" by subtracting the instructions of the block that follow it (known at
 * translation). Region count = difference of the two, exact and reproducible (one vCPU, no
 * interrupts, no icount).
 *
 * Arguments (QEMU >= 6.1 "key=value" form):
 *   marks=0xADDR     address of g_bench_marks
 *   code=0xLO-0xHI   address range of the marker functions (section .text.bench_markers)
 *   regions=N        BENCH_MAX_REGIONS (default 64)
 *   out=PATH         write the report there (default: qemu_plugin_outs, i.e. -d plugin)
 *   profile=N        also count, per instruction address, the instructions retired while
 *                    region N is active (a helper call per instruction: slower); reported as
 *                    "pc 0xADDR <count>" lines, for attributing a region to source lines
 * Report at exit, one line per used region, then the whole-run total:
 *   region <id> calls <n> insns <sum> min <min> max <max>
 *   total <instructions>
 *
 * Debian's qemu-system-arm 7.2 supports plugins but ships no qemu-plugin.h, so the few API
 * declarations used are written out below (QEMU 7.2, plugin API version 1).
 */
#include <glib.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- QEMU 7.2 plugin API (subset of include/qemu/qemu-plugin.h) ---- */
#define QEMU_PLUGIN_EXPORT __attribute__((visibility("default")))
#define QEMU_PLUGIN_VERSION 1

typedef uint64_t qemu_plugin_id_t;
typedef uint32_t qemu_plugin_meminfo_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;

typedef struct qemu_info_t {
  const char *target_name;
  struct {
    int min;
    int cur;
  } version;
  bool system_emulation;
  union {
    struct {
      int smp_vcpus;
      int max_vcpus;
    } system;
  };
} qemu_info_t;

enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
enum qemu_plugin_mem_rw { QEMU_PLUGIN_MEM_R = 1, QEMU_PLUGIN_MEM_W, QEMU_PLUGIN_MEM_RW };
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };

typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_vcpu_mem_cb_t)(unsigned int vcpu_index, qemu_plugin_meminfo_t info,
                                          uint64_t vaddr, void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op,
                                              void *ptr, uint64_t imm);
void qemu_plugin_register_vcpu_mem_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_mem_cb_t cb,
                                      enum qemu_plugin_cb_flags flags, enum qemu_plugin_mem_rw rw,
                                      void *userdata);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn,
                                            qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
void qemu_plugin_outs(const char *string);
/* ---- end of API subset ---- */

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#define MAX_REGIONS 256

typedef struct {
  uint64_t begin;  /* instruction index at the start marker */
  bool active;
  uint64_t calls, sum, min, max;
} Region;

static uint64_t g_total;  /* instructions of all executed translation blocks */
static uint64_t g_marks, g_code_lo, g_code_hi;
static unsigned g_regions = 64;
static char *g_out_path;
static Region g_region[MAX_REGIONS];
static uint64_t g_unmatched_stops;
static int64_t g_profile_region = -1;
static GHashTable *g_profile; /* pc -> uint64_t* count */

static void on_marker_store(unsigned int vcpu, qemu_plugin_meminfo_t info, uint64_t vaddr,
                            void *userdata) {
  (void)vcpu;
  (void)info;
  if (vaddr < g_marks || vaddr >= g_marks + 8u * g_regions) return;
  /* The running total already counts the whole block; drop the instructions after the store. */
  const uint64_t now = g_total - (uint64_t)(uintptr_t)userdata;
  const uint64_t slot = (vaddr - g_marks) / 4;
  if (slot < g_regions) {
    g_region[slot].begin = now;
    g_region[slot].active = true;
    return;
  }
  Region *r = &g_region[slot - g_regions];
  if (!r->active) {
    g_unmatched_stops++;
    return;
  }
  const uint64_t n = now - r->begin;
  r->active = false;
  if (r->calls == 0 || n < r->min) r->min = n;
  if (n > r->max) r->max = n;
  r->sum += n;
  r->calls++;
}

static void on_insn_exec(unsigned int vcpu, void *userdata) {
  (void)vcpu;
  if (g_region[g_profile_region].active) ++*(uint64_t *)userdata;
}

static void on_tb_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
  (void)id;
  const size_t n = qemu_plugin_tb_n_insns(tb);
  qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &g_total, n);
  for (size_t i = 0; i < n; i++) {
    struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
    const uint64_t pc = qemu_plugin_insn_vaddr(insn);
    if (pc >= g_code_lo && pc < g_code_hi) {
      qemu_plugin_register_vcpu_mem_cb(insn, on_marker_store, QEMU_PLUGIN_CB_NO_REGS,
                                       QEMU_PLUGIN_MEM_W, (void *)(uintptr_t)(n - 1 - i));
    }
    if (g_profile != NULL) {
      uint64_t *count = g_hash_table_lookup(g_profile, GUINT_TO_POINTER((guint)pc));
      if (count == NULL) {
        count = g_new0(uint64_t, 1);
        g_hash_table_insert(g_profile, GUINT_TO_POINTER((guint)pc), count);
      }
      qemu_plugin_register_vcpu_insn_exec_cb(insn, on_insn_exec, QEMU_PLUGIN_CB_NO_REGS, count);
    }
  }
}

static gint compare_pc(gconstpointer a, gconstpointer b) {
  const guint x = GPOINTER_TO_UINT(a), y = GPOINTER_TO_UINT(b);
  return x < y ? -1 : (x > y ? 1 : 0);
}

static void plugin_exit(qemu_plugin_id_t id, void *userdata) {
  (void)id;
  (void)userdata;
  GString *report = g_string_new(NULL);
  for (unsigned i = 0; i < g_regions; i++) {
    const Region *r = &g_region[i];
    if (r->calls == 0) continue;
    g_string_append_printf(report,
                           "region %u calls %" PRIu64 " insns %" PRIu64 " min %" PRIu64
                           " max %" PRIu64 "\n",
                           i, r->calls, r->sum, r->min, r->max);
  }
  if (g_unmatched_stops) {
    g_string_append_printf(report, "unmatched_stops %" PRIu64 "\n", g_unmatched_stops);
  }
  g_string_append_printf(report, "total %" PRIu64 "\n", g_total);
  if (g_profile != NULL) {
    GList *keys = g_list_sort(g_hash_table_get_keys(g_profile), compare_pc);
    for (GList *k = keys; k != NULL; k = k->next) {
      const uint64_t *count = g_hash_table_lookup(g_profile, k->data);
      if (*count == 0) continue;
      g_string_append_printf(report, "pc 0x%08x %" PRIu64 "\n", GPOINTER_TO_UINT(k->data), *count);
    }
    g_list_free(keys);
  }
  FILE *f = g_out_path ? fopen(g_out_path, "w") : NULL;
  if (f) {
    fputs(report->str, f);
    fclose(f);
  } else {
    if (g_out_path) fprintf(stderr, "insn_count: cannot write %s\n", g_out_path);
    qemu_plugin_outs(report->str);
  }
  g_string_free(report, TRUE);
}

static bool parse_u64(const char *s, uint64_t *v) {
  char *end = NULL;
  *v = strtoull(s, &end, 0);
  return end != s && *end == '\0';
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc,
                                           char **argv) {
  (void)info;
  bool have_marks = false, have_code = false;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (strncmp(a, "marks=", 6) == 0) {
      have_marks = parse_u64(a + 6, &g_marks);
    } else if (strncmp(a, "code=", 5) == 0) {
      char *dash = strchr(a + 5, '-');
      if (dash == NULL) break;
      char lo[32] = {0};
      const size_t len = (size_t)(dash - (a + 5));
      if (len == 0 || len >= sizeof lo) break;
      memcpy(lo, a + 5, len);
      have_code = parse_u64(lo, &g_code_lo) && parse_u64(dash + 1, &g_code_hi);
    } else if (strncmp(a, "regions=", 8) == 0) {
      uint64_t v = 0;
      if (!parse_u64(a + 8, &v) || v == 0 || v > MAX_REGIONS) {
        fprintf(stderr, "insn_count: bad %s (1..%d)\n", a, MAX_REGIONS);
        return -1;
      }
      g_regions = (unsigned)v;
    } else if (strncmp(a, "profile=", 8) == 0) {
      uint64_t v = 0;
      if (!parse_u64(a + 8, &v) || v >= MAX_REGIONS) {
        fprintf(stderr, "insn_count: bad %s\n", a);
        return -1;
      }
      g_profile_region = (int64_t)v;
    } else if (strncmp(a, "out=", 4) == 0) {
      g_out_path = g_strdup(a + 4);
    } else {
      fprintf(stderr, "insn_count: unknown argument '%s'\n", a);
      return -1;
    }
  }
  if (!have_marks || !have_code || g_code_hi <= g_code_lo) {
    fprintf(stderr, "insn_count: need marks=0xADDR and code=0xLO-0xHI\n");
    return -1;
  }
  if (g_profile_region >= (int64_t)g_regions) {
    fprintf(stderr, "insn_count: profile region must be < regions\n");
    return -1;
  }
  if (g_profile_region >= 0) g_profile = g_hash_table_new_full(NULL, NULL, NULL, g_free);
  qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb_translate);
  qemu_plugin_register_atexit_cb(id, plugin_exit, NULL);
  return 0;
}
