//===- Pipeline.cpp - bpc's commands on one Compilation -------------------===//
//
// Each command takes the Compilation (pipeline/Compilation.h) as far as it
// needs: `emit ast` to Stage::Parse, `emit ir|adjoint|dot|tape`, `explain` and
// `build` to Stage::IR (`emit ir --after PASS` to an earlier IR pass), `emit
// llvm|asm` to Stage::LLVM, `run`, `check` and `train` into the JIT. Only
// this layer turns failures into exit statuses.
//
//===----------------------------------------------------------------------===//
#include "driver/Pipeline.h"

#include "ad/AdjointPrinter.h"
#include "ad/Explain.h"
#include "ad/TapeReport.h"
#include "bp_runtime.h"
#include "codegen/CodeGen.h"
#include "driver/Build.h"
#include "driver/Check.h"
#include "driver/Plot.h"
#include "driver/Train.h"
#include "jit/JIT.h"
#include "parse/Parser.h"
#include "support/FileIO.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

namespace bp {
namespace {

/// Reports diagnostics; with --verify-diagnostics, decides the exit code.
ExitCode finishDiagnostics(const DiagEngine &diags, bool verifyDiagnostics) {
  if (verifyDiagnostics)
    return diags.verify(std::cerr) ? ExitCode::Success : ExitCode::CompileError;
  diags.print(std::cerr);
  return diags.hasErrors() ? ExitCode::CompileError : ExitCode::Success;
}

/// A bug in bpc, not in the program: reported and exit status 70, not a
/// crash by SIGABRT (no input makes bpc exit by a signal).
[[noreturn]] void internalError(const std::string &what) {
  std::cerr << "bpc: internal compiler error: " << what
            << "\nbpc: this is a bug in bpc; please report it with the input "
               "file\n";
  std::cout.flush();
  std::_Exit((int)ExitCode::InternalError);
}

void initParams(const ir::Module &m, JIT &jit, uint64_t seed) {
  for (size_t k = 0; k < m.params.size(); ++k) {
    const ir::Param &p = m.params[k];
    auto *data = static_cast<double *>(jit.find(codegen::paramSymbol(p.name)));
    if (!data)
      continue;
    std::vector<double> v = ir::initialValues(p, k, seed);
    std::copy(v.begin(), v.end(), data);
  }
}

bool emitAsm(llvm::Module &mod, llvm::TargetMachine &tm, std::ostream &os) {
  llvm::SmallString<0> buf;
  llvm::raw_svector_ostream out(buf);
  llvm::legacy::PassManager pm;
  if (tm.addPassesToEmitFile(pm, out, nullptr,
                             llvm::CodeGenFileType::AssemblyFile))
    return false;
  pm.run(mod);
  os << buf.str().str();
  return true;
}

/// `emit dot --svg`: the graph rendered by Graphviz's `dot` onto stdout.
ExitCode renderSvg(const std::string &graph) {
  std::string svg, err;
  bool missing = false;
  if (!renderGraphviz(graph, svg, err, missing)) {
    if (missing)
      std::cerr << "bpc: error: --svg needs Graphviz's 'dot' program (Debian: "
                   "apt-get install graphviz); without --svg, bpc writes the "
                   "graph as text\n";
    else
      std::cerr << "bpc: error: " << err << '\n';
    return ExitCode::Usage;
  }
  std::cout << svg;
  return ExitCode::Success;
}

/// `emit ir|adjoint|dot|tape`, `explain` and `build`: what the IR stage made.
ExitCode emitFromIR(Compilation &c, const PipelineOptions &o) {
  ir::Module &m = *c.ir;
  if (o.action == Action::Ir) {
    if (o.fnFilter.empty()) {
      ir::print(m, std::cout);
      return ExitCode::Success;
    }
    ir::Function *f = m.lookup(o.fnFilter);
    if (!f) {
      std::cerr << "bpc: error: no function named '" << o.fnFilter << "'\n";
      return ExitCode::Usage;
    }
    ir::print(*f, std::cout);
    return ExitCode::Success;
  }
  if (o.action == Action::Dot || o.action == Action::Explain) {
    if (o.fnFilter.empty()) {
      std::cerr << "bpc: error: "
                << (o.action == Action::Dot ? "emit dot" : "explain")
                << " needs --fn NAME (a derived function)\n";
      return ExitCode::Usage;
    }
    std::string err;
    std::ostringstream graph;
    bool ok = o.action == Action::Dot
                  ? ad::emitDot(m, o.fnFilter, o.explainAt, graph, err,
                                (int)o.dotPrecision.value_or(6))
                  : ad::explain(m, o.fnFilter, o.explainAt, std::cout, err,
                                nullptr, o.explainMode, o.explainTensorAt);
    if (!ok) {
      std::cerr << "bpc: error: " << err << '\n';
      return ExitCode::Usage;
    }
    if (o.action == Action::Dot && o.svg)
      return renderSvg(graph.str());
    std::cout << graph.str();
    return ExitCode::Success;
  }
  if (o.action == Action::Tape) {
    if (o.fnFilter.empty()) {
      std::cerr << "bpc: error: emit tape needs --fn NAME (a derived "
                   "function)\n";
      return ExitCode::Usage;
    }
    if (!ad::printTapeReport(m, o.fnFilter, std::cout)) {
      std::cerr << "bpc: error: no function named '" << o.fnFilter << "'\n";
      return ExitCode::Usage;
    }
    return ExitCode::Success;
  }
  if (o.action == Action::Adjoint) {
    if (!ad::printAdjoints(m, o.fnFilter, std::cout)) {
      std::cerr << "bpc: error: no derived function"
                << (o.fnFilter.empty() ? "" : " named '" + o.fnFilter + "'")
                << " in '" << c.file.path << "'\n";
      return ExitCode::Usage;
    }
    return ExitCode::Success;
  }
  assert(o.action == Action::Build && "not an IR-level command");
  BuildOptions b;
  b.output = o.output;
  b.target = o.target;
  b.cpu = o.cpu;
  b.prefix = o.prefix;
  b.python = o.python;
  b.optLevel = o.optLevel;
  b.seed = o.seed ? *o.seed : 0;
  b.blas = o.blas;
  b.verifyDiagnostics = o.verifyDiagnostics;
  b.loadPath = o.loadPath;
  b.allowNonfinite = o.allowNonfinite;
  return buildOutput(c, b);
}

/// `emit llvm|asm`: the optimised LLVM module for the host (with --fn, only
/// that function keeps its body).
ExitCode emitLLVMText(Compilation &c, const PipelineOptions &o) {
  auto jit = JIT::create();
  if (!jit) {
    std::cerr << "bpc: error: cannot start the JIT: "
              << llvm::toString(jit.takeError()) << '\n';
    return ExitCode::Usage;
  }
  c.opts.targetMachine = &(*jit)->targetMachine();
  if (llvm::Error err = c.compileTo(Stage::LLVM))
    return reportFailure(std::move(err), c, false);
  llvm::Module &mod = *c.llvm;
  if (!o.fnFilter.empty()) {
    // Keep only the requested function's body.
    std::string symbol = codegen::functionSymbol(o.fnFilter);
    if (!mod.getFunction(symbol)) {
      std::cerr << "bpc: error: no function named '" << o.fnFilter << "'\n";
      return ExitCode::Usage;
    }
    for (llvm::Function &f : mod)
      if (!f.isDeclaration() && f.getName() != symbol)
        f.deleteBody();
  }
  if (o.action == Action::Llvm) {
    std::string s;
    llvm::raw_string_ostream os(s);
    mod.print(os, nullptr);
    std::cout << os.str();
    return ExitCode::Success;
  }
  return emitAsm(mod, (*jit)->targetMachine(), std::cout) ? ExitCode::Success
                                                          : ExitCode::Usage;
}

/// The flags of `bpc train` that override the train block (--seed is
/// shared with other commands).
TrainFlags trainFlags(const PipelineOptions &o) {
  TrainFlags flags = o.train;
  if (o.seed)
    flags.seed = (int64_t)*o.seed;
  return flags;
}

/// `run`, `check` and `train`: the JIT-compiled program, params set;
/// `data`: the training rows (train only).
ExitCode execute(Compilation &c, const PipelineOptions &o, JIT &jit,
                 TrainingData *data) {
  ir::Module &m = *c.ir;
  // The generated code runs on this thread: a stack overflow the recursion
  // guard misses is still a runtime error, not a crash.
  bp_catch_stack_overflow(c.file.path.c_str());
  uint64_t seed = o.seed ? *o.seed
                  : c.prog.trainSpec && o.action == Action::Train
                      ? (uint64_t)c.prog.trainSpec->seed
                      : 0;
  initParams(m, jit, seed);
  if (!o.loadPath.empty()) {
    std::string err;
    if (!loadParams(m, jit, o.loadPath, o.allowNonfinite, err)) {
      std::cerr << "bpc: error: " << err << '\n';
      return ExitCode::Usage;
    }
  }
  if (o.action == Action::Train)
    return train(m, *c.prog.trainSpec, c.trainedParams, c.batchedStepSizes, jit,
                 *data, trainFlags(o));
  if (o.action == Action::Check)
    return checkDerived(m, jit, std::cout, {o.checkTimeout, o.explainAt});
  auto mainAddr = jit.lookup(codegen::functionSymbol("main"));
  if (!mainAddr) {
    std::cerr << "bpc: error: " << llvm::toString(mainAddr.takeError()) << '\n';
    return ExitCode::Usage;
  }
  reinterpret_cast<void (*)()> (*mainAddr)();
  std::cout.flush();
  fflush(stdout);
  return ExitCode::Success;
}

/// `--after PASS`: only for `emit ir`, and PASS from the pipeline's list.
bool checkAfterPass(const PipelineOptions &o) {
  if (o.afterPass.empty())
    return true;
  if (o.action != Action::Ir) {
    std::cerr << "bpc: error: --after works with 'emit ir' only\n";
    return false;
  }
  std::vector<std::string> names = irPassNames();
  if (std::find(names.begin(), names.end(), o.afterPass) != names.end())
    return true;
  std::cerr << "bpc: error: unknown pass '" << o.afterPass << "' after --after"
            << didYouMean(o.afterPass, names) << " (expected ";
  for (size_t k = 0; k < names.size(); ++k)
    std::cerr << (k ? k + 1 == names.size() ? " or " : ", " : "") << names[k];
  std::cerr << ")\n";
  return false;
}

/// Options that the command takes but this use of it does not (an emit
/// KIND that has no use for them, --allow-nonfinite without --load): a
/// usage error, false, never silently ignored.
bool checkUnusedOptions(const PipelineOptions &o) {
  auto unused = [](const std::string &problem) {
    std::cerr << "bpc: error: " << problem << '\n';
    return false;
  };
  bool emit = o.action <= Action::Tape || o.action == Action::Llvm ||
              o.action == Action::Asm;
  if (o.svg && o.action != Action::Dot)
    return unused("--svg works with 'emit dot' only");
  if (emit && !o.explainAt.empty() && o.action != Action::Dot)
    return unused("--at works with 'emit dot' only (and explain and check)");
  if (o.action == Action::Ast && !o.fnFilter.empty())
    return unused("--fn does not work with 'emit ast' (it prints the whole "
                  "file)");
  if (emit && o.checkNumerics && o.action != Action::Llvm &&
      o.action != Action::Asm)
    return unused("--check-numerics works with 'emit llvm' and 'emit asm' "
                  "only (it adds checks to the generated code)");
  if (o.allowNonfinite && o.loadPath.empty())
    return unused("--allow-nonfinite works with --load only");
  if (o.tapeBudgetMB > 0 && o.action == Action::Ast)
    return unused("--tape-budget does not work with 'emit ast' (the budget "
                  "changes the IR)");
  if (o.dotPrecision && o.action != Action::Dot)
    return unused("--precision works with 'emit dot' only");
  if (!o.explainTensorAt.empty() && o.action != Action::Explain)
    return unused("--at " + o.explainTensorAt.begin()->first +
                  "=[...]: tensor values work with explain only (emit dot "
                  "and check take numbers)");
  if (o.dotPrecision && o.explainAt.empty())
    return unused(
        "--precision needs --at (without it the graph shows no values)");
  return true;
}

/// `--after PASS` for a PASS from train-step on.
bool showsTrainStep(const PipelineOptions &o) {
  std::vector<std::string> names = irPassNames();
  auto at = [&](const std::string &n) {
    return std::find(names.begin(), names.end(), n) - names.begin();
  };
  return !o.afterPass.empty() && at(o.afterPass) >= at("train-step");
}

CompileOptions compileOptions(const PipelineOptions &o) {
  CompileOptions co;
  co.sema = o.sema;
  co.simplify = o.simplify;
  co.keepPowers = o.action == Action::Dot || o.action == Action::Explain;
  co.trainStep = o.action == Action::Train || o.afterPass == "train-step";
  co.stopAfter = o.afterPass;
  co.optLevel = o.optLevel;
  co.checkNumerics = o.checkNumerics;
  co.blas = o.blas;
  co.tapeBudget = (int64_t)(o.tapeBudgetMB * 1024 * 1024);
  return co;
}

} // namespace

ExitCode reportFailure(llvm::Error err, const Compilation &c,
                       bool verifyDiagnostics) {
  ExitCode code = ExitCode::Usage;
  llvm::handleAllErrors(
      std::move(err),
      [&](const CompileError &) {
        code = finishDiagnostics(c.diags, verifyDiagnostics);
      },
      [&](const VerifierError &e) { internalError(e.message); },
      [&](const llvm::ErrorInfoBase &e) {
        std::cerr << "bpc: error: " << e.message() << '\n';
      });
  return code;
}

/// Every -D NAME=VALUE names a const of the file or of a file it imports
/// (one namespace: the const is set wherever it is defined). The REPL,
/// whose consts come later, does not check this.
void checkDefines(Compilation &c, const sema::Options &o) {
  std::vector<std::string> consts;
  for (auto &item : c.ast->items)
    if (auto *k = llvm::dyn_cast<ast::ConstItem>(item.get()))
      consts.push_back(k->name);
  bool imports = !c.file.origins.empty(); // pipeline/Imports.h
  for (auto &[name, value] : o.defines)
    if (!llvm::is_contained(consts, name))
      c.diags.error({}, "-D " + name + "=" + value + ": '" + name +
                            "' is not a const of this file" +
                            (imports ? " or of the files it imports" : "") +
                            didYouMean(name, consts));
}

ExitCode runPipeline(const std::string &path, const PipelineOptions &o) {
  if (!checkAfterPass(o) || !checkUnusedOptions(o))
    return ExitCode::Usage;
  Compilation c(compileOptions(o));
  c.file.path = path;
  ReadResult read = readRegularFile(path, maxSourceBytes, c.file.text);
  if (!read) {
    std::cerr << "bpc: error: "
              << describeReadFailure(read, path, "source file", maxSourceBytes)
              << '\n';
    return ExitCode::Usage;
  }
  auto failed = [&](llvm::Error err) {
    return reportFailure(std::move(err), c, o.verifyDiagnostics);
  };

  // Parse.
  if (llvm::Error err = c.compileTo(Stage::Parse))
    return failed(std::move(err));
  checkDefines(c, o.sema);
  if (o.action == Action::Ast && !o.verifyDiagnostics) {
    printAST(*c.ast, std::cout, &c.file);
    return finishDiagnostics(c.diags, false);
  }

  // Sema, and what the command needs of the program.
  if (llvm::Error err = c.compileTo(Stage::Sema))
    return failed(std::move(err));
  if (o.action == Action::Run && !c.prog.fnSigs.count("main"))
    c.diags.error({}, "no 'fn main()' to run (bpc run starts at main)");
  if (o.action == Action::Train && !c.prog.trainSpec)
    c.diags.error({},
                  "no 'train { ... }' block to run (LANGUAGE.md section 8)");
  if (c.diags.hasErrors() || o.action <= Action::Sema)
    return finishDiagnostics(c.diags, o.verifyDiagnostics);

  // bpc train: the flags into the train block (the optimiser step is
  // compiled with them), and the data first, since a batched step is
  // compiled for each minibatch size (and each thread's share) the data
  // implies. A data error is reported after the compile errors, if any.
  TrainingData data;
  std::string dataError;
  bool tapeOfStep =
      o.action == Action::Tape && o.fnFilter.rfind("__train_step", 0) == 0;
  if (c.prog.trainSpec &&
      ((o.action == Action::Ir && showsTrainStep(o)) || tapeOfStep)) {
    // `emit ir --after` a pass from train-step on, or `emit tape --fn
    // __train_step[.<batch>]`: the step `bpc train` would compile for a
    // full minibatch on one thread (the data is not read, so no tail; the
    // train block as written, no flags).
    c.opts.trainStep = true;
    c.opts.trainBatchSizes = {c.prog.trainSpec->batch};
  }
  if (o.action == Action::Build && c.prog.trainSpec) {
    // <prefix>_train_step (docs/ABI.md): chunks of the block's batch size
    // through the batched step, the rest per example.
    c.opts.trainStep = true;
    c.opts.trainBatchSizes = {c.prog.trainSpec->batch};
  }
  if (o.action == Action::Train) {
    std::string err; // under mpirun: this rank's part of each minibatch
    if (!data.ranks.join(err)) {
      std::cerr << "bpc: error: " << err << '\n';
      return ExitCode::Usage;
    }
    *c.prog.trainSpec = withFlags(*c.prog.trainSpec, trainFlags(o));
    const sema::TrainSpec &spec = *c.prog.trainSpec;
    if (loadTrainingData(c.prog.fnSigs.at(spec.loss), spec, c.file, data,
                         dataError) &&
        !o.train.perExample)
      c.opts.trainBatchSizes =
          trainBatchSizes(spec, data.data.rows, data.ranks);
  }

  // The IR passes (irgen, simplify, ad, ...), each verified.
  if (llvm::Error err = c.compileTo(Stage::IR))
    return failed(std::move(err));
  if (o.verifyDiagnostics && o.action != Action::Build)
    return finishDiagnostics(c.diags, true);
  if (!o.verifyDiagnostics && data.ranks.isRoot())
    c.diags.print(std::cerr); // warnings, once under mpirun
  if (o.action < Action::Llvm || o.action == Action::Build)
    return emitFromIR(c, o);

  // LLVM, optimised for the host, then the JIT.
  if (o.action == Action::Llvm || o.action == Action::Asm)
    return emitLLVMText(c, o);
  if (o.action == Action::Train) { // every rank's data read, or its error
    ExitCode agreed = agreeOnTrainingData(data, dataError);
    if (agreed != ExitCode::Success)
      return agreed;
  }
  auto jitOr = compileToJIT(c);
  if (!jitOr)
    return failed(jitOr.takeError());
  return execute(c, o, **jitOr, &data);
}

} // namespace bp
