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
//     result types, calls match the callee's signature.
//  4. Tapes: tape.push/pop/free take a tape value made by tape.new in the
//     same function.
//
//===----------------------------------------------------------------------===//
#include "ir/Verifier.h"

#include <algorithm>
#include <set>
#include <sstream>

namespace bp::ir {
namespace {

class Verifier {
public:
  Verifier(const Function &f, const Module &m) : f(f), m(m) {}

  std::string run() {
    scope.clear();
    checkBlock(*f.body, nullptr);
    return error;
  }

private:
  const Function &f;
  const Module &m;
  std::set<const Value *> scope;
  std::string error;

  bool fail(const Op *op, const std::string &msg) {
    if (error.empty()) {
      std::ostringstream os;
      os << "IR verifier: in @" << f.name << ": ";
      if (op)
        os << "'" << mnemonic(op->kind) << "': ";
      os << msg;
      error = os.str();
    }
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

  void checkOp(const Op &op, const Op *parentOp, const Block &b) {
    TypeContext &T = *m.types;
    auto nOps = [&](size_t n) {
      if (op.operands.size() != n)
        fail(&op, "expected " + std::to_string(n) + " operands");
      return op.operands.size() == n;
    };
    // Elementwise typing: the shape is the result's (a tensor when any
    // operand is one); each operand is the scalar type `t` or a tensor of
    // that shape with the same kind of elements.
    const Type *shaped = nullptr;
    for (Value *v : op.operands)
      if (v->type->isTensor())
        shaped = v->type;
    auto fits = [&](const Type *have, const Type *t) {
      if (have == t)
        return true;
      return shaped && have->isTensor() && have->shape == shaped->shape &&
             have->boolElems == t->isBool() && (t->isF64() || t->isBool());
    };
    auto allOf = [&](const Type *t) {
      for (Value *v : op.operands)
        if (!fits(v->type, t))
          return fail(&op, "operand of type " + toString(v->type) +
                               ", expected " + toString(t));
      for (auto &r : op.results) {
        const Type *want = op.kind == OpKind::FCmp || op.kind == OpKind::ICmp
                               ? T.boolean()
                               : t;
        if (!fits(r->type, want) || (shaped && !r->type->isTensor()))
          return fail(&op, "result of type " + toString(r->type) +
                               ", expected " + toString(want));
      }
      return true;
    };
    switch (op.kind) {
    case OpKind::ConstF:
    case OpKind::ConstI:
    case OpKind::ConstB:
    case OpKind::TapeNew:
      nOps(0);
      break;
      // Elementwise f64 math: the MATH lines of ir/Ops.def.
#define OP(Name, Mnemonic, Pure, Rule)
#define MATH(Name, Mnemonic, Arity, Builtin, Eval, Lowering, Symbol)           \
  case OpKind::Name:
#include "ir/Ops.def"
      if (nOps(mathArity(op.kind)))
        allOf(T.f64());
      break;
    case OpKind::IAdd:
    case OpKind::ISub:
    case OpKind::IMul:
    case OpKind::IDiv:
    case OpKind::IRem:
      if (nOps(2))
        allOf(T.i64());
      break;
    case OpKind::INeg:
      if (nOps(1))
        allOf(T.i64());
      break;
    case OpKind::FCmp:
    case OpKind::ICmp:
      if (nOps(2)) {
        allOf(op.kind == OpKind::FCmp ? T.f64() : T.i64());
      }
      break;
    case OpKind::Not:
      if (nOps(1))
        allOf(T.boolean());
      break;
    case OpKind::BEq:
      if (nOps(2))
        allOf(T.boolean());
      break;
    case OpKind::Select: {
      if (!nOps(3))
        break;
      const Type *arm = op.operands[1]->type->isTensor() ? op.operands[2]->type
                                                         : op.operands[1]->type;
      if (!fits(op.operands[0]->type, T.boolean()) ||
          (!arm->isTensor() && !fits(op.operands[1]->type, arm)) ||
          !fits(op.operands[2]->type, arm->isTensor() ? T.f64() : arm))
        fail(&op, "select needs a bool condition and matching arms");
      break;
    }
    case OpKind::Broadcast:
    case OpKind::SumTo:
    case OpKind::ReduceSum:
    case OpKind::ReduceMax:
    case OpKind::Transpose:
      if (nOps(1) && (!op.operands[0]->type->isDifferentiable() ||
                      !op.result()->type->isDifferentiable()))
        fail(&op, "operand and result must be f64 or f64 tensors");
      break;
    case OpKind::Slice:
    case OpKind::Unslice:
    case OpKind::Splice: {
      size_t first = op.kind == OpKind::Splice ? 2 : 1;
      if (op.operands.size() < first || !op.result()->type->isTensor()) {
        fail(&op, "needs tensor operands and result");
        break;
      }
      for (size_t i = 0; i < first; ++i)
        if (!op.operands[i]->type->isTensor())
          fail(&op, "needs tensor operands and result");
      size_t nIdx = (size_t)std::count(op.str.begin(), op.str.end(), 'i');
      if (op.operands.size() - first != nIdx)
        fail(&op, "one int operand per indexed axis");
      for (size_t i = first; i < op.operands.size(); ++i)
        if (op.operands[i]->type != T.i64())
          fail(&op, "indices must be int");
      break;
    }
    case OpKind::ReadCsv:
      if (nOps(0) && !op.result()->type->isTensor())
        fail(&op, "read_csv makes a tensor");
      break;
    case OpKind::ArgMax:
      if (nOps(1) && !op.operands[0]->type->isTensor())
        fail(&op, "argmax takes a tensor");
      break;
    case OpKind::MatMul:
      if (nOps(2) && (!op.operands[0]->type->isTensor() ||
                      !op.operands[1]->type->isTensor()))
        fail(&op, "matmul takes two tensors");
      break;
    case OpKind::Extract:
    case OpKind::Insert: {
      size_t first = op.kind == OpKind::Extract ? 1 : 2;
      if (op.operands.size() < first + 1 || !op.operands[0]->type->isTensor()) {
        fail(&op, "needs a tensor and at least one index");
        break;
      }
      for (size_t i = first; i < op.operands.size(); ++i)
        if (op.operands[i]->type != T.i64())
          fail(&op, "indices must be int");
      if (op.operands.size() - first > op.operands[0]->type->rank())
        fail(&op, "more indices than the rank");
      break;
    }
    case OpKind::Pack:
      if (!op.result()->type->isTensor() ||
          op.operands.size() != (size_t)op.result()->type->shape[0])
        fail(&op, "one operand per row of the result");
      break;
    case OpKind::IToF:
      if (nOps(1) &&
          (op.operands[0]->type != T.i64() || op.result()->type != T.f64()))
        fail(&op, "itof converts int to f64");
      break;
    case OpKind::FToI:
      if (nOps(1) &&
          (op.operands[0]->type != T.f64() || op.result()->type != T.i64()))
        fail(&op, "ftoi converts f64 to int");
      break;
    case OpKind::ParamLoad:
    case OpKind::ParamAdd:
    case OpKind::ParamStore: {
      const Param *p = m.lookupParam(op.str);
      if (!p) {
        fail(&op, "unknown param @" + op.str);
        break;
      }
      if (op.kind == OpKind::ParamLoad &&
          (op.results.size() != 1 || op.result()->type != p->type))
        fail(&op, "result type differs from the param's");
      if (op.kind != OpKind::ParamLoad &&
          (op.operands.size() != 1 || op.operands[0]->type != p->type))
        fail(&op, "stored value type differs from the param's");
      break;
    }
    case OpKind::Call: {
      const Function *callee = m.lookup(op.str);
      if (!callee) {
        fail(&op, "unknown callee @" + op.str);
        break;
      }
      std::vector<const Type *> argTypes;
      for (auto &a : callee->args())
        argTypes.push_back(a->type);
      if (!sameTypes(op.operands, argTypes))
        fail(&op, "arguments do not match @" + op.str + "'s signature");
      if (typesOf(op) != callee->resultTypes)
        fail(&op, "results do not match @" + op.str + "'s signature");
      break;
    }
    case OpKind::If:
      if (nOps(1) && op.operands[0]->type != T.boolean())
        fail(&op, "condition must be bool");
      if (op.regions.size() != 2 || !op.region(0)->args.empty() ||
          !op.region(1)->args.empty())
        fail(&op, "needs two regions without arguments");
      break;
    case OpKind::For: {
      if (op.operands.size() < 2 || op.operands[0]->type != T.i64() ||
          op.operands[1]->type != T.i64()) {
        fail(&op, "bounds must be two ints");
        break;
      }
      const Block *body = op.regions.size() == 1 ? op.region(0) : nullptr;
      if (!body || body->args.size() != op.operands.size() - 1 ||
          body->args[0]->type != T.i64()) {
        fail(&op, "needs one region with the induction variable and one "
                  "argument per carried value");
        break;
      }
      for (size_t i = 2; i < op.operands.size(); ++i)
        if (op.operands[i]->type != body->args[i - 1]->type ||
            op.result(i - 2)->type != op.operands[i]->type)
          fail(&op, "carried value types differ");
      if (op.results.size() != op.operands.size() - 2)
        fail(&op, "one result per carried value");
      break;
    }
    case OpKind::While: {
      if (op.regions.size() != 2 ||
          op.region(0)->args.size() != op.operands.size() ||
          op.region(1)->args.size() != op.operands.size() ||
          op.results.size() != op.operands.size()) {
        fail(&op, "needs cond and body regions with one argument per carried "
                  "value, and one result each");
        break;
      }
      for (size_t i = 0; i < op.operands.size(); ++i)
        if (op.region(0)->args[i]->type != op.operands[i]->type ||
            op.region(1)->args[i]->type != op.operands[i]->type ||
            op.result(i)->type != op.operands[i]->type)
          fail(&op, "carried value types differ");
      break;
    }
    case OpKind::Yield: {
      if (!parentOp)
        break;
      if (parentOp->kind == OpKind::If) {
        if (!sameTypes(op.operands, typesOf(*parentOp)))
          fail(&op, "yield does not match the if's result types");
      } else if (parentOp->kind == OpKind::For) {
        if (!sameTypes(op.operands, typesOf(*parentOp)))
          fail(&op, "yield does not match the loop's carried types");
      } else if (parentOp->kind == OpKind::While) {
        if (&b == parentOp->region(0)) {
          if (op.operands.size() != 1 || op.operands[0]->type != T.boolean())
            fail(&op, "a while condition region yields one bool");
        } else if (!sameTypes(op.operands, typesOf(*parentOp))) {
          fail(&op, "yield does not match the loop's carried types");
        }
      }
      break;
    }
    case OpKind::Return:
      if (!sameTypes(op.operands, f.resultTypes))
        fail(&op, "returned values do not match the function's result types");
      break;
    case OpKind::Print:
      break;
    case OpKind::Assert:
      if (nOps(1) && op.operands[0]->type != T.boolean())
        fail(&op, "condition must be bool");
      break;
    case OpKind::TapePush:
      if (nOps(2) && op.operands[0]->type != T.tape())
        fail(&op, "first operand must be a tape");
      break;
    case OpKind::TapeReserve:
      if (nOps(2) &&
          (op.operands[0]->type != T.tape() || op.operands[1]->type != T.i64()))
        fail(&op, "operands must be a tape and an int");
      break;
    case OpKind::TapePop:
    case OpKind::TapeFree:
      if (nOps(1) && op.operands[0]->type != T.tape())
        fail(&op, "operand must be a tape");
      break;
    }
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
