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

#include "bp_runtime.h"

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace {

constexpr int D = 10, K = 25, N = 1000, ICF = D * (D + 1) / 2;

struct Input {
  std::vector<double> alphas, means, icf, x;
  double gamma = 1, m = 0;
};
Input in;

bool load(const std::string &path) {
  std::ifstream f(path);
  int d, k, n;
  if (!(f >> d >> k >> n) || d != D || k != K || n != N)
    return false;
  auto read = [&](std::vector<double> &v, size_t count) {
    v.resize(count);
    for (double &x : v)
      f >> x;
  };
  read(in.alphas, K);
  read(in.means, K * D);
  read(in.icf, K * ICF);
  read(in.x, N * D);
  f >> in.gamma >> in.m;
  return (bool)f;
}

double logsumexp(const double *v, int n) {
  double mx = v[0];
  for (int i = 1; i < n; ++i)
    mx = std::max(mx, v[i]);
  double s = 0;
  for (int i = 0; i < n; ++i)
    s += std::exp(v[i] - mx);
  return mx + std::log(s);
}

double logGammaDistrib(double a, int p) {
  double out = 0.25 * p * (p - 1) * std::log(M_PI);
  for (int j = 1; j <= p; ++j)
    out += std::lgamma(a + 0.5 * (1 - j));
  return out;
}

/// Hand-written objective and (if g != nullptr) its gradient w.r.t.
/// alphas, means, icf (concatenated).
__attribute__((noinline)) double gmmC(const Input &p, double *g) {
  double qdiag[K][D], sumq[K], main[K], v[K][D], xc[K][D];
  for (int k = 0; k < K; ++k) {
    sumq[k] = 0;
    for (int d = 0; d < D; ++d) {
      sumq[k] += p.icf[k * ICF + d];
      qdiag[k][d] = std::exp(p.icf[k * ICF + d]);
    }
  }
  double *ga = g, *gm = g ? g + K : nullptr, *gi = g ? g + K + K * D : nullptr;
  if (g)
    std::fill(g, g + K + K * D + K * ICF, 0.0);
  double slse = 0;
  for (int i = 0; i < N; ++i) {
    const double *x = &p.x[i * D];
    for (int k = 0; k < K; ++k) {
      const double *L = &p.icf[k * ICF + D];
      for (int d = 0; d < D; ++d) {
        xc[k][d] = x[d] - p.means[k * D + d];
        v[k][d] = qdiag[k][d] * xc[k][d];
      }
      int idx = 0;
      for (int a = 0; a < D; ++a)
        for (int b = a + 1; b < D; ++b)
          v[k][b] += L[idx++] * xc[k][a];
      double sq = 0;
      for (int d = 0; d < D; ++d)
        sq += v[k][d] * v[k][d];
      main[k] = p.alphas[k] + sumq[k] - 0.5 * sq;
    }
    double lse = logsumexp(main, K);
    slse += lse;
    if (!g)
      continue;
    for (int k = 0; k < K; ++k) {
      double w = std::exp(main[k] - lse); // d lse / d main_k
      const double *L = &p.icf[k * ICF + D];
      ga[k] += w;
      double gxc[D];
      for (int d = 0; d < D; ++d) {
        gi[k * ICF + d] += w * (1 - v[k][d] * xc[k][d] * qdiag[k][d]);
        gxc[d] = qdiag[k][d] * v[k][d];
      }
      int idx = 0;
      for (int a = 0; a < D; ++a)
        for (int b = a + 1; b < D; ++b) {
          gi[k * ICF + D + idx] -= w * v[k][b] * xc[k][a];
          gxc[a] += L[idx] * v[k][b];
          ++idx;
        }
      for (int d = 0; d < D; ++d)
        gm[k * D + d] += w * gxc[d];
    }
  }
  double lseA = logsumexp(p.alphas.data(), K);
  double n = D + p.m + 1;
  double c = n * D * (std::log(p.gamma) - 0.5 * std::log(2.0)) -
             logGammaDistrib(0.5 * n, D);
  double prior = 0;
  for (int k = 0; k < K; ++k) {
    double fro = 0;
    for (int d = 0; d < D; ++d)
      fro += qdiag[k][d] * qdiag[k][d];
    for (int j = D; j < ICF; ++j)
      fro += p.icf[k * ICF + j] * p.icf[k * ICF + j];
    prior += 0.5 * p.gamma * p.gamma * fro - p.m * sumq[k];
    if (g) {
      for (int d = 0; d < D; ++d)
        gi[k * ICF + d] += p.gamma * p.gamma * qdiag[k][d] * qdiag[k][d] - p.m;
      for (int j = D; j < ICF; ++j)
        gi[k * ICF + j] += p.gamma * p.gamma * p.icf[k * ICF + j];
    }
  }
  if (g)
    for (int k = 0; k < K; ++k)
      ga[k] -= N * std::exp(p.alphas[k] - lseA);
  return -N * D * 0.5 * std::log(2 * M_PI) + slse - N * lseA + prior - K * c;
}

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

std::vector<double> gBP(K + K * D + K * ICF), gC(K + K * D + K * ICF);

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
void BM_handwritten_forward(benchmark::State &s) {
  for (auto _ : s)
    benchmark::DoNotOptimize(gmmC(in, nullptr));
}
void BM_handwritten_grad(benchmark::State &s) {
  for (auto _ : s) {
    benchmark::DoNotOptimize(gmmC(in, gC.data()));
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
  std::string path = argc > 1 ? argv[1]
                              : BP_SOURCE_DIR "/../shared/data/adbench/gmm/1k/"
                                              "gmm_d10_K25.txt";
  if (!load(path)) {
    fprintf(stderr, "cannot read ADBench data '%s' (d=10, K=25, n=1000)\n",
            path.c_str());
    return 2;
  }
  program();
  bench::RatioReporter rep;
  benchmark::RunSpecifiedBenchmarks(&rep);
  double diff = 0, objBP = program().fn<Fwd>("gmm")(
                       in.alphas.data(), in.means.data(), in.icf.data(),
                       in.x.data(), in.gamma, in.m);
  for (size_t i = 0; i < gC.size(); ++i)
    diff = std::max(diff, std::fabs(gC[i] - gBP[i]) /
                              std::max(1.0, std::fabs(gC[i])));
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
