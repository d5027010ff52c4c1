//===- TensorRules.cpp - derivatives of the structural tensor ops ---------===//
//
// These ops are linear (bilinear for matmul), so the tangent applies the op
// to the tangents and the adjoint applies its transpose:
//   broadcast x        -> ẏ = broadcast ẋ        x̄ = sum_to ȳ
//   sum_to x           -> ẏ = sum_to ẋ           x̄ = broadcast ȳ
//   reduce_sum x, k    -> ẏ = reduce_sum ẋ, k    x̄ = broadcast ȳ (axis k)
//   transpose x        -> ẏ = transpose ẋ        x̄ = transpose ȳ
//   extract x, i       -> ẏ = extract ẋ, i       x̄ = insert(0, ȳ, i)
//   insert v, e, i     -> ẏ = insert(v̇, ė, i)    v̄ = insert(ȳ, 0, i), ē =
//   extract ȳ, i pack e0, e1, ...   -> ẏ = pack ė0, ...       ēk = extract ȳ, k
//   C = A @ B          -> Ċ = Ȧ@B + A@Ḃ          Ā = C̄ @ Bᵀ, B̄ = Aᵀ @ C̄
//     (and the vector forms: [M,K]@[K]: Ā = outer(c̄, b), b̄ = c̄ @ A;
//      [K]@[K,N]: ā = B @ c̄, B̄ = outer(a, c̄); [K]@[K]: ā = c̄ b, b̄ = c̄ a)
//   slice x, i         -> ẏ = slice ẋ, i         x̄ = unslice ȳ, i (zeros
//                                                  elsewhere)
//   splice v, e, i     -> ẏ = splice(v̇, ė, i)    v̄ = splice(ȳ, 0, i),
//                                                  ē = slice ȳ, i
//   reduce_max         -> zero: it only appears under stop_gradient (the
//                         stable logsumexp / softmax), never on its own.
//
//===----------------------------------------------------------------------===//
#include "ad/TensorRules.h"

#include "ad/AD.h"

