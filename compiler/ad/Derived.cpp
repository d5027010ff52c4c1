//===- Derived.cpp - grad / value_and_grad / jvp as IR functions ----------===//
//
// A derived function is a thin wrapper: grad(f, w, b) calls
// `f.rev.<activity>(args..., seed = 1.0)` and returns the adjoints in the
// order the user named them; vjp(f, x) passes the caller's cotangent as the
// seed; jvp(f, x) calls `f.fwd.<activity>`. jacobian(f, x) loops over unit
// seeds (reverse mode, one row each) or unit tangents (forward mode, one
// column each), whichever takes fewer sweeps (jacobianIsForward);
// hessian(f, x) is the forward-mode Jacobian of a function returning
// grad(f, x). Because the wrapper is an ordinary IR function, it can be
// differentiated again.
//
//===----------------------------------------------------------------------===//
#include "ad/Derived.h"

#include "ad/AD.h"

#include <algorithm>
#include <functional>
#include <set>

namespace bp::ad {

using ir::OpKind;

namespace {

/// Nested `for` loops over every index of `shape` (row-major), carrying
/// `acc`: `body(idx, acc)` gives the next value. Returns the final value
/// (after the loops; the insertion point is left after them). The loop
/// variables are named `<prefix>0`, `<prefix>1`, ...
ir::Value *forEachIndex(
    ir::Builder &b, const char *prefix, const std::vector<int64_t> &shape,
    ir::Value *acc,
    const std::function<ir::Value *(std::vector<ir::Value *> &, ir::Value *)>
        &body,
    std::vector<ir::Value *> idx = {}) {
  if (idx.size() == shape.size())
    return body(idx, acc);
  ir::Block *outer = b.getBlock();
  ir::Op *loop =
      b.create(OpKind::For, {b.constI(0), b.constI(shape[idx.size()]), acc},
               {acc->type});
  ir::Block *inner = loop->addRegion();
  idx.push_back(
      inner->addArg(b.types.i64(), prefix + std::to_string(idx.size())));
  ir::Value *carried = inner->addArg(acc->type, "acc");
  b.setInsertionPointToEnd(inner);
  b.yield({forEachIndex(b, prefix, shape, carried, body, idx)});
  b.setInsertionPointToEnd(outer);
  return loop->result();
}

std::vector<int64_t> shapeOf(const Type *t) {
  return t->isTensor() ? t->shape : std::vector<int64_t>{};
}

/// `v` with its element (or sub-tensor) at `idx` replaced by `e`; `e` itself
/// when there are no indices.
ir::Value *insertAt(ir::Builder &b, ir::Value *v, ir::Value *e,
                    const std::vector<ir::Value *> &idx) {
  if (idx.empty())
    return e;
  std::vector<ir::Value *> ops = {v, e};
  ops.insert(ops.end(), idx.begin(), idx.end());
  return b.create(OpKind::Insert, ops, {v->type})->result();
}

/// The one-hot value of type `t` with a 1 at `idx` (1.0 for a scalar).
ir::Value *oneHot(ir::Builder &b, const Type *t,
                  const std::vector<ir::Value *> &idx) {
  if (!t->isTensor())
    return b.constF(1.0);
  return insertAt(b, zeroOf(b, t), b.constF(1.0), idx);
}

/// The element of `t` at `idx` (`t` itself when there are none).
ir::Value *elementAt(ir::Builder &b, ir::Value *t,
                     const std::vector<ir::Value *> &idx) {
  if (idx.empty())
    return t;
  std::vector<ir::Value *> ops = {t};
  ops.insert(ops.end(), idx.begin(), idx.end());
  return b.create(OpKind::Extract, ops, {b.types.f64()})->result();
}

} // namespace

bool jacobianIsForward(const Type *result, const Type *var) {
  // One forward sweep per element of the variable against one reverse
  // sweep per element of the result; a tie goes to forward mode, whose
  // sweep needs no tape.
  return var->numElements() <= result->numElements();
}

/// jacobian(f, x) and hessian(f, x) into `w`, whose insertion point is `b`
/// and whose first arguments, f's, are `args`.
bool buildJacobian(ir::Module &m, const ir::DerivedInfo &info,
                   ir::Function &base, const ActivitySpec &spec,
                   ir::Function &w, ir::Builder &b,
                   const std::vector<ir::Value *> &args, DiagEngine &diags) {
  b.markPrechecked = true; // every index below is in range by construction
  const ir::WrtVar &v = info.wrt[0];
  const Type *jt = w.resultTypes[0];
  ir::Function *of = &base; // the function whose Jacobian is taken
  if (info.kind == ir::DerivKind::Hessian) {
    // Forward over reverse: the Jacobian, in forward mode, of a function
    // returning the gradient.
    ir::Function *rev = getReverse(m, base, spec, diags, info.loc);
    if (!rev)
      return false;
    of = m.addFunction(info.name + ".grad");
    of->loc = info.loc;
    of->derivedFrom = "grad of " + info.base;
    of->resultTypes = {v.type};
    ir::Builder gb(*m.types);
    gb.setInsertionPointToEnd(of->body.get());
    gb.loc = info.loc;
    std::vector<ir::Value *> gargs;
    for (auto &a : base.args())
      gargs.push_back(of->addArg(a->type, a->name));
    gargs.push_back(gb.constF(1.0));
    ir::Op *call = gb.create(OpKind::Call, gargs, rev->resultTypes);
    call->str = rev->name;
    gb.create(OpKind::Return, {call->result(1)});
  }
  const Type *rt = of->resultTypes[0];
  std::vector<int64_t> rshape = shapeOf(rt), vshape = shapeOf(v.type);
  ir::Value *j0 = zeroOf(b, jt);
  ir::Value *j;
  if (info.kind == ir::DerivKind::Hessian || jacobianIsForward(rt, v.type)) {
    ir::Function *fwd = getForward(m, *of, spec, diags, info.loc);
    if (!fwd)
      return false;
    // Column by column: the tangent along the k-th unit vector of the
    // variable is J[..., k].
    j = forEachIndex(b, "k", vshape, j0, [&](auto &k, ir::Value *acc) {
      std::vector<ir::Value *> a = args;
      a.push_back(oneHot(b, v.type, k));
      ir::Op *call = b.create(OpKind::Call, a, fwd->resultTypes);
      call->str = fwd->name;
      ir::Value *t = call->result(1);
      return forEachIndex(b, "i", rshape, acc, [&](auto &i, ir::Value *acc2) {
        std::vector<ir::Value *> at = i;
        at.insert(at.end(), k.begin(), k.end());
        return insertAt(b, acc2, elementAt(b, t, i), at);
      });
    });
  } else {
    ir::Function *rev = getReverse(m, *of, spec, diags, info.loc);
    if (!rev)
      return false;
    // Row by row: the adjoint for the seed e_i is J[i, ...].
    j = forEachIndex(b, "i", rshape, j0, [&](auto &i, ir::Value *acc) {
      std::vector<ir::Value *> a = args;
      a.push_back(oneHot(b, rt, i));
      ir::Op *call = b.create(OpKind::Call, a, rev->resultTypes);
      call->str = rev->name;
      return insertAt(b, acc, call->result(1), i);
    });
  }
  j->name = "jacobian";
  b.create(OpKind::Return, {j});
  return true;
}

bool buildDerived(ir::Module &m, const ir::DerivedInfo &info,
                  DiagEngine &diags) {
  ir::Function *base = m.lookup(info.base);
  if (!base)
    return false;
  if (info.kind == ir::DerivKind::Checkpoint)
    return buildCheckpoint(m, info, *base);

  ActivitySpec spec;
  spec.args.assign(base->args().size(), false);
  for (auto &v : info.wrt) {
    if (v.isParam)
      spec.params.push_back(v.name);
    else
      spec.args[v.argIndex] = true;
  }
  // Position of each wrt variable among the transform's adjoints/tangents:
  // active arguments in argument order, then params in spec order.
  auto position = [&](const ir::WrtVar &v) {
    if (v.isParam)
      return (size_t)std::count(spec.args.begin(), spec.args.end(), true) +
             (std::find(spec.params.begin(), spec.params.end(), v.name) -
              spec.params.begin());
    return (size_t)std::count(spec.args.begin(), spec.args.begin() + v.argIndex,
                              true);
  };

  ir::Function *w = m.addFunction(info.name);
  w->loc = info.loc;
  w->derivedFrom = std::string(ir::spelling(info.kind)) + " of " + info.base;
  for (size_t i = 0; i < info.sig.params.size(); ++i)
    w->addArg(info.sig.params[i], info.sig.paramNames[i]);
  if (info.sig.result->isTuple())
    w->resultTypes = info.sig.result->elems;
  else
    w->resultTypes = {info.sig.result};

  ir::Builder b(*m.types);
  b.setInsertionPointToEnd(w->body.get());
  b.loc = info.loc;
  std::vector<ir::Value *> args;
  for (size_t i = 0; i < base->args().size(); ++i)
    args.push_back(w->args()[i].get());

  if (info.kind == ir::DerivKind::Jvp) {
    ir::Function *fwd = getForward(m, *base, spec, diags, info.loc);
    if (!fwd)
      return false;
    // Tangents arrive in the order the user named the variables.
    std::vector<ir::Value *> tangents(info.wrt.size());
    for (size_t k = 0; k < info.wrt.size(); ++k)
      tangents[position(info.wrt[k])] =
          w->args()[base->args().size() + k].get();
    args.insert(args.end(), tangents.begin(), tangents.end());
    ir::Op *call = b.create(OpKind::Call, args, fwd->resultTypes);
    call->str = fwd->name;
    b.create(OpKind::Return, {call->result(0), call->result(1)});
    return true;
  }

  if (info.kind == ir::DerivKind::Jacobian ||
      info.kind == ir::DerivKind::Hessian)
    return buildJacobian(m, info, *base, spec, *w, b, args, diags);

  ir::Function *rev = getReverse(m, *base, spec, diags, info.loc);
  if (!rev)
    return false;
  // vjp: the seed is the caller's cotangent; grad: 1.
  args.push_back(info.kind == ir::DerivKind::Vjp
                     ? w->args()[base->args().size()].get()
                     : b.constF(1.0));
  ir::Op *call = b.create(OpKind::Call, args, rev->resultTypes);
  call->str = rev->name;
  std::vector<ir::Value *> out;
  if (info.kind == ir::DerivKind::ValueAndGrad ||
      info.kind == ir::DerivKind::Vjp)
    out.push_back(call->result(0));
  for (auto &v : info.wrt) {
    ir::Value *g = call->result(1 + position(v));
    g->name = v.name + ".grad";
    out.push_back(g);
  }
  b.create(OpKind::Return, out);
  return true;
}

} // namespace bp::ad

