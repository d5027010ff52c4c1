//===- CInterface.h - the C ABI of `bpc build` ------------------*- C++ -*-===//
#pragma once

#include "ir/IR.h"
#include "support/Diagnostics.h"

#include <iosfwd>
#include <map>
#include <string>
#include <vector>

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
///         and `seed`, or `loaded`'s values for the params it names) as
///         static data. Every other definition of `mod` is
///         made local: the C interface is all the object exports. See
///         CInterface.cpp and docs/ABI.md.
void addCInterface(
    const ir::Module &m, llvm::Module &mod, const std::string &prefix,
    uint64_t seed,
    const std::map<std::string, std::vector<double>> &loaded = {});

/// What the header's comments say about the build.
struct HeaderNotes {
  bool usesBlas = false;  // the code calls cblas_dgemm
  std::string paramsFile; // bpc build --load: the params' initial values
  std::string linkLine;   // how a C program links the library
};

/// The matching C99 / C++ header.
void writeCHeader(const ir::Module &m, const std::string &prefix,
                  const std::string &source, std::ostream &os,
                  const HeaderNotes &notes = {});

} // namespace bp::codegen
