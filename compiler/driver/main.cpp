//===- main.cpp - the bpc command line ------------------------------------===//
//
// bpc run FILE | emit KIND FILE | check FILE | train | build | repl
// (LANGUAGE.md section 9). Parses flags and hands over to the pipeline.
//
//===----------------------------------------------------------------------===//
#include "driver/Pipeline.h"
#include "driver/Repl.h"
#include "support/Diagnostics.h"

#include <cstring>
#include <iostream>
#include <pthread.h>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

using namespace bp;

static const char *usageText =
    R"(usage: bpc COMMAND [options] FILE

commands:
  run FILE                 JIT-compile FILE and run `fn main()`
  emit KIND FILE           print a stage: ast, ir, adjoint, dot, llvm, asm
  explain FILE --fn D --at a=1,b=2
                           backpropagation of derived function D, step by
                           step (straight-line scalar functions)
  check FILE               compare every derived function with finite
                           differences
  train FILE               run the train block (flags below override it)
  build FILE -o OUT        ahead-of-time build: OUT ends in .o, .so or .a;
                           writes the C header <prefix>.h next to it
                           (--target TRIPLE, --cpu NAME, --prefix NAME)
  repl                     interactive session: items, statements, :help
                           (--prompt shows prompts when stdin is a pipe)

options:
  -D NAME=VALUE            override a const (re-specialise)
  --fn NAME                emit: only this function
  --after PASS             emit ir: after that optimisation pass (inplace,
                           blas, transpose-elision, fusion, bounds-checks)
  --svg                    emit dot: render the graph as SVG (Graphviz)
  -O0 .. -O3               LLVM optimisation level (default -O2)
  --seed N                 seed of initialisers and shuffling (default 0)
  --load PATH              read params saved by --save before running
  train: --epochs N --lr X --batch N --optimizer sgd|momentum|adam
         --clip X --save PATH
  --no-simplify            skip the IR cleanup passes
  --no-blas                every matmul as generated loops (default: large
                           ones call OpenBLAS's cblas_dgemm; docs/TENSORS.md)
  --check-numerics         run/train: stop at the first operation (forward or
                           gradient) that turns finite values into nan/inf
  --verify-diagnostics     check `# expected-error {{...}}` comments against
                           the diagnostics instead of printing them
  -h, --help               this text
)";

static int usage(const std::string &msg) {
  std::cerr << "bpc: error: " << msg << "\n\n" << usageText;
  return (int)ExitCode::Usage;
}

static int realMain(int argc, char **argv);

/// The compiler and the JIT-compiled program run on a thread with a large
/// stack: deep (but bounded) nesting in the parser and sema, and deep
/// recursion in user programs, must not overflow the 8 MB default.
int main(int argc, char **argv) {
  struct Args {
    int argc;
    char **argv;
    int result;
  } args{argc, argv, 0};
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, (size_t)512 << 20);
  pthread_t thread;
  auto body = [](void *p) -> void * {
    auto *a = static_cast<Args *>(p);
    a->result = realMain(a->argc, a->argv);
    return nullptr;
  };
  if (pthread_create(&thread, &attr, body, &args) != 0)
    return realMain(argc, argv); // no thread: run here
  pthread_join(thread, nullptr);
  return args.result;
}

