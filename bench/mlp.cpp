//===- mlp.cpp - MLP 784-128-10 (tanh, softmax cross-entropy), batch 64 ---===//
//
// BP's JIT-compiled loss and gradient (w.r.t. all weights) against a
// hand-written C++ forward and backward pass of the same model (every
// product an OpenBLAS call, one thread, elementwise math into libmvec:
// bench/MlpReference.h), measured in one run after checking that the two
// gradients agree to 1e-12 relative; prints the ratios and the number of
// allocations the generated code made inside the measured loop.
//
//===----------------------------------------------------------------------===//
#include "bench/Compile.h"
#include "bench/MlpReference.h"

#include "bp_runtime.h"

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

namespace {

const char *source = R"(
const B = 64
param W1: f64[784, 128] = glorot()
param b1: f64[128]
param W2: f64[128, 10] = glorot()
param b2: f64[10]
fn loss(X: f64[B, 784], Y: f64[B, 10]) -> f64 {
  let A = tanh(X @ W1 + b1)
  let Z = A @ W2 + b2
  return -sum(Y * log_softmax(Z)) / 64.0
}
fn dloss = grad(loss, W1, b1, W2, b2)
)";

using namespace mlp;

using LossFn = double (*)(const double *, const double *);
using GradFn = void (*)(const double *, const double *, double *, double *,
                        double *, double *);

bench::Compiled &program() {
  static bench::Compiled p = [] {
    bench::Compiled c = bench::compile(source);
    for (auto [name, v] : {std::pair{"W1", &data.W1},
                           {"b1", &data.b1},
                           {"W2", &data.W2},
                           {"b2", &data.b2}})
      std::copy(v->begin(), v->end(), c.param(name));
    return c;
  }();
  return p;
}

Grads bpGrads, cGrads;
int64_t allocationsInLoop = -1;

void BM_bp_forward(benchmark::State &s) {
  auto f = program().fn<LossFn>("loss");
  for (auto _ : s)
    benchmark::DoNotOptimize(f(data.X.data(), data.Y.data()));
}
void BM_bp_grad(benchmark::State &s) {
  auto f = program().fn<GradFn>("dloss");
  f(data.X.data(), data.Y.data(), bpGrads.W1.data(), bpGrads.b1.data(),
    bpGrads.W2.data(), bpGrads.b2.data()); // warm up the arena and tape
  int64_t before = bp_arena_system_allocations();
  for (auto _ : s) {
    f(data.X.data(), data.Y.data(), bpGrads.W1.data(), bpGrads.b1.data(),
      bpGrads.W2.data(), bpGrads.b2.data());
    benchmark::ClobberMemory();
  }
  allocationsInLoop = bp_arena_system_allocations() - before;
}
void BM_handwritten_forward(benchmark::State &s) {
  for (auto _ : s)
    benchmark::DoNotOptimize(forwardC(data));
}
void BM_handwritten_grad(benchmark::State &s) {
  for (auto _ : s) {
    gradC(data, cGrads);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_bp_forward);
BENCHMARK(BM_bp_grad);
BENCHMARK(BM_handwritten_forward);
BENCHMARK(BM_handwritten_grad);

} // namespace

/// BP's gradient against the reference's before anything is timed: a fast
/// wrong gradient measures nothing.
bool gradientsAgree() {
  auto f = program().fn<GradFn>("dloss");
  f(data.X.data(), data.Y.data(), bpGrads.W1.data(), bpGrads.b1.data(),
    bpGrads.W2.data(), bpGrads.b2.data());
  gradC(data, cGrads);
  double rel = relativeDifference(cGrads, bpGrads);
  printf("BP gradient vs hand-written: %.2g relative (max-norm)\n", rel);
  if (rel <= 1e-12)
    return true;
  fprintf(stderr, "the gradients differ by more than 1e-12: not timing\n");
  return false;
}

int main(int argc, char **argv) {
  // One thread for OpenBLAS, which both BP's large matmuls and the
  // reference call: the generated code is single-threaded too.
  openblas_set_num_threads(1);
  benchmark::Initialize(&argc, argv);
  if (!gradientsAgree())
    return 1;
  bench::RatioReporter rep;
  benchmark::RunSpecifiedBenchmarks(&rep);
  printf("\nMLP 784-128-10, batch 64 (one run):\n");
  printf("  BP grad / BP forward              %.2f   (target <= 3)\n",
         rep.ratio("bp_grad", "bp_forward"));
  printf("  BP grad / hand-written grad       %.2f   (target <= 1.3)\n",
         rep.ratio("bp_grad", "handwritten_grad"));
  printf("  BP forward / hand-written forward %.2f\n",
         rep.ratio("bp_forward", "handwritten_forward"));
  printf("  allocations in the measured loop  %lld\n",
         (long long)allocationsInLoop);
  printf("  max |dW1 BP - dW1 hand-written|   %.2g\n",
         bench::maxAbsDiff(cGrads.W1, bpGrads.W1));
  return 0;
}
