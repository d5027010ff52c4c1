//===- checkpoint.cpp - checkpoint(f) on a 10,000-step recurrence ---------===//
//
// grad of a 10,000-step scalar recurrence whose step has ten intermediates,
// with and without checkpoint(f) (LANGUAGE.md section 16): the tape the
// runtime measured (bp_tape_peak_bytes, the most any tape held) and the
// gradient's time, best of 20 calls each. Issue 18's target: the
// checkpointed tape at most 1/10 of the unchecked one, its gradient at
// most 2x the unchecked time.
//
//===----------------------------------------------------------------------===//
#include "bench/Compile.h"

#include "bp_runtime.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace {

const char *source = R"(
fn rec(x0: f64, a: f64) -> f64 {
  var x = x0
  for i in 0..10000 {
    let u1 = sin(x * a)
    let u2 = cos(u1 + x)
    let u3 = tanh(u2 * a)
    let u4 = exp(-u3 * u3)
    let u5 = sin(u4 + u1)
    let u6 = cos(u5 * u2)
    let u7 = tanh(u6 + u3)
    let u8 = sin(u7 * u4)
    let u9 = cos(u8 + u5)
    let u10 = tanh(u9 * u6)
    x = 0.5 * x + 0.1 * (u10 + u7 + u8)
  }
  return x
}
fn plain = grad(rec, x0, a)
fn ck = grad(checkpoint(rec), x0, a)
)";

struct Grad {
  double dx, da;
};
using GradFn = Grad (*)(double, double);

/// Seconds of the fastest of `n` calls, and the gradient.
double best(GradFn f, int n, Grad &g) {
  double t = 1e30;
  for (int k = 0; k < n; ++k) {
    auto t0 = std::chrono::steady_clock::now();
    g = f(0.3, 1.1);
    t = std::min(
        t, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
               .count());
  }
  return t;
}

} // namespace

int main() {
  bench::Compiled c = bench::compile(source);
  Grad gc, gp;
  // The checkpointed one first: the peak only grows.
  double tc = best(c.fn<GradFn>("ck"), 20, gc);
  int64_t tapeC = bp_tape_peak_bytes();
  double tp = best(c.fn<GradFn>("plain"), 20, gp);
  int64_t tapeP = bp_tape_peak_bytes();
  std::printf("unchecked:    tape %8lld B  gradient %.3f ms  (%.17g, %.17g)\n",
              (long long)tapeP, tp * 1e3, gp.dx, gp.da);
  std::printf("checkpointed: tape %8lld B  gradient %.3f ms  (%.17g, %.17g)\n",
              (long long)tapeC, tc * 1e3, gc.dx, gc.da);
  std::printf("tape ratio %.3f (target <= 0.1), time ratio %.2f (target <= "
              "2)\n",
              (double)tapeC / (double)tapeP, tc / tp);
  return 0;
}
