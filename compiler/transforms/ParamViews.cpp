//===- ParamViews.cpp - params read and written without copies ------------===//
//
// Per block, in op order: the reads of an op are its operands, those of
// the ops in its regions, and those of the fused ops it computes inline
// (their reads happen where it runs). Params read or written by calls are
// found transitively over the call graph.
//
//===----------------------------------------------------------------------===//
#include "transforms/ParamViews.h"
#include "transforms/Uses.h"

#include <algorithm>
#include <map>
#include <set>

namespace bp::transforms {

using ir::OpKind;

namespace {

using ParamSet = std::set<std::string>;

/// The params each function reads and writes, its callees' included.
struct ParamEffects {
  std::map<std::string, ParamSet> reads, writes;

  explicit ParamEffects(const ir::Module &m) {
    std::map<std::string, std::set<std::string>> callees;
    for (auto &f : m.functions)
      forEachOp(*f->body, [&](ir::Op &op) {
        if (op.kind == OpKind::ParamLoad)
          reads[f->name].insert(op.paramName());
        if (op.kind == OpKind::ParamStore || op.kind == OpKind::ParamAdd)
          writes[f->name].insert(op.paramName());
        if (op.kind == OpKind::Call)
          callees[f->name].insert(op.callee());
      });
    for (bool changed = true; changed;) {
      changed = false;
      for (auto &[caller, cs] : callees)
        for (const std::string &c : cs)
          for (auto *sets : {&reads, &writes}) {
            ParamSet &into = (*sets)[caller];
            size_t before = into.size();
            ParamSet from = (*sets)[c];
            into.insert(from.begin(), from.end());
            changed |= into.size() != before;
          }
    }
  }

  /// Params `op` (and its regions) may read / write.
  void of(const ir::Op &op, ParamSet &r, ParamSet &w) {
    if (op.kind == OpKind::ParamLoad)
      r.insert(op.paramName());
    if (op.kind == OpKind::ParamStore || op.kind == OpKind::ParamAdd)
      w.insert(op.paramName());
    if (op.kind == OpKind::ParamAdd)
      r.insert(op.paramName());
    if (op.kind == OpKind::Call) {
      r.insert(reads[op.callee()].begin(), reads[op.callee()].end());
      w.insert(writes[op.callee()].begin(), writes[op.callee()].end());
    }
    for (auto &reg : op.regions)
      for (auto &o : reg->ops)
        of(*o, r, w);
  }
};

/// The values `op` reads where it runs: its operands, those of its
/// regions' ops, and (transitively) those of the fused ops it computes.
void readsOf(const ir::Op &op, std::set<const ir::Value *> &out) {
  for (ir::Value *v : op.operands) {
    out.insert(v);
    if (v->def && v->def->decided.fused)
      readsOf(*v->def, out);
  }
  for (auto &reg : op.regions)
    for (auto &o : reg->ops)
      readsOf(*o, out);
}

void decideBlock(ir::Block &blk, ParamEffects &fx, const ParamSet &stored) {
  size_t n = blk.ops.size();
  std::vector<ParamSet> reads(n), writes(n);
  std::map<const ir::Value *, size_t> lastRead; // value -> last op index
  for (size_t k = 0; k < n; ++k) {
    ir::Op &op = *blk.ops[k];
    for (auto &r : op.regions)
      decideBlock(*r, fx, stored);
    fx.of(op, reads[k], writes[k]);
    if (op.decided.fused)
      continue; // its reads happen where its user runs
    std::set<const ir::Value *> rd;
    readsOf(op, rd);
    for (const ir::Value *v : rd)
      lastRead[v] = k;
  }
  // A view (a row, a reshape) reads its operand's buffer wherever it is
  // read: `let r = W[0]; W = W * 2.0; print(r)` keeps the load a copy.
  for (size_t k = n; k-- > 0;) {
    const ir::Op &op = *blk.ops[k];
    bool view = (op.kind == OpKind::Extract || op.kind == OpKind::Reshape) &&
                op.result()->type->isTensor();
    auto it = view ? lastRead.find(op.result()) : lastRead.end();
    if (it != lastRead.end())
      lastRead[op.operands[0]] = std::max(lastRead[op.operands[0]], it->second);
  }
  auto lastUse = [&](const ir::Value *v, size_t def) {
    auto it = lastRead.find(v);
    return it == lastRead.end() ? def : it->second;
  };
  // (2) An elementwise op computed into the param it is stored into.
  for (size_t s = 0; s < n; ++s) {
    ir::Op &st = *blk.ops[s];
    if (st.kind != OpKind::ParamStore || !st.operands[0]->type->isTensor())
      continue;
    const std::string &p = st.paramName();
    ir::Op *d = st.operands[0]->def;
    if (!d || d->parent != &blk || !ir::isElementwise(d->kind) ||
        d->decided.fused || d->results.size() != 1 ||
        lastUse(d->result(), s) != s)
      continue;
    size_t k = 0;
    while (blk.ops[k].get() != d)
      ++k;
    bool clear = true;
    for (size_t j = k + 1; j < s && clear; ++j)
      clear = !reads[j].count(p) && !writes[j].count(p);
    if (clear && !ir::readsFusedBroadcast(*d)) {
      d->decided.intoParam = true;
      writes[k].insert(p);
    }
  }
  // (1) Loads that are views: every read before the next write of p.
  for (size_t k = 0; k < n; ++k) {
    ir::Op &ld = *blk.ops[k];
    if (ld.kind != OpKind::ParamLoad || !ld.result()->type->isTensor())
      continue;
    if (!stored.count(ld.paramName())) {
      ld.decided.view = true; // nothing this function runs writes p
      continue;
    }
    const ir::Op *term = blk.terminator();
    bool yielded =
        term && term->kind == OpKind::Yield &&
        std::count(term->operands.begin(), term->operands.end(), ld.result());
    size_t last = lastUse(ld.result(), k);
    bool clear = !yielded;
    for (size_t j = k + 1; j <= last && clear; ++j)
      clear = !writes[j].count(ld.paramName()) ||
              (j == last && blk.ops[j]->decided.intoParam);
    ld.decided.view = clear;
  }
}

} // namespace

void decideParamViews(ir::Module &m) {
  ParamEffects fx(m);
  for (auto &f : m.functions) {
    forEachOp(*f->body, [](ir::Op &op) {
      op.decided.view = false;
      op.decided.intoParam = false;
    });
    decideBlock(*f->body, fx, fx.writes[f->name]);
  }
}

} // namespace bp::transforms
