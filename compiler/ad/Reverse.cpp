//===- Reverse.cpp - reverse-mode AD by source transformation -------------===//
//
// For f, emit `f.rev.<activity>`:
//   1. needs:   which primal values the reverse sweep reads (found by running
//               the chain-rule table into a scratch block). Values defined
//               at the top level are read directly; values defined inside a
//               region are pushed on the tape at the end of the region.
//   2. forward: a clone of f with those pushes (a `while` also counts its
//               trips, the reverse loop's bound).
//   3. reverse: ops in reverse order; adjoints accumulate in a map (absent =
//               zero). A region op becomes a region op of the same shape
//               whose results are the adjoint contributions to the values it
//               uses from outside ("free values"); a loop runs backwards,
//               popping what its body pushed.
//
// A call's adjoint is the callee's reverse function, called in the reverse
// sweep (the forward sweep calls the primal callee): the callee's forward
// pass runs twice. For a call on a call-graph cycle (recursion) that would
// be quadratic in the depth, so when the callee has one differentiable
// result, a scalar, the forward sweep calls the callee's reverse function
// with seed 1 instead, keeps the gradient it returns (like any primal
// value: read directly or taped), and the reverse sweep scales it by the
// actual seed (preaccumulation: the adjoint is linear in the seed). Each
// level then runs once: linear in the depth.
//
//===----------------------------------------------------------------------===//
#include "ad/AD.h"
#include "ad/Rules.h"
#include "ir/CallGraph.h"

#include <algorithm>
#include <cassert>
#include <functional>
#include <map>
#include <set>

namespace bp::ad {

using ir::OpKind;
using ir::Value;

ir::Value *zeroOf(ir::Builder &b, const Type *t) {
  Value *z = b.constF(0);
  if (!t->isTensor())
    return z;
  ir::Op *op = b.create(OpKind::Broadcast, {z}, {t});
  op->ival = -1;
  return op->result();
}

ir::Value *scale(ir::Builder &b, Value *g, Value *d) {
  if (d->def && d->def->kind == OpKind::ConstF) {
    if (d->def->fval == 1.0)
      return g;
    if (d->def->fval == -1.0)
      return b.unary(OpKind::FNeg, g);
  }
  if (d->def && d->def->kind == OpKind::Select) {
    Value *x = d->def->operands[1], *y = d->def->operands[2];
    auto isConstF = [](Value *v) {
      return v->def && v->def->kind == OpKind::ConstF;
    };
    if (isConstF(x) && isConstF(y)) {
      auto term = [&](Value *c) {
        return c->def->fval == 0.0 ? b.constF(0) : scale(b, g, c);
      };
      return b.select(d->def->operands[0], term(x), term(y));
    }
  }
  return b.binary(OpKind::FMul, g, d);
}

static bool findStore(const ir::Block &blk, const ir::Op *&store) {
  for (auto &op : blk.ops) {
    if (op->kind == OpKind::ParamStore || op->kind == OpKind::ParamAdd) {
      store = op.get();
      return true;
    }
    for (auto &r : op->regions)
      if (findStore(*r, store))
        return true;
  }
  return false;
}

bool checkDifferentiable(const ir::Module &m, const ir::Function &f,
                         DiagEngine &diags, Loc useLoc) {
  std::set<std::string> seen;
  std::vector<const ir::Function *> work = {&f};
  while (!work.empty()) {
    const ir::Function *g = work.back();
    work.pop_back();
    if (!seen.insert(g->name).second)
      continue;
    const ir::Op *store = nullptr;
    if (findStore(*g->body, store)) {
      diags.error(useLoc,
                  "cannot differentiate '" + f.name + "': " +
                      (g == &f ? std::string("it")
                               : "'" + g->name + "', which it calls,") +
                      " assigns param '" + store->paramName() + "' (" +
                      diags.source().lineRef(store->loc.line, useLoc.line) +
                      ")");
      return false;
    }
    std::vector<std::string> cs;
    ir::calleeNames(*g->body, cs);
    for (auto &c : cs)
      if (const ir::Function *cf = m.lookup(c))
        work.push_back(cf);
  }
  return true;
}

namespace {

/// Where primal values live during the reverse sweep: values popped at the
/// start of a reverse region, else the enclosing region's, else the forward
/// clone (top level).
struct Ctx {
  const Ctx *parent = nullptr;
  std::map<const Value *, Value *> vals;
  const std::map<const Value *, Value *> *fwd = nullptr;

  Value *get(const Value *v) const {
    for (const Ctx *c = this; c; c = c->parent) {
      auto it = c->vals.find(v);
      if (it != c->vals.end())
        return it->second;
      if (!c->parent) {
        auto f = c->fwd->find(v);
        assert(f != c->fwd->end() && "primal value not available");
        return f->second;
      }
    }
    return nullptr;
  }
};

using AdjMap = std::map<const Value *, Value *>;

using Op = ir::Op;

class ReverseBuilder {
public:
  ReverseBuilder(ir::Module &m, ir::Function &f, const ActivitySpec &spec,
                 DiagEngine &diags, Loc useLoc)
      : m(m), F(f), spec(spec), diags(diags), useLoc(useLoc), b(*m.types) {}

