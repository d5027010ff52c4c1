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
///         A value is active when both hold. Functions that contain tape ops
///         (derived functions differentiated again) are treated as fully
///         active, which keeps tape pushes and pops paired.
/// Preserves: the function.
struct Activity {
  std::set<const ir::Value *> varied, useful;
  bool everything = false; // tape ops present: every f64 value is active
  bool forwardOnly = false;

  bool isActive(const ir::Value *v) const {
    if (!v->type->isF64())
      return false;
    if (everything)
      return true;
    return varied.count(v) && (forwardOnly || useful.count(v));
  }
  /// An op needs derivative code: an active result, or active ops inside.
  bool isActiveOp(const ir::Op &op) const;
};

Activity analyze(const ir::Function &f, const ActivitySpec &spec,
                 bool forwardOnly);

bool containsTapeOps(const ir::Block &b);

} // namespace bp::ad
