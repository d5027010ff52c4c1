//===- Partials.h - the chain-rule table ------------------------*- C++ -*-===//
#pragma once

#include "ir/IR.h"

#include <functional>
#include <vector>

namespace bp::ad {

/// Maps a value of the original function to the value that holds it where
/// derivative code is being emitted.
using PrimalFn = std::function<ir::Value *(const ir::Value *)>;

/// Input:  a pure scalar op of the original function, the operands whose
///         partial is wanted (`want[i]`), and a builder at the emission point.
/// Output: for each wanted operand i, ∂result/∂operand_i emitted as IR
///         (null means the partial is zero). Reverse mode multiplies by the
///         result's adjoint, forward mode by the operand's tangent: the math
///         lives only here. Returns false for an op without a rule.
/// Preserves: the original function (reads primal values only via `P`).
bool partials(const ir::Op &op, const std::vector<bool> &want, ir::Builder &b,
              const PrimalFn &P, std::vector<ir::Value *> &out);

/// True for ops whose derivative is given by `partials`.
bool hasPartials(ir::OpKind k);

} // namespace bp::ad
