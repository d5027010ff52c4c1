//===- main.cpp - the bpc command line ------------------------------------===//
//
// bpc COMMAND [options] FILE (LANGUAGE.md section 9). Every command is a
// cl::SubCommand and every option a cl::opt that names the commands using
// it, so parsing, `bpc --help`, `bpc COMMAND --help` and the did-you-mean of
// a usage error all come from the definitions in this file (the only file
// with cl::opt statics). An option that the command does not use is a usage
// error. Hands over to the pipeline and the REPL.
//
//===----------------------------------------------------------------------===//
#include "driver/Options.h"
#include "driver/Pipeline.h"
#include "driver/Repl.h"

#include "llvm/Config/llvm-config.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/raw_ostream.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <pthread.h>
#include <string>
#include <unistd.h>
#include <vector>

using namespace bp;
using namespace llvm;

//===----------------------------------------------------------------------===//
// Commands, in the order `bpc --help` lists them.
//===----------------------------------------------------------------------===//

static cl::SubCommand RunCmd("run", "JIT-compile FILE and run `fn main()`");
static cl::SubCommand
    EmitCmd("emit", "print a stage: ast, ir, adjoint, dot, tape, llvm, asm");
static cl::SubCommand
    ExplainCmd("explain", "backpropagation of --fn D at --at a=1,b=2, step "
                          "by step");
static cl::SubCommand CheckCmd("check",
                               "compare every derived function with finite "
                               "differences");
static cl::SubCommand TrainCmd("train",
                               "run the train block (options override it)");
static cl::SubCommand
    BuildCmd("build",
             "ahead-of-time build: -o OUT (.o, .so or .a) and a C header");
static cl::SubCommand ReplCmd("repl",
                              "interactive session: items, statements, :help");

static cl::SubCommand *const Commands[] = {
    &RunCmd, &EmitCmd, &ExplainCmd, &CheckCmd, &TrainCmd, &BuildCmd, &ReplCmd};

// The groups of commands that share options: those that generate machine
// code (-O), set params from a file (--load), initialise params (--seed), may
// call cblas_dgemm (--no-blas; the same commands take --tape-budget), can
// check numerics in generated code, and draw
// or explain a derived function (--fn, --at).
static cl::SubCommandGroup AllCommands{
    &RunCmd, &EmitCmd, &ExplainCmd, &CheckCmd, &TrainCmd, &BuildCmd, &ReplCmd};
static cl::SubCommandGroup FileCommands{&RunCmd,   &EmitCmd,  &ExplainCmd,
                                        &CheckCmd, &TrainCmd, &BuildCmd};
static cl::SubCommandGroup Compiling{&RunCmd,   &EmitCmd,  &CheckCmd,
                                     &TrainCmd, &BuildCmd, &ReplCmd};
static cl::SubCommandGroup Loading{&RunCmd, &CheckCmd, &TrainCmd, &BuildCmd};
static cl::SubCommandGroup Seeded{&RunCmd, &CheckCmd, &TrainCmd, &BuildCmd,
                                  &ReplCmd};
static cl::SubCommandGroup WithBlas{&RunCmd, &EmitCmd, &CheckCmd, &TrainCmd,
                                    &BuildCmd};
static cl::SubCommandGroup WithNumerics{&RunCmd, &EmitCmd, &CheckCmd, &TrainCmd,
                                        &ReplCmd};
static cl::SubCommandGroup Graphs{&EmitCmd, &ExplainCmd};

//===----------------------------------------------------------------------===//
// Options, by the category `bpc --help` shows them in.
//===----------------------------------------------------------------------===//

static cl::OptionCategory CompileCat("Compilation options");
static cl::OptionCategory GraphCat("Emit and explain options");
static cl::OptionCategory TrainCat("Training options");
static cl::OptionCategory BuildCat("Build options");
static cl::OptionCategory ReplCat("REPL options");
static const cl::OptionCategory *const Categories[] = {
    &CompileCat, &GraphCat, &TrainCat, &BuildCat, &ReplCat};

// Positional arguments.
static cl::opt<std::string, false, EmitKindParser>
    EmitKind(cl::Positional, cl::desc("KIND"), cl::sub(EmitCmd));
static cl::list<std::string> Files(cl::Positional, cl::desc("FILE"),
                                   cl::sub(FileCommands));
static cl::list<std::string> ReplArgs(cl::Positional, cl::Hidden,
                                      cl::sub(ReplCmd)); // an error: no FILE

