//===- ad_ratios.cpp - gradient time / forward time, measured in one run --===//
//
// JIT-compiles small BP programs with the compiler library and times their
// forward and gradient functions with Google Benchmark, next to hand-written
// C++ adjoints of the same functions. Prints the ratios at the end (the
// machine is shared and noisy: only ratios from one run are meaningful).
//
//===----------------------------------------------------------------------===//
#include "codegen/CodeGen.h"
#include "ir/IRGen.h"
#include "ir/Simplify.h"
#include "jit/JIT.h"
#include "parse/Parser.h"

#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>

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
)";

struct Program {
  std::unique_ptr<JIT> jit;
  TypeContext types;
  std::unique_ptr<ir::Module> ir;
};

static Program *compile() {
  static Program prog;
  static bool done = false;
  if (done)
    return &prog;
  done = true;
  SourceFile file{"bench.bp", source};
  DiagEngine diags(file);
  auto ast = parseModule(file, diags);
  sema::Program sp;
  sema::check(*ast, prog.types, diags, {}, sp);
  prog.ir = generateIR(*ast, sp, prog.types, diags);
  if (!prog.ir) {
    diags.print(std::cerr);
    std::exit(1);
  }
  ir::simplify(*prog.ir);
  prog.jit = llvm::cantFail(JIT::create());
  auto ctx = std::make_unique<llvm::LLVMContext>();
  auto mod = codegen::emitLLVM(*prog.ir, *ctx);
  codegen::optimize(*mod, prog.jit->targetMachine(), 2);
  llvm::cantFail(prog.jit->add(std::move(mod), std::move(ctx)));
  return &prog;
}

template <class F> static F fn(const char *name) {
  return reinterpret_cast<F>(
      llvm::cantFail(compile()->jit->lookup(codegen::functionSymbol(name))));
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
BENCHMARK(BM_neuron_forward);
BENCHMARK(BM_neuron_grad);
BENCHMARK(BM_neuron_forward_handwritten);
BENCHMARK(BM_neuron_grad_handwritten);
BENCHMARK(BM_itmap_forward);
BENCHMARK(BM_itmap_grad);
BENCHMARK(BM_itmap_forward_handwritten);
BENCHMARK(BM_itmap_grad_handwritten);

/// Collects per-benchmark times so ratios can be printed after the run.
class RatioReporter : public benchmark::ConsoleReporter {
public:
  std::map<std::string, double> ns;
  void ReportRuns(const std::vector<Run> &runs) override {
    for (auto &r : runs)
      ns[r.benchmark_name()] = r.GetAdjustedRealTime();
    ConsoleReporter::ReportRuns(runs);
  }
};

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
  RatioReporter rep;
  benchmark::RunSpecifiedBenchmarks(&rep);
  auto r = [&](const char *a, const char *b) {
    return rep.ns["BM_" + std::string(a)] / rep.ns["BM_" + std::string(b)];
  };
  printf("\nratios (one run; target: gradient/forward <= 3):\n");
  printf("  neuron  BP grad / BP forward          %.2f\n",
         r("neuron_grad", "neuron_forward"));
  printf("  neuron  BP grad / hand-written grad   %.2f\n",
         r("neuron_grad", "neuron_grad_handwritten"));
  printf("  itmap   BP grad / BP forward          %.2f\n",
         r("itmap_grad", "itmap_forward"));
  printf("  itmap   BP grad / hand-written grad   %.2f\n",
         r("itmap_grad", "itmap_grad_handwritten"));
  printf("  itmap   tape bytes per iteration      %d (x and sin(x): what the "
         "reverse sweep reads)\n",
         tapeBytesPerIteration("itmap.rev.111"));
  return 0;
}
