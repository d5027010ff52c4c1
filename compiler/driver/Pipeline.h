//===- Pipeline.h - the compiler pipeline with stop points ------*- C++ -*-===//
#pragma once

#include "ad/Explain.h"
#include "pipeline/Compilation.h"
#include "sema/Sema.h"

#include <map>
#include <optional>
#include <string>

namespace bp {

/// Exit statuses of bpc (LANGUAGE.md section 9). Only driver/ chooses them.
enum class ExitCode {
  Success = 0,
  CompileError = 1,
  Usage = 2,
  RuntimeError = 3,
  CheckFailed = 4, // bpc check: a derivative disagrees with finite differences
  Interrupted = 130,  // bpc train stopped by SIGINT (128 + 2), params saved
  Terminated = 143,   // bpc train stopped by SIGTERM (128 + 15), params saved
  InternalError = 70, // a bug in bpc (EX_SOFTWARE), reported, never a signal
};

/// How far the pipeline goes, in order (compared with >=, as MLIR Toy's
/// toyc does).
enum class Action {
  Ast,
  Sema,
  Ir,
  Adjoint,
  Dot,
  Tape,
  Explain,
  Llvm,
  Asm,
  Build,
  Check,
  Run,
  Train
};

/// Flags of `bpc train` that override the train block (unset: keep it).
/// Paths given as flags are relative to the current directory.
struct TrainFlags {
  std::optional<int64_t> epochs, batch, seed, threads, earlyStop, saveEvery;
  std::optional<double> lr, clip, weightDecay;
  std::optional<std::string> optimizer, data, test; // --loss, --metric: sema

  std::optional<sema::TrainSpec::Schedule> schedule;
  std::string savePath, plotDir;
  std::string reportDir;   // --report: DIR/index.html (driver/Report.h)
  std::string resumePath;  // --resume: a v2 params file to continue from
  bool perExample = false; // --per-example: one gradient call per example
};

struct PipelineOptions {
  Action action = Action::Run;
  std::string fnFilter;  // --fn NAME for emit
  std::string afterPass; // emit ir --after PASS (one of irPassNames())
  sema::Options sema;
  unsigned optLevel = 2;
  bool verifyDiagnostics = false;
  bool simplify = true;
  bool checkNumerics = false; // --check-numerics
  bool blas = true;           // --no-blas: no cblas_dgemm calls
  std::optional<uint64_t> seed;
  std::string loadPath;        // --load: params file read before running
  bool allowNonfinite = false; // --allow-nonfinite: --load takes nan, inf
  TrainFlags train;            // bpc train
  // bpc build
  std::string output, target, cpu, prefix;
  bool python = false; // --python: <prefix>.py beside the .so
  /// --at a=1,b=2: where explain and emit dot evaluate, the arguments
  /// check fixes.
  std::map<std::string, double> explainAt;
  /// Its tensor literals (`W=[[1, 2], [3, 4]]`): explain only.
  ad::TensorArgs explainTensorAt;
  /// explain --mode: reverse (default), forward or both.
  ad::ExplainMode explainMode = ad::ExplainMode::Reverse;
  double checkTimeout = 10; // bpc check --timeout: seconds per function
  bool svg = false;         // emit dot --svg: rendered by Graphviz
  double tapeBudgetMB = 0;  // --tape-budget MB; 0: none
  /// emit dot --precision: digits (0: full); unset: 6.
  std::optional<unsigned> dotPrecision;
};

/// Runs the command `opts.action` on the file at `path` through one
/// Compilation (pipeline/Compilation.h) and chooses bpc's exit status.
ExitCode runPipeline(const std::string &path, const PipelineOptions &opts);

/// The exit status for a failed Compilation::compileTo, after reporting
/// it: the diagnostics (1, or --verify-diagnostics' verdict), a verifier
/// failure (70: a bug in bpc; does not return), anything else (2: e.g. the
/// JIT could not start).
ExitCode reportFailure(llvm::Error err, const Compilation &c,
                       bool verifyDiagnostics);

} // namespace bp
