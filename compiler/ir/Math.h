//===- Math.h - helpers of the Eval column of ir/Ops.def --------*- C++ -*-===//
//
// Header-only and free of other BP headers: the runtime includes it too
// (runtime/ops.cpp compiles the Eval of each Runtime-lowered op).
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cmath>

namespace bp::ir {

/// max / min as codegen emits them (codegen/Scalar.cpp): a NaN operand
/// gives NaN, otherwise the first operand wins ties.
inline double maxNaN(double x, double y) {
  return x != x || y != y ? x + y : x >= y ? x : y;
}
inline double minNaN(double x, double y) {
  return x != x || y != y ? x + y : x <= y ? x : y;
}

/// digamma = lgamma': reflection for x < 0.5 (digamma(1-x) - pi*cot(pi*x)),
/// recurrence up to x >= 16, then the asymptotic series (Abramowitz &
/// Stegun 6.3.18): accurate to about 5e-15.
inline double digamma(double x) {
  if (std::isnan(x))
    return x;
  if (x <= 0 && x == std::floor(x))
    return NAN; // poles
  if (x < 0.5)
    return digamma(1 - x) - M_PI / std::tan(M_PI * x);
  double r = 0;
  while (x < 16) {
    r -= 1 / x;
    x += 1;
  }
  double f = 1 / (x * x);
  return r + std::log(x) - 0.5 / x -
         f * (1.0 / 12 -
              f * (1.0 / 120 -
                   f * (1.0 / 252 - f * (1.0 / 240 - f * (1.0 / 132)))));
}

/// trigamma = digamma': the same scheme (Abramowitz & Stegun 6.4.12).
inline double trigamma(double x) {
  if (std::isnan(x))
    return x;
  if (x <= 0 && x == std::floor(x))
    return INFINITY;
  if (x < 0.5) {
    double s = std::sin(M_PI * x);
    return -trigamma(1 - x) + M_PI * M_PI / (s * s);
  }
  double r = 0;
  while (x < 16) {
    r += 1 / (x * x);
    x += 1;
  }
  double f = 1 / (x * x);
  return r + 1 / x + f / 2 +
         f / x *
             (1.0 / 6 -
              f * (1.0 / 30 - f * (1.0 / 42 - f * (1.0 / 30 - f * 5.0 / 66))));
}

} // namespace bp::ir
