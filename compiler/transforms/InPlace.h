//===- InPlace.h - updates that reuse their input's buffer ------*- C++ -*-===//
#pragma once

#include "ir/IR.h"

namespace bp::transforms {

/// Input:  a verified ir::Module.
/// Output: Op::decided.inplace on each insert/splice whose operand 0 dies
///         there, and inplaceInits on each for/while whose tensor init dies
///         there (the loop carries it in that buffer).
/// Preserves: the ops, operands and types; every other decision.
void decideInPlace(ir::Module &m);

} // namespace bp::transforms
