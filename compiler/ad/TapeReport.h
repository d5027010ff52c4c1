//===- TapeReport.h - bytes taped by a derived function --------*- C++ -*-===//
#pragma once

#include "ir/IR.h"

#include <iosfwd>
#include <string>

namespace bp::ad {

/// `bpc emit tape FILE --fn D` (LANGUAGE.md section 16).
/// Input:  a module whose derived functions are built (Stage::IR).
/// Output: on `os`, for every function with a tape that D runs (D, its
///         reverse functions and theirs): the bytes pushed per call outside
///         loops, per iteration of each loop (nested loops indented), each
///         pushed value with its source location, the bytes per call where
///         trip counts are constant, and the most tape D holds at once.
/// Preserves: the module. Returns false (nothing printed) when `fn` names
/// no function.
bool printTapeReport(const ir::Module &m, const std::string &fn,
                     std::ostream &os);

} // namespace bp::ad
