//===- Passes.cpp - the optimisation decisions before codegen -------------===//
#include "transforms/Passes.h"
#include "transforms/BlasSelection.h"
#include "transforms/BoundsChecks.h"
#include "transforms/Fusion.h"
#include "transforms/InPlace.h"
#include "transforms/ParamViews.h"
#include "transforms/TransposeElision.h"

namespace bp::transforms {

llvm::ArrayRef<Pass> optimisationPasses() {
  static const Pass passes[] = {
      {"inplace", [](ir::Module &m, const Options &) { decideInPlace(m); }},
      {"blas", [](ir::Module &m, const Options &o) { selectBlas(m, o.blas); }},
      {"transpose-elision",
       [](ir::Module &m, const Options &) { elideTransposes(m); }},
      {"fusion", [](ir::Module &m, const Options &) { fuseElementwise(m); }},
      {"param-views",
       [](ir::Module &m, const Options &) { decideParamViews(m); }},
      {"bounds-checks",
       [](ir::Module &m, const Options &) { eliminateBoundsChecks(m); }},
  };
  return passes;
}

void runOptimisationPasses(
    ir::Module &m, const Options &opts,
    llvm::function_ref<void(llvm::StringRef, const ir::Module &)> after) {
  for (const Pass &p : optimisationPasses()) {
    p.run(m, opts);
    if (after)
      after(p.name, m);
  }
  m.decided = true;
}

} // namespace bp::transforms
