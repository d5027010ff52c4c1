//===- SemaDerived.cpp - sema: derived functions --------------------------===//
//
// grad(f, ...), value_and_grad(f, ...), jvp(f, ...), vjp(f, ...),
// jacobian(f, x), hessian(f, x), checkpoint(f) and vmap(f, B, ...),
// named or inline: the variables they name, their signatures, and
// did-you-mean for both.
//
//===----------------------------------------------------------------------===//
#include "sema/Checker.h"
#include "sema/Shapes.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>

namespace bp::sema::detail {

std::string Checker::suggestConst(const std::string &name) {
  std::vector<std::string> consts;
  for (auto &[n, info] : top)
    if (info.kind == TopKind::Const)
      consts.push_back(n);
  return didYouMean(name, consts);
}

void Checker::resolveNamedDerived(ast::DerivedFnItem &d) {
  if (prog.lookupDerived(d.name))
    return;
  if (!evaluating.insert(d.name).second) {
    error(d.nameLoc, "derived function '" + d.name + "' depends on itself");
    return;
  }
  // Resolved once: a failure (a bad form included) is reported at the
  // definition, not again at every use.
  if (!attemptedDerived.insert(d.name).second) {
    evaluating.erase(d.name);
    return;
  }
  auto *call = dyn<ast::CallExpr>(d.value.get());
  auto *callee = call ? dyn<ast::NameExpr>(call->callee.get()) : nullptr;
  if (!callee || builtinKind(callee->name) != Builtin::Derive)
    error(d.value->loc,
          "a derived function is grad(f, ...), "
          "value_and_grad(f, ...), jvp(f, ...) or vmap(f, B, ...), or "
          "vjp(f, ...), jacobian(f, x), hessian(f, x), checkpoint(f) "
          "(section 16)");
  else
    resolveDerived(*call, d.name);
  evaluating.erase(d.name);
}

/// Resolves the name `n` to something callable, resolving named derived
/// functions on demand. Returns its signature or null.
const FnSig *Checker::callable(const std::string &n) {
  auto it = top.find(n);
  if (it != top.end() && it->second.kind == TopKind::Derived)
    resolveNamedDerived(*static_cast<ast::DerivedFnItem *>(it->second.item));
  return prog.signature(n);
}

/// The function `call` differentiates: a function name or a nested derived
/// call (resolved here); "" after an error.
std::string Checker::derivedBase(ast::CallExpr &call, DerivKind kind) {
  const char *what = spelling(kind);
  ast::Expr *baseExpr = call.args[0].get();
  if (auto *n = dyn<ast::NameExpr>(baseExpr)) {
    if (generics.count(n->name)) {
      error(n->loc, "'" + n->name + "' takes function arguments: " + what +
                        " cannot take it itself; " + what +
                        " a function that calls it");
      return "";
    }
    if (!callable(n->name)) {
      auto it = top.find(n->name);
      if (it == top.end())
        error(n->loc, "unknown function '" + n->name + "'" + suggest(n->name));
      else if (it->second.kind == TopKind::Fn ||
               it->second.kind == TopKind::Derived)
        return ""; // its declaration failed and was reported
      else
        error(n->loc,
              "'" + n->name + "' is a " +
                  (it->second.kind == TopKind::Param ? "param" : "const") +
                  ", not a function: " + spelling(kind) +
                  " needs a function name");
      return "";
    }
    return n->name;
  }
  if (auto *c = dyn<ast::CallExpr>(baseExpr);
      c && dyn<ast::NameExpr>(c->callee.get()) &&
      builtinKind(static_cast<ast::NameExpr *>(c->callee.get())->name) ==
          Builtin::Derive)
    return resolveDerived(*c);
  error(baseExpr->loc, std::string("the first argument of '") + what +
                           "' must name a function");
  return "";
}

/// `e` as a name not in `seen` (then added); null after reporting that it
/// is not a name (`notAName`) or is named twice.
ast::NameExpr *Checker::uniqueName(ast::Expr &e, std::set<std::string> &seen,
                                   const std::string &notAName) {
  auto *n = dyn<ast::NameExpr>(&e);
  if (!n) {
    error(e.loc, notAName);
    return nullptr;
  }
  if (!seen.insert(n->name).second) {
    error(n->loc, "'" + n->name + "' is named twice");
    return nullptr;
  }
  return n;
}

/// The variables named after the function in `call` (its first argument when
/// none is named); false after an error.
bool Checker::derivedWrt(ast::CallExpr &call, DerivKind kind,
                         const std::string &base, const FnSig &bsig,
                         std::vector<WrtVar> &wrt) {
  const char *what = spelling(kind);
  std::set<std::string> seen;
  if (call.args.size() == 1) {
    if (bsig.params.empty()) {
      error(call.loc, "'" + base +
                          "' has no arguments to differentiate "
                          "with respect to");
      return false;
    }
    wrt.push_back({false, 0, bsig.paramNames[0], bsig.params[0]});
  }
  bool ok = true;
  for (size_t i = 1; i < call.args.size(); ++i) {
    auto *n = uniqueName(*call.args[i], seen,
                         std::string("'") + what +
                             "' takes variable names after the function");
    if (!n) {
      ok = false;
      continue;
    }
    WrtVar v;
    v.name = n->name;
    bool found = false;
    for (size_t k = 0; k < bsig.paramNames.size(); ++k)
      if (bsig.paramNames[k] == n->name) {
        v.argIndex = k;
        v.type = bsig.params[k];
        found = true;
      }
    if (!found) {
      for (auto &p : prog.params)
        if (p.name == n->name) {
          v.isParam = true;
          v.type = p.type;
          found = true;
        }
    }
    if (!found) {
      error(n->loc, "'" + n->name + "' is not an argument of '" + base +
                        "' or a param" + suggest(n->name, bsig.paramNames));
      ok = false;
      continue;
    }
    if (!v.type->isDifferentiable()) {
      error(n->loc, "cannot differentiate with respect to '" + n->name +
                        "' of type " + toString(v.type) +
                        ": only f64 and f64 tensors carry derivatives");
      ok = false;
      continue;
    }
    wrt.push_back(v);
  }
  return ok;
}

/// The derived function's signature: the base's arguments (plus a tangent
/// per variable for jvp, a cotangent for vjp) and its results (LANGUAGE.md
/// sections 7 and 16); false after an error.
bool Checker::derivedSig(const ast::CallExpr &call, DerivKind kind,
                         const std::string &base, const FnSig &bsig,
                         const std::vector<WrtVar> &wrt, FnSig &sig) {
  const char *what = spelling(kind);
  sig.paramNames = bsig.paramNames;
  sig.params = bsig.params;
  if (kind == DerivKind::Jvp) {
    if (!bsig.result->isDifferentiable()) {
      error(call.loc, "jvp needs a function returning f64 or an f64 tensor, "
                      "but '" +
                          base + "' returns " + toString(bsig.result));
      return false;
    }
    for (auto &v : wrt) {
      sig.paramNames.push_back(v.name + "_dot");
      sig.params.push_back(v.type);
    }
    sig.result = T.tuple({bsig.result, bsig.result});
    return true;
  }
  if (kind == DerivKind::Vjp) {
    if (!bsig.result->isDifferentiable()) {
      error(call.loc, "vjp needs a function returning f64 or an f64 tensor, "
                      "but '" +
                          base + "' returns " + toString(bsig.result));
      return false;
    }
    sig.paramNames.push_back("cotangent");
    sig.params.push_back(bsig.result);
    std::vector<const Type *> res = {bsig.result};
    for (auto &v : wrt)
      res.push_back(v.type);
    sig.result = T.tuple(res);
    return true;
  }
  if (kind == DerivKind::Jacobian || kind == DerivKind::Hessian) {
    if (wrt.size() != 1) {
      error(call.loc,
            std::string(what) + " takes one variable: " + what + "(f, x)");
      return false;
    }
    if (kind == DerivKind::Jacobian ? !bsig.result->isDifferentiable()
                                    : !bsig.result->isF64()) {
      error(call.loc,
            std::string(what) + " needs a function returning " +
                (kind == DerivKind::Jacobian ? "f64 or an f64 tensor" : "f64") +
                ", but '" + base + "' returns " + toString(bsig.result));
      return false;
    }
    // jacobian: result shape ++ the variable's shape; hessian: the
    // variable's shape twice.
    const Type *lead = kind == DerivKind::Jacobian ? bsig.result : wrt[0].type;
    std::vector<int64_t> shape;
    if (lead->isTensor())
      shape = lead->shape;
    if (wrt[0].type->isTensor())
      shape.insert(shape.end(), wrt[0].type->shape.begin(),
                   wrt[0].type->shape.end());
    if (shape.size() > 4) {
      error(call.loc, std::string(what) + "(" + base + ", " + wrt[0].name +
                          ") would be a tensor of rank " +
                          std::to_string(shape.size()) +
                          ", but tensors have rank 1 to 4");
      return false;
    }
    sig.result = shape.empty() ? T.f64() : T.tensor(shape);
    return true;
  }
  if (!bsig.result->isF64()) {
    error(call.loc, std::string(what) +
                        " needs a function returning f64, but '" + base +
                        "' returns " + toString(bsig.result) +
                        (bsig.result->isTensor()
                             ? "; reduce it first (e.g. sum) or use jvp"
                             : ""));
    return false;
  }
  std::vector<const Type *> res;
  if (kind == DerivKind::ValueAndGrad)
    res.push_back(T.f64());
  for (auto &v : wrt)
    res.push_back(v.type);
  sig.result = res.size() == 1 ? res[0] : T.tuple(res);
  return true;
}

/// `grad(f, x, ...)` -> the derived function's name (registered in prog),
/// or "" after an error.
std::string Checker::resolveDerived(ast::CallExpr &call, std::string name) {
  auto *callee = static_cast<ast::NameExpr *>(call.callee.get());
  DerivKind kind = callee->name == "grad"             ? DerivKind::Grad
                   : callee->name == "value_and_grad" ? DerivKind::ValueAndGrad
                   : callee->name == "vmap"           ? DerivKind::Vmap
                   : callee->name == "vjp"            ? DerivKind::Vjp
                   : callee->name == "jacobian"       ? DerivKind::Jacobian
                   : callee->name == "hessian"        ? DerivKind::Hessian
                   : callee->name == "checkpoint"     ? DerivKind::Checkpoint
                                                      : DerivKind::Jvp;
  const char *what = spelling(kind);
  if (call.args.empty()) {
    error(call.loc, std::string("'") + what + "' needs a function: " + what +
                        "(f, x, ...)");
    return "";
  }
  std::string base = derivedBase(call, kind);
  if (base.empty())
    return "";
  const FnSig &bsig = *prog.signature(base);

  DerivedInfo info;
  info.kind = kind;
  info.base = base;
  info.loc = call.loc;
  if (kind == DerivKind::Vmap) {
    if (!resolveVmap(call, base, bsig, info))
      return "";
  } else if (kind == DerivKind::Checkpoint) {
    // Section 16: f's signature, f's values.
    if (call.args.size() != 1) {
      error(call.args[1]->loc,
            "'checkpoint' takes one function and nothing else: checkpoint(f)");
      return "";
    }
    info.sig = bsig;
  } else {
    if (!derivedWrt(call, kind, base, bsig, info.wrt))
      return "";
    if (!derivedSig(call, kind, base, bsig, info.wrt, info.sig))
      return "";
  }
  if (name.empty()) {
    name = std::string(what) + "(" + base;
    if (kind == DerivKind::Vmap)
      name += ", " + std::to_string(info.batch);
    for (auto &v : info.wrt)
      name += ", " + v.name;
    name += ")";
    if (prog.lookupDerived(name))
      return name;
  }
  info.name = name;
  prog.derived.push_back(info);
  return name;
}

/// Each batched argument and each result gains a leading axis of size B;
/// only f64 values and f64 tensors can be batched until int tensors exist
/// (section 13).
bool Checker::resolveVmap(ast::CallExpr &call, const std::string &base,
                          const FnSig &bsig, DerivedInfo &info) {
  if (call.args.size() < 2) {
    error(call.loc, "'vmap' needs a function and a batch size: "
                    "vmap(f, B, x, ...)");
    return false;
  }
  auto size = constExpr(*call.args[1]);
  if (!size)
    return false;
  if (!size->isInt || size->i < 1) {
    error(call.args[1]->loc,
          "the batch size of 'vmap' must be an int >= 1, found " +
              (size->isInt ? std::to_string(size->i) : std::string("an f64")));
    return false;
  }
  info.batch = size->i;
  // Batchable: the differentiable types, f64 and f64 tensors.
  auto batchable = [](const Type *t) { return t->isDifferentiable(); };
  // Arguments may also be ints and int tensors (section 11: `label: int`
  // becomes `int[B]`); results stay f64 values and tensors.
  auto batchableArg = [&](const Type *t) {
    return batchable(t) || t->isIntLike();
  };
  std::set<std::string> seen;
  bool ok = true;
  for (size_t i = 2; i < call.args.size(); ++i) {
    auto *n = uniqueName(*call.args[i], seen,
                         "'vmap' takes argument names after the batch size");
    if (!n) {
      ok = false;
      continue;
    }
    auto at =
        std::find(bsig.paramNames.begin(), bsig.paramNames.end(), n->name);
    if (at == bsig.paramNames.end()) {
      bool isParam = std::any_of(prog.params.begin(), prog.params.end(),
                                 [&](auto &p) { return p.name == n->name; });
      error(n->loc, "'" + n->name + "' is not an argument of '" + base + "'" +
                        (isParam ? ": vmap batches arguments, not params"
                                 : suggest(n->name, bsig.paramNames)));
      ok = false;
      continue;
    }
    WrtVar v;
    v.argIndex = (unsigned)(at - bsig.paramNames.begin());
    v.name = n->name;
    v.type = bsig.params[v.argIndex];
    if (!batchableArg(v.type)) {
      error(n->loc, "cannot batch '" + n->name + "' of type " +
                        toString(v.type) +
                        ": vmap batches f64 and int values and tensors");
      ok = false;
      continue;
    }
    info.wrt.push_back(v);
  }
  if (ok && info.wrt.empty()) // vmap(f, B): every argument
    for (size_t k = 0; k < bsig.params.size(); ++k) {
      if (!batchableArg(bsig.params[k])) {
        error(call.loc, "cannot batch '" + bsig.paramNames[k] + "' of type " +
                            toString(bsig.params[k]) +
                            ": name the arguments to batch, vmap(f, B, x)");
        return false;
      }
      info.wrt.push_back(
          {false, (unsigned)k, bsig.paramNames[k], bsig.params[k]});
    }
  if (!ok)
    return false;
  auto batched = [&](const Type *t) {
    std::vector<int64_t> shape = {info.batch};
    if (t->isTensor())
      shape.insert(shape.end(), t->shape.begin(), t->shape.end());
    return T.tensor(shape, TypeContext::elemOf(t));
  };
  std::vector<const Type *> results =
      bsig.result->isTuple() ? bsig.result->elems
                             : std::vector<const Type *>{bsig.result};
  for (const Type *&r : results) {
    if (!batchable(r)) {
      error(call.loc, "vmap needs a function returning f64 values or f64 "
                      "tensors, but '" +
                          base + "' returns " + toString(bsig.result));
      return false;
    }
    r = batched(r);
  }
  info.sig.paramNames = bsig.paramNames;
  info.sig.params = bsig.params;
  for (auto &v : info.wrt)
    info.sig.params[v.argIndex] = batched(v.type);
  info.sig.result = results.size() == 1 ? results[0] : T.tuple(results);
  return true;
}

//===----------------------------------------------------------------------===//
// Custom derivative rules (section 15)
//===----------------------------------------------------------------------===//

/// `adjoint f(f's params..., one per result element) -> one per f64 param`,
/// `tangent f(f's params..., one per f64 param) -> f's result`: a wrong
/// count, shape or type is an error at the first place it differs, naming
/// the expected signature.
void Checker::checkRule(const ast::FnItem &rule) {
  bool adjoint = rule.rule == ast::RuleKind::Adjoint;
  const char *kw = adjoint ? "adjoint" : "tangent";
  const std::string &f = rule.ruleOf;
  if (generics.count(f)) {
    error(rule.nameLoc, "'" + f +
                            "' takes function arguments and cannot "
                            "have " +
                            (adjoint ? "an " : "a ") + kw +
                            " rule (docs/FUNCTIONS.md)");
    return;
  }
  auto it = top.find(f);
  if (it == top.end() || it->second.kind != TopKind::Fn ||
      dyn<ast::FnItem>(it->second.item)->rule != ast::RuleKind::None) {
    std::vector<std::string> fns;
    for (auto &[n, sym] : top)
      if (sym.kind == TopKind::Fn && n.find_first_of(".<") == std::string::npos)
        fns.push_back(n);
    std::string why =
        it == top.end()
            ? "there is no function '" + f + "'" + didYouMean(f, fns)
        : it->second.kind == TopKind::Derived
            ? "'" + f +
                  "' is a derived function: rules are for functions defined "
                  "with fn " +
                  f + "(...) { ... }"
            : "'" + f + "' is not a function";
    error(rule.nameLoc, std::string(kw) + " rule for '" + f + "', but " + why);
    return;
  }
  const FnSig *fsig = prog.signature(f);
  const FnSig *rsig = prog.signature(rule.name);
  if (!fsig || !rsig)
    return; // a declaration failed and was reported
  // The expected parameters and results.
  FnSig want;
  want.paramNames = fsig->paramNames;
  want.params = fsig->params;
  std::vector<const Type *> results =
      fsig->result->isTuple()  ? fsig->result->elems
      : fsig->result->isVoid() ? std::vector<const Type *>{}
                               : std::vector<const Type *>{fsig->result};
  std::vector<const Type *> wantResults;
  if (adjoint) {
    for (size_t i = 0; i < results.size(); ++i) {
      want.paramNames.push_back(results.size() == 1 ? "dr"
                                                    : "dr" + std::to_string(i));
      want.params.push_back(results[i]);
    }
    for (const Type *t : fsig->params)
      if (t->isDifferentiable())
        wantResults.push_back(t);
  } else {
    for (size_t i = 0; i < fsig->params.size(); ++i)
      if (fsig->params[i]->isDifferentiable()) {
        want.paramNames.push_back("d" + fsig->paramNames[i]);
        want.params.push_back(fsig->params[i]);
      }
    wantResults = results;
  }
  want.result = wantResults.empty()       ? T.voidTy()
                : wantResults.size() == 1 ? wantResults[0]
                                          : T.tuple(wantResults);
  std::string expected = std::string(kw) + " " + f + "(";
  for (size_t i = 0; i < want.params.size(); ++i)
    expected +=
        (i ? ", " : "") + want.paramNames[i] + ": " + toString(want.params[i]);
  expected += ")";
  if (!want.result->isVoid())
    expected += " -> " + toString(want.result);
  auto fail = [&](Loc at, const std::string &what) {
    error(at, std::string("the ") + kw + " rule for '" + f + "' " + what +
                  ": expected " + expected);
  };
  if (rsig->params.size() != want.params.size()) {
    fail(rule.nameLoc, "has " + std::to_string(rsig->params.size()) +
                           " parameters, not " +
                           std::to_string(want.params.size()));
    return;
  }
  for (size_t i = 0; i < want.params.size(); ++i)
    if (rsig->params[i] != want.params[i]) {
      fail(rule.params[i].type.loc,
           "has parameter " + std::to_string(i + 1) + " '" +
               rsig->paramNames[i] + "' of type " + toString(rsig->params[i]) +
               ", not " + toString(want.params[i]));
      return;
    }
  if (rsig->result != want.result)
    fail(rule.result ? rule.result->loc : rule.nameLoc,
         rsig->result->isVoid()
             ? std::string("returns nothing")
             : "returns " + toString(rsig->result) +
                   (want.result->isVoid()
                        ? ", but '" + f + "' has no f64 parameter"
                        : ", not " + toString(want.result)));
}

/// A function with a rule is differentiated only through it, so it must
/// not read a param (nor may a function it calls): its derivative w.r.t.
/// the param would be missing.
void Checker::checkRuleReadsNoParam(const ast::FnItem &rule) {
  const std::string &f = rule.ruleOf;
  auto known = top.find(f);
  if (known == top.end() || known->second.kind != TopKind::Fn)
    return;
  std::set<std::string> seen;
  std::vector<std::string> work = {f};
  while (!work.empty()) {
    std::string g = work.back();
    work.pop_back();
    if (!seen.insert(g).second)
      continue;
    if (auto it = paramReads.find(g); it != paramReads.end()) {
      error(rule.nameLoc, "'" + f + "' has a custom derivative rule but " +
                              (g == f ? std::string("reads")
                                      : "calls '" + g + "', which reads") +
                              " param '" + it->second.first + "' (" +
                              diags.source().lineRef(it->second.second.line,
                                                     rule.nameLoc.line) +
                              "): pass it to '" + f + "' as an argument");
      return;
    }
    if (const DerivedInfo *d = prog.lookupDerived(g))
      work.push_back(d->base);
    for (auto &c : callGraph[g])
      work.push_back(c);
  }
}

} // namespace bp::sema::detail
