//===- Verifier.h - IR invariant checks -------------------------*- C++ -*-===//
#pragma once

#include "ir/IR.h"

#include <string>

namespace bp::ir {

/// Input:  any module.
/// Output: "" when every invariant listed in Verifier.cpp holds, else a
///         description of the first violation (a compiler bug, not a user
///         error).
std::string verify(const Module &m);
std::string verify(const Function &f, const Module &m);

} // namespace bp::ir
