//===- VecMath.h - let the hand-written references call libmvec -*- C++ -*-===//
//
// BP's codegen vectorises exp, log and tanh over tensors into glibc's libmvec
// (`_ZGVdN4v_exp`, ...: compiler/codegen/CodeGen.cpp). For the hand-written
// references to get the same vector math, their compiler must know that
// libmvec has SIMD variants of these functions. glibc's <math.h> says so only
// under -ffast-math, which would also change the references' rounding; this
// header says it for exp, log and tanh alone (the `simd` attribute is the one
// glibc's bits/math-vector.h uses). Loops over such calls then vectorise
// with -O3 -fno-math-errno; reductions need `#pragma omp simd reduction`
// with -fopenmp-simd (bench/CMakeLists.txt sets both). Clang reads libmvec's
// table from -fveclib=libmvec instead. docs/BENCHMARKS.md lists the flags.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <algorithm>
#include <cmath>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) &&         \
    defined(__GLIBC__)
extern "C" {
__attribute__((simd("notinbranch"))) double exp(double) noexcept;
__attribute__((simd("notinbranch"))) double log(double) noexcept;
__attribute__((simd("notinbranch"))) double tanh(double) noexcept;
}
#endif

namespace bench {

/// log(sum_i exp(v_i - m)) + m over n values, m = max_i v_i: the exp loop
/// calls libmvec (with the flags above).
inline double logSumExp(const double *v, int n) {
  double m = v[0];
  for (int i = 1; i < n; ++i)
    m = std::max(m, v[i]);
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (int i = 0; i < n; ++i)
    s += std::exp(v[i] - m);
  return m + std::log(s);
}

} // namespace bench
