//===- matmul.cpp - BP's generated matmul against OpenBLAS dgemm ----------===//
//
// The matmul BP generates (JIT, the i-k-j loop nest) against cblas_dgemm
// from OpenBLAS on one thread, at square sizes 8..512 and at the shapes of
// the MLP benchmark's forward and backward passes (batch 64, 784-128-10).
// Prints, per shape, BP's time over OpenBLAS's (CPU time, one run) and
// both GFLOP/s. The decision it informs is in docs/TENSORS.md.
//
//===----------------------------------------------------------------------===//
#include "bench/Compile.h"

#include <cblas.h>

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace {

struct Shape {
  int64_t m, k, n;
  const char *what;
};

const std::vector<Shape> shapes = {
    {8, 8, 8, "square"},
    {16, 16, 16, "square"},
    {32, 32, 32, "square"},
    {64, 64, 64, "square"},
    {128, 128, 128, "square"},
    {256, 256, 256, "square"},
    {96, 96, 96, "square"},
    {192, 192, 192, "square"},
    {512, 512, 512, "square"},
    {32, 32, 10, "narrow"},
    {256, 256, 10, "narrow"},
    {256, 256, 32, "narrow"},
    {64, 784, 128, "MLP X @ W1"},
    {64, 128, 10, "MLP A @ W2"},
    {784, 64, 128, "MLP dW1 = Xt @ dH"},
    {128, 64, 10, "MLP dW2 = At @ dZ"},
    {64, 10, 128, "MLP dA = dZ @ W2t"},
};

std::string fnName(const Shape &s) {
  return "mm_" + std::to_string(s.m) + "_" + std::to_string(s.k) + "_" +
         std::to_string(s.n);
}

bench::Compiled &program() {
  static bench::Compiled p = [] {
    std::string src;
    for (const Shape &s : shapes) {
      auto M = std::to_string(s.m), K = std::to_string(s.k),
           N = std::to_string(s.n);
      src += "fn " + fnName(s) + "(A: f64[" + M + ", " + K + "], B: f64[" + K +
             ", " + N + "]) -> f64[" + M + ", " + N + "] { return A @ B }\n";
    }
    static std::string keep = src;
    return bench::compile(keep.c_str());
  }();
  return p;
}

using MatMulFn = void (*)(const double *, const double *, double *);

struct Operands {
  std::vector<double> a, b, c;
  explicit Operands(const Shape &s) : a(s.m * s.k), b(s.k * s.n), c(s.m * s.n) {
    std::mt19937_64 rng(42);
    std::normal_distribution<double> d;
    for (double &x : a)
      x = d(rng);
    for (double &x : b)
      x = d(rng);
  }
};

void setFlops(benchmark::State &st, const Shape &s) {
  st.counters["GFLOPs"] = benchmark::Counter(
      2.0 * s.m * s.k * s.n * st.iterations(), benchmark::Counter::kIsRate,
      benchmark::Counter::kIs1000);
}

double maxDiff = 0;

void bpMatMul(benchmark::State &st, Shape s) {
  auto f = program().fn<MatMulFn>(fnName(s));
  Operands o(s);
  for (auto _ : st) {
    f(o.a.data(), o.b.data(), o.c.data());
    benchmark::ClobberMemory();
  }
  setFlops(st, s);
  // Same result as dgemm (up to rounding)?
  std::vector<double> ref(s.m * s.n);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s.m, s.n, s.k, 1.0,
              o.a.data(), s.k, o.b.data(), s.n, 0.0, ref.data(), s.n);
  for (size_t i = 0; i < ref.size(); ++i)
    maxDiff = std::max(maxDiff, std::fabs(ref[i] - o.c[i]));
}

void blasMatMul(benchmark::State &st, Shape s) {
  Operands o(s);
  for (auto _ : st) {
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s.m, s.n, s.k, 1.0,
                o.a.data(), s.k, o.b.data(), s.n, 0.0, o.c.data(), s.n);
    benchmark::ClobberMemory();
  }
  setFlops(st, s);
}

} // namespace

int main(int argc, char **argv) {
  openblas_set_num_threads(1);
  benchmark::Initialize(&argc, argv);
  program();
  for (const Shape &s : shapes) {
    std::string tag = std::to_string(s.m) + "x" + std::to_string(s.k) + "x" +
                      std::to_string(s.n);
    benchmark::RegisterBenchmark(("BM_bp/" + tag).c_str(), bpMatMul, s);
    benchmark::RegisterBenchmark(("BM_blas/" + tag).c_str(), blasMatMul, s);
  }
  bench::RatioReporter rep;
  benchmark::RunSpecifiedBenchmarks(&rep);
  printf("\nBP matmul vs OpenBLAS dgemm, 1 thread (CPU time, one run):\n");
  printf("  %-16s %-20s %10s %10s %12s\n", "M x K x N", "", "BP GFLOP/s",
         "BLAS GF/s", "BP / BLAS");
  for (const Shape &s : shapes) {
    std::string tag = std::to_string(s.m) + "x" + std::to_string(s.k) + "x" +
                      std::to_string(s.n);
    double tb = rep.ns["BM_bp/" + tag], to = rep.ns["BM_blas/" + tag];
    if (tb == 0 || to == 0)
      continue;
    double flop = 2.0 * s.m * s.k * s.n;
    printf("  %-16s %-20s %10.2f %10.2f %12.2f\n", tag.c_str(), s.what,
           flop / tb, flop / to, tb / to);
  }
  printf("  max |BP - dgemm| %.2g\n", maxDiff);
  return 0;
}