namespace bp::ad {

using ir::OpKind;
using ir::Value;

bool isTensorRuleOp(OpKind k) {
  return ir::ruleKind(k) == ir::RuleKind::Structural;
}

namespace {

Value *make(ir::Builder &b, OpKind k, std::vector<Value *> ops, const Type *t,
            int64_t ival = 0) {
  ir::Op *op = b.create(k, std::move(ops), {t});
  op->ival = ival;
  return op->result();
}

/// a ⊗ b for rank-1 a, b: broadcast a along columns, b along rows.
Value *outer(ir::Builder &b, Value *a, Value *c) {
  const Type *t = b.types.tensor({a->type->shape[0], c->type->shape[0]});
  return b.binary(OpKind::FMul, make(b, OpKind::Broadcast, {a}, t, 1),
                  make(b, OpKind::Broadcast, {c}, t, 0));
}

Value *transpose(ir::Builder &b, Value *x) {
  return make(b, OpKind::Transpose, {x},
              b.types.tensor({x->type->shape[1], x->type->shape[0]}));
}

/// The indices of an extract/insert (operands from `first` on), as primal
/// values.
std::vector<Value *> indices(const ir::Op &op, size_t first,
                             const PrimalFn &P) {
  std::vector<Value *> idx;
  for (size_t i = first; i < op.operands.size(); ++i)
    idx.push_back(P(op.operands[i]));
  return idx;
}

Value *extract(ir::Builder &b, Value *x, std::vector<Value *> idx,
               const Type *t) {
  std::vector<Value *> ops = {x};
  ops.insert(ops.end(), idx.begin(), idx.end());
  return make(b, OpKind::Extract, ops, t);
}

Value *insert(ir::Builder &b, Value *v, Value *e, std::vector<Value *> idx) {
  std::vector<Value *> ops = {v, e};
  ops.insert(ops.end(), idx.begin(), idx.end());
  return make(b, OpKind::Insert, ops, v->type);
}

/// slice / unslice / splice with the region `axes` and indices `idx`.
Value *region(ir::Builder &b, OpKind k, std::vector<Value *> ops,
              const std::vector<Value *> &idx,
              const std::vector<ir::SliceAxis> &axes, const Type *t) {
  ops.insert(ops.end(), idx.begin(), idx.end());
  ir::Op *op = b.create(k, std::move(ops), {t});
  op->slice = axes;
  return op->result();
}

} // namespace

void tensorAdjoints(const ir::Op &op, Value *g, const std::vector<bool> &want,
                    ir::Builder &b, const PrimalFn &P,
                    std::vector<Value *> &out) {
  out.assign(op.operands.size(), nullptr);
  auto w = [&](size_t i) { return i < want.size() && want[i]; };
  const Type *xt = op.operands[0]->type;
  switch (op.kind) {
  case OpKind::Broadcast:
    if (w(0))
      out[0] = xt->isTensor() ? make(b, OpKind::SumTo, {g}, xt, op.axis())
                              : make(b, OpKind::ReduceSum, {g}, xt, -1);
    return;
  case OpKind::SumTo:
  case OpKind::ReduceSum:
    if (w(0))
      out[0] = make(b, OpKind::Broadcast, {g}, xt, op.axis());
    return;
  case OpKind::ReduceMax:
    return;
  case OpKind::Transpose:
    if (w(0))
      out[0] = transpose(b, g);
    return;
  case OpKind::Slice:
  case OpKind::Unslice:
    // Transposes of each other, with the same region.
    if (w(0))
      out[0] =
          region(b, op.kind == OpKind::Slice ? OpKind::Unslice : OpKind::Slice,
                 {g}, indices(op, 1, P), op.sliceAxes(), xt);
    return;
  case OpKind::Splice: {
    // The read of g first (as for insert): the zeroing splice is then g's
    // last use and codegen does it in place.
    const Type *et = op.operands[1]->type;
    auto idx = indices(op, 2, P);
    if (w(1))
      out[1] = region(b, OpKind::Slice, {g}, idx, op.sliceAxes(), et);
    if (w(0))
      out[0] = region(b, OpKind::Splice, {g, zeroOf(b, et)}, idx,
                      op.sliceAxes(), xt);
    return;
  }
  case OpKind::Extract:
    if (w(0))
      out[0] = insert(b, zeroOf(b, xt), g, indices(op, 1, P));
    return;
  case OpKind::Insert: {
    auto idx = indices(op, 2, P);
    // The read of g first: the zeroing insert is then g's last use and
    // codegen does it in place (no copy of g per element update).
    if (w(1))
      out[1] = extract(b, g, idx, op.operands[1]->type);
    if (w(0))
      out[0] = insert(b, g, zeroOf(b, op.operands[1]->type), idx);
    return;
  }
  case OpKind::Pack:
    for (size_t k = 0; k < op.operands.size(); ++k)
      if (w(k))
        out[k] = extract(b, g, {b.constI((int64_t)k)}, op.operands[k]->type);
    return;
  case OpKind::MatMul: {
    const Type *at = op.operands[0]->type, *bt = op.operands[1]->type;
    auto A = [&] { return P(op.operands[0]); };
    auto B = [&] { return P(op.operands[1]); };
    if (at->rank() == 1 && bt->rank() == 1) { // dot: g is a scalar
      if (w(0))
        out[0] = b.binary(OpKind::FMul, B(), g);
      if (w(1))
        out[1] = b.binary(OpKind::FMul, A(), g);
    } else if (at->rank() == 2 && bt->rank() == 2) {
      if (w(0))
        out[0] = make(b, OpKind::MatMul, {g, transpose(b, B())}, at);
      if (w(1))
        out[1] = make(b, OpKind::MatMul, {transpose(b, A()), g}, bt);
    } else if (at->rank() == 2) { // [M,K] @ [K]
      if (w(0))
        out[0] = outer(b, g, B());
      if (w(1))
        out[1] = make(b, OpKind::MatMul, {g, A()}, bt);
    } else { // [K] @ [K,N]
      if (w(0))
        out[0] = make(b, OpKind::MatMul, {B(), g}, at);
      if (w(1))
        out[1] = outer(b, A(), g);
    }
    return;
  }
  // The ops whose Rule column (ir/Ops.def) is not Structural: no `default:`,
  // so a new Structural op without this rule does not compile.
#define BP_NOT_STRUCTURAL_Partials(Name) case OpKind::Name:
#define BP_NOT_STRUCTURAL_Structural(Name)
#define BP_NOT_STRUCTURAL_None(Name) case OpKind::Name:
#define BP_NOT_STRUCTURAL_Pass(Name) case OpKind::Name:
#define OP(Name, Mnemonic, Pure, Rule) BP_NOT_STRUCTURAL_##Rule(Name)
#include "ir/Ops.def"
    return;
  }
}

Value *tensorTangent(const ir::Op &op, const std::vector<Value *> &t,
                     ir::Builder &b, const PrimalFn &P) {
  const Type *rt = op.result()->type;
  auto tan = [&](size_t i) {
    return t[i] ? t[i] : zeroOf(b, op.operands[i]->type);
  };
  bool any = false;
  for (size_t i = 0; i < t.size(); ++i)
    any |= t[i] != nullptr && op.operands[i]->type->isDifferentiable();
  if (!any || op.kind == OpKind::ReduceMax)
    return nullptr;
  switch (op.kind) {
  case OpKind::Broadcast:
  case OpKind::SumTo:
  case OpKind::ReduceSum:
  case OpKind::Transpose:
    return make(b, op.kind, {tan(0)}, rt, op.ival);
  case OpKind::Slice:
  case OpKind::Unslice:
    return region(b, op.kind, {tan(0)}, indices(op, 1, P), op.sliceAxes(), rt);
  case OpKind::Splice:
    return region(b, op.kind, {tan(0), tan(1)}, indices(op, 2, P),
                  op.sliceAxes(), rt);
  case OpKind::Extract:
    return extract(b, tan(0), indices(op, 1, P), rt);
  case OpKind::Insert:
    return insert(b, tan(0), tan(1), indices(op, 2, P));
  case OpKind::Pack: {
    std::vector<Value *> ops;
    for (size_t i = 0; i < op.operands.size(); ++i)
      ops.push_back(tan(i));
    return make(b, OpKind::Pack, ops, rt);
  }
  case OpKind::MatMul: {
    Value *sum = nullptr;
    if (t[0])
      sum = make(b, OpKind::MatMul, {t[0], P(op.operands[1])}, rt);
    if (t[1]) {
      Value *term = make(b, OpKind::MatMul, {P(op.operands[0]), t[1]}, rt);
      sum = sum ? b.binary(OpKind::FAdd, sum, term) : term;
    }
    return sum;
  }
  case OpKind::ReduceMax: // derivative zero (returned above)
    // The ops whose Rule column (ir/Ops.def) is not Structural: no `default:`,
    // so a new Structural op without this rule does not compile.
#define BP_NOT_STRUCTURAL_Partials(Name) case OpKind::Name:
#define BP_NOT_STRUCTURAL_Structural(Name)
#define BP_NOT_STRUCTURAL_None(Name) case OpKind::Name:
#define BP_NOT_STRUCTURAL_Pass(Name) case OpKind::Name:
#define OP(Name, Mnemonic, Pure, Rule) BP_NOT_STRUCTURAL_##Rule(Name)
#include "ir/Ops.def"
    return nullptr;
  }
  return nullptr;
}

} // namespace bp::ad
