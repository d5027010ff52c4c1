//===- Verifier.cpp - IR invariant checks ---------------------------------===//
//
// Invariants (each is checked below, in this order):
//  1. Structure: a function body ends in exactly one `return`; every region
//     block ends in exactly one `yield`; no terminator appears elsewhere;
//     every op's `parent` is the block holding it.
//  2. Dominance: every operand is a block argument of the op's own block or
//     an enclosing one, or the result of an op earlier in the same block or
//     in an enclosing block (structured SSA: no value escapes its region
//     except through yield).
//  3. Arity and types: operand counts and types match the op kind (f64 ops
//     on f64, int ops on int, conditions are bool, tapes are tape), yields
//     match what their parent op expects, returns match the function's
//     result types, calls match the callee's signature (for a derived
//     function not built yet, its declared one in Module::derived); a
//     slice region has one axis per axis of the full tensor and one kept
//     axis per axis of the part, each inside the full tensor.
//  4. Tapes: tape.push/pop/reserve/free take a tape value made by tape.new
//     in the same function (the tape.new's result itself).
//  5. Tape balance (TapeBalance): every tape.push has exactly one tape.pop
//     on every path, last in first out, popping the type pushed. Checked
//     by running each tape's contents symbolically over the structured IR:
//     a loop body that only pushes leaves one group "its pushes, once per
//     trip" that a later loop body must pop exactly (in reverse order), an
//     `if` whose branches push differently leaves "the then-pushes or the
//     else-pushes" that a later `if` must pop branch by branch, and the
//     function returns with every tape empty; each tape has exactly one
//     tape.free, in the function body, after its last push or pop, when it
//     is empty. Not checkable here, and not checked: that the popping loop
//     runs as many times as the pushing one and that the popping `if`
//     takes the same branch (its bound and condition are computed or
//     popped values, equal at run time by construction in ad/Reverse.cpp).
//
//===----------------------------------------------------------------------===//
#include "ir/Verifier.h"

#include <algorithm>
#include <set>
#include <sstream>

namespace bp::ir {
namespace {

/// "IR verifier: in @f: 'op': msg", the one format of every violation.
std::string failure(const Function &f, const Op *op, const std::string &msg) {
  std::ostringstream os;
  os << "IR verifier: in @" << f.name << ": ";
  if (op)
    os << "'" << mnemonic(op->kind) << "': ";
  os << msg;
  return os.str();
}

/// What a tape holds, in push order: a pushed value of `type`, or the
/// pushes of a loop body (`a`, once per trip), or of an `if` whose
/// branches push differently (`a` or `b`).
struct Item {
  enum Kind { Slot, Loop, Branch } kind;
  const Type *type = nullptr;
  std::vector<Item> a, b;

  bool operator==(const Item &o) const {
    return kind == o.kind && type == o.type && a == o.a && b == o.b;
  }
};
using Items = std::vector<Item>;

/// A block's effect on one tape: what it pops that it did not push
/// (`needs`, in push order: the deepest first) and what it pushes and
/// leaves there (`leaves`, in push order).
struct Effect {
  Items needs, leaves;

  bool empty() const { return needs.empty() && leaves.empty(); }
  bool operator==(const Effect &o) const {
    return needs == o.needs && leaves == o.leaves;
  }
};

/// Invariant 5 for one tape (a tape.new in the function body).
class TapeBalance {
public:
  TapeBalance(const Function &f, const Value *tape, std::string &error)
      : f(f), tape(tape), error(error) {}

  void run() {
    Effect e;
    if (!effectOf(*f.body, e))
      return;
    if (!e.needs.empty())
      fail(nullptr, "pops more values from " + name() + " than were pushed");
    else if (!e.leaves.empty())
      fail(nullptr, name() + " still holds " + show(e.leaves.back()) +
                        " at the return: a push without a pop");
    else if (frees != 1)
      fail(nullptr, name() + " has " + std::to_string(frees) +
                        " tape.free ops, expected one");
  }

private:
  const Function &f;
  const Value *tape;
  std::string &error;
  int frees = 0;

  bool fail(const Op *op, const std::string &msg) {
    error = failure(f, op, msg);
    return false;
  }

  std::string name() const {
    return tape->name.empty() ? "the tape" : "%" + tape->name;
  }

