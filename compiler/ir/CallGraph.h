//===- CallGraph.h - the functions a block calls ----------------*- C++ -*-===//
#pragma once

#include "ir/IR.h"

#include <string>
#include <vector>

namespace bp::ir {

/// The callee of every call in `blk` and its nested regions, in order (a
/// name once per call).
inline void calleeNames(const Block &blk, std::vector<std::string> &out) {
  for (auto &op : blk.ops) {
    if (op->kind == OpKind::Call)
      out.push_back(op->callee());
    for (auto &r : op->regions)
      calleeNames(*r, out);
  }
}

} // namespace bp::ir
