//===- Inline.h - inlining calls of non-recursive functions -----*- C++ -*-===//
#pragma once

#include "ir/IR.h"

namespace bp::ir {

/// Input:  a verified function `f` of `m`.
/// Output: `f` with every call of a function that is not recursive (does
///         not reach itself through calls) and has no custom derivative
///         rule (a function `<callee>.adjoint` / `.tangent`, section 15)
///         and is not checkpointed (Function::checkpointed, section 16)
///         replaced by a copy of its body,
///         repeatedly, so that no such call is left. Reverse mode then sees
///         one function: the forward values are computed once, where a call
///         would be run forward and again inside the callee's reverse sweep.
/// Preserves: observable behaviour (bodies are single-block, structured,
///         ending in their only `return`); every other function.
void inlineCalls(Function &f, const Module &m);

} // namespace bp::ir
