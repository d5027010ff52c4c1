//===- GmmReference.h - ADBench GMM by hand: data, objective, gradient ---===//
//
// The hand-written C++ side of the GMM benchmarks (bp_bench_gmm: JIT,
// bp_bench_gmm_aot: `bpc build` from C++): ADBench's gmm_d10_K25 input and
// an objective/gradient written the way a C++ programmer would (one pass
// per point: the forward values of every component are kept, then the
// softmax weights scale their adjoints). Its exp/log loops call libmvec
// (bench/VecMath.h, the flags in bench/CMakeLists.txt), as BP's do.
// bp_bench_gmm_vmap also uses it at other sizes (gmmPerPoint<d, K>, on
// generated inputs) to check bench/GmmVecReference.h.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "bench/VecMath.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace gmmref {

constexpr int D = 10, K = 25, N = 1000, ICF = D * (D + 1) / 2;

/// One GMM input: d dimensions, k components, n points (ADBench's layout).
struct Input {
  int d = D, k = K, n = N;
  std::vector<double> alphas, means, icf, x;
  double gamma = 1, m = 0;
};
inline Input in;

/// Reads an ADBench GMM file of dimension d, k components, n points into
/// `p`; false if the file is missing, short, or of other sizes.
inline bool load(const std::string &path, Input &p, int d, int k, int n) {
  std::ifstream f(path);
  int fd, fk, fn;
  if (!(f >> fd >> fk >> fn) || fd != d || fk != k || fn != n)
    return false;
  p.d = d, p.k = k, p.n = n;
  int icf = d * (d + 1) / 2;
  auto read = [&](std::vector<double> &v, size_t count) {
    v.resize(count);
    for (double &x : v)
      f >> x;
  };
  read(p.alphas, k);
  read(p.means, size_t(k) * d);
  read(p.icf, size_t(k) * icf);
  read(p.x, size_t(n) * d);
  f >> p.gamma >> p.m;
  return (bool)f;
}

inline bool load(const std::string &path) { return load(path, in, D, K, N); }

/// ADBench's distributions (as in its gmm_d64_K5): alphas, icf and x
/// standard normal, means uniform on [0, 1), gamma 1, m 0; deterministic.
inline Input generate(int d, int k, int n, unsigned seed = 14) {
  Input p;
  p.d = d, p.k = k, p.n = n;
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> uniform;
  auto fill = [&](std::vector<double> &v, size_t count, auto &dist) {
    v.resize(count);
    for (double &x : v)
      x = dist(rng);
  };
  fill(p.alphas, k, normal);
  fill(p.means, size_t(k) * d, uniform);
  fill(p.icf, size_t(k) * (d * (d + 1) / 2), normal);
  fill(p.x, size_t(n) * d, normal);
  return p;
}

inline double logGammaDistrib(double a, int p) {
  double out = 0.25 * p * (p - 1) * std::log(M_PI);
  for (int j = 1; j <= p; ++j)
    out += std::lgamma(a + 0.5 * (1 - j));
  return out;
}

/// Hand-written objective and (if g != nullptr) its gradient w.r.t.
/// alphas, means, icf (concatenated), one pass per point, for p.d == Dim,
/// p.k == Comp and any p.n.
template <int Dim, int Comp>
__attribute__((noinline)) double gmmPerPoint(const Input &p, double *g) {
  constexpr int D = Dim, K = Comp, ICF = D * (D + 1) / 2;
  const int N = p.n;
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
    const double *x = &p.x[size_t(i) * D];
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
    double lse = bench::logSumExp(main, K);
    slse += lse;
    if (!g)
      continue;
    double ws[K]; // d lse / d main_k, one vector loop
    for (int k = 0; k < K; ++k)
      ws[k] = std::exp(main[k] - lse);
    for (int k = 0; k < K; ++k) {
      double w = ws[k];
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
  double lseA = bench::logSumExp(p.alphas.data(), K);
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

/// The d10 K25 instance the JIT and AOT GMM benchmarks time.
inline double gmmC(const Input &p, double *g) {
  return gmmPerPoint<D, K>(p, g);
}

/// Loads ADBench's gmm_d10_K25 from argv[1], else from the shared data
/// folder next to the checkout (BP_SOURCE_DIR); false after saying why.
inline bool loadFromArgs(int argc, char **argv) {
  std::string path = argc > 1 ? argv[1]
                              : BP_SOURCE_DIR "/../shared/data/adbench/gmm/1k/"
                                              "gmm_d10_K25.txt";
  if (load(path))
    return true;
  fprintf(stderr, "cannot read ADBench data '%s' (d=10, K=25, n=1000)\n",
          path.c_str());
  return false;
}

/// max_i |ref_i - x_i| / max(1, |ref_i|).
inline double maxRelativeDifference(const std::vector<double> &ref,
                                    const std::vector<double> &x) {
  double diff = 0;
  for (size_t i = 0; i < ref.size(); ++i)
    diff = std::max(diff, std::fabs(ref[i] - x[i]) /
                              std::max(1.0, std::fabs(ref[i])));
  return diff;
}

/// The hand-written gradient of the last BM_handwritten_grad run.
inline std::vector<double> gC(K + K * D + K * ICF);

inline void BM_handwritten_forward(benchmark::State &s) {
  for (auto _ : s)
    benchmark::DoNotOptimize(gmmC(in, nullptr));
}
inline void BM_handwritten_grad(benchmark::State &s) {
  for (auto _ : s) {
    benchmark::DoNotOptimize(gmmC(in, gC.data()));
    benchmark::ClobberMemory();
  }
}

} // namespace gmmref
