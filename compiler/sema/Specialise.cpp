//===- Specialise.cpp - functions as arguments (LANGUAGE.md section 21) ---===//
//
// A function with a parameter of function type `fn(T1, ..., Tn) -> R` (a
// "generic" here) is never checked or compiled itself. Each call that gives
// it functions for those parameters names a specialisation, made once per
// distinct tuple of functions: a copy of the generic, named like
// `descend<bowl>`, without the fn-typed parameters, whose body uses the
// given functions where it used the parameters (`f(x)` becomes `bowl(x)`,
// `grad(f)` becomes `grad(bowl)`, a derived argument `grad(g)` is copied in
// as an inline derived form). The call is rewritten to call the copy, and
// the rest of the pipeline sees only ordinary functions (docs/FUNCTIONS.md).
//
//===----------------------------------------------------------------------===//
#include "sema/Checker.h"

#include <algorithm>
#include <functional>
#include <memory>

namespace bp::sema::detail {

using namespace ast;

namespace {

/// Specialisations nest at most this deep (one made while walking the body
/// of another is one deeper): a recursion that passes a new function on
/// every call (`r(grad(f))` inside `r`) would otherwise make them without
/// end. Any number of specialisations may be made from ordinary functions.
constexpr size_t maxSpecialisationDepth = 16;

template <class T, class U> T *as(U *x) {
  return x && T::classof(x) ? static_cast<T *>(x) : nullptr;
}

bool isDeriveCall(const Expr &e) {
  auto *c = as<const CallExpr>(&e);
  auto *n = c ? as<const NameExpr>(c->callee.get()) : nullptr;
  return n && builtinKind(n->name) == Builtin::Derive;
}

/// Deep copies of function bodies; a NameExpr whose name is a key of
/// `subst` becomes a copy of its value, recorded in `uses`.
struct Copier {
  const std::map<std::string, const Expr *> &subst;
  std::map<const Expr *, std::string> &uses;
  /// Inside a copy of a given function (which names no parameter of the
  /// generic, though it may share a name with one) and in wrt-names.
  bool off = false;

