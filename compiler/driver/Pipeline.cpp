//===- Pipeline.cpp - the compiler pipeline with stop points --------------===//
//
// parse -> sema -> IRGen (+AD) -> verify -> simplify -> verify -> LLVM ->
// optimise -> JIT. `bpc emit KIND` stops after the stage that KIND names.
//
//===----------------------------------------------------------------------===//
#include "driver/Pipeline.h"

#include "ad/AdjointPrinter.h"
#include "ad/Check.h"
#include "ad/Derived.h"
#include "ad/Explain.h"
#include "bp_runtime.h"
#include "codegen/CodeGen.h"
#include "driver/Build.h"
#include "driver/Train.h"
#include "ir/IRGen.h"
#include "ir/Simplify.h"
#include "ir/Verifier.h"
#include "jit/JIT.h"
#include "parse/Parser.h"
#include "support/Random.h"
#include "transforms/Passes.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

namespace bp {
namespace {

bool readFile(const std::string &path, std::string &out) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

/// Reports diagnostics; with --verify-diagnostics, decides the exit code.
ExitCode finishDiagnostics(const DiagEngine &diags, const PipelineOptions &o,
                           bool stoppedEarly) {
  if (o.verifyDiagnostics)
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

void verifyOrDie(const ir::Module &m, const char *after) {
  std::string err = ir::verify(m);
  if (!err.empty())
    internalError(err + " (after " + after + ")");
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
/// `bpc emit ir --after PASS`: the module (or --fn's function) after that
/// optimisation pass, each pass followed by the verifier.
ExitCode emitAfterPass(ir::Module &m, const transforms::Options &topts,
                       const PipelineOptions &o) {
  std::string names;
  bool known = false;
  for (const transforms::Pass &p : transforms::optimisationPasses()) {
    known |= o.afterPass == p.name;
    names += std::string(names.empty() ? "" : ", ") + p.name;
  }
  if (!known) {
    std::cerr << "bpc: error: no pass named '" << o.afterPass
              << "' (passes: " << names << ")\n";
    return ExitCode::Usage;
  }
  const ir::Function *f = nullptr;
  if (!o.fnFilter.empty() && !(f = m.lookup(o.fnFilter))) {
    std::cerr << "bpc: error: no function named '" << o.fnFilter << "'\n";
    return ExitCode::Usage;
  }
  transforms::runOptimisationPasses(
      m, topts, [&](llvm::StringRef name, const ir::Module &after) {
        verifyOrDie(after, name.str().c_str());
        if (name != o.afterPass)
          return;
        if (f)
          ir::print(*f, std::cout);
        else
          ir::print(after, std::cout);
      });
  return ExitCode::Success;
}

ExitCode renderSvg(const std::string &graph) {
  if (std::system("command -v dot > /dev/null 2>&1") != 0) {
    std::cerr << "bpc: error: --svg needs Graphviz's 'dot' program (Debian: "
                 "apt-get install graphviz); without --svg, bpc writes the "
                 "graph as text\n";
    return ExitCode::Usage;
  }
  std::cout.flush();
  FILE *dot = popen("dot -Tsvg", "w");
  if (!dot) {
    std::cerr << "bpc: error: cannot start 'dot'\n";
    return ExitCode::Usage;
  }
  fwrite(graph.data(), 1, graph.size(), dot);
  if (pclose(dot) != 0) {
    std::cerr << "bpc: error: 'dot -Tsvg' failed\n";
    return ExitCode::Usage;
  }
  return ExitCode::Success;
}

} // namespace

ExitCode runPipeline(const std::string &path, const PipelineOptions &o) {
  if (!o.afterPass.empty() && o.action != Action::Ir) {
    std::cerr << "bpc: error: --after is for 'emit ir' only\n";
    return ExitCode::Usage;
  }
  SourceFile file;
  file.path = path;
  if (!readFile(path, file.text)) {
    std::cerr << "bpc: error: cannot read '" << path << "'\n";
    return ExitCode::Usage;
  }
  DiagEngine diags(file);

  // Parse.
  auto ast = parseModule(file, diags);
  if (!ast || diags.hasErrors())
    return finishDiagnostics(diags, o, true);
  if (o.action == Action::Ast && !o.verifyDiagnostics) {
    printAST(*ast, std::cout);
    return finishDiagnostics(diags, o, false);
  }

  // Sema.
  TypeContext types;
  sema::Program prog;
  sema::check(*ast, types, diags, o.sema, prog);
  if (!diags.hasErrors() && o.action == Action::Run &&
      !prog.fnSigs.count("main"))
    diags.error({}, "no 'fn main()' to run (bpc run starts at main)");
  if (!diags.hasErrors() && o.action == Action::Train && !prog.trainSpec)
    diags.error({}, "no 'train { ... }' block to run (LANGUAGE.md section 8)");
  if (diags.hasErrors() || o.action <= Action::Sema)
    return finishDiagnostics(diags, o, true);

  // IR (user functions, then derived functions built by AD).
  auto irMod = generateIR(*ast, prog, types, diags);
  if (!irMod || diags.hasErrors())
    return finishDiagnostics(diags, o, true);
  std::vector<std::string> trained;
  if (o.action == Action::Train) {
    trained = ad::buildTrainStep(*irMod, prog.trainSpec->loss, diags,
                                 prog.trainSpec->loc);
    if (trained.empty())
      return finishDiagnostics(diags, o, true);
  }
  verifyOrDie(*irMod, "IRGen and AD");
  if (o.simplify) {
    ir::simplify(*irMod);
    verifyOrDie(*irMod, "simplify");
  }
  if (o.verifyDiagnostics)
    return finishDiagnostics(diags, o, false);
  diags.print(std::cerr); // warnings

  // Codegen's decisions (compiler/transforms): OpenBLAS for large matmuls
  // unless --no-blas or a cross build (the target may have no OpenBLAS).
  transforms::Options topts;
  topts.blas = o.blas && codegen::blasAvailable() &&
               !(o.action == Action::Build && !o.target.empty());
  if (o.action == Action::Ir && !o.afterPass.empty())
    return emitAfterPass(*irMod, topts, o);
  if (o.action == Action::Ir) {
    if (o.fnFilter.empty()) {
      ir::print(*irMod, std::cout);
      return ExitCode::Success;
    }
    ir::Function *f = irMod->lookup(o.fnFilter);
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
    bool ok =
        o.action == Action::Dot
            ? ad::emitDot(*irMod, prog, o.fnFilter, o.explainAt, graph, err)
            : ad::explain(*irMod, prog, o.fnFilter, o.explainAt, std::cout,
                          err);
    if (!ok) {
      std::cerr << "bpc: error: " << err << '\n';
      return ExitCode::Usage;
    }
    if (o.action == Action::Dot && o.svg)
      return renderSvg(graph.str());
    std::cout << graph.str();
    return ExitCode::Success;
  }
  if (o.action == Action::Adjoint) {
    if (!ad::printAdjoints(*irMod, prog, o.fnFilter, std::cout)) {
      std::cerr << "bpc: error: no derived function"
                << (o.fnFilter.empty() ? "" : " named '" + o.fnFilter + "'")
                << " in '" << path << "'\n";
      return ExitCode::Usage;
    }
    return ExitCode::Success;
  }

  transforms::runOptimisationPasses(*irMod, topts);
  if (o.action == Action::Build) {
    BuildOptions b;
    b.output = o.output;
    b.target = o.target;
    b.cpu = o.cpu;
    b.prefix = o.prefix;
    b.optLevel = o.optLevel;
    b.seed = o.seed ? *o.seed : 0;
    return buildOutput(*irMod, prog, path, b);
  }

  // LLVM.
  auto jitOr = JIT::create();
  if (!jitOr) {
    std::cerr << "bpc: error: cannot start the JIT: "
              << llvm::toString(jitOr.takeError()) << '\n';
    return ExitCode::Usage;
  }
  std::unique_ptr<JIT> jit = std::move(*jitOr);
  auto ctx = std::make_unique<llvm::LLVMContext>();
  auto mod = codegen::emitLLVM(*irMod, *ctx, o.checkNumerics);
  codegen::optimize(*mod, jit->targetMachine(), o.optLevel);
  if (o.action == Action::Llvm || o.action == Action::Asm) {
    if (!o.fnFilter.empty()) {
      // Keep only the requested function's body.
      bool found = false;
      for (llvm::Function &f : *mod)
        if (f.getName() == codegen::functionSymbol(o.fnFilter))
          found = true;
      if (!found) {
        std::cerr << "bpc: error: no function named '" << o.fnFilter << "'\n";
        return ExitCode::Usage;
      }
      for (llvm::Function &f : *mod)
        if (!f.isDeclaration() &&
            f.getName() != codegen::functionSymbol(o.fnFilter)) {
          f.deleteBody();
        }
    }
    if (o.action == Action::Llvm) {
      std::string s;
      llvm::raw_string_ostream os(s);
      mod->print(os, nullptr);
      std::cout << os.str();
      return ExitCode::Success;
    }
    return emitAsm(*mod, jit->targetMachine(), std::cout) ? ExitCode::Success
                                                          : ExitCode::Usage;
  }

  if (codegen::hasHugeFunction(*mod)) {
    auto fast = JIT::create(/*fastCodegen=*/true);
    if (fast)
      jit = std::move(*fast);
    else
      llvm::consumeError(fast.takeError());
  }
  if (auto err = jit->add(std::move(mod), std::move(ctx))) {
    std::cerr << "bpc: error: JIT: " << llvm::toString(std::move(err)) << '\n';
    return ExitCode::Usage;
  }
  // The generated code runs on this thread: a stack overflow the recursion
  // guard misses is still a runtime error, not a crash.
  bp_catch_stack_overflow(file.path.c_str());
  uint64_t seed = o.seed ? *o.seed
                  : prog.trainSpec && o.action == Action::Train
                      ? (uint64_t)prog.trainSpec->seed
                      : 0;
  initParams(*irMod, *jit, seed);
  if (!o.loadPath.empty()) {
    std::string err;
    if (!loadParams(*irMod, *jit, o.loadPath, err)) {
      std::cerr << "bpc: error: " << err << '\n';
      return ExitCode::Usage;
    }
  }
  if (o.action == Action::Train) {
    TrainFlags flags;
    flags.epochs = o.epochs;
    flags.batch = o.batch;
    if (o.seed)
      flags.seed = (int64_t)*o.seed;
    flags.lr = o.lr;
    flags.clip = o.clip;
    flags.optimizer = o.optimizer;
    flags.savePath = o.savePath;
    flags.plotDir = o.plotDir;
    return train(*irMod, *prog.trainSpec, trained, *jit, file, flags);
  }
  if (o.action == Action::Check)
    return ad::checkDerived(*irMod, prog, *jit, std::cout)
               ? ExitCode::Success
               : ExitCode::CheckFailed;
  auto mainAddr = jit->lookup(codegen::functionSymbol("main"));
  if (!mainAddr) {
    std::cerr << "bpc: error: " << llvm::toString(mainAddr.takeError()) << '\n';
    return ExitCode::Usage;
  }
  reinterpret_cast<void (*)()> (*mainAddr)();
  std::cout.flush();
  fflush(stdout);
  return ExitCode::Success;
}

} // namespace bp
