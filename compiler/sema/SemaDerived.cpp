//===- SemaDerived.cpp - sema: derived functions --------------------------===//
//
// grad(f, ...), value_and_grad(f, ...) and jvp(f, ...), named or inline:
// the variables they name, their signatures, and did-you-mean for both.
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
  auto *call = dyn<ast::CallExpr>(d.value.get());
  auto *callee = call ? dyn<ast::NameExpr>(call->callee.get()) : nullptr;
  if (!callee || builtinKind(callee->name) != Builtin::Derive) {
    error(d.value->loc, "a derived function is grad(f, ...), "
                        "value_and_grad(f, ...) or jvp(f, ...)");
    return;
  }
  if (!evaluating.insert(d.name).second) {
    error(d.nameLoc, "derived function '" + d.name + "' depends on itself");
    return;
  }
  // Resolved once: a failure is reported at the definition, not again at
  // every use.
  if (!attemptedDerived.insert(d.name).second) {
    evaluating.erase(d.name);
    return;
  }
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
    auto *n = dyn<ast::NameExpr>(call.args[i].get());
    if (!n) {
      error(call.args[i]->loc, std::string("'") + what +
                                   "' takes variable names after the "
                                   "function");
      ok = false;
      continue;
    }
    if (!seen.insert(n->name).second) {
      error(n->loc, "'" + n->name + "' is named twice");
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
/// per variable for jvp) and its results (LANGUAGE.md section 4); false
/// after an error.
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
  std::vector<WrtVar> wrt;
  if (!derivedWrt(call, kind, base, bsig, wrt))
    return "";
  FnSig sig;
  if (!derivedSig(call, kind, base, bsig, wrt, sig))
    return "";
  info.sig = sig;
  info.wrt = wrt;
  if (name.empty()) {
    name = std::string(what) + "(" + base;
    for (auto &v : wrt)
      name += ", " + v.name;
    name += ")";
    if (prog.lookupDerived(name))
      return name;
  }
  info.name = name;
  prog.derived.push_back(info);
  return name;
}

} // namespace bp::sema::detail
