//===- TrainStep.cpp - the batched training step of `bpc train` -----------===//
//
// __train_step.<n> = value_and_grad(sum(vmap(loss, n)(...)), params...),
// built from the transforms themselves: batch/Vmap.h for the batch, the
// calls inlined (ir/Inline.h), then ad/AD.h's reverse mode over the batched
// code, so that the adjoint of a batched matrix-vector product is again a
// matrix-matrix product and no forward value is computed twice.
//
//===----------------------------------------------------------------------===//
#include "batch/TrainStep.h"

#include "ad/AD.h"
#include "batch/Vmap.h"
#include "ir/Inline.h"
#include "ir/Simplify.h"

namespace bp::batch {

using ir::OpKind;

std::string trainStepName(int64_t n) {
  return "__train_step." + std::to_string(n);
}

namespace {

/// `__batch_loss.<n>(batched args) -> f64`: the sum of `lossb`'s results.
ir::Function *summedLoss(ir::Module &m, ir::Function &lossb, int64_t n,
                         Loc loc) {
  ir::Function *s = m.addFunction("__batch_loss." + std::to_string(n));
  s->loc = loc;
  s->resultTypes = {m.types->f64()};
  ir::Builder b(*m.types);
  b.setInsertionPointToEnd(s->body.get());
  b.loc = loc;
  std::vector<ir::Value *> args;
  for (auto &a : lossb.args())
    args.push_back(s->addArg(a->type, a->name));
  ir::Op *call = b.create(OpKind::Call, args, lossb.resultTypes);
  call->str = lossb.name;
  ir::Op *sum = b.create(OpKind::ReduceSum, {call->result()}, {m.types->f64()});
  sum->ival = -1;
  b.create(OpKind::Return, {sum->result()});
  return s;
}

} // namespace

ir::Function *buildTrainStep(ir::Module &m, const std::string &lossName,
                             const std::vector<std::string> &params, int64_t n,
                             DiagEngine &diags, Loc loc) {
  ir::Function *loss = m.lookup(lossName);
  for (auto &a : loss->args())
    if (!a->type->isDifferentiable())
      return nullptr;
  ir::Function *lossb =
      getBatched(m, *loss, std::vector<bool>(loss->args().size(), true), n);
  if (!lossb)
    return nullptr;
  ir::Function *summed = summedLoss(m, *lossb, n, loc);
  // One function for reverse mode: its forward values computed once.
  ir::inlineCalls(*summed, m);
  ir::simplify(*summed, m);
  ad::ActivitySpec spec;
  spec.args.assign(summed->args().size(), false);
  spec.params = params;
  ir::Function *rev = ad::getReverse(m, *summed, spec, diags, loc);
  if (!rev)
    return nullptr;
  ir::Function *step = m.addFunction(trainStepName(n));
  step->loc = loc;
  step->resultTypes = rev->resultTypes;
  ir::Builder b(*m.types);
  b.setInsertionPointToEnd(step->body.get());
  b.loc = loc;
  std::vector<ir::Value *> args;
  for (auto &a : summed->args())
    args.push_back(step->addArg(a->type, a->name));
  args.push_back(b.constF(1.0));
  ir::Op *call = b.create(OpKind::Call, args, rev->resultTypes);
  call->str = rev->name;
  std::vector<ir::Value *> results;
  for (auto &r : call->results)
    results.push_back(r.get());
  b.create(OpKind::Return, results);
  return step;
}

} // namespace bp::batch
