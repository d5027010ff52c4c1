//===- RulesTest.cpp - every op with a Partials rule has a correct one ----===//
//
// Walks the whole op table (ir/Ops.def). Every op whose Rule column is
// Partials must have a case in ad/Rules.cpp (reverse mode multiplies it
// by the adjoint, forward mode by the tangent: the same rule serves both),
// and each partial derivative must agree with a central finite difference of
// the op's Eval expression (ir/Eval.h), which is written independently of
// the hand-written rules.
//
//===----------------------------------------------------------------------===//
#include "ad/Rules.h"
#include "ir/Eval.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

using namespace bp;
using namespace bp::ir;

namespace {

const OpKind allOps[] = {
#define OP(Name, Mnemonic, Pure, Rule) OpKind::Name,
#include "ir/Ops.def"
};

/// Evaluates the scalar IR that a rule emitted (constants, MATH ops,
/// fcmp and select); false for anything else.
bool evaluate(const Value *v, const std::map<const Value *, double> &args,
              double &r) {
  if (auto it = args.find(v); it != args.end()) {
    r = it->second;
    return true;
  }
  const Op *op = v->def;
  if (!op)
    return false;
  std::vector<double> in;
  for (const Value *o : op->operands) {
    double x;
    if (!evaluate(o, args, x))
      return false;
    in.push_back(x);
  }
  switch (op->kind) {
  case OpKind::ConstF:
    r = op->fval;
    return true;
  case OpKind::FCmp:
    r = compare(op->pred(), in[0], in[1]);
    return true;
  case OpKind::Select:
    r = in[0] != 0 ? in[1] : in[2];
    return true;
  default:
    return isMath(op->kind) && evalMath(op->kind, in.data(), r);
  }
}

/// Points inside every MATH op's smooth domain (away from kinks, poles and
/// the jumps of fmod), one row per sample, one column per operand.
const double samples[][3] = {{0.7, 0.3, 1.9}, {1.3, 0.5, 2.5}, {2.2, 1.5, 3.1}};

/// Ops with the Partials rule kind that deliberately have no rule: their
/// derivative is a located "no derivative rule" error.
bool noRuleExpected(OpKind k) { return k == OpKind::Trigamma; }

TEST(Rules, EveryPartialsOpHasARuleAgreeingWithFiniteDifferences) {
  unsigned checked = 0;
  for (OpKind k : allOps) {
    if (ruleKind(k) != RuleKind::Partials || k == OpKind::Select)
      continue;
    ASSERT_TRUE(isMath(k)) << mnemonic(k);
    TypeContext types;
    Module m(types);
    Builder b(types);
    Function *f = m.addFunction("f");
    b.setInsertionPointToEnd(f->body.get());
    unsigned n = mathArity(k);
    std::vector<Value *> xs;
    for (unsigned i = 0; i < n; ++i)
      xs.push_back(f->addArg(types.f64(), "x" + std::to_string(i)));
    Op *op = b.create(k, xs, {types.f64()});
    std::vector<Value *> d;
    bool has = ad::partials(
        *op, std::vector<bool>(n, true), b,
        [](const Value *v) { return const_cast<Value *>(v); }, d);
    if (noRuleExpected(k)) {
      EXPECT_FALSE(has) << mnemonic(k);
      continue;
    }
    ASSERT_TRUE(has) << "no rule for '" << mnemonic(k) << "'";
    ASSERT_EQ(d.size(), n) << mnemonic(k);
    if (k == OpKind::StopGrad) { // derivative zero by definition
      EXPECT_EQ(d[0], nullptr);
      continue;
    }
    for (const auto &pt : samples) {
      std::map<const Value *, double> at;
      for (unsigned i = 0; i < n; ++i)
        at[xs[i]] = pt[i];
      for (unsigned i = 0; i < n; ++i) {
        double got = 0;
        if (d[i]) {
          ASSERT_TRUE(evaluate(d[i], at, got)) << mnemonic(k);
        }
        double h = 1e-6 * std::max(1.0, std::fabs(pt[i]));
        double lo[3] = {pt[0], pt[1], pt[2]}, hi[3] = {pt[0], pt[1], pt[2]};
        lo[i] -= h;
        hi[i] += h;
        double flo, fhi;
        ASSERT_TRUE(evalMath(k, lo, flo) && evalMath(k, hi, fhi));
        double fd = (fhi - flo) / (2 * h);
        EXPECT_NEAR(got, fd, 1e-6 * std::max(1.0, std::fabs(fd)))
            << "d " << mnemonic(k) << " / d operand " << i << " at (" << pt[0]
            << ", " << pt[1] << ", " << pt[2] << ")";
        ++checked;
      }
    }
  }
  // Sanity: the walk reached the table (exp, pow, ... are checked).
  EXPECT_GT(checked, 60u);
}

TEST(Rules, SelectSendsTheGradientToTheChosenOperand) {
  TypeContext types;
  Module m(types);
  Builder b(types);
  Function *f = m.addFunction("f");
  b.setInsertionPointToEnd(f->body.get());
  Value *c = f->addArg(types.boolean(), "c");
  Value *x = f->addArg(types.f64(), "x"), *y = f->addArg(types.f64(), "y");
  Op *op = b.create(OpKind::Select, {c, x, y}, {types.f64()});
  std::vector<Value *> d;
  ASSERT_TRUE(ad::partials(
      *op, {false, true, true}, b,
      [](const Value *v) { return const_cast<Value *>(v); }, d));
  for (double cond : {0.0, 1.0}) {
    double dx, dy;
    ASSERT_TRUE(evaluate(d[1], {{c, cond}, {x, 2.0}, {y, 3.0}}, dx));
    ASSERT_TRUE(evaluate(d[2], {{c, cond}, {x, 2.0}, {y, 3.0}}, dy));
    EXPECT_EQ(dx, cond);
    EXPECT_EQ(dy, 1 - cond);
  }
}

TEST(Rules, EveryOpHasOneRuleKind) {
  // The structural and pass-handled ops are compile-checked (their rule
  // switches have no default:); here: the kinds partition the table.
  unsigned counts[4] = {};
  for (OpKind k : allOps)
    ++counts[(int)ruleKind(k)];
  EXPECT_EQ(counts[0] + counts[1] + counts[2] + counts[3],
            sizeof allOps / sizeof allOps[0]);
  EXPECT_EQ(ruleKind(OpKind::MatMul), RuleKind::Structural);
  EXPECT_EQ(ruleKind(OpKind::Exp), RuleKind::Partials);
  EXPECT_EQ(ruleKind(OpKind::FCmp), RuleKind::None);
  EXPECT_EQ(ruleKind(OpKind::For), RuleKind::Pass);
}

} // namespace
