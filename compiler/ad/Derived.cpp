//===- Derived.cpp - grad / value_and_grad / jvp as IR functions ----------===//
//
// A derived function is a thin wrapper: grad(f, w, b) calls
// `f.rev.<activity>(args..., seed = 1.0)` and returns the adjoints in the
// order the user named them; jvp(f, x) calls `f.fwd.<activity>`. Because the
// wrapper is an ordinary IR function, it can be differentiated again.
//
//===----------------------------------------------------------------------===//
#include "ad/Derived.h"

#include "ad/AD.h"

#include <algorithm>
#include <functional>
#include <set>

namespace bp::ad {

using ir::OpKind;

bool buildDerived(ir::Module &m, const ir::DerivedInfo &info,
                  DiagEngine &diags) {
  ir::Function *base = m.lookup(info.base);
  if (!base)
    return false;

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

  ir::Function *rev = getReverse(m, *base, spec, diags, info.loc);
  if (!rev)
    return false;
  args.push_back(b.constF(1.0));
  ir::Op *call = b.create(OpKind::Call, args, rev->resultTypes);
  call->str = rev->name;
  std::vector<ir::Value *> out;
  if (info.kind == ir::DerivKind::ValueAndGrad)
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
