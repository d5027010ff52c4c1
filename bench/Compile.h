//===- Compile.h - JIT-compile BP source for benchmarks ---------*- C++ -*-===//
#pragma once

#include "codegen/CodeGen.h"
#include "jit/JIT.h"
#include "pipeline/Compilation.h"

#include "bench/Ratios.h"

#include <iostream>
#include <map>

namespace bench {

struct Compiled {
  std::unique_ptr<bp::JIT> jit;
  std::unique_ptr<bp::TypeContext> types;
  std::unique_ptr<bp::ir::Module> ir;

  template <class F> F fn(const std::string &name) {
    return reinterpret_cast<F>(
        llvm::cantFail(jit->lookup(bp::codegen::functionSymbol(name))));
  }
  double *param(const std::string &name) {
    return static_cast<double *>(
        llvm::cantFail(jit->lookup(bp::codegen::paramSymbol(name))));
  }
};

/// The whole pipeline (pipeline/Compilation.h) at -O2 into a JIT, or
/// exit(1) after printing the diagnostics or the failure.
inline Compiled compile(const char *source,
                        const bp::sema::Options &options = {}) {
  Compiled c;
  c.types = std::make_unique<bp::TypeContext>();
  bp::CompileOptions opts;
  opts.sema = options;
  bp::Compilation comp(opts, c.types.get());
  comp.file = {"bench.bp", source, {}};
  auto jit = bp::compileToJIT(comp);
  if (!jit) {
    llvm::handleAllErrors(
        jit.takeError(),
        [&](const bp::CompileError &) { comp.diags.print(std::cerr); },
        [](const llvm::ErrorInfoBase &e) {
          std::cerr << "bench: " << e.message() << '\n';
        });
    std::exit(1);
  }
  c.jit = std::move(*jit);
  c.ir = std::move(comp.ir);
  return c;
}

} // namespace bench
