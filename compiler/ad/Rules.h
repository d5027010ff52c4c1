//===- Rules.h - every derivative rule -------------------------*- C++ -*-===//
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

/// broadcast, sum_to, reduce_sum/max, matmul, transpose, extract, insert,
/// pack: ops whose derivative is not elementwise (see Rules.cpp).
bool isTensorRuleOp(ir::OpKind k);

/// Reverse mode: the adjoint contribution of `op`'s result adjoint `g` to
/// each wanted operand (null: none). Primal values are read through `P`.
void tensorAdjoints(const ir::Op &op, ir::Value *g,
                    const std::vector<bool> &want, ir::Builder &b,
                    const PrimalFn &P, std::vector<ir::Value *> &out);

/// Forward mode: the tangent of `op`'s result from its operands' tangents
/// (null entries are zero). Null when the result has no tangent.
ir::Value *tensorTangent(const ir::Op &op, const std::vector<ir::Value *> &t,
                         ir::Builder &b, const PrimalFn &P);

} // namespace bp::ad
