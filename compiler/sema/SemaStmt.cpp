//===- SemaStmt.cpp - sema: function bodies -------------------------------===//
//
// Statements, scopes and locals, and the return paths of a function.
//
//===----------------------------------------------------------------------===//
#include "sema/Checker.h"
#include "sema/Shapes.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>

namespace bp::sema::detail {

void Checker::checkFn(const ast::FnItem &f) {
  auto it = prog.fnSigs.find(f.name);
  if (it == prog.fnSigs.end())
    return;
  curSig = &it->second;
  curFn = &f;
  scopes.clear();
  scopes.emplace_back();
  for (size_t i = 0; i < f.params.size(); ++i)
    scopes.back()[f.params[i].name.name] = {curSig->params[i], false,
                                            f.params[i].name.loc};
  checkBlock(f.body);
  if (!curSig->result->isVoid() && !alwaysReturns(f.body))
    error(f.body.endLoc, "function '" + f.name + "' must return " +
                             toString(curSig->result) +
                             " on every path (missing 'return' at the end)");
}

bool Checker::alwaysReturns(const ast::Block &b) {
  for (auto &s : b.stmts) {
    if (s->kind == ast::StmtKind::Return)
      return true;
    if (auto *i = dyn<ast::IfStmt>(s.get()))
      if (i->elseBlock && alwaysReturns(i->thenBlock) &&
          alwaysReturns(*i->elseBlock))
        return true;
  }
  return false;
}

const Local *Checker::lookupLocal(const std::string &n) {
  for (auto it = scopes.rbegin(); it != scopes.rend(); ++it) {
    auto f = it->find(n);
    if (f != it->end())
      return &f->second;
  }
  return nullptr;
}

void Checker::checkBlock(const ast::Block &b) {
  scopes.emplace_back();
  for (auto &s : b.stmts)
    checkStmt(*s);
  scopes.pop_back();
}

void Checker::bind(const ast::Binding &b, const Type *t, bool isVar) {
  auto &scope = scopes.back();
  auto it = scope.find(b.name);
  if (it != scope.end() && scopes.size() > 2) {
    // Re-binding in the same block is allowed at function level (`let x`
    // twice shadows), but we report it inside nested blocks too rarely to
    // matter; keep the simple rule: a later binding shadows.
  }
  scope[b.name] = {t, isVar, b.loc};
}

/// Can a value of type `from` be used where `to` is expected?
bool Checker::convertible(const Type *from, const Type *to) {
  // int -> f64 (section 3), elementwise for int tensors (section 13).
  return from == to || (from->isInt() && to->isF64()) ||
         (from->isIntTensor() && to->isF64Tensor() && from->shape == to->shape);
}

void Checker::expectType(ast::Expr &e, const Type *got, const Type *want,
                         const std::string &context) {
  if (got && want)
    got = adoptIntTensor(e, got, want);
  if (!got || !want || convertible(got, want))
    return;
  error(e.loc,
        context + ": expected " + toString(want) + ", found " + toString(got));
}

/// A tensor literal whose leaves are all ints: int literals (`[1, -2]`,
/// `[[0, 1]]`), any int expressions (`[i, n - 1]`) or int tensor rows.
static bool intLiteralTensor(const ast::Expr &e) {
  if (e.kind != ast::ExprKind::TensorLit)
    return false;
  auto &lit = static_cast<const ast::TensorLitExpr &>(e);
  return std::all_of(
      lit.elems.begin(), lit.elems.end(), [](const ast::ExprPtr &x) {
        auto *t = static_cast<const Type *>(x->type);
        return x->kind == ast::ExprKind::TensorLit ? intLiteralTensor(*x)
                                                   : t && t->isIntLike();
      });
}

/// Sets the types of a literal of ints as an int tensor (and of its nested
/// rows; the leaves are ints already).
static void retypeInt(TypeContext &T, ast::Expr &e, const Type *t) {
  if (e.kind != ast::ExprKind::TensorLit)
    return;
  e.type = t;
  std::vector<int64_t> rest(t->shape.begin() + 1, t->shape.end());
  for (auto &x : static_cast<ast::TensorLitExpr &>(e).elems)
    if (!rest.empty())
      retypeInt(T, *x, T.tensor(rest, Elem::Int));
}

const Type *Checker::adoptIntTensor(ast::Expr &e, const Type *got,
                                    const Type *want) {
  if (!want->isIntTensor() || !got->isF64Tensor() || got->shape != want->shape)
    return got;
  auto *call = dyn<ast::CallExpr>(&e);
  auto *callee = call ? dyn<ast::NameExpr>(call->callee.get()) : nullptr;
  bool filled = callee && (callee->name == "zeros" || callee->name == "ones") &&
                !lookupLocal(callee->name);
  if (!filled && !intLiteralTensor(e))
    return got;
  e.type = want;
  retypeInt(T, e, want);
  return want;
}

void Checker::checkLet(const ast::LetStmt &l) {
  if (isReadCsv(*l.init)) {
    checkReadCsv(l);
    return;
  }
  const Type *t = expr(*l.init);
  if (l.isDestructure) {
    if (t && (!t->isTuple() || t->elems.size() != l.names.size())) {
      error(l.init->loc, "cannot destructure " + toString(t) + " into " +
                             std::to_string(l.names.size()) + " names");
      t = nullptr;
    }
    for (size_t i = 0; i < l.names.size(); ++i)
      bind(l.names[i], t ? t->elems[i] : nullptr, l.isVar);
    return;
  }
  if (t && t->isVoid()) {
    auto *call = dyn<ast::CallExpr>(l.init.get());
    auto *fn = call ? dyn<ast::NameExpr>(call->callee.get()) : nullptr;
    error(l.init->loc,
          "this expression has no value" +
              (fn ? " ('" + fn->name +
                        "' returns nothing; declare its result: -> T)"
                  : std::string()));
    t = nullptr;
  }
  if (t && t->kind == TypeKind::Str) {
    error(l.init->loc, "strings are only for paths and messages");
    t = nullptr;
  }
  if (l.type) {
    const Type *declaredT = resolveType(*l.type);
    expectType(*l.init, t, declaredT,
               "initialiser of '" + l.names[0].name + "'");
    t = declaredT;
  }
  bind(l.names[0], t, l.isVar);
}

void Checker::checkAssign(const ast::AssignStmt &a) {
  using namespace ast;
  const Type *vt = expr(*a.value);
  if (auto *ix = dyn<IndexExpr>(a.target.get())) {
    checkElementAssign(a, *ix, vt);
    return;
  }
  checkNameAssign(a, vt);
}

/// `v[i, j] op= e`: v must be a var tensor.
void Checker::checkElementAssign(const ast::AssignStmt &a, ast::IndexExpr &ix,
                                 const Type *vt) {
  using namespace ast;
  auto *base = dyn<NameExpr>(ix.base.get());
  if (!base) {
    error(ix.base->loc, "only a variable's elements can be assigned");
    return;
  }
  const Local *l = lookupLocal(base->name);
  if (!l) {
    error(base->loc,
          top.count(base->name)
              ? "cannot assign elements of '" + base->name +
                    "': only 'var' tensors can change "
                    "element by element"
              : "unknown name '" + base->name + "'" + suggest(base->name));
    return;
  }
  if (!l->isVar) {
    error(base->loc, "cannot assign to an element of '" + base->name +
                         "': it is immutable (declare it with 'var')");
    return;
  }
  bool sliced = std::any_of(ix.indices.begin(), ix.indices.end(),
                            [](const IndexArg &i) { return i.isSlice; });
  const Type *et = index(ix);
  ix.type = et;
  if (!et || !vt)
    return;
  if (!ix.indices.empty() && !ix.indices[0].isSlice &&
      static_cast<const Type *>(ix.indices[0].index->type)->isIntTensor()) {
    error(ix.indices[0].loc, "cannot assign to the rows gathered by an int "
                             "tensor index; update the rows one by one "
                             "(E[t[j]] = ...)");
    return;
  }
  if (sliced) {
    // A scalar fills the slice; a tensor must broadcast to its shape.
    std::string err;
    const Type *r = vt->isNumeric() || vt->isTensor()
                        ? sema::broadcast(T, et, vt, "=", err)
                        : nullptr;
    if (!r || !r->isTensor() || r->shape != et->shape ||
        (et->isIntTensor() && !adoptIntTensor(*a.value, vt, et)->isIntLike()))
      error(a.value->loc, "cannot assign " + toString(vt) + " to the slice " +
                              toString(et) + " of '" + base->name + "'");
    return;
  }
  expectType(*a.value, vt, et, "element of '" + base->name + "'");
}

/// `x op= e` to a local or a param.
void Checker::checkNameAssign(const ast::AssignStmt &a, const Type *vt) {
  using namespace ast;
  auto *n = dyn<NameExpr>(a.target.get());
  if (!n) {
    error(a.target->loc, "only a variable or an element can be assigned");
    return;
  }
  const Local *l = lookupLocal(n->name);
  if (!l) {
    auto it = top.find(n->name);
    if (it != top.end() && it->second.kind == TopKind::Param) {
      const ParamInfo *p = findParam(n->name);
      n->type = p ? p->type : nullptr;
      paramStores.try_emplace(curFn->name, n->name, n->loc);
      if (!p || !vt)
        return;
      if (a.op != AssignOp::Set && p->type->isTensor())
        checkTensorCompound(a, n->name, p->type, vt);
      else
        expectType(*a.value, vt, p->type, "assignment to '" + n->name + "'");
      return;
    }
    error(n->loc, it != top.end()
                      ? "cannot assign to '" + n->name +
                            "': only 'var' bindings and params can change"
                      : "unknown name '" + n->name + "'" + suggest(n->name));
    return;
  }
  n->type = l->type;
  if (!l->isVar) {
    error(n->loc, "cannot assign to '" + n->name +
                      "': it is immutable (declare it with 'var')");
    return;
  }
  if (!l->type || !vt)
    return;
  if (a.op != AssignOp::Set && l->type->isTensor() &&
      !l->type->isBoolTensor()) {
    checkTensorCompound(a, n->name, l->type, vt);
    return;
  }
  if (a.op != AssignOp::Set && !l->type->isNumeric()) {
    error(n->loc, "compound assignment needs a number, '" + n->name + "' is " +
                      toString(l->type));
    return;
  }
  if (l->type->isInt() && vt->isF64()) {
    error(a.value->loc, "cannot assign f64 to int variable '" + n->name +
                            "' (use int(x) to truncate)");
    return;
  }
  expectType(*a.value, vt, l->type, "assignment to '" + n->name + "'");
}

/// `x op= e` on a tensor `x` is elementwise (section 5): `e`, a number or a
/// tensor, must broadcast to x's shape without changing it.
void Checker::checkTensorCompound(const ast::AssignStmt &a,
                                  const std::string &name, const Type *xt,
                                  const Type *vt) {
  std::string op = ast::spelling(a.op);
  if (!vt->isNumeric() && !(vt->isTensor() && !vt->isBoolTensor())) {
    error(a.value->loc, "'" + op + "' on '" + name + "' needs a number or " +
                            "a tensor, found " + toString(vt));
    return;
  }
  if (xt->isIntTensor() && !adoptIntTensor(*a.value, vt, xt)->isIntLike()) {
    error(a.value->loc, "'" + op + "' on the int tensor '" + name +
                            "' needs an int or an int tensor, found " +
                            toString(vt));
    return;
  }
  std::string err;
  const Type *r = sema::broadcast(T, xt, vt, op, err);
  if (!r) {
    error(a.value->loc, err);
    return;
  }
  if (r->shape != xt->shape)
    error(a.value->loc, "'" + op + "' would change the shape of '" + name +
                            "': " + toString(xt) + " " + op + " " +
                            toString(vt) + " is " + toString(r));
}

void Checker::checkFor(const ast::ForStmt &f) {
  const Type *lo = expr(*f.lo), *hi = expr(*f.hi);
  if (lo && !lo->isInt())
    error(f.lo->loc, "loop bounds must be int, found " + toString(lo));
  if (hi && !hi->isInt())
    error(f.hi->loc, "loop bounds must be int, found " + toString(hi));
  scopes.emplace_back();
  bind(f.var, T.i64(), false);
  checkBlock(f.body);
  scopes.pop_back();
}

void Checker::checkReturn(const ast::ReturnStmt &r) {
  if (!r.value) {
    if (!curSig->result->isVoid())
      error(r.loc,
            "'" + curFn->name + "' must return " + toString(curSig->result));
    return;
  }
  const Type *t = expr(*r.value);
  if (curSig->result->isVoid()) {
    error(r.value->loc, "'" + curFn->name +
                            "' has no result type, but 'return' has a "
                            "value (declare it: -> T)");
    return;
  }
  if (t && t->isTuple() && curSig->result->isTuple() &&
      t->elems.size() == curSig->result->elems.size()) {
    for (size_t k = 0; k < t->elems.size(); ++k)
      if (!convertible(t->elems[k], curSig->result->elems[k])) {
        error(r.value->loc, "return value: expected " +
                                toString(curSig->result) + ", found " +
                                toString(t));
        break;
      }
    return;
  }
  expectType(*r.value, t, curSig->result, "return value");
}

void Checker::checkStmt(const ast::Stmt &s) {
  using namespace ast;
  switch (s.kind) {
  case StmtKind::Let:
    return checkLet(static_cast<const LetStmt &>(s));
  case StmtKind::Assign:
    return checkAssign(static_cast<const AssignStmt &>(s));
  case StmtKind::If: {
    auto &i = static_cast<const IfStmt &>(s);
    expectType(*i.cond, expr(*i.cond), T.boolean(), "condition of 'if'");
    checkBlock(i.thenBlock);
    if (i.elseBlock)
      checkBlock(*i.elseBlock);
    return;
  }
  case StmtKind::For:
    return checkFor(static_cast<const ForStmt &>(s));
  case StmtKind::While: {
    auto &w = static_cast<const WhileStmt &>(s);
    expectType(*w.cond, expr(*w.cond), T.boolean(), "condition of 'while'");
    checkBlock(w.body);
    return;
  }
  case StmtKind::Return:
    return checkReturn(static_cast<const ReturnStmt &>(s));
  case StmtKind::Expr: {
    auto &e = static_cast<const ExprStmt &>(s);
    expr(*e.expr);
    if (e.expr->kind != ExprKind::Call && e.expr->type)
      diags.warning(e.expr->loc, "expression result unused");
    return;
  }
  }
}

const ParamInfo *Checker::findParam(const std::string &n) {
  for (auto &p : prog.params)
    if (p.name == n)
      return &p;
  return nullptr;
}

} // namespace bp::sema::detail
