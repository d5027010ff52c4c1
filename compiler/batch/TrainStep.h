//===- TrainStep.h - the batched training step of `bpc train` ---*- C++ -*-===//
#pragma once

#include "ir/IR.h"

namespace bp::batch {

/// The name of the batched step for minibatches (or per-thread slices of
/// them) of `n` examples.
std::string trainStepName(int64_t n);

/// The name of the summed vmapped loss of `n` examples that
/// buildTrainStep(n) leaves in the module: `__batch_loss.<n>(x1[n, ...],
/// ...) -> f64`, the sum of their losses (the driver's test loss).
std::string batchLossName(int64_t n);

/// `__batch_metric.<n>(x1[n, ...], ...) -> f64`, the summed vmapped metric
/// that buildBatchedMetric(n) adds.
std::string batchMetricName(int64_t n);

/// Input:  a module holding the train block's metric function `metric`.
/// Output: `__batch_metric.<n>`: the sum of the metric over n examples at
///         once (vmap(metric, n) summed: the per-epoch test metric in
///         chunks, as the test loss). False when an argument or the result
///         cannot be batched (the driver then runs the metric per row).
/// Preserves: every existing function (it only appends).
bool buildBatchedMetric(ir::Module &m, const std::string &metric, int64_t n,
                        Loc loc);

/// Input:  a verified, simplified module holding the loss function `loss`
///         of the train block and `params`, the params it reads.
/// Output: `__train_step.<n>(x1[n, ...], ..., xk[n, ...]) -> (f64, g1, ...,
///         gp)`: for n examples at once (each loss argument with a leading
///         axis of size n), the sum of their losses and the sum of their
///         gradients w.r.t. each of `params`, in that order. It is
///         vmap(loss, n) summed, then differentiated by the reverse-mode
///         transform: batched tensor code (matrix-matrix products), pure
///         (params are read, never written), so threads may run it at once.
///         Returns null when a loss argument cannot be batched (a bool):
///         the driver then runs per example.
/// Preserves: every existing function (it only appends).
ir::Function *buildTrainStep(ir::Module &m, const std::string &loss,
                             const std::vector<std::string> &params, int64_t n,
                             DiagEngine &diags, Loc loc);

/// A train block's optimiser, its hyperparameters baked into the update as
/// constants (LANGUAGE.md sections 8 and 17; flags already applied). The
/// learning rate is an argument of the update (a schedule changes it).
struct Optimizer {
  enum class Kind { Sgd, Momentum, Adam, AdamW };
  Kind kind = Kind::Sgd;
  double beta1 = 0.9, beta2 = 0.999;
  /// AdamW: decoupled (p -= lr * wd * p first); else L2: wd * p is added
  /// to the (clipped) gradient, as PyTorch's `weight_decay`.
  double weightDecay = 0;
  double clip = 0; // the global gradient norm's bound; 0: no clipping
};

/// "__train_update".
std::string trainUpdateName();

/// Input:  a module where every one of `params` has its gradient
///         accumulator `__grad.<p>` (ad::buildTrainStep).
/// Output: `__train_update(scale: f64, lr: f64) -> (f64, n1, ..., np)`: one
///         optimiser step at learning rate `lr`, in place. It scales each
///         accumulator by `scale` (1 / the minibatch's size: the mean
///         gradient), clips the global norm to `o.clip`, applies the weight
///         decay, and updates each param and the optimiser's state
///         (params `__opt.m.<p>`, `__opt.v.<p>`, `__opt.t`, added here).
///         Results: 1 when the step was clipped, else 0, then each param's
///         mean-gradient norm (before clipping), in `params` order.
/// Preserves: every existing function (it only appends).
ir::Function *buildTrainUpdate(ir::Module &m,
                               const std::vector<std::string> &params,
                               const Optimizer &o, Loc loc);

} // namespace bp::batch
