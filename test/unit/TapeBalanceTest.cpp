//===- TapeBalanceTest.cpp - the verifier's tape balance check -----------===//
//
// Invariant 5 of ir/Verifier.cpp: hand-built functions that break it are
// rejected, the gradients ad/Reverse.cpp builds pass (before and after
// simplify), and a gradient with one push removed is rejected.
//
//===----------------------------------------------------------------------===//
#include "ir/IR.h"
#include "ir/Simplify.h"
#include "ir/Verifier.h"
#include "pipeline/Compilation.h"
#include "support/Diagnostics.h"

#include <gtest/gtest.h>

#include <functional>

using namespace bp;
using namespace bp::ir;

namespace {

struct TapeBalance : ::testing::Test {
  TypeContext types;
  Module m{types};
  Builder b{types};
  Function *f = nullptr;
  Value *x = nullptr, *tape = nullptr;

  /// g(x: f64) -> f64 with a tape, the builder at the end of its body.
  void begin() {
    f = m.addFunction("g");
    x = f->addArg(types.f64(), "x");
    f->resultTypes = {types.f64()};
    b.setInsertionPointToEnd(f->body.get());
    tape = b.create(OpKind::TapeNew, {}, {types.tape()})->result();
    tape->name = "tape";
  }
  void push(Value *v) { b.create(OpKind::TapePush, {tape, v}); }
  Value *pop(const Type *t) {
    return b.create(OpKind::TapePop, {tape}, {t})->result();
  }
  /// for %i = 0 to 3 { body(); yield }
  void loop(const std::function<void()> &body) {
    Op *op = b.create(OpKind::For, {b.constI(0), b.constI(3)});
    Block *blk = op->addRegion();
    blk->addArg(types.i64(), "i");
    Block *outer = b.getBlock();
    b.setInsertionPointToEnd(blk);
    body();
    b.yield({});
    b.setInsertionPointToEnd(outer);
  }
  /// if %c { then() } else { other() }
  void branch(const std::function<void()> &then,
              const std::function<void()> &other) {
    Op *op = b.create(OpKind::If, {b.constB(true)});
    Block *outer = b.getBlock();
    b.setInsertionPointToEnd(op->addRegion());
    then();
    b.yield({});
    b.setInsertionPointToEnd(op->addRegion());
    other();
    b.yield({});
    b.setInsertionPointToEnd(outer);
  }
  std::string end() {
    b.create(OpKind::TapeFree, {tape});
    b.create(OpKind::Return, {x});
    return verify(*f, m);
  }
};

TEST_F(TapeBalance, MirroredLoopsAndBranchesPass) {
  begin();
  // Forward: per trip, maybe a value (then only), then x.
  loop([&] {
    branch([&] { push(x); }, [] {});
    push(x);
  });
  // Reverse: per trip, x, then the branch's value.
  loop([&] {
    pop(types.f64());
    branch([&] { pop(types.f64()); }, [] {});
  });
  EXPECT_EQ(end(), "");
}

TEST_F(TapeBalance, RejectsAPushWithoutAPop) {
  begin();
  push(x);
  push(x);
  pop(types.f64());
  EXPECT_EQ(end(), "IR verifier: in @g: 'tape.free': frees %tape while it "
                   "holds a value of type f64");
}

TEST_F(TapeBalance, RejectsAPopOfAnotherType) {
  begin();
  push(b.constB(true));
  pop(types.f64());
  EXPECT_EQ(end(), "IR verifier: in @g: 'tape.pop': pops a value of type f64 "
                   "from %tape, whose last push is a value of type bool");
}

TEST_F(TapeBalance, RejectsAPopOfOneValueForALoopsPushes) {
  begin();
  loop([&] { push(x); });
  pop(types.f64());
  EXPECT_EQ(end(), "IR verifier: in @g: 'tape.pop': pops a value of type f64 "
                   "from %tape, whose last push is a loop's pushes");
}

TEST_F(TapeBalance, RejectsALoopPoppingWhatItDidNotPush) {
  begin();
  push(x);
  loop([&] {
    pop(types.f64());
    push(x);
  });
  EXPECT_NE(end().find("its body both pops what it did not push"),
            std::string::npos);
}

TEST_F(TapeBalance, RejectsBranchesThatPopDifferentlyThanTheyPushed) {
  begin();
  branch([&] { push(x); }, [] {});
  branch([] {}, [&] { pop(types.f64()); }); // the other branch pops
  EXPECT_NE(end().find("whose last push is an if's pushes"), std::string::npos)
      << verify(*f, m);
}

TEST_F(TapeBalance, RejectsAMissingFreeAndAUseAfterIt) {
  begin();
  b.create(OpKind::Return, {x});
  EXPECT_EQ(verify(*f, m),
            "IR verifier: in @g: %tape has 0 tape.free ops, expected one");
  f->body->ops.pop_back();
  b.setInsertionPointToEnd(f->body.get());
  b.create(OpKind::TapeFree, {tape});
  push(x);
  EXPECT_EQ(end(), "IR verifier: in @g: 'tape.push': %tape is used after its "
                   "tape.free");
}

TEST_F(TapeBalance, RejectsATapeThatIsNotATapeNew) {
  f = m.addFunction("g");
  Value *t = f->addArg(types.tape(), "t");
  b.setInsertionPointToEnd(f->body.get());
  b.create(OpKind::TapeFree, {t});
  b.create(OpKind::Return, {});
  EXPECT_EQ(verify(*f, m), "IR verifier: in @g: 'tape.free': the tape is not "
                           "made by a tape.new of this function");
}

/// The module of a BP source, derived functions included (not simplified:
/// the tests simplify it themselves).
std::unique_ptr<Module> compile(const std::string &text, TypeContext &types) {
  CompileOptions opts;
  opts.simplify = false;
  Compilation c(opts, &types);
  c.file.path = "unit.bp";
  c.file.text = text;
  if (llvm::Error e = c.compileTo(Stage::IR)) {
    llvm::consumeError(std::move(e));
    return nullptr;
  }
  return std::move(c.ir);
}

/// Removes the first tape.push in `blk` (depth first); false if none.
bool dropFirstPush(Block &blk) {
  for (auto it = blk.ops.begin(); it != blk.ops.end(); ++it) {
    if ((*it)->kind == OpKind::TapePush) {
      blk.ops.erase(it);
      return true;
    }
    for (auto &r : (*it)->regions)
      if (dropFirstPush(*r))
        return true;
  }
  return false;
}

TEST(TapeBalanceOfGradients, RealGradientsPassAndAMissingPushIsFound) {
  TypeContext types;
  auto mod = compile(R"(
fn f(x: f64, n: int) -> f64 {
  var s = x
  for i in 0..n {
    if s > 1.0 { s = sin(s) * s } else { s = s * s + 0.5 }
  }
  var k = 0
  while k < n { s = tanh(s) * s; k += 1 }
  return s
}
fn df = grad(f, x)
fn ddf = grad(df, x)
)",
                     types);
  ASSERT_TRUE(mod);
  EXPECT_EQ(verify(*mod), "");
  simplify(*mod);
  EXPECT_EQ(verify(*mod), "");
  // f.rev.10.rev.100 (of ddf) has the second tape, %tape.adj.
  for (const char *name : {"f.rev.10", "f.rev.10.rev.100"}) {
    Function *rev = mod->lookup(name);
    ASSERT_TRUE(rev) << name;
    ASSERT_TRUE(dropFirstPush(*rev->body)) << name;
    EXPECT_NE(verify(*rev, *mod).find("tape"), std::string::npos)
        << name << ": " << verify(*rev, *mod);
  }
}

} // namespace