  ir::Function *run(const std::string &name) {
    act = analyze(F, spec, /*forwardOnly=*/false);
    for (auto &p : spec.params) {
      const ir::Param *decl = m.lookupParam(p);
      synthetic.push_back(std::make_unique<Value>(decl->type));
      synthetic.back()->name = p;
      paramVal[p] = synthetic.back().get();
    }

    // Declare first: recursive calls find the function.
    R = m.addFunction(name);
    R->loc = F.loc;
    R->derivedFrom = "reverse mode of " + F.name;
    std::vector<const Type *> fResults = F.resultTypes;
    for (auto &a : F.args())
      fwd[a.get()] = R->addArg(a->type, a->name);
    std::vector<Value *> seeds;
    for (size_t i = 0; i < fResults.size(); ++i)
      if (fResults[i]->isDifferentiable())
        seeds.push_back(R->addArg(
            fResults[i],
            fResults.size() == 1 ? "seed" : "seed." + std::to_string(i)));
    R->resultTypes = fResults;
    for (size_t i = 0; i < F.args().size(); ++i)
      if (spec.args[i])
        R->resultTypes.push_back(F.args()[i]->type);
    for (auto &p : spec.params)
      R->resultTypes.push_back(m.lookupParam(p)->type);

    collect(*F.body, /*top=*/true);

    b.setInsertionPointToEnd(R->body.get());
    b.loc = F.loc;
    tape = b.create(OpKind::TapeNew, {}, {m.types->tape()})->result();
    tape->name = "tape";
    for (auto &op : F.body->ops)
      if (op->kind == OpKind::TapeNew) {
        atapes[op->result()] =
            b.create(OpKind::TapeNew, {}, {m.types->tape()})->result();
        atapes[op->result()]->name = "tape.adj";
      }

    // Forward sweep.
    cloneForward(*F.body, /*top=*/true);

    // Reverse sweep.
    b.markAdjoint = true;
    b.markPrechecked = true; // the forward sweep checked every index
    const ir::Op *ret = F.body->terminator();
    Ctx top;
    top.fwd = &fwd;
    AdjMap adj;
    size_t s = 0;
    for (size_t i = 0; i < ret->operands.size(); ++i)
      if (fResults[i]->isDifferentiable())
        accumulate(adj, ret->operands[i], seeds[s++]);
    reverseBlock(*F.body, top, adj);
    if (failed)
      return nullptr;

    std::vector<Value *> results;
    for (Value *v : ret->operands)
      results.push_back(fwd.at(v));
    for (size_t i = 0; i < F.args().size(); ++i)
      if (spec.args[i])
        results.push_back(adjOrZero(adj, F.args()[i].get()));
    for (auto &p : spec.params)
      results.push_back(adjOrZero(adj, paramVal[p]));
    b.markAdjoint = false;
    b.markPrechecked = false;
    b.create(OpKind::TapeFree, {tape});
    for (auto &[orig, at] : atapes)
      b.create(OpKind::TapeFree, {at});
    b.create(OpKind::Return, results);
    return R;
  }

private:
  ir::Module &m;
  ir::Function &F;
  const ActivitySpec &spec;
  DiagEngine &diags;
  Loc useLoc;
  ir::Builder b;
  ir::Function *R = nullptr;
  Activity act;
  bool failed = false;

  std::map<const Value *, Value *> fwd;
  std::map<const ir::Block *, std::vector<const Value *>> pushes, remat;
  /// Per `for` body: carried ints that count (yield `arg + c`, c defined
  /// outside the loop), recomputed as init + (iv - lo) * c, never taped.
  std::map<const ir::Block *, std::vector<const Value *>> counters;
  std::set<const ir::Block *> reserved; // loop bodies with reserved pushes
  std::map<const ir::Op *, Value *> tripCount; // while op -> synthetic value
  /// Preaccumulated calls (see the file comment): the callee's gradient,
  /// one synthetic value per active argument, then per param.
  std::map<const ir::Op *, std::vector<Value *>> preGrads;
  std::map<std::string, bool> reachesF; // callee name -> can it call F
  std::vector<std::unique_ptr<Value>> synthetic;
  std::map<std::string, Value *> paramVal;
  Value *tape = nullptr;
  std::map<const Value *, Value *> atapes;

  bool isActive(const Value *v) const {
    for (auto &[p, s] : paramVal)
      if (s == v)
        return true;
    return act.isActive(v);
  }

  Value *adjOrZero(AdjMap &adj, const Value *v) {
    auto it = adj.find(v);
    return it != adj.end() ? it->second : zeroOf(b, v->type);
  }

  /// For `insert(zeros, e, i...)` (the adjoint of an extract): e.
  static Value *sparseElement(Value *delta) {
    Op *ins = delta->def;
    if (!ins || ins->kind != OpKind::Insert)
      return nullptr;
    Op *z = ins->operands[0]->def;
    if (!z || z->kind != OpKind::Broadcast || !z->operands[0]->def ||
        z->operands[0]->def->kind != OpKind::ConstF ||
        z->operands[0]->def->fval != 0.0)
      return nullptr;
    return ins->operands[1];
  }

  static bool isZero(const Value *v) {
    return v->def && v->def->kind == OpKind::ConstF && v->def->fval == 0.0;
  }

