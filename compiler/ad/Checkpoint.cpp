//===- Checkpoint.cpp - checkpoint(f): recompute instead of taping --------===//
//
// checkpoint(f) (LANGUAGE.md section 16) is a copy of f whose loop bodies
// are each outlined into a function `<name>.body.<k>`: every iteration is
// a call. Reverse mode tapes a call's arguments and recomputes the callee
// in the reverse sweep (ad/Reverse.cpp), so a differentiated loop of the
// copy tapes per iteration only what the iteration starts from (its
// carried values; the induction variable is recomputed and values from
// outside the loop are read directly) instead of every intermediate the
// chain rule needs, and the reverse sweep runs each iteration's forward
// again, with a tape that lives for that one iteration. Values are f's:
// the same ops run in the same order. A call of the copy is, like every
// call, recomputed in the caller's reverse sweep.
//
//===----------------------------------------------------------------------===//
#include "ad/Derived.h"

#include <algorithm>
#include <set>

namespace bp::ad {
namespace {

using ir::OpKind;

/// Whether `blk` (or a region in it) uses the tape: a derived function's
/// body, whose pushes and pops must stay in one function.
bool usesTape(const ir::Block &blk) {
  for (auto &op : blk.ops) {
    if (op->kind == OpKind::TapeNew || op->kind == OpKind::TapePush ||
        op->kind == OpKind::TapePop || op->kind == OpKind::TapeReserve ||
        op->kind == OpKind::TapeFree)
      return true;
    for (auto &r : op->regions)
      if (usesTape(*r))
        return true;
  }
  return false;
}

/// Values `blk` (with its nested regions) uses but does not define, in the
/// order of first use.
void freeValues(const ir::Block &blk, std::set<const ir::Value *> &defined,
                std::vector<ir::Value *> &out) {
  for (auto &a : blk.args)
    defined.insert(a.get());
  for (auto &op : blk.ops) {
    for (ir::Value *v : op->operands)
      if (!defined.count(v) &&
          std::find(out.begin(), out.end(), v) == out.end())
        out.push_back(v);
    for (auto &r : op->regions)
      freeValues(*r, defined, out);
    for (auto &r : op->results)
      defined.insert(r.get());
  }
}

} // namespace

ir::Function *outlineLoopBody(ir::Module &m, ir::Op &loop,
                              const std::string &name, const std::string &of) {
  ir::Block &body = *loop.body();
  if (body.ops.size() < 2 || usesTape(body))
    return nullptr; // nothing but the yield, or a derived function's tape
  std::set<const ir::Value *> defined;
  std::vector<ir::Value *> free;
  freeValues(body, defined, free);

  ir::Function *g = m.addFunction(name);
  g->loc = loop.loc;
  g->checkpointed = true;
  g->derivedFrom = "one iteration of the " +
                   std::string(ir::mnemonic(loop.kind)) + " at " +
                   std::to_string(loop.loc.line) + ":" +
                   std::to_string(loop.loc.col) + " of " + of;
  std::map<const ir::Value *, ir::Value *> map;
  std::vector<ir::Value *> callArgs;
  for (auto &a : body.args) {
    map[a.get()] = g->addArg(a->type, a->name);
    callArgs.push_back(a.get());
  }
  for (ir::Value *v : free) {
    map[v] = g->addArg(v->type, v->name);
    callArgs.push_back(v);
  }
  ir::cloneOpsInto(body, *g->body, map, /*skipTerminator=*/true);
  const ir::Op *yield = body.terminator();
  ir::Builder b(*m.types);
  b.setInsertionPointToEnd(g->body.get());
  b.loc = yield->loc;
  std::vector<ir::Value *> results;
  for (ir::Value *v : yield->operands) {
    auto it = map.find(v);
    results.push_back(it == map.end() ? v : it->second);
    g->resultTypes.push_back(v->type);
  }
  b.create(OpKind::Return, results);

  // The loop's body: the call and the yield of its results.
  Loc yieldLoc = yield->loc;
  body.ops.clear();
  b.setInsertionPointToEnd(&body);
  b.loc = loop.loc;
  ir::Op *call = b.create(OpKind::Call, callArgs, g->resultTypes);
  call->str = g->name;
  std::vector<ir::Value *> next;
  for (auto &r : call->results)
    next.push_back(r.get());
  b.loc = yieldLoc;
  b.yield(next);
  return g;
}

namespace {

/// Outlines the body of every loop in `blk` that is not inside another
/// loop (those are part of the outlined body): `<prefix>.body.<k>`.
void outlineLoops(ir::Module &m, ir::Block &blk, const std::string &prefix,
                  int &count) {
  for (auto &op : blk.ops) {
    if (op->kind == OpKind::For || op->kind == OpKind::While) {
      if (outlineLoopBody(m, *op, prefix + ".body." + std::to_string(count),
                          prefix))
        ++count;
    } else {
      for (auto &r : op->regions)
        outlineLoops(m, *r, prefix, count);
    }
  }
}

} // namespace

bool buildCheckpoint(ir::Module &m, const ir::DerivedInfo &info,
                     const ir::Function &base) {
  ir::Function *c = m.addFunction(info.name);
  c->loc = info.loc;
  c->derivedFrom = "checkpoint of " + info.base;
  c->checkpointed = true;
  c->resultTypes = base.resultTypes;
  std::map<const ir::Value *, ir::Value *> map;
  for (auto &a : base.args())
    map[a.get()] = c->addArg(a->type, a->name);
  ir::cloneOpsInto(*base.body, *c->body, map);
  int count = 0;
  if (!usesTape(*c->body))
    outlineLoops(m, *c->body, info.name, count);
  return true;
}

} // namespace bp::ad
