//===- ParamViews.h - params read and written without copies ----*- C++ -*-===//
#pragma once

#include "ir/IR.h"

namespace bp::transforms {

/// Input:  a verified ir::Module after fuseElementwise.
/// Output: (1) Op::decided.view on each tensor `param.load @p` whose value
///         (and the fused ops reading it) is used only before any write of
///         p in its block, or whose function writes p nowhere: it reads the
///         param's buffer directly. Every other load copies (codegen's
///         default), so a write of p after it, even by a callee, is not
///         seen through it;
///         (2) Op::decided.intoParam on each unfused elementwise op whose
///         result is stored into p later in its block, is dead after that
///         store, and nothing between reads or writes p: it is computed in
///         p's buffer, and the store copies nothing (`W = W - lr * g` is
///         one loop over W). Reading p in that op's own loop is safe: each
///         element is read before it is written.
///         A write of p: param.store/param.add, a call of a function that
///         (transitively) writes p, an op whose regions write p, an
///         `intoParam` op of p. A read: a load of p, a call reading it.
/// Preserves: the ops, operands and types; every other decision.
void decideParamViews(ir::Module &m);

} // namespace bp::transforms
