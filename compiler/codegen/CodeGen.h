//===- CodeGen.h - IR to LLVM IR --------------------------------*- C++ -*-===//
#pragma once

#include "ir/IR.h"

#include "llvm/IR/IRBuilder.h"

#include <memory>

namespace llvm {
class LLVMContext;
class Module;
class TargetMachine;
} // namespace llvm

namespace bp::codegen {

/// Symbol names in the generated LLVM module (documented in docs/ABI.md):
/// a BP function `f` is `bp.f`; a param `p` is the global `bp.param.p`.
std::string functionSymbol(const std::string &name);
std::string paramSymbol(const std::string &name);
/// `void bp.dyn.f(const double *in, double *out)`: f with every scalar
/// argument and result passed as a double (see CodeGen.cpp).
std::string dynamicSymbol(const std::string &name);

/// Whether this bpc was built with OpenBLAS (BP_HAVE_OPENBLAS): the JIT
/// then resolves cblas_dgemm and `bpc build` links it into `.so` outputs.
bool blasAvailable();
/// Input:  a verified ir::Module after transforms::runOptimisationPasses,
///         whose decisions (Op::decided) it follows.
/// Output: an LLVM module with one function per IR function (several results
///         are returned as a struct), params as globals, runtime calls to
///         bp_runtime.h for printing, errors and tape growth. Integer
///         division by zero, failed asserts and tape exhaustion are located
///         runtime errors, never traps.
///         Not verified here: the pipeline runs LLVM's verifier on it
///         (pipeline/Compilation.cpp).
/// checkNumerics (`--check-numerics`): every f64 operation whose inputs
/// are finite but whose result is not (NaN or +-inf) stops the program with
/// a runtime error at its source location, showing the operands.
/// Matmuls decided `blas` call cblas_dgemm: the caller links OpenBLAS
/// (bpc does; see blasAvailable).
/// interruptible (`bpc repl` on a terminal): every `for` and `while` loop
/// reads the runtime's bp_interrupt_requested at its back edge and stops
/// with the runtime error `interrupted` once Ctrl-C has set it.
std::unique_ptr<llvm::Module> emitLLVM(const ir::Module &m,
                                       llvm::LLVMContext &ctx,
                                       bool checkNumerics = false,
                                       bool interruptible = false);

/// The scalar results of a call `ret` to a function with `resultTypes`
/// (calling convention above: one scalar is returned as is, several as a
/// struct), one entry per result; null for tensor results (out-params).
std::vector<llvm::Value *>
scalarResults(llvm::IRBuilder<> &b, llvm::Value *ret,
              const std::vector<const Type *> &resultTypes);

/// Runs LLVM's new-pass-manager pipeline at `level` (0-3) tuned for `tm`.
void optimize(llvm::Module &m, llvm::TargetMachine &tm, unsigned level);

/// Whether `m` has a function so large (tens of thousands of LLVM
/// instructions: a long straight-line program and its gradient) that it
/// should get LLVM's fast instruction selection and register allocation:
/// the optimising register allocator grows faster than linearly on one huge
/// basic block and takes minutes there (docs/DESIGN.md). JIT and AOT alike.
bool hasHugeFunction(const llvm::Module &m);

} // namespace bp::codegen
