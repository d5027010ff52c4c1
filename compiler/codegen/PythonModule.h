//===- PythonModule.h - `bpc build --python` --------------------*- C++ -*-===//
//
// The Python module written beside a shared library: ctypes bindings of the
// C ABI (codegen/CInterface.h) that take and return NumPy arrays and check
// every argument's shape and dtype (docs/ABI.md "Python").
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/IR.h"
#include "support/Diagnostics.h"

#include <iosfwd>
#include <string>

namespace bp::codegen {

/// Input:  `m` after the IR passes; `prefix` passes prefixProblem.
/// Output: a located error in `diags` for each exported function whose
///         Python name would hide one the module defines itself (`params`,
///         `load_params`, `train_step`); false when there was one.
bool checkPythonNames(const ir::Module &m, DiagEngine &diags);

/// The module `<prefix>.py` for the library file `library` (a name in the
/// module's own directory): one Python function per exported BP function,
/// under its BP name (a Python keyword gets a trailing `_`), `params` with a
/// property per param (a float64 view of the library's storage), and
/// `load_params(path)`. `source` names the .bp file in the docstring. With
/// trainRowWidth > 0 (the library has `<prefix>_train_step`), also
/// `train_step(rows)` taking an (n, trainRowWidth) float64 array.
void writePythonModule(const ir::Module &m, const std::string &prefix,
                       const std::string &library, const std::string &source,
                       std::ostream &os, int64_t trainRowWidth = 0);

} // namespace bp::codegen
