//===- IRGen.h - typed AST to IR --------------------------------*- C++ -*-===//
#pragma once

#include "ir/IR.h"
#include "parse/AST.h"
#include "sema/Sema.h"

#include <memory>

namespace bp {

/// Input:  an AST that sema checked without errors, and sema's Program.
/// Output: an ir::Module with one function per user function (vars turned
///         into SSA values carried through if/for/while regions, `and`/`or`
///         short-circuiting, int->f64 promotions explicit); the derived
///         functions are declared in `Module::derived` (sema's list), for
///         the `ad` pass (pipeline/Compilation.cpp) to build. Calls to them
///         are already in place. Unsupported constructs are reported into
///         `diags`; returns null when anything was reported.
std::unique_ptr<ir::Module> generateIR(const ast::Module &module,
                                       const sema::Program &prog,
                                       TypeContext &types, DiagEngine &diags);

} // namespace bp
