//===- GmmVecReference.h - ADBench GMM by hand, vectorised over points ---===//
//
// The objective and gradient of bench/GmmReference.h written the way an
// expert writes them for many points, at any d, K, n:
//   - per component k and block of m points, Xc = (X - 1 mu_k^T)^T and
//     QX = Q_k Xc, [d, m] each (points along the rows, so that the loops
//     over points are vector loops), QX one OpenBLAS dgemm
//     ([d, d] x [d, m]);
//   - main[k, i] = alpha_k + sum log diag Q_k - |QX[:, i]|^2 / 2, and the
//     log-sum-exp over k for all points at once (loops over points that
//     call libmvec's exp and log, bench/VecMath.h);
//   - the reverse sweep recomputes QX (storing it for every k would be
//     n K d doubles: 100 MB at d64 K200), scales it by -w[k, i] into S and
//     takes dQ_k = S Xc^T as a second dgemm ([d, m] x [m, d]) and
//     dmu_k = -Q_k^T (S's row sums).
// Softmax weights below 1e-200 are taken as 0 (kMinWeight). Points go in
// blocks of kBlock = 64, so that Xc and QX (32 KB each at d64) stay in
// L1/L2: 64 measured 1.3-1.4x faster than 256 at d64 K200. The workspace is
// allocated once, by the constructor: a call allocates
// nothing. bp_bench_gmm_vmap checks it against gmmref::gmmPerPoint.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "bench/GmmReference.h"
#include "bench/VecMath.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace gmmvec {

using gmmref::Input;

constexpr int kBlock = 64;

/// Softmax weights below this are taken as 0. Far from the point's
/// likeliest components they are subnormal (exp(-708) and below), and
/// subnormal operands made the reverse sweep's dgemm 2.6x slower at
/// d64 K200 (docs/BENCHMARKS.md); what they drop is below 1e-190 of the
/// gradient.
constexpr double kMinWeight = 1e-200;

class Gmm {
public:
  /// A workspace for inputs of p's sizes.
  explicit Gmm(const Input &p)
      : d(p.d), k(p.k), n(p.n), icf(p.d * (p.d + 1) / 2), q(size_t(k) * d * d),
        qdiag(size_t(k) * d), sumq(k), xt(size_t(n) * d),
        xc(size_t(kBlock) * d), qx(size_t(kBlock) * d), main(size_t(k) * n),
        lse(n), sums(n), dq(size_t(d) * d), cs(d) {}

  /// The objective, and (if g != nullptr) its gradient w.r.t. alphas,
  /// means, icf (concatenated, as gmmref::gmmPerPoint).
  __attribute__((noinline)) double evaluate(const Input &p, double *g) {
    unpack(p);
    for (int i = 0; i < n; ++i) // xt = x^T
      for (int j = 0; j < d; ++j)
        xt[size_t(j) * n + i] = p.x[size_t(i) * d + j];
    forward(p);
    double slse = logSumExp(g != nullptr);
    if (g)
      reverse(p, g);
    return slse + prior(p, g);
  }

private:
  int d, k, n, icf;
  std::vector<double> q, qdiag, sumq, xt, xc, qx, main, lse, sums, dq, cs;

  /// q[c] = Q_c row-major: exp(icf[c, 0:d]) on the diagonal, icf[c, d:]
  /// below it column by column (ADBench's order), zeros above.
  void unpack(const Input &p) {
    std::fill(q.begin(), q.end(), 0.0);
    for (int c = 0; c < k; ++c) {
      const double *ic = &p.icf[size_t(c) * icf];
      double *Q = &q[size_t(c) * d * d], s = 0;
      for (int j = 0; j < d; ++j) {
        s += ic[j];
        qdiag[size_t(c) * d + j] = std::exp(ic[j]);
        Q[j * d + j] = qdiag[size_t(c) * d + j];
      }
      sumq[c] = s;
      int idx = d;
      for (int a = 0; a < d; ++a)
        for (int b = a + 1; b < d; ++b)
          Q[b * d + a] = ic[idx++];
    }
  }

