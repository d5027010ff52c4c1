//===- Check.h - `bpc check`: derivatives vs finite differences -*- C++ -*-===//
#pragma once

#include "ir/IR.h"
#include "jit/JIT.h"

#include <iosfwd>

namespace bp {

/// Calls every derived function of the program at seeded random points and
/// compares it with central finite differences of its base function. Prints
/// the max relative error per function; returns false above tolerance.
bool checkDerived(const ir::Module &m, JIT &jit, std::ostream &os);

} // namespace bp
