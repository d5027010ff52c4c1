//===- CodeGen.cpp - IR to LLVM IR ----------------------------------------===//
//
// Structured regions become basic blocks: `if` -> then/else/merge with phis,
// `for` -> header (phis for the induction variable and carried values) /
// body / exit, `while` -> header (carried phis) / cond / body / exit. A region
// is lowered by `region()`, which returns the values its `yield` produced
// and leaves the builder in the block where control continues.
//
//===----------------------------------------------------------------------===//
#include "codegen/CodeGen.h"

#include "llvm/Analysis/CGSCCPassManager.h"
#include "llvm/Analysis/LoopAnalysisManager.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Intrinsics.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/Verifier.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Target/TargetMachine.h"

#include <cassert>
#include <unordered_map>

namespace bp::codegen {

std::string functionSymbol(const std::string &name) { return "bp." + name; }
std::string paramSymbol(const std::string &name) { return "bp.param." + name; }
std::string dynamicSymbol(const std::string &name) { return "bp.dyn." + name; }

namespace {

using llvm::IRBuilder;
using llvm::Value;

class Emitter {
public:
  Emitter(const ir::Module &m, llvm::LLVMContext &ctx)
      : irMod(m), ctx(ctx), b(ctx) {}

  std::unique_ptr<llvm::Module> run() {
    mod = std::make_unique<llvm::Module>("bp", ctx);
    f64 = b.getDoubleTy();
    i64 = b.getInt64Ty();
    i1 = b.getInt1Ty();
    ptr = b.getPtrTy();
    tapeTy = llvm::StructType::create(ctx, {ptr, i64, i64}, "bp_tape");
    for (auto &p : irMod.params) {
      llvm::Type *t = type(p.type);
      auto *g = new llvm::GlobalVariable(*mod, t, false,
                                         llvm::GlobalValue::ExternalLinkage,
                                         llvm::Constant::getNullValue(t),
                                         paramSymbol(p.name));
      params[p.name] = g;
    }
    for (auto &f : irMod.functions)
      declare(*f);
    for (auto &f : irMod.functions)
      define(*f);
    for (auto &f : irMod.functions)
      defineDynamicWrapper(*f);
    return std::move(mod);
  }

private:
  const ir::Module &irMod;
  llvm::LLVMContext &ctx;
  IRBuilder<> b;
  std::unique_ptr<llvm::Module> mod;
  llvm::Type *f64, *i64, *i1, *ptr;
  llvm::StructType *tapeTy;
  std::unordered_map<std::string, llvm::GlobalVariable *> params;
  std::unordered_map<const ir::Value *, Value *> vals;
  llvm::Function *cur = nullptr;
  llvm::Value *fileName = nullptr;

  llvm::Type *type(const Type *t) {
    switch (t->kind) {
    case TypeKind::F64:
      return f64;
    case TypeKind::Int:
      return i64;
    case TypeKind::Bool:
      return i1;
    case TypeKind::Tape:
      return ptr;
    case TypeKind::Tensor:
      return llvm::ArrayType::get(f64, t->numElements());
    default:
      assert(false && "type has no LLVM form");
      return f64;
    }
  }

  llvm::Type *resultType(const ir::Function &f) {
    if (f.resultTypes.empty())
      return b.getVoidTy();
    if (f.resultTypes.size() == 1)
      return type(f.resultTypes[0]);
    std::vector<llvm::Type *> ts;
    for (const Type *t : f.resultTypes)
      ts.push_back(type(t));
    return llvm::StructType::get(ctx, ts);
  }

  void declare(const ir::Function &f) {
    std::vector<llvm::Type *> args;
    for (auto &a : f.args())
      args.push_back(type(a->type));
    auto *ft = llvm::FunctionType::get(resultType(f), args, false);
    auto *fn = llvm::Function::Create(ft, llvm::GlobalValue::ExternalLinkage,
                                      functionSymbol(f.name), *mod);
    fn->addFnAttr(llvm::Attribute::NoUnwind);
    for (size_t i = 0; i < f.args().size(); ++i)
      fn->getArg(i)->setName(f.args()[i]->name);
  }

