//===- Compile.h - JIT-compile BP source for benchmarks ---------*- C++ -*-===//
#pragma once

#include "codegen/CodeGen.h"
#include "ir/IRGen.h"
#include "ir/Simplify.h"
#include "jit/JIT.h"
#include "parse/Parser.h"
#include "transforms/Passes.h"

#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"

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

/// parse -> sema -> IR (+AD) -> simplify -> LLVM O2 -> JIT, or exit(1).
inline Compiled compile(const char *source,
                        const bp::sema::Options &options = {}) {
  Compiled c;
  c.types = std::make_unique<bp::TypeContext>();
  bp::SourceFile file{"bench.bp", source, {}};
  bp::DiagEngine diags(file);
  auto ast = bp::parseModule(file, diags);
  bp::sema::Program sp;
  if (ast)
    bp::sema::check(*ast, *c.types, diags, options, sp);
  if (ast && !diags.hasErrors())
    c.ir = bp::generateIR(*ast, sp, *c.types, diags);
  if (!c.ir) {
    diags.print(std::cerr);
    std::exit(1);
  }
  bp::ir::simplify(*c.ir);
  c.jit = llvm::cantFail(bp::JIT::create());
  auto ctx = std::make_unique<llvm::LLVMContext>();
  bp::transforms::runOptimisationPasses(*c.ir, {bp::codegen::blasAvailable()});
  auto mod = bp::codegen::emitLLVM(*c.ir, *ctx);
  bp::codegen::optimize(*mod, c.jit->targetMachine(), 2);
  llvm::cantFail(c.jit->add(std::move(mod), std::move(ctx)));
  return c;
}

} // namespace bench