static cl::list<std::string, bool, Checked<DefineRule>>
    Defines("D", cl::Prefix, cl::value_desc("NAME=VALUE"),
            cl::desc("override a const (repeatable)"), cl::cat(CompileCat),
            cl::sub(AllCommands));
static cl::opt<unsigned, false, Checked<OptLevelRule>>
    OptLevel("O", cl::Prefix, cl::value_desc("0..3"), cl::init(2),
             cl::desc("LLVM optimisation level -O0 .. -O3 (default -O2)"),
             cl::cat(CompileCat), cl::sub(Compiling));
static cl::opt<unsigned long long, false, Checked<SeedRule>>
    Seed("seed", cl::value_desc("N"),
         cl::desc("seed of initialisers and shuffling (default 0)"),
         cl::cat(CompileCat), cl::sub(Seeded));
static cl::opt<std::string, false, Checked<PathRule>>
    LoadPath("load", cl::value_desc("PATH"),
             cl::desc("read params saved by --save before running (build: "
                      "bake them in as initial values)"),
             cl::cat(CompileCat), cl::sub(Loading));
static cl::opt<bool, false, Checked<FlagRule>> AllowNonfinite(
    "allow-nonfinite",
    cl::desc("--load: accept nan and inf values (an error otherwise)"),
    cl::cat(CompileCat), cl::sub(Loading));
static cl::opt<bool, false, Checked<FlagRule>>
    NoSimplify("no-simplify", cl::desc("skip the IR cleanup passes"),
               cl::cat(CompileCat), cl::sub(FileCommands));
static cl::opt<bool, false, Checked<FlagRule>>
    NoBlas("no-blas",
           cl::desc("every matmul as loops, never OpenBLAS's cblas_dgemm"),
           cl::cat(CompileCat), cl::sub(WithBlas));
static cl::opt<double, false, Checked<PositiveRealRule>> TapeBudget(
    "tape-budget", cl::value_desc("MB"),
    cl::desc("checkpoint long loops so a gradient's tape stays within MB"),
    cl::cat(CompileCat), cl::sub(WithBlas));
static cl::opt<bool, false, Checked<FlagRule>> CheckNumerics(
    "check-numerics",
    cl::desc("stop where an operation turns finite values into nan/inf"),
    cl::cat(CompileCat), cl::sub(WithNumerics));
static cl::opt<bool, false, Checked<FlagRule>> VerifyDiagnostics(
    "verify-diagnostics",
    cl::desc("check the diagnostics against `# expected-error {{...}}`"),
    cl::cat(CompileCat), cl::sub(FileCommands));

static cl::opt<std::string, false, Checked<NameRule>> FnFilter(
    "fn", cl::value_desc("NAME"),
    cl::desc("the function to emit, or the derived function to explain"),
    cl::cat(GraphCat), cl::sub(Graphs));
static cl::opt<std::string, false, Checked<NameRule>> AfterPass(
    "after", cl::value_desc("PASS"),
    cl::desc("emit ir: the IR after this pass of the pipeline (an unknown "
             "name is answered with the list)"),
    cl::cat(GraphCat), cl::sub(EmitCmd));
static cl::opt<std::string, false, Checked<AtRule>>
    At("at", cl::value_desc("a=1,b=2"),
       cl::desc("the arguments explain and emit dot evaluate at, and check "
                "fixes"),
       cl::cat(GraphCat), cl::sub(Graphs), cl::sub(CheckCmd));
static cl::opt<std::string, false, Checked<ExplainModeRule>> Mode(
    "mode", cl::value_desc("reverse|forward|both"), cl::init("reverse"),
    cl::desc("explain: the reverse sweep (default), forward mode (one "
             "tangent sweep per variable), or both side by side with their "
             "costs"),
    cl::cat(GraphCat), cl::sub(ExplainCmd));
static cl::opt<bool, false, Checked<FlagRule>>
    Svg("svg", cl::desc("emit dot: render the graph as SVG (Graphviz)"),
        cl::cat(GraphCat), cl::sub(EmitCmd));
static cl::opt<unsigned, false, Checked<PrecisionRule>> Precision(
    "precision", cl::value_desc("full|N"), cl::init(6),
    cl::desc("emit dot --at: significant digits of the values (default 6; "
             "full: shortest round-trip form)"),
    cl::cat(GraphCat), cl::sub(EmitCmd));

static cl::opt<double, false, Checked<PositiveRealRule>> Timeout(
    "timeout", cl::value_desc("SECONDS"), cl::init(10),
    cl::desc("check: seconds each derived function may take (default 10)"),
    cl::cat(CompileCat), cl::sub(CheckCmd));