  /// xc = (x[i0 : i0 + m] - mu_c)^T and qx = Q_c xc, both [d, m]: points
  /// along the rows, so that every loop over them is a vector loop.
  void centre(const Input &p, int c, int i0, int m) {
    const double *mu = &p.means[size_t(c) * d];
    for (int j = 0; j < d; ++j)
      for (int i = 0; i < m; ++i)
        xc[size_t(j) * m + i] = xt[size_t(j) * n + i0 + i] - mu[j];
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, m, d, 1.0,
                &q[size_t(c) * d * d], d, xc.data(), m, 0.0, qx.data(), m);
  }

  /// main[c, i] = alpha_c + sum log diag Q_c - |Q_c (x_i - mu_c)|^2 / 2.
  void forward(const Input &p) {
    for (int c = 0; c < k; ++c)
      for (int i0 = 0; i0 < n; i0 += kBlock) {
        int m = std::min(kBlock, n - i0);
        centre(p, c, i0, m);
        double *out = &main[size_t(c) * n + i0];
        std::fill(out, out + m, 0.0);
        for (int j = 0; j < d; ++j)
          for (int i = 0; i < m; ++i)
            out[i] += qx[size_t(j) * m + i] * qx[size_t(j) * m + i];
        double base = p.alphas[c] + sumq[c];
        for (int i = 0; i < m; ++i)
          out[i] = base - 0.5 * out[i];
      }
  }

  /// lse[i] = log sum_c exp(main[c, i]), every loop over the points (so
  /// exp and log go to libmvec); returns sum_i lse[i]. With `weights`,
  /// main becomes the softmax weights w[c, i] = exp(main[c, i] - lse[i]).
  double logSumExp(bool weights) {
    std::copy(main.begin(), main.begin() + n, lse.begin());
    for (int c = 1; c < k; ++c)
      for (int i = 0; i < n; ++i)
        lse[i] = std::max(lse[i], main[size_t(c) * n + i]);
    std::fill(sums.begin(), sums.end(), 0.0);
    for (int c = 0; c < k; ++c)
      for (int i = 0; i < n; ++i)
        sums[i] += std::exp(main[size_t(c) * n + i] - lse[i]);
    double total = 0;
#pragma omp simd reduction(+ : total)
    for (int i = 0; i < n; ++i) {
      lse[i] += std::log(sums[i]);
      total += lse[i];
    }
    if (weights)
      for (int c = 0; c < k; ++c)
        for (int i = 0; i < n; ++i) {
          double w = std::exp(main[size_t(c) * n + i] - lse[i]);
          main[size_t(c) * n + i] = w >= kMinWeight ? w : 0.0;
        }
    return total;
  }

  /// The data term's gradient, from the weights logSumExp left in main.
  void reverse(const Input &p, double *g) {
    double *ga = g, *gm = g + k, *gi = g + k + size_t(k) * d;
    for (int c = 0; c < k; ++c) {
      const double *w = &main[size_t(c) * n];
      std::fill(cs.begin(), cs.end(), 0.0);
      for (int i0 = 0; i0 < n; i0 += kBlock) {
        int m = std::min(kBlock, n - i0);
        centre(p, c, i0, m);
        for (int j = 0; j < d; ++j) { // S = d main / d qx, weighted
          double *sj = &qx[size_t(j) * m], sum = 0;
#pragma omp simd reduction(+ : sum)
          for (int i = 0; i < m; ++i) {
            sj[i] *= -w[i0 + i];
            sum += sj[i];
          }
          cs[j] += sum;
        }
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, d, d, m, 1.0,
                    qx.data(), m, xc.data(), m, i0 == 0 ? 0.0 : 1.0, dq.data(),
                    d);
      }
      double wsum = 0;
#pragma omp simd reduction(+ : wsum)
      for (int i = 0; i < n; ++i)
        wsum += w[i];
      ga[c] = wsum;
      double *gic = &gi[size_t(c) * icf];
      for (int j = 0; j < d; ++j)
        gic[j] = wsum + dq[j * d + j] * qdiag[size_t(c) * d + j];
      int idx = d;
      for (int a = 0; a < d; ++a)
        for (int b = a + 1; b < d; ++b)
          gic[idx++] = dq[b * d + a];
      const double *Q = &q[size_t(c) * d * d];
      for (int j = 0; j < d; ++j)
        gm[size_t(c) * d + j] = 0;
      for (int b = 0; b < d; ++b) // dmu = -Q^T colsum(S)
        for (int j = 0; j <= b; ++j)
          gm[size_t(c) * d + j] -= Q[b * d + j] * cs[b];
    }
  }

  /// Everything but the data term: the constant, -n logsumexp(alphas) and
  /// the Wishart prior; adds their gradient to g (if not null).
  double prior(const Input &p, double *g) {
    double lseA = bench::logSumExp(p.alphas.data(), k);
    double nu = d + p.m + 1;
    double c = nu * d * (std::log(p.gamma) - 0.5 * std::log(2.0)) -
               gmmref::logGammaDistrib(0.5 * nu, d);
    double total = 0, g2 = p.gamma * p.gamma;
    for (int j = 0; j < k; ++j) {
      const double *ic = &p.icf[size_t(j) * icf], *qd = &qdiag[size_t(j) * d];
      double fro = 0;
      for (int a = 0; a < d; ++a)
        fro += qd[a] * qd[a];
      for (int a = d; a < icf; ++a)
        fro += ic[a] * ic[a];
      total += 0.5 * g2 * fro - p.m * sumq[j];
      if (!g)
        continue;
      double *gic = g + k + size_t(k) * d + size_t(j) * icf;
      for (int a = 0; a < d; ++a)
        gic[a] += g2 * qd[a] * qd[a] - p.m;
      for (int a = d; a < icf; ++a)
        gic[a] += g2 * ic[a];
      g[j] -= n * std::exp(p.alphas[j] - lseA);
    }
    return -double(n) * d * 0.5 * std::log(2 * M_PI) - n * lseA + total - k * c;
  }
};

} // namespace gmmvec
