//===- TensorRules.h - derivatives of the structural tensor ops -*- C++ -*-===//
#pragma once

#include "ad/Partials.h"

namespace bp::ad {

/// broadcast, sum_to, reduce_sum/max, matmul, transpose, extract, insert,
/// pack: ops whose derivative is not elementwise (see TensorRules.cpp).
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