static cl::opt<long long, false, Checked<PositiveIntRule>>
    Epochs("epochs", cl::value_desc("N"), cl::desc("epochs to train"),
           cl::cat(TrainCat), cl::sub(TrainCmd));
static cl::opt<double, false, Checked<PositiveRealRule>>
    Lr("lr", cl::value_desc("X"), cl::desc("learning rate"), cl::cat(TrainCat),
       cl::sub(TrainCmd));
static cl::opt<long long, false, Checked<PositiveIntRule>>
    Batch("batch", cl::value_desc("N"), cl::desc("minibatch size"),
          cl::cat(TrainCat), cl::sub(TrainCmd));
static cl::opt<std::string, false, Checked<OptimizerRule>>
    Optimizer("optimizer", cl::value_desc("NAME"),
              cl::desc("the optimizer: sgd, momentum, adam or adamw"),
              cl::cat(TrainCat), cl::sub(TrainCmd));
static cl::opt<double, false, Checked<PositiveRealRule>>
    Clip("clip", cl::value_desc("X"),
         cl::desc("clip the gradient's global norm to X"), cl::cat(TrainCat),
         cl::sub(TrainCmd));
static cl::opt<long long, false, Checked<PositiveIntRule>>
    Threads("threads", cl::value_desc("N"),
            cl::desc("threads a minibatch is split across (default: every "
                     "core)"),
            cl::cat(TrainCat), cl::sub(TrainCmd));
static cl::opt<double, false, Checked<NonNegativeRealRule>> WeightDecay(
    "weight-decay", cl::value_desc("X"),
    cl::desc("weight decay: adds X * p to the gradient of each param p "
             "(adamw: its decoupled decay)"),
    cl::cat(TrainCat), cl::sub(TrainCmd));
static cl::opt<std::string, false, Checked<ScheduleRule>> Schedule(
    "schedule", cl::value_desc("SPEC"),
    cl::desc("learning rate per epoch: step(EVERY,GAMMA), cosine(WARMUP) or "
             "constant"),
    cl::cat(TrainCat), cl::sub(TrainCmd));
static cl::opt<std::string, false, Checked<NameRule>>
    Loss("loss", cl::value_desc("FN"), cl::desc("the function to minimise"),
         cl::cat(TrainCat), cl::sub(TrainCmd));
static cl::opt<std::string, false, Checked<NameRule>>
    Metric("metric", cl::value_desc("FN"),
           cl::desc("the function averaged over the test rows each epoch"),
           cl::cat(TrainCat), cl::sub(TrainCmd));
static cl::opt<std::string, false, Checked<PathRule>>
    Data("data", cl::value_desc("PATH"),
         cl::desc("the training rows (CSV; relative to the current directory, "
                  "the block's data: to the .bp file)"),
         cl::cat(TrainCat), cl::sub(TrainCmd));
static cl::opt<std::string, false, Checked<PathRule>>
    Test("test", cl::value_desc("PATH"),
         cl::desc("the held-out rows (CSV; relative to the current directory)"),
         cl::cat(TrainCat), cl::sub(TrainCmd));
static cl::opt<long long, false, Checked<PositiveIntRule>> EarlyStop(
    "early-stop", cl::value_desc("N"),
    cl::desc("stop when the test loss has not improved for N epochs; keep "
             "the best epoch's params"),
    cl::cat(TrainCat), cl::sub(TrainCmd));
static cl::opt<long long, false, Checked<PositiveIntRule>>
    SaveEvery("save-every", cl::value_desc("N"),
              cl::desc("with --save PATH: also write PATH every N epochs"),
              cl::cat(TrainCat), cl::sub(TrainCmd));
static cl::opt<bool, false, Checked<FlagRule>>
    PerExample("per-example",
               cl::desc("one gradient call per example, not the batched "
                        "step (the v1 training loop)"),
               cl::cat(TrainCat), cl::sub(TrainCmd));
static cl::opt<std::string, false, Checked<PathRule>>
    SavePath("save", cl::value_desc("PATH"),
             cl::desc("write the learned params and the training state "
                      "(for --resume) to PATH"),
             cl::cat(TrainCat), cl::sub(TrainCmd));
static cl::opt<std::string, false, Checked<PathRule>> ResumePath(
    "resume", cl::value_desc("PATH"),
    cl::desc("continue the run saved in PATH by --save (params, optimizer "
             "state, epoch, shuffling) for --epochs more epochs"),
    cl::cat(TrainCat), cl::sub(TrainCmd));
