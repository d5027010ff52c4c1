//===- Activity.cpp - which values carry derivatives ----------------------===//
//
// Two dataflow problems solved together to a fixpoint over the structured
// IR: "varied" forward from the active inputs, "useful" backward from the
// results. Loops are handled by iterating until no set grows.
//
//===----------------------------------------------------------------------===//
#include "ad/Activity.h"

#include <algorithm>

namespace bp::ad {

std::string ActivitySpec::suffix() const {
  std::string s;
  for (bool a : args)
    s += a ? '1' : '0';
  for (auto &p : params)
    s += "." + p;
  return s;
}

bool containsTapeOps(const ir::Block &b) {
  for (auto &op : b.ops) {
    if (op->kind == ir::OpKind::TapeNew || op->kind == ir::OpKind::TapePush ||
        op->kind == ir::OpKind::TapePop)
      return true;
    for (auto &r : op->regions)
      if (containsTapeOps(*r))
        return true;
  }
  return false;
}

bool Activity::isActiveTapeOp(const ir::Op &op) const {
  if (!tapeActive)
    return false;
  if (op.kind == ir::OpKind::TapePush)
    return op.operands[1]->type->isDifferentiable();
  if (op.kind == ir::OpKind::TapePop)
    return op.result()->type->isDifferentiable();
  return false;
}

bool Activity::isActiveOp(const ir::Op &op) const {
  if (isActiveTapeOp(op))
    return true;
  for (auto &r : op.results)
    if (isActive(r.get()))
      return true;
  for (auto &r : op.regions)
    for (auto &o : r->ops)
      if (isActiveOp(*o))
        return true;
  return false;
}

namespace {

using ir::OpKind;

/// Ops whose derivative is zero everywhere: their result is not varied and
/// their operands are not useful through them.
bool zeroDerivative(OpKind k) {
  return k == OpKind::StopGrad || k == OpKind::Sign || k == OpKind::ArgMax ||
         k == OpKind::MaxMask;
}

class Analyzer {
public:
  Analyzer(Activity &a, const ActivitySpec &s) : act(a), spec(s) {}

  void run(const ir::Function &f) {
    for (size_t i = 0; i < f.args().size(); ++i)
      if (i < spec.args.size() && spec.args[i])
        mark(act.varied, f.args()[i].get());
    do {
      changed = false;
      forward(*f.body);
      if (!act.forwardOnly)
        backward(*f.body);
    } while (changed);
  }

private:
  Activity &act;
  const ActivitySpec &spec;
  bool changed = false;

  void mark(std::set<const ir::Value *> &s, const ir::Value *v) {
    if (v->type->isDifferentiable() && s.insert(v).second)
      changed = true;
  }
  bool in(const std::set<const ir::Value *> &s, const ir::Value *v) {
    return s.count(v) != 0;
  }

  bool isActiveParam(const std::string &p) {
    return std::find(spec.params.begin(), spec.params.end(), p) !=
           spec.params.end();
  }

  void forward(const ir::Block &b) {
    for (auto &opp : b.ops) {
      const ir::Op &op = *opp;
      auto &V = act.varied;
      if (zeroDerivative(op.kind))
        continue; // the result is not varied
      switch (op.kind) {
      case OpKind::ParamLoad:
        if (isActiveParam(op.paramName()))
          mark(V, op.result());
        break;
      case OpKind::Call: {
        bool any = !spec.params.empty();
        for (auto *v : op.operands)
          any |= in(V, v);
        if (any)
          for (auto &r : op.results)
            mark(V, r.get());
        break;
      }
      case OpKind::If:
        forward(*op.region(0));
        forward(*op.region(1));
        for (size_t i = 0; i < op.results.size(); ++i)
          if (in(V, op.region(0)->terminator()->operands[i]) ||
              in(V, op.region(1)->terminator()->operands[i]))
            mark(V, op.result(i));
        break;
      case OpKind::For:
      case OpKind::While: {
        bool isFor = op.kind == OpKind::For;
        const ir::Block &body = *op.body();
        for (size_t i = 0; i < op.results.size(); ++i) {
          bool v = in(V, op.init(i)) || in(V, body.terminator()->operands[i]);
          if (v) {
            mark(V, op.carriedArg(i));
            if (!isFor)
              mark(V, op.region(0)->args[i].get());
            mark(V, op.result(i));
          }
        }
        for (auto &r : op.regions)
          forward(*r);
        break;
      }
      case OpKind::TapePush:
        if (in(V, op.operands[1]) && !act.tapeActive) {
          act.tapeActive = true;
          changed = true;
        }
        break;
      case OpKind::TapePop:
        if (act.tapeActive)
          mark(V, op.result());
        break;
      default:
        if ((ir::isPure(op.kind) || op.kind == OpKind::Extract ||
             op.kind == OpKind::Insert || op.kind == OpKind::Gather ||
             op.kind == OpKind::ScatterAdd) &&
            op.results.size() == 1)
          for (auto *v : op.operands)
            if (in(V, v))
              mark(V, op.result());
        break;
      }
    }
  }

  void backward(const ir::Block &b) {
    auto &U = act.useful;
    for (auto it = b.ops.rbegin(); it != b.ops.rend(); ++it) {
      const ir::Op &op = **it;
      switch (op.kind) {
      case OpKind::Return:
        for (auto *v : op.operands)
          mark(U, v);
        break;
      case OpKind::If:
        for (size_t i = 0; i < op.results.size(); ++i)
          if (in(U, op.result(i)))
            for (auto &r : op.regions)
              mark(U, r->terminator()->operands[i]);
        backward(*op.region(0));
        backward(*op.region(1));
        break;
      case OpKind::For:
      case OpKind::While: {
        bool isFor = op.kind == OpKind::For;
        const ir::Block &body = *op.body();
        for (size_t i = 0; i < op.results.size(); ++i) {
          bool u = in(U, op.result(i)) || in(U, op.carriedArg(i)) ||
                   (!isFor && in(U, op.region(0)->args[i].get()));
          if (u) {
            mark(U, body.terminator()->operands[i]);
            mark(U, op.init(i));
            mark(U, op.carriedArg(i));
          }
        }
        backward(body);
        break;
      }
      case OpKind::TapePush:
        if (act.tapeActive)
          mark(U, op.operands[1]);
        break;
      case OpKind::TapePop:
        if (act.tapeActive)
          mark(U, op.result());
        break;
      default: {
        bool any = false;
        for (auto &r : op.results)
          any |= in(U, r.get());
        if (any && !zeroDerivative(op.kind))
          for (auto *v : op.operands)
            mark(U, v);
        break;
      }
      }
    }
  }
};

} // namespace

Activity analyze(const ir::Function &f, const ActivitySpec &spec,
                 bool forwardOnly) {
  Activity a;
  a.forwardOnly = forwardOnly;
  Analyzer(a, spec).run(f);
  return a;
}

} // namespace bp::ad
