//===- BlasSelection.h - matmuls computed by cblas_dgemm --------*- C++ -*-===//
#pragma once

#include "ir/IR.h"

#include <cstdint>

namespace bp::transforms {

/// Whether [M,K] @ [K,N] is faster by OpenBLAS's dgemm (one thread) than by
/// the generated loops (bench/matmul.cpp, docs/TENSORS.md).
bool preferBlas(int64_t M, int64_t K, int64_t N);

/// Input:  a verified ir::Module; `useBlas`: the program will link OpenBLAS.
/// Output: Op::decided.blas on each matrix @ matrix matmul that preferBlas
///         picks (none without useBlas).
/// Preserves: the ops, operands and types; every other decision.
void selectBlas(ir::Module &m, bool useBlas);

} // namespace bp::transforms