  /// If `acc` is `insert w, 0, idx...`, returns w.
  static Value *zeroedAt(Value *acc, const std::vector<Value *> &idx) {
    Op *d = acc->def;
    if (!d || d->kind != OpKind::Insert || !isZero(d->operands[1]) ||
        !std::equal(d->operands.begin() + 2, d->operands.end(), idx.begin(),
                    idx.end()))
      return nullptr;
    return d->operands[0];
  }

  Value *insertAt(Value *w, Value *e, const std::vector<Value *> &idx) {
    std::vector<Value *> ops = {w, e};
    ops.insert(ops.end(), idx.begin(), idx.end());
    return b.create(OpKind::Insert, ops, {w->type})->result();
  }

  void accumulate(AdjMap &adj, const Value *v, Value *delta) {
    if (!isActive(v))
      return;
    // A scalar broadcast inside an elementwise op gets the sum.
    if (!v->type->isTensor() && delta->type->isTensor()) {
      Op *sum = b.create(OpKind::ReduceSum, {delta}, {v->type});
      sum->ival = -1;
      delta = sum->result();
    }
    auto it = adj.find(v);
    if (it == adj.end()) {
      adj[v] = delta;
    } else if (Value *e = sparseElement(delta)) {
      // The adjoint of x[i] is zero but at i: add into element i instead of
      // adding a whole tensor (O(1), done in place by codegen).
      Op *ins = delta->def;
      std::vector<Value *> idx(ins->operands.begin() + 2, ins->operands.end());
      if (Value *w = zeroedAt(it->second, idx)) {
        // The accumulator is w with element i just zeroed (the adjoint of
        // `insert w, e, i`): store e there; when e was read from w at i,
        // the accumulator is w itself.
        Op *ed = e->def;
        bool same = ed && ed->kind == OpKind::Extract && ed->operands[0] == w &&
                    std::equal(ed->operands.begin() + 1, ed->operands.end(),
                               idx.begin(), idx.end());
        it->second = same ? w : insertAt(w, e, idx);
      } else {
        std::vector<Value *> ops = {it->second};
        ops.insert(ops.end(), idx.begin(), idx.end());
        Value *cur = b.create(OpKind::Extract, ops, {e->type})->result();
        it->second = insertAt(it->second, b.binary(OpKind::FAdd, cur, e), idx);
      }
      // The dense delta may still be another adjoint (x + x shares one);
      // when it is unused, DCE removes it (adjoint inserts are pure).
    } else if (delta->def && delta->def->kind == OpKind::Unslice) {
      // The adjoint of a slice is zero outside it: add into the region
      // only (O(slice), in place), not a whole tensor.
      Op *u = delta->def;
      Value *g = u->operands[0];
      std::vector<Value *> ops = {it->second};
      ops.insert(ops.end(), u->operands.begin() + 1, u->operands.end());
      Op *cur = b.create(OpKind::Slice, ops, {g->type});
      cur->slice = u->sliceAxes();
      ops = {it->second, b.binary(OpKind::FAdd, cur->result(), g)};
      ops.insert(ops.end(), u->operands.begin() + 1, u->operands.end());
      Op *sp = b.create(OpKind::Splice, ops, {it->second->type});
      sp->slice = u->sliceAxes();
      it->second = sp->result();
    } else {
      it->second = b.binary(OpKind::FAdd, it->second, delta);
    }
    if (adj[v]->name.empty() && !v->name.empty() && adj[v]->def &&
        adj[v]->def->kind != OpKind::ConstF)
      adj[v]->name = v->name + ".adj";
  }

  //===--------------------------------------------------------------------===//
  // 1. Needs
  //===--------------------------------------------------------------------===//

  Value *countOf(const ir::Op &whileOp) {
    auto &slot = tripCount[&whileOp];
    if (!slot) {
      synthetic.push_back(std::make_unique<Value>(m.types->i64()));
      synthetic.back()->name = "trips";
      slot = synthetic.back().get();
    }
    return slot;
  }

  /// Whether `name` can (transitively) call F: a call to it from F is on a
  /// call-graph cycle.
  bool reaches(const std::string &name) {
    auto it = reachesF.find(name);
    if (it != reachesF.end())
      return it->second;
    std::set<std::string> seen;
    std::vector<std::string> work = {name};
    bool found = false;
    while (!work.empty() && !found) {
      std::string g = work.back();
      work.pop_back();
      const ir::Function *gf = m.lookup(g);
      if (!gf || !seen.insert(g).second)
        continue;
      std::vector<std::string> cs;
      ir::calleeNames(*gf->body, cs);
      for (auto &c : cs)
        found |= c == F.name;
      work.insert(work.end(), cs.begin(), cs.end());
    }
    return reachesF[name] = found;
  }

  ActivitySpec calleeSpec(const Op &call) const {
    ActivitySpec cs;
    for (Value *v : call.operands)
      cs.args.push_back(isActive(v));
    cs.params = spec.params;
    return cs;
  }

