//===- AdjointPrinter.h - derived functions as readable BP ------*- C++ -*-===//
#pragma once

#include "ir/IR.h"

#include <iosfwd>
#include <string>

namespace bp::ad {

/// `bpc emit adjoint`: prints every derived function (or only `fnFilter`)
/// as BP-like source, forward sweep then reverse sweep. Returns false when
/// there is nothing to print.
bool printAdjoints(const ir::Module &m, const std::string &fnFilter,
                   std::ostream &os);

} // namespace bp::ad
