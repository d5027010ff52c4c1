//===- TransposeElision.cpp - transposes read by dgemm directly -----------===//
#include "transforms/TransposeElision.h"
#include "transforms/Uses.h"

#include <set>

namespace bp::transforms {

using ir::OpKind;

void elideTransposes(ir::Module &m) {
  for (auto &f : m.functions) {
    forEachOp(*f->body, [](ir::Op &op) {
      op.decided.elided = op.decided.transposeA = op.decided.transposeB = false;
    });
    UseMap uses(*f);
    for (ir::Block *blk : uses.blocks)
      for (size_t k = 0; k < blk->ops.size(); ++k) {
        ir::Op &t = *blk->ops[k];
        if (t.kind != OpKind::Transpose || t.result()->type->rank() != 2)
          continue;
        auto &us = uses.users[t.result()];
        std::set<const ir::Op *> pending(us.begin(), us.end());
        bool ok = !us.empty();
        for (const ir::Op *u : us)
          ok &=
              u->parent == blk && u->kind == OpKind::MatMul && u->decided.blas;
        // The operand is read where the matmuls run: nothing in between may
        // write a buffer it could be.
        for (size_t j = k + 1; ok && j < blk->ops.size() && !pending.empty();
             ++j) {
          const ir::Op &o = *blk->ops[j];
          if (pending.erase(&o))
            continue;
          ok &= !mayWriteBuffers(o);
        }
        if (!ok || !pending.empty())
          continue;
        t.decided.elided = true;
        for (ir::Op *u : us) {
          u->decided.transposeA |= u->operands[0] == t.result();
          u->decided.transposeB |= u->operands[1] == t.result();
        }
      }
  }
}

} // namespace bp::transforms
