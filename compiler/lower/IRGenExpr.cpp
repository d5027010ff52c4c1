//===- IRGenExpr.cpp - IRGen: expressions ---------------------------------===//
//
// Expressions to IR values: names and params, operators (short-circuit
// `and`/`or`, int/f64 promotion, broadcasting), indexing and slices, calls
// of functions and builtins, tensor builtins (reductions with axes,
// softmax, logsumexp).
//
//===----------------------------------------------------------------------===//
#include "lower/IRGenImpl.h"

#include "sema/Shapes.h"

#include <cassert>
#include <map>
#include <set>

namespace bp::irgen {

using namespace ast;

/// An operand of an elementwise op whose result has type `rt`: ints become
/// f64; tensors of another shape are broadcast (NumPy rules); scalars stay
/// scalars (the IR broadcasts them implicitly).
ir::Value *IRGen::toShape(ir::Value *v, const Type *rt) {
  if (!rt->isIntLike())
    v = coerce(v, T.f64());
  if (rt->isTensor() && v->type->isTensor() && v->type != rt) {
    ir::Op *op = b.create(ir::OpKind::Broadcast, {v}, {rt});
    op->ival = -1;
    return op->result();
  }
  return v;
}

ir::Value *IRGen::coerce(ir::Value *v, const Type *to) {
  if (v->type->isIntLike() && to->isDifferentiable())
    return b.unary(ir::OpKind::IToF, v);
  return v;
}

/// Lowers `e` and converts its values to `types` (int -> f64).
std::vector<ir::Value *>
IRGen::lowerTo(const Expr &e, const std::vector<const Type *> &types) {
  std::vector<ir::Value *> vals = lowerValues(e);
  for (size_t i = 0; i < vals.size() && i < types.size(); ++i)
    vals[i] = coerce(vals[i], types[i]);
  return vals;
}

/// All values of `e` (several for a tuple, none for a void call).
std::vector<ir::Value *> IRGen::lowerValues(const Expr &e) {
  if (auto *t = dyn<const TupleExpr>(&e)) {
    std::vector<ir::Value *> out;
    for (auto &x : t->elems) {
      auto vs = lowerValues(*x);
      out.insert(out.end(), vs.begin(), vs.end());
    }
    return out;
  }
  if (auto *c = dyn<const CallExpr>(&e))
    if (std::string callee = userCallee(*c); !callee.empty())
      return lowerUserCall(*c, callee);
  if (auto *n = dyn<const NameExpr>(&e))
    if (Slot *s = lookup(n->name))
      return s->vals;
  return {lowerExpr(e)};
}

/// The IR function a call expression targets, or "" for a builtin.
std::string IRGen::userCallee(const CallExpr &c) {
  if (auto *inner = dyn<const CallExpr>(c.callee.get()))
    return prog.inlineDerived.at(inner);
  auto *n = static_cast<const NameExpr *>(c.callee.get());
  if (prog.signature(n->name))
    return n->name;
  return "";
}

std::vector<ir::Value *> IRGen::lowerUserCall(const CallExpr &c,
                                              const std::string &callee) {
  ir::Function *f = mod->lookup(callee);
  const sema::FnSig &sig = *prog.signature(callee);
  std::vector<ir::Value *> args;
  for (size_t i = 0; i < c.args.size(); ++i)
    args.push_back(coerce(lowerExpr(*c.args[i]), sig.params[i]));
  b.loc = c.loc;
  ir::Op *op = b.create(ir::OpKind::Call, args, flatten(sig.result));
  op->str = callee;
  (void)f;
  std::vector<ir::Value *> out;
  for (auto &r : op->results)
    out.push_back(r.get());
  return out;
}

ir::Value *IRGen::paramLoad(const std::string &name, const Type *t) {
  ir::Op *op = b.create(ir::OpKind::ParamLoad, {}, {t});
  op->str = name;
  op->result()->name = name;
  return op->result();
}

ir::Value *IRGen::lowerExpr(const Expr &e) {
  b.loc = e.loc;
  switch (e.kind) {
  case ExprKind::Number: {
    auto &n = static_cast<const NumberExpr &>(e);
    return n.isInt ? b.constI(n.intValue) : b.constF(n.floatValue);
  }
  case ExprKind::Bool:
    return b.constB(static_cast<const BoolExpr &>(e).value);
  case ExprKind::Name: {
    auto &n = static_cast<const NameExpr &>(e);
    if (Slot *s = lookup(n.name))
      return s->vals[0];
    auto c = prog.consts.find(n.name);
    if (c != prog.consts.end())
      return c->second.isInt ? b.constI(c->second.i) : b.constF(c->second.f);
    return paramLoad(n.name, typeOf(e));
  }
  case ExprKind::Unary: {
    auto &u = static_cast<const UnaryExpr &>(e);
    ir::Value *v = lowerExpr(*u.operand);
    b.loc = e.loc;
    switch (u.op) {
    case UnaryOp::Plus:
      return v;
    case UnaryOp::Neg:
      return b.unary(v->type->isIntLike() ? ir::OpKind::INeg : ir::OpKind::FNeg,
                     v);
    case UnaryOp::Not:
      return b.unary(ir::OpKind::Not, v);
    }
    return v;
  }
  case ExprKind::Binary:
    return lowerBinary(static_cast<const BinaryExpr &>(e));
  case ExprKind::Call:
    return lowerCall(static_cast<const CallExpr &>(e));
  case ExprKind::IfExpr: {
    auto &i = static_cast<const IfExpr &>(e);
    const Type *t = typeOf(e);
    ir::Value *c = lowerExpr(*i.cond);
    return branchValue(
        c, t, [&] { return lowerTo(*i.thenExpr, {t})[0]; },
        [&] { return lowerTo(*i.elseExpr, {t})[0]; });
  }
  case ExprKind::Tuple: {
    // A tuple in a scalar position (sema allows only print/return/let).
    return lowerValues(e)[0];
  }
  case ExprKind::Index: {
    auto &ix = static_cast<const IndexExpr &>(e);
    ir::Value *base = lowerExpr(*ix.base);
    std::vector<ir::Value *> ops = {base};
    for (auto &a : ix.indices)
      if (!a.isSlice)
        ops.push_back(lowerExpr(*a.index));
      else if (ir::Value *start = windowStart(a))
        ops.push_back(start);
    b.loc = e.loc;
    if (ops.size() == 2 && ops[1]->type->isIntTensor()) // E[t], section 13
      return b.create(ir::OpKind::Gather, ops, {typeOf(e)})->result();
    if (!prog.slices.count(&ix))
      return b.create(ir::OpKind::Extract, ops, {typeOf(e)})->result();
    // Leading int indices first (a view), then the slice of the other
    // axes, which may index some of them (`X[:, j]`).
    size_t lead = 0;
    while (lead < ix.indices.size() && !ix.indices[lead].isSlice)
      ++lead;
    ir::Value *x = base;
    if (lead > 0) {
      std::vector<int64_t> rest(base->type->shape.begin() + lead,
                                base->type->shape.end());
      x = b.create(ir::OpKind::Extract, {ops.begin(), ops.begin() + lead + 1},
                   {T.tensor(rest, base->type->elem)})
              ->result();
    }
    std::vector<ir::Value *> sops = {x};
    sops.insert(sops.end(), ops.begin() + lead + 1, ops.end());
    ir::Op *op = b.create(ir::OpKind::Slice, sops, {typeOf(e)});
    op->slice = regionSpec(ix, lead);
    return op->result();
  }
  case ExprKind::TensorLit: {
    auto &lit = static_cast<const TensorLitExpr &>(e);
    const Type *t = typeOf(e);
    const Type *elem =
        t->rank() == 1
            ? T.scalar(t->elem)
            : T.tensor({t->shape.begin() + 1, t->shape.end()}, t->elem);
    std::vector<ir::Value *> ops;
    for (auto &x : lit.elems)
      ops.push_back(coerce(lowerExpr(*x), elem));
    b.loc = e.loc;
    return b.create(ir::OpKind::Pack, ops, {t})->result();
  }
  case ExprKind::String:
    break;
  }
  assert(false && "sema rejects this expression");
  return b.constF(0);
}

ir::Value *IRGen::lowerBinary(const BinaryExpr &e) {
  using ir::OpKind;
  if (e.op == BinaryOp::And || e.op == BinaryOp::Or) {
    // Short-circuit: `a and b` is `if a { b } else { false }`.
    ir::Value *l = lowerExpr(*e.lhs);
    bool isAnd = e.op == BinaryOp::And;
    return branchValue(
        l, T.boolean(),
        [&] { return isAnd ? lowerExpr(*e.rhs) : b.constB(true); },
        [&] { return isAnd ? b.constB(false) : lowerExpr(*e.rhs); });
  }
  ir::Value *l = lowerExpr(*e.lhs), *r = lowerExpr(*e.rhs);
  b.loc = e.opLoc;
  const Type *lt = l->type, *rt = r->type;
  bool ints = lt->isIntLike() && rt->isIntLike();
  if (lt->isBool() && rt->isBool()) {
    ir::Value *eq = b.binary(OpKind::BEq, l, r);
    eq->def->results[0]->type = T.boolean();
    return e.op == BinaryOp::Eq ? eq : b.unary(OpKind::Not, eq);
  }
  if (e.op == BinaryOp::MatMul) {
    ir::Op *mm = b.create(OpKind::MatMul, {l, r}, {typeOf(e)});
    return mm->result();
  }
  if (!ints || e.op == BinaryOp::Pow || typeOf(e)->isTensor()) {
    l = toShape(l, typeOf(e));
    r = toShape(r, typeOf(e));
  }
  auto cmp = [&](ir::CmpPred p) {
    return b.cmp(ints ? OpKind::ICmp : OpKind::FCmp, p, l, r);
  };
  switch (e.op) {
  case BinaryOp::Add:
    return b.binary(ints ? OpKind::IAdd : OpKind::FAdd, l, r);
  case BinaryOp::Sub:
    return b.binary(ints ? OpKind::ISub : OpKind::FSub, l, r);
  case BinaryOp::Mul:
    return b.binary(ints ? OpKind::IMul : OpKind::FMul, l, r);
  case BinaryOp::Div:
    return b.binary(ints ? OpKind::IDiv : OpKind::FDiv, l, r);
  case BinaryOp::Mod:
    return b.binary(ints ? OpKind::IRem : OpKind::FRem, l, r);
  case BinaryOp::Pow:
    return b.binary(OpKind::Pow, l, r);
  case BinaryOp::Eq:
    return cmp(ir::CmpPred::Eq);
  case BinaryOp::Ne:
    return cmp(ir::CmpPred::Ne);
  case BinaryOp::Lt:
    return cmp(ir::CmpPred::Lt);
  case BinaryOp::Le:
    return cmp(ir::CmpPred::Le);
  case BinaryOp::Gt:
    return cmp(ir::CmpPred::Gt);
  case BinaryOp::Ge:
    return cmp(ir::CmpPred::Ge);
  default:
    break;
  }
  assert(false && "sema rejects this operator");
  return l;
}

ir::Value *IRGen::lowerCall(const CallExpr &c) {
  using ir::OpKind;
  if (std::string callee = userCallee(c); !callee.empty())
    return lowerUserCall(c, callee)[0];
  const std::string &n = static_cast<const NameExpr &>(*c.callee).name;
  std::vector<ir::Value *> args;
  for (auto &a : c.args)
    args.push_back(lowerExpr(*a));
  b.loc = c.loc;
  auto f = [&](size_t i) { return coerce(args[i], T.f64()); };
  if (n == "abs") {
    if (!args[0]->type->isIntLike())
      return b.unary(OpKind::Abs, f(0));
    ir::Value *neg = b.cmp(OpKind::ICmp, ir::CmpPred::Lt, args[0], b.constI(0));
    return b.select(neg, b.unary(OpKind::INeg, args[0]), args[0]);
  }
  if (n == "max" || n == "min") {
    bool isMax = n == "max";
    if (auto axisIt = prog.axes.find(&c);
        args.size() == 1 || axisIt != prog.axes.end()) {
      // A reduction (section 14); min(x) = -max(-x), so the one rule of
      // reduce_max sends min's derivative to the first minimum too.
      int64_t axis = args.size() == 1 ? -1 : axisIt->second;
      if (isMax)
        return reduce(OpKind::ReduceMax, args[0], axis);
      return b.unary(
          OpKind::FNeg,
          reduce(OpKind::ReduceMax, b.unary(OpKind::FNeg, args[0]), axis));
    }
    if (args[0]->type->isIntLike() && args[1]->type->isIntLike()) {
      ir::Value *x = toShape(args[0], typeOf(c)),
                *y = toShape(args[1], typeOf(c));
      ir::Value *gt =
          b.cmp(OpKind::ICmp, isMax ? ir::CmpPred::Ge : ir::CmpPred::Le, x, y);
      return b.select(gt, x, y);
    }
    return b.binary(isMax ? OpKind::Max : OpKind::Min,
                    toShape(args[0], typeOf(c)), toShape(args[1], typeOf(c)));
  }
  const Type *rt = typeOf(c);
  // The elementwise builtins (ir/Ops.def).
  if (auto it = ir::elementwiseBuiltins().find(n);
      it != ir::elementwiseBuiltins().end()) {
    std::vector<ir::Value *> ops;
    for (ir::Value *a : args)
      ops.push_back(toShape(a, rt));
    return b.create(it->second, ops, {rt})->result();
  }
  if (n == "float")
    return f(0);
  if (n == "int")
    return args[0]->type->isIntLike() ? args[0]
                                      : b.unary(OpKind::FToI, args[0]);
  return lowerTensorBuiltin(c, n, args);
}

ir::Value *IRGen::create1(ir::OpKind k, std::vector<ir::Value *> ops,
                          const Type *t, int64_t ival) {
  ir::Op *op = b.create(k, std::move(ops), {t});
  op->ival = ival;
  return op->result();
}

/// x -> reduce over `axis` (-1: everything).
ir::Value *IRGen::reduce(ir::OpKind k, ir::Value *x, int64_t axis) {
  const Type *t =
      axis < 0 ? T.scalar(x->type->elem) : sema::removeAxis(T, x->type, axis);
  return create1(k, {x}, t, axis);
}

/// A reduced value back to the shape of `like` (inverse of reduce).
ir::Value *IRGen::expand(ir::Value *v, const Type *like, int64_t axis) {
  if (!v->type->isTensor() && axis < 0)
    return v; // scalars broadcast implicitly in elementwise ops
  return create1(ir::OpKind::Broadcast, {v}, like, axis);
}

IRGen::Lse IRGen::lsePieces(ir::Value *x, int64_t axis) {
  using ir::OpKind;
  ir::Value *m = b.unary(OpKind::StopGrad, reduce(OpKind::ReduceMax, x, axis));
  ir::Value *z = b.binary(OpKind::FSub, x, expand(m, x->type, axis));
  ir::Value *s = reduce(OpKind::ReduceSum, b.unary(OpKind::Exp, z), axis);
  return {m, z, s};
}

ir::Value *IRGen::logSumExp(ir::Value *x, int64_t axis) {
  Lse p = lsePieces(x, axis);
  return b.binary(ir::OpKind::FAdd, p.m, b.unary(ir::OpKind::Log, p.s));
}

ir::Value *IRGen::pool2d(ir::Value *x, int64_t k, const Type *rt, bool max) {
  // [C, H, W] cropped to [C, Hk, Wk] (H = Hk / k floor), as [C H, k, W,
  // k], reduced over both window axes (avgpool2d: summed, over k^2):
  // reshapes and reductions, so their rules give the derivatives and the
  // batched form. maxpool2d reduces axis 3 (each window row's first
  // maximum) and then axis 1 (the first row holding the largest), so its
  // derivative goes to the window's first maximum in row-major order.
  using ir::OpKind;
  int64_t C = rt->shape[0], H = rt->shape[1], W = rt->shape[2];
  ir::Value *crop = x;
  if (H * k != x->type->shape[1] || W * k != x->type->shape[2]) {
    ir::Op *s = b.create(OpKind::Slice, {x}, {T.tensor({C, H * k, W * k})});
    s->slice.assign(3, ir::SliceAxis::at(0));
    crop = s->result();
  }
  OpKind red = max ? OpKind::ReduceMax : OpKind::ReduceSum;
  ir::Value *w = create1(OpKind::Reshape, {crop}, T.tensor({C * H, k, W, k}));
  w = reduce(red, w, 3);
  w = reduce(red, w, 1);
  w = create1(OpKind::Reshape, {w}, rt);
  return max ? w : b.binary(OpKind::FDiv, w, b.constF((double)(k * k)));
}

ir::Value *IRGen::conv2d(ir::Value *x, ir::Value *w, int64_t attr,
                         const Type *rt) {
  // im2col + one matrix product (docs/TENSORS.md has the measurement):
  // the patches [C, KH, KW, OH, OW] as a [C KH KW, OH OW] matrix, and
  // out = reshape(w, [O, C KH KW]) @ patches, as [O, OH, OW]. The products'
  // and im2col's rules give the derivatives and the batched form.
  using ir::OpKind;
  const std::vector<int64_t> &ws = w->type->shape;
  int64_t O = ws[0], CKK = ws[1] * ws[2] * ws[3];
  int64_t OH = rt->shape[1], OW = rt->shape[2];
  const Type *pt = T.tensor({ws[1], ws[2], ws[3], OH, OW});
  ir::Value *p = create1(OpKind::Im2Col, {x}, pt, attr);
  p = create1(OpKind::Reshape, {p}, T.tensor({CKK, OH * OW}));
  ir::Value *wm = create1(OpKind::Reshape, {w}, T.tensor({O, CKK}));
  ir::Value *y = create1(OpKind::MatMul, {wm, p}, T.tensor({O, OH * OW}));
  return create1(OpKind::Reshape, {y}, rt);
}

ir::Value *IRGen::lowerTensorBuiltin(const CallExpr &c, const std::string &n,
                                     std::vector<ir::Value *> &args) {
  using ir::OpKind;
  const Type *rt = typeOf(c);
  ir::Value *x = args.empty() ? nullptr : args[0];
  auto axisIt = prog.axes.find(&c);
  int64_t axis = axisIt == prog.axes.end() ? -1 : axisIt->second;
  if (n == "zeros" || n == "ones") {
    int one = n == "ones";
    return create1(OpKind::Broadcast,
                   {rt->isIntTensor() ? b.constI(one) : b.constF(one)}, rt, -1);
  }
  if (n == "sum")
    return reduce(OpKind::ReduceSum, x, axis);
  if (n == "mean") {
    int64_t count = axis < 0 ? x->type->numElements() : x->type->shape[axis];
    return b.binary(OpKind::FDiv, reduce(OpKind::ReduceSum, x, axis),
                    b.constF((double)count));
  }
  if (n == "logsumexp")
    return logSumExp(x, axis);
  int64_t last = (int64_t)x->type->rank() - 1;
  if (n == "softmax" || n == "log_softmax") {
    int64_t axis = x->type->rank() == 1 ? -1 : last;
    Lse p = lsePieces(x, axis);
    if (n == "softmax")
      return b.binary(OpKind::FDiv, b.unary(OpKind::Exp, p.z),
                      expand(p.s, x->type, axis));
    return b.binary(OpKind::FSub, p.z,
                    expand(b.unary(OpKind::Log, p.s), x->type, axis));
  }
  if (n == "norm")
    return b.unary(OpKind::Sqrt,
                   reduce(OpKind::ReduceSum, b.binary(OpKind::FMul, x, x), -1));
  if (n == "dot")
    return create1(OpKind::MatMul, {x, args[1]}, T.f64());
  if (n == "len")
    return b.constI(x->type->shape[0]);
  if (n == "transpose")
    return create1(OpKind::Transpose, {x}, rt);
  if (n == "argmax")
    return create1(OpKind::ArgMax, {x}, T.i64());
  if (n == "reshape" || n == "flatten")
    return create1(OpKind::Reshape, {x}, rt);
  if (n == "avgpool2d" || n == "maxpool2d")
    return pool2d(x, axis, rt, n == "maxpool2d");
  if (n == "conv2d")
    return conv2d(x, args[1], axis, rt);
  if (n == "concat") {
    // The first part into zeros of the result, then the second spliced in
    // after it along the axis: two region copies, slice rules for AD/vmap.
    std::vector<ir::SliceAxis> first(rt->rank(), ir::SliceAxis::at(0));
    std::vector<ir::SliceAxis> second = first;
    second[axis] = ir::SliceAxis::at(x->type->shape[axis]);
    ir::Op *u = b.create(OpKind::Unslice, {x}, {rt});
    u->slice = first;
    ir::Op *s = b.create(OpKind::Splice, {u->result(), args[1]}, {rt});
    s->slice = second;
    return s->result();
  }
  if (n == "outer")
    return b.binary(OpKind::FMul, create1(OpKind::Broadcast, {x}, rt, 1),
                    create1(OpKind::Broadcast, {args[1]}, rt, 0));
  assert(false && "sema rejects other builtins here");
  return x;
}

} // namespace bp::irgen
