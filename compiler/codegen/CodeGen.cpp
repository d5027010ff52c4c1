//===- CodeGen.cpp - IR to LLVM IR: functions and control flow ------------===//
//
// Structured regions become basic blocks: `if` -> then/else/merge with phis,
// `for` -> header (phis for the induction variable and carried values) /
// body / exit, `while` -> header (carried phis) / cond / body / exit. A region
// is lowered by `region()`, which returns the values its `yield` produced
// and leaves the builder in the block where control continues.
//
// Calling convention (docs/ABI.md): scalars by value; tensor arguments as
// `const double *`; tensor results through trailing `double *` out-params
// written by the callee; the scalar results are returned (a struct when
// there are several).
//
//===----------------------------------------------------------------------===//
#include "codegen/Emitter.h"

#include "llvm/Analysis/CGSCCPassManager.h"
#include "llvm/Analysis/LoopAnalysisManager.h"
#include "llvm/Analysis/TargetLibraryInfo.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Target/TargetMachine.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <functional>
#include <map>

namespace bp::codegen {

std::string functionSymbol(const std::string &name) { return "bp." + name; }
std::string paramSymbol(const std::string &name) { return "bp.param." + name; }
std::string dynamicSymbol(const std::string &name) { return "bp.dyn." + name; }

std::vector<llvm::Value *>
scalarResults(llvm::IRBuilder<> &b, llvm::Value *ret,
              const std::vector<const Type *> &resultTypes) {
  size_t nScalar = 0;
  for (const Type *t : resultTypes)
    nScalar += !t->isTensor();
  std::vector<llvm::Value *> out;
  for (size_t i = 0, s = 0; i < resultTypes.size(); ++i) {
    if (resultTypes[i]->isTensor()) {
      out.push_back(nullptr);
      continue;
    }
    out.push_back(nScalar == 1 ? ret
                               : b.CreateExtractValue(ret, {(unsigned)s}));
    ++s;
  }
  return out;
}

/// Arenas up to this size live on the stack; larger ones are malloc'ed once
/// per call.
static constexpr uint64_t maxStackArena = 128 * 1024;

std::unique_ptr<llvm::Module> Emitter::run() {
  mod = std::make_unique<llvm::Module>("bp", ctx);
  f64 = b.getDoubleTy();
  i64 = b.getInt64Ty();
  i1 = b.getInt1Ty();
  ptr = b.getPtrTy();
  tapeTy = llvm::StructType::create(ctx, {ptr, i64, i64}, "bp_tape");
  for (auto &p : irMod.params) {
    llvm::Type *t = p.type->isTensor()
                        ? llvm::ArrayType::get(f64, p.type->numElements())
                        : f64;
    auto *g = new llvm::GlobalVariable(
        *mod, t, false, llvm::GlobalValue::ExternalLinkage,
        llvm::Constant::getNullValue(t), paramSymbol(p.name));
    g->setAlignment(llvm::Align(64));
    params[p.name] = g;
  }
  findRecursion();
  for (auto &f : irMod.functions)
    declare(*f);
  for (auto &f : irMod.functions)
    define(*f);
  for (auto &f : irMod.functions)
    defineDynamicWrapper(*f);
  return std::move(mod);
}

llvm::Type *Emitter::type(const Type *t) {
  switch (t->kind) {
  case TypeKind::F64:
    return f64;
  case TypeKind::Int:
    return i64;
  case TypeKind::Bool:
    return i1;
  case TypeKind::Tape:
  case TypeKind::Tensor:
    return ptr;
  default:
    assert(false && "type has no LLVM form");
    return f64;
  }
}

llvm::FunctionType *Emitter::signature(const ir::Function &f) {
  std::vector<llvm::Type *> args, scalars;
  for (auto &a : f.args())
    args.push_back(type(a->type));
  for (const Type *t : f.resultTypes) {
    if (t->isTensor())
      args.push_back(ptr);
    else
      scalars.push_back(type(t));
  }
  llvm::Type *ret = scalars.empty()       ? b.getVoidTy()
                    : scalars.size() == 1 ? scalars[0]
                                          : llvm::StructType::get(ctx, scalars);
  return llvm::FunctionType::get(ret, args, false);
}

void Emitter::declare(const ir::Function &f) {
  auto *fn =
      llvm::Function::Create(signature(f), llvm::GlobalValue::ExternalLinkage,
                             functionSymbol(f.name), *mod);
  fn->addFnAttr(llvm::Attribute::NoUnwind);
  // Frames larger than a page touch every page on the way down, so a stack
  // overflow always hits the guard page (never memory beyond it).
  fn->addFnAttr("probe-stack", "inline-asm");
  for (size_t i = 0; i < fn->arg_size(); ++i) {
    if (i < f.args().size())
      fn->getArg(i)->setName(f.args()[i]->name);
    if (fn->getArg(i)->getType() == ptr)
      fn->addParamAttr(i, llvm::Attribute::NoAlias);
  }
}

/// Tarjan's strongly connected components of the call graph: a call whose
/// callee is in the caller's component (a cycle, or a self call) can
/// recurse, and is guarded at run time.
void Emitter::findRecursion() {
  component.clear();
  selfCalls.clear();
  std::map<std::string, std::set<std::string>> callees;
  std::function<void(const std::string &, const ir::Block &)> collect =
      [&](const std::string &caller, const ir::Block &blk) {
        for (auto &op : blk.ops) {
          if (op->kind == ir::OpKind::Call) {
            callees[caller].insert(op->callee());
            if (op->str == caller)
              selfCalls.insert(caller);
          }
          for (auto &r : op->regions)
            collect(caller, *r);
        }
      };
  for (auto &f : irMod.functions)
    collect(f->name, *f->body);
  std::map<std::string, int> index, low;
  std::set<std::string> onStack;
  std::vector<std::string> stack;
  int next = 0, components = 0;
  std::function<void(const std::string &)> visit = [&](const std::string &v) {
    index[v] = low[v] = next++;
    stack.push_back(v);
    onStack.insert(v);
    for (const std::string &w : callees[v]) {
      if (!index.count(w)) {
        visit(w);
        low[v] = std::min(low[v], low[w]);
      } else if (onStack.count(w)) {
        low[v] = std::min(low[v], index[w]);
      }
    }
    if (low[v] != index[v])
      return;
    std::vector<std::string> members;
    do {
      members.push_back(stack.back());
      onStack.erase(stack.back());
      stack.pop_back();
    } while (members.back() != v);
    int id = components++;
    for (const std::string &m : members)
      if (members.size() > 1 || selfCalls.count(m))
        component[m] = id;
  };
  for (auto &f : irMod.functions)
    if (!index.count(f->name))
      visit(f->name);
}

bool Emitter::mayRecurse(const std::string &caller,
                         const std::string &callee) const {
  auto a = component.find(caller), b = component.find(callee);
  return a != component.end() && b != component.end() && a->second == b->second;
}

void Emitter::define(const ir::Function &f) {
  curIR = &f;
  cur = mod->getFunction(functionSymbol(f.name));
  vals.clear();
  returns.clear();
  outParams.clear();
  arenaBytes = 0;
  arenaSlots.clear();
  auto *entry = llvm::BasicBlock::Create(ctx, "entry", cur);
  b.SetInsertPoint(entry);
  arena = b.CreateAlloca(b.getInt8Ty(), nullptr, "arena.placeholder");
  fileName = b.CreateGlobalStringPtr(irMod.sourcePath, "bp.file");
  for (size_t i = 0; i < f.args().size(); ++i)
    vals[f.args()[i].get()] = cur->getArg(i);
  for (size_t i = f.args().size(); i < cur->arg_size(); ++i)
    outParams.push_back(cur->getArg(i));
  // Return value optimisation: a tensor returned from the top level and
  // made by an op with a buffer of its own is computed in the out-param.
  returnSlots.clear();
  intoParams(*f.body);
  const ir::Op *ret = f.body->terminator();
  size_t t = 0;
  for (ir::Value *v : ret->operands) {
    if (!v->type->isTensor())
      continue;
    Value *out = outParams[t++];
    const ir::Op *d = v->def;
    bool ownBuffer = d && d->parent == f.body.get() &&
                     (d->results.size() == 1 || d->kind == ir::OpKind::Call) &&
                     d->regions.empty() && d->kind != ir::OpKind::ParamLoad &&
                     d->kind != ir::OpKind::Extract &&
                     d->kind != ir::OpKind::Reshape;
    if (ownBuffer && !returnSlots.count(v))
      returnSlots[v] = out;
  }
  region(*f.body);
  finishArena();
}

/// An elementwise op decided `into_param` is computed in the buffer of the
/// param it is stored into (its store then copies nothing).
void Emitter::intoParams(const ir::Block &blk) {
  for (auto &op : blk.ops) {
    for (auto &r : op->regions)
      intoParams(*r);
    const ir::Value *v =
        op->kind == ir::OpKind::ParamStore ? op->operands[0] : nullptr;
    if (v && v->def && v->def->decided.intoParam)
      returnSlots[v] = params.at(op->paramName());
  }
}

/// Replaces the arena placeholder by stack buffers, one per slot (distinct
/// allocas: LLVM's alias analysis then knows that slots never overlap, so
/// an accumulator indexed by a loop counter can live in a register while
/// another slot is written at a data-dependent index), or by one heap
/// buffer of the final size (freed before every return).
void Emitter::finishArena() {
  if (arenaBytes == 0) {
    arena->eraseFromParent();
    return;
  }
  llvm::IRBuilder<> eb(arena);
  Value *real;
  if (arenaBytes <= maxStackArena) {
    auto stackSlot = [&](uint64_t bytes) {
      auto *a = eb.CreateAlloca(llvm::ArrayType::get(b.getInt8Ty(), bytes),
                                nullptr, "slot");
      a->setAlignment(llvm::Align(64));
      return a;
    };
    for (auto &[p, bytes] : arenaSlots)
      if (auto *gep = llvm::dyn_cast<llvm::GetElementPtrInst>(p);
          gep && gep->getPointerOperand() == arena) {
        gep->replaceAllUsesWith(stackSlot(bytes));
        gep->eraseFromParent();
      }
    // A slot at offset 0 may be the placeholder itself.
    if (arena->use_empty()) {
      arena->eraseFromParent();
      return;
    }
    real = stackSlot(arenaSlots.empty() ? arenaBytes : arenaSlots[0].second);
  } else {
    real = eb.CreateCall(runtime("bp_arena_alloc", ptr, {i64}),
                         {eb.getInt64(arenaBytes)}, "arena");
    for (llvm::ReturnInst *r : returns) {
      llvm::IRBuilder<> rb(r);
      rb.CreateCall(runtime("bp_arena_free", b.getVoidTy(), {ptr}), {real});
    }
  }
  arena->replaceAllUsesWith(real);
  arena->eraseFromParent();
}

/// `void bp.dyn.f(const double *in, double *out)`: every argument and
/// result flattened into doubles in order (tensors row-major, ints and int
/// tensors converted, bools as 0/1). Used by `bpc check` to call any function.
void Emitter::defineDynamicWrapper(const ir::Function &f) {
  llvm::Function *callee = mod->getFunction(functionSymbol(f.name));
  auto *ft = llvm::FunctionType::get(b.getVoidTy(), {ptr, ptr}, false);
  auto *fn = llvm::Function::Create(ft, llvm::GlobalValue::ExternalLinkage,
                                    dynamicSymbol(f.name), *mod);
  b.SetInsertPoint(llvm::BasicBlock::Create(ctx, "entry", fn));
  cur = fn; // loop() adds its blocks here
  std::vector<Value *> args, intBuffers;
  // An int tensor's doubles converted into an int64_t buffer (malloc'd:
  // the wrapper has no arena), or back.
  auto intBuffer = [&](const Type *t) {
    Value *buf = b.CreateCall(runtime("malloc", ptr, {i64}),
                              {b.getInt64(t->numElements() * 8)});
    intBuffers.push_back(buf);
    return buf;
  };
  auto convert = [&](Value *from, Value *to, const Type *t, bool toInt) {
    loop(b.getInt64(t->numElements()), [&](Value *i) {
      Value *x = b.CreateLoad(toInt ? f64 : i64, b.CreateGEP(f64, from, i));
      x = toInt
              ? b.CreateIntrinsic(llvm::Intrinsic::fptosi_sat, {i64, f64}, {x})
              : b.CreateSIToFP(x, f64);
      b.CreateStore(x, b.CreateGEP(f64, to, i));
    });
  };
  int64_t off = 0;
  for (auto &a : f.args()) {
    const Type *t = a->type;
    Value *p = b.CreateConstGEP1_64(f64, fn->getArg(0), off);
    off += t->isTensor() ? t->numElements() : 1;
    if (t->isIntTensor()) {
      Value *buf = intBuffer(t);
      convert(p, buf, t, true);
      args.push_back(buf);
      continue;
    }
    if (t->isTensor()) {
      args.push_back(p);
      continue;
    }
    Value *d = b.CreateLoad(f64, p);
    if (t->isInt())
      d = b.CreateIntrinsic(llvm::Intrinsic::fptosi_sat, {i64, f64}, {d});
    else if (t->isBool())
      d = b.CreateFCmpONE(d, llvm::ConstantFP::get(f64, 0.0));
    args.push_back(d);
  }
  // Tensor results are written straight into `out`.
  std::vector<int64_t> offsets;
  std::vector<Value *> intResults(f.resultTypes.size(), nullptr);
  off = 0;
  for (size_t i = 0; i < f.resultTypes.size(); ++i) {
    const Type *t = f.resultTypes[i];
    offsets.push_back(off);
    if (t->isIntTensor())
      args.push_back(intResults[i] = intBuffer(t));
    else if (t->isTensor())
      args.push_back(b.CreateConstGEP1_64(f64, fn->getArg(1), off));
    off += t->isTensor() ? t->numElements() : 1;
  }
  auto results = scalarResults(b, b.CreateCall(callee, args), f.resultTypes);
  for (size_t i = 0; i < f.resultTypes.size(); ++i) {
    const Type *t = f.resultTypes[i];
    if (intResults[i])
      convert(intResults[i],
              b.CreateConstGEP1_64(f64, fn->getArg(1), offsets[i]), t, false);
    Value *v = results[i];
    if (!v)
      continue;
    if (t->isInt())
      v = b.CreateSIToFP(v, f64);
    else if (t->isBool())
      v = b.CreateUIToFP(v, f64);
    b.CreateStore(v, b.CreateConstGEP1_64(f64, fn->getArg(1), offsets[i]));
  }
  for (Value *buf : intBuffers)
    b.CreateCall(runtime("free", b.getVoidTy(), {ptr}), {buf});
  b.CreateRetVoid();
}

llvm::FunctionCallee Emitter::runtime(const char *name, llvm::Type *ret,
                                      std::vector<llvm::Type *> args) {
  return mod->getOrInsertFunction(name,
                                  llvm::FunctionType::get(ret, args, false));
}

llvm::FunctionCallee Emitter::libm(const char *name, unsigned nargs) {
  auto fc = runtime(name, f64, std::vector<llvm::Type *>(nargs, f64));
  if (auto *fn = llvm::dyn_cast<llvm::Function>(fc.getCallee())) {
    fn->setDoesNotThrow();
    // tanh never sets errno: a pure function the vectoriser may widen.
    if (fn->getName() == "tanh")
      fn->setDoesNotAccessMemory();
    else
      fn->setOnlyAccessesInaccessibleMemory();
    fn->setWillReturn();
  }
  return fc;
}

llvm::Value *Emitter::get(const ir::Value *v) {
  auto it = vals.find(v);
  assert(it != vals.end() && "value used before definition");
  return it->second;
}

std::vector<llvm::Value *> Emitter::region(const ir::Block &blk) {
  for (auto &op : blk.ops) {
    if (op->kind == ir::OpKind::Yield) {
      std::vector<Value *> out;
      for (ir::Value *v : op->operands)
        out.push_back(get(v));
      return out;
    }
    emit(*op);
  }
  return {};
}

llvm::BasicBlock *Emitter::newBlock(const char *name) {
  return llvm::BasicBlock::Create(ctx, name, cur);
}

std::array<llvm::Value *, 3> Emitter::location(Loc loc) {
  Value *file = fileName;
  uint32_t line = loc.line;
  if (!irMod.lineOrigins.empty()) {
    LineOrigin o = line && line <= irMod.lineOrigins.size()
                       ? irMod.lineOrigins[line - 1]
                       : LineOrigin{irMod.sourcePath, 0};
    Value *&name = originNames[o.path];
    if (!name)
      name = b.CreateGlobalStringPtr(o.path, "bp.file");
    file = name;
    line = o.line;
  }
  return {file, b.getInt32(line), b.getInt32(loc.col)};
}

void Emitter::runtimeError(const ir::Op &op, const std::string &msg) {
  auto [file, line, col] = location(op.loc);
  b.CreateCall(runtime("bp_runtime_error", b.getVoidTy(),
                       {ptr, b.getInt32Ty(), b.getInt32Ty(), ptr}),
               {file, line, col, b.CreateGlobalStringPtr(msg, "bp.msg")});
  b.CreateUnreachable();
}

void Emitter::check(const ir::Op &op, Value *failed, const std::string &msg) {
  auto *bad = newBlock("error"), *ok = newBlock("ok");
  b.CreateCondBr(failed, bad, ok);
  b.SetInsertPoint(bad);
  runtimeError(op, msg);
  b.SetInsertPoint(ok);
}

void Emitter::pollInterrupt(const ir::Op &op) {
  if (!interruptible)
    return;
  auto *flag = mod->getOrInsertGlobal("bp_interrupt_requested", b.getInt32Ty());
  llvm::LoadInst *requested = b.CreateLoad(b.getInt32Ty(), flag);
  requested->setVolatile(true); // set by a signal handler
  check(op, b.CreateICmpNE(requested, b.getInt32(0)), "interrupted");
}

llvm::Value *Emitter::materialize(Value *v, const Type *t, Value *dst) {
  if (!t->isTensor())
    return v;
  copyTensor(dst, v, t);
  return dst;
}

void Emitter::emit(const ir::Op &op) {
  using K = ir::OpKind;
  defining = op.results.size() == 1 ? op.result() : nullptr;
  auto in = [&](unsigned i) { return get(op.operands[i]); };
  auto set = [&](Value *v) { vals[op.result()] = v; };
  if (op.kind == K::Broadcast && op.decided.fused)
    return set(in(0)); // read through strides by its users
  if (ir::isElementwise(op.kind) && op.decided.fused)
    return; // computed inside its user's loop
  if (ir::isElementwise(op.kind)) {
    bool tensor = op.result()->type->isTensor();
    if (tensor)
      return emitElementwise(op);
    std::vector<Value *> ins;
    for (size_t i = 0; i < op.operands.size(); ++i)
      ins.push_back(in(i));
    Value *r = scalar(op, ins);
    if (checkNumerics)
      checkFinite(op, r, ins);
    return set(r);
  }
  switch (op.kind) {
  case K::ConstF:
    return set(llvm::ConstantFP::get(f64, op.fval));
  case K::ConstI:
    return set(b.getInt64(op.ival));
  case K::ConstB:
    return set(b.getInt1(op.ival != 0));
  case K::IDiv:
  case K::IRem: {
    if (op.result()->type->isTensor())
      return emitIntDivision(op);
    Value *l = in(0), *r = in(1);
    check(op, b.CreateICmpEQ(r, b.getInt64(0)),
          op.kind == K::IDiv ? "integer division by zero"
                             : "integer remainder by zero");
    check(op,
          b.CreateAnd(b.CreateICmpEQ(l, b.getInt64(INT64_MIN)),
                      b.CreateICmpEQ(r, b.getInt64(-1))),
          "integer overflow in division");
    return set(op.kind == K::IDiv ? b.CreateSDiv(l, r) : b.CreateSRem(l, r));
  }
  case K::ParamLoad: {
    auto *g = params.at(op.paramName());
    if (op.result()->type->isTensor()) {
      // A view of the global where nothing this function runs writes the
      // param before the view's last use (transforms/ParamViews.h).
      if (op.decided.view)
        return set(g);
      Value *s = slot(op.result()->type);
      copyTensor(s, g, op.result()->type);
      return set(s);
    }
    return set(b.CreateLoad(g->getValueType(), g, op.paramName()));
  }
  case K::ParamStore:
    if (op.operands[0]->type->isTensor())
      copyTensor(params.at(op.paramName()), in(0), op.operands[0]->type);
    else
      b.CreateStore(in(0), params.at(op.paramName()));
    return;
  case K::ParamAdd: {
    auto *g = params.at(op.paramName());
    const Type *t = op.operands[0]->type;
    if (!t->isTensor()) {
      b.CreateStore(b.CreateFAdd(b.CreateLoad(f64, g), in(0)), g);
      return;
    }
    Value *v = in(0);
    loop(b.getInt64(t->numElements()), [&](Value *i) {
      Value *p = b.CreateGEP(f64, g, i);
      b.CreateStore(b.CreateFAdd(b.CreateLoad(f64, p),
                                 b.CreateLoad(f64, b.CreateGEP(f64, v, i))),
                    p);
    });
    return;
  }
  case K::Call:
    return emitCall(op);
  case K::If:
    return emitIf(op);
  case K::For:
    return emitFor(op);
  case K::While:
    return emitWhile(op);
  case K::Yield:
    assert(false && "yield is handled by region()");
    return;
  case K::Return:
    return emitReturn(op);
  case K::Print:
    return emitPrint(op);
  case K::Assert:
    check(op, b.CreateNot(in(0)), op.str);
    return;
  case K::TapeNew: {
    llvm::IRBuilder<> eb(&cur->getEntryBlock(), cur->getEntryBlock().begin());
    Value *t = eb.CreateAlloca(tapeTy, nullptr, "tape");
    b.CreateStore(llvm::Constant::getNullValue(tapeTy), t);
    return set(t);
  }
  case K::TapePush:
    return emitPush(op, in(0), in(1), op.operands[1]->type, op.ival == 1);
  case K::TapeReserve: {
    auto [file, line, col] = location(op.loc);
    b.CreateCall(runtime("bp_tape_reserve", b.getVoidTy(),
                         {ptr, i64, ptr, b.getInt32Ty(), b.getInt32Ty()}),
                 {in(0), in(1), file, line, col});
    return;
  }
  case K::TapePop:
    return set(emitPop(in(0), op.result()->type));
  case K::TapeFree:
    b.CreateCall(runtime("bp_tape_free", b.getVoidTy(), {ptr}), {in(0)});
    return;
  default:
    return emitTensorOp(op);
  }
}

/// --check-numerics: stops at the first operation that turns finite inputs
/// into NaN or an infinity.
void Emitter::checkFinite(const ir::Op &op, Value *r,
                          const std::vector<Value *> &ins) {
  if (r->getType() != f64)
    return;
  auto finite = [&](Value *v) {
    return b.CreateFCmpOLT(intrinsic(llvm::Intrinsic::fabs, {v}),
                           llvm::ConstantFP::get(f64, INFINITY));
  };
  Value *inputsOk = b.getTrue();
  std::vector<Value *> args(3, llvm::ConstantFP::get(f64, 0.0));
  size_t n = 0;
  for (Value *v : ins)
    if (v->getType() == f64) {
      inputsOk = b.CreateAnd(inputsOk, finite(v));
      if (n < 3)
        args[n++] = v;
    }
  Value *bad = b.CreateAnd(inputsOk, b.CreateNot(finite(r)));
  auto *err = newBlock("numerics.error"), *ok = newBlock("numerics.ok");
  b.CreateCondBr(bad, err, ok);
  b.SetInsertPoint(err);
  auto [file, line, col] = location(op.loc);
  b.CreateCall(runtime("bp_numerics_error", b.getVoidTy(),
                       {ptr, b.getInt32Ty(), b.getInt32Ty(), ptr, f64, i64, f64,
                        f64, f64}),
               {file, line, col,
                b.CreateGlobalStringPtr(ir::mnemonic(op.kind), "bp.opname"), r,
                b.getInt64(n), args[0], args[1], args[2]});
  b.CreateUnreachable();
  b.SetInsertPoint(ok);
}

void Emitter::emitCall(const ir::Op &op) {
  const ir::Function *callee = irMod.lookup(op.callee());
  llvm::Function *fn = mod->getFunction(functionSymbol(op.callee()));
  std::vector<Value *> args;
  for (ir::Value *v : op.operands)
    args.push_back(get(v));
  std::vector<Value *> outs;
  for (auto &r : op.results)
    if (r->type->isTensor()) {
      // A result this function returns goes straight to its own caller.
      auto rvo = returnSlots.find(r.get());
      outs.push_back(rvo != returnSlots.end() ? rvo->second : slot(r->type));
      args.push_back(outs.back());
    }
  bool guarded = mayRecurse(curIR->name, op.callee());
  if (guarded) {
    // Named after the source function (`f.rev.10` is made from `f`).
    std::string shown = op.str.substr(0, op.str.find('.'));
    auto [file, line, col] = location(op.loc);
    b.CreateCall(runtime("bp_recursion_enter", b.getVoidTy(),
                         {ptr, b.getInt32Ty(), b.getInt32Ty(), ptr}),
                 {file, line, col, b.CreateGlobalStringPtr(shown, "bp.fn")});
  }
  Value *ret = b.CreateCall(fn, args);
  if (guarded)
    b.CreateCall(runtime("bp_recursion_leave", b.getVoidTy(), {}), {});
  auto results = scalarResults(b, ret, callee->resultTypes);
  size_t t = 0;
  for (size_t i = 0; i < op.results.size(); ++i)
    vals[op.result(i)] = results[i] ? results[i] : outs[t++];
}

void Emitter::emitReturn(const ir::Op &op) {
  std::vector<Value *> scalars;
  size_t t = 0;
  for (ir::Value *v : op.operands) {
    if (v->type->isTensor())
      copyTensor(outParams[t++], get(v), v->type);
    else
      scalars.push_back(get(v));
  }
  llvm::ReturnInst *r;
  if (scalars.empty()) {
    r = b.CreateRetVoid();
  } else if (scalars.size() == 1) {
    r = b.CreateRet(scalars[0]);
  } else {
    Value *agg = llvm::UndefValue::get(cur->getReturnType());
    for (size_t i = 0; i < scalars.size(); ++i)
      agg = b.CreateInsertValue(agg, scalars[i], {(unsigned)i});
    r = b.CreateRet(agg);
  }
  returns.push_back(r);
}

llvm::Value *Emitter::field(Value *tape, unsigned i) {
  return b.CreateStructGEP(tapeTy, tape, i);
}

void Emitter::emitPush(const ir::Op &op, Value *tape, Value *v, const Type *t,
                       bool reserved) {
  // Where a tape over its limit is reported.
  auto [file, line, col] = location(op.loc);
  llvm::Type *i32 = b.getInt32Ty();
  if (t->isTensor()) {
    b.CreateCall(runtime("bp_tape_push_block", b.getVoidTy(),
                         {ptr, ptr, i64, ptr, i32, i32}),
                 {tape, v, b.getInt64(t->numElements()), file, line, col});
    return;
  }
  Value *size = b.CreateLoad(i64, field(tape, 1));
  if (!reserved) { // room was not reserved before the loop: check
    Value *cap = b.CreateLoad(i64, field(tape, 2));
    auto *grow = newBlock("tape.grow"), *store = newBlock("tape.store");
    b.CreateCondBr(b.CreateICmpEQ(size, cap), grow, store);
    b.SetInsertPoint(grow);
    b.CreateCall(runtime("bp_tape_grow", b.getVoidTy(), {ptr, ptr, i32, i32}),
                 {tape, file, line, col});
    b.CreateBr(store);
    b.SetInsertPoint(store);
  }
  Value *data = b.CreateLoad(ptr, field(tape, 0));
  Value *bits =
      v->getType() == f64 ? b.CreateBitCast(v, i64) : b.CreateZExt(v, i64);
  b.CreateStore(bits, b.CreateGEP(i64, data, size));
  b.CreateStore(b.CreateAdd(size, b.getInt64(1)), field(tape, 1));
}

llvm::Value *Emitter::emitPop(Value *tape, const Type *t) {
  if (t->isTensor()) {
    Value *dst = slot(t);
    b.CreateCall(runtime("bp_tape_pop_block", b.getVoidTy(), {ptr, ptr, i64}),
                 {tape, dst, b.getInt64(t->numElements())});
    return dst;
  }
  Value *size = b.CreateSub(b.CreateLoad(i64, field(tape, 1)), b.getInt64(1));
  b.CreateStore(size, field(tape, 1));
  Value *data = b.CreateLoad(ptr, field(tape, 0));
  Value *bits = b.CreateLoad(i64, b.CreateGEP(i64, data, size));
  if (t->isF64())
    return b.CreateBitCast(bits, f64);
  if (t->isBool())
    return b.CreateTrunc(bits, i1);
  return bits;
}

void Emitter::emitPrint(const ir::Op &op) {
  size_t k = 0;
  std::string chunk;
  auto flush = [&] {
    if (chunk.empty())
      return;
    b.CreateCall(
        runtime("bp_print_str", b.getVoidTy(), {ptr, i64}),
        {b.CreateGlobalStringPtr(chunk, "bp.str"), b.getInt64(chunk.size())});
    chunk.clear();
  };
  for (char c : op.str) {
    if (c != '\x01') {
      chunk += c;
      continue;
    }
    flush();
    const ir::Value *v = op.operands[k++];
    Value *x = get(v);
    if (v->type->isTensor()) {
      std::vector<llvm::Constant *> dims;
      for (int64_t d : v->type->shape)
        dims.push_back(b.getInt64(d));
      auto *arr = llvm::ArrayType::get(i64, dims.size());
      auto *g = new llvm::GlobalVariable(
          *mod, arr, true, llvm::GlobalValue::PrivateLinkage,
          llvm::ConstantArray::get(arr, dims), "bp.shape");
      b.CreateCall(runtime(v->type->isIntTensor() ? "bp_print_tensor_i64"
                                                  : "bp_print_tensor",
                           b.getVoidTy(), {ptr, i64, ptr}),
                   {x, b.getInt64(dims.size()), g});
    } else if (v->type->isF64()) {
      b.CreateCall(runtime("bp_print_f64", b.getVoidTy(), {f64}), {x});
    } else if (v->type->isInt()) {
      b.CreateCall(runtime("bp_print_i64", b.getVoidTy(), {i64}), {x});
    } else {
      b.CreateCall(runtime("bp_print_bool", b.getVoidTy(), {b.getInt32Ty()}),
                   {b.CreateZExt(x, b.getInt32Ty())});
    }
  }
  flush();
}

void Emitter::emitIf(const ir::Op &op) {
  // Tensor results get a slot each; both branches copy into it.
  std::vector<Value *> slots;
  for (auto &r : op.results)
    slots.push_back(r->type->isTensor() ? slot(r->type) : nullptr);
  auto *thenB = newBlock("then"), *elseB = newBlock("else");
  b.CreateCondBr(get(op.operands[0]), thenB, elseB);
  auto branch = [&](llvm::BasicBlock *bb, const ir::Block &blk) {
    b.SetInsertPoint(bb);
    std::vector<Value *> vs = region(blk);
    for (size_t i = 0; i < vs.size(); ++i)
      vs[i] = materialize(vs[i], op.result(i)->type, slots[i]);
    return vs;
  };
  std::vector<Value *> tv = branch(thenB, *op.region(0));
  llvm::BasicBlock *thenEnd = b.GetInsertBlock();
  std::vector<Value *> ev = branch(elseB, *op.region(1));
  llvm::BasicBlock *elseEnd = b.GetInsertBlock();
  auto *merge = newBlock("endif");
  b.SetInsertPoint(thenEnd);
  b.CreateBr(merge);
  b.SetInsertPoint(elseEnd);
  b.CreateBr(merge);
  b.SetInsertPoint(merge);
  mergeResults(op, slots, tv, thenEnd, ev, elseEnd);
}

void Emitter::mergeResults(const ir::Op &op, const std::vector<Value *> &slots,
                           const std::vector<Value *> &a,
                           llvm::BasicBlock *aEnd,
                           const std::vector<Value *> &b2,
                           llvm::BasicBlock *bEnd) {
  for (size_t i = 0; i < op.results.size(); ++i) {
    if (slots[i]) {
      vals[op.result(i)] = slots[i];
      continue;
    }
    auto *phi = b.CreatePHI(type(op.result(i)->type), 2, op.result(i)->name);
    phi->addIncoming(a[i], aEnd);
    phi->addIncoming(b2[i], bEnd);
    vals[op.result(i)] = phi;
  }
}

/// Copies a loop body's yielded tensors into their carried slots. A yielded
/// value that is itself another carried slot (a swap) is staged in a
/// temporary first so no slot is overwritten before it is read.
void Emitter::storeCarried(std::vector<Value *> &next,
                           const std::vector<Value *> &slots,
                           const ir::Block &body, size_t firstArg) {
  auto typeOf = [&](size_t i) { return body.args[i + firstArg]->type; };
  for (size_t i = 0; i < next.size(); ++i)
    if (slots[i] && next[i] != slots[i])
      for (Value *s : slots)
        if (s && s == next[i]) {
          Value *tmp = slot(typeOf(i));
          copyTensor(tmp, next[i], typeOf(i));
          next[i] = tmp;
          break;
        }
  for (size_t i = 0; i < next.size(); ++i)
    if (slots[i] && next[i] != slots[i])
      copyTensor(slots[i], next[i], typeOf(i));
}

llvm::Value *Emitter::affineOffset(const ir::Value *v, const ir::Op &loop,
                                   int64_t &s) {
  const ir::Block &body = *loop.body();
  if (v == loop.inductionVar()) {
    s = 1;
    return b.getInt64(0);
  }
  const ir::Op *d = v->def;
  if (d && d->kind == ir::OpKind::ConstI) {
    s = 0;
    return b.getInt64(d->ival);
  }
  if (d ? d->parent != &body : v->owner != &body) {
    s = 0;
    return get(v);
  }
  if (!d) {
    // A carried int yielded as arg ± c: init + (iv - lo) * (±c).
    const ir::Op *n = body.terminator()->operands[v->index - 1]->def;
    const ir::Value *c = n->operands[0] == v ? n->operands[1] : n->operands[0];
    s = n->kind == ir::OpKind::ISub ? -c->def->ival : c->def->ival;
    return b.CreateSub(get(loop.init(v->index - 1)),
                       b.CreateMul(get(loop.lower()), b.getInt64(s)));
  }
  int64_t s0, s1;
  switch (d->kind) {
  case ir::OpKind::IAdd:
  case ir::OpKind::ISub: {
    Value *o0 = affineOffset(d->operands[0], loop, s0);
    Value *o1 = affineOffset(d->operands[1], loop, s1);
    s = d->kind == ir::OpKind::IAdd ? s0 + s1 : s0 - s1;
    return d->kind == ir::OpKind::IAdd ? b.CreateAdd(o0, o1)
                                       : b.CreateSub(o0, o1);
  }
  case ir::OpKind::IMul: {
    const ir::Value *k = d->operands[1], *x = d->operands[0];
    if (!(k->def && k->def->kind == ir::OpKind::ConstI))
      std::swap(k, x);
    Value *o0 = affineOffset(x, loop, s0);
    s = s0 * k->def->ival;
    return b.CreateMul(o0, b.getInt64(k->def->ival));
  }
  default:
    assert(false && "index not affine: transforms/BoundsChecks disagrees");
    return nullptr;
  }
}

/// A versioned `for` (transforms/BoundsChecks) is emitted twice: when every
/// hoisted index is in range at the first and the last iteration (so at all
/// of them: the index is monotone and cannot wrap, the trip count being
/// below 2^40 and the scale at most 2^20), a copy without those bounds
/// checks runs; otherwise the checked copy runs and reports the first bad
/// index as usual.
void Emitter::emitFor(const ir::Op &op) {
  const ir::Block &body = *op.body();
  // Carried tensors live in one slot for the whole loop.
  std::vector<Value *> slots;
  for (size_t i = 0; i < op.numCarried(); ++i) {
    const Type *t = op.carriedArg(i)->type;
    if (t->isTensor() &&
        llvm::is_contained(op.decided.inplaceInits, op.firstInit() + i)) {
      slots.push_back(get(op.init(i)));
      continue;
    }
    slots.push_back(t->isTensor() ? slot(t) : nullptr);
    if (slots.back())
      copyTensor(slots.back(), get(op.init(i)), t);
  }
  if (!op.decided.versioned) {
    auto res = forLoop(op, slots);
    for (size_t i = 0; i < op.results.size(); ++i)
      vals[op.result(i)] = res[i];
    return;
  }
  // index = off + scale * iv, in range when below size.
  struct Check {
    Value *off;
    int64_t scale, size;
  };
  std::vector<Check> checks;
  for (auto &o : body.ops)
    for (unsigned i : o->decided.hoistedChecks) {
      Check c;
      c.off = affineOffset(o->operands[i], op, c.scale);
      unsigned first = o->kind == ir::OpKind::Extract ? 1 : 2;
      c.size = o->operands[0]->type->shape[i - first];
      checks.push_back(c);
    }
  Value *lo = get(op.lower()), *hi = get(op.upper());
  Value *last = b.CreateSub(hi, b.getInt64(1));
  Value *ok = b.CreateAnd(
      b.CreateICmpSLT(lo, hi),
      b.CreateICmpULT(b.CreateSub(hi, lo), b.getInt64(int64_t(1) << 40)));
  for (auto &c : checks) {
    Value *size = b.getInt64(c.size), *s = b.getInt64(c.scale);
    ok = b.CreateAnd(
        ok, b.CreateICmpULT(b.CreateAdd(c.off, b.CreateMul(s, lo)), size));
    ok = b.CreateAnd(
        ok, b.CreateICmpULT(b.CreateAdd(c.off, b.CreateMul(s, last)), size));
  }
  auto *fastB = newBlock("for.unchecked"), *slowB = newBlock("for.checked"),
       *merge = newBlock("for.merge");
  b.CreateCondBr(ok, fastB, slowB);
  b.SetInsertPoint(fastB);
  uncheckedCopies.insert(&op);
  auto fast = forLoop(op, slots);
  uncheckedCopies.erase(&op);
  llvm::BasicBlock *fastEnd = b.GetInsertBlock();
  b.CreateBr(merge);
  b.SetInsertPoint(slowB);
  auto slow = forLoop(op, slots);
  llvm::BasicBlock *slowEnd = b.GetInsertBlock();
  b.CreateBr(merge);
  b.SetInsertPoint(merge);
  mergeResults(op, slots, fast, fastEnd, slow, slowEnd);
}

/// One copy of a `for` loop over the carried slots made by emitFor; returns
/// its results (the slots, or the exit values of scalar carried values).
std::vector<llvm::Value *>
Emitter::forLoop(const ir::Op &op, const std::vector<llvm::Value *> &slots) {
  const ir::Block &body = *op.body();
  llvm::BasicBlock *pre = b.GetInsertBlock();
  auto *header = newBlock("for.header"), *bodyB = newBlock("for.body"),
       *exit = newBlock("for.exit");
  Value *lo = get(op.lower()), *hi = get(op.upper());
  b.CreateBr(header);
  b.SetInsertPoint(header);
  auto *iv = b.CreatePHI(i64, 2, op.inductionVar()->name);
  iv->addIncoming(lo, pre);
  std::vector<llvm::PHINode *> phis;
  for (size_t i = 1; i < body.args.size(); ++i) {
    if (slots[i - 1]) {
      phis.push_back(nullptr);
      vals[body.args[i].get()] = slots[i - 1];
      continue;
    }
    auto *phi = b.CreatePHI(type(body.args[i]->type), 2, body.args[i]->name);
    phi->addIncoming(get(op.init(i - 1)), pre);
    phis.push_back(phi);
    vals[body.args[i].get()] = phi;
  }
  vals[op.inductionVar()] = iv;
  b.CreateCondBr(b.CreateICmpSLT(iv, hi), bodyB, exit);
  b.SetInsertPoint(bodyB);
  std::vector<Value *> next = region(body);
  storeCarried(next, slots, body, 1);
  pollInterrupt(op);
  llvm::BasicBlock *latch = b.GetInsertBlock();
  iv->addIncoming(b.CreateAdd(iv, b.getInt64(1)), latch);
  for (size_t i = 0; i < phis.size(); ++i)
    if (phis[i])
      phis[i]->addIncoming(next[i], latch);
  b.CreateBr(header);
  b.SetInsertPoint(exit);
  std::vector<Value *> res;
  for (size_t i = 0; i < op.results.size(); ++i)
    res.push_back(slots[i] ? slots[i] : (Value *)phis[i]);
  return res;
}

void Emitter::emitWhile(const ir::Op &op) {
  const ir::Block &cond = *op.region(0), &body = *op.region(1);
  std::vector<Value *> slots;
  for (size_t i = 0; i < cond.args.size(); ++i) {
    const Type *t = cond.args[i]->type;
    if (t->isTensor() &&
        llvm::is_contained(op.decided.inplaceInits, op.firstInit() + i)) {
      slots.push_back(get(op.init(i)));
      continue;
    }
    slots.push_back(t->isTensor() ? slot(t) : nullptr);
    if (slots.back())
      copyTensor(slots.back(), get(op.init(i)), t);
  }
  llvm::BasicBlock *pre = b.GetInsertBlock();
  auto *header = newBlock("while.header"), *bodyB = newBlock("while.body"),
       *exit = newBlock("while.exit");
  b.CreateBr(header);
  b.SetInsertPoint(header);
  std::vector<llvm::PHINode *> phis;
  for (size_t i = 0; i < cond.args.size(); ++i) {
    if (slots[i]) {
      phis.push_back(nullptr);
      vals[cond.args[i].get()] = vals[body.args[i].get()] = slots[i];
      continue;
    }
    auto *phi = b.CreatePHI(type(cond.args[i]->type), 2, cond.args[i]->name);
    phi->addIncoming(get(op.init(i)), pre);
    phis.push_back(phi);
    vals[cond.args[i].get()] = phi;
    vals[body.args[i].get()] = phi;
  }
  Value *c = region(cond)[0];
  b.CreateCondBr(c, bodyB, exit);
  b.SetInsertPoint(bodyB);
  std::vector<Value *> next = region(body);
  storeCarried(next, slots, body, 0);
  pollInterrupt(op);
  llvm::BasicBlock *latch = b.GetInsertBlock();
  for (size_t i = 0; i < phis.size(); ++i)
    if (phis[i])
      phis[i]->addIncoming(next[i], latch);
  b.CreateBr(header);
  b.SetInsertPoint(exit);
  for (size_t i = 0; i < op.results.size(); ++i)
    vals[op.result(i)] = slots[i] ? slots[i] : (Value *)phis[i];
}

bool blasAvailable() {
#ifdef BP_HAVE_OPENBLAS
  return true;
#else
  return false;
#endif
}

std::unique_ptr<llvm::Module> emitLLVM(const ir::Module &m,
                                       llvm::LLVMContext &ctx,
                                       bool checkNumerics, bool interruptible) {
  assert(m.decided && "run transforms::runOptimisationPasses before codegen");
  Emitter e(m, ctx);
  e.checkNumerics = checkNumerics;
  e.interruptible = interruptible;
  return e.run();
}

bool hasHugeFunction(const llvm::Module &m) {
  for (const llvm::Function &f : m)
    if (f.getInstructionCount() > 20000)
      return true;
  return false;
}

void optimize(llvm::Module &m, llvm::TargetMachine &tm, unsigned level) {
  m.setDataLayout(tm.createDataLayout());
  m.setTargetTriple(tm.getTargetTriple().str());
  for (llvm::Function &f : m) {
    if (f.isDeclaration())
      continue;
    f.addFnAttr("target-cpu", tm.getTargetCPU());
    f.addFnAttr("target-features", tm.getTargetFeatureString());
  }
  if (level == 0)
    return;
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder pb(&tm);
  // Elementwise exp, log, sin, cos, pow and tanh over tensors vectorise
  // into glibc's libmvec (linked through -lm's linker script; bpc loads it
  // for the JIT), whose results are within 4 ulp of libm's (docs/TENSORS.md).
  llvm::Triple triple(tm.getTargetTriple());
  llvm::TargetLibraryInfoImpl tlii(triple);
  if (triple.getArch() == llvm::Triple::x86_64 && triple.isOSLinux() &&
      triple.isGNUEnvironment()) {
    tlii.addVectorizableFunctionsFromVecLib(
        llvm::TargetLibraryInfoImpl::LIBMVEC_X86, triple);
    // LLVM 19's table lacks tanh (in libmvec since glibc 2.35).
    static const llvm::VecDesc tanh[] = {
        {"tanh", "_ZGVbN2v_tanh", llvm::ElementCount::getFixed(2), false,
         "_ZGV_LLVM_N2v"},
        {"tanh", "_ZGVdN4v_tanh", llvm::ElementCount::getFixed(4), false,
         "_ZGV_LLVM_N4v"}};
    tlii.addVectorizableFunctions(tanh);
  }
  fam.registerPass([&] { return llvm::TargetLibraryAnalysis(tlii); });
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  llvm::OptimizationLevel ol = level == 1   ? llvm::OptimizationLevel::O1
                               : level == 2 ? llvm::OptimizationLevel::O2
                                            : llvm::OptimizationLevel::O3;
  llvm::ModulePassManager mpm = pb.buildPerModuleDefaultPipeline(ol);
  mpm.run(m, mam);
}

} // namespace bp::codegen
