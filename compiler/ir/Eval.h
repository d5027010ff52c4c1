//===- Eval.h - the scalar semantics of ops ---------------------*- C++ -*-===//
//
// One evaluator, expanded from the Eval column of ir/Ops.def: the constant
// folder (ir/Simplify.cpp), explain's trace interpreter (ad/Explain.cpp),
// the tensor evaluator of tensor explain (ir/TensorEval.cpp, per element)
// and sema's const-eval use it, so a folded constant, an explained value and
// a const agree with each other and with the runtime's Runtime-lowered ops.
// Codegen lowers each op itself (codegen/Scalar.cpp) to the same formula.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/IR.h"
#include "ir/Math.h"

#include <cstdint>

namespace bp::ir {

/// Input:  a MATH op kind of ir/Ops.def and mathArity(k) operands.
/// Output: true and the result in `r`; false where k is not MATH.
bool evalMath(OpKind k, const double *operands, double &r);

/// `x PRED y` of fcmp / icmp.
bool compare(CmpPred p, double x, double y);
bool compare(CmpPred p, int64_t x, int64_t y);

} // namespace bp::ir
