//===- Fusion.cpp - elementwise ops computed in their user's loop ---------===//
//
// A fused op is not materialised: codegen computes each element of it
// where the op that uses it computes the same element (a tree of fused
// ops per loop, rooted at an unfused elementwise op).
//
//===----------------------------------------------------------------------===//
#include "transforms/Fusion.h"
#include "transforms/Uses.h"

namespace bp::transforms {

using ir::OpKind;

/// Whether one element of `k` calls libm or libmvec (the Lowering column of
/// ir/Ops.def): a loop of them is vectorised only through a vector math
/// library, and not when fused with arithmetic at small sizes (fuseChains).
static bool callsLibm(OpKind k) {
  switch (k) {
#define BP_CALLS_Inline false
#define BP_CALLS_Calls true
#define BP_CALLS_Libm true
#define BP_CALLS_Runtime true
#define OP(Name, Mnemonic, Pure, Rule)                                         \
  case OpKind::Name:                                                           \
    return false;
#define MATH(Name, Mnemonic, Arity, Builtin, Eval, Lowering, Symbol)           \
  case OpKind::Name:                                                           \
    return BP_CALLS_##Lowering;
#include "ir/Ops.def"
#undef BP_CALLS_Inline
#undef BP_CALLS_Calls
#undef BP_CALLS_Libm
#undef BP_CALLS_Runtime
  }
  return false;
}

/// A broadcast whose every user is an elementwise tensor op in its own block
/// is read through strides by them.
static void fuseBroadcasts(UseMap &uses) {
  for (ir::Block *blk : uses.blocks)
    for (auto &bc : blk->ops) {
      if (bc->kind != OpKind::Broadcast)
        continue;
      auto &us = uses.users[bc->result()];
      bool ok = !us.empty();
      for (const ir::Op *u : us)
        ok &= u->parent == bc->parent && ir::isElementwise(u->kind) &&
              u->result()->type->shape == bc->result()->type->shape;
      bc->decided.fused = ok;
    }
}

static void fuseChains(UseMap &uses) {
  std::map<const ir::Op *, bool> treeCalls; // a fused op's tree calls libm
  for (ir::Block *blk : uses.blocks) {
    for (size_t k = 0; k < blk->ops.size(); ++k) {
      ir::Op &p = *blk->ops[k];
      if (!ir::isElementwise(p.kind) || p.results.size() != 1 ||
          !p.result()->type->isTensor())
        continue;
      auto &us = uses.users[p.result()];
      if (us.size() != 1)
        continue;
      const ir::Op *u = us[0];
      if (u->parent != blk || !ir::isElementwise(u->kind) ||
          !u->result()->type->isTensor() ||
          u->result()->type->shape != p.result()->type->shape)
        continue;
      // p's operands are read where u runs: nothing in between may write
      // a buffer they could be.
      bool ok = true;
      size_t j = k + 1;
      for (; j < blk->ops.size() && blk->ops[j].get() != u; ++j)
        ok &= !mayWriteBuffers(*blk->ops[j]);
      // LLVM vectorises loops of arithmetic, not loops that call libm
      // (exp, tanh, ...): fusing one kind into the other makes the
      // arithmetic scalar. That only pays when the tensors are too big for
      // the L1 cache and the saved memory traffic dominates (measured in
      // docs/TENSORS.md).
      bool pCalls = callsLibm(p.kind);
      for (ir::Value *v : p.operands)
        if (v->def && v->def->decided.fused && ir::isElementwise(v->def->kind))
          pCalls |= treeCalls[v->def];
      bool mixed = pCalls != callsLibm(u->kind);
      if (mixed && p.result()->type->numElements() < 4096)
        ok = false;
      if (ok && j < blk->ops.size()) {
        p.decided.fused = true;
        treeCalls[&p] = pCalls;
      }
    }
  }
}

void fuseElementwise(ir::Module &m) {
  for (auto &f : m.functions) {
    forEachOp(*f->body, [](ir::Op &op) { op.decided.fused = false; });
    UseMap uses(*f);
    fuseBroadcasts(uses);
    fuseChains(uses);
  }
}

} // namespace bp::transforms
