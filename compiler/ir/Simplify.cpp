//===- Simplify.cpp - constant folding, CSE and DCE -----------------------===//
#include "ir/Simplify.h"

#include "ir/Eval.h"

#include <cmath>
#include <cstring>
#include <map>
#include <set>
#include <tuple>

namespace bp::ir {

bool hasEffects(const Op &op) {
  // Element reads/updates made by AD use indices the forward sweep already
  // checked: without uses they can go.
  if ((op.kind == OpKind::Insert || op.kind == OpKind::Extract) &&
      op.prechecked)
    return false;
  // A slice with int indices checks them (unless AD made it, see above).
  if (hasSliceRegion(op.kind) && op.numSliceIndices() > 0)
    return !op.prechecked;
  switch (op.kind) {
  case OpKind::Print:
  case OpKind::Assert:
  case OpKind::ParamStore:
  case OpKind::ParamAdd:
  case OpKind::ReadCsv:
  case OpKind::Call: // calls may print or fail; kept conservatively
  case OpKind::TapeNew:
  case OpKind::TapePush:
  case OpKind::TapeReserve:
  case OpKind::TapePop:
  case OpKind::TapeFree:
  case OpKind::IDiv:
  case OpKind::IRem:
  case OpKind::Return:
    return true;
  default:
    break;
  }
  for (auto &r : op.regions)
    for (auto &o : r->ops)
      if (hasEffects(*o))
        return true;
  return false;
}

namespace {

bool isConst(const Value *v) {
  return v->def &&
         (v->def->kind == OpKind::ConstF || v->def->kind == OpKind::ConstI ||
          v->def->kind == OpKind::ConstB);
}
double cf(const Value *v) { return v->def->fval; }
int64_t ci(const Value *v) { return v->def->ival; }

/// (kind, operands, f64 attribute as bits, int attribute, string attribute,
/// slice region): doubles are keyed by their bits so NaN and -0.0 are
/// distinct constants.
using CseKey = std::tuple<int, std::vector<Value *>, uint64_t, int64_t,
                          std::string, std::vector<SliceAxis>>;

uint64_t bitsOf(double d) {
  uint64_t u;
  std::memcpy(&u, &d, sizeof u);
  return u;
}

class Simplifier {
public:
  Simplifier(Function &f, const Module &m, SimplifyOptions o)
      : f(f), b(*m.types), opts(o) {}

  void run() {
    scopes.clear();
    block(*f.body);
    while (dce(*f.body)) {
    }
  }

private:
  Function &f;
  Builder b;
  SimplifyOptions opts;
  std::map<const Value *, Value *> map;
  // Removed ops stay alive until the pass ends: `map` and the CSE scopes
  // hold their values' addresses, which must not be reused by new ops.
  std::vector<std::unique_ptr<Op>> graveyard;
  std::vector<std::map<CseKey, Value *>> scopes;

  Value *remap(Value *v) {
    auto it = map.find(v);
    while (it != map.end()) {
      v = it->second;
      it = map.find(v);
    }
    return v;
  }

  /// Rewrites `blk` in place.
  void block(Block &blk) {
    scopes.emplace_back();
    std::vector<std::unique_ptr<Op>> out;
    for (auto &opPtr : blk.ops) {
      Op &op = *opPtr;
      for (auto &v : op.operands)
        v = remap(v);
      // if on a constant: inline the taken region.
      if (op.kind == OpKind::If && isConst(op.operands[0])) {
        Block &taken = *op.region(ci(op.operands[0]) ? 0 : 1);
        // The taken ops now live in `blk`: they join its CSE scope.
        std::vector<std::unique_ptr<Op>> inner;
        inner.swap(taken.ops);
        Op *yield = inner.back().get();
        for (size_t i = 0; i + 1 < inner.size(); ++i) {
          Op &io = *inner[i];
          for (auto &v : io.operands)
            v = remap(v);
          for (auto &r : io.regions)
            block(*r);
          io.parent = &blk;
          if (Value *folded = fold(io, blk, out)) {
            map[io.result()] = folded;
            graveyard.push_back(std::move(inner[i]));
          } else {
            out.push_back(std::move(inner[i]));
          }
        }
        for (size_t i = 0; i < op.results.size(); ++i)
          map[op.result(i)] = remap(yield->operands[i]);
        graveyard.push_back(std::move(inner.back()));
        graveyard.push_back(std::move(opPtr));
        continue;
      }
      for (auto &r : op.regions)
        block(*r);
      if (Value *folded = fold(op, blk, out)) {
        map[op.result()] = folded;
        graveyard.push_back(std::move(opPtr));
        continue;
      }
      out.push_back(std::move(opPtr));
    }
    blk.ops.swap(out);
    scopes.pop_back();
  }

