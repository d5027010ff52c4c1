//===- ad_ratios.cpp - gradient time / forward time, measured in one run --===//
//
// JIT-compiles small BP programs with the compiler library and times their
// forward and gradient functions with Google Benchmark, next to hand-written
// C++ adjoints of the same functions. Prints the ratios at the end (the
// machine is shared and noisy: only ratios from one run are meaningful).
//
//===----------------------------------------------------------------------===//
#include "bench/Compile.h"

#include <cmath>
#include <cstdio>

using namespace bp;

static const char *source = R"(
fn neuron(w: f64, b: f64, x: f64, y: f64) -> f64 {
  let z = w * x + b
  let a = sigmoid(z)
  return 0.5 * (y - a)^2
}
fn dneuron = grad(neuron, w, b)

fn itmap(x0: f64, w: f64, b: f64) -> f64 {
  var x = x0
  for i in 0..100 { x = sin(x) * w + b }
  return x
}
fn ditmap = grad(itmap, x0, w, b)

fn rosen(x: f64[1000]) -> f64 {
  var s = 0.0
  for i in 0..999 { s += 100.0 * (x[i + 1] - x[i]^2)^2 + (1.0 - x[i])^2 }
  return s
}
fn drosen = grad(rosen)

fn walk(x: f64, w: f64, n: int) -> f64 {
  if n == 0 { return x }
  return sin(walk(x, w, n - 1)) * w + 0.1 * x
}
fn dwalk = grad(walk, x, w)
)";

static bench::Compiled *compile() {
  static bench::Compiled prog = bench::compile(source);
  return &prog;
}

template <class F> static F fn(const char *name) {
  return compile()->fn<F>(name);
}

struct D2 {
  double a, b;
};
struct D3 {
  double a, b, c;
};

// Hand-written references, compiled by the host compiler (-O2).
__attribute__((noinline)) static double neuronC(double w, double b, double x,
                                                double y) {
  double a = 1 / (1 + std::exp(-(w * x + b)));
  return 0.5 * (y - a) * (y - a);
}
__attribute__((noinline)) static D2 dneuronC(double w, double b, double x,
                                             double y) {
  double a = 1 / (1 + std::exp(-(w * x + b)));
  double dz = (a - y) * a * (1 - a);
  return {dz * x, dz};
}
__attribute__((noinline)) static double itmapC(double x, double w, double b) {
  for (int i = 0; i < 100; ++i)
    x = std::sin(x) * w + b;
  return x;
}
__attribute__((noinline)) static D3 ditmapC(double x0, double w, double b) {
  double xs[100];
  double x = x0;
  for (int i = 0; i < 100; ++i) {
    xs[i] = x;
    x = std::sin(x) * w + b;
  }
  double gx = 1, gw = 0, gb = 0;
  for (int i = 99; i >= 0; --i) {
    gb += gx;
    gw += gx * std::sin(xs[i]);
    gx = gx * w * std::cos(xs[i]);
  }
  return {gx, gw, gb};
}

// Inputs go through DoNotOptimize so no call is constant-folded away.
static double in[4] = {0.5, 0.1, 1.5, 1.0};
#define FRESH_INPUTS() benchmark::DoNotOptimize(in)