  static std::string show(const Item &it) {
    switch (it.kind) {
    case Item::Slot:
      return "a value of type " + toString(it.type);
    case Item::Loop:
      return "a loop's pushes";
    case Item::Branch:
      return "an if's pushes";
    }
    return "";
  }

  bool uses(const Op &op) const {
    return (op.kind == OpKind::TapePush || op.kind == OpKind::TapePop ||
            op.kind == OpKind::TapeReserve || op.kind == OpKind::TapeFree) &&
           op.operands[0] == tape;
  }

  /// The effect of `blk` (ops in order); false after a violation.
  bool effectOf(const Block &blk, Effect &e) {
    for (auto &op : blk.ops) {
      if (frees && uses(*op))
        return fail(op.get(), name() + " is used after its tape.free");
      if (op->kind == OpKind::TapeFree && uses(*op)) {
        if (&blk != f.body.get())
          return fail(op.get(), "frees " + name() + " inside a region");
        if (!e.empty())
          return fail(op.get(),
                      "frees " + name() + " while it holds " +
                          (e.leaves.empty() ? std::string("fewer values than "
                                                          "were popped")
                                            : show(e.leaves.back())));
        ++frees;
        continue;
      }
      Effect next;
      if (!opEffect(*op, next) || !compose(e, next, *op))
        return false;
    }
    return true;
  }

  /// e, then `next` (the effect of `op`).
  bool compose(Effect &e, const Effect &next, const Op &op) {
    size_t k = next.needs.size();
    for (; k > 0 && !e.leaves.empty(); --k, e.leaves.pop_back())
      if (!(e.leaves.back() == next.needs[k - 1]))
        return fail(&op, "pops " + show(next.needs[k - 1]) + " from " + name() +
                             ", whose last push is " + show(e.leaves.back()));
    // Popped below what this block pushed: deeper than its earlier needs.
    e.needs.insert(e.needs.begin(), next.needs.begin(), next.needs.begin() + k);
    e.leaves.insert(e.leaves.end(), next.leaves.begin(), next.leaves.end());
    return true;
  }

  bool opEffect(const Op &op, Effect &out) {
    switch (op.kind) {
    case OpKind::TapePush:
      if (uses(op))
        out.leaves.push_back({Item::Slot, op.operands[1]->type, {}, {}});
      return true;
    case OpKind::TapePop:
      if (uses(op))
        out.needs.push_back({Item::Slot, op.result()->type, {}, {}});
      return true;
    case OpKind::If:
      return ifEffect(op, out);
    case OpKind::For:
    case OpKind::While:
      return loopEffect(op, out);
    default:
      return true; // no effect on this tape
    }
  }

  bool ifEffect(const Op &op, Effect &out) {
    Effect then, other;
    if (!effectOf(*op.region(0), then) || !effectOf(*op.region(1), other))
      return false;
    if (then == other)
      out = then;
    else if (then.needs.empty() && other.needs.empty())
      out.leaves.push_back({Item::Branch, nullptr, then.leaves, other.leaves});
    else if (then.leaves.empty() && other.leaves.empty())
      out.needs.push_back({Item::Branch, nullptr, then.needs, other.needs});
    else
      return fail(&op, "its branches push and pop " + name() +
                           " unevenly (one pushes, the other pops)");
    return true;
  }

  bool loopEffect(const Op &op, Effect &out) {
    if (op.kind == OpKind::While) {
      Effect cond;
      if (!effectOf(*op.region(0), cond))
        return false;
      if (!cond.empty())
        return fail(&op, "its condition region pushes or pops " + name());
    }
    Effect body;
    if (!effectOf(*op.regions.back(), body))
      return false;
    if (body.empty())
      return true;
    if (body.needs.empty())
      out.leaves.push_back({Item::Loop, nullptr, body.leaves, {}});
    else if (body.leaves.empty())
      out.needs.push_back({Item::Loop, nullptr, body.needs, {}});
    else
      return fail(&op, "its body both pops what it did not push and pushes "
                       "what it does not pop on " +
                           name());
    return true;
  }
};

class Verifier {
public:
  Verifier(const Function &f, const Module &m) : f(f), m(m) {}

  std::string run() {
    scope.clear();
    checkBlock(*f.body, nullptr);
    for (auto &op : f.body->ops)
      if (error.empty() && op->kind == OpKind::TapeNew)
        TapeBalance(f, op->result(), error).run();
    return error;
  }

private:
  const Function &f;
  const Module &m;
  std::set<const Value *> scope;
  std::string error;