static cl::opt<std::string, false, Checked<PathRule>>
    PlotDir("plot", cl::value_desc("DIR"),
            cl::desc("write SVG charts of loss, metric and gradient norms"),
            cl::cat(TrainCat), cl::sub(TrainCmd));
static cl::opt<std::string, false, Checked<PathRule>>
    ReportDir("report", cl::value_desc("DIR"),
              cl::desc("write DIR/index.html, one self-contained page: curves, "
                       "gradient norms, verdicts, clipping, the loss's graph"),
              cl::cat(TrainCat), cl::sub(TrainCmd));

static cl::opt<std::string, false, Checked<PathRule>>
    Output("o", cl::value_desc("OUT"),
           cl::desc("the output: OUT ends in .o, .so or .a"), cl::cat(BuildCat),
           cl::sub(BuildCmd));
static cl::opt<std::string, false, Checked<NameRule>>
    Target("target", cl::value_desc("TRIPLE"),
           cl::desc("cross-compile for TRIPLE (default: the host)"),
           cl::cat(BuildCat), cl::sub(BuildCmd));
static cl::opt<std::string, false, Checked<NameRule>>
    Cpu("cpu", cl::value_desc("NAME"),
        cl::desc("the CPU (default: the host's, generic with --target)"),
        cl::cat(BuildCat), cl::sub(BuildCmd));
static cl::opt<std::string, false, Checked<NameRule>>
    Prefix("prefix", cl::value_desc("NAME"),
           cl::desc("prefix of the C symbols and the header (default: OUT's)"),
           cl::cat(BuildCat), cl::sub(BuildCmd));
static cl::opt<bool, false, Checked<FlagRule>>
    Python("python",
           cl::desc("also write PREFIX.py, NumPy bindings of the .so"),
           cl::cat(BuildCat), cl::sub(BuildCmd));

static cl::opt<bool, false, Checked<FlagRule>>
    Prompt("prompt", cl::desc("show prompts when stdin is not a terminal"),
           cl::cat(ReplCat), cl::sub(ReplCmd));

//===----------------------------------------------------------------------===//

static int realMain(int argc, char **argv);

/// Output that never reached stdout (a full disk, /dev/full) is an error
/// with exit status 2, as coreutils' close_stdout makes it: the last flush
/// of each stream on fd 1 is checked, and an earlier failed write is
/// remembered by the stream (ferror, raw_ostream::has_error).
static int closeStdout(int status) {
  std::cout.flush();
  errno = 0;
  bool failed = fflush(stdout) != 0;
  int err = errno;
  failed |= ferror(stdout) != 0 || !std::cout.good();
  llvm::outs().flush();
  if (llvm::outs().has_error()) {
    if (!failed)
      err = llvm::outs().error().value();
    failed = true;
    llvm::outs().clear_error(); // else its destructor reports it again
  }
  if (!failed)
    return status;
  fprintf(stderr, "bpc: error: cannot write to standard output%s%s\n",
          err ? ": " : "", err ? strerror(err) : "");
  return status ? status : 2;
}

/// The compiler and the JIT-compiled program run on a thread with a large
/// stack: deep (but bounded) nesting in the parser and sema, and deep
/// recursion in user programs, must not overflow the 8 MB default. Every
/// thread started later gets the same stack: bpc train's OpenMP workers
/// run the same recursion as the main thread (libgomp creates its threads
/// with glibc's default attributes unless OMP_STACKSIZE is set, and that
/// setting, read when libgomp loads, still wins).
int main(int argc, char **argv) {
  struct Args {
    int argc;
    char **argv;
    int result;
  } args{argc, argv, 0};
  constexpr size_t stackBytes = (size_t)512 << 20;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, stackBytes);
  pthread_setattr_default_np(&attr);
  pthread_t thread;
  auto body = [](void *p) -> void * {
    auto *a = static_cast<Args *>(p);
    a->result = realMain(a->argc, a->argv);
    return nullptr;
  };
  if (pthread_create(&thread, &attr, body, &args) != 0)
    return closeStdout(realMain(argc, argv)); // no thread: run here
  pthread_join(thread, nullptr);
  return closeStdout(args.result);
}

/// -D NAME=VALUE, the last value of a NAME given twice.
static sema::Options semaOptions() {
  sema::Options o;
  for (const std::string &d : Defines) {
    size_t eq = d.find('=');
    o.defines[d.substr(0, eq)] = d.substr(eq + 1);
  }
  if (Loss.getNumOccurrences())
    o.trainLoss = Loss;
  if (Metric.getNumOccurrences())
    o.trainMetric = Metric;
  o.trainDataFlag = Data.getNumOccurrences() > 0;
  o.trainTestFlag = Test.getNumOccurrences() > 0;
  return o;
}

