//===- Rules.cpp - every derivative rule, reverse and tangent -------------===//
//
// Every op's derivative, in the order of its Rule column in ir/Ops.def:
//
// Partials (`partials`): one case per op, the math in a comment. The same
// partials serve reverse mode (times the result's adjoint) and forward mode
// (times the operand's tangent). Conventions at kinks follow PyTorch
// (LANGUAGE.md s. 6).
//
// Structural (`tensorAdjoints`, `tensorTangent`): the tensor ops. They are
// linear (bilinear for matmul), so the tangent applies the op to the
// tangents and the adjoint applies its transpose:
//   broadcast x        -> ẏ = broadcast ẋ        x̄ = sum_to ȳ
//   sum_to x           -> ẏ = sum_to ẋ           x̄ = broadcast ȳ
//   reduce_sum x, k    -> ẏ = reduce_sum ẋ, k    x̄ = broadcast ȳ (axis k)
//   transpose x        -> ẏ = transpose ẋ        x̄ = transpose ȳ
//   reshape x          -> ẏ = reshape ẋ          x̄ = reshape ȳ (x's shape)
//   extract x, i       -> ẏ = extract ẋ, i       x̄ = insert(0, ȳ, i)
//   insert v, e, i     -> ẏ = insert(v̇, ė, i)    v̄ = insert(ȳ, 0, i), ē =
//   extract ȳ, i pack e0, e1, ...   -> ẏ = pack ė0, ...       ēk = extract ȳ, k
//   C = A @ B          -> Ċ = Ȧ@B + A@Ḃ          Ā = C̄ @ Bᵀ, B̄ = Aᵀ @ C̄
//     (and the vector forms: [M,K]@[K]: Ā = outer(c̄, b), b̄ = c̄ @ A;
//      [K]@[K,N]: ā = B @ c̄, B̄ = outer(a, c̄); [K]@[K]: ā = c̄ b, b̄ = c̄ a)
//   gather x, t        -> ẏ = gather ẋ, t        x̄ = scatter_add ȳ, t
//   scatter_add g, t   -> ẏ = scatter_add ġ, t   ḡ = gather ȳ, t
//   slice x, i         -> ẏ = slice ẋ, i         x̄ = unslice ȳ, i (zeros
//                                                  elsewhere)
//   splice v, e, i     -> ẏ = splice(v̇, ė, i)    v̄ = splice(ȳ, 0, i),
//                                                  ē = slice ȳ, i
//   reduce_max x, k    -> ẏ = reduce_sum(m ẋ, k)  x̄ = m · broadcast ȳ (axis
//                         k), m = max_mask x, k: one at the first maximum
//                         (of each line along k), so ties send the whole
//                         derivative to the first (max(x), max(x, k); min
//                         is -max(-x), IRGen).
//
// None of the three switches has a `default:`, and the build uses
// -Werror=switch: a new op without its rules does not compile (the ops of the
// other rule kinds are listed from the table). Pass-handled ops (control
// flow, calls, params, tape) are differentiated by ad/Reverse.cpp and
// ad/Forward.cpp themselves.
//
//===----------------------------------------------------------------------===//
#include "ad/Rules.h"

#include "ad/AD.h"