static int realMain(int argc, char **argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty())
    return usage("no command given");
  if (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    std::cout << usageText;
    return 0;
  }
  PipelineOptions opts;
  bool prompt = false;
  std::string command = args[0];
  std::vector<std::string> positional;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string &a = args[i];
    auto value = [&](std::string &out) {
      if (i + 1 >= args.size())
        return false;
      out = args[++i];
      return true;
    };
    std::string v;
    if (a == "-D" || (a.size() > 2 && a.compare(0, 2, "-D") == 0)) {
      if (a == "-D" && !value(v))
        return usage("-D needs NAME=VALUE");
      if (a != "-D")
        v = a.substr(2);
      size_t eq = v.find('=');
      if (eq == std::string::npos || eq == 0)
        return usage("-D needs NAME=VALUE, found '" + v + "'");
      opts.sema.defines[v.substr(0, eq)] = v.substr(eq + 1);
    } else if (a == "--after") {
      if (!value(opts.afterPass))
        return usage("--after needs a pass name");
    } else if (a == "--fn") {
      if (!value(opts.fnFilter))
        return usage("--fn needs a function name");
    } else if (a.size() == 3 && a[0] == '-' && a[1] == 'O' && a[2] >= '0' &&
               a[2] <= '3') {
      opts.optLevel = a[2] - '0';
    } else if (a == "--seed") {
      if (!value(v))
        return usage("--seed needs a number");
      char *end = nullptr;
      opts.seed = strtoull(v.c_str(), &end, 10);
      if (v.empty() || *end)
        return usage("--seed needs a non-negative integer, found '" + v + "'");
    } else if (a == "--epochs" || a == "--batch") {
      if (!value(v))
        return usage(a + " needs a positive integer");
      char *end = nullptr;
      long long n = strtoll(v.c_str(), &end, 10);
      if (v.empty() || *end || n < 1)
        return usage(a + " needs a positive integer, found '" + v + "'");
      (a == "--epochs" ? opts.epochs : opts.batch) = n;
    } else if (a == "--lr" || a == "--clip") {
      if (!value(v))
        return usage(a + " needs a positive number");
      char *end = nullptr;
      double x = strtod(v.c_str(), &end);
      if (v.empty() || *end || !(x > 0))
        return usage(a + " needs a positive number, found '" + v + "'");
      (a == "--lr" ? opts.lr : opts.clip) = x;
    } else if (a == "--optimizer") {
      if (!value(v) || (v != "sgd" && v != "momentum" && v != "adam"))
        return usage("--optimizer needs sgd, momentum or adam");
      opts.optimizer = v;
    } else if (a == "-o" || a == "--target" || a == "--cpu" ||
               a == "--prefix") {
      if (!value(v))
        return usage(a + " needs a value");
      (a == "-o"         ? opts.output
       : a == "--target" ? opts.target
       : a == "--cpu"    ? opts.cpu
                         : opts.prefix) = v;
    } else if (a == "--save" || a == "--load" || a == "--plot") {
      if (!value(v))
        return usage(a + " needs a path");
      (a == "--save"   ? opts.savePath
       : a == "--load" ? opts.loadPath
                       : opts.plotDir) = v;
    } else if (a == "--at") {
      if (!value(v))
        return usage("--at needs name=value,...");
      std::stringstream ss(v);
      std::string item;
      while (std::getline(ss, item, ',')) {
        size_t eq = item.find('=');
        char *end = nullptr;
        double x =
            eq == std::string::npos ? 0 : strtod(item.c_str() + eq + 1, &end);
        if (eq == std::string::npos || eq == 0 || !end || *end)
          return usage("--at needs name=value,..., found '" + item + "'");
        opts.explainAt[item.substr(0, eq)] = x;
      }
    } else if (a == "--prompt" && command == "repl") {
      prompt = true;
    } else if (a == "--svg") {
      opts.svg = true;
    } else if (a == "--check-numerics") {
      opts.checkNumerics = true;
    } else if (a == "--no-blas") {
      opts.blas = false;
    } else if (a == "--no-simplify") {
      opts.simplify = false;
    } else if (a == "--verify-diagnostics") {
      opts.verifyDiagnostics = true;
    } else if (a == "-h" || a == "--help") {
      std::cout << usageText;
      return 0;
    } else if (a.size() > 1 && a[0] == '-') {
      return usage("unknown option '" + a + "'" +
                   didYouMean(a, {"--fn",
                                  "--seed",
                                  "--load",
                                  "--epochs",
                                  "--lr",
                                  "--batch",
                                  "--optimizer",
                                  "--clip",
                                  "--save",
                                  "--plot",
                                  "--at",
                                  "--target",
                                  "--cpu",
                                  "--prefix",
                                  "--no-simplify",
                                  "--check-numerics",
                                  "--verify-diagnostics",
                                  "--help",
                                  "--svg",
                                  "--no-blas",
                                  "--prompt",
                                  "--after"}));
    } else {
      positional.push_back(a);
    }
  }

  if (command == "run" || command == "check" || command == "train") {
    if (positional.size() != 1)
      return usage(command + " needs exactly one FILE");
    opts.action = command == "run"     ? Action::Run
                  : command == "check" ? Action::Check
                                       : Action::Train;
    return (int)runPipeline(positional[0], opts);
  }
  if (command == "emit") {
    if (positional.size() != 2)
      return usage("emit needs KIND and FILE");
    const std::string &kind = positional[0];
    if (kind == "ast")
      opts.action = Action::Ast;
    else if (kind == "ir")
      opts.action = Action::Ir;
    else if (kind == "adjoint")
      opts.action = Action::Adjoint;
    else if (kind == "llvm")
      opts.action = Action::Llvm;
    else if (kind == "asm")
      opts.action = Action::Asm;
    else if (kind == "dot")
      opts.action = Action::Dot;
    else
      return usage(
          "unknown emit kind '" + kind + "'" +
          didYouMean(kind, {"ast", "ir", "adjoint", "llvm", "asm", "dot"}) +
          " (expected ast, ir, adjoint, llvm, asm or dot)");
    return (int)runPipeline(positional[1], opts);
  }
  if (command == "build") {
    if (positional.size() != 1 || opts.output.empty())
      return usage("build needs FILE and -o OUT (.o, .so or .a)");
    opts.action = Action::Build;
    return (int)runPipeline(positional[0], opts);
  }
  if (command == "explain") {
    if (positional.size() != 1)
      return usage("explain needs FILE --fn NAME --at a=1,b=2");
    opts.action = Action::Explain;
    return (int)runPipeline(positional[0], opts);
  }
  if (command == "repl") {
    if (!positional.empty())
      return usage("repl takes no FILE (use :load FILE inside it)");
    ReplOptions r;
    r.lineEditing = isatty(0) && isatty(1);
    r.prompt = prompt || r.lineEditing;
    r.sema = opts.sema;
    r.optLevel = opts.optLevel;
    r.seed = opts.seed ? *opts.seed : 0;
    r.checkNumerics = opts.checkNumerics;
    return (int)runRepl(r);
  }
  return usage("unknown command '" + command + "'" +
               didYouMean(command, {"run", "emit", "explain", "check", "train",
                                    "build", "repl"}) +
               " (expected run, emit, explain, check, train, build or repl)");
}