  /// The gradient values of `call` when it is preaccumulated, else null.
  const std::vector<Value *> *preaccumulated(const Op &call) {
    if (call.kind != OpKind::Call || !act.isActiveOp(call))
      return nullptr;
    auto it = preGrads.find(&call);
    if (it != preGrads.end())
      return &it->second;
    // One scalar seed: a tensor result would need one reverse pass per
    // element (a seed of ones gives the sum of the rows of the Jacobian).
    size_t differentiable = 0;
    bool scalar = true;
    for (auto &r : call.results)
      if (r->type->isDifferentiable()) {
        ++differentiable;
        scalar &= !r->type->isTensor();
      }
    if (differentiable != 1 || !scalar || !reaches(call.callee()))
      return nullptr;
    std::vector<Value *> &grads = preGrads[&call];
    ActivitySpec cs = calleeSpec(call);
    for (size_t i = 0; i < call.operands.size(); ++i)
      if (cs.args[i]) {
        synthetic.push_back(std::make_unique<Value>(call.operands[i]->type));
        synthetic.back()->name = call.callee() + ".d" + std::to_string(i);
        grads.push_back(synthetic.back().get());
      }
    for (auto &p : spec.params) {
      synthetic.push_back(std::make_unique<Value>(m.lookupParam(p)->type));
      synthetic.back()->name = call.callee() + ".d" + p;
      grads.push_back(synthetic.back().get());
    }
    return &grads;
  }

  /// Needs of one op's rule (not of its regions).
  std::vector<const Value *> ruleNeeds(const ir::Op &op) {
    switch (op.kind) {
    case OpKind::If:
      return {op.operands[0]};
    case OpKind::For:
      return {op.lower(), op.upper()};
    case OpKind::While:
      return {countOf(op)};
    case OpKind::Call:
      if (auto *grads = preaccumulated(op))
        return {grads->begin(), grads->end()};
      return {op.operands.begin(), op.operands.end()};
    default:
      break;
    }
    if (!hasPartials(op.kind) && !isTensorRuleOp(op.kind))
      return {};
    ir::Block scratch;
    ir::Builder sb(*m.types);
    sb.setInsertionPointToEnd(&scratch);
    std::vector<const Value *> rec;
    std::vector<bool> want;
    for (Value *v : op.operands)
      want.push_back(isActive(v));
    std::vector<Value *> out;
    auto record = [&](const Value *v) {
      rec.push_back(v);
      return const_cast<Value *>(v);
    };
    if (isTensorRuleOp(op.kind))
      tensorAdjoints(op, op.result(), want, sb, record, out);
    else
      partials(op, want, sb, record, out);
    return rec;
  }

  /// Cheap values the reverse sweep recomputes instead of taping: constants,
  /// one-instruction int or f64 arithmetic, and reads of a tensor defined
  /// outside the region (x[i] of an argument: the tensor is immutable).
  static bool recomputable(const Value *v, const ir::Block &blk) {
    const Op *d = v->def;
    if (!d || !d->regions.empty() || d->parent != &blk)
      return false;
    switch (d->kind) {
    case OpKind::ConstF:
    case OpKind::ConstI:
    case OpKind::ConstB:
    case OpKind::IAdd:
    case OpKind::ISub:
    case OpKind::IMul:
    case OpKind::FAdd:
    case OpKind::FSub:
    case OpKind::FMul:
    case OpKind::FNeg:
    case OpKind::IToF: // float(i) of a loop variable: i is recomputed too
      if (!v->type->isTensor())
        return true;
      // A small elementwise op of values from outside the region or of
      // reads of them (x[i] - means[k]): cheaper than a push and a pop.
      if (v->type->numElements() > 64)
        return false;
      for (const Value *o : d->operands) {
        bool outside = o->def ? o->def->parent != &blk : o->owner != &blk;
        bool view =
            o->def && o->def->kind == OpKind::Extract && recomputable(o, blk);
        if (!outside && !view)
          return false;
      }
      return true;
    case OpKind::Extract: {
      // A read of a tensor defined outside the region: a scalar load, or a
      // row (a view, no copy), never worth taping.
      const Value *x = d->operands[0];
      return x->def ? x->def->parent != &blk : x->owner != &blk;
    }
    default:
      return false;
    }
  }

  static bool definedOutside(const Value *v, const ir::Block &blk) {
    for (const ir::Block *in = v->def ? v->def->parent : v->owner; in;
         in = in->parent ? in->parent->parent : nullptr)
      if (in == &blk)
        return false;
    return true;
  }

  /// For a carried int of a `for` body (block argument `arg`): the step c
  /// when the body yields `arg + c` or `arg - c` (then `down`) with c
  /// defined outside the loop, so that in iteration iv,
  /// arg = init ± (iv - lo) * c.
  static const Value *counterStep(const Value *arg, const ir::Block &blk,
                                  bool &down) {
    if (!blk.parent || blk.parent->kind != OpKind::For || arg->def ||
        arg->owner != &blk || arg->index == 0 || !arg->type->isInt())
      return nullptr;
    const Value *next = blk.terminator()->operands[arg->index - 1];
    const Op *d = next->def;
    if (!d || d->parent != &blk)
      return nullptr;
    const Value *c = nullptr;
    down = d->kind == OpKind::ISub;
    if (d->kind == OpKind::IAdd)
      c = d->operands[0] == arg   ? d->operands[1]
          : d->operands[1] == arg ? d->operands[0]
                                  : nullptr;
    else if (d->kind == OpKind::ISub && d->operands[0] == arg)
      c = d->operands[1];
    return c && c != arg && definedOutside(c, blk) ? c : nullptr;
  }