namespace bp::ad {

using ir::OpKind;

bool hasPartials(OpKind k) { return ir::ruleKind(k) == ir::RuleKind::Partials; }

bool partials(const ir::Op &op, const std::vector<bool> &want, ir::Builder &b,
              const PrimalFn &P, std::vector<ir::Value *> &out) {
  out.assign(op.operands.size(), nullptr);
  auto a = [&] { return P(op.operands[0]); };
  auto c = [&] { return P(op.operands[1]); };
  auto r = [&] { return P(op.result()); };
  auto k = [&](double v) { return b.constF(v); };
  auto mul = [&](ir::Value *x, ir::Value *y) {
    return b.binary(OpKind::FMul, x, y);
  };
  auto sub = [&](ir::Value *x, ir::Value *y) {
    return b.binary(OpKind::FSub, x, y);
  };
  auto div = [&](ir::Value *x, ir::Value *y) {
    return b.binary(OpKind::FDiv, x, y);
  };
  auto fcmp = [&](ir::CmpPred p, ir::Value *x, ir::Value *y) {
    return b.cmp(OpKind::FCmp, p, x, y);
  };
  auto w = [&](size_t i) { return i < want.size() && want[i]; };
  using P_ = ir::CmpPred;

  switch (op.kind) {
  // d(a + b) = da + db
  case OpKind::FAdd:
    if (w(0))
      out[0] = k(1);
    if (w(1))
      out[1] = k(1);
    return true;
  // d(a - b) = da - db
  case OpKind::FSub:
    if (w(0))
      out[0] = k(1);
    if (w(1))
      out[1] = k(-1);
    return true;
  // d(a * b) = b da + a db
  case OpKind::FMul:
    if (w(0))
      out[0] = c();
    if (w(1))
      out[1] = a();
    return true;
  // d(a / b) = da / b - (a / b) db / b
  case OpKind::FDiv:
    if (w(0))
      out[0] = div(k(1), c());
    if (w(1))
      out[1] = b.unary(OpKind::FNeg, div(r(), c()));
    return true;
  // fmod(a, b) = a - trunc(a / b) b: d = da - trunc(a / b) db
  case OpKind::FRem:
    if (w(0))
      out[0] = k(1);
    if (w(1)) {
      ir::Value *q = div(a(), c());
      ir::Value *trunc = sub(q, b.binary(OpKind::FRem, q, k(1)));
      out[1] = b.unary(OpKind::FNeg, trunc);
    }
    return true;
  // d(-a) = -da
  case OpKind::FNeg:
    if (w(0))
      out[0] = k(-1);
    return true;
  // d(a^b) = b a^(b-1) da + a^b log(a) db; the da term is 0 where b = 0 and
  // the db term is 0 where a^b = 0 (PyTorch's conventions).
  case OpKind::Pow:
    if (w(0)) {
      const ir::Op *e = op.operands[1]->def;
      if (e && e->kind == OpKind::ConstF && e->fval == 2.0)
        out[0] = mul(k(2), a()); // the common square: 2a, no pow call
      else if (e && e->kind == OpKind::ConstF && e->fval == 1.0)
        out[0] = k(1);
      else if (e && e->kind == OpKind::ConstF && e->fval == 0.0)
        out[0] = nullptr; // a^0 = 1
      else if (e && e->kind == OpKind::ConstF)
        out[0] = mul(k(e->fval), b.binary(OpKind::Pow, a(), k(e->fval - 1)));
      else // 0 where b = 0 (PyTorch): b a^(b-1) would be 0 * inf at a = 0
        out[0] = b.select(fcmp(P_::Eq, c(), k(0)), k(0),
                          mul(c(), b.binary(OpKind::Pow, a(), sub(c(), k(1)))));
    }
    if (w(1)) {
      ir::Value *t = mul(r(), b.unary(OpKind::Log, a()));
      out[1] = b.select(fcmp(P_::Eq, r(), k(0)), k(0), t);
    }
    return true;
  // max: the gradient goes to the larger operand, split 0.5/0.5 on ties.
  case OpKind::Max:
  case OpKind::Min: {
    P_ win = op.kind == OpKind::Max ? P_::Gt : P_::Lt;
    ir::Value *x = a(), *y = c();
    ir::Value *tie = fcmp(P_::Eq, x, y);
    if (w(0))
      out[0] = b.select(tie, k(0.5), b.select(fcmp(win, x, y), k(1), k(0)));
    if (w(1))
      out[1] = b.select(tie, k(0.5), b.select(fcmp(win, y, x), k(1), k(0)));
    return true;
  }
  // clip(x, lo, hi): 1 on the closed range [lo, hi] for x; lo and hi get
  // the gradient where they are the result.
  case OpKind::Clip: {
    ir::Value *x = a(), *lo = c(), *hi = P(op.operands[2]);
    ir::Value *below = fcmp(P_::Lt, x, lo), *above = fcmp(P_::Gt, x, hi);
    if (w(0))
      out[0] = b.select(below, k(0), b.select(above, k(0), k(1)));
    if (w(1))
      out[1] = b.select(below, k(1), k(0));
    if (w(2))
      out[2] = b.select(below, k(0), b.select(above, k(1), k(0)));
    return true;
  }
  // d exp(a) = exp(a) da
  case OpKind::Exp:
    if (w(0))
      out[0] = r();
    return true;
  // d log(a) = da / a
  case OpKind::Log:
    if (w(0))
      out[0] = div(k(1), a());
    return true;
  // d sqrt(a) = da / (2 sqrt(a)); inf at 0
  case OpKind::Sqrt:
    if (w(0))
      out[0] = div(k(0.5), r());
    return true;
  // d sin(a) = cos(a) da
  case OpKind::Sin:
    if (w(0))
      out[0] = b.unary(OpKind::Cos, a());
    return true;
  // d cos(a) = -sin(a) da
  case OpKind::Cos:
    if (w(0))
      out[0] = b.unary(OpKind::FNeg, b.unary(OpKind::Sin, a()));
    return true;
  // d tan(a) = (1 + tan(a)^2) da
  case OpKind::Tan:
    if (w(0))
      out[0] = b.binary(OpKind::FAdd, k(1), mul(r(), r()));
    return true;
  // d tanh(a) = (1 - tanh(a)^2) da
  case OpKind::Tanh:
    if (w(0))
      out[0] = sub(k(1), mul(r(), r()));
    return true;
  // d sigmoid(a) = s (1 - s) da
  case OpKind::Sigmoid:
    if (w(0))
      out[0] = mul(r(), sub(k(1), r()));
    return true;
  // d relu(a) = [a > 0] da (relu'(0) = 0)
  case OpKind::Relu:
    if (w(0))
      out[0] = b.select(fcmp(P_::Gt, a(), k(0)), k(1), k(0));
    return true;
  // d softplus(a) = sigmoid(a) da
  case OpKind::Softplus:
    if (w(0))
      out[0] = b.unary(OpKind::Sigmoid, a());
    return true;
  // d |a| = sign(a) da (abs'(0) = 0)
  case OpKind::Abs:
    if (w(0))
      out[0] = b.unary(OpKind::Sign, a());
    return true;
  // sign and stop_gradient: derivative 0
  case OpKind::Sign:
  case OpKind::StopGrad:
    return true;
  // d atan(a) = da / (1 + a^2)
  case OpKind::Atan:
    if (w(0))
      out[0] = div(k(1), b.binary(OpKind::FAdd, k(1), mul(a(), a())));
    return true;
  // atan2(y, x): d = (x dy - y dx) / (x^2 + y^2)
  case OpKind::Atan2: {
    ir::Value *y = a(), *x = c();
    ir::Value *r2 = b.binary(OpKind::FAdd, mul(x, x), mul(y, y));
    if (w(0))
      out[0] = div(x, r2);
    if (w(1))
      out[1] = b.unary(OpKind::FNeg, div(y, r2));
    return true;
  }
  // d erf(a) = 2 / sqrt(pi) exp(-a^2) da
  case OpKind::Erf:
    if (w(0))
      out[0] = mul(k(1.1283791670955126),
                   b.unary(OpKind::Exp, b.unary(OpKind::FNeg, mul(a(), a()))));
    return true;
  // gelu(a) = 0.5 a (1 + t), t = tanh(c (a + 0.044715 a^3)), c = sqrt(2/pi):
  // d = (0.5 (1 + t) + 0.5 a (1 - t^2) c (1 + 0.134145 a^2)) da
  case OpKind::Gelu:
    if (w(0)) {
      ir::Value *x = a(), *x2 = mul(x, x);
      ir::Value *u = b.binary(OpKind::FAdd, x, mul(k(0.044715), mul(x2, x)));
      ir::Value *t = b.unary(OpKind::Tanh, mul(k(0.7978845608028654), u));
      ir::Value *du = b.binary(OpKind::FAdd, k(1), mul(k(0.134145), x2));
      ir::Value *dt = mul(sub(k(1), mul(t, t)), mul(k(0.7978845608028654), du));
      out[0] =
          b.binary(OpKind::FAdd, mul(k(0.5), b.binary(OpKind::FAdd, k(1), t)),
                   mul(mul(k(0.5), x), dt));
    }
    return true;
  // d lgamma(a) = digamma(a) da
  case OpKind::Lgamma:
    if (w(0))
      out[0] = b.unary(OpKind::Digamma, a());
    return true;
  // d digamma(a) = trigamma(a) da
  case OpKind::Digamma:
    if (w(0))
      out[0] = b.unary(OpKind::Trigamma, a());
    return true;
  // No rule (tetragamma): a third derivative of lgamma is a located error.
  case OpKind::Trigamma:
    return false;
  // select(c, a, b): the gradient goes to the chosen operand
  case OpKind::Select: {
    ir::Value *cond = a();
    if (w(1))
      out[1] = b.select(cond, k(1), k(0));
    if (w(2))
      out[2] = b.select(cond, k(0), k(1));
    return true;
  }
  // Every op whose Rule column (ir/Ops.def) is not Partials: no case here.
#define BP_NO_PARTIALS_Partials(Name)
#define BP_NO_PARTIALS_Structural(Name) case OpKind::Name:
#define BP_NO_PARTIALS_None(Name) case OpKind::Name:
#define BP_NO_PARTIALS_Pass(Name) case OpKind::Name:
#define OP(Name, Mnemonic, Pure, Rule) BP_NO_PARTIALS_##Rule(Name)
#include "ir/Ops.def"
    return false;
  }
  return false;
}

// --- Structural tensor ops ---------------------------------------------

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

/// The one-hot mask of reduce_max `op`'s first maximum (of each line along
/// its axis), over its primal operand.
Value *maxMask(ir::Builder &b, const ir::Op &op, const PrimalFn &P) {
  Value *x = P(op.operands[0]);
  return make(b, OpKind::MaxMask, {x}, x->type, op.axis());
}

/// x with its last two axes swapped (leading axes: separate matrices).
Value *transpose(ir::Builder &b, Value *x) {
  std::vector<int64_t> s = x->type->shape;
  std::swap(s[s.size() - 2], s[s.size() - 1]);
  return make(b, OpKind::Transpose, {x}, b.types.tensor(s));
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

/// The adjoints of `C = A @ B` in its four forms (the table above).
static void matmulAdjoints(const ir::Op &op, Value *g,
                           const std::vector<bool> &want, ir::Builder &b,
                           const PrimalFn &P, std::vector<Value *> &out) {
  auto w = [&](size_t i) { return i < want.size() && want[i]; };
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
}

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
    if (w(0)) {
      Value *gx = xt->isTensor() && op.axis() >= 0
                      ? make(b, OpKind::Broadcast, {g}, xt, op.axis())
                      : g;
      out[0] = b.binary(OpKind::FMul, maxMask(b, op, P), gx);
    }
    return;
  case OpKind::Transpose:
    if (w(0))
      out[0] = transpose(b, g);
    return;
  case OpKind::Reshape:
    if (w(0))
      out[0] = make(b, OpKind::Reshape, {g}, xt);
    return;
  case OpKind::Im2Col:
  case OpKind::Col2Im:
    // Linear maps that are each other's transposes (the same stride and
    // pad): <im2col(x), g> = <x, col2im(g)>.
    if (w(0))
      out[0] =
          make(b, op.kind == OpKind::Im2Col ? OpKind::Col2Im : OpKind::Im2Col,
               {g}, xt, op.ival);
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
  case OpKind::Gather:
  case OpKind::ScatterAdd:
    // Transposes of each other for the same indices (never differentiated:
    // an int tensor).
    if (w(0))
      out[0] = make(
          b, op.kind == OpKind::Gather ? OpKind::ScatterAdd : OpKind::Gather,
          {g, P(op.operands[1])}, xt);
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
  case OpKind::MatMul:
    return matmulAdjoints(op, g, want, b, P, out);
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
  if (!any)
    return nullptr;
  switch (op.kind) {
  case OpKind::Broadcast:
  case OpKind::SumTo:
  case OpKind::ReduceSum:
  case OpKind::Transpose:
  case OpKind::Reshape:
  case OpKind::Im2Col: // linear: the same map of the tangent
  case OpKind::Col2Im:
    return make(b, op.kind, {tan(0)}, rt, op.ival);
  case OpKind::Slice:
  case OpKind::Unslice:
    return region(b, op.kind, {tan(0)}, indices(op, 1, P), op.sliceAxes(), rt);
  case OpKind::Splice:
    return region(b, op.kind, {tan(0), tan(1)}, indices(op, 2, P),
                  op.sliceAxes(), rt);
  case OpKind::Extract:
    return extract(b, tan(0), indices(op, 1, P), rt);
  case OpKind::Gather:
  case OpKind::ScatterAdd: // linear in operand 0
    return make(b, op.kind, {tan(0), P(op.operands[1])}, rt);
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
  case OpKind::ReduceMax:
    return make(b, OpKind::ReduceSum,
                {b.binary(OpKind::FMul, maxMask(b, op, P), tan(0))}, rt,
                op.ival);
    // The ops whose Rule column (ir/Ops.def) is not Structural: no
    // `default:`, so a new Structural op without this rule does not compile.
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
