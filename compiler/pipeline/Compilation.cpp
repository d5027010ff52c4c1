//===- Compilation.cpp - the compiler pipeline with stop points -----------===//
//
// The stages run in the order of `Stage`; the IR stage is the list of IR
// passes below, each followed by the IR verifier (Halide's Lower.cpp: `s =
// pass(s)`, then a check). Adding a pass is one line in `passes`.
//
//===----------------------------------------------------------------------===//
#include "pipeline/Compilation.h"

#include "ad/Derived.h"
#include "batch/TrainStep.h"
#include "batch/Vmap.h"
#include "codegen/CInterface.h"
#include "codegen/CodeGen.h"
#include "ir/Simplify.h"
#include "ir/Verifier.h"
#include "jit/JIT.h"
#include "lower/IRGen.h"
#include "parse/Parser.h"
#include "pipeline/Imports.h"
#include "transforms/Passes.h"

#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/Verifier.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cassert>
#include <functional>
#include <map>
#include <set>

namespace bp {

char CompileError::ID = 0;
char VerifierError::ID = 0;

void CompileError::log(llvm::raw_ostream &os) const {
  os << "the input has errors (reported as diagnostics)";
}
std::error_code CompileError::convertToErrorCode() const {
  return llvm::inconvertibleErrorCode();
}
void VerifierError::log(llvm::raw_ostream &os) const { os << message; }
std::error_code VerifierError::convertToErrorCode() const {
  return llvm::inconvertibleErrorCode();
}

namespace {

llvm::Error diagnosed() { return llvm::make_error<CompileError>(); }

bool always(const Compilation &) { return true; }
bool simplifying(const Compilation &c) { return c.opts.simplify; }
bool trainingStep(const Compilation &c) { return c.opts.trainStep; }
/// After AD: only when an AD pass added functions (otherwise the module is
/// as the simplify pass left it).
bool simplifyingAD(const Compilation &c) {
  return c.opts.simplify && (!c.ir->derived.empty() || c.opts.trainStep);
}

/// AST -> IR (lower/IRGen.h): user functions; derived ones only declared.
llvm::Error irgen(Compilation &c) {
  c.ir = generateIR(*c.ast, c.prog, c.types, c.diags);
  if (!c.ir || c.diags.hasErrors())
    return diagnosed();
  return llvm::Error::success();
}

llvm::Error simplify(Compilation &c) {
  ir::simplify(*c.ir, {c.opts.keepPowers});
  return llvm::Error::success();
}

/// The derived functions in an order where each comes after every derived
/// function it needs: its base, and those its base calls (directly or
/// through user functions), e.g. grad(h) where h calls vmap(f, 3, x)
/// inline. Sema's order only puts the base first.
std::vector<size_t> derivedOrder(const ir::Module &m) {
  std::map<std::string, size_t> index;
  for (size_t k = 0; k < m.derived.size(); ++k)
    index[m.derived[k].name] = k;
  std::vector<size_t> order;
  std::vector<bool> seen(m.derived.size(), false);
  std::set<std::string> walked;
  std::function<void(const std::string &)> need;
  std::function<void(const ir::Block &)> walk = [&](const ir::Block &b) {
    for (auto &op : b.ops) {
      if (op->kind == ir::OpKind::Call)
        need(op->callee());
      for (auto &r : op->regions)
        walk(*r);
    }
  };
  need = [&](const std::string &name) {
    if (auto it = index.find(name); it != index.end()) {
      size_t k = it->second;
      if (seen[k])
        return; // done, or a cycle (sema reports those)
      seen[k] = true;
      need(m.derived[k].base);
      order.push_back(k);
      return;
    }
    if (const ir::Function *f = m.lookup(name); f && walked.insert(name).second)
      walk(*f->body);
  };
  for (size_t k = 0; k < m.derived.size(); ++k)
    need(m.derived[k].name);
  return order;
}

/// The budget applyTapeBudget splits loops for. The batched training step
/// of n examples tapes every value of the loss n times, so under training
/// the budget is divided by the largest step size: each step's tape (one
/// thread's) stays within --tape-budget, as does a per-example gradient.
int64_t stepTapeBudget(const CompileOptions &o) {
  int64_t n = 1;
  if (o.trainStep)
    for (int64_t k : o.trainBatchSizes)
      n = std::max(n, k);
  return std::max<int64_t>(o.tapeBudget / n, 1);
}

/// Builds every derived function (ad/Derived.h; vmap: batch/Vmap.h), in
/// derivedOrder, on simplified code (Enzyme's lesson): the simplify pass ran
/// just before, and since a derived function may differentiate an earlier
/// one, the module is simplified again before each further one.
llvm::Error ad(Compilation &c) {
  ir::Module &m = *c.ir;
  if (c.opts.tapeBudget > 0)
    ad::applyTapeBudget(m, stepTapeBudget(c.opts));
  bool first = true;
  for (size_t k : derivedOrder(m)) {
    if (!first && c.opts.simplify)
      ir::simplify(m, {c.opts.keepPowers});
    first = false;
    if (m.derived[k].kind == ir::DerivKind::Vmap)
      batch::buildVmap(m, m.derived[k]);
    else if (!ad::buildDerived(m, m.derived[k], c.diags))
      return diagnosed();
  }
  return llvm::Error::success();
}

/// `bpc train`: `__train_step` (ad::buildTrainStep, one example), the
/// optimiser step `__train_update` (batch::buildTrainUpdate) and the
/// batched `__train_step.<n>` (batch::buildTrainStep) for every size in
/// opts.trainBatchSizes, from the train block (its flags applied by the
/// driver) on simplified code (simplified again if `ad` added functions).
llvm::Error trainStep(Compilation &c) {
  if (!c.prog.trainSpec) {
    c.diags.error({},
                  "no 'train { ... }' block to run (LANGUAGE.md section 8)");
    return diagnosed();
  }
  if (c.opts.simplify && !c.ir->derived.empty())
    ir::simplify(*c.ir);
  c.trainedParams = ad::buildTrainStep(*c.ir, c.prog.trainSpec->loss, c.diags,
                                       c.prog.trainSpec->loc);
  if (c.trainedParams.empty())
    return diagnosed();
  const sema::TrainSpec &spec = *c.prog.trainSpec;
  batch::Optimizer o;
  using Kind = batch::Optimizer::Kind;
  o.kind = spec.optimizer == "sgd"        ? Kind::Sgd
           : spec.optimizer == "momentum" ? Kind::Momentum
           : spec.optimizer == "adamw"    ? Kind::AdamW
                                          : Kind::Adam;
  o.weightDecay = spec.effectiveWeightDecay();
  o.beta1 = spec.beta1;
  o.beta2 = spec.beta2;
  o.clip = spec.clip;
  batch::buildTrainUpdate(*c.ir, c.trainedParams, o, spec.loc);
  for (int64_t n : c.opts.trainBatchSizes) {
    if (!batch::buildTrainStep(*c.ir, c.prog.trainSpec->loss, c.trainedParams,
                               n, c.diags, c.prog.trainSpec->loc)) {
      if (c.diags.hasErrors())
        return diagnosed();
      break; // the loss cannot be batched: per example only
    }
    c.batchedStepSizes.push_back(n);
  }
  // The test metric in chunks of the largest step size, as the test loss
  // (the driver runs it per row where it cannot be batched).
  if (!spec.metric.empty() && !c.batchedStepSizes.empty())
    batch::buildBatchedMetric(
        *c.ir, spec.metric,
        *std::max_element(c.batchedStepSizes.begin(), c.batchedStepSizes.end()),
        spec.loc);
  return llvm::Error::success();
}

/// Codegen's decisions (transforms/Passes.h) for this compilation.
transforms::Options decisionOptions(const Compilation &c) {
  transforms::Options o;
  o.blas = c.opts.blas && codegen::blasAvailable();
  return o;
}

/// `--after` names a decision pass: the IR stage runs the decisions up to
/// it (otherwise they run at the start of the LLVM stage).
bool stoppingAtADecision(const Compilation &c) {
  for (const transforms::Pass &p : transforms::optimisationPasses())
    if (c.opts.stopAfter == p.name)
      return true;
  return false;
}

// clang-format off
/// The IR passes, in order.
const std::vector<IRPass> &passes() {
  static const std::vector<IRPass> list = [] {
    std::vector<IRPass> l = {
        {"irgen",             always,        irgen},
        {"simplify",          simplifying,   simplify},
        {"ad",                always,        ad},
        {"train-step",        trainingStep,  trainStep},
        {"simplify-after-ad", simplifyingAD, simplify},
    };
    for (const transforms::Pass &d : transforms::optimisationPasses())
      l.push_back({d.name, stoppingAtADecision, [run = d.run](Compilation &c) {
                     run(*c.ir, decisionOptions(c));
                     return llvm::Error::success();
                   }});
    return l;
  }();
  return list;
}
// clang-format on

} // namespace

llvm::ArrayRef<IRPass> irPasses() { return passes(); }

std::vector<std::string> irPassNames() {
  std::vector<std::string> names;
  for (const IRPass &p : passes())
    names.push_back(p.name);
  return names;
}

Compilation::Compilation(CompileOptions o, TypeContext *sharedTypes)
    : ownTypes(sharedTypes ? nullptr : std::make_unique<TypeContext>()),
      opts(std::move(o)), types(sharedTypes ? *sharedTypes : *ownTypes) {}

Compilation::~Compilation() = default;

llvm::Error Compilation::compileTo(Stage stage) {
  assert(!failed && "a failed compilation cannot go on");
  for (int s = done ? (int)*done + 1 : 0; s <= (int)stage; ++s) {
    if (llvm::Error e = runStage((Stage)s)) {
      failed = true;
      return e;
    }
    done = (Stage)s;
  }
  return llvm::Error::success();
}

llvm::Error Compilation::runStage(Stage s) {
  switch (s) {
  case Stage::Parse:
    ast = parseModule(file, diags);
    if (ast && !diags.hasErrors())
      loadImports(file, diags, *ast); // one module, one source (section 22)
    return !ast || diags.hasErrors() ? diagnosed() : llvm::Error::success();
  case Stage::Sema:
    sema::check(*ast, types, diags, opts.sema, prog);
    return diags.hasErrors() ? diagnosed() : llvm::Error::success();
  case Stage::IR:
    return runIRPasses();
  case Stage::LLVM:
    return runLLVM();
  }
  llvm_unreachable("unknown stage");
}

llvm::Error Compilation::runIRPasses() {
  for (const IRPass &p : passes()) {
    if (p.runs(*this)) {
      if (llvm::Error e = p.run(*this))
        return e;
      if (opts.verify)
        if (std::string err = ir::verify(*ir); !err.empty())
          return llvm::make_error<VerifierError>(err + " (after " + p.name +
                                                 ")");
    }
    if (opts.stopAfter == p.name)
      break;
  }
  return llvm::Error::success();
}

llvm::Error Compilation::runLLVM() {
  assert(opts.targetMachine && "the LLVM stage optimises for a target");
  assert(opts.stopAfter.empty() && "the IR stage stopped before its end");
  // Codegen's decisions on the IR as it is now (the REPL trims the module
  // between the stages), each followed by the IR verifier.
  std::string failedAfter;
  transforms::runOptimisationPasses(
      *ir, decisionOptions(*this),
      [&](llvm::StringRef pass, const ir::Module &m) {
        if (opts.verify && failedAfter.empty())
          if (std::string err = ir::verify(m); !err.empty())
            failedAfter = err + " (after " + pass.str() + ")";
      });
  if (!failedAfter.empty())
    return llvm::make_error<VerifierError>(failedAfter);
  llvmContext = std::make_unique<llvm::LLVMContext>();
  llvm = codegen::emitLLVM(*ir, *llvmContext, opts.checkNumerics,
                           opts.interruptible);
  usesBlas = llvm->getFunction("cblas_dgemm") != nullptr;
  if (!opts.cInterfacePrefix.empty())
    codegen::addCInterface(*ir, *llvm, opts.cInterfacePrefix,
                           opts.cInterfaceSeed, opts.cInterfaceParams,
                           opts.cInterfaceTrain);
  if (opts.verify) {
    std::string err;
    llvm::raw_string_ostream os(err);
    if (llvm::verifyModule(*llvm, &os))
      return llvm::make_error<VerifierError>("LLVM verifier: " + os.str() +
                                             " (after codegen)");
  }
  codegen::optimize(*llvm, *opts.targetMachine, opts.optLevel);
  return llvm::Error::success();
}

llvm::Expected<std::unique_ptr<JIT>> compileToJIT(Compilation &c) {
  auto jit = JIT::create();
  if (!jit)
    return llvm::createStringError("cannot start the JIT: " +
                                   llvm::toString(jit.takeError()));
  c.opts.targetMachine = &(*jit)->targetMachine();
  llvm::Error compiled = c.compileTo(Stage::LLVM);
  c.opts.targetMachine = nullptr;
  if (compiled)
    return std::move(compiled);
  std::unique_ptr<JIT> j = std::move(*jit);
  if (codegen::hasHugeFunction(*c.llvm)) {
    auto fast = JIT::create(/*fastCodegen=*/true);
    if (fast)
      j = std::move(*fast);
    else
      llvm::consumeError(fast.takeError());
  }
  if (auto err = j->add(std::move(c.llvm), std::move(c.llvmContext)))
    return llvm::createStringError("JIT: " + llvm::toString(std::move(err)));
  return std::move(j);
}

} // namespace bp