/// The options of a command that reads FILE, as the pipeline takes them.
static PipelineOptions pipelineOptions(Action action) {
  PipelineOptions o;
  o.action = action;
  o.fnFilter = FnFilter;
  o.afterPass = AfterPass;
  o.sema = semaOptions();
  o.optLevel = OptLevel;
  o.verifyDiagnostics = VerifyDiagnostics;
  o.simplify = !NoSimplify;
  o.checkNumerics = CheckNumerics;
  o.blas = !NoBlas;
  o.tapeBudgetMB = TapeBudget;
  if (Seed.getNumOccurrences())
    o.seed = Seed;
  o.loadPath = LoadPath;
  o.allowNonfinite = AllowNonfinite;
  TrainFlags &t = o.train;
  auto set = [](auto &to, const auto &opt) {
    if (opt.getNumOccurrences())
      to = opt;
  };
  set(t.epochs, Epochs);
  set(t.batch, Batch);
  set(t.threads, Threads);
  set(t.earlyStop, EarlyStop);
  set(t.saveEvery, SaveEvery);
  set(t.lr, Lr);
  set(t.clip, Clip);
  set(t.weightDecay, WeightDecay);
  set(t.optimizer, Optimizer);
  set(t.data, Data);
  set(t.test, Test);
  if (Schedule.getNumOccurrences())
    t.schedule = ScheduleRule::parse(Schedule);
  t.perExample = PerExample;
  t.savePath = SavePath;
  t.plotDir = PlotDir;
  t.reportDir = ReportDir;
  t.resumePath = ResumePath;
  o.output = Output;
  o.target = Target;
  o.cpu = Cpu;
  o.prefix = Prefix;
  o.python = Python;
  AtRule::parse(At, o.explainAt, o.explainTensorAt);
  o.explainMode = Mode == "forward" ? ad::ExplainMode::Forward
                  : Mode == "both"  ? ad::ExplainMode::Both
                                    : ad::ExplainMode::Reverse;
  o.checkTimeout = Timeout;
  o.svg = Svg;
  if (Precision.getNumOccurrences())
    o.dotPrecision = Precision;
  return o;
}

static int startRepl() {
  ReplOptions r;
  r.lineEditing = isatty(0) && isatty(1);
  r.prompt = Prompt || r.lineEditing;
  r.sema = semaOptions();
  r.optLevel = OptLevel;
  r.seed = Seed;
  r.checkNumerics = CheckNumerics;
  return (int)runRepl(r);
}

static int realMain(int argc, char **argv) {
  CommandLine cmdLine(Commands, Categories);
  cl::SetVersionPrinter([](raw_ostream &os) {
    os << "bpc, the BP compiler, version " BP_VERSION
          "\nLLVM version " LLVM_VERSION_STRING "\n";
  });
  std::optional<int> early = cmdLine.parse(argc, argv);
  if (early)
    return *early;

  if (ReplCmd) {
    if (!ReplArgs.empty())
      return cmdLine.usageError(
          "repl takes no FILE (use :load FILE inside it)");
    return startRepl();
  }
  if (EmitCmd) {
    if (!EmitKind.getNumOccurrences() || Files.size() != 1)
      return cmdLine.usageError("emit needs KIND and FILE");
    return (int)runPipeline(Files[0], pipelineOptions(emitAction(EmitKind)));
  }
  if (BuildCmd && (Files.size() != 1 || Output.empty()))
    return cmdLine.usageError("build needs FILE and -o OUT (.o, .so or .a)");
  if (ExplainCmd && Files.size() != 1)
    return cmdLine.usageError("explain needs FILE --fn NAME --at a=1,b=2");
  if (TrainCmd && ResumePath.getNumOccurrences() &&
      LoadPath.getNumOccurrences())
    return cmdLine.usageError(
        "--resume and --load do not go together: --resume sets the params "
        "and the training state, --load the params only");
  if (Files.size() != 1)
    return cmdLine.usageError(cmdLine.command()->getName() +
                              " needs exactly one FILE");
  Action action = RunCmd     ? Action::Run
                  : CheckCmd ? Action::Check
                  : TrainCmd ? Action::Train
                  : BuildCmd ? Action::Build
                             : Action::Explain;
  return (int)runPipeline(Files[0], pipelineOptions(action));
}