  bool fail(const Op *op, const std::string &msg) {
    if (error.empty())
      error = failure(f, op, msg);
    return false;
  }

  bool sameTypes(const std::vector<Value *> &vals,
                 const std::vector<const Type *> &types) {
    if (vals.size() != types.size())
      return false;
    for (size_t i = 0; i < vals.size(); ++i)
      if (vals[i]->type != types[i])
        return false;
    return true;
  }

  static std::vector<const Type *> typesOf(const Op &op) {
    std::vector<const Type *> ts;
    for (auto &r : op.results)
      ts.push_back(r->type);
    return ts;
  }

  void checkBlock(const Block &b, const Op *parentOp) {
    std::vector<const Value *> added;
    for (auto &a : b.args) {
      scope.insert(a.get());
      added.push_back(a.get());
    }
    if (b.ops.empty()) {
      fail(parentOp, "empty block (missing terminator)");
      return;
    }
    for (size_t i = 0; i < b.ops.size() && error.empty(); ++i) {
      const Op &op = *b.ops[i];
      bool isLast = i + 1 == b.ops.size();
      bool isTerm = op.kind == OpKind::Yield || op.kind == OpKind::Return;
      if (op.parent != &b)
        fail(&op, "parent pointer does not match its block");
      if (isTerm != isLast)
        fail(&op, isLast ? "block does not end in a terminator"
                         : "terminator in the middle of a block");
      if (isLast && parentOp && op.kind != OpKind::Yield)
        fail(&op, "a region must end in 'yield'");
      if (isLast && !parentOp && op.kind != OpKind::Return)
        fail(&op, "a function body must end in 'return'");
      for (Value *v : op.operands)
        if (!scope.count(v))
          fail(&op, "operand used outside the region that defines it, or "
                    "before its definition");
      checkOp(op, parentOp, b);
      for (auto &region : op.regions)
        checkBlock(*region, &op);
      for (auto &r : op.results) {
        scope.insert(r.get());
        added.push_back(r.get());
      }
    }
    for (const Value *v : added)
      scope.erase(v);
  }

  //===--- 3. arity and types, by op family --------------------------===//

  bool nOps(const Op &op, size_t n) {
    if (op.operands.size() != n)
      fail(&op, "expected " + std::to_string(n) + " operands");
    return op.operands.size() == n;
  }

  /// Elementwise typing: the shape is the result's (a tensor when any
  /// operand is one); each operand is the scalar type `t` or a tensor of
  /// that shape with the same kind of elements.
  static const Type *shapeOf(const Op &op) {
    const Type *shaped = nullptr;
    for (Value *v : op.operands)
      if (v->type->isTensor())
        shaped = v->type;
    return shaped;
  }

  static bool fits(const Type *have, const Type *t, const Type *shaped) {
    if (have == t)
      return true;
    return shaped && have->isTensor() && have->shape == shaped->shape &&
           have->elem == TypeContext::elemOf(t) &&
           (t->isF64() || t->isBool() || t->isInt());
  }

  bool allOf(const Op &op, const Type *t) {
    const Type *shaped = shapeOf(op);
    for (Value *v : op.operands)
      if (!fits(v->type, t, shaped))
        return fail(&op, "operand of type " + toString(v->type) +
                             ", expected " + toString(t));
    for (auto &r : op.results) {
      const Type *want = op.kind == OpKind::FCmp || op.kind == OpKind::ICmp
                             ? m.types->boolean()
                             : t;
      if (!fits(r->type, want, shaped) || (shaped && !r->type->isTensor()))
        return fail(&op, "result of type " + toString(r->type) + ", expected " +
                             toString(want));
    }
    return true;
  }

  /// Each family handles its own kinds and declines the others; a kind no
  /// family handles is reported, so a new op cannot go unchecked.
  void checkOp(const Op &op, const Op *parentOp, const Block &b) {
    if (!checkArith(op) && !checkLogic(op) && !checkTensor(op) &&
        !checkShapes(op) && !checkControl(op, parentOp, b) &&
        !checkEffect(op) && !checkTape(op))
      fail(&op, "no verifier rule for this op");
  }

