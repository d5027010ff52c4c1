//===- Compilation.h - the compiler pipeline with stop points ---*- C++ -*-===//
//
// parse (and the files it imports, pipeline/Imports.h) -> sema -> IR passes
// (irgen, simplify, ad, ..., each followed by the IR verifier) -> LLVM
// (emit, verify, optimise). Every front door (`bpc
// run|emit|check|explain|train|build`, the REPL, bench/, fuzz/) builds a
// Compilation and calls compileTo(stage); none lists the stages itself.
//
// Input:  source text in `file` (the REPL may edit `ast` between stages).
// Output: after compileTo(s), every artefact up to stage s: `ast`, `prog`,
//         `ir`, `llvm`; user errors are diagnostics in `diags`.
// Preserves: an artefact is never changed by a later stage except `ir`,
//         which the IR passes rewrite in place.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/IR.h"
#include "parse/AST.h"
#include "sema/Sema.h"
#include "support/Diagnostics.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace llvm {
class LLVMContext;
class Module;
class TargetMachine;
} // namespace llvm

namespace bp {

class JIT;

/// The stages, in order: compileTo(s) runs every stage up to s (compared
/// with >=, as MLIR Toy's toyc compares its Action).
enum class Stage { Parse, Sema, IR, LLVM };

/// The input has errors; they are in the Compilation's `diags`.
class CompileError : public llvm::ErrorInfo<CompileError> {
public:
  static char ID;
  void log(llvm::raw_ostream &os) const override;
  std::error_code convertToErrorCode() const override;
};

/// A verifier rejected what a stage produced: a bug in bpc, not in the
/// input. `message` names the violation and the pass after which it was
/// found.
class VerifierError : public llvm::ErrorInfo<VerifierError> {
public:
  static char ID;
  explicit VerifierError(std::string message) : message(std::move(message)) {}
  std::string message;
  void log(llvm::raw_ostream &os) const override;
  std::error_code convertToErrorCode() const override;
};

} // namespace bp
namespace bp::codegen {
struct TrainStepSpec;
} // namespace bp::codegen
namespace bp {

struct CompileOptions {
  sema::Options sema;
  bool simplify = true;    // --no-simplify: the simplify passes do not run
  bool keepPowers = false; // explain, emit dot: `x ^ 2` stays a pow
  bool verify = true;      // run the IR verifier after every IR pass
  /// `bpc train`, `emit ir --after` train-step or a later pass on a file
  /// with a train block: the train-step pass runs.
  bool trainStep = false;
  /// The minibatch sizes (and per-thread slices) that get a batched step
  /// `__train_step.<n>` (batch/TrainStep.h); empty: none.
  std::vector<int64_t> trainBatchSizes;
  /// `bpc emit ir --after PASS`: the IR stage ends after this pass (one of
  /// irPassNames()); empty: after the last one.
  std::string stopAfter;
  /// `--tape-budget MB`, in bytes: long loops are checkpointed before AD
  /// (ad::applyTapeBudget; with the train step, divided by the largest of
  /// trainBatchSizes: each step's tape stays within it); 0: no budget.
  int64_t tapeBudget = 0;
  // The LLVM stage.
  llvm::TargetMachine *targetMachine = nullptr; // required for Stage::LLVM
  unsigned optLevel = 2;
  bool checkNumerics = false; // --check-numerics
  bool interruptible = false; // loops poll Ctrl-C (codegen::emitLLVM)
  bool blas = true; // large matmuls call cblas_dgemm (when bpc has OpenBLAS)
  /// `bpc build`: C wrappers and param data with this prefix (docs/ABI.md),
  /// params initialised from `cInterfaceSeed`, or to `cInterfaceParams`
  /// (`bpc build --load`: by name); empty: none.
  std::string cInterfacePrefix;
  uint64_t cInterfaceSeed = 0;
  std::map<std::string, std::vector<double>> cInterfaceParams;
  /// With a train block: `<prefix>_train_step` (codegen/CInterface.h).
  const codegen::TrainStepSpec *cInterfaceTrain = nullptr;
};

class Compilation;

/// One IR pass of the pipeline. A pass that does not apply to this
/// compilation (`runs` false) leaves the IR as it is.
struct IRPass {
  const char *name; // `bpc emit ir --after NAME`
  std::function<bool(const Compilation &c)> runs;
  std::function<llvm::Error(Compilation &c)> run;
};

/// The IR passes in pipeline order (Compilation.cpp lists them), ending
/// with codegen's decisions (transforms/Passes.h). The decisions run at the
/// start of the LLVM stage, on the IR as it is then; the IR stage runs them
/// only to stop after one (`--after fusion`).
llvm::ArrayRef<IRPass> irPasses();
/// Their names, for `--after` and its usage error.
std::vector<std::string> irPassNames();

class Compilation {
  std::unique_ptr<TypeContext> ownTypes; // first: `types` may refer to it

public:
  /// `sharedTypes`: a TypeContext that outlives this compilation (the REPL
  /// keeps one per session); otherwise the compilation owns one.
  explicit Compilation(CompileOptions opts, TypeContext *sharedTypes = nullptr);
  Compilation(const Compilation &) = delete;
  Compilation &operator=(const Compilation &) = delete;
  ~Compilation();

  CompileOptions opts;
  SourceFile file;
  DiagEngine diags{file};
  TypeContext &types;
  std::unique_ptr<ast::Module> ast;
  sema::Program prog;
  std::unique_ptr<ir::Module> ir;
  std::vector<std::string> trainedParams; // set by the train-step pass
  /// The sizes that got a batched step (none when the loss has an int or
  /// bool argument: then only the per-example `__train_step`).
  std::vector<int64_t> batchedStepSizes;
  std::unique_ptr<llvm::LLVMContext> llvmContext;
  std::unique_ptr<llvm::Module> llvm;
  bool usesBlas = false; // the emitted code calls cblas_dgemm

  /// Runs the stages after the last one reached, up to and including
  /// `stage`. Fails with CompileError (diagnostics in `diags`) or
  /// VerifierError; then no later stage may run.
  llvm::Error compileTo(Stage stage);
  /// The last stage completed, or none yet.
  std::optional<Stage> reached() const { return done; }

private:
  std::optional<Stage> done;
  bool failed = false;

  llvm::Error runStage(Stage s);
  llvm::Error runIRPasses();
  llvm::Error runLLVM();
};

/// The JIT front door (run, check, train, bench, fuzz): compiles `c` to
/// LLVM for the host and adds it to a new JIT, which uses fast instruction
/// selection when a function is huge (codegen::hasHugeFunction). Errors
/// other than CompileError and VerifierError are JIT failures.
llvm::Expected<std::unique_ptr<JIT>> compileToJIT(Compilation &c);

} // namespace bp