  /// Returns the needs of `blk` defined outside it; records the values
  /// `blk` must push (those defined in it), in definition order.
  std::set<const Value *> collect(const ir::Block &blk, bool top) {
    std::set<const Value *> needs;
    for (auto &opp : blk.ops) {
      const ir::Op &op = *opp;
      if (op.kind == OpKind::Return || op.kind == OpKind::Yield ||
          !act.isActiveOp(op))
        continue;
      for (const Value *v : ruleNeeds(op))
        needs.insert(v);
      for (size_t r = 0; r < op.regions.size(); ++r) {
        if (op.kind == OpKind::While && r == 0)
          continue; // the condition has no derivative
        auto inner = collect(*op.region(r), false);
        if (op.kind == OpKind::For)
          inner.erase(op.inductionVar()); // recomputed
        needs.insert(inner.begin(), inner.end());
      }
    }
    std::vector<const Value *> defined;
    bool forBody = blk.parent && blk.parent->kind == OpKind::For;
    for (auto &a : blk.args) // a for's induction variable: recomputed
      if (!(forBody && a.get() == blk.parent->inductionVar())) // not taped
        defined.push_back(a.get());
    for (auto &op : blk.ops) {
      for (auto &r : op->results)
        defined.push_back(r.get());
      if (op->kind == OpKind::While && tripCount.count(op.get()))
        defined.push_back(tripCount[op.get()]);
      if (auto it = preGrads.find(op.get()); it != preGrads.end())
        defined.insert(defined.end(), it->second.begin(), it->second.end());
    }
    // Latest definitions first, so that a recomputed value's operands (all
    // defined earlier) are decided after it.
    std::vector<const Value *> own, recompute;
    for (auto it = defined.rbegin(); it != defined.rend(); ++it) {
      const Value *v = *it;
      if (!needs.erase(v))
        continue;
      bool down;
      if (const Value *c = counterStep(v, blk, down)) {
        counters[&blk].push_back(v);
        const Op *loop = blk.parent;
        needs.insert(c);
        needs.insert(loop->lower());
        needs.insert(loop->init(v->index - 1)); // the initial value
      } else if (!top && recomputable(v, blk)) {
        recompute.push_back(v);
        for (const Value *o : v->def->operands)
          needs.insert(o);
      } else {
        own.push_back(v);
      }
    }
    std::reverse(own.begin(), own.end());
    std::reverse(recompute.begin(), recompute.end());
    remat[&blk] = recompute;
    if (!top)
      pushes[&blk] = own;
    return needs;
  }

  //===--------------------------------------------------------------------===//
  // 2. Forward sweep
  //===--------------------------------------------------------------------===//

  Value *mapped(Value *v) {
    auto it = fwd.find(v);
    return it == fwd.end() ? v : it->second;
  }

  std::vector<Value *> mappedAll(const std::vector<Value *> &vs) {
    std::vector<Value *> out;
    for (Value *v : vs)
      out.push_back(mapped(v));
    return out;
  }

  /// Clones `src` (whose terminator is handled by the caller for regions)
  /// at the builder's insertion point.
  void cloneForward(const ir::Block &src, bool top) {
    for (auto &opp : src.ops) {
      const ir::Op &op = *opp;
      b.loc = op.loc;
      if (op.kind == OpKind::Return)
        return;
      if (op.kind == OpKind::Yield) {
        for (const Value *v : pushes[&src])
          b.create(OpKind::TapePush, {tape, mapped(const_cast<Value *>(v))})
              ->ival = reserved.count(&src) ? 1 : 0;
        b.yield(mappedAll(op.operands));
        return;
      }
      if (preGrads.count(&op)) {
        forwardPreaccumulated(op);
        continue;
      }
      if (op.regions.empty()) {
        auto copy = ir::cloneOp(op, fwd);
        copy->parent = b.getBlock();
        b.getBlock()->ops.push_back(std::move(copy));
        continue;
      }
      cloneRegionOp(op);
    }
  }

  /// A preaccumulated call in the forward sweep: the callee's reverse
  /// function with seed 1 gives the results and the gradient.
  void forwardPreaccumulated(const Op &op) {
    ir::Function *rev = reverseOf(op);
    if (!rev) {
      failed = true;
      return;
    }
    std::vector<Value *> args = mappedAll(op.operands);
    args.push_back(b.constF(1));
    Op *call = b.create(OpKind::Call, args, rev->resultTypes);
    call->str = rev->name;
    size_t k = 0;
    for (auto &r : op.results) {
      call->result(k)->name = r->name;
      fwd[r.get()] = call->result(k++);
    }
    for (Value *g : preGrads.at(&op)) {
      call->result(k)->name = g->name;
      fwd[g] = call->result(k++);
    }
  }

  ir::Function *reverseOf(const Op &call) {
    return getReverse(m, *m.lookup(call.callee()), calleeSpec(call), diags,
                      useLoc);
  }

  /// Pushes anywhere inside `blk`'s nested regions (not `blk` itself).
  bool nestedPushes(const ir::Block &blk) {
    for (auto &o : blk.ops)
      for (auto &r : o->regions)
        if (!pushes[r.get()].empty() || nestedPushes(*r))
          return true;
    return false;
  }