  /// Constants, f64 and int arithmetic, elementwise math.
  bool checkArith(const Op &op) {
    TypeContext &T = *m.types;
    switch (op.kind) {
    case OpKind::ConstF:
    case OpKind::ConstI:
    case OpKind::ConstB:
      nOps(op, 0);
      return true;
      // Elementwise f64 math: the MATH lines of ir/Ops.def.
#define OP(Name, Mnemonic, Pure, Rule)
#define MATH(Name, Mnemonic, Arity, Builtin, Eval, Lowering, Symbol)           \
  case OpKind::Name:
#include "ir/Ops.def"
      if (nOps(op, mathArity(op.kind)))
        allOf(op, T.f64());
      return true;
    case OpKind::IAdd:
    case OpKind::ISub:
    case OpKind::IMul:
    case OpKind::IDiv:
    case OpKind::IRem:
      if (nOps(op, 2))
        allOf(op, T.i64());
      return true;
    case OpKind::INeg:
      if (nOps(op, 1))
        allOf(op, T.i64());
      return true;
    default:
      return false;
    }
  }

  /// Comparisons, bool logic, select, conversions.
  bool checkLogic(const Op &op) {
    TypeContext &T = *m.types;
    switch (op.kind) {
    case OpKind::FCmp:
    case OpKind::ICmp:
      if (nOps(op, 2))
        allOf(op, op.kind == OpKind::FCmp ? T.f64() : T.i64());
      return true;
    case OpKind::Not:
      if (nOps(op, 1))
        allOf(op, T.boolean());
      return true;
    case OpKind::BEq:
      if (nOps(op, 2))
        allOf(op, T.boolean());
      return true;
    case OpKind::Select: {
      if (!nOps(op, 3))
        return true;
      const Type *shaped = shapeOf(op);
      const Type *arm = op.operands[1]->type->isTensor() ? op.operands[2]->type
                                                         : op.operands[1]->type;
      if (!fits(op.operands[0]->type, T.boolean(), shaped) ||
          (!arm->isTensor() && !fits(op.operands[1]->type, arm, shaped)) ||
          !fits(op.operands[2]->type,
                arm->isTensor() ? T.scalar(arm->elem) : arm, shaped))
        fail(&op, "select needs a bool condition and matching arms");
      return true;
    }
    case OpKind::IToF:
      if (nOps(op, 1) && !fits(op.operands[0]->type, T.i64(), shapeOf(op)) ||
          !fits(op.result()->type, T.f64(), shapeOf(op)))
        fail(&op, "itof converts int to f64");
      return true;
    case OpKind::FToI:
      if (nOps(op, 1) && !fits(op.operands[0]->type, T.f64(), shapeOf(op)) ||
          !fits(op.result()->type, T.i64(), shapeOf(op)))
        fail(&op, "ftoi converts f64 to int");
      return true;
    default:
      return false;
    }
  }

  /// im2col / col2im: the image and patch shapes agree (Ops.def).
  static bool convShapes(const Op &op) {
    bool fwd = op.kind == OpKind::Im2Col;
    const Type *x = fwd ? op.operands[0]->type : op.result()->type;
    const Type *c = fwd ? op.result()->type : op.operands[0]->type;
    if (!x->isTensor() || !c->isTensor() || !x->isF64Tensor() ||
        !c->isF64Tensor() || x->rank() < 3 || c->rank() != x->rank() + 2)
      return false;
    size_t n = x->rank() - 3;
    for (size_t i = 0; i < n; ++i)
      if (x->shape[i] != c->shape[i])
        return false;
    int64_t s = op.convStride(), p = op.convPad();
    auto out = [&](int64_t in, int64_t k) {
      return in + 2 * p >= k ? (in + 2 * p - k) / s + 1 : -1;
    };
    return s >= 1 && p >= 0 && x->shape[n] == c->shape[n] &&
           c->shape[n + 3] == out(x->shape[n + 1], c->shape[n + 1]) &&
           c->shape[n + 4] == out(x->shape[n + 2], c->shape[n + 2]);
  }

