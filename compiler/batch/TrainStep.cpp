//===- TrainStep.cpp - the batched training step of `bpc train` -----------===//
//
// __train_step.<n> = value_and_grad(sum(vmap(loss, n)(...)), params...),
// built from the transforms themselves: batch/Vmap.h for the batch, the
// calls inlined (ir/Inline.h), then ad/AD.h's reverse mode over the batched
// code, so that the adjoint of a batched matrix-vector product is again a
// matrix-matrix product and no forward value is computed twice.
//
// __train_update: the mean gradient, clipping and the optimiser step over
// the params, in place (the driver calls it once per minibatch, after the
// threads' gradients are summed).
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

std::string batchLossName(int64_t n) {
  return "__batch_loss." + std::to_string(n);
}

std::string batchMetricName(int64_t n) {
  return "__batch_metric." + std::to_string(n);
}

namespace {

/// `<name>(batched args) -> f64`: the sum of `lossb`'s results.
ir::Function *summed(ir::Module &m, ir::Function &lossb,
                     const std::string &name, Loc loc) {
  ir::Function *s = m.addFunction(name);
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

/// `<name>(batched args) -> f64`: the sum of vmap(f, n) over every
/// argument (the loss or the metric of n rows); null when an argument or
/// a result cannot be batched.
ir::Function *summedOverRows(ir::Module &m, ir::Function &f, int64_t n,
                             const std::string &name, Loc loc) {
  for (auto &a : f.args())
    if (!batchable(a->type))
      return nullptr;
  ir::Function *fb =
      getBatched(m, f, std::vector<bool>(f.args().size(), true), n);
  return fb ? summed(m, *fb, name, loc) : nullptr;
}

} // namespace

ir::Function *buildTrainStep(ir::Module &m, const std::string &lossName,
                             const std::vector<std::string> &params, int64_t n,
                             DiagEngine &diags, Loc loc) {
  ir::Function *summed =
      summedOverRows(m, *m.lookup(lossName), n, batchLossName(n), loc);
  if (!summed)
    return nullptr;
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

bool buildBatchedMetric(ir::Module &m, const std::string &metric, int64_t n,
                        Loc loc) {
  return summedOverRows(m, *m.lookup(metric), n, batchMetricName(n), loc) !=
         nullptr;
}

std::string trainUpdateName() { return "__train_update"; }

namespace {

/// A param of `like`'s type, zero-initialised, appended to `m`: optimiser
/// state. Returns its name.
std::string addState(ir::Module &m, const std::string &name,
                     const ir::Param &like) {
  m.params.push_back({name, like.type, like.loc, "zeros", {}});
  return name;
}

/// The builder of __train_update's body.
struct UpdateBuilder {
  ir::Module &m;
  ir::Builder &b;
  const Optimizer &o;
  ir::Value *lr = nullptr;

  ir::Value *c(double v) { return b.constF(v); }
  ir::Value *mul(ir::Value *x, ir::Value *y) {
    return b.binary(OpKind::FMul, x, y);
  }
  ir::Value *add(ir::Value *x, ir::Value *y) {
    return b.binary(OpKind::FAdd, x, y);
  }
  ir::Value *load(const std::string &p) {
    const ir::Param *decl = m.lookupParam(p);
    ir::Op *op = b.create(OpKind::ParamLoad, {}, {decl->type});
    op->str = p;
    return op->result();
  }
  void store(const std::string &p, ir::Value *v) {
    b.create(OpKind::ParamStore, {v})->str = p;
  }
  /// sqrt(sum(g * g)).
  ir::Value *norm(ir::Value *g) {
    ir::Value *sq = mul(g, g);
    if (sq->type->isTensor()) {
      ir::Op *sum = b.create(OpKind::ReduceSum, {sq}, {m.types->f64()});
      sum->ival = -1;
      sq = sum->result();
    }
    return b.unary(OpKind::Sqrt, sq);
  }
  /// `p -= ...` for the clipped gradient `g` (the same arithmetic, in the
  /// same order, as PyTorch's optimisers; ic1, ic2: 1 / Adam's bias
  /// corrections). The stores come last, so that each new value is
  /// computed in its param's buffer (transforms/ParamViews.h).
  void step(const std::string &p, ir::Value *g, ir::Value *ic1,
            ir::Value *ic2) {
    const ir::Param &decl = *m.lookupParam(p);
    ir::Value *w = load(p), *delta = nullptr;
    bool adam =
        o.kind == Optimizer::Kind::Adam || o.kind == Optimizer::Kind::AdamW;
    if (o.weightDecay > 0 && o.kind != Optimizer::Kind::AdamW)
      g = add(g, mul(c(o.weightDecay), w));
    std::vector<std::pair<std::string, ir::Value *>> stores;
    if (!adam) {
      ir::Value *dir = g;
      if (o.kind == Optimizer::Kind::Momentum) {
        std::string ms = addState(m, "__opt.m." + p, decl);
        dir = add(mul(c(o.beta1), load(ms)), g);
        stores.push_back({ms, dir});
      }
      delta = mul(lr, dir);
    } else {
      std::string ms = addState(m, "__opt.m." + p, decl),
                  vs = addState(m, "__opt.v." + p, decl);
      ir::Value *mom = add(mul(c(o.beta1), load(ms)), mul(c(1 - o.beta1), g));
      ir::Value *var =
          add(mul(c(o.beta2), load(vs)), mul(mul(c(1 - o.beta2), g), g));
      stores.push_back({ms, mom});
      stores.push_back({vs, var});
      ir::Value *den = add(b.unary(OpKind::Sqrt, mul(var, ic2)), c(1e-8));
      delta = b.binary(OpKind::FDiv, mul(lr, mul(mom, ic1)), den);
    }
    // AdamW decays the param itself first: p * (1 - lr * wd) - delta.
    if (o.weightDecay > 0 && o.kind == Optimizer::Kind::AdamW)
      w = mul(w, b.binary(OpKind::FSub, c(1), mul(lr, c(o.weightDecay))));
    store(p, b.binary(OpKind::FSub, w, delta));
    for (auto &[name, v] : stores)
      store(name, v);
  }
};

} // namespace

ir::Function *buildTrainUpdate(ir::Module &m,
                               const std::vector<std::string> &params,
                               const Optimizer &o, Loc loc) {
  ir::Function *f = m.addFunction(trainUpdateName());
  f->loc = loc;
  ir::Builder b(*m.types);
  b.setInsertionPointToEnd(f->body.get());
  b.loc = loc;
  UpdateBuilder u{m, b, o};
  ir::Value *scale = f->addArg(m.types->f64(), "scale");
  u.lr = f->addArg(m.types->f64(), "lr");
  std::vector<ir::Value *> grads, results = {nullptr};
  ir::Value *total = u.c(0);
  for (const std::string &p : params) {
    grads.push_back(u.mul(u.load("__grad." + p), scale));
    ir::Value *n = u.norm(grads.back());
    results.push_back(n);
    total = u.add(total, u.mul(n, n));
  }
  total = b.unary(OpKind::Sqrt, total);
  // Clipped: g * (clip / |g|) when |g| > clip (false for a NaN norm).
  ir::Value *factor = nullptr;
  results[0] = u.c(0);
  if (o.clip > 0) {
    ir::Value *over = b.cmp(OpKind::FCmp, ir::CmpPred::Gt, total, u.c(o.clip));
    factor = b.select(over, b.binary(OpKind::FDiv, u.c(o.clip), total), u.c(1));
    results[0] = b.select(over, u.c(1), u.c(0));
  }
  ir::Value *ic1 = nullptr, *ic2 = nullptr;
  if (o.kind == Optimizer::Kind::Adam || o.kind == Optimizer::Kind::AdamW) {
    m.params.push_back({"__opt.t", m.types->f64(), loc, "zeros", {}});
    ir::Value *t = u.add(u.load("__opt.t"), u.c(1));
    u.store("__opt.t", t);
    auto inverseCorrection = [&](double beta) {
      ir::Value *corr =
          b.binary(OpKind::FSub, u.c(1), b.binary(OpKind::Pow, u.c(beta), t));
      return b.binary(OpKind::FDiv, u.c(1), corr);
    };
    ic1 = inverseCorrection(o.beta1);
    ic2 = inverseCorrection(o.beta2);
  }
  for (size_t k = 0; k < params.size(); ++k)
    u.step(params[k], factor ? u.mul(grads[k], factor) : grads[k], ic1, ic2);
  f->resultTypes.assign(results.size(), m.types->f64());
  b.create(OpKind::Return, results);
  return f;
}

} // namespace bp::batch
