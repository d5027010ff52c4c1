//===- InPlace.cpp - updates that reuse their input's buffer --------------===//
//
// `insert v, e, i` (and `splice`) may write into v's buffer when v is owned
// by this block (an op result with its own slot, or a loop-carried
// argument's slot), this is v's last use, and every view of v (a row
// extracted from it, a reshape of it, or a view of that) made in this
// block is dead before the insert (`v[i] += row` reads row i, adds, then writes
// it back in place). A loop whose tensor init dies at the loop carries it the
// same way.
//
//===----------------------------------------------------------------------===//
#include "transforms/InPlace.h"
#include "transforms/Uses.h"

#include <algorithm>
#include <map>
#include <set>

namespace bp::transforms {

using ir::OpKind;

static void usesIn(const ir::Op &op, std::set<const ir::Value *> &out) {
  for (ir::Value *v : op.operands)
    out.insert(v);
  for (auto &r : op.regions)
    for (auto &o : r->ops)
      usesIn(*o, out);
}

/// A row extracted from a tensor or a reshape of it: its operand's buffer.
static bool isView(const ir::Op &op) {
  return (op.kind == OpKind::Extract && op.result()->type->isTensor()) ||
         op.kind == OpKind::Reshape;
}

static void decideBlock(ir::Block &blk) {
  std::map<const ir::Value *, size_t> lastUse;
  // v -> the views of v made in this block, transitively.
  std::map<const ir::Value *, std::vector<const ir::Value *>> views;
  std::map<const ir::Value *, const ir::Value *> rootOf;
  for (size_t k = 0; k < blk.ops.size(); ++k) {
    std::set<const ir::Value *> used;
    usesIn(*blk.ops[k], used);
    for (const ir::Value *v : used)
      lastUse[v] = k;
    const ir::Op &op = *blk.ops[k];
    if (isView(op)) {
      const ir::Value *root = op.operands[0];
      if (rootOf.count(root))
        root = rootOf[root];
      rootOf[op.result()] = root;
      views[root].push_back(op.result());
    }
  }
  auto viewedAt = [&](const ir::Value *v, size_t k) {
    for (const ir::Value *w : views[v])
      if (lastUse.count(w) && lastUse[w] >= k)
        return true;
    return false;
  };
  // Loop bodies own their carried slots; a while condition shares them with
  // the body, and function arguments belong to the caller.
  bool argsOwned =
      blk.parent &&
      (blk.parent->kind == OpKind::For ||
       (blk.parent->kind == OpKind::While && &blk == blk.parent->region(1)));
  auto reusable = [&](const ir::Value *v, size_t k) {
    bool owned = v->def
                     ? v->def->parent == &blk &&
                           v->def->kind != OpKind::ParamLoad && !isView(*v->def)
                     : v->owner == &blk && argsOwned;
    return owned && lastUse[v] == k && !viewedAt(v, k);
  };
  for (size_t k = 0; k < blk.ops.size(); ++k) {
    ir::Op &op = *blk.ops[k];
    for (auto &r : op.regions)
      decideBlock(*r);
    if ((op.kind == OpKind::Insert || op.kind == OpKind::Splice) &&
        reusable(op.operands[0], k))
      op.decided.inplace = true;
    // Not when the loop body also reads the initial value itself.
    if (op.kind == OpKind::For || op.kind == OpKind::While) {
      std::set<const ir::Value *> inside;
      for (auto &r : op.regions)
        for (auto &o : r->ops)
          usesIn(*o, inside);
      for (size_t i = op.firstInit(); i < op.operands.size(); ++i) {
        const ir::Value *v = op.operands[i];
        if (v->type->isTensor() && reusable(v, k) && !inside.count(v) &&
            std::count(op.operands.begin(), op.operands.end(), v) == 1)
          op.decided.inplaceInits.push_back((unsigned)i);
      }
    }
  }
}

void decideInPlace(ir::Module &m) {
  for (auto &f : m.functions) {
    forEachOp(*f->body, [](ir::Op &op) {
      op.decided.inplace = false;
      op.decided.inplaceInits.clear();
    });
    decideBlock(*f->body);
  }
}

} // namespace bp::transforms