  /// Whole-tensor ops: reductions and broadcasts, products, read_csv.
  bool checkTensor(const Op &op) {
    switch (op.kind) {
    case OpKind::Broadcast:
    case OpKind::SumTo:
    case OpKind::ReduceSum:
    case OpKind::ReduceMax:
    case OpKind::Transpose: {
      if (!nOps(op, 1))
        return true;
      const Type *a = op.operands[0]->type, *r = op.result()->type;
      bool ints =
          a->isIntLike() && r->isIntLike() &&
          (op.kind == OpKind::Broadcast || op.kind == OpKind::ReduceSum ||
           op.kind == OpKind::Transpose);
      if (!ints && (!a->isDifferentiable() || !r->isDifferentiable()))
        fail(&op, "operand and result must be f64 or f64 tensors (or "
                  "int ones: broadcast, reduce_sum, transpose)");
      return true;
    }
    case OpKind::MaxMask:
      if (nOps(op, 1) &&
          (!op.operands[0]->type->isTensor() ||
           !op.operands[0]->type->isF64Tensor() ||
           op.result()->type != op.operands[0]->type || op.axis() < -1 ||
           op.axis() >= (int64_t)op.result()->type->rank()))
        fail(&op, "max_mask maps an f64 tensor to one of its type, along "
                  "an axis of it or all elements (-1)");
      return true;
    case OpKind::Reshape:
      if (nOps(op, 1) && (!op.operands[0]->type->isTensor() ||
                          !op.result()->type->isTensor() ||
                          op.operands[0]->type->numElements() !=
                              op.result()->type->numElements()))
        fail(&op, "reshape keeps the element count of a tensor");
      return true;
    case OpKind::Im2Col:
    case OpKind::Col2Im:
      if (nOps(op, 1) && !convShapes(op))
        fail(&op, "im2col maps [N..., C, H, W] to [N..., C, KH, KW, OH, "
                  "OW] with OH = (H + 2 pad - KH) / stride + 1 (and OW), "
                  "stride >= 1; col2im the other way");
      return true;
    case OpKind::ReadCsv:
      if (nOps(op, 0) && !op.result()->type->isTensor())
        fail(&op, "read_csv makes a tensor");
      return true;
    case OpKind::ArgMax:
      if (nOps(op, 1) && !op.operands[0]->type->isTensor())
        fail(&op, "argmax takes a tensor");
      return true;
    case OpKind::MatMul:
      if (nOps(op, 2) && (!op.operands[0]->type->isTensor() ||
                          !op.operands[1]->type->isTensor()))
        fail(&op, "matmul takes two tensors");
      return true;
    case OpKind::Pack:
      if (!op.result()->type->isTensor() ||
          op.operands.size() != (size_t)op.result()->type->shape[0])
        fail(&op, "one operand per row of the result");
      return true;
    default:
      return false;
    }
  }

  /// A slice region (after the operand checks): one axis per axis of the
  /// full tensor, one kept axis per axis of the part, each inside the full.
  void checkRegion(const Op &op) {
    const Type *full =
        op.kind == OpKind::Unslice ? op.result()->type : op.operands[0]->type;
    const Type *part = op.kind == OpKind::Slice     ? op.result()->type
                       : op.kind == OpKind::Unslice ? op.operands[0]->type
                                                    : op.operands[1]->type;
    const auto &axes = op.sliceAxes();
    if (axes.size() != full->rank()) {
      fail(&op, "region needs one entry per axis");
      return;
    }
    size_t removed = 0;
    for (const SliceAxis &a : axes)
      removed += a.kind == SliceAxis::Index;
    if (!part->isTensor() || axes.size() - removed != part->rank()) {
      fail(&op, "region keeps one axis per axis of the part");
      return;
    }
    size_t kept = 0;
    for (size_t k = 0; k < axes.size(); ++k) {
      if (axes[k].kind == SliceAxis::Index)
        continue;
      int64_t len = part->shape[kept++];
      int64_t lo = axes[k].kind == SliceAxis::Window ? 0 : axes[k].offset;
      if (lo < 0 || lo + len > full->shape[k])
        fail(&op, "region outside the tensor on axis " + std::to_string(k));
    }
  }

