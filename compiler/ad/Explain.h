//===- Explain.h - backpropagation shown step by step -----------*- C++ -*-===//
#pragma once

#include "ir/IR.h"
#include "ir/TensorEval.h"

#include <iosfwd>
#include <map>
#include <string>

namespace bp::ad {

/// What `bpc explain --mode` shows: the reverse sweep, forward mode (one
/// tangent sweep per variable of the derived function), or both, side by
/// side with their costs.
enum class ExplainMode { Reverse, Forward, Both };

/// Tensor argument values of `--at` (`W=[[1, 2], [3, 4]]`), by name.
using TensorArgs = std::map<std::string, ir::TensorValue>;

/// `bpc explain`: the forward values and the reverse sweep (or the
/// tangent sweeps, `mode`) of derived function `fn` (grad /
/// value_and_grad of a scalar function: loops, branches and calls are
/// unrolled into the trace of this evaluation) at the argument values
/// `at` (tensor arguments at `tensorAt`: a base function that uses
/// tensors is shown op by op, ad/TensorExplain.h); scalar params at
/// `paramValues` (default: their initial values). Returns false with `err`
/// set otherwise.
bool explain(const ir::Module &m, const std::string &fn,
             const std::map<std::string, double> &at, std::ostream &os,
             std::string &err,
             const std::map<std::string, double> *paramValues = nullptr,
             ExplainMode mode = ExplainMode::Reverse,
             const TensorArgs &tensorAt = {});

/// `bpc emit dot`: the computational graph of the same function for
/// Graphviz, forward edges solid, adjoint edges dashed. Without argument
/// values (`at` empty): the function's ops, straight-line scalar functions
/// only. With them (`--at`): the trace explain prints, loops, branches and
/// calls unrolled, each node with its value and dL/dv, each adjoint edge
/// with its local derivative; values with `precision` significant digits
/// (0: the shortest round-trip form).
bool emitDot(const ir::Module &m, const std::string &fn,
             const std::map<std::string, double> &at, std::ostream &os,
             std::string &err, int precision = 6);

} // namespace bp::ad
