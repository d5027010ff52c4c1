//===- gmm_aot.cpp - the AOT-built GMM gradient from C++, vs hand-written ===//
//
// examples/gmm/gmm.bp (without its D = 2 `main`) is compiled at build time
// by `bpc build -D D=10 -D K=25 -D N=1000 -o libgmm_model.a`; this program
// calls its C ABI (gmm_model.h) as a C/C++ user would, next to the
// hand-written objective and gradient (bench/GmmReference.h), in one run.
// Data: ADBench's gmm/1k/gmm_d10_K25.txt (../shared/data/adbench, or the
// first argument).
//
//===----------------------------------------------------------------------===//
#include "bench/GmmReference.h"
#include "bench/Ratios.h"
#include "gmm_model.h"

#include <benchmark/benchmark.h>

#include <cstdio>

using namespace gmmref;

namespace {

static_assert(GMM_MODEL_dgmm_grad_icf_SIZE == K * ICF, "built for d10 K25");

std::vector<double> gAOT(K + K * D + K * ICF);

double forward() {
  return gmm_model_gmm(in.alphas.data(), in.means.data(), in.icf.data(),
                       in.x.data(), in.gamma, in.m);
}
void gradient() {
  gmm_model_dgmm(in.alphas.data(), in.means.data(), in.icf.data(), in.x.data(),
                 in.gamma, in.m, gAOT.data(), gAOT.data() + K,
                 gAOT.data() + K + K * D);
}

void BM_aot_forward(benchmark::State &s) {
  for (auto _ : s)
    benchmark::DoNotOptimize(forward());
}
void BM_aot_grad(benchmark::State &s) {
  for (auto _ : s) {
    gradient();
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_aot_forward);
BENCHMARK(BM_aot_grad);
BENCHMARK(BM_handwritten_forward);
BENCHMARK(BM_handwritten_grad);

} // namespace

int main(int argc, char **argv) {
  benchmark::Initialize(&argc, argv);
  if (!loadFromArgs(argc, argv))
    return 2;
  bench::RatioReporter rep;
  benchmark::RunSpecifiedBenchmarks(&rep);
  gradient();
  gmmC(in, gC.data());
  double diff = maxRelativeDifference(gC, gAOT);
  printf("\nADBench GMM d=10 K=25 n=1000, AOT (bpc build) from C++ (one "
         "run):\n");
  printf("  AOT grad / hand-written grad       %.2f   (target <= 1.3)\n",
         rep.ratio("aot_grad", "handwritten_grad"));
  printf("  AOT grad / AOT forward             %.2f\n",
         rep.ratio("aot_grad", "aot_forward"));
  printf("  AOT forward / hand-written forward %.2f\n",
         rep.ratio("aot_forward", "handwritten_forward"));
  printf("  objective AOT %.17g, hand-written %.17g\n", forward(),
         gmmC(in, nullptr));
  printf("  max relative gradient difference   %.2g\n", diff);
  return 0;
}