namespace bp::ad {

std::vector<std::string> paramsRead(const ir::Module &m,
                                    const ir::Function &f) {
  std::set<std::string> read, seen;
  std::vector<const ir::Function *> work = {&f};
  std::function<void(const ir::Block &)> walk = [&](const ir::Block &b) {
    for (auto &op : b.ops) {
      if (op->kind == OpKind::ParamLoad)
        read.insert(op->paramName());
      if (op->kind == OpKind::Call)
        if (const ir::Function *c = m.lookup(op->callee()))
          work.push_back(c);
      for (auto &r : op->regions)
        walk(*r);
    }
  };
  while (!work.empty()) {
    const ir::Function *g = work.back();
    work.pop_back();
    if (seen.insert(g->name).second)
      walk(*g->body);
  }
  std::vector<std::string> out;
  for (auto &p : m.params)
    if (read.count(p.name))
      out.push_back(p.name);
  return out;
}

std::vector<std::string> buildTrainStep(ir::Module &m,
                                        const std::string &lossName,
                                        DiagEngine &diags, Loc loc) {
  ir::Function *loss = m.lookup(lossName);
  std::vector<std::string> params = paramsRead(m, *loss);
  if (params.empty()) {
    diags.error(loc, "the loss '" + lossName +
                         "' reads no param: there is nothing to train");
    return {};
  }
  ActivitySpec spec;
  spec.args.assign(loss->args().size(), false);
  spec.params = params;
  ir::Function *rev = getReverse(m, *loss, spec, diags, loc);
  if (!rev)
    return {};
  for (auto &p : params) {
    const ir::Param *decl = m.lookupParam(p);
    ir::Param acc{"__grad." + p, decl->type, decl->loc, "zeros", {}};
    m.params.push_back(acc);
  }
  ir::Function *step = m.addFunction("__train_step");
  step->loc = loc;
  step->resultTypes = {m.types->f64()};
  ir::Builder b(*m.types);
  b.setInsertionPointToEnd(step->body.get());
  b.loc = loc;
  std::vector<ir::Value *> args;
  for (auto &a : loss->args())
    args.push_back(step->addArg(a->type, a->name));
  args.push_back(b.constF(1.0));
  ir::Op *call = b.create(OpKind::Call, args, rev->resultTypes);
  call->str = rev->name;
  for (size_t i = 0; i < params.size(); ++i) {
    b.create(OpKind::ParamAdd, {call->result(1 + i)})->str =
        "__grad." + params[i];
  }
  b.create(OpKind::Return, {call->result(0)});
  return params;
}

} // namespace bp::ad
