//===- gmm.cpp - ADBench GMM (d = 10, K = 25, n = 1000): BP vs hand-written
//-===//
//
// examples/gmm/gmm.bp, JIT-compiled with -D D=10 -D K=25 -D N=1000, against
// a hand-written C++ objective and gradient (one pass per point: the
// forward values of every component are kept, then the softmax weights
// scale their adjoints). Data: ADBench's gmm/1k/gmm_d10_K25.txt
// (../shared/data/adbench, or the path given as the first argument).
// Prints the ratios and the number of allocations the generated gradient
// made inside the measured loop.
//
//===----------------------------------------------------------------------===//
#include "bench/Compile.h"
#include "bench/GmmReference.h"

#include "bp_runtime.h"

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace {

using namespace gmmref;

using Fwd = double (*)(const double *, const double *, const double *,
                       const double *, double, double);
using Grad = void (*)(const double *, const double *, const double *,
                      const double *, double, double, double *, double *,
                      double *);

bench::Compiled &program() {
  static bench::Compiled p = [] {
    std::ifstream f(BP_SOURCE_DIR "/examples/gmm/gmm.bp");
    static std::string src((std::istreambuf_iterator<char>(f)), {});
    // main() holds the D = 2 test input; the benchmark re-specialises.
    src = src.substr(0, src.find("\nfn main()"));
    bp::sema::Options o;
    o.defines = {{"D", "10"}, {"K", "25"}, {"N", "1000"}};
    return bench::compile(src.c_str(), o);
  }();
  return p;
}

std::vector<double> gBP(K + K * D + K * ICF);

void BM_bp_forward(benchmark::State &s) {
  auto f = program().fn<Fwd>("gmm");
  for (auto _ : s)
    benchmark::DoNotOptimize(f(in.alphas.data(), in.means.data(), in.icf.data(),
                               in.x.data(), in.gamma, in.m));
}
int64_t allocationsInLoop = -1;

void BM_bp_grad(benchmark::State &s) {
  auto f = program().fn<Grad>("dgmm");
  auto call = [&] {
    f(in.alphas.data(), in.means.data(), in.icf.data(), in.x.data(), in.gamma,
      in.m, gBP.data(), gBP.data() + K, gBP.data() + K + K * D);
  };
  call(); // warm up the arena and tape
  int64_t before = bp_arena_system_allocations();
  for (auto _ : s) {
    call();
    benchmark::ClobberMemory();
  }
  allocationsInLoop = bp_arena_system_allocations() - before;
}
BENCHMARK(BM_bp_forward);
BENCHMARK(BM_bp_grad);
BENCHMARK(BM_handwritten_forward);
BENCHMARK(BM_handwritten_grad);

} // namespace

int main(int argc, char **argv) {
  benchmark::Initialize(&argc, argv);
  if (!loadFromArgs(argc, argv))
    return 2;
  program();
  bench::RatioReporter rep;
  benchmark::RunSpecifiedBenchmarks(&rep);
  double diff = maxRelativeDifference(gC, gBP),
         objBP = program().fn<Fwd>("gmm")(in.alphas.data(), in.means.data(),
                                          in.icf.data(), in.x.data(), in.gamma,
                                          in.m);
  printf("\nADBench GMM d=10 K=25 n=1000 (one run):\n");
  printf("  BP grad / BP forward              %.2f   (target <= 3)\n",
         rep.ratio("bp_grad", "bp_forward"));
  printf("  BP grad / hand-written grad       %.2f   (target <= 1.3)\n",
         rep.ratio("bp_grad", "handwritten_grad"));
  printf("  BP forward / hand-written forward %.2f\n",
         rep.ratio("bp_forward", "handwritten_forward"));
  printf("  objective BP %.17g, hand-written %.17g\n", objBP,
         gmmC(in, nullptr));
  printf("  max relative gradient difference  %.2g\n", diff);
  printf("  allocations in the measured loop  %lld\n",
         (long long)allocationsInLoop);
  return 0;
}
