//===- CustomRules.cpp - reverse / forward functions from user rules ------===//
//
// LANGUAGE.md section 15. `adjoint f(...)` and `tangent f(...)` are lowered
// as the functions `f.adjoint` and `f.tangent` (sema checked their
// signatures against f). A function with a rule is differentiated only
// through its rules: its reverse function `f.rev.<pattern>` calls f for the
// values and `f.adjoint(args..., seeds...)` for the adjoints, and its
// forward function `f.fwd.<pattern>` calls f and `f.tangent(args...,
// tangents...)`. Every call of f in code being differentiated goes through
// these (the reverse and forward transforms call getReverse / getForward
// for each callee), and the rules, ordinary functions, are differentiated
// themselves for higher orders.
//
//===----------------------------------------------------------------------===//
#include "ad/AD.h"

namespace bp::ad {

using ir::OpKind;
using ir::Value;

namespace {

ir::Function *ruleOf(const ir::Module &m, const ir::Function &f,
                     const char *kind) {
  return m.lookup(f.name + "." + kind);
}

std::string where(const ir::Function &rule) {
  return std::to_string(rule.loc.line) + ":" + std::to_string(rule.loc.col);
}

/// The zero of a result type that has no derivative (an int or bool seed a
/// rule is still passed): 0 / false; f64 and tensors as zeroOf.
Value *zeroValue(ir::Builder &b, const Type *t) {
  if (t->isInt())
    return b.constI(0);
  if (t->isBool())
    return b.constB(false);
  return zeroOf(b, t);
}

/// Reports that `f` has rules but not the one `mode` needs.
ir::Function *missing(const ir::Function &f, const char *rule, const char *mode,
                      DiagEngine &diags, Loc useLoc) {
  diags.error(useLoc, "'" + f.name + "' has a custom derivative rule but no " +
                          rule + " rule, which " + mode + " needs: add `" +
                          rule + " " + f.name + "(...)`");
  return nullptr;
}

ir::Value *callOf(ir::Builder &b, const ir::Function &g,
                  std::vector<Value *> args, ir::Op **op = nullptr) {
  ir::Op *call = b.create(OpKind::Call, std::move(args), g.resultTypes);
  call->str = g.name;
  if (op)
    *op = call;
  return call->results.empty() ? nullptr : call->result(0);
}

/// The function `name` that differentiates `f` by `rule` (`mode`: "reverse
/// mode", "forward mode"), with f's arguments, the builder at its body.
ir::Function *fromRule(ir::Module &m, const ir::Function &f,
                       const ir::Function &rule, const char *kind,
                       const char *mode, const std::string &name,
                       ir::Builder &b, std::vector<Value *> &args) {
  ir::Function *d = m.addFunction(name);
  d->loc = f.loc;
  d->derivedFrom = std::string(mode) + " of " + f.name + " by the rule " +
                   kind + " " + f.name + " at " + where(rule);
  b.setInsertionPointToEnd(d->body.get());
  b.loc = f.loc;
  for (auto &a : f.args())
    args.push_back(d->addArg(a->type, a->name));
  return d;
}

} // namespace

bool hasCustomRule(const ir::Module &m, const ir::Function &f) {
  return ruleOf(m, f, "adjoint") || ruleOf(m, f, "tangent");
}

ir::Function *reverseFromRule(ir::Module &m, ir::Function &f,
                              const ActivitySpec &spec, const std::string &name,
                              DiagEngine &diags, Loc useLoc) {
  ir::Function *rule = ruleOf(m, f, "adjoint");
  if (!rule)
    return missing(f, "adjoint", "reverse mode (grad, vjp, training, ...)",
                   diags, useLoc);
  ir::Builder b(*m.types);
  std::vector<Value *> args;
  ir::Function *R =
      fromRule(m, f, *rule, "adjoint", "reverse mode", name, b, args);
  std::vector<Value *> seeds; // one per result: the rule takes them all
  for (size_t i = 0; i < f.resultTypes.size(); ++i) {
    const Type *t = f.resultTypes[i];
    seeds.push_back(t->isDifferentiable()
                        ? R->addArg(t, f.resultTypes.size() == 1
                                           ? "seed"
                                           : "seed." + std::to_string(i))
                        : nullptr);
  }
  R->resultTypes = f.resultTypes;
  for (size_t i = 0; i < f.args().size(); ++i)
    if (spec.args[i])
      R->resultTypes.push_back(f.args()[i]->type);
  for (auto &p : spec.params)
    R->resultTypes.push_back(m.lookupParam(p)->type);

  ir::Op *value;
  callOf(b, f, args, &value);
  std::vector<Value *> ruleArgs = args;
  for (size_t i = 0; i < seeds.size(); ++i)
    ruleArgs.push_back(seeds[i] ? seeds[i] : zeroValue(b, f.resultTypes[i]));
  ir::Op *adj;
  callOf(b, *rule, ruleArgs, &adj);
  std::vector<Value *> out;
  for (auto &r : value->results)
    out.push_back(r.get());
  // The rule returns one adjoint per differentiable parameter of f.
  size_t k = 0;
  for (size_t i = 0; i < f.args().size(); ++i) {
    if (!f.args()[i]->type->isDifferentiable())
      continue;
    if (spec.args[i])
      out.push_back(adj->result(k));
    ++k;
  }
  for (auto &p : spec.params) // f reads no param (sema): no adjoint
    out.push_back(zeroOf(b, m.lookupParam(p)->type));
  b.create(OpKind::Return, out);
  return R;
}

ir::Function *forwardFromRule(ir::Module &m, ir::Function &f,
                              const ActivitySpec &spec, const std::string &name,
                              DiagEngine &diags, Loc useLoc) {
  ir::Function *rule = ruleOf(m, f, "tangent");
  if (!rule)
    return missing(f, "tangent", "forward mode (jvp, forward jacobian, ...)",
                   diags, useLoc);
  ir::Builder b(*m.types);
  std::vector<Value *> args;
  ir::Function *F =
      fromRule(m, f, *rule, "tangent", "forward mode", name, b, args);
  std::vector<Value *> tangents(f.args().size(), nullptr);
  for (size_t i = 0; i < f.args().size(); ++i)
    if (spec.args[i])
      tangents[i] = F->addArg(f.args()[i]->type, f.args()[i]->name + ".d");
  for (auto &p : spec.params) // f reads no param (sema): tangent unused
    F->addArg(m.lookupParam(p)->type, p + ".d");
  F->resultTypes = f.resultTypes;
  for (const Type *t : f.resultTypes)
    if (t->isDifferentiable())
      F->resultTypes.push_back(t);

  ir::Op *value;
  callOf(b, f, args, &value);
  std::vector<Value *> ruleArgs = args;
  for (size_t i = 0; i < f.args().size(); ++i)
    if (f.args()[i]->type->isDifferentiable())
      ruleArgs.push_back(tangents[i] ? tangents[i]
                                     : zeroOf(b, f.args()[i]->type));
  ir::Op *tan;
  callOf(b, *rule, ruleArgs, &tan);
  std::vector<Value *> out;
  for (auto &r : value->results)
    out.push_back(r.get());
  for (size_t i = 0; i < f.resultTypes.size(); ++i)
    if (f.resultTypes[i]->isDifferentiable())
      out.push_back(tan->result(i));
  b.create(OpKind::Return, out);
  return F;
}

} // namespace bp::ad
