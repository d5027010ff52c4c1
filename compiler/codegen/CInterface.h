//===- CInterface.h - the C ABI of `bpc build` ------------------*- C++ -*-===//
#pragma once

#include "ir/IR.h"
#include "support/Diagnostics.h"

#include <iosfwd>
#include <string>

namespace llvm {
class Module;
}

namespace bp::codegen {

/// User functions and named derived functions get a C wrapper; internal
/// ones (`f.rev.10`, inline `grad(f, x)`, `__train_step`) do not.
bool isExported(const ir::Function &f);

/// Input:  `m` after the IR passes; `prefix` passes codegen::prefixProblem.
/// Output: a located error in `diags` for each C name of the build (the
///         symbols and macros of docs/ABI.md "Names") that another one, the
///         header's own, or a C keyword or library name already takes;
///         false when there was one.
bool checkCNames(const ir::Module &m, const std::string &prefix,
                 DiagEngine &diags);

/// Input:  the LLVM module emitted for `m`.
/// Output: C wrappers `<prefix>_<fn>`, param accessors,
///         `<prefix>_load_params` and the runtime's `<prefix>_set_error_hook`
///         etc.; params get their initial values (from their initialisers
///         and `seed`) as static data. Every other definition of `mod` is
///         made local: the C interface is all the object exports. See
///         CInterface.cpp and docs/ABI.md.
void addCInterface(const ir::Module &m, llvm::Module &mod,
                   const std::string &prefix, uint64_t seed);

/// The matching C99 / C++ header. usesBlas: the code calls cblas_dgemm
/// (the comment then tells `.a`/`.o` users to link -lopenblas).
void writeCHeader(const ir::Module &m, const std::string &prefix,
                  const std::string &source, std::ostream &os,
                  bool usesBlas = false);

} // namespace bp::codegen
