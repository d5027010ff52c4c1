//===- CInterface.cpp - the C ABI of `bpc build` --------------------------===//
//
// For an AOT build, every exported BP function `f` gets a C wrapper
// `<prefix>_f` (docs/ABI.md):
//   - scalars by value: f64 -> double, int -> int64_t, bool -> int (0/1);
//   - tensors as `const double *` (row-major), shapes in the header; int
//     tensors as `const int64_t *`;
//   - one scalar result is returned; otherwise the function returns void and
//     writes every result through a caller-allocated out-pointer (tensors:
//     numElements doubles). Outputs are overwritten, never accumulated, so
//     callers need not zero them.
// plus `double *<prefix>_param_<p>(void)` for every param (its storage,
// initialised at build time from the initialisers and --seed), and
// `int <prefix>_load_params(path, error, size)` for `bpc train --save` files,
// and the runtime's functions for programs as `<prefix>_set_error_hook` etc.
// Everything else the module defines becomes local (internal linkage).
//
//===----------------------------------------------------------------------===//
#include "codegen/CInterface.h"

#include "codegen/CNames.h"
#include "codegen/CodeGen.h"

#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Module.h"

#include <cctype>
#include <functional>
#include <map>
#include <ostream>
#include <set>
#include <sstream>

namespace bp::codegen {

bool isExportedParam(const ir::Param &p) { return p.name.rfind("__", 0) != 0; }

/// `bpc build` of a model with a train block: the train-step pass left the
/// per-example step and the optimiser step (ad::buildTrainStep,
/// batch::buildTrainUpdate), and `<prefix>_train_step` calls them.
static bool hasTrainStep(const ir::Module &m) {
  return m.lookup("__train_step") && m.lookup("__train_update");
}
static std::string trainStepSymbol(const std::string &prefix) {
  return prefix + "_train_step";
}

bool isExported(const ir::Function &f) {
  for (char c : f.name)
    if (!isalnum((unsigned char)c) && c != '_')
      return false; // f.rev.10, grad(f, x): internal
  return f.name.rfind("__", 0) != 0;
}

static bool singleScalarResult(const ir::Function &f) {
  return f.resultTypes.size() == 1 && !f.resultTypes[0]->isTensor();
}

// The C names of the library and header (docs/ABI.md "Names"): one place,
// for the wrappers, the header and the clash check.
static std::string upper(std::string s) {
  for (char &c : s)
    c = (char)toupper((unsigned char)c);
  return s;
}
static std::string fnSymbol(const std::string &prefix, const std::string &f) {
  return prefix + "_" + f;
}
static std::string paramAccessor(const std::string &prefix,
                                 const std::string &p) {
  return prefix + "_param_" + p;
}
static std::string loadParamsSymbol(const std::string &prefix) {
  return prefix + "_load_params";
}
static std::string paramSizeMacro(const std::string &prefix,
                                  const std::string &p) {
  return upper(prefix) + "_PARAM_" + p + "_SIZE";
}
/// The size macro of a tensor argument or result `name` of `f`.
static std::string sizeMacro(const std::string &prefix, const std::string &f,
                             const std::string &name) {
  return upper(prefix) + "_" + f + "_" + name + "_SIZE";
}
static std::string includeGuard(const std::string &prefix) {
  return "BP_" + upper(prefix) + "_H";
}

namespace {
/// A runtime function for programs (docs/ABI.md "Runtime errors",
/// "Limits"): `<prefix>_<name>` forwards to the runtime's `bp_<name>`, and
/// the header maps the unprefixed `bp_<name>` of earlier versions to it.
struct RuntimeEntry {
  const char *name;
  const char *cParam; // the prototype's parameter
  bool pointerArg;    // else int64_t
};
} // namespace
static constexpr RuntimeEntry runtimeEntries[] = {
    {"set_error_hook", "bp_error_hook hook", true},
    {"set_recursion_limit", "int64_t calls", false},
    {"set_tape_limit", "int64_t bytes", false},
    {"catch_stack_overflow", "const char *file", true},
};
static std::string runtimeSymbol(const std::string &prefix,
                                 const RuntimeEntry &e) {
  return prefix + "_" + e.name;
}

/// The names of f's out-pointers: `grad_<var>` for grad, `value` +
/// `grad_<var>` for value_and_grad, `value` + `tangent` for jvp, `out0`,
/// `out1`, ... otherwise; one equal to an argument's (or an earlier
/// result's) name gets `_` appended until it is not.
static std::vector<std::string> resultNames(const ir::Module &m,
                                            const ir::Function &f) {
  const ir::DerivedInfo *d = m.lookupDerived(f.name);
  std::set<std::string> taken;
  for (auto &a : f.args())
    taken.insert(a->name);
  std::vector<std::string> names;
  for (size_t i = 0; i < f.resultTypes.size(); ++i) {
    std::string n = "out" + std::to_string(i);
    bool gradient = d && (d->kind == ir::DerivKind::Grad ||
                          d->kind == ir::DerivKind::ValueAndGrad);
    if (gradient) {
      size_t first = d->kind == ir::DerivKind::ValueAndGrad ? 1 : 0;
      n = i < first ? "value" : "grad_" + d->wrt[i - first].name;
    } else if (d && d->kind == ir::DerivKind::Jvp) {
      n = i == 0 ? "value" : "tangent";
    } // vmap: out0, out1, ... (the base's results, batched)
    while (taken.count(n))
      n += '_';
    taken.insert(n);
    names.push_back(n);
  }
  return names;
}

/// Calls `add(name, what, loc, isMacro)` for every C name that the library
/// and header define, in order: bpc's own (no location), then each param's,
/// then each exported function's with its arguments' and results' size
/// macros (at the function).
template <class Add>
static void forEachCName(const ir::Module &m, const std::string &prefix,
                         Add add) {
  add(includeGuard(prefix), "the header's include guard", Loc{}, true);
  add(loadParamsSymbol(prefix), "the params loader of the library", Loc{},
      false);
  for (const RuntimeEntry &e : runtimeEntries) {
    add(runtimeSymbol(prefix, e),
        std::string("the runtime's '") + e.name + "' of the library", Loc{},
        false);
    add(std::string("bp_") + e.name, "a macro of the header", Loc{}, true);
  }
  if (hasTrainStep(m))
    add(trainStepSymbol(prefix), "the training step of the library", Loc{},
        false);
  for (auto &p : m.params) {
    if (!isExportedParam(p))
      continue;
    add(paramAccessor(prefix, p.name), "the accessor of param '" + p.name + "'",
        p.loc, false);
    add(paramSizeMacro(prefix, p.name),
        "the size macro of param '" + p.name + "'", p.loc, true);
  }
  for (auto &fp : m.functions) {
    const ir::Function &f = *fp;
    if (!isExported(f))
      continue;
    std::string fn = "fn '" + f.name + "'";
    add(fnSymbol(prefix, f.name), fn, f.loc, false);
    for (auto &a : f.args())
      if (a->type->isTensor())
        add(sizeMacro(prefix, f.name, a->name),
            "the size macro of argument '" + a->name + "' of " + fn, f.loc,
            true);
    std::vector<std::string> outs = resultNames(m, f);
    for (size_t i = 0; i < outs.size(); ++i)
      if (f.resultTypes[i]->isTensor())
        add(sizeMacro(prefix, f.name, outs[i]),
            "the size macro of result '" + outs[i] + "' of " + fn, f.loc, true);
  }
}

/// Every macro the header defines.
static std::set<std::string> headerMacros(const ir::Module &m,
                                          const std::string &prefix) {
  std::set<std::string> macros;
  forEachCName(
      m, prefix,
      [&](const std::string &name, const std::string &, Loc, bool isMacro) {
        if (isMacro)
          macros.insert(name);
      });
  return macros;
}

namespace {
/// What a C name of the build stands for, for the clash messages.
struct Origin {
  std::string what;
  Loc loc; // 0:0: generated by bpc build itself
};
} // namespace

bool checkCNames(const ir::Module &m, const std::string &prefix,
                 DiagEngine &diags) {
  std::map<std::string, Origin> names;
  bool ok = true;
  forEachCName(
      m, prefix,
      [&](const std::string &c, const std::string &what, Loc loc, bool) {
        auto [it, fresh] = names.emplace(c, Origin{what, loc});
        std::string problem;
        if (!fresh) {
          problem = "which is also " + it->second.what;
          if (it->second.loc.line)
            problem += " (" + std::to_string(it->second.loc.line) + ":" +
                       std::to_string(it->second.loc.col) + ")";
        } else if (isCWord(c)) {
          problem = "a C or C++ keyword or C library name";
        }
        if (problem.empty())
          return;
        diags.error(loc, what + " would be the C name '" + c + "', " + problem +
                             "; rename it or choose another --prefix");
        ok = false;
      });
  return ok;
}

namespace {
/// Loops for addTrainStep, their counters in allocas (mem2reg makes them
/// registers).
struct LoopBuilder {
  llvm::IRBuilder<> &b;
  llvm::Function *fn;
  /// while (cond()) body(); then b continues after the loop.
  void loopWhile(const std::function<llvm::Value *()> &cond,
                 const std::function<void()> &body) {
    llvm::LLVMContext &ctx = fn->getContext();
    auto *head = llvm::BasicBlock::Create(ctx, "while", fn);
    auto *inside = llvm::BasicBlock::Create(ctx, "do", fn);
    auto *after = llvm::BasicBlock::Create(ctx, "done", fn);
    b.CreateBr(head);
    b.SetInsertPoint(head);
    b.CreateCondBr(cond(), inside, after);
    b.SetInsertPoint(inside);
    body();
    b.CreateBr(head);
    b.SetInsertPoint(after);
  }
  /// for (k = 0; k < count; ++k) body(k).
  void loopFor(int64_t count, const std::function<void(llvm::Value *)> &body) {
    llvm::AllocaInst *k = counter();
    loopWhile([&] { return b.CreateICmpSLT(load(k), b.getInt64(count)); },
              [&] {
                body(load(k));
                b.CreateStore(b.CreateAdd(load(k), b.getInt64(1)), k);
              });
  }
  llvm::AllocaInst *counter() {
    llvm::IRBuilder<> top(&fn->getEntryBlock(), fn->getEntryBlock().begin());
    llvm::AllocaInst *k = top.CreateAlloca(b.getInt64Ty());
    b.CreateStore(b.getInt64(0), k);
    return k;
  }
  llvm::Value *load(llvm::AllocaInst *k) {
    return b.CreateLoad(k->getAllocatedType(), k);
  }
};
} // namespace

/// The rows row(0..B) into `in`, the layout of a batched function's
/// dynamic wrapper: each argument's B examples in turn.
static void
gatherChunk(LoopBuilder &loops, llvm::Value *in,
            const std::vector<int64_t> &argSizes, int64_t B,
            const std::function<llvm::Value *(llvm::Value *)> &row) {
  llvm::IRBuilder<> &b = loops.b;
  llvm::Type *f64 = b.getDoubleTy();
  int64_t at = 0, col = 0;
  for (int64_t size : argSizes) {
    loops.loopFor(B, [&](llvm::Value *e) {
      llvm::Value *src = b.CreateGEP(f64, row(e), b.getInt64(col));
      llvm::Value *dst = b.CreateGEP(
          f64, in,
          b.CreateAdd(b.getInt64(at), b.CreateMul(e, b.getInt64(size))));
      b.CreateMemCpy(dst, llvm::MaybeAlign(8), src, llvm::MaybeAlign(8),
                     b.getInt64(size * 8));
    });
    at += B * size;
    col += size;
  }
}

/// grads[p] += the batched step's gradient sums (`out` after its loss).
static void addGradients(LoopBuilder &loops,
                         const std::vector<llvm::GlobalVariable *> &grads,
                         const std::vector<int64_t> &sizes, llvm::Value *out) {
  llvm::IRBuilder<> &b = loops.b;
  llvm::Type *f64 = b.getDoubleTy();
  int64_t off = 1;
  for (size_t p = 0; p < grads.size(); ++p) {
    loops.loopFor(sizes[p], [&](llvm::Value *e) {
      llvm::Value *g = b.CreateGEP(f64, grads[p], e);
      llvm::Value *d = b.CreateGEP(f64, out, b.CreateAdd(e, b.getInt64(off)));
      b.CreateStore(b.CreateFAdd(b.CreateLoad(f64, g), b.CreateLoad(f64, d)),
                    g);
    });
    off += sizes[p];
  }
}

/// The learning rate of the epoch that the rows seen before this step are
/// in (`bp.train.rows_seen`, which then counts these n too).
static llvm::Value *epochRate(llvm::IRBuilder<> &b, llvm::Module &mod,
                              const TrainStepSpec &train, llvm::Value *n) {
  llvm::Type *f64 = b.getDoubleTy(), *i64 = b.getInt64Ty();
  auto *seen = new llvm::GlobalVariable(mod, i64, false,
                                        llvm::GlobalValue::InternalLinkage,
                                        b.getInt64(0), "bp.train.rows_seen");
  auto *lrTy = llvm::ArrayType::get(f64, train.lrPerEpoch.size());
  auto *lrs = new llvm::GlobalVariable(
      mod, lrTy, true, llvm::GlobalValue::PrivateLinkage,
      llvm::ConstantDataArray::get(mod.getContext(), train.lrPerEpoch),
      "bp.train.lr");
  llvm::Value *before = b.CreateLoad(i64, seen);
  llvm::Value *epoch = b.CreateUDiv(
      before, b.getInt64(std::max<int64_t>(train.rowsPerEpoch, 1)));
  llvm::Value *last = b.getInt64((int64_t)train.lrPerEpoch.size() - 1);
  epoch = b.CreateSelect(b.CreateICmpUGT(epoch, last), last, epoch);
  b.CreateStore(b.CreateAdd(before, n), seen);
  return b.CreateLoad(f64, b.CreateGEP(f64, lrs, epoch));
}

static bool reaches(const std::set<const llvm::Function *> &roots,
                    const llvm::Function *target);

/// `double <prefix>_train_step(const double *rows, int64_t n)`: zeroes the
/// accumulators `__grad.<p>`; runs the batched step `__train_step.<B>` on
/// each full chunk of B rows (gathered into its layout: each argument's B
/// examples in turn; its gradient sums added to the accumulators, as `bpc
/// train` does) and the per-example `__train_step` on the rest (a row as
/// the CSV has it: the loss's arguments in order); then
/// `__train_update(1 / n, lr)` at the learning rate of the epoch the rows
/// seen so far are in. Returns the mean loss before the update; n < 1 is
/// no step and returns NaN.
static llvm::Function *
addTrainStep(const ir::Module &m, llvm::Module &mod, const std::string &prefix,
             const TrainStepSpec &train,
             const std::set<const llvm::Function *> &api) {
  // OpenBLAS only for the batched step: optional (a weak reference).
  if (llvm::Function *blas = mod.getFunction("cblas_dgemm");
      blas && !reaches(api, blas))
    blas->setLinkage(llvm::GlobalValue::ExternalWeakLinkage);
  llvm::LLVMContext &ctx = mod.getContext();
  llvm::IRBuilder<> b(ctx);
  llvm::Type *f64 = b.getDoubleTy(), *i64 = b.getInt64Ty(), *ptr = b.getPtrTy();
  auto *fn = llvm::Function::Create(
      llvm::FunctionType::get(f64, {ptr, i64}, false),
      llvm::GlobalValue::ExternalLinkage, trainStepSymbol(prefix), mod);
  llvm::Value *rows = fn->getArg(0), *n = fn->getArg(1);
  auto *entry = llvm::BasicBlock::Create(ctx, "entry", fn);
  auto *none = llvm::BasicBlock::Create(ctx, "none", fn);
  auto *start = llvm::BasicBlock::Create(ctx, "start", fn);
  b.SetInsertPoint(entry);
  auto *lossOut = b.CreateAlloca(f64, nullptr, "loss.out");
  auto *updateIn = b.CreateAlloca(f64, b.getInt32(2), "update.in");
  auto *updateOut =
      b.CreateAlloca(f64, b.getInt32(1 + train.params.size()), "update.out");
  auto *sum = b.CreateAlloca(f64, nullptr, "sum");
  b.CreateCondBr(b.CreateICmpSLT(n, b.getInt64(1)), none, start);
  b.SetInsertPoint(none);
  b.CreateRet(llvm::ConstantFP::getNaN(f64));

  b.SetInsertPoint(start);
  LoopBuilder loops{b, fn};
  std::vector<llvm::GlobalVariable *> grads;
  std::vector<int64_t> sizes;
  for (const std::string &p : train.params) {
    const ir::Param *decl = m.lookupParam("__grad." + p);
    sizes.push_back(decl->type->isTensor() ? decl->type->numElements() : 1);
    grads.push_back(mod.getGlobalVariable(paramSymbol("__grad." + p)));
    b.CreateMemSet(grads.back(), b.getInt8(0), b.getInt64(sizes.back() * 8),
                   llvm::MaybeAlign(8));
  }
  std::vector<int64_t> argSizes;
  int64_t width = 0;
  for (auto &a : m.lookup("__train_step")->args()) {
    argSizes.push_back(a->type->isTensor() ? a->type->numElements() : 1);
    width += argSizes.back();
  }
  b.CreateStore(llvm::ConstantFP::get(f64, 0.0), sum);
  llvm::AllocaInst *i = loops.counter(); // rows done
  auto rowAt = [&](llvm::Value *r) {
    return b.CreateGEP(f64, rows, b.CreateMul(r, b.getInt64(width)));
  };

  // Full chunks of B rows through the batched step; when only it calls
  // OpenBLAS, and the program was linked without it (cblas_dgemm weak and
  // null), every row goes through the per-example step.
  int64_t B = train.batchedSize;
  llvm::Function *blas = mod.getFunction("cblas_dgemm");
  if (llvm::Function *batched =
          B > 0 ? mod.getFunction(dynamicSymbol(train.batchedStep)) : nullptr) {
    llvm::Value *linked = b.getTrue();
    if (blas && blas->hasExternalWeakLinkage())
      linked =
          b.CreateICmpNE(blas, llvm::ConstantPointerNull::get(b.getPtrTy()));
    int64_t outSize = 1;
    for (int64_t size : sizes)
      outSize += size;
    auto buffer = [&](int64_t count, const char *name) {
      auto *t = llvm::ArrayType::get(f64, count);
      return new llvm::GlobalVariable(mod, t, false,
                                      llvm::GlobalValue::InternalLinkage,
                                      llvm::Constant::getNullValue(t), name);
    };
    llvm::GlobalVariable *in = buffer(B * width, "bp.train.in"),
                         *out = buffer(outSize, "bp.train.out");
    loops.loopWhile(
        [&] {
          return b.CreateAnd(
              linked,
              b.CreateICmpSLE(b.CreateAdd(loops.load(i), b.getInt64(B)), n));
        },
        [&] {
          llvm::Value *first = loops.load(i);
          gatherChunk(loops, in, argSizes, B, [&](llvm::Value *e) {
            return rowAt(b.CreateAdd(first, e));
          });
          b.CreateCall(batched, {in, out});
          b.CreateStore(
              b.CreateFAdd(b.CreateLoad(f64, sum), b.CreateLoad(f64, out)),
              sum);
          addGradients(loops, grads, sizes, out);
          b.CreateStore(b.CreateAdd(first, b.getInt64(B)), i);
        });
  }
  // The rest, one row at a time.
  llvm::Function *single = mod.getFunction(dynamicSymbol("__train_step"));
  loops.loopWhile([&] { return b.CreateICmpSLT(loops.load(i), n); },
                  [&] {
                    llvm::Value *r = loops.load(i);
                    b.CreateCall(single, {rowAt(r), lossOut});
                    b.CreateStore(b.CreateFAdd(b.CreateLoad(f64, sum),
                                               b.CreateLoad(f64, lossOut)),
                                  sum);
                    b.CreateStore(b.CreateAdd(r, b.getInt64(1)), i);
                  });

  llvm::Value *lr = epochRate(b, mod, train, n);
  llvm::Value *nf = b.CreateSIToFP(n, f64);
  b.CreateStore(b.CreateFDiv(llvm::ConstantFP::get(f64, 1.0), nf), updateIn);
  b.CreateStore(lr, b.CreateConstGEP1_64(f64, updateIn, 1));
  b.CreateCall(mod.getFunction(dynamicSymbol("__train_update")),
               {updateIn, updateOut});
  b.CreateRet(b.CreateFDiv(b.CreateLoad(f64, sum), nf));
  return fn;
}

/// Whether a call from one of `roots` leads to `target`.
static bool reaches(const std::set<const llvm::Function *> &roots,
                    const llvm::Function *target) {
  std::set<const llvm::Function *> seen(roots.begin(), roots.end());
  std::vector<const llvm::Function *> work(roots.begin(), roots.end());
  while (!work.empty()) {
    const llvm::Function *f = work.back();
    work.pop_back();
    for (const llvm::BasicBlock &bb : *f)
      for (const llvm::Instruction &inst : bb)
        if (auto *call = llvm::dyn_cast<llvm::CallBase>(&inst))
          if (const llvm::Function *callee = call->getCalledFunction()) {
            if (callee == target)
              return true;
            if (!callee->isDeclaration() && seen.insert(callee).second)
              work.push_back(callee);
          }
  }
  return false;
}

/// The runtime's functions for programs, under the prefix: each forwards
/// to the runtime's `bp_<name>`.
static void addRuntimeWrappers(llvm::Module &mod, const std::string &prefix,
                               std::set<const llvm::Function *> &api) {
  llvm::IRBuilder<> b(mod.getContext());
  for (const RuntimeEntry &e : runtimeEntries) {
    auto *ft = llvm::FunctionType::get(
        b.getVoidTy(),
        {e.pointerArg ? (llvm::Type *)b.getPtrTy() : b.getInt64Ty()}, false);
    auto *fn = llvm::Function::Create(ft, llvm::GlobalValue::ExternalLinkage,
                                      runtimeSymbol(prefix, e), mod);
    api.insert(fn);
    b.SetInsertPoint(llvm::BasicBlock::Create(mod.getContext(), "entry", fn));
    b.CreateCall(mod.getOrInsertFunction(std::string("bp_") + e.name, ft),
                 {fn->getArg(0)});
    b.CreateRetVoid();
  }
}

/// Only the C interface `api` leaves the object: BP's functions (`bp.f`),
/// params (`bp.param.p`) and everything else it defines become local, so
/// that models with the same names link into one program (docs/ABI.md).
static void keepOnly(llvm::Module &mod,
                     const std::set<const llvm::Function *> &api) {
  for (llvm::Function &f : mod)
    if (!f.isDeclaration() && !api.count(&f))
      f.setLinkage(llvm::GlobalValue::InternalLinkage);
  for (llvm::GlobalVariable &g : mod.globals())
    if (!g.isDeclaration() && !g.hasLocalLinkage())
      g.setLinkage(llvm::GlobalValue::InternalLinkage);
}

void addCInterface(const ir::Module &m, llvm::Module &mod,
                   const std::string &prefix, uint64_t seed,
                   const std::map<std::string, std::vector<double>> &loaded,
                   const TrainStepSpec *train) {
  llvm::LLVMContext &ctx = mod.getContext();
  llvm::IRBuilder<> b(ctx);
  llvm::Type *f64 = b.getDoubleTy(), *i64 = b.getInt64Ty(),
             *i32 = b.getInt32Ty(), *ptr = b.getPtrTy();
  auto cType = [&](const Type *t) -> llvm::Type * {
    return t->isTensor() ? ptr : t->isF64() ? f64 : t->isInt() ? i64 : i32;
  };
  std::set<const llvm::Function *> api; // what leaves the object

  // Params: build-time initial values, accessors, and the load table.
  std::vector<llvm::Constant *> entries;
  auto *entryTy =
      llvm::StructType::get(ctx, {ptr, ptr, i64, llvm::ArrayType::get(i64, 4)});
  for (size_t k = 0; k < m.params.size(); ++k) {
    const ir::Param &p = m.params[k];
    auto *g = mod.getGlobalVariable(paramSymbol(p.name));
    auto given = loaded.find(p.name);
    std::vector<double> v =
        given != loaded.end() ? given->second : ir::initialValues(p, k, seed);
    if (p.type->isTensor())
      g->setInitializer(llvm::ConstantDataArray::get(ctx, v));
    else
      g->setInitializer(llvm::ConstantFP::get(f64, v[0]));
    if (!isExportedParam(p))
      continue; // training state: zero, internal
    auto *get = llvm::Function::Create(llvm::FunctionType::get(ptr, {}, false),
                                       llvm::GlobalValue::ExternalLinkage,
                                       paramAccessor(prefix, p.name), mod);
    api.insert(get);
    b.SetInsertPoint(llvm::BasicBlock::Create(ctx, "entry", get));
    b.CreateRet(g);
    std::vector<llvm::Constant *> dims;
    for (size_t d = 0; d < 4; ++d)
      dims.push_back(
          b.getInt64(d < p.type->shape.size() ? p.type->shape[d] : 0));
    entries.push_back(llvm::ConstantStruct::get(
        entryTy,
        {b.CreateGlobalStringPtr(p.name, "bp.pname", 0, &mod), g,
         b.getInt64(p.type->shape.size()),
         llvm::ConstantArray::get(llvm::ArrayType::get(i64, 4), dims)}));
  }
  auto *tableTy = llvm::ArrayType::get(entryTy, entries.size());
  auto *table = new llvm::GlobalVariable(
      mod, tableTy, true, llvm::GlobalValue::PrivateLinkage,
      llvm::ConstantArray::get(tableTy, entries), "bp.params");
  auto *load = llvm::Function::Create(
      llvm::FunctionType::get(i32, {ptr, ptr, i64}, false),
      llvm::GlobalValue::ExternalLinkage, loadParamsSymbol(prefix), mod);
  api.insert(load);
  b.SetInsertPoint(llvm::BasicBlock::Create(ctx, "entry", load));
  auto loader = mod.getOrInsertFunction(
      "bp_load_params",
      llvm::FunctionType::get(i32, {ptr, i64, ptr, ptr, i64}, false));
  b.CreateRet(
      b.CreateCall(loader, {table, b.getInt64(entries.size()), load->getArg(0),
                            load->getArg(1), load->getArg(2)}));

  // Function wrappers.
  for (auto &fp : m.functions) {
    const ir::Function &f = *fp;
    if (!isExported(f))
      continue;
    llvm::Function *inner = mod.getFunction(functionSymbol(f.name));
    std::vector<llvm::Type *> params;
    for (auto &a : f.args())
      params.push_back(cType(a->type));
    bool direct = singleScalarResult(f);
    if (!direct)
      for (size_t i = 0; i < f.resultTypes.size(); ++i)
        params.push_back(ptr);
    llvm::Type *ret = direct ? cType(f.resultTypes[0]) : b.getVoidTy();
    auto *fn = llvm::Function::Create(
        llvm::FunctionType::get(ret, params, false),
        llvm::GlobalValue::ExternalLinkage, fnSymbol(prefix, f.name), mod);
    api.insert(fn);
    b.SetInsertPoint(llvm::BasicBlock::Create(ctx, "entry", fn));
    std::vector<llvm::Value *> args;
    for (size_t i = 0; i < f.args().size(); ++i) {
      llvm::Value *a = fn->getArg(i);
      if (f.args()[i]->type->isBool())
        a = b.CreateICmpNE(a, b.getInt32(0));
      args.push_back(a);
    }
    size_t outBase = f.args().size();
    for (size_t i = 0; i < f.resultTypes.size(); ++i)
      if (f.resultTypes[i]->isTensor())
        args.push_back(fn->getArg(outBase + i));
    llvm::Value *r = b.CreateCall(inner, args);
    if (direct) {
      llvm::Value *v = r;
      if (f.resultTypes[0]->isBool())
        v = b.CreateZExt(v, i32);
      b.CreateRet(v);
      continue;
    }
    auto results = scalarResults(b, r, f.resultTypes);
    for (size_t i = 0; i < f.resultTypes.size(); ++i) {
      llvm::Value *v = results[i];
      if (!v)
        continue;
      if (f.resultTypes[i]->isBool())
        v = b.CreateZExt(v, i32);
      b.CreateStore(v, fn->getArg(outBase + i));
    }
    b.CreateRetVoid();
  }

  addRuntimeWrappers(mod, prefix, api);
  if (train && hasTrainStep(m))
    api.insert(addTrainStep(m, mod, prefix, *train, api));
  keepOnly(mod, api);
}

namespace {

std::string cTypeName(const Type *t) {
  if (t->isIntTensor())
    return "const int64_t *";
  if (t->isTensor())
    return "const double *";
  if (t->isF64())
    return "double ";
  if (t->isInt())
    return "int64_t ";
  return "int ";
}

std::string outTypeName(const Type *t) {
  if (t->isIntLike())
    return "int64_t *";
  if (t->isTensor() || t->isF64())
    return "double *";
  return "int *";
}

} // namespace

std::string bpSignature(const ir::Module &m, const ir::Function &f) {
  std::ostringstream os;
  const ir::DerivedInfo *d = m.lookupDerived(f.name);
  os << "fn " << f.name;
  if (d) {
    os << " = " << ir::spelling(d->kind) << "(" << d->base;
    if (d->kind == ir::DerivKind::Vmap)
      os << ", " << d->batch;
    for (auto &v : d->wrt)
      os << ", " << v.name;
    os << ")";
  } else {
    os << "(";
    for (size_t i = 0; i < f.args().size(); ++i)
      os << (i ? ", " : "") << f.args()[i]->name << ": "
         << toString(f.args()[i]->type);
    os << ")";
  }
  if (!f.resultTypes.empty()) {
    os << " -> ";
    for (size_t i = 0; i < f.resultTypes.size(); ++i)
      os << (i ? ", " : "") << toString(f.resultTypes[i]);
  }
  return os.str();
}

/// `path` for a C comment: no line break, `*/` or `/*` (-Wcomment).
static std::string commentSafe(const std::string &path) {
  std::string s;
  for (char c : path) {
    char prev = s.empty() ? 0 : s.back();
    bool bad = c == '\n' || c == '\r' || (c == '/' && prev == '*') ||
               (c == '*' && prev == '/');
    s += bad ? '_' : c;
  }
  return s;
}

/// The runtime's functions for programs, and the old names' macros.
static void writeRuntimeDecls(std::ostream &os, const std::string &prefix) {
  os << "#ifndef BP_ERROR_HOOK_DEFINED\n#define BP_ERROR_HOOK_DEFINED\n"
     << "typedef void (*bp_error_hook)(const char *message);\n#endif\n"
     << "/* The runtime of this library (docs/ABI.md). Limits: nested "
        "recursive calls\n"
     << " * (default 1000000 or $BP_RECURSION_LIMIT), gradient tape bytes "
        "(default\n"
     << " * 4096 MB or $BP_TAPE_LIMIT_MB). catch_stack_overflow: a SIGSEGV "
        "handler\n"
     << " * for the calling thread reporting stack overflows as runtime "
        "errors. */\n";
  for (const RuntimeEntry &e : runtimeEntries)
    os << "void " << runtimeSymbol(prefix, e) << "(" << e.cParam << ");\n";
  os << "/* The unprefixed names of earlier versions: the first header "
        "included\n * defines them. */\n";
  for (const RuntimeEntry &e : runtimeEntries)
    os << "#ifndef bp_" << e.name << "\n#define bp_" << e.name << " "
       << runtimeSymbol(prefix, e) << "\n#endif\n";
  os << "\n";
}

static void writeTrainStepDecl(std::ostream &os, const std::string &prefix) {
  os << "/* One optimizer step of the train block (its optimizer, clipping "
        "and\n"
     << " * schedule; the optimizer's state lives in the library) on n rows "
        "laid\n"
     << " * out as in its CSV data, row-major. Returns the rows' mean loss "
        "before\n"
     << " * the update (NaN, and no step, for n < 1). Not thread-safe: it "
        "writes\n"
     << " * the params. */\n"
     << "double " << trainStepSymbol(prefix)
     << "(const double *rows, int64_t n);\n\n";
}

/// The header comment's lines on linking the library.
static void writeBuildNotes(std::ostream &os, const std::string &prefix,
                            const HeaderNotes &notes) {
  os << (notes.usesBlas
             ? " * Large matrix products call OpenBLAS's cblas_dgemm: "
               "programs\n * linking the .a or .o also link -lopenblas "
               "(the .so has it).\n"
             : "")
     << (notes.optionalBlas
             ? " * Programs linking the .a or .o with -Wl,--no-as-needed "
               "-lopenblas too get\n * the batched training step (OpenBLAS's "
               "cblas_dgemm, a weak reference) in\n * " +
                   trainStepSymbol(prefix) + ".\n"
             : std::string())
     << (notes.linkLine.empty()
             ? std::string()
             : " * Link a program with: " + commentSafe(notes.linkLine) + "\n");
}

void writeCHeader(const ir::Module &m, const std::string &prefix,
                  const std::string &source, std::ostream &os,
                  const HeaderNotes &notes) {
  std::string guard = includeGuard(prefix);
  std::set<std::string> macros = headerMacros(m, prefix);
  std::string from = commentSafe(source);
  os << "/* " << prefix << ".h: generated by `bpc build` from " << from
     << ". Do not edit.\n"
     << " * C ABI (docs/ABI.md): scalars by value (f64 -> double, int ->\n"
     << " * int64_t, bool -> int); tensors are row-major arrays of double\n"
     << " * (int tensors: of int64_t).\n"
     << " * A function with one scalar result returns it; otherwise it "
        "returns\n"
     << " * void and writes every result through an out-pointer that the "
        "caller\n"
     << " * allocates (tensors: the _SIZE in doubles). Outputs, gradients\n"
     << " * included, are overwritten, never accumulated: no zeroing needed.\n"
     << " * Runtime errors (failed assert, index out of range, recursion "
        "or\n"
     << " * gradient tape over its limit) print `FILE:LINE:COL: runtime "
        "error:\n"
     << " * MESSAGE` to stderr, call the hook set with " << prefix
     << "_set_error_hook\n"
     << " * (it may longjmp out), then exit(3).\n";
  writeBuildNotes(os, prefix, notes);
  os << " */\n"
     << "#ifndef " << guard << "\n#define " << guard << "\n\n"
     << "#include <stdint.h>\n\n#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n";
  writeRuntimeDecls(os, prefix);
  for (auto &p : m.params) {
    if (!isExportedParam(p))
      continue;
    os << "/* param " << p.name << ": " << toString(p.type)
       << (notes.paramsFile.empty()
               ? std::string(" (initialised at build time)")
               : " (initialised from " + commentSafe(notes.paramsFile) +
                     " at build time)")
       << " */\n";
    int64_t n = p.type->isTensor() ? p.type->numElements() : 1;
    os << "#define " << paramSizeMacro(prefix, p.name) << " " << n << "\n";
    os << "double *" << paramAccessor(prefix, p.name) << "(void);\n";
  }
  os << "/* Reads a params file written by `bpc train --save`. Returns 0, or "
        "-1\n"
     << " * with `PATH:LINE: message` in error[0..error_size). */\n"
     << "int " << loadParamsSymbol(prefix)
     << "(const char *path, char *error, int64_t error_size);\n\n";
  if (notes.trainStep)
    writeTrainStepDecl(os, prefix);
  for (auto &fp : m.functions) {
    const ir::Function &f = *fp;
    if (!isExported(f))
      continue;
    os << "/* " << bpSignature(m, f) << " */\n";
    for (auto &a : f.args())
      if (a->type->isTensor())
        os << "#define " << sizeMacro(prefix, f.name, a->name) << " "
           << a->type->numElements() << "\n";
    std::vector<std::string> outNames = resultNames(m, f);
    for (size_t i = 0; i < f.resultTypes.size(); ++i)
      if (f.resultTypes[i]->isTensor())
        os << "#define " << sizeMacro(prefix, f.name, outNames[i]) << " "
           << f.resultTypes[i]->numElements() << "\n";
    bool direct = singleScalarResult(f);
    // The prototype's parameter names: BP's, unless C would read them as
    // something else (CNames.h).
    std::vector<std::string> names;
    for (auto &a : f.args())
      names.push_back(a->name);
    if (!direct)
      names.insert(names.end(), outNames.begin(), outNames.end());
    names = headerParamNames(names, macros);
    os << (direct ? cTypeName(f.resultTypes[0]) : std::string("void "))
       << fnSymbol(prefix, f.name) << "(";
    std::vector<std::string> types;
    for (auto &a : f.args())
      types.push_back(cTypeName(a->type));
    if (!direct)
      for (const Type *t : f.resultTypes)
        types.push_back(outTypeName(t));
    for (size_t k = 0; k < names.size(); ++k)
      os << (k ? ", " : "") << types[k] << names[k];
    if (names.empty())
      os << "void";
    os << ");\n\n";
  }
  os << "#ifdef __cplusplus\n}\n#endif\n#endif\n";
}

std::string cFunctionSymbol(const std::string &prefix, const std::string &fn) {
  return fnSymbol(prefix, fn);
}
std::string cParamAccessor(const std::string &prefix, const std::string &p) {
  return paramAccessor(prefix, p);
}
std::string cLoadParamsSymbol(const std::string &prefix) {
  return loadParamsSymbol(prefix);
}
std::string cTrainStepSymbol(const std::string &prefix) {
  return trainStepSymbol(prefix);
}
std::vector<std::string> cResultNames(const ir::Module &m,
                                      const ir::Function &f) {
  return resultNames(m, f);
}

} // namespace bp::codegen
