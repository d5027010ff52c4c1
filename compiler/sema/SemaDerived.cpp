//===- SemaDerived.cpp - sema: derived functions --------------------------===//
//
// grad(f, ...), value_and_grad(f, ...), jvp(f, ...), vjp(f, ...),
// jacobian(f, x), hessian(f, x) and vmap(f, B, ...),
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
          "vjp(f, ...), jacobian(f, x), hessian(f, x) (section 16)");
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
    if (!batchable(v.type)) {
      error(n->loc, "cannot batch '" + n->name + "' of type " +
                        toString(v.type) +
                        ": vmap batches f64 values and f64 tensors");
      ok = false;
      continue;
    }
    info.wrt.push_back(v);
  }
  if (ok && info.wrt.empty()) // vmap(f, B): every argument
    for (size_t k = 0; k < bsig.params.size(); ++k) {
      if (!batchable(bsig.params[k])) {
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
    return T.tensor(shape);
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

} // namespace bp::sema::detail
