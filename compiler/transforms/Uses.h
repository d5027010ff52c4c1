//===- Uses.h - blocks and users of a function (transforms, internal) -----===//
#pragma once

#include "ir/IR.h"

#include <map>
#include <vector>

namespace bp::transforms {

/// Every block of a function (nested regions included, outer first) and
/// the ops that use each value, one entry per operand (`x * x` lists the
/// fmul twice): what the fusion and transpose decisions look at.
struct UseMap {
  std::vector<ir::Block *> blocks;
  std::map<const ir::Value *, std::vector<ir::Op *>> users;

  explicit UseMap(ir::Function &f) { walk(*f.body); }
  void walk(ir::Block &blk) {
    blocks.push_back(&blk);
    for (auto &op : blk.ops) {
      for (ir::Value *v : op->operands)
        users[v].push_back(op.get());
      for (auto &r : op->regions)
        walk(*r);
    }
  }
};

/// Whether `o`, between a producer and its consumer in one block, may write
/// a buffer the producer's operands could be: an op with regions, an
/// in-place update, a call, a param store.
inline bool mayWriteBuffers(const ir::Op &o) {
  return !o.regions.empty() || o.decided.inplace ||
         o.kind == ir::OpKind::Call || o.kind == ir::OpKind::ParamStore ||
         o.kind == ir::OpKind::ParamAdd;
}

/// Every op of `blk` and of its nested regions, outer first.
template <typename F> void forEachOp(ir::Block &blk, F &&f) {
  for (auto &op : blk.ops) {
    f(*op);
    for (auto &r : op->regions)
      forEachOp(*r, f);
  }
}

} // namespace bp::transforms
