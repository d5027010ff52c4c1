//===- MlpReference.h - hand-written MLP forward/backward -------*- C++ -*-===//
//
// The reference for bench/mlp.cpp (JIT) and bench/mlp_aot.cpp (AOT):
// MLP 784-128-10, tanh, softmax cross-entropy, batch 64, written as an
// expert writes it in C++: every matrix product is one OpenBLAS call
// (cblas_dgemm / cblas_dgemv, the library BP's large matmuls call), the
// elementwise tanh/exp/log loops vectorise into libmvec (bench/VecMath.h).
// The callers pin OpenBLAS to one thread. The gradient is exact (the same
// math as BP's, summed in BLAS's order).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "bench/VecMath.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace mlp {

constexpr int B = 64, I = 784, H = 128, O = 10;

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
inline Data data;

// Hand-written reference.
struct Grads {
  std::vector<double> W1, b1, W2, b2;
  Grads() : W1(I * H), b1(H), W2(H * O), b2(O) {}
};
// Row-major activations: A = tanh(X W1 + b1) [B, H], Z = A W2 + b2 [B, O];
// dZ, dA their adjoints; ones [B] for the bias gradients (column sums).
inline std::vector<double> A(B *H), Z(B *O), dZ(B *O), dA(B *H), ones(B, 1.0);

/// `out[B, n] = broadcast(bias[n])`, the beta = 1 operand of a dgemm.
inline void broadcastRows(double *out, const double *bias, int n) {
  for (int b = 0; b < B; ++b)
    std::copy(bias, bias + n, out + b * n);
}

/// The forward pass up to Z (A and Z are kept for the backward pass).
inline void logitsC(const Data &d) {
  broadcastRows(A.data(), d.b1.data(), H);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, H, I, 1.0,
              d.X.data(), I, d.W1.data(), H, 1.0, A.data(), H);
  double *a = A.data();
  for (int e = 0; e < B * H; ++e)
    a[e] = std::tanh(a[e]);
  broadcastRows(Z.data(), d.b2.data(), O);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, O, H, 1.0, A.data(),
              H, d.W2.data(), O, 1.0, Z.data(), O);
}

__attribute__((noinline)) inline double forwardC(const Data &d) {
  logitsC(d);
  double loss = 0;
  for (int b = 0; b < B; ++b) {
    const double *z = &Z[b * O], *y = &d.Y[b * O];
    double lse = bench::logSumExp(z, O);
    for (int j = 0; j < O; ++j)
      loss -= y[j] * (z[j] - lse);
  }
  return loss / B;
}

__attribute__((noinline)) inline void gradC(const Data &d, Grads &g) {
  logitsC(d);
  // d loss / d Z = (softmax(Z) - Y) / B, row by row (the Y rows sum to 1).
  for (int b = 0; b < B; ++b) {
    const double *z = &Z[b * O], *y = &d.Y[b * O];
    double lse = bench::logSumExp(z, O);
    double *dz = &dZ[b * O];
    for (int j = 0; j < O; ++j)
      dz[j] = (std::exp(z[j] - lse) - y[j]) / B;
  }
  // dW2 = A^T dZ, db2 = dZ^T 1, dA = (dZ W2^T) * (1 - A^2).
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, O, B, 1.0, A.data(),
              H, dZ.data(), O, 0.0, g.W2.data(), O);
  cblas_dgemv(CblasRowMajor, CblasTrans, B, O, 1.0, dZ.data(), O, ones.data(),
              1, 0.0, g.b2.data(), 1);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, H, O, 1.0, dZ.data(),
              O, d.W2.data(), O, 0.0, dA.data(), H);
  const double *a = A.data();
  double *da = dA.data();
  for (int e = 0; e < B * H; ++e)
    da[e] *= 1 - a[e] * a[e];
  // dW1 = X^T dA, db1 = dA^T 1.
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, I, H, B, 1.0, d.X.data(),
              I, dA.data(), H, 0.0, g.W1.data(), H);
  cblas_dgemv(CblasRowMajor, CblasTrans, B, H, 1.0, dA.data(), H, ones.data(),
              1, 0.0, g.b1.data(), 1);
}

/// max_i |a_i - ref_i| / max_i |ref_i| over every gradient: the norm-wise
/// relative difference (element-wise ratios are meaningless near zero).
inline double relativeDifference(const Grads &ref, const Grads &x) {
  double diff = 0, scale = 0;
  auto add = [&](const std::vector<double> &r, const std::vector<double> &v) {
    for (size_t i = 0; i < r.size(); ++i) {
      diff = std::max(diff, std::fabs(r[i] - v[i]));
      scale = std::max(scale, std::fabs(r[i]));
    }
  };
  add(ref.W1, x.W1);
  add(ref.b1, x.b1);
  add(ref.W2, x.W2);
  add(ref.b2, x.b2);
  return diff / scale;
}

} // namespace mlp
