//===- IRTest.cpp - unit tests for the IR API, verifier and simplify ------===//
#include "ir/IR.h"
#include "ir/Simplify.h"
#include "ir/Verifier.h"

#include <gtest/gtest.h>

#include <map>
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

/// g(X: f64[3, 4], k: int) -> f64[2] { return X[1:3, k] } as built by hand.
struct SliceTest : IRTest {
  Function *f = nullptr;
  Op *s = nullptr;
  Value *x = nullptr, *k = nullptr;

  void build() {
    f = m.addFunction("g");
    x = f->addArg(types.tensor({3, 4}), "X");
    k = f->addArg(types.i64(), "k");
    f->resultTypes = {types.tensor({2})};
    b.setInsertionPointToEnd(f->body.get());
    s = b.create(OpKind::Slice, {x, k}, {types.tensor({2})});
    s->slice = {SliceAxis::at(1), SliceAxis::indexed()};
    b.create(OpKind::Return, {s->result()});
  }
};

TEST_F(SliceTest, AccessorsPrintAndVerify) {
  build();
  EXPECT_EQ(s->firstSliceIndex(), 1u);
  EXPECT_EQ(s->numSliceIndices(), 1u);
  EXPECT_EQ(s->sliceIndex(1), k);
  EXPECT_EQ(spelling(s->sliceAxes()), "1,i");
  EXPECT_EQ(verify(*f, m), "");
  std::string t = text(*f);
  EXPECT_NE(t.find("slice [1,i] %X, %k : f64[2]"), std::string::npos) << t;
}

TEST_F(SliceTest, ClonesTheRegion) {
  build();
  Function *h = m.addFunction("h");
  std::map<const Value *, Value *> map;
  for (auto &a : f->args())
    map[a.get()] = h->addArg(a->type, a->name);
  h->resultTypes = f->resultTypes;
  cloneOpsInto(*f->body, *h->body, map);
  EXPECT_EQ(verify(*h, m), "");
  const Op &copy = *h->body->ops[0];
  EXPECT_EQ(copy.sliceAxes(), s->sliceAxes());
  EXPECT_EQ(copy.sliceIndex(1), h->args()[1].get());
  std::string ft = text(*f), ht = text(*h);
  EXPECT_EQ(ft.substr(ft.find('(')), ht.substr(ht.find('(')));
}

TEST_F(SliceTest, VerifierChecksTheRegion) {
  build();
  s->slice = {SliceAxis::at(2), SliceAxis::indexed()}; // rows 2..4 of 3
  EXPECT_NE(verify(*f, m).find("region outside the tensor on axis 0"),
            std::string::npos);
  s->slice = {SliceAxis::at(1)};
  EXPECT_NE(verify(*f, m).find("one int operand per indexed axis"),
            std::string::npos);
  s->slice = {SliceAxis::at(1), SliceAxis::at(0), SliceAxis::indexed()};
  EXPECT_NE(verify(*f, m).find("region needs one entry per axis"),
            std::string::npos);
  s->slice = {SliceAxis::indexed(), SliceAxis::indexed()};
  s->operands.push_back(k);
  EXPECT_NE(verify(*f, m).find("keeps one axis per axis of the part"),
            std::string::npos);
}

TEST_F(IRTest, CseDistinguishesSliceRegions) {
  Function *f = m.addFunction("g");
  Value *x = f->addArg(types.tensor({3, 4}), "X");
  const Type *pt = types.tensor({2, 4});
  f->resultTypes = {pt};
  b.setInsertionPointToEnd(f->body.get());
  auto slice = [&](int64_t row) {
    Op *op = b.create(OpKind::Slice, {x}, {pt});
    op->slice = {SliceAxis::at(row), SliceAxis::at(0)};
    return op->result();
  };
  Value *a = slice(0), *c = slice(1), *d = slice(0);
  b.create(OpKind::Return,
           {b.binary(OpKind::FAdd, b.binary(OpKind::FAdd, a, c), d)});
  simplify(*f, m);
  EXPECT_EQ(verify(*f, m), "");
  std::string t = text(*f);
  EXPECT_NE(t.find("slice [0,0] %X"), std::string::npos) << t;
  EXPECT_NE(t.find("slice [1,0] %X"), std::string::npos) << t;
  // The second [0,0] slice is the first one.
  EXPECT_EQ(t.find("slice [0,0] %X"), t.rfind("slice [0,0] %X")) << t;
}
