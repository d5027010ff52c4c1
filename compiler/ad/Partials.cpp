//===- Partials.cpp - the chain-rule table --------------------------------===//
//
// One case per op whose Rule column in ir/Ops.def is Partials, the math in
// a comment. The switch has no `default:` and the build uses
// -Werror=switch, so a new op without a rule does not compile (the ops of
// other rule kinds are listed from the table). The same partials serve
// reverse mode (times the result's adjoint) and forward mode (times the
// operand's tangent). Conventions at kinks follow PyTorch (LANGUAGE.md s. 6).
//
//===----------------------------------------------------------------------===//
#include "ad/Partials.h"

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

} // namespace bp::ad
