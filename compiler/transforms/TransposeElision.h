//===- TransposeElision.h - transposes read by dgemm directly ---*- C++ -*-===//
#pragma once

#include "ir/IR.h"

namespace bp::transforms {

/// Input:  a verified ir::Module after decideInPlace and selectBlas.
/// Output: Op::decided.elided on each transpose read only by BLAS matmuls
///         later in its block with nothing in between that may write a
///         buffer (mayWriteBuffers); transposeA/transposeB on those matmuls
///         (dgemm reads the untransposed source with CblasTrans: Xᵀ @ dH).
/// Preserves: the ops, operands and types; every other decision.
void elideTransposes(ir::Module &m);

} // namespace bp::transforms