  template <class T> static std::unique_ptr<T> make(const T &e) {
    return std::make_unique<T>(e.loc);
  }
  ExprPtr opt(const ExprPtr &e) { return e ? expr(*e) : nullptr; }
  ExprPtr plain(const Expr &e) {
    bool was = off;
    off = true;
    ExprPtr r = expr(e);
    off = was;
    return r;
  }
  std::vector<ExprPtr> list(const std::vector<ExprPtr> &es) {
    std::vector<ExprPtr> out;
    for (auto &e : es)
      out.push_back(expr(*e));
    return out;
  }
  ExprPtr name(const NameExpr &n) {
    auto it = off ? subst.end() : subst.find(n.name);
    if (it == subst.end())
      return std::make_unique<NameExpr>(n.loc, n.name);
    ExprPtr r = plain(*it->second);
    r->loc = n.loc;
    uses[r.get()] = n.name;
    return r;
  }
  ExprPtr call(const CallExpr &c) {
    auto r = std::make_unique<CallExpr>(c.loc, expr(*c.callee));
    // grad(f, x): only the function is substituted; x names its argument.
    bool derive = isDeriveCall(c);
    for (size_t i = 0; i < c.args.size(); ++i)
      r->args.push_back(derive && i > 0 ? plain(*c.args[i]) : expr(*c.args[i]));
    return r;
  }
  ExprPtr index(const IndexExpr &e) {
    auto r = std::make_unique<IndexExpr>(e.loc, expr(*e.base));
    for (auto &ix : e.indices) {
      IndexArg a;
      a.loc = ix.loc;
      a.isSlice = ix.isSlice;
      a.index = opt(ix.index);
      a.lo = opt(ix.lo);
      a.hi = opt(ix.hi);
      r->indices.push_back(std::move(a));
    }
    return r;
  }
  ExprPtr expr(const Expr &e);
  StmtPtr stmt(const Stmt &s);
  Block block(const Block &b) {
    Block r;
    r.loc = b.loc;
    r.endLoc = b.endLoc;
    for (auto &s : b.stmts)
      r.stmts.push_back(stmt(*s));
    return r;
  }
};

ExprPtr Copier::expr(const Expr &e) {
  switch (e.kind) {
  case ExprKind::Number: {
    auto &n = static_cast<const NumberExpr &>(e);
    auto r = make(n);
    r->isInt = n.isInt;
    r->intValue = n.intValue;
    r->floatValue = n.floatValue;
    r->text = n.text;
    return r;
  }
  case ExprKind::Bool:
    return std::make_unique<BoolExpr>(e.loc,
                                      static_cast<const BoolExpr &>(e).value);
  case ExprKind::String:
    return std::make_unique<StringExpr>(
        e.loc, static_cast<const StringExpr &>(e).value);
  case ExprKind::Name:
    return name(static_cast<const NameExpr &>(e));
  case ExprKind::Unary: {
    auto &u = static_cast<const UnaryExpr &>(e);
    return std::make_unique<UnaryExpr>(u.loc, u.op, expr(*u.operand));
  }
  case ExprKind::Binary: {
    auto &b = static_cast<const BinaryExpr &>(e);
    auto r =
        std::make_unique<BinaryExpr>(b.loc, b.op, expr(*b.lhs), expr(*b.rhs));
    r->opLoc = b.opLoc;
    return r;
  }
  case ExprKind::Call:
    return call(static_cast<const CallExpr &>(e));
  case ExprKind::Index:
    return index(static_cast<const IndexExpr &>(e));
  case ExprKind::Tuple: {
    auto r = make(static_cast<const TupleExpr &>(e));
    r->elems = list(static_cast<const TupleExpr &>(e).elems);
    return r;
  }
  case ExprKind::TensorLit: {
    auto r = make(static_cast<const TensorLitExpr &>(e));
    r->elems = list(static_cast<const TensorLitExpr &>(e).elems);
    return r;
  }
  case ExprKind::IfExpr: {
    auto &i = static_cast<const IfExpr &>(e);
    auto r = make(i);
    r->cond = opt(i.cond);
    r->thenExpr = opt(i.thenExpr);
    r->elseExpr = opt(i.elseExpr);
    return r;
  }
  }
  return nullptr;
}

StmtPtr Copier::stmt(const Stmt &s) {
  switch (s.kind) {
  case StmtKind::Let: {
    auto &l = static_cast<const LetStmt &>(s);
    auto r = make(l);
    r->isVar = l.isVar;
    r->isDestructure = l.isDestructure;
    r->names = l.names;
    r->type = l.type;
    r->init = opt(l.init);
    return r;
  }
  case StmtKind::Assign: {
    auto &a = static_cast<const AssignStmt &>(s);
    auto r = make(a);
    r->op = a.op;
    r->target = opt(a.target);
    r->value = opt(a.value);
    return r;
  }
  case StmtKind::If: {
    auto &i = static_cast<const IfStmt &>(s);
    auto r = make(i);
    r->cond = opt(i.cond);
    r->thenBlock = block(i.thenBlock);
    if (i.elseBlock)
      r->elseBlock = block(*i.elseBlock);
    return r;
  }
  case StmtKind::For: {
    auto &f = static_cast<const ForStmt &>(s);
    auto r = make(f);
    r->var = f.var;
    r->lo = opt(f.lo);
    r->hi = opt(f.hi);
    r->body = block(f.body);
    return r;
  }
  case StmtKind::While: {
    auto &w = static_cast<const WhileStmt &>(s);
    auto r = make(w);
    r->cond = opt(w.cond);
    r->body = block(w.body);
    return r;
  }
  case StmtKind::Return: {
    auto r = make(static_cast<const ReturnStmt &>(s));
    r->value = opt(static_cast<const ReturnStmt &>(s).value);
    return r;
  }
  case StmtKind::Expr:
    return std::make_unique<ExprStmt>(
        s.loc, expr(*static_cast<const ExprStmt &>(s).expr));
  }
  return nullptr;
}

/// Calls `f` on every expression slot directly under `e` (children) or in
/// the statements of `b` (outermost expressions).
template <class F> void children(Expr &e, F &&f) {
  switch (e.kind) {
  case ExprKind::Unary:
    f(static_cast<UnaryExpr &>(e).operand);
    break;
  case ExprKind::Binary:
    f(static_cast<BinaryExpr &>(e).lhs);
    f(static_cast<BinaryExpr &>(e).rhs);
    break;
  case ExprKind::Call:
    f(static_cast<CallExpr &>(e).callee);
    for (auto &a : static_cast<CallExpr &>(e).args)
      f(a);
    break;
  case ExprKind::Index:
    f(static_cast<IndexExpr &>(e).base);
    for (auto &ix : static_cast<IndexExpr &>(e).indices)
      for (ExprPtr *p : {&ix.index, &ix.lo, &ix.hi})
        f(*p);
    break;
  case ExprKind::Tuple:
    for (auto &x : static_cast<TupleExpr &>(e).elems)
      f(x);
    break;
  case ExprKind::TensorLit:
    for (auto &x : static_cast<TensorLitExpr &>(e).elems)
      f(x);
    break;
  case ExprKind::IfExpr:
    f(static_cast<IfExpr &>(e).cond);
    f(static_cast<IfExpr &>(e).thenExpr);
    f(static_cast<IfExpr &>(e).elseExpr);
    break;
  default:
    break;
  }
}

/// `f(expr slot)` for each statement's expressions, `bind(binding)` for each
/// local it introduces, through nested blocks.
template <class F, class B> void walkBlock(Block &b, F &&f, B &&bind) {
  for (auto &sp : b.stmts) {
    Stmt &s = *sp;
    switch (s.kind) {
    case StmtKind::Let:
      f(static_cast<LetStmt &>(s).init);
      for (auto &n : static_cast<LetStmt &>(s).names)
        bind(n);
      break;
    case StmtKind::Assign:
      f(static_cast<AssignStmt &>(s).target);
      f(static_cast<AssignStmt &>(s).value);
      break;
    case StmtKind::If: {
      auto &i = static_cast<IfStmt &>(s);
      f(i.cond);
      walkBlock(i.thenBlock, f, bind);
      if (i.elseBlock)
        walkBlock(*i.elseBlock, f, bind);
      break;
    }
    case StmtKind::For: {
      auto &fs = static_cast<ForStmt &>(s);
      f(fs.lo);
      f(fs.hi);
      bind(fs.var);
      walkBlock(fs.body, f, bind);
      break;
    }
    case StmtKind::While:
      f(static_cast<WhileStmt &>(s).cond);
      walkBlock(static_cast<WhileStmt &>(s).body, f, bind);
      break;
    case StmtKind::Return:
      f(static_cast<ReturnStmt &>(s).value);
      break;
    case StmtKind::Expr:
      f(static_cast<ExprStmt &>(s).expr);
      break;
    }
  }
}

} // namespace

bool Checker::isGeneric(const FnItem &f) {
  return std::any_of(f.params.begin(), f.params.end(), [](const FnParam &p) {
    return p.type.kind == TypeExpr::Fn;
  });
}

std::string Checker::sigString(const FnSig &s) {
  std::string r = "fn(";
  for (size_t i = 0; i < s.params.size(); ++i)
    r += (i ? ", " : "") + toString(s.params[i]);
  r += ")";
  if (s.result && !s.result->isVoid())
    r += " -> " + toString(s.result);
  return r;
}

bool Checker::fnType(const TypeExpr &t, FnSig &sig) {
  bool ok = true;
  for (auto &e : t.elems) {
    const Type *et = resolveType(e);
    if (et && et->isTuple()) {
      error(e.loc, "a function argument cannot be a tuple");
      et = nullptr;
    }
    ok &= et != nullptr;
    sig.params.push_back(et);
    sig.paramNames.push_back("");
  }
  sig.result = t.result.empty() ? T.voidTy() : resolveType(t.result[0]);
  return ok && sig.result;
}

void Checker::declareGeneric(FnItem &f) {
  bool ok = true;
  if (f.rule != RuleKind::None) {
    error(f.nameLoc, "a derivative rule cannot take function arguments");
    return;
  }
  auto it = top.find(f.name);
  if (it == top.end() || it->second.item != &f)
    return; // a builtin's name or defined twice (reported)
  generics[f.name] = &f;
  if (f.name == "main")
    error(f.nameLoc, "'main' takes no arguments and returns nothing");
  std::set<std::string> seen;
  for (auto &p : f.params) {
    if (!seen.insert(p.name.name).second) {
      error(p.name.loc, "duplicate argument '" + p.name.name + "'");
      ok = false;
    }
    FnSig s;
    if (p.type.kind == TypeExpr::Fn)
      ok &= fnType(p.type, s);
    else if (const Type *t = resolveType(p.type); !t || t->isTuple())
      ok = false; // declareFn reports the tuple for each specialisation
  }
  if (f.result)
    ok &= resolveType(*f.result) != nullptr;
  if (!ok)
    badGenerics.insert(f.name);
}

/// A fn-typed parameter may be called, differentiated or batched (the
/// first argument of grad, vmap, ...) and passed to a fn-typed parameter;
/// it is no value and no local may take its name.
void Checker::checkGenericBody(FnItem &g) {
  std::set<std::string> fparams;
  for (auto &p : g.params)
    if (p.type.kind == TypeExpr::Fn)
      fparams.insert(p.name.name);
  bool ok = true;
  std::function<void(ExprPtr &, bool)> use = [&](ExprPtr &e, bool allowed) {
    if (!e)
      return;
    if (auto *n = as<NameExpr>(e.get())) {
      if (fparams.count(n->name) && !allowed) {
        error(n->loc, "'" + n->name + "' is a function argument of '" + g.name +
                          "': call it, differentiate it or pass it to a "
                          "function argument; it is not a value");
        ok = false;
      }
      return;
    }
    auto *c = as<CallExpr>(e.get());
    if (!c)
      return children(*e, [&](ExprPtr &x) { use(x, false); });
    use(c->callee, true);
    auto *callee = as<NameExpr>(c->callee.get());
    auto gen = callee ? generics.find(callee->name) : generics.end();
    for (size_t i = 0; i < c->args.size(); ++i) {
      if (isDeriveCall(*c)) {
        if (i == 0)
          use(c->args[0], true);
        continue; // the names of the function's arguments
      }
      bool fnArg = gen != generics.end() && i < gen->second->params.size() &&
                   gen->second->params[i].type.kind == TypeExpr::Fn;
      use(c->args[i], fnArg);
    }
  };
  walkBlock(
      g.body, [&](ExprPtr &e) { use(e, false); },
      [&](const Binding &b) {
        if (fparams.count(b.name)) {
          error(b.loc, "'" + b.name + "' is a function argument of '" + g.name +
                           "' and cannot be redefined in it");
          ok = false;
        }
      });
  if (!ok)
    badGenerics.insert(g.name);
}

std::string Checker::fnArgument(Expr &arg, const FnParam &p, const FnItem &g) {
  FnSig want;
  fnType(p.type, want); // checked by declareGeneric
  std::string what = "argument '" + p.name.name + "' of '" + g.name + "'";
  std::string name;
  if (auto *n = as<NameExpr>(&arg)) {
    if (generics.count(n->name)) {
      error(n->loc, what + " expects " + sigString(want) + ", but '" + n->name +
                        "' takes function arguments itself and cannot be "
                        "passed as a function");
      return "";
    }
    auto it = top.find(n->name);
    if (it == top.end() || it->second.kind == TopKind::Const ||
        it->second.kind == TopKind::Param) {
      error(n->loc, what + " expects a function " + sigString(want) +
                        ", but '" + n->name + "' is not a function" +
                        (isBuiltin(n->name) ? " of this file (builtins "
                                              "cannot be passed; wrap it in "
                                              "a function)"
                                            : ""));
      return "";
    }
    if (!callable(n->name))
      return ""; // its declaration failed and was reported
    name = n->name;
  } else if (isDeriveCall(arg)) {
    name = resolveDerived(static_cast<CallExpr &>(arg));
    if (name.empty())
      return "";
  } else {
    error(arg.loc, what + " expects a function " + sigString(want) +
                       ": a function's name or a derived form such as "
                       "grad(g)");
    return "";
  }
  const FnSig &got = *prog.signature(name);
  if (got.params != want.params || got.result != want.result) {
    error(arg.loc, what + " expects " + sigString(want) + ", but '" + name +
                       "' is " + sigString(got));
    return "";
  }
  return name;
}

FnItem *Checker::instantiate(FnItem &g, const std::string &name,
                             std::vector<ExprPtr> args) {
  auto f = std::make_unique<FnItem>(g.loc);
  f->name = name;
  f->nameLoc = g.nameLoc;
  f->specialisedFrom = g.name;
  std::map<std::string, const Expr *> subst;
  for (size_t i = 0; i < g.params.size(); ++i) {
    if (g.params[i].type.kind == TypeExpr::Fn)
      subst[g.params[i].name.name] = args[i].get();
    else
      f->params.push_back(g.params[i]);
  }
  f->result = g.result;
  Copier copy{subst, fnParamUses};
  f->body = copy.block(g.body);
  for (auto &a : args)
    if (a)
      f->fnArgs.push_back(std::move(a));
  FnItem *raw = f.get();
  module.items.push_back(std::move(f));
  top.emplace(name, TopSym{TopKind::Fn, raw});
  specialisations[name] = raw;
  declareFn(*raw);
  return raw;
}

void Checker::specialiseCall(CallExpr &c, FnItem &g) {
  auto *callee = static_cast<NameExpr *>(c.callee.get());
  unspecialised.insert(&c);
  if (c.args.size() != g.params.size()) {
    error(c.loc, "'" + g.name + "' takes " + std::to_string(g.params.size()) +
                     (g.params.size() == 1 ? " argument" : " arguments") +
                     ", found " + std::to_string(c.args.size()));
    return;
  }
  if (badGenerics.count(g.name))
    return;
  std::string key = g.name + "<";
  bool ok = true, first = true;
  for (size_t i = 0; i < g.params.size(); ++i) {
    if (g.params[i].type.kind != TypeExpr::Fn)
      continue;
    std::string n = fnArgument(*c.args[i], g.params[i], g);
    ok &= !n.empty();
    key += (first ? "" : ", ") + n;
    first = false;
  }
  if (!ok)
    return;
  key += ">";
  std::vector<ExprPtr> args(c.args.size());
  for (size_t i = 0; i < g.params.size(); ++i)
    if (g.params[i].type.kind == TypeExpr::Fn)
      args[i] = std::move(c.args[i]);
  if (!specialisations.count(key)) {
    if (walkDepth + 1 > maxSpecialisationDepth) {
      if (runaway.insert(g.name).second)
        error(c.loc, "specialising '" + g.name + "' here nests more than " +
                         std::to_string(maxSpecialisationDepth) +
                         " specialisations deep: a recursion that passes a "
                         "new function on each call has no end");
      return;
    }
    instantiate(g, key, std::move(args));
    specDepth[key] = walkDepth + 1;
  }
  std::erase_if(c.args, [](const ExprPtr &a) { return !a; });
  callee->name = key;
  unspecialised.erase(&c);
}

void Checker::specialiseCalls(ExprPtr &e) {
  if (!e)
    return;
  children(*e, [&](ExprPtr &x) { specialiseCalls(x); });
  auto *c = as<CallExpr>(e.get());
  auto *n = c ? as<NameExpr>(c->callee.get()) : nullptr;
  if (auto it = n ? generics.find(n->name) : generics.end();
      it != generics.end())
    specialiseCall(*c, *it->second);
}

void Checker::specialiseAll() {
  if (generics.empty())
    return;
  for (auto &[name, g] : generics)
    checkGenericBody(*g);
  // Specialisations are appended to module.items and walked in turn.
  for (size_t i = 0; i < module.items.size(); ++i) {
    auto *f = dyn<FnItem>(module.items[i].get());
    auto depth = f ? specDepth.find(f->name) : specDepth.end();
    walkDepth = depth == specDepth.end() ? 0 : depth->second;
    if (f && !generics.count(f->name))
      walkBlock(
          f->body, [&](ExprPtr &e) { specialiseCalls(e); },
          [](const Binding &) {});
  }
}

} // namespace bp::sema::detail
