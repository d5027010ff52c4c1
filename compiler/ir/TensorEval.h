//===- TensorEval.h - the semantics of ops on dense values ------*- C++ -*-===//
//
// A reference evaluator of the IR's pure ops over dense row-major double
// arrays: elementwise ops (each element through ir/Eval.h, the one scalar
// semantics), broadcasts and reductions, matmul, transpose, indexing,
// slices, reshape and the conv patches. `bpc explain` of tensor code runs
// the base function and the derivative ops that ad/Rules.h emits with it.
// Codegen (codegen/Tensor.cpp) compiles the same ops.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/IR.h"

#include <cstdint>
#include <string>
#include <vector>

namespace bp::ir {

/// A value of the IR: f64, int and bool scalars (shape empty, one element;
/// ints and bools as doubles) and tensors (row-major).
struct TensorValue {
  std::vector<int64_t> shape;
  std::vector<double> data;

  static TensorValue scalar(double x) { return {{}, {x}}; }
  /// Zeros of type `t`'s shape.
  static TensorValue zeros(const Type *t);
  bool isScalar() const { return shape.empty(); }
};

/// `[2, 3]` (`[]` for a scalar).
std::string shapeString(const std::vector<int64_t> &shape);

/// Input:  a pure op (no regions, not a call, param or tape op) and the
///         values of its operands.
/// Output: true and its result in `out`; false with `err` set for an op it
///         does not run or an index out of range.
bool evalTensorOp(const Op &op, const std::vector<const TensorValue *> &in,
                  TensorValue &out, std::string &err);

} // namespace bp::ir
