//===- RuntimeTest.cpp - runtime errors returning to bp_guarded_call ------===//
//
// What `bpc repl` relies on (runtime/guard.c): a runtime error inside
// bp_guarded_call returns 1 there, guards nest, the tape buffers of the
// abandoned calls are reused instead of leaked, and a stack overflow
// caught by the SIGSEGV handler returns there too, more than once.
//
//===----------------------------------------------------------------------===//
#include "bp_runtime.h"

#include <gtest/gtest.h>

#include <pthread.h>
#include <signal.h>

#include <string>

namespace {

// The functions run under the guard stand for generated code: no object
// with a destructor is alive when they call into the runtime.
void doubled(const double *in, double *out) { out[0] = 2 * in[0]; }

void fails(const double *, double *out) {
  out[0] = 1;
  bp_runtime_error("unit.bp", 3, 7, "stop here");
  out[0] = 2; // not reached
}

void failsInside(const double *in, double *out) {
  out[1] = bp_guarded_call(fails, in, out);
  out[2] = 1; // the inner error came back to the inner guard
}

TEST(RuntimeGuard, ReturnsZeroWhenTheCallReturns) {
  double in = 21, out = 0;
  EXPECT_EQ(bp_guarded_call(doubled, &in, &out), 0);
  EXPECT_EQ(out, 42);
}

TEST(RuntimeGuard, ReturnsOneAfterARuntimeError) {
  double in = 0, out = 0;
  ::testing::internal::CaptureStderr();
  int r = bp_guarded_call(fails, &in, &out);
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(r, 1);
  EXPECT_EQ(out, 1);
  EXPECT_EQ(err, "unit.bp:3:7: runtime error: stop here\n");
}

TEST(RuntimeGuard, NestedGuardsReturnToTheInnermost) {
  double in = 0, out[3] = {0, 0, 0};
  ::testing::internal::CaptureStderr();
  int r = bp_guarded_call(failsInside, &in, out);
  ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(r, 0);
  EXPECT_EQ(out[1], 1);
  EXPECT_EQ(out[2], 1);
  // The outer guard is active again.
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(bp_guarded_call(fails, &in, out), 1);
  ::testing::internal::GetCapturedStderr();
}

/// A derived function stopped in its forward sweep: its tape holds 5000
/// values when the error abandons it (bp_tape_free never runs).
void failsWithTape(const double *, double *) {
  bp_tape tape = {nullptr, 0, 0};
  bp_tape_reserve(&tape, 5000, "unit.bp", 1, 1);
  tape.size = 5000;
  bp_runtime_error("unit.bp", 2, 1, "stopped with a live tape");
}

TEST(RuntimeGuard, TapesOfAbandonedCallsAreReused) {
  double in = 0, out = 0;
  ::testing::internal::CaptureStderr();
  ASSERT_EQ(bp_guarded_call(failsWithTape, &in, &out), 1);
  int64_t before = bp_arena_system_allocations();
  for (int i = 0; i < 50; ++i)
    ASSERT_EQ(bp_guarded_call(failsWithTape, &in, &out), 1);
  ::testing::internal::GetCapturedStderr();
  // Each abandoned tape went back to the pool: no call allocated again.
  EXPECT_EQ(bp_arena_system_allocations(), before);
}

volatile bool keepGoing =
    true; // always: the recursion is not provably infinite

int deeper(volatile char *prev) {
  volatile char frame[4096];
  if (!keepGoing)
    return 0;
  frame[0] = prev ? prev[0] + 1 : 0;
  return deeper(frame) + frame[100];
}

void overflows(const double *, double *out) { out[0] = deeper(nullptr); }

/// Two stack overflows under the guard on a thread with a 1 MB stack.
void *twoOverflows(void *results) {
  bp_catch_stack_overflow("unit");
  double in = 0, out = 0;
  int *r = (int *)results;
  r[0] = bp_guarded_call(overflows, &in, &out);
  // SIGSEGV is not left blocked by the jump out of its handler.
  r[1] = bp_guarded_call(overflows, &in, &out);
  r[2] = bp_guarded_call(doubled, &in, &out);
  return nullptr;
}

TEST(RuntimeGuard, StackOverflowReturnsToTheGuard) {
  struct sigaction old {};
  sigaction(SIGSEGV, nullptr, &old);
  int results[3] = {-1, -1, -1};
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, (size_t)1 << 20);
  pthread_t t;
  ::testing::internal::CaptureStderr();
  ASSERT_EQ(pthread_create(&t, &attr, twoOverflows, results), 0);
  pthread_join(t, nullptr);
  std::string err = ::testing::internal::GetCapturedStderr();
  pthread_attr_destroy(&attr);
  sigaction(SIGSEGV, &old, nullptr); // the handler is process-wide
  EXPECT_EQ(results[0], 1);
  EXPECT_EQ(results[1], 1);
  EXPECT_EQ(results[2], 0);
  const char *line = "unit: runtime error: stack overflow (calls nested too "
                     "deeply for the thread's stack)\n";
  EXPECT_EQ(err, std::string(line) + line);
}

} // namespace
