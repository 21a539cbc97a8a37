// A tiny test harness for *_test.cc files that run on the host (ctest) and under QEMU
// (semihosting printf). No registration magic, no static constructors, no heap:
//
//   TEST(RequantRoundsHalfUp) { EXPECT_EQ(Requant(3, 1 << 30, 31), 2); }
//   int main() { RUN_TEST(RequantRoundsHalfUp); return TestSummary("fastgrnn_int8_test"); }
//
// A failing EXPECT prints file:line and both values, marks the test failed and continues.
#ifndef TFLM_APP_COMMON_TEST_MACROS_H_
#define TFLM_APP_COMMON_TEST_MACROS_H_

#include <cstdio>
#include <cstring>

namespace testing_internal {
struct State {
  int tests = 0;
  int failed_tests = 0;
  int failures_in_current = 0;
};
inline State& GetState() {
  static State state;
  return state;
}
}  // namespace testing_internal

#define TEST(name) static void name()

#define RUN_TEST(name)                                                        \
  do {                                                                        \
    testing_internal::GetState().tests++;                                     \
    testing_internal::GetState().failures_in_current = 0;                     \
    name();                                                                   \
    if (testing_internal::GetState().failures_in_current > 0) {               \
      testing_internal::GetState().failed_tests++;                            \
      printf("[ FAIL ] %s\n", #name);                                         \
    } else {                                                                  \
      printf("[  OK  ] %s\n", #name);                                         \
    }                                                                         \
  } while (0)

#define TEST_FAIL_AT_(msg_fmt, ...)                                           \
  do {                                                                        \
    testing_internal::GetState().failures_in_current++;                       \
    printf("%s:%d: " msg_fmt "\n", __FILE__, __LINE__, __VA_ARGS__);          \
  } while (0)

#define EXPECT_EQ(a, b)                                                       \
  do {                                                                        \
    const long long expect_a_ = static_cast<long long>(a);                    \
    const long long expect_b_ = static_cast<long long>(b);                    \
    if (expect_a_ != expect_b_) {                                             \
      TEST_FAIL_AT_("EXPECT_EQ(%s, %s): %lld != %lld", #a, #b, expect_a_, expect_b_); \
    }                                                                         \
  } while (0)

#define EXPECT_TRUE(c)                                                        \
  do {                                                                        \
    if (!(c)) TEST_FAIL_AT_("EXPECT_TRUE(%s) failed", #c);                   \
  } while (0)

#define EXPECT_FALSE(c) EXPECT_TRUE(!(c))

// Expects the C string `haystack` (may be nullptr) to contain `needle`.
#define EXPECT_CONTAINS(haystack, needle)                                     \
  do {                                                                        \
    const char* expect_h_ = (haystack);                                       \
    if (expect_h_ == nullptr || strstr(expect_h_, (needle)) == nullptr) {     \
      TEST_FAIL_AT_("EXPECT_CONTAINS(%s, \"%s\"): got \"%s\"", #haystack, needle, \
                    expect_h_ ? expect_h_ : "(null)");                         \
    }                                                                         \
  } while (0)

// Prints "<suite>: N tests, M failed" and returns the process exit code.
inline int TestSummary(const char* suite) {
  const testing_internal::State& s = testing_internal::GetState();
  printf("%s: %d tests, %d failed\n", suite, s.tests, s.failed_tests);
  return s.failed_tests == 0 ? 0 : 1;
}

#endif  // TFLM_APP_COMMON_TEST_MACROS_H_
