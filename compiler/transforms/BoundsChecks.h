//===- BoundsChecks.h - index checks that need not run ----------*- C++ -*-===//
#pragma once

#include "ir/IR.h"

#include <cstdint>

namespace bp::transforms {

/// Largest |scale| of an affine index (and of a carried counter's step)
/// that loop versioning accepts: with trip counts below 2^40 no index
/// computation wraps.
constexpr int64_t maxAffineScale = int64_t(1) << 20;

/// Input:  a verified ir::Module.
/// Output: Op::decided.unchecked on each slice/unslice/splice that AD made
///         with indices the forward sweep checked (Op::prechecked); and
///         versioned on each `for` without nested regions whose body reads
///         or writes tensors at indices affine in the induction variable
///         (some varying), with hoistedChecks on those extracts/inserts
///         naming the affine index operands. Codegen emits such a loop
///         twice: when every hoisted index is in range at the first and the
///         last iteration (so at all: the index is monotone), a copy without
///         those checks runs; otherwise the checked copy, which reports the
///         first bad index as usual.
/// Preserves: the ops, operands and types; every other decision. AD's
///         extracts and inserts keep their checks (codegen always emitted
///         them).
void eliminateBoundsChecks(ir::Module &m);

/// index = off + s * iv for a value used in the body of `loop` (a `for`):
/// the induction variable, values from outside the loop, counting carried
/// ints (yield arg ± constant), and +, -, * by a constant of those, at most
/// 8 deep. Sets the scale `s`; codegen computes `off` from the same cases.
bool affineScale(const ir::Value *v, const ir::Op &loop, int depth, int64_t &s);

} // namespace bp::transforms
