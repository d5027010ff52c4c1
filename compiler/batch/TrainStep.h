//===- TrainStep.h - the batched training step of `bpc train` ---*- C++ -*-===//
#pragma once

#include "ir/IR.h"

namespace bp::batch {

/// The name of the batched step for minibatches (or per-thread slices of
/// them) of `n` examples.
std::string trainStepName(int64_t n);

/// Input:  a verified, simplified module holding the loss function `loss`
///         of the train block and `params`, the params it reads.
/// Output: `__train_step.<n>(x1[n, ...], ..., xk[n, ...]) -> (f64, g1, ...,
///         gp)`: for n examples at once (each loss argument with a leading
///         axis of size n), the sum of their losses and the sum of their
///         gradients w.r.t. each of `params`, in that order. It is
///         vmap(loss, n) summed, then differentiated by the reverse-mode
///         transform: batched tensor code (matrix-matrix products), pure
///         (params are read, never written), so threads may run it at once.
///         Returns null when a loss argument cannot be batched (an int or a
///         bool, until int tensors): the driver then runs per example.
/// Preserves: every existing function (it only appends).
ir::Function *buildTrainStep(ir::Module &m, const std::string &loss,
                             const std::vector<std::string> &params, int64_t n,
                             DiagEngine &diags, Loc loc);

} // namespace bp::batch