  /// Folds a pure op whose operands are all constants; null if it does not.
  Value *foldConstant(Op &op, Block &blk,
                      std::vector<std::unique_ptr<Op>> &out) {
    auto &a = op.operands;
    auto allConst = [&] {
      for (Value *v : a)
        if (!isConst(v))
          return false;
      return !a.empty();
    };
    auto mkF = [&](double d) {
      return constant(OpKind::ConstF, d, 0, blk, out, op);
    };
    auto mkI = [&](int64_t i) {
      return constant(OpKind::ConstI, 0, i, blk, out, op);
    };
    auto mkB = [&](bool x) {
      return constant(OpKind::ConstB, 0, x, blk, out, op);
    };
    // f64 math over constants (ir/Eval.h). IEEE + - * / and negation fold
    // always (exactly specified); a function (log, pow, ...) that turns
    // finite operands into inf or nan stays for --check-numerics to report.
    if (allConst() && isMath(op.kind) && op.result()->type->isF64() &&
        op.kind != OpKind::StopGrad) {
      double x[3], r;
      bool finiteIn = true;
      for (size_t i = 0; i < a.size() && i < 3; ++i) {
        x[i] = cf(a[i]);
        finiteIn &= std::isfinite(x[i]);
      }
      bool ieee = op.kind == OpKind::FAdd || op.kind == OpKind::FSub ||
                  op.kind == OpKind::FMul || op.kind == OpKind::FDiv ||
                  op.kind == OpKind::FNeg;
      if (evalMath(op.kind, x, r) && (ieee || std::isfinite(r) || !finiteIn))
        return mkF(r);
    }
    if (allConst()) {
      switch (op.kind) {
      case OpKind::IAdd:
        return mkI((int64_t)((uint64_t)ci(a[0]) + (uint64_t)ci(a[1])));
      case OpKind::ISub:
        return mkI((int64_t)((uint64_t)ci(a[0]) - (uint64_t)ci(a[1])));
      case OpKind::IMul:
        return mkI((int64_t)((uint64_t)ci(a[0]) * (uint64_t)ci(a[1])));
      case OpKind::INeg:
        return mkI((int64_t)(0 - (uint64_t)ci(a[0])));
      case OpKind::IToF:
        return mkF((double)ci(a[0]));
      case OpKind::Not:
        return mkB(!ci(a[0]));
      case OpKind::BEq:
        return mkB(ci(a[0]) == ci(a[1]));
      case OpKind::FCmp:
        return mkB(compare(op.pred(), cf(a[0]), cf(a[1])));
      case OpKind::ICmp:
        return mkB(compare(op.pred(), ci(a[0]), ci(a[1])));
      default:
        break;
      }
    }
    return nullptr;
  }

  /// Exact algebraic identities (x * 1 = x, ...); null if none applies.
  Value *foldIdentity(Op &op, Block &blk,
                      std::vector<std::unique_ptr<Op>> &out) {
    auto &a = op.operands;
    auto isF = [&](Value *v, double d) {
      return isConst(v) && v->type->isF64() && cf(v) == d &&
             std::signbit(cf(v)) == std::signbit(d);
    };
    switch (op.kind) {
    case OpKind::FMul:
      if (isF(a[1], 1.0))
        return a[0];
      if (isF(a[0], 1.0))
        return a[1];
      break;
    case OpKind::FDiv:
      if (isF(a[1], 1.0))
        return a[0];
      break;
    case OpKind::Pow:
      // x^1 = x and x^2 = x*x exactly (IEEE pow is exact for these; LLVM
      // makes the same rewrite): cheaper, and x*x is recomputed by AD
      // instead of taped.
      if (isF(a[1], 1.0))
        return a[0];
      if (isF(a[1], 2.0) && !opts.keepPowers) {
        auto mul = std::make_unique<Op>(OpKind::FMul, op.loc);
        mul->operands = {a[0], a[0]};
        mul->parent = &blk;
        mul->adjoint = op.adjoint;
        Value *r = mul->addResult(op.result()->type, op.result()->name);
        out.push_back(std::move(mul));
        return r;
      }
      break;
    case OpKind::FSub:
      if (isF(a[1], 0.0))
        return a[0];
      break;
    case OpKind::FAdd:
      if (isF(a[1], -0.0))
        return a[0];
      if (isF(a[0], -0.0))
        return a[1];
      break;
    case OpKind::Select:
      if (isConst(a[0]))
        return ci(a[0]) ? a[1] : a[2];
      if (a[1] == a[2])
        return a[1];
      break;
    case OpKind::StopGrad:
      break; // keeps AD semantics until codegen
    default:
      break;
    }
    return nullptr;
  }