  /// Before a `for` whose body pushes only at its end: reserve the whole
  /// loop's slots at once; the pushes then need no capacity check.
  void reserveForLoop(const ir::Op &op) {
    const ir::Block &body = *op.body();
    auto &list = pushes[&body];
    if (list.empty() || nestedPushes(body))
      return;
    int64_t perIteration = 0;
    for (const Value *v : list)
      perIteration += v->type->isTensor() ? v->type->numElements() : 1;
    Value *lo = mapped(op.lower()), *hi = mapped(op.upper());
    Value *gt = b.cmp(OpKind::ICmp, ir::CmpPred::Gt, hi, lo);
    Value *n = b.select(gt, b.binary(OpKind::ISub, hi, lo), b.constI(0));
    b.create(OpKind::TapeReserve,
             {tape, b.binary(OpKind::IMul, n, b.constI(perIteration))});
    reserved.insert(&body);
  }

  void cloneRegionOp(const ir::Op &op) {
    bool isWhile = op.kind == OpKind::While;
    if (op.kind == OpKind::For)
      reserveForLoop(op);
    Value *counter = isWhile && tripCount.count(&op) ? b.constI(0) : nullptr;
    std::vector<Value *> operands = mappedAll(op.operands);
    std::vector<const Type *> types;
    for (auto &r : op.results)
      types.push_back(r->type);
    if (counter) {
      operands.push_back(counter);
      types.push_back(m.types->i64());
    }
    ir::Op *copy = b.create(op.kind, operands, types);
    copy->fval = op.fval;
    copy->ival = op.ival;
    copy->str = op.str;
    for (size_t i = 0; i < op.results.size(); ++i) {
      copy->result(i)->name = op.result(i)->name;
      fwd[op.result(i)] = copy->result(i);
    }
    ir::Block *outer = b.getBlock();
    for (size_t r = 0; r < op.regions.size(); ++r) {
      const ir::Block &src = *op.region(r);
      ir::Block *dst = copy->addRegion();
      for (auto &a : src.args)
        fwd[a.get()] = dst->addArg(a->type, a->name);
      Value *cArg = counter ? dst->addArg(m.types->i64(), "trips") : nullptr;
      b.setInsertionPointToEnd(dst);
      cloneForward(src, false);
      if (counter && r == 1) {
        // The body yields trips + 1 (inserted before the yield).
        b.setInsertionPointBeforeTerminator(dst);
        Value *next = b.binary(OpKind::IAdd, cArg, b.constI(1));
        dst->terminator()->operands.push_back(next);
      }
    }
    b.setInsertionPointToEnd(outer);
    if (counter)
      fwd[countOf(op)] = copy->results.back().get();
  }

  //===--------------------------------------------------------------------===//
  // 3. Reverse sweep
  //===--------------------------------------------------------------------===//

  /// Active values used inside op's regions but defined outside it, and the
  /// synthetic values of active params loaded inside, in first-use order.
  std::vector<const Value *> freeValues(const ir::Op &op) {
    std::set<const Value *> inside;
    std::vector<const Value *> out;
    std::set<const Value *> seen;
    std::function<void(const ir::Block &)> walk = [&](const ir::Block &blk) {
      for (auto &a : blk.args)
        inside.insert(a.get());
      for (auto &o : blk.ops) {
        for (const Value *v : o->operands)
          if (!inside.count(v) && isActive(v) && seen.insert(v).second)
            out.push_back(v);
        if (o->kind == OpKind::ParamLoad && paramVal.count(o->paramName()) &&
            seen.insert(paramVal[o->paramName()]).second)
          out.push_back(paramVal[o->paramName()]);
        if (o->kind == OpKind::Call)
          for (auto &p : spec.params)
            if (seen.insert(paramVal[p]).second)
              out.push_back(paramVal[p]);
        for (auto &r : o->regions)
          walk(*r);
        for (auto &r : o->results)
          inside.insert(r.get());
      }
    };
    for (size_t r = 0; r < op.regions.size(); ++r)
      if (!(op.kind == OpKind::While && r == 0))
        walk(*op.region(r));
    return out;
  }

  /// At the start of a reverse region: pop what the forward region pushed,
  /// then recompute the cheap values (in definition order, so operands
  /// come first).
  void popInto(Ctx &ctx, const ir::Block &src) {
    auto &list = pushes[&src];
    for (auto it = list.rbegin(); it != list.rend(); ++it) {
      ir::Op *pop = b.create(OpKind::TapePop, {tape}, {(*it)->type});
      pop->result()->name = (*it)->name;
      ctx.vals[*it] = pop->result();
    }
    for (const Value *arg : counters[&src]) {
      // arg = init ± (iv - lo) * c
      const Op *loop = src.parent;
      Value *iv = ctx.get(loop->inductionVar());
      Value *steps = b.binary(OpKind::ISub, iv, ctx.get(loop->lower()));
      bool down = false;
      Value *c = ctx.get(counterStep(arg, src, down));
      Value *init = ctx.get(loop->init(arg->index - 1));
      ctx.vals[arg] = b.binary(down ? OpKind::ISub : OpKind::IAdd, init,
                               b.binary(OpKind::IMul, steps, c));
      ctx.vals[arg]->name = arg->name;
    }
    for (const Value *v : remat[&src]) {
      std::map<const Value *, Value *> operands;
      for (Value *o : v->def->operands)
        operands[o] = ctx.get(o);
      auto copy = ir::cloneOp(*v->def, operands);
      copy->parent = b.getBlock();
      copy->loc = b.loc;
      ctx.vals[v] = copy->result();
      b.getBlock()->ops.push_back(std::move(copy));
    }
  }
  void reverseBlock(const ir::Block &blk, const Ctx &ctx, AdjMap &adj) {
    for (auto it = blk.ops.rbegin(); it != blk.ops.rend() && !failed; ++it) {
      const Op &op = **it;
      if (op.kind == OpKind::Return || op.kind == OpKind::Yield)
        continue;
      if (!act.isActiveOp(op))
        continue;
      b.loc = op.loc;
      reverseOp(op, ctx, adj);
    }
  }

