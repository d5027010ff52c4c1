//===- IRTest.cpp - unit tests for the IR API, verifier and simplify ------===//
#include "ir/IR.h"
#include "ir/Simplify.h"
#include "ir/Verifier.h"

#include <gtest/gtest.h>

#include <sstream>

using namespace bp;
using namespace bp::ir;

namespace {

struct IRTest : ::testing::Test {
  TypeContext types;
  Module m{types};
  Builder b{types};

  /// f(x: f64) -> f64 { return x * 2.0 + 1.0 }
  Function *simple() {
    Function *f = m.addFunction("f");
    Value *x = f->addArg(types.f64(), "x");
    f->resultTypes = {types.f64()};
    b.setInsertionPointToEnd(f->body.get());
    Value *y = b.binary(OpKind::FMul, x, b.constF(2.0));
    Value *z = b.binary(OpKind::FAdd, y, b.constF(1.0));
    b.create(OpKind::Return, {z});
    return f;
  }

  std::string text(const Function &f) {
    std::ostringstream os;
    print(f, os);
    return os.str();
  }
};

TEST_F(IRTest, BuildsAndVerifies) {
  Function *f = simple();
  EXPECT_EQ(verify(*f, m), "");
  EXPECT_EQ(f->body->ops.size(), 5u);
  EXPECT_EQ(f->body->terminator()->kind, OpKind::Return);
}

TEST_F(IRTest, PrinterIsDeterministic) {
  Function *f = simple();
  std::string a = text(*f), c = text(*f);
  EXPECT_EQ(a, c);
  EXPECT_NE(a.find("func @f(%x: f64) -> f64 {"), std::string::npos) << a;
  EXPECT_NE(a.find("fmul %x, %0 : f64"), std::string::npos) << a;
}

TEST_F(IRTest, VerifierRejectsMissingTerminator) {
  Function *f = m.addFunction("g");
  f->resultTypes = {types.f64()};
  b.setInsertionPointToEnd(f->body.get());
  b.constF(1.0);
  EXPECT_NE(verify(*f, m).find("terminator"), std::string::npos);
}

TEST_F(IRTest, VerifierRejectsTypeMismatch) {
  Function *f = m.addFunction("g");
  Value *i = f->addArg(types.i64(), "i");
  b.setInsertionPointToEnd(f->body.get());
  b.create(OpKind::FAdd, {i, i}, {types.f64()});
  b.create(OpKind::Return, {});
  EXPECT_NE(verify(*f, m).find("operand of type int"), std::string::npos)
      << verify(*f, m);
}

TEST_F(IRTest, VerifierRejectsValueEscapingRegion) {
  Function *f = m.addFunction("g");
  f->resultTypes = {types.f64()};
  b.setInsertionPointToEnd(f->body.get());
  Value *c = b.constB(true);
  Op *ifOp = b.create(OpKind::If, {c});
  Block *t = ifOp->addRegion(), *e = ifOp->addRegion();
  b.setInsertionPointToEnd(t);
  Value *inner = b.constF(3.0);
  b.yield({});
  b.setInsertionPointToEnd(e);
  b.yield({});
  b.setInsertionPointToEnd(f->body.get());
  b.create(OpKind::Return, {inner});
  EXPECT_NE(verify(*f, m).find("outside the region"), std::string::npos)
      << verify(*f, m);
}

TEST_F(IRTest, VerifierChecksYieldTypesAgainstIfResults) {
  Function *f = m.addFunction("g");
  f->resultTypes = {types.f64()};
  b.setInsertionPointToEnd(f->body.get());
  Value *c = b.constB(true);
  Op *ifOp = b.create(OpKind::If, {c}, {types.f64()});
  Block *t = ifOp->addRegion(), *e = ifOp->addRegion();
  b.setInsertionPointToEnd(t);
  b.yield({b.constI(1)});
  b.setInsertionPointToEnd(e);
  b.yield({b.constF(2)});
  b.setInsertionPointToEnd(f->body.get());
  b.create(OpKind::Return, {ifOp->result()});
  EXPECT_NE(verify(*f, m).find("yield does not match"), std::string::npos);
}

TEST_F(IRTest, VerifierChecksCallSignatures) {
  simple();
  Function *g = m.addFunction("g");
  g->resultTypes = {types.f64()};
  b.setInsertionPointToEnd(g->body.get());
  Op *call = b.create(OpKind::Call, {b.constI(1)}, {types.f64()});
  call->str = "f";
  b.create(OpKind::Return, {call->result()});
  EXPECT_NE(verify(*g, m).find("arguments do not match"), std::string::npos);
}

TEST_F(IRTest, SimplifyFoldsConstantsAndRemovesDeadCode) {
  Function *f = m.addFunction("g");
  f->resultTypes = {types.f64()};
  b.setInsertionPointToEnd(f->body.get());
  Value *a = b.binary(OpKind::FMul, b.constF(3.0), b.constF(4.0));
  b.unary(OpKind::Exp, a); // dead
  b.create(OpKind::Return, {a});
  simplify(*f, m);
  EXPECT_EQ(verify(*f, m), "");
  ASSERT_EQ(f->body->ops.size(), 2u) << text(*f);
  EXPECT_EQ(f->body->ops[0]->kind, OpKind::ConstF);
  EXPECT_EQ(f->body->ops[0]->fval, 12.0);
}

TEST_F(IRTest, SimplifyKeepsNegativeZeroSemantics) {
  // x + 0.0 is not x when x = -0.0, so it must stay.
  Function *f = m.addFunction("g");
  Value *x = f->addArg(types.f64(), "x");
  f->resultTypes = {types.f64()};
  b.setInsertionPointToEnd(f->body.get());
  Value *s = b.binary(OpKind::FAdd, x, b.constF(0.0));
  b.create(OpKind::Return, {s});
  simplify(*f, m);
  EXPECT_EQ(f->body->terminator()->operands[0]->def->kind, OpKind::FAdd);
}

TEST_F(IRTest, SimplifyInlinesIfOnConstantAndMergesDuplicates) {
  Function *f = m.addFunction("g");
  Value *x = f->addArg(types.f64(), "x");
  f->resultTypes = {types.f64()};
  b.setInsertionPointToEnd(f->body.get());
  Op *ifOp = b.create(OpKind::If, {b.constB(false)}, {types.f64()});
  Block *t = ifOp->addRegion(), *e = ifOp->addRegion();
  b.setInsertionPointToEnd(t);
  b.yield({b.unary(OpKind::Sin, x)});
  b.setInsertionPointToEnd(e);
  b.yield({b.unary(OpKind::Cos, x)});
  b.setInsertionPointToEnd(f->body.get());
  Value *c2 = b.unary(OpKind::Cos, x);
  Value *sum = b.binary(OpKind::FAdd, ifOp->result(), c2);
  b.create(OpKind::Return, {sum});
  simplify(*f, m);
  EXPECT_EQ(verify(*f, m), "");
  // cos(x) once, the add, the return.
  ASSERT_EQ(f->body->ops.size(), 3u) << text(*f);
  Op *add = f->body->ops[1].get();
  EXPECT_EQ(add->operands[0], add->operands[1]);
}

TEST_F(IRTest, CloneMapsValuesIntoRegions) {
  Function *f = simple();
  Function *g = m.addFunction("h");
  Value *y = g->addArg(types.f64(), "y");
  g->resultTypes = {types.f64()};
  std::map<const Value *, Value *> map = {{f->args()[0].get(), y}};
  cloneOpsInto(*f->body, *g->body, map);
  EXPECT_EQ(verify(*g, m), "");
  EXPECT_EQ(g->body->ops[1]->operands[0], y);
}

} // namespace