  /// Indexing: slices and their adjoints, element access.
  bool checkShapes(const Op &op) {
    TypeContext &T = *m.types;
    switch (op.kind) {
    case OpKind::Slice:
    case OpKind::Unslice:
    case OpKind::Splice: {
      size_t first = op.firstSliceIndex();
      if (op.operands.size() < first || !op.result()->type->isTensor()) {
        fail(&op, "needs tensor operands and result");
        return true;
      }
      for (size_t i = 0; i < first; ++i)
        if (!op.operands[i]->type->isTensor())
          fail(&op, "needs tensor operands and result");
      if (op.operands.size() - first != op.numSliceIndices())
        fail(&op, "one int operand per indexed axis");
      for (size_t i = first; i < op.operands.size(); ++i)
        if (op.operands[i]->type != T.i64())
          fail(&op, "indices must be int");
      checkRegion(op);
      return true;
    }
    case OpKind::Gather:
    case OpKind::ScatterAdd: {
      if (!nOps(op, 2))
        return true;
      bool scatter = op.kind == OpKind::ScatterAdd;
      const Type *full = scatter ? op.result()->type : op.operands[0]->type;
      const Type *part = scatter ? op.operands[0]->type : op.result()->type;
      const Type *t = op.operands[1]->type;
      std::vector<int64_t> want = t->shape;
      if (full->isTensor())
        want.insert(want.end(), full->shape.begin() + 1, full->shape.end());
      if (!t->isIntTensor() || !full->isTensor() || !part->isTensor() ||
          part->shape != want || part->elem != full->elem ||
          (scatter && !full->isF64Tensor()))
        fail(&op, "gather takes a tensor and an int tensor of indices into "
                  "its axis 0, giving [indices' shape, the other axes]; "
                  "scatter_add the other way (f64)");
      return true;
    }
    case OpKind::Extract:
    case OpKind::Insert: {
      size_t first = op.kind == OpKind::Extract ? 1 : 2;
      if (op.operands.size() < first + 1 || !op.operands[0]->type->isTensor()) {
        fail(&op, "needs a tensor and at least one index");
        return true;
      }
      for (size_t i = first; i < op.operands.size(); ++i)
        if (op.operands[i]->type != T.i64())
          fail(&op, "indices must be int");
      if (op.operands.size() - first > op.operands[0]->type->rank())
        fail(&op, "more indices than the rank");
      return true;
    }
    default:
      return false;
    }
  }

  /// Structured control flow and terminators.
  bool checkControl(const Op &op, const Op *parentOp, const Block &b) {
    switch (op.kind) {
    case OpKind::If:
      if (nOps(op, 1) && op.operands[0]->type != m.types->boolean())
        fail(&op, "condition must be bool");
      if (op.regions.size() != 2 || !op.region(0)->args.empty() ||
          !op.region(1)->args.empty())
        fail(&op, "needs two regions without arguments");
      return true;
    case OpKind::For:
      checkFor(op);
      return true;
    case OpKind::While:
      checkWhile(op);
      return true;
    case OpKind::Yield:
      if (parentOp)
        checkYield(op, *parentOp, b);
      return true;
    case OpKind::Return:
      if (!sameTypes(op.operands, f.resultTypes))
        fail(&op, "returned values do not match the function's result types");
      return true;
    default:
      return false;
    }
  }

  void checkFor(const Op &op) {
    TypeContext &T = *m.types;
    if (op.operands.size() < 2 || op.lower()->type != T.i64() ||
        op.upper()->type != T.i64()) {
      fail(&op, "bounds must be two ints");
      return;
    }
    const Block *body = op.regions.size() == 1 ? op.region(0) : nullptr;
    if (!body || body->args.size() != op.operands.size() - 1 ||
        op.inductionVar()->type != T.i64()) {
      fail(&op, "needs one region with the induction variable and one "
                "argument per carried value");
      return;
    }
    for (size_t i = 0; i < op.numCarried(); ++i)
      if (op.init(i)->type != op.carriedArg(i)->type ||
          op.result(i)->type != op.init(i)->type)
        fail(&op, "carried value types differ");
    if (op.results.size() != op.numCarried())
      fail(&op, "one result per carried value");
  }

  void checkWhile(const Op &op) {
    if (op.regions.size() != 2 ||
        op.region(0)->args.size() != op.operands.size() ||
        op.region(1)->args.size() != op.operands.size() ||
        op.results.size() != op.operands.size()) {
      fail(&op, "needs cond and body regions with one argument per carried "
                "value, and one result each");
      return;
    }
    for (size_t i = 0; i < op.numCarried(); ++i)
      if (op.region(0)->args[i]->type != op.init(i)->type ||
          op.carriedArg(i)->type != op.init(i)->type ||
          op.result(i)->type != op.init(i)->type)
        fail(&op, "carried value types differ");
  }