  void reverseOp(const Op &op, const Ctx &ctx, AdjMap &adj) {
    auto P = [&](const Value *v) { return ctx.get(v); };
    switch (op.kind) {
    case OpKind::If:
      return reverseIf(op, ctx, adj);
    case OpKind::For:
    case OpKind::While:
      return reverseLoop(op, ctx, adj);
    case OpKind::Call:
      return reverseCall(op, ctx, adj);
    case OpKind::ParamLoad:
      if (paramVal.count(op.paramName()) && adj.count(op.result()))
        accumulate(adj, paramVal[op.paramName()], adj[op.result()]);
      return;
    case OpKind::TapePop:
      if (act.isActiveTapeOp(op))
        b.create(OpKind::TapePush,
                 {atapes.at(op.operands[0]), adjOrZero(adj, op.result())});
      return;
    case OpKind::TapePush:
      if (act.isActiveTapeOp(op)) {
        Value *a = b.create(OpKind::TapePop, {atapes.at(op.operands[0])},
                            {op.operands[1]->type})
                       ->result();
        accumulate(adj, op.operands[1], a);
      }
      return;
    default:
      break;
    }
    // Constants, conversions and comparisons carry no derivative.
    if (op.results.size() != 1 || !op.result()->type->isDifferentiable() ||
        op.operands.empty() || op.kind == OpKind::IToF)
      return;
    auto g = adj.find(op.result());
    if (g == adj.end())
      return;
    std::vector<bool> want;
    for (Value *v : op.operands)
      want.push_back(isActive(v));
    std::vector<Value *> d;
    if (isTensorRuleOp(op.kind)) {
      tensorAdjoints(op, g->second, want, b, P, d);
      for (size_t i = 0; i < d.size(); ++i)
        if (d[i])
          accumulate(adj, op.operands[i], d[i]);
      return;
    }
    if (!partials(op, want, b, P, d)) {
      diags.error(useLoc, std::string("cannot differentiate '") +
                              ir::mnemonic(op.kind) + "' in '" + F.name +
                              "' (" +
                              diags.source().lineRef(op.loc.line, useLoc.line) +
                              "): no derivative rule");
      failed = true;
      return;
    }
    Value *gv = g->second;
    for (size_t i = 0; i < d.size(); ++i)
      if (d[i])
        accumulate(adj, op.operands[i], scale(b, gv, d[i]));
  }

  void reverseIf(const Op &op, const Ctx &ctx, AdjMap &adj) {
    auto free = freeValues(op);
    std::vector<const Type *> types;
    for (const Value *v : free)
      types.push_back(v->type);
    Op *rev = b.create(OpKind::If, {ctx.get(op.operands[0])}, types);
    ir::Block *outer = b.getBlock();
    for (size_t r = 0; r < 2; ++r) {
      const ir::Block &src = *op.region(r);
      b.setInsertionPointToEnd(rev->addRegion());
      Ctx child;
      child.parent = &ctx;
      popInto(child, src);
      // Accumulators already live outside are threaded through (the
      // branches add to them) instead of starting at zero and being added
      // afterwards: no full-size adds per execution.
      AdjMap local;
      for (const Value *v : free)
        if (adj.count(v))
          local[v] = adj[v];
      const Op *y = src.terminator();
      for (size_t i = 0; i < op.results.size(); ++i)
        if (adj.count(op.result(i)))
          accumulate(local, y->operands[i], adj[op.result(i)]);
      reverseBlock(src, child, local);
      std::vector<Value *> out;
      for (const Value *v : free)
        out.push_back(adjOrZero(local, v));
      b.yield(out);
    }
    b.setInsertionPointToEnd(outer);
    for (size_t j = 0; j < free.size(); ++j)
      adj[free[j]] = rev->result(j); // the total: threaded or contributions
  }

