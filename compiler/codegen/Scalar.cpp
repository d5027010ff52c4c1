//===- Scalar.cpp - the scalar math of elementwise ops --------------------===//
//
// `scalar()` computes one element: used directly for scalar ops and inside
// the loop of a tensor op. Math goes through LLVM intrinsics where LLVM has
// them (so it can vectorise and constant-fold) and libm otherwise. Stable
// forms: sigmoid = 1/(1+exp(-x)) (0 below -709, never NaN), softplus =
// max(x,0) + log1p(exp(-|x|)); max/min propagate NaN; int(x) saturates.
//
//===----------------------------------------------------------------------===//
#include "codegen/Emitter.h"

#include <cassert>

namespace bp::codegen {

using K = ir::OpKind;

/// The MATH ops whose Lowering column (ir/Ops.def) is a call of Symbol;
/// null for the ones lowered by a case of `scalar`.
llvm::Value *Emitter::tableLowering(const ir::Op &op,
                                    const std::vector<Value *> &in) {
  switch (op.kind) {
#define BP_LOWER_Inline(Symbol) break;
#define BP_LOWER_Calls(Symbol) break;
#define BP_LOWER_Libm(Symbol) return b.CreateCall(libm(#Symbol, in.size()), in);
#define BP_LOWER_Runtime(Symbol) BP_LOWER_Libm(Symbol)
#define OP(Name, Mnemonic, Pure, Rule)                                         \
  case K::Name:                                                                \
    break;
#define MATH(Name, Mnemonic, Arity, Builtin, Eval, Lowering, Symbol)           \
  case K::Name:                                                                \
    BP_LOWER_##Lowering(Symbol)
#include "ir/Ops.def"
#undef BP_LOWER_Inline
#undef BP_LOWER_Calls
#undef BP_LOWER_Libm
#undef BP_LOWER_Runtime
  }
  return nullptr;
}

llvm::Value *Emitter::intrinsic(llvm::Intrinsic::ID id,
                                std::vector<Value *> args) {
  std::vector<llvm::Type *> tys = {args[0]->getType()};
  return b.CreateIntrinsic(id, tys, args);
}

llvm::Value *Emitter::fmax(Value *a, Value *c) {
  Value *chosen = b.CreateSelect(b.CreateFCmpOGE(a, c), a, c);
  return b.CreateSelect(b.CreateFCmpUNO(a, c), b.CreateFAdd(a, c), chosen);
}

llvm::Value *Emitter::fmin(Value *a, Value *c) {
  Value *chosen = b.CreateSelect(b.CreateFCmpOLE(a, c), a, c);
  return b.CreateSelect(b.CreateFCmpUNO(a, c), b.CreateFAdd(a, c), chosen);
}

llvm::Value *Emitter::scalar(const ir::Op &op, const std::vector<Value *> &in) {
  if (Value *v = tableLowering(op, in))
    return v;
  auto k = [&](double d) { return llvm::ConstantFP::get(f64, d); };
  // Bool elements of tensors (masks) are stored as 0.0 / 1.0.
  auto asBool = [&](Value *v) {
    return v->getType() == f64 ? b.CreateFCmpONE(v, k(0)) : v;
  };
  switch (op.kind) {
  case K::FAdd:
    return b.CreateFAdd(in[0], in[1]);
  case K::FSub:
    return b.CreateFSub(in[0], in[1]);
  case K::FMul:
    return b.CreateFMul(in[0], in[1]);
  case K::FDiv:
    return b.CreateFDiv(in[0], in[1]);
  case K::FRem:
    return b.CreateFRem(in[0], in[1]);
  case K::FNeg:
    return b.CreateFNeg(in[0]);
  case K::Pow:
    return intrinsic(llvm::Intrinsic::pow, {in[0], in[1]});
  case K::Max:
    return fmax(in[0], in[1]);
  case K::Min:
    return fmin(in[0], in[1]);
  case K::Clip:
    return fmin(fmax(in[0], in[1]), in[2]);
  case K::Exp:
    return intrinsic(llvm::Intrinsic::exp, {in[0]});
  case K::Log:
    return intrinsic(llvm::Intrinsic::log, {in[0]});
  case K::Sqrt:
    return intrinsic(llvm::Intrinsic::sqrt, {in[0]});
  case K::Sin:
    return intrinsic(llvm::Intrinsic::sin, {in[0]});
  case K::Cos:
    return intrinsic(llvm::Intrinsic::cos, {in[0]});
  case K::Tan:
    return b.CreateCall(libm("tan"), {in[0]});
  case K::Tanh:
    return b.CreateCall(libm("tanh"), {in[0]});
  case K::Lgamma:
    return b.CreateCall(libm("lgamma"), {in[0]});
  case K::Sigmoid: {
    Value *e = intrinsic(llvm::Intrinsic::exp, {b.CreateFNeg(in[0])});
    return b.CreateFDiv(k(1), b.CreateFAdd(k(1), e));
  }
  case K::Relu:
    return b.CreateSelect(b.CreateFCmpOLT(in[0], k(0)), k(0), in[0]);
  case K::Softplus: {
    Value *x = in[0];
    Value *ax = intrinsic(llvm::Intrinsic::fabs, {x});
    Value *t = b.CreateCall(
        libm("log1p"), {intrinsic(llvm::Intrinsic::exp, {b.CreateFNeg(ax)})});
    Value *pos = b.CreateSelect(b.CreateFCmpOGT(x, k(0)), x, k(0));
    return b.CreateFAdd(pos, t);
  }
  case K::Abs:
    return intrinsic(llvm::Intrinsic::fabs, {in[0]});
  case K::Sign: {
    Value *x = in[0];
    Value *s = b.CreateSelect(b.CreateFCmpOLT(x, k(0)), k(-1), x);
    return b.CreateSelect(b.CreateFCmpOGT(x, k(0)), k(1), s);
  }
  case K::StopGrad:
    return in[0];
  case K::IAdd:
    return b.CreateAdd(in[0], in[1]);
  case K::ISub:
    return b.CreateSub(in[0], in[1]);
  case K::IMul:
    return b.CreateMul(in[0], in[1]);
  case K::INeg:
    return b.CreateNeg(in[0]);
  case K::FCmp: {
    static const llvm::CmpInst::Predicate preds[] = {
        llvm::CmpInst::FCMP_OEQ, llvm::CmpInst::FCMP_UNE,
        llvm::CmpInst::FCMP_OLT, llvm::CmpInst::FCMP_OLE,
        llvm::CmpInst::FCMP_OGT, llvm::CmpInst::FCMP_OGE};
    return b.CreateFCmp(preds[op.ival], in[0], in[1]);
  }
  case K::ICmp: {
    static const llvm::CmpInst::Predicate preds[] = {
        llvm::CmpInst::ICMP_EQ,  llvm::CmpInst::ICMP_NE,
        llvm::CmpInst::ICMP_SLT, llvm::CmpInst::ICMP_SLE,
        llvm::CmpInst::ICMP_SGT, llvm::CmpInst::ICMP_SGE};
    return b.CreateICmp(preds[op.ival], in[0], in[1]);
  }
  case K::Not:
    return b.CreateNot(asBool(in[0]));
  case K::BEq:
    return b.CreateICmpEQ(asBool(in[0]), asBool(in[1]));
  case K::Select:
    return b.CreateSelect(asBool(in[0]), in[1], in[2]);
  case K::IToF:
    return b.CreateSIToFP(in[0], f64);
  case K::FToI:
    return b.CreateIntrinsic(llvm::Intrinsic::fptosi_sat, {i64, f64}, {in[0]});
  default:
    assert(false && "not an elementwise op");
    return nullptr;
  }
}

} // namespace bp::codegen
