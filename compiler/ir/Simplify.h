//===- Simplify.h - constant folding, CSE and DCE ---------------*- C++ -*-===//
#pragma once

#include "ir/IR.h"

namespace bp::ir {

/// Input:  a verified function.
/// Output: the same function with constant operations folded (including
///         `if` on a constant condition, whose taken region is inlined),
///         identical pure operations merged (CSE, scoped by region), and
///         operations without uses or effects removed (DCE, including whole
///         if/for/while ops whose results are unused and whose regions have
///         no effects).
/// Preserves: observable behaviour, bit for bit (no reassociation; x + 0.0
///         is not folded because of -0.0).
struct SimplifyOptions {
  /// Keep `x ^ 2` a pow (otherwise x * x, which is cheaper and recomputed
  /// by AD instead of taped): explain and emit dot show code as written.
  bool keepPowers = false;
};
void simplify(Function &f, const Module &m, SimplifyOptions o = {});
void simplify(Module &m, SimplifyOptions o = {});

/// True when the op or anything in its regions has an effect (print,
/// assert, param store, call, tape op, a division that can fail).
bool hasEffects(const Op &op);

} // namespace bp::ir