  void reverseLoop(const Op &op, const Ctx &ctx, AdjMap &adj) {
    bool isFor = op.kind == OpKind::For;
    const ir::Block &body = *op.body();
    std::vector<size_t> carried;
    for (size_t i = 0; i < op.results.size(); ++i)
      if (isActive(op.result(i)) || isActive(op.carriedArg(i)))
        carried.push_back(i);
    auto free = freeValues(op);
    // Drop carried args from the free list (they are defined by the op).
    Value *n, *hi = nullptr;
    if (isFor) {
      Value *lo = ctx.get(op.lower());
      hi = ctx.get(op.upper());
      Value *gt = b.cmp(OpKind::ICmp, ir::CmpPred::Gt, hi, lo);
      n = b.select(gt, b.binary(OpKind::ISub, hi, lo), b.constI(0));
    } else {
      n = ctx.get(countOf(op));
    }
    std::vector<Value *> operands = {b.constI(0), n};
    for (size_t i : carried)
      operands.push_back(adjOrZero(adj, op.result(i)));
    // Free accumulators that already exist are threaded through the loop.
    for (const Value *v : free)
      operands.push_back(adjOrZero(adj, v));
    std::vector<const Type *> types;
    for (size_t i : carried)
      types.push_back(op.result(i)->type);
    for (const Value *v : free)
      types.push_back(v->type);
    Op *rev = b.create(OpKind::For, operands, types);
    ir::Block *outer = b.getBlock();
    ir::Block *rb = rev->addRegion();
    Value *k = rb->addArg(m.types->i64(), "k");
    std::vector<Value *> ca, fa;
    auto adjName = [](const Value *v) {
      return v->name.empty() ? std::string() : v->name + ".adj";
    };
    for (size_t i : carried)
      ca.push_back(
          rb->addArg(op.carriedArg(i)->type, adjName(op.carriedArg(i))));
    for (const Value *v : free)
      fa.push_back(rb->addArg(v->type, adjName(v)));
    for (size_t j = 0; j < ca.size() + fa.size(); ++j)
      rev->result(j)->name = rb->args[j + 1]->name;
    b.setInsertionPointToEnd(rb);
    Ctx child;
    child.parent = &ctx;
    if (isFor) // iv = hi - 1 - k
      child.vals[op.inductionVar()] =
          b.binary(OpKind::ISub, b.binary(OpKind::ISub, hi, b.constI(1)), k);
    popInto(child, body);
    AdjMap local;
    for (size_t j = 0; j < free.size(); ++j)
      local[free[j]] = fa[j];
    const Op *y = body.terminator();
    for (size_t c = 0; c < carried.size(); ++c)
      accumulate(local, y->operands[carried[c]], ca[c]);
    reverseBlock(body, child, local);
    std::vector<Value *> out;
    for (size_t i : carried)
      out.push_back(adjOrZero(local, op.carriedArg(i)));
    for (const Value *v : free)
      out.push_back(local.at(v));
    b.yield(out);
    b.setInsertionPointToEnd(outer);
    // The threaded totals first: a value that is both free in the body and
    // a carried initial value then receives both contributions.
    for (size_t j = 0; j < free.size(); ++j)
      adj[free[j]] = rev->result(carried.size() + j);
    for (size_t c = 0; c < carried.size(); ++c)
      accumulate(adj, op.init(carried[c]), rev->result(c));
  }

  void reverseCall(const Op &op, const Ctx &ctx, AdjMap &adj) {
    bool anySeed = false;
    for (auto &r : op.results)
      anySeed |= adj.count(r.get()) != 0;
    if (!anySeed)
      return;
    ActivitySpec cs = calleeSpec(op);
    if (auto it = preGrads.find(&op); it != preGrads.end()) {
      // seed * the gradient the forward sweep kept.
      Value *seed = nullptr;
      for (auto &r : op.results)
        if (r->type->isDifferentiable())
          seed = adjOrZero(adj, r.get());
      size_t k = 0;
      for (size_t i = 0; i < op.operands.size(); ++i)
        if (cs.args[i])
          accumulate(adj, op.operands[i],
                     scale(b, seed, ctx.get(it->second[k++])));
      for (auto &p : spec.params)
        accumulate(adj, paramVal[p], scale(b, seed, ctx.get(it->second[k++])));
      return;
    }
    ir::Function *rev = reverseOf(op);
    if (!rev) {
      failed = true;
      return;
    }
    std::vector<Value *> args;
    for (Value *v : op.operands)
      args.push_back(ctx.get(v));
    for (auto &r : op.results)
      if (r->type->isDifferentiable())
        args.push_back(adjOrZero(adj, r.get()));
    std::vector<const Type *> types = rev->resultTypes;
    Op *call = b.create(OpKind::Call, args, types);
    call->str = rev->name;
    size_t k = op.results.size();
    for (size_t i = 0; i < op.operands.size(); ++i)
      if (cs.args[i])
        accumulate(adj, op.operands[i], call->result(k++));
    for (auto &p : spec.params)
      accumulate(adj, paramVal[p], call->result(k++));
  }
};

} // namespace

ir::Function *getReverse(ir::Module &m, ir::Function &f,
                         const ActivitySpec &spec, DiagEngine &diags,
                         Loc useLoc) {
  std::string name = f.name + ".rev." + spec.suffix();
  if (ir::Function *done = m.lookup(name))
    return done;
  if (hasCustomRule(m, f))
    return reverseFromRule(m, f, spec, name, diags, useLoc);
  if (!checkDifferentiable(m, f, diags, useLoc))
    return nullptr;
  return ReverseBuilder(m, f, spec, diags, useLoc).run(name);
}

} // namespace bp::ad