  void checkYield(const Op &op, const Op &parentOp, const Block &b) {
    if (parentOp.kind == OpKind::If) {
      if (!sameTypes(op.operands, typesOf(parentOp)))
        fail(&op, "yield does not match the if's result types");
    } else if (parentOp.kind == OpKind::For) {
      if (!sameTypes(op.operands, typesOf(parentOp)))
        fail(&op, "yield does not match the loop's carried types");
    } else if (parentOp.kind == OpKind::While) {
      if (&b == parentOp.region(0)) {
        if (op.operands.size() != 1 ||
            op.operands[0]->type != m.types->boolean())
          fail(&op, "a while condition region yields one bool");
      } else if (!sameTypes(op.operands, typesOf(parentOp))) {
        fail(&op, "yield does not match the loop's carried types");
      }
    }
  }

  /// Params, calls, print and assert.
  bool checkEffect(const Op &op) {
    switch (op.kind) {
    case OpKind::ParamLoad:
    case OpKind::ParamAdd:
    case OpKind::ParamStore: {
      const Param *p = m.lookupParam(op.paramName());
      if (!p) {
        fail(&op, "unknown param @" + op.paramName());
        return true;
      }
      if (op.kind == OpKind::ParamLoad &&
          (op.results.size() != 1 || op.result()->type != p->type))
        fail(&op, "result type differs from the param's");
      if (op.kind != OpKind::ParamLoad &&
          (op.operands.size() != 1 || op.operands[0]->type != p->type))
        fail(&op, "stored value type differs from the param's");
      return true;
    }
    case OpKind::Call:
      checkCall(op);
      return true;
    case OpKind::Print:
      return true;
    case OpKind::Assert:
      if (nOps(op, 1) && op.operands[0]->type != m.types->boolean())
        fail(&op, "condition must be bool");
      return true;
    default:
      return false;
    }
  }

  void checkCall(const Op &op) {
    std::vector<const Type *> argTypes, resultTypes;
    if (const Function *callee = m.lookup(op.callee())) {
      for (auto &a : callee->args())
        argTypes.push_back(a->type);
      resultTypes = callee->resultTypes;
    } else if (const DerivedInfo *d = m.lookupDerived(op.callee())) {
      argTypes = d->sig.params;
      const Type *r = d->sig.result;
      if (r->isTuple())
        resultTypes = r->elems;
      else if (!r->isVoid())
        resultTypes = {r};
    } else {
      fail(&op, "unknown callee @" + op.callee());
      return;
    }
    if (!sameTypes(op.operands, argTypes))
      fail(&op, "arguments do not match @" + op.str + "'s signature");
    if (typesOf(op) != resultTypes)
      fail(&op, "results do not match @" + op.str + "'s signature");
  }

  /// 4. The tape ops' operands (their balance: TapeBalance below).
  bool checkTape(const Op &op) {
    TypeContext &T = *m.types;
    switch (op.kind) {
    case OpKind::TapeNew:
      nOps(op, 0);
      return true;
    case OpKind::TapePush:
      if (nOps(op, 2) && op.operands[0]->type != T.tape())
        fail(&op, "first operand must be a tape");
      break;
    case OpKind::TapeReserve:
      if (nOps(op, 2) &&
          (op.operands[0]->type != T.tape() || op.operands[1]->type != T.i64()))
        fail(&op, "operands must be a tape and an int");
      break;
    case OpKind::TapePop:
    case OpKind::TapeFree:
      if (nOps(op, 1) && op.operands[0]->type != T.tape())
        fail(&op, "operand must be a tape");
      break;
    default:
      return false;
    }
    if (error.empty() && !isTapeNew(op.operands[0]))
      fail(&op, "the tape is not made by a tape.new of this function");
    return true;
  }

  static bool isTapeNew(const Value *v) {
    return v->def && v->def->kind == OpKind::TapeNew;
  }
};

} // namespace

std::string verify(const Function &f, const Module &m) {
  return Verifier(f, m).run();
}

std::string verify(const Module &m) {
  for (auto &f : m.functions) {
    std::string e = verify(*f, m);
    if (!e.empty())
      return e;
  }
  return "";
}

} // namespace bp::ir
