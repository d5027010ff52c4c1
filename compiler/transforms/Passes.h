//===- Passes.h - the optimisation decisions before codegen -----*- C++ -*-===//
//
// Codegen used to make these decisions while it emitted LLVM IR; each is
// now an IR -> IR pass that records it on the ops (ir::Op::Decided, printed
// by `bpc emit ir --after PASS`), and codegen only reads them. In order:
//
//   inplace            insert/splice write operand 0's buffer when it dies
//                      there; loops carry a dying tensor init in its buffer
//                      (transforms/InPlace.h).
//   blas               matrix @ matrix goes to cblas_dgemm where OpenBLAS
//                      measured faster (BlasSelection.h).
//   transpose-elision  a transpose read only by BLAS matmuls is not made;
//                      dgemm reads its source with CblasTrans
//                      (TransposeElision.h; reads inplace and blas).
//   fusion             broadcasts and elementwise chains are computed in
//                      the loop of the op using them (Fusion.h; reads
//                      inplace).
//   bounds-checks      AD's slices skip the checks of indices the forward
//                      sweep checked; loops with affine indices are
//                      versioned (BoundsChecks.h).
//
// Left in codegen, as part of translation: return values computed in the
// caller's out-parameter, tensor param loads as views of the global unless
// the function assigns the param, and guards on calls that may recurse.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/IR.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringRef.h"

namespace bp::transforms {

struct Options {
  /// The program links OpenBLAS (codegen::blasAvailable(), no --no-blas,
  /// not a cross build): large matmuls may call cblas_dgemm.
  bool blas = false;
};

/// One pass: its name for `--after` and its entry function.
struct Pass {
  const char *name;
  void (*run)(ir::Module &, const Options &);
};

/// The passes of runOptimisationPasses, in order.
llvm::ArrayRef<Pass> optimisationPasses();

/// Input:  a verified ir::Module (after simplify, when it runs).
/// Output: every decision of the passes above on its ops (earlier ones
///         replaced: running it again gives the same decisions), and
///         Module::decided set; `after(name, m)` is called after each pass.
/// Preserves: the ops, operands, types and every attribute but
///         Op::decided: the module verifies and computes the same values.
void runOptimisationPasses(
    ir::Module &m, const Options &opts,
    llvm::function_ref<void(llvm::StringRef passName, const ir::Module &)>
        after = nullptr);

} // namespace bp::transforms
