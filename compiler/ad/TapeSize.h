//===- TapeSize.h - what the tape report and the tape budget count --*- C++
//-*-===//
#pragma once

#include "ir/IR.h"

#include <algorithm>
#include <cstdint>
#include <optional>

namespace bp::ad {

/// Bytes one value of type `t` takes on a tape: 8 per scalar or tensor
/// element, as the runtime stores them.
inline int64_t slotBytes(const Type *t) {
  return 8 * (t->isTensor() ? t->numElements() : 1);
}

/// The trip count of a `for` with constant bounds; none for another loop.
inline std::optional<int64_t> constTrips(const ir::Op &loop) {
  if (loop.kind != ir::OpKind::For)
    return std::nullopt;
  const ir::Op *lo = loop.lower()->def, *hi = loop.upper()->def;
  if (!lo || !hi || lo->kind != ir::OpKind::ConstI ||
      hi->kind != ir::OpKind::ConstI)
    return std::nullopt;
  return std::max<int64_t>(0, hi->ival - lo->ival);
}

} // namespace bp::ad
