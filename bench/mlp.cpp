//===- mlp.cpp - MLP 784-128-10 (tanh, softmax cross-entropy), batch 64 ---===//
//
// BP's JIT-compiled loss and gradient (w.r.t. all weights) against a
// hand-written C++ forward and backward pass of the same model (same loop
// order, compiled with the host compiler at -O3 -march=native), measured in
// one run; prints the ratios and the number of allocations the generated
// code made inside the measured loop.
//
//===----------------------------------------------------------------------===//
#include "bench/Compile.h"

#include "bp_runtime.h"

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

namespace {

constexpr int B = 64, I = 784, H = 128, O = 10;

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

struct Data {
  std::vector<double> X, Y, W1, b1, W2, b2;
  Data() : X(B * I), Y(B * O, 0), W1(I * H), b1(H), W2(H * O), b2(O) {
    std::mt19937_64 g(1);
    std::uniform_real_distribution<double> u(-0.1, 0.1);
    for (auto *v : {&X, &W1, &b1, &W2, &b2})
      for (double &x : *v)
        x = u(g);
    for (int b = 0; b < B; ++b)
      Y[b * O + b % O] = 1;
  }
};
Data data;

// Hand-written reference.
struct Grads {
  std::vector<double> W1, b1, W2, b2;
  Grads() : W1(I * H), b1(H), W2(H * O), b2(O) {}
};
std::vector<double> A(B *H), Z(B *O), dZ(B *O), dA(B *H);

__attribute__((noinline)) double forwardC(const Data &d) {
  for (int b = 0; b < B; ++b) {
    double *a = &A[b * H];
    for (int j = 0; j < H; ++j)
      a[j] = d.b1[j];
    for (int k = 0; k < I; ++k) {
      double x = d.X[b * I + k];
      for (int j = 0; j < H; ++j)
        a[j] += x * d.W1[k * H + j];
    }
    for (int j = 0; j < H; ++j)
      a[j] = std::tanh(a[j]);
  }
  double loss = 0;
  for (int b = 0; b < B; ++b) {
    double *z = &Z[b * O];
    for (int j = 0; j < O; ++j)
      z[j] = d.b2[j];
    for (int k = 0; k < H; ++k)
      for (int j = 0; j < O; ++j)
        z[j] += A[b * H + k] * d.W2[k * O + j];
    double m = z[0];
    for (int j = 1; j < O; ++j)
      m = std::max(m, z[j]);
    double s = 0;
    for (int j = 0; j < O; ++j)
      s += std::exp(z[j] - m);
    double lse = m + std::log(s);
    for (int j = 0; j < O; ++j)
      loss -= d.Y[b * O + j] * (z[j] - lse);
  }
  return loss / B;
}

__attribute__((noinline)) void gradC(const Data &d, Grads &g) {
  forwardC(d);
  for (int b = 0; b < B; ++b) {
    double *z = &Z[b * O];
    double m = z[0];
    for (int j = 1; j < O; ++j)
      m = std::max(m, z[j]);
    double s = 0;
    for (int j = 0; j < O; ++j)
      s += std::exp(z[j] - m);
    for (int j = 0; j < O; ++j)
      dZ[b * O + j] = (std::exp(z[j] - m) / s - d.Y[b * O + j]) / B;
  }
  std::fill(g.W2.begin(), g.W2.end(), 0.0);
  std::fill(g.b2.begin(), g.b2.end(), 0.0);
  std::fill(g.W1.begin(), g.W1.end(), 0.0);
  std::fill(g.b1.begin(), g.b1.end(), 0.0);
  for (int b = 0; b < B; ++b)
    for (int k = 0; k < H; ++k)
      for (int j = 0; j < O; ++j)
        g.W2[k * O + j] += A[b * H + k] * dZ[b * O + j];
  for (int b = 0; b < B; ++b)
    for (int j = 0; j < O; ++j)
      g.b2[j] += dZ[b * O + j];
  for (int b = 0; b < B; ++b)
    for (int k = 0; k < H; ++k) {
      double s = 0;
      for (int j = 0; j < O; ++j)
        s += dZ[b * O + j] * d.W2[k * O + j];
      double a = A[b * H + k];
      dA[b * H + k] = s * (1 - a * a);
    }
  for (int b = 0; b < B; ++b)
    for (int k = 0; k < I; ++k) {
      double x = d.X[b * I + k];
      for (int j = 0; j < H; ++j)
        g.W1[k * H + j] += x * dA[b * H + j];
    }
  for (int b = 0; b < B; ++b)
    for (int j = 0; j < H; ++j)
      g.b1[j] += dA[b * H + j];
}

using LossFn = double (*)(const double *, const double *);
using GradFn = void (*)(const double *, const double *, double *, double *,
                        double *, double *);

bench::Compiled &program() {
  static bench::Compiled p = [] {
    bench::Compiled c = bench::compile(source);
    for (auto [name, v] :
         {std::pair{"W1", &data.W1}, {"b1", &data.b1}, {"W2", &data.W2},
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

int main(int argc, char **argv) {
  benchmark::Initialize(&argc, argv);
  program();
  bench::RatioReporter rep;
  benchmark::RunSpecifiedBenchmarks(&rep);
  double maxDiff = 0;
  for (size_t i = 0; i < cGrads.W1.size(); ++i)
    maxDiff = std::max(maxDiff, std::fabs(cGrads.W1[i] - bpGrads.W1[i]));
  printf("\nMLP 784-128-10, batch 64 (one run):\n");
  printf("  BP grad / BP forward              %.2f   (target <= 3)\n",
         rep.ratio("bp_grad", "bp_forward"));
  printf("  BP grad / hand-written grad       %.2f   (target <= 1.3)\n",
         rep.ratio("bp_grad", "handwritten_grad"));
  printf("  BP forward / hand-written forward %.2f\n",
         rep.ratio("bp_forward", "handwritten_forward"));
  printf("  allocations in the measured loop  %lld\n",
         (long long)allocationsInLoop);
  printf("  max |dW1 BP - dW1 hand-written|   %.2g\n", maxDiff);
  return 0;
}
