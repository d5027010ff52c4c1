//===- MlpReference.h - hand-written MLP forward/backward -------*- C++ -*-===//
//
// The reference for bench/mlp.cpp (JIT) and bench/mlp_aot.cpp (AOT):
// MLP 784-128-10, tanh, softmax cross-entropy, batch 64, written by hand in
// the same loop order BP generates.
//
//===----------------------------------------------------------------------===//
#pragma once

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
inline std::vector<double> A(B *H), Z(B *O), dZ(B *O), dA(B *H);

__attribute__((noinline)) inline double forwardC(const Data &d) {
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

__attribute__((noinline)) inline void gradC(const Data &d, Grads &g) {
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

} // namespace mlp
