//===- mlp_aot.cpp - the AOT-built MLP gradient from C, vs hand-written ---===//
//
// bench/mlp.bp is compiled by `bpc build -o libmlp.a` at build time; this
// program calls its C ABI (mlp.h) exactly as a C user would, next to the
// hand-written C++ gradient (bench/MlpReference.h), in one run.
//
//===----------------------------------------------------------------------===//
#include "bench/MlpReference.h"
#include "bench/Ratios.h"
#include "mlp.h"

#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>

using namespace mlp;

namespace {
Grads aot, ref;

void setParams() {
  std::copy(data.W1.begin(), data.W1.end(), mlp_param_W1());
  std::copy(data.b1.begin(), data.b1.end(), mlp_param_b1());
  std::copy(data.W2.begin(), data.W2.end(), mlp_param_W2());
  std::copy(data.b2.begin(), data.b2.end(), mlp_param_b2());
}

void BM_aot_grad(benchmark::State &s) {
  for (auto _ : s) {
    mlp_dloss(data.X.data(), data.Y.data(), aot.W1.data(), aot.b1.data(),
              aot.W2.data(), aot.b2.data());
    benchmark::ClobberMemory();
  }
}
void BM_aot_forward(benchmark::State &s) {
  for (auto _ : s)
    benchmark::DoNotOptimize(mlp_loss(data.X.data(), data.Y.data()));
}
void BM_handwritten_grad(benchmark::State &s) {
  for (auto _ : s) {
    gradC(data, ref);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_aot_forward);
BENCHMARK(BM_aot_grad);
BENCHMARK(BM_handwritten_grad);

} // namespace

int main(int argc, char **argv) {
  // OpenBLAS (the reference's products and the model's large matmuls): one
  // thread, as everything else here.
  openblas_set_num_threads(1);
  benchmark::Initialize(&argc, argv);
  setParams();
  // A fast wrong gradient measures nothing: compare before timing.
  mlp_dloss(data.X.data(), data.Y.data(), aot.W1.data(), aot.b1.data(),
            aot.W2.data(), aot.b2.data());
  gradC(data, ref);
  double rel = relativeDifference(ref, aot);
  printf("AOT gradient vs hand-written: %.2g relative (max-norm)\n", rel);
  if (rel > 1e-12) {
    fprintf(stderr, "the gradients differ by more than 1e-12: not timing\n");
    return 1;
  }
  bench::RatioReporter rep;
  benchmark::RunSpecifiedBenchmarks(&rep);
  printf("\nMLP 784-128-10, batch 64, AOT (bpc build) from C++ (one run):\n");
  printf("  AOT grad / hand-written grad      %.2f   (target <= 1.3)\n",
         rep.ratio("aot_grad", "handwritten_grad"));
  printf("  AOT grad / AOT forward            %.2f\n",
         rep.ratio("aot_grad", "aot_forward"));
  printf("  max |dW1 AOT - dW1 hand-written|  %.2g\n",
         bench::maxAbsDiff(ref.W1, aot.W1));
  return 0;
}
