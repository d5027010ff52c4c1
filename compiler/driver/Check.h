//===- Check.h - `bpc check`: derivatives vs finite differences -*- C++ -*-===//
#pragma once

#include "driver/Pipeline.h"
#include "ir/IR.h"
#include "jit/JIT.h"

#include <iosfwd>
#include <map>
#include <string>

namespace bp {

struct CheckOptions {
  double timeout = 10; // --timeout: seconds per derived function
  /// --at a=1,b=2: arguments of the base functions fixed at these values.
  std::map<std::string, double> at;
};

/// Calls every derived function of the program at seeded random points and
/// compares it with central finite differences of its base function. Prints
/// the max error per function (or why it is skipped). Returns CheckFailed
/// when one is above tolerance or did not finish in time, Usage for a bad
/// --at, RuntimeError after a runtime error.
ExitCode checkDerived(const ir::Module &m, JIT &jit, std::ostream &os,
                      const CheckOptions &o);

} // namespace bp
