//===- Derived.h - grad / value_and_grad / jvp as IR functions --*- C++ -*-===//
#pragma once

#include "ir/IR.h"
#include "sema/Sema.h"

namespace bp::ad {

/// Input:  a module holding `info.base` (a user or derived function) in SSA
///         form; `info` checked by sema.
/// Output: a new function named `info.name` with sema's signature, built
///         from the reverse-mode (grad, value_and_grad) or forward-mode (jvp)
///         transform of the base. Non-differentiable code (e.g. a base that
///         assigns a param) is reported as a located error; returns false
///         then.
/// Preserves: every existing function.
bool buildDerived(ir::Module &m, const sema::DerivedInfo &info,
                  DiagEngine &diags);

} // namespace bp::ad