  /// Returns a replacement for op's single result, or null to keep `op`.
  /// New constants are appended to `out`.
  Value *fold(Op &op, Block &blk, std::vector<std::unique_ptr<Op>> &out) {
    if (!isPure(op.kind) || op.results.size() != 1 || !op.regions.empty())
      return nullptr;
    if (Value *folded = foldConstant(op, blk, out))
      return folded;
    if (Value *same = foldIdentity(op, blk, out))
      return same;
    // CSE over pure ops in enclosing scopes.
    CseKey key{(int)op.kind, op.operands, bitsOf(op.fval),
               op.ival,      op.str,      op.slice};
    for (auto it = scopes.rbegin(); it != scopes.rend(); ++it) {
      auto f = it->find(key);
      if (f != it->end() && f->second->type == op.result()->type)
        return f->second;
    }
    scopes.back()[key] = op.result();
    return nullptr;
  }

  Value *constant(OpKind k, double fv, int64_t iv, Block &blk,
                  std::vector<std::unique_ptr<Op>> &out, const Op &orig) {
    CseKey key{(int)k, {}, bitsOf(fv), iv, "", {}};
    for (auto it = scopes.rbegin(); it != scopes.rend(); ++it) {
      auto f = it->find(key);
      if (f != it->end())
        return f->second;
    }
    auto op = std::make_unique<Op>(k, orig.loc);
    op->fval = fv;
    op->ival = iv;
    op->parent = &blk;
    const Type *t = k == OpKind::ConstF   ? b.types.f64()
                    : k == OpKind::ConstI ? b.types.i64()
                                          : b.types.boolean();
    Value *r = op->addResult(t);
    out.push_back(std::move(op));
    scopes.back()[key] = r;
    return r;
  }

  void countUses(const Block &blk, std::map<const Value *, unsigned> &uses) {
    for (auto &op : blk.ops) {
      for (Value *v : op->operands)
        ++uses[v];
      for (auto &r : op->regions)
        countUses(*r, uses);
    }
  }

  bool dce(Block &body) {
    std::map<const Value *, unsigned> uses;
    countUses(body, uses);
    return sweep(body, uses);
  }

  bool sweep(Block &blk, std::map<const Value *, unsigned> &uses) {
    bool changed = false;
    std::vector<std::unique_ptr<Op>> out;
    for (auto &op : blk.ops) {
      for (auto &r : op->regions)
        changed |= sweep(*r, uses);
      bool unused = true;
      for (auto &r : op->results)
        unused &= uses[r.get()] == 0;
      bool removable = op->kind != OpKind::Yield && !hasEffects(*op) &&
                       (isPure(op->kind) || op->kind == OpKind::ParamLoad ||
                        op->kind == OpKind::Insert ||
                        op->kind == OpKind::Extract || op->kind == OpKind::If ||
                        op->kind == OpKind::For || op->kind == OpKind::While);
      // A while loop may not terminate; removing it would change behaviour.
      if (op->kind == OpKind::While)
        removable = false;
      // A tape nobody pushes to: drop its free, then the tape itself.
      if (op->kind == OpKind::TapeFree && uses[op->operands[0]] == 1)
        unused = removable = true;
      if (op->kind == OpKind::TapeNew)
        removable = true;
      if (unused && removable) {
        changed = true;
        graveyard.push_back(std::move(op));
        continue;
      }
      out.push_back(std::move(op));
    }
    blk.ops.swap(out);
    return changed;
  }
};

} // namespace

void simplify(Function &f, const Module &m, SimplifyOptions o) {
  Simplifier(f, m, o).run();
}

void simplify(Module &m, SimplifyOptions o) {
  for (auto &f : m.functions)
    simplify(*f, m, o);
}

} // namespace bp::ir