  llvm::FunctionCallee runtime(const char *name, llvm::Type *ret,
                               std::vector<llvm::Type *> args) {
    return mod->getOrInsertFunction(name,
                                    llvm::FunctionType::get(ret, args, false));
  }

  llvm::FunctionCallee libm(const char *name, unsigned nargs = 1) {
    auto fc = runtime(name, f64, std::vector<llvm::Type *>(nargs, f64));
    if (auto *fn = llvm::dyn_cast<llvm::Function>(fc.getCallee())) {
      fn->setDoesNotThrow();
      fn->setOnlyAccessesInaccessibleMemory();
      fn->setWillReturn();
    }
    return fc;
  }

  Value *intrinsic(llvm::Intrinsic::ID id, std::vector<Value *> args) {
    std::vector<llvm::Type *> tys = {args[0]->getType()};
    return b.CreateIntrinsic(id, tys, args);
  }

  void define(const ir::Function &f) {
    cur = mod->getFunction(functionSymbol(f.name));
    vals.clear();
    auto *entry = llvm::BasicBlock::Create(ctx, "entry", cur);
    b.SetInsertPoint(entry);
    fileName = b.CreateGlobalStringPtr(irMod.sourcePath, "bp.file");
    for (size_t i = 0; i < f.args().size(); ++i)
      vals[f.args()[i].get()] = cur->getArg(i);
    region(*f.body);
  }

  /// `void bp.dyn.NAME(const double *in, double *out)`: every argument and
  /// result as a double (ints converted, bools as 0/1). Used by `bpc check`
  /// to call any scalar function through one signature.
  void defineDynamicWrapper(const ir::Function &f) {
    for (auto &a : f.args())
      if (a->type->isTensor())
        return;
    for (const Type *t : f.resultTypes)
      if (t->isTensor())
        return;
    llvm::Function *callee = mod->getFunction(functionSymbol(f.name));
    auto *ft = llvm::FunctionType::get(b.getVoidTy(), {ptr, ptr}, false);
    auto *fn = llvm::Function::Create(ft, llvm::GlobalValue::ExternalLinkage,
                                      dynamicSymbol(f.name), *mod);
    b.SetInsertPoint(llvm::BasicBlock::Create(ctx, "entry", fn));
    std::vector<Value *> args;
    for (size_t i = 0; i < f.args().size(); ++i) {
      Value *d = b.CreateLoad(f64, b.CreateConstGEP1_64(f64, fn->getArg(0), i));
      const Type *t = f.args()[i]->type;
      if (t->isInt())
        d = b.CreateIntrinsic(llvm::Intrinsic::fptosi_sat, {i64, f64}, {d});
      else if (t->isBool())
        d = b.CreateFCmpONE(d, llvm::ConstantFP::get(f64, 0.0));
      args.push_back(d);
    }
    Value *r = b.CreateCall(callee, args);
    for (size_t i = 0; i < f.resultTypes.size(); ++i) {
      Value *v = f.resultTypes.size() == 1 ? r : b.CreateExtractValue(r, {(unsigned)i});
      if (f.resultTypes[i]->isInt())
        v = b.CreateSIToFP(v, f64);
      else if (f.resultTypes[i]->isBool())
        v = b.CreateUIToFP(v, f64);
      b.CreateStore(v, b.CreateConstGEP1_64(f64, fn->getArg(1), i));
    }
    b.CreateRetVoid();
  }

  Value *get(const ir::Value *v) {
    auto it = vals.find(v);
    assert(it != vals.end() && "value used before definition");
    return it->second;
  }

