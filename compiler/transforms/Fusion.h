//===- Fusion.h - elementwise ops computed in their user's loop -*- C++ -*-===//
#pragma once

#include "ir/IR.h"

namespace bp::transforms {

/// Input:  a verified ir::Module after decideInPlace.
/// Output: Op::decided.fused on (1) each broadcast whose every user is an
///         elementwise op of the broadcast's shape in its block (read with
///         strides: `outer(a, b)` is one loop), and (2) each elementwise
///         tensor op whose only use is an elementwise op of its shape later
///         in its block, with nothing in between that may write a buffer
///         (mayWriteBuffers) and no libm/arithmetic mix below 4096 elements
///         (`tanh(x @ W + b)` is one loop after the matmul).
/// Preserves: the ops, operands and types; every other decision.
void fuseElementwise(ir::Module &m);

} // namespace bp::transforms