static void BM_neuron_forward(benchmark::State &s) {
  auto f = fn<double (*)(double, double, double, double)>("neuron");
  for (auto _ : s) {
    FRESH_INPUTS();
    benchmark::DoNotOptimize(f(in[0], in[1], in[2], in[3]));
  }
}
static void BM_neuron_grad(benchmark::State &s) {
  auto f = fn<D2 (*)(double, double, double, double)>("dneuron");
  for (auto _ : s) {
    FRESH_INPUTS();
    benchmark::DoNotOptimize(f(in[0], in[1], in[2], in[3]));
  }
}
static void BM_neuron_grad_handwritten(benchmark::State &s) {
  for (auto _ : s) {
    FRESH_INPUTS();
    benchmark::DoNotOptimize(dneuronC(in[0], in[1], in[2], in[3]));
  }
}
static void BM_neuron_forward_handwritten(benchmark::State &s) {
  for (auto _ : s) {
    FRESH_INPUTS();
    benchmark::DoNotOptimize(neuronC(in[0], in[1], in[2], in[3]));
  }
}
static void BM_itmap_forward(benchmark::State &s) {
  auto f = fn<double (*)(double, double, double)>("itmap");
  for (auto _ : s) {
    FRESH_INPUTS();
    benchmark::DoNotOptimize(f(in[0], 0.9, in[1]));
  }
}
static void BM_itmap_grad(benchmark::State &s) {
  auto f = fn<D3 (*)(double, double, double)>("ditmap");
  for (auto _ : s) {
    FRESH_INPUTS();
    benchmark::DoNotOptimize(f(in[0], 0.9, in[1]));
  }
}
static void BM_itmap_forward_handwritten(benchmark::State &s) {
  for (auto _ : s) {
    FRESH_INPUTS();
    benchmark::DoNotOptimize(itmapC(in[0], 0.9, in[1]));
  }
}
static void BM_itmap_grad_handwritten(benchmark::State &s) {
  for (auto _ : s) {
    FRESH_INPUTS();
    benchmark::DoNotOptimize(ditmapC(in[0], 0.9, in[1]));
  }
}
static double rx[1000], rg[1000];
static void BM_rosen_forward(benchmark::State &s) {
  auto f = fn<double (*)(const double *)>("rosen");
  for (int i = 0; i < 1000; ++i)
    rx[i] = 0.5 + 0.001 * i;
  for (auto _ : s) {
    FRESH_INPUTS();
    benchmark::DoNotOptimize(f(rx));
  }
}
static void BM_rosen_grad(benchmark::State &s) {
  auto f = fn<void (*)(const double *, double *)>("drosen");
  for (auto _ : s) {
    FRESH_INPUTS();
    f(rx, rg);
    benchmark::ClobberMemory();
  }
}
// Recursion at two depths: the gradient / forward ratio stays flat when
// reverse mode of recursion is linear in the depth (it grew with the depth
// when each level re-ran its callee's forward pass).
static void BM_walk_forward(benchmark::State &s) {
  auto f = fn<double (*)(double, double, int64_t)>("walk");
  for (auto _ : s) {
    FRESH_INPUTS();
    benchmark::DoNotOptimize(f(in[0], 0.9, s.range(0)));
  }
}
static void BM_walk_grad(benchmark::State &s) {
  auto f = fn<D2 (*)(double, double, int64_t)>("dwalk");
  for (auto _ : s) {
    FRESH_INPUTS();
    benchmark::DoNotOptimize(f(in[0], 0.9, s.range(0)));
  }
}
BENCHMARK(BM_walk_forward)->Arg(100)->Arg(1000);
BENCHMARK(BM_walk_grad)->Arg(100)->Arg(1000);
BENCHMARK(BM_rosen_forward);
BENCHMARK(BM_rosen_grad);
BENCHMARK(BM_neuron_forward);
BENCHMARK(BM_neuron_grad);
BENCHMARK(BM_neuron_forward_handwritten);
BENCHMARK(BM_neuron_grad_handwritten);
BENCHMARK(BM_itmap_forward);
BENCHMARK(BM_itmap_grad);
BENCHMARK(BM_itmap_forward_handwritten);
BENCHMARK(BM_itmap_grad_handwritten);

/// Bytes pushed on the tape per loop iteration of `fnName`'s first loop.
static int tapeBytesPerIteration(const char *fnName) {
  const ir::Function *f = compile()->ir->lookup(fnName);
  for (auto &op : f->body->ops)
    if (op->kind == ir::OpKind::For) {
      int pushes = 0;
      for (auto &inner : op->region(0)->ops)
        pushes += inner->kind == ir::OpKind::TapePush;
      return pushes * 8;
    }
  return 0;
}

int main(int argc, char **argv) {
  benchmark::Initialize(&argc, argv);
  compile();
  bench::RatioReporter rep;
  benchmark::RunSpecifiedBenchmarks(&rep);
  auto r = [&](const char *a, const char *b) { return rep.ratio(a, b); };
  printf("\nratios (one run; target: gradient/forward <= 3):\n");
  printf("  neuron  BP grad / BP forward          %.2f\n",
         r("neuron_grad", "neuron_forward"));
  printf("  neuron  BP grad / hand-written grad   %.2f\n",
         r("neuron_grad", "neuron_grad_handwritten"));
  printf("  itmap   BP grad / BP forward          %.2f\n",
         r("itmap_grad", "itmap_forward"));
  printf("  itmap   BP grad / hand-written grad   %.2f\n",
         r("itmap_grad", "itmap_grad_handwritten"));
  printf(
      "  rosen   BP grad / BP forward          %.2f   (n = 1000, a for loop)\n",
      r("rosen_grad", "rosen_forward"));
  printf(
      "  rosen   tape bytes per iteration      %d (x[i], x[i+1] are re-read, "
      "the rest recomputed)\n",
      tapeBytesPerIteration("rosen.rev.1"));
  printf("  walk    BP grad / BP forward          %.2f at depth 100, %.2f at "
         "depth 1000 (recursion)\n",
         r("walk_grad/100", "walk_forward/100"),
         r("walk_grad/1000", "walk_forward/1000"));
  printf("  itmap   tape bytes per iteration      %d (x and sin(x): what the "
         "reverse sweep reads)\n",
         tapeBytesPerIteration("itmap.rev.111"));
  return 0;
}