  /// Emits the ops of `blk`; returns the values of its yield (a return is
  /// emitted directly).
  std::vector<Value *> region(const ir::Block &blk) {
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

  llvm::BasicBlock *newBlock(const char *name) {
    return llvm::BasicBlock::Create(ctx, name, cur);
  }

  void runtimeError(const ir::Op &op, const std::string &msg) {
    b.CreateCall(runtime("bp_runtime_error", b.getVoidTy(),
                         {ptr, b.getInt32Ty(), b.getInt32Ty(), ptr}),
                 {fileName, b.getInt32(op.loc.line), b.getInt32(op.loc.col),
                  b.CreateGlobalStringPtr(msg, "bp.msg")});
    b.CreateUnreachable();
  }

  /// Branches to a runtime error when `failed` is true.
  void check(const ir::Op &op, Value *failed, const std::string &msg) {
    auto *bad = newBlock("error"), *ok = newBlock("ok");
    b.CreateCondBr(failed, bad, ok);
    b.SetInsertPoint(bad);
    runtimeError(op, msg);
    b.SetInsertPoint(ok);
  }

  Value *nanPropagating(Value *chosen, Value *a, Value *c) {
    Value *uno = b.CreateFCmpUNO(a, c);
    return b.CreateSelect(uno, b.CreateFAdd(a, c), chosen);
  }

  Value *fmax(Value *a, Value *c) {
    return nanPropagating(b.CreateSelect(b.CreateFCmpOGE(a, c), a, c), a, c);
  }
  Value *fmin(Value *a, Value *c) {
    return nanPropagating(b.CreateSelect(b.CreateFCmpOLE(a, c), a, c), a, c);
  }

  void emit(const ir::Op &op) {
    using K = ir::OpKind;
    auto in = [&](unsigned i) { return get(op.operands[i]); };
    auto set = [&](Value *v) { vals[op.result()] = v; };
    switch (op.kind) {
    case K::ConstF:
      return set(llvm::ConstantFP::get(f64, op.fval));
    case K::ConstI:
      return set(b.getInt64(op.ival));
    case K::ConstB:
      return set(b.getInt1(op.ival != 0));
    case K::FAdd:
      return set(b.CreateFAdd(in(0), in(1)));
    case K::FSub:
      return set(b.CreateFSub(in(0), in(1)));
    case K::FMul:
      return set(b.CreateFMul(in(0), in(1)));
    case K::FDiv:
      return set(b.CreateFDiv(in(0), in(1)));
    case K::FRem:
      return set(b.CreateFRem(in(0), in(1)));
    case K::FNeg:
      return set(b.CreateFNeg(in(0)));
    case K::Pow:
      return set(intrinsic(llvm::Intrinsic::pow, {in(0), in(1)}));
    case K::Max:
      return set(fmax(in(0), in(1)));
    case K::Min:
      return set(fmin(in(0), in(1)));
    case K::Clip:
      return set(fmin(fmax(in(0), in(1)), in(2)));
    case K::Exp:
      return set(intrinsic(llvm::Intrinsic::exp, {in(0)}));
    case K::Log:
      return set(intrinsic(llvm::Intrinsic::log, {in(0)}));
    case K::Sqrt:
      return set(intrinsic(llvm::Intrinsic::sqrt, {in(0)}));
    case K::Sin:
      return set(intrinsic(llvm::Intrinsic::sin, {in(0)}));
    case K::Cos:
      return set(intrinsic(llvm::Intrinsic::cos, {in(0)}));
    case K::Tan:
      return set(b.CreateCall(libm("tan"), {in(0)}));
    case K::Tanh:
      return set(b.CreateCall(libm("tanh"), {in(0)}));
    case K::Lgamma:
      return set(b.CreateCall(libm("lgamma"), {in(0)}));
    case K::Digamma:
      return set(b.CreateCall(libm("bp_digamma"), {in(0)}));
    case K::Trigamma:
      return set(b.CreateCall(libm("bp_trigamma"), {in(0)}));
    case K::Sigmoid: {
      // 1 / (1 + exp(-x)): exp overflows to inf for x < -709, giving 0.
      Value *e = intrinsic(llvm::Intrinsic::exp, {b.CreateFNeg(in(0))});
      return set(b.CreateFDiv(llvm::ConstantFP::get(f64, 1.0),
                              b.CreateFAdd(llvm::ConstantFP::get(f64, 1.0), e)));
    }
    case K::Relu: {
      Value *x = in(0);
      Value *neg = b.CreateFCmpOLT(x, llvm::ConstantFP::get(f64, 0.0));
      return set(b.CreateSelect(neg, llvm::ConstantFP::get(f64, 0.0), x));
    }
    case K::Softplus: {
      // Stable: max(x, 0) + log1p(exp(-|x|)).
      Value *x = in(0);
      Value *ax = intrinsic(llvm::Intrinsic::fabs, {x});
      Value *t = b.CreateCall(
          libm("log1p"),
          {intrinsic(llvm::Intrinsic::exp, {b.CreateFNeg(ax)})});
      Value *pos = b.CreateSelect(
          b.CreateFCmpOGT(x, llvm::ConstantFP::get(f64, 0.0)), x,
          llvm::ConstantFP::get(f64, 0.0));
      return set(b.CreateFAdd(pos, t));
    }
    case K::Abs:
      return set(intrinsic(llvm::Intrinsic::fabs, {in(0)}));
    case K::Sign: {
      Value *x = in(0);
      Value *zero = llvm::ConstantFP::get(f64, 0.0);
      Value *s = b.CreateSelect(b.CreateFCmpOLT(x, zero),
                                llvm::ConstantFP::get(f64, -1.0), x);
      return set(b.CreateSelect(b.CreateFCmpOGT(x, zero),
                                llvm::ConstantFP::get(f64, 1.0), s));
    }
    case K::StopGrad:
      return set(in(0));
    case K::IAdd:
      return set(b.CreateAdd(in(0), in(1)));
    case K::ISub:
      return set(b.CreateSub(in(0), in(1)));
    case K::IMul:
      return set(b.CreateMul(in(0), in(1)));
    case K::IDiv:
    case K::IRem: {
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
    case K::INeg:
      return set(b.CreateNeg(in(0)));
    case K::FCmp: {
      static const llvm::CmpInst::Predicate preds[] = {
          llvm::CmpInst::FCMP_OEQ, llvm::CmpInst::FCMP_UNE,
          llvm::CmpInst::FCMP_OLT, llvm::CmpInst::FCMP_OLE,
          llvm::CmpInst::FCMP_OGT, llvm::CmpInst::FCMP_OGE};
      return set(b.CreateFCmp(preds[op.ival], in(0), in(1)));
    }
    case K::ICmp: {
      static const llvm::CmpInst::Predicate preds[] = {
          llvm::CmpInst::ICMP_EQ,  llvm::CmpInst::ICMP_NE,
          llvm::CmpInst::ICMP_SLT, llvm::CmpInst::ICMP_SLE,
          llvm::CmpInst::ICMP_SGT, llvm::CmpInst::ICMP_SGE};
      return set(b.CreateICmp(preds[op.ival], in(0), in(1)));
    }
    case K::Not:
      return set(b.CreateNot(in(0)));
    case K::BEq:
      return set(b.CreateICmpEQ(in(0), in(1)));
    case K::Select:
      return set(b.CreateSelect(in(0), in(1), in(2)));
    case K::IToF:
      return set(b.CreateSIToFP(in(0), f64));
    case K::FToI:
      return set(b.CreateIntrinsic(llvm::Intrinsic::fptosi_sat, {i64, f64},
                                   {in(0)}));
    case K::ParamLoad: {
      auto *g = params.at(op.str);
      return set(b.CreateLoad(g->getValueType(), g, op.str));
    }
    case K::ParamStore:
      b.CreateStore(in(0), params.at(op.str));
      return;
    case K::Call: {
      llvm::Function *callee = mod->getFunction(functionSymbol(op.str));
      std::vector<Value *> args;
      for (size_t i = 0; i < op.operands.size(); ++i)
        args.push_back(in(i));
      Value *r = b.CreateCall(callee, args);
      if (op.results.size() == 1)
        set(r);
      else
        for (size_t i = 0; i < op.results.size(); ++i)
          vals[op.result(i)] = b.CreateExtractValue(r, {(unsigned)i});
      return;
    }
    case K::If:
      return emitIf(op);
    case K::For:
      return emitFor(op);
    case K::While:
      return emitWhile(op);
    case K::Yield:
      assert(false && "yield is handled by region()");
      return;
    case K::Return: {
      if (op.operands.empty()) {
        b.CreateRetVoid();
      } else if (op.operands.size() == 1) {
        b.CreateRet(in(0));
      } else {
        Value *agg = llvm::UndefValue::get(cur->getReturnType());
        for (size_t i = 0; i < op.operands.size(); ++i)
          agg = b.CreateInsertValue(agg, in(i), {(unsigned)i});
        b.CreateRet(agg);
      }
      return;
    }
    case K::Print:
      return emitPrint(op);
    case K::Assert: {
      check(op, b.CreateNot(in(0)), op.str);
      return;
    }
    case K::TapeNew: {
      IRBuilder<> eb(&cur->getEntryBlock(), cur->getEntryBlock().begin());
      Value *t = eb.CreateAlloca(tapeTy, nullptr, "tape");
      b.CreateStore(llvm::Constant::getNullValue(tapeTy), t);
      return set(t);
    }
    case K::TapePush:
      return emitPush(in(0), in(1));
    case K::TapePop:
      return set(emitPop(in(0), op.result()->type));
    case K::TapeFree:
      b.CreateCall(runtime("bp_tape_free", b.getVoidTy(), {ptr}), {in(0)});
      return;
    }
  }

  Value *field(Value *tape, unsigned i) {
    return b.CreateStructGEP(tapeTy, tape, i);
  }

  void emitPush(Value *tape, Value *v) {
    Value *size = b.CreateLoad(i64, field(tape, 1));
    Value *cap = b.CreateLoad(i64, field(tape, 2));
    auto *grow = newBlock("tape.grow"), *store = newBlock("tape.store");
    b.CreateCondBr(b.CreateICmpEQ(size, cap), grow, store);
    b.SetInsertPoint(grow);
    b.CreateCall(runtime("bp_tape_grow", b.getVoidTy(), {ptr}), {tape});
    b.CreateBr(store);
    b.SetInsertPoint(store);
    Value *data = b.CreateLoad(ptr, field(tape, 0));
    Value *bits;
    if (v->getType() == f64)
      bits = b.CreateBitCast(v, i64);
    else
      bits = b.CreateZExt(v, i64);
    b.CreateStore(bits, b.CreateGEP(i64, data, size));
    b.CreateStore(b.CreateAdd(size, b.getInt64(1)), field(tape, 1));
  }

  Value *emitPop(Value *tape, const Type *t) {
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

  void emitPrint(const ir::Op &op) {
    size_t k = 0;
    std::string chunk;
    auto flush = [&] {
      if (chunk.empty())
        return;
      b.CreateCall(runtime("bp_print_str", b.getVoidTy(), {ptr, i64}),
                   {b.CreateGlobalStringPtr(chunk, "bp.str"),
                    b.getInt64(chunk.size())});
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
      if (v->type->isF64())
        b.CreateCall(runtime("bp_print_f64", b.getVoidTy(), {f64}), {x});
      else if (v->type->isInt())
        b.CreateCall(runtime("bp_print_i64", b.getVoidTy(), {i64}), {x});
      else
        b.CreateCall(runtime("bp_print_bool", b.getVoidTy(), {b.getInt32Ty()}),
                     {b.CreateZExt(x, b.getInt32Ty())});
    }
    flush();
  }

  void emitIf(const ir::Op &op) {
    auto *thenB = newBlock("then"), *elseB = newBlock("else");
    b.CreateCondBr(get(op.operands[0]), thenB, elseB);
    b.SetInsertPoint(thenB);
    std::vector<Value *> tv = region(*op.region(0));
    llvm::BasicBlock *thenEnd = b.GetInsertBlock();
    bool thenFalls = !thenEnd->getTerminator();
    b.SetInsertPoint(elseB);
    std::vector<Value *> ev = region(*op.region(1));
    llvm::BasicBlock *elseEnd = b.GetInsertBlock();
    bool elseFalls = !elseEnd->getTerminator();
    auto *merge = newBlock("endif");
    if (thenFalls) {
      b.SetInsertPoint(thenEnd);
      b.CreateBr(merge);
    }
    if (elseFalls) {
      b.SetInsertPoint(elseEnd);
      b.CreateBr(merge);
    }
    b.SetInsertPoint(merge);
    for (size_t i = 0; i < op.results.size(); ++i) {
      auto *phi = b.CreatePHI(type(op.result(i)->type), 2, op.result(i)->name);
      if (thenFalls)
        phi->addIncoming(tv[i], thenEnd);
      if (elseFalls)
        phi->addIncoming(ev[i], elseEnd);
      vals[op.result(i)] = phi;
    }
  }

  void emitFor(const ir::Op &op) {
    const ir::Block &body = *op.region(0);
    llvm::BasicBlock *pre = b.GetInsertBlock();
    auto *header = newBlock("for.header"), *bodyB = newBlock("for.body"),
         *exit = newBlock("for.exit");
    Value *lo = get(op.operands[0]), *hi = get(op.operands[1]);
    b.CreateBr(header);
    b.SetInsertPoint(header);
    auto *iv = b.CreatePHI(i64, 2, body.args[0]->name);
    iv->addIncoming(lo, pre);
    std::vector<llvm::PHINode *> phis;
    for (size_t i = 1; i < body.args.size(); ++i) {
      auto *phi = b.CreatePHI(type(body.args[i]->type), 2, body.args[i]->name);
      phi->addIncoming(get(op.operands[i + 1]), pre);
      phis.push_back(phi);
      vals[body.args[i].get()] = phi;
    }
    vals[body.args[0].get()] = iv;
    b.CreateCondBr(b.CreateICmpSLT(iv, hi), bodyB, exit);
    b.SetInsertPoint(bodyB);
    std::vector<Value *> next = region(body);
    llvm::BasicBlock *latch = b.GetInsertBlock();
    iv->addIncoming(b.CreateAdd(iv, b.getInt64(1)), latch);
    for (size_t i = 0; i < phis.size(); ++i)
      phis[i]->addIncoming(next[i], latch);
    b.CreateBr(header);
    b.SetInsertPoint(exit);
    for (size_t i = 0; i < op.results.size(); ++i)
      vals[op.result(i)] = phis[i];
  }

  void emitWhile(const ir::Op &op) {
    const ir::Block &cond = *op.region(0), &body = *op.region(1);
    llvm::BasicBlock *pre = b.GetInsertBlock();
    auto *header = newBlock("while.header"), *bodyB = newBlock("while.body"),
         *exit = newBlock("while.exit");
    b.CreateBr(header);
    b.SetInsertPoint(header);
    std::vector<llvm::PHINode *> phis;
    for (size_t i = 0; i < cond.args.size(); ++i) {
      auto *phi = b.CreatePHI(type(cond.args[i]->type), 2, cond.args[i]->name);
      phi->addIncoming(get(op.operands[i]), pre);
      phis.push_back(phi);
      vals[cond.args[i].get()] = phi;
      vals[body.args[i].get()] = phi;
    }
    Value *c = region(cond)[0];
    b.CreateCondBr(c, bodyB, exit);
    b.SetInsertPoint(bodyB);
    std::vector<Value *> next = region(body);
    llvm::BasicBlock *latch = b.GetInsertBlock();
    for (size_t i = 0; i < phis.size(); ++i)
      phis[i]->addIncoming(next[i], latch);
    b.CreateBr(header);
    b.SetInsertPoint(exit);
    for (size_t i = 0; i < op.results.size(); ++i)
      vals[op.result(i)] = phis[i];
  }
};

} // namespace

std::unique_ptr<llvm::Module> emitLLVM(const ir::Module &m,
                                       llvm::LLVMContext &ctx) {
  auto mod = Emitter(m, ctx).run();
  std::string err;
  llvm::raw_string_ostream os(err);
  if (llvm::verifyModule(*mod, &os)) {
    os.flush();
    llvm::errs() << "internal error: invalid LLVM IR generated:\n" << err;
    assert(false && "codegen produced invalid LLVM IR");
  }
  return mod;
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
