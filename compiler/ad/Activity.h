//===- Activity.h - which values carry derivatives --------------*- C++ -*-===//
#pragma once

#include "ir/IR.h"

#include <set>
#include <string>
#include <vector>

namespace bp::ad {

/// What a derivative is taken with respect to.
struct ActivitySpec {
  std::vector<bool> args;          // per argument of the function
  std::vector<std::string> params; // global params

  /// Deterministic suffix for generated names, e.g. "10" or "10.W1".
  std::string suffix() const;
};

/// Input:  a verified function and what is differentiated.
/// Output: `varied`: f64 values that depend on an active input;
///         `useful`: f64 values the results depend on (reverse mode only).
///         A value is active when both hold. In functions with tape ops
///         (derived functions differentiated again) the tape is one unit:
///         if any f64 value pushed is varied, every f64 pop is varied and
///         every f64 push is useful (`tapeActive`), which keeps the tape
///         adjoints' pushes and pops paired.
/// Preserves: the function.
struct Activity {
  std::set<const ir::Value *> varied, useful;
  bool tapeActive = false; // f64 tape traffic carries derivatives
  bool forwardOnly = false;

  bool isActive(const ir::Value *v) const {
    if (!v->type->isDifferentiable())
      return false;
    return varied.count(v) && (forwardOnly || useful.count(v));
  }
  /// A tape push/pop of an f64 value whose adjoint must be handled.
  bool isActiveTapeOp(const ir::Op &op) const;
  /// An op needs derivative code: an active result, or active ops inside.
  bool isActiveOp(const ir::Op &op) const;
};

Activity analyze(const ir::Function &f, const ActivitySpec &spec,
                 bool forwardOnly);

bool containsTapeOps(const ir::Block &b);

} // namespace bp::ad
