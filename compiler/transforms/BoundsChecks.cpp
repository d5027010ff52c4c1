//===- BoundsChecks.cpp - index checks that need not run ------------------===//
#include "transforms/BoundsChecks.h"
#include "transforms/Uses.h"

namespace bp::transforms {

using ir::OpKind;

bool affineScale(const ir::Value *v, const ir::Op &loop, int depth,
                 int64_t &s) {
  const ir::Block &body = *loop.body();
  if (v == loop.inductionVar()) {
    s = 1;
    return true;
  }
  const ir::Op *d = v->def;
  bool inside = d ? d->parent == &body : v->owner == &body;
  if ((d && d->kind == OpKind::ConstI) || !inside) {
    s = 0;
    return true;
  }
  if (!d) {
    // A carried int whose body yields arg + c or arg - c (c a constant): in
    // iteration iv it is init + (iv - lo) * (±c).
    const ir::Value *next = body.terminator()->operands[v->index - 1];
    const ir::Op *n = next->def;
    if (!n || n->parent != &body)
      return false;
    const ir::Value *c = nullptr;
    if (n->kind == OpKind::IAdd)
      c = n->operands[0] == v   ? n->operands[1]
          : n->operands[1] == v ? n->operands[0]
                                : nullptr;
    else if (n->kind == OpKind::ISub && n->operands[0] == v)
      c = n->operands[1];
    if (!c || !c->def || c->def->kind != OpKind::ConstI ||
        c->def->ival > maxAffineScale || c->def->ival < -maxAffineScale)
      return false;
    s = n->kind == OpKind::ISub ? -c->def->ival : c->def->ival;
    return true;
  }
  if (depth > 8 || d->operands.size() != 2)
    return false;
  int64_t s0, s1;
  switch (d->kind) {
  case OpKind::IAdd:
  case OpKind::ISub:
    if (!affineScale(d->operands[0], loop, depth + 1, s0) ||
        !affineScale(d->operands[1], loop, depth + 1, s1))
      return false;
    s = d->kind == OpKind::IAdd ? s0 + s1 : s0 - s1;
    break;
  case OpKind::IMul: {
    const ir::Value *k = d->operands[1], *x = d->operands[0];
    if (!(k->def && k->def->kind == OpKind::ConstI))
      std::swap(k, x);
    if (!(k->def && k->def->kind == OpKind::ConstI) ||
        k->def->ival > maxAffineScale || k->def->ival < -maxAffineScale ||
        !affineScale(x, loop, depth + 1, s0))
      return false;
    s = s0 * k->def->ival;
    break;
  }
  default:
    return false;
  }
  return s <= maxAffineScale && s >= -maxAffineScale;
}

/// Marks the affine index operands of the extracts/inserts directly in
/// `loop`'s body, when the body has no nested regions and some index
/// varies.
static void versionLoop(ir::Op &loop) {
  ir::Block &body = *loop.body();
  for (auto &o : body.ops)
    if (!o->regions.empty())
      return;
  bool varies = false;
  for (auto &o : body.ops) {
    if (o->kind != OpKind::Extract && o->kind != OpKind::Insert)
      continue;
    unsigned first = o->kind == OpKind::Extract ? 1 : 2;
    for (unsigned i = first; i < o->operands.size(); ++i) {
      int64_t s;
      if (affineScale(o->operands[i], loop, 0, s)) {
        varies |= s != 0;
        o->decided.hoistedChecks.push_back(i);
      }
    }
  }
  if (!varies) {
    for (auto &o : body.ops)
      o->decided.hoistedChecks.clear();
    return;
  }
  loop.decided.versioned = true;
}

void eliminateBoundsChecks(ir::Module &m) {
  for (auto &f : m.functions) {
    forEachOp(*f->body, [](ir::Op &op) {
      op.decided.unchecked = op.decided.versioned = false;
      op.decided.hoistedChecks.clear();
    });
    forEachOp(*f->body, [](ir::Op &op) {
      if (op.kind == OpKind::For)
        versionLoop(op);
      if (ir::hasSliceRegion(op.kind) && op.prechecked &&
          op.numSliceIndices() > 0)
        op.decided.unchecked = true;
    });
  }
}

} // namespace bp::transforms
