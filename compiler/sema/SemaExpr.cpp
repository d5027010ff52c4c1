//===- SemaExpr.cpp - sema: expressions -----------------------------------===//
//
// The type of every expression: names, indexing and slices, tensor
// literals, operators with broadcasting, calls of functions and builtins.
//
//===----------------------------------------------------------------------===//
#include "sema/Checker.h"
#include "sema/Shapes.h"

#include "ir/IR.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>

namespace bp::sema::detail {

const Type *Checker::expr(ast::Expr &e) {
  const Type *t = exprImpl(e);
  if (t && !sizeOk(t, e.loc))
    t = nullptr;
  e.type = t;
  return t;
}

/// Tensors up to maxTensorElements; reports larger ones at `loc`.
bool Checker::sizeOk(const Type *t, Loc loc) {
  if (!t->isTensor())
    return true;
  int64_t n = 1;
  bool overflow = false;
  double approx = 1;
  for (int64_t d : t->shape) {
    overflow |= __builtin_mul_overflow(n, d, &n);
    approx *= (double)d;
  }
  if (!overflow && n <= maxTensorElements)
    return true;
  char count[64];
  if (overflow)
    snprintf(count, sizeof count, "%.3g", approx);
  else
    snprintf(count, sizeof count, "%lld", (long long)n);
  error(loc, "tensor " + toString(t) + " is too large: " + count +
                 " elements, the limit is " +
                 std::to_string(maxTensorElements) +
                 " (1 GiB of f64) per tensor");
  return false;
}

const Type *Checker::numericResult(const Type *a, const Type *b) {
  if (a->isInt() && b->isInt())
    return T.i64();
  return T.f64();
}

const Type *Checker::exprImpl(ast::Expr &e) {
  using namespace ast;
  switch (e.kind) {
  case ExprKind::Number:
    return static_cast<NumberExpr &>(e).isInt ? T.i64() : T.f64();
  case ExprKind::Bool:
    return T.boolean();
  case ExprKind::String:
    return T.str();
  case ExprKind::Name:
    return name(static_cast<NameExpr &>(e));
  case ExprKind::Unary: {
    auto &u = static_cast<UnaryExpr &>(e);
    const Type *t = expr(*u.operand);
    if (!t)
      return nullptr;
    if (u.op == UnaryOp::Not) {
      if (!t->isBool()) {
        error(u.operand->loc, "'not' needs a bool, found " + toString(t));
        return nullptr;
      }
      return t;
    }
    if (!isArith(t)) {
      error(u.operand->loc, std::string("unary '") +
                                (u.op == UnaryOp::Neg ? "-" : "+") +
                                "' needs a number, found " + toString(t));
      return nullptr;
    }
    return t;
  }
  case ExprKind::Binary:
    return binary(static_cast<BinaryExpr &>(e));
  case ExprKind::Call:
    return call(static_cast<CallExpr &>(e));
  case ExprKind::Index:
    return index(static_cast<IndexExpr &>(e));
  case ExprKind::TensorLit:
    return tensorLiteral(static_cast<TensorLitExpr &>(e));
  case ExprKind::Tuple: {
    auto &t = static_cast<TupleExpr &>(e);
    std::vector<const Type *> elems;
    bool ok = true;
    for (auto &x : t.elems) {
      const Type *et = expr(*x);
      if (et && (et->isVoid() || et->isTuple() || et->kind == TypeKind::Str)) {
        error(x->loc, "a tuple element must be a value, found " + toString(et));
        et = nullptr;
      }
      ok &= et != nullptr;
      elems.push_back(et);
    }
    return ok ? T.tuple(elems) : nullptr;
  }
  case ExprKind::IfExpr: {
    auto &i = static_cast<IfExpr &>(e);
    expectType(*i.cond, expr(*i.cond), T.boolean(), "condition of 'if'");
    const Type *a = expr(*i.thenExpr), *b = expr(*i.elseExpr);
    if (!a || !b)
      return nullptr;
    if (a == b)
      return a;
    if (a->isNumeric() && b->isNumeric())
      return T.f64();
    error(i.elseExpr->loc, "the branches of an if-expression differ: " +
                               toString(a) + " and " + toString(b));
    return nullptr;
  }
  }
  return nullptr;
}

const Type *Checker::name(ast::NameExpr &n) {
  if (const Local *l = lookupLocal(n.name))
    return l->type;
  auto it = top.find(n.name);
  if (it != top.end()) {
    switch (it->second.kind) {
    case TopKind::Const: {
      auto v = prog.consts.find(n.name);
      if (v == prog.consts.end())
        return nullptr; // its definition failed
      return v->second.isInt ? T.i64() : T.f64();
    }
    case TopKind::Param: {
      const ParamInfo *p = findParam(n.name);
      if (curFn)
        paramReads.try_emplace(curFn->name, n.name, n.loc);
      return p ? p->type : nullptr;
    }
    case TopKind::Fn:
    case TopKind::Derived:
      error(n.loc,
            "'" + n.name + "' is a function; call it: " + n.name + "(...)");
      return nullptr;
    }
  }
  if (isBuiltin(n.name)) {
    error(n.loc, "builtin '" + n.name + "' must be called");
    return nullptr;
  }
  error(n.loc, "unknown name '" + n.name + "'" + suggest(n.name));
  return nullptr;
}

/// `x[i, j]`: int indices select leading axes (fewer than the rank give a
/// sub-tensor). Slices with constant bounds and int indices mix in any
/// order: `x[1:N]`, `X[i, :N - 1]`, `X[:, 0:3]`, `X[:, j]`, `X[1:3, j]`
/// (the bounds are recorded in Program::slices).
const Type *Checker::index(ast::IndexExpr &e) {
  const Type *base = expr(*e.base);
  bool ok = base != nullptr;
  for (auto &ix : e.indices) {
    if (ix.isSlice)
      continue;
    const Type *t = expr(*ix.index);
    if (t && t->isIntTensor() && ok)
      return gather(e, base, t);
    if (t && !t->isInt()) {
      error(ix.index->loc, "an index must be an int, found " + toString(t));
      ok = false;
    }
  }
  if (!ok)
    return nullptr;
  if (!base->isTensor()) {
    error(e.base->loc, "only tensors can be indexed, found " + toString(base));
    return nullptr;
  }
  if (e.indices.size() > base->rank()) {
    error(e.indices[base->rank()].loc,
          "too many indices: " + std::to_string(e.indices.size()) + " for " +
              toString(base));
    return nullptr;
  }
  std::vector<int64_t> shape;
  std::vector<SliceBounds> bounds;
  for (size_t k = 0; k < base->rank(); ++k) {
    int64_t dim = base->shape[k];
    if (k < e.indices.size() && !e.indices[k].isSlice)
      continue; // removed by an int index
    int64_t lo = 0, hi = dim;
    if (k < e.indices.size() &&
        ((e.indices[k].lo && readsLocal(*e.indices[k].lo)) ||
         (e.indices[k].hi && readsLocal(*e.indices[k].hi)))) {
      auto w = windowBounds(e.indices[k], dim);
      if (!w)
        return nullptr;
      bounds.push_back(*w);
      shape.push_back(w->hi);
      continue;
    }
    if (k < e.indices.size()) {
      ast::IndexArg &ix = e.indices[k];
      auto bound = [&](ast::ExprPtr &x, int64_t &out) {
        if (!x)
          return true;
        auto v = constExpr(*x);
        if (!v)
          return false;
        x->type = T.i64();
        if (!v->isInt) {
          error(x->loc, "a slice bound must be an int, found f64");
          return false;
        }
        out = v->i;
        return true;
      };
      if (!bound(ix.lo, lo) || !bound(ix.hi, hi))
        return nullptr;
      if (lo < 0 || hi > dim || lo >= hi) {
        error(ix.loc, "slice " + std::to_string(lo) + ":" + std::to_string(hi) +
                          " is out of range for axis " + std::to_string(k) +
                          " of size " + std::to_string(dim) + " (or empty)");
        return nullptr;
      }
    }
    bounds.push_back({lo, hi});
    shape.push_back(hi - lo);
  }
  if (shape.empty())
    return T.scalar(base->elem);
  if (std::any_of(e.indices.begin(), e.indices.end(),
                  [](const ast::IndexArg &a) { return a.isSlice; }))
    prog.slices[&e] = bounds;
  return T.tensor(shape, base->elem);
}

/// `E[t]` with an int tensor `t` (section 13): the rows of E that t's
/// elements name, in t's shape: f64[V, D] indexed by int[T] is f64[T, D].
const Type *Checker::gather(ast::IndexExpr &e, const Type *base,
                            const Type *t) {
  if (!base->isTensor()) {
    error(e.base->loc, "only tensors can be indexed, found " + toString(base));
    return nullptr;
  }
  if (e.indices.size() != 1) {
    error(e.indices[0].loc,
          "an int tensor index gathers rows: it must be the only index "
          "(E[t]), found " +
              std::to_string(e.indices.size()) + " indices");
    return nullptr;
  }
  std::vector<int64_t> shape = t->shape;
  shape.insert(shape.end(), base->shape.begin() + 1, base->shape.end());
  if (shape.size() > 4) {
    error(e.loc, "gathering " + toString(base) + " with " + toString(t) +
                     " would make a tensor of rank " +
                     std::to_string(shape.size()) + " (at most 4)");
    return nullptr;
  }
  return T.tensor(shape, base->elem);
}

bool Checker::readsLocal(const ast::Expr &e) {
  using namespace ast;
  switch (e.kind) {
  case ExprKind::Name:
    return lookupLocal(static_cast<const NameExpr &>(e).name) != nullptr;
  case ExprKind::Unary:
    return readsLocal(*static_cast<const UnaryExpr &>(e).operand);
  case ExprKind::Binary: {
    auto &b = static_cast<const BinaryExpr &>(e);
    return readsLocal(*b.lhs) || readsLocal(*b.rhs);
  }
  case ExprKind::Call: {
    auto &c = static_cast<const CallExpr &>(e);
    for (auto &a : c.args)
      if (readsLocal(*a))
        return true;
    return false;
  }
  case ExprKind::Index:
    return readsLocal(*static_cast<const IndexExpr &>(e).base);
  default:
    return false;
  }
}

namespace {
/// An int expression c + sum(k * local): locals are symbols.
struct Linear {
  int64_t c = 0;
  std::map<std::string, int64_t> terms;
  bool constant() const {
    for (auto &[_, k] : terms)
      if (k != 0)
        return false;
    return true;
  }
};
} // namespace

std::optional<SliceBounds> Checker::windowBounds(ast::IndexArg &ix,
                                                 int64_t dim) {
  using namespace ast;
  std::string want = "a slice with a variable bound is a window "
                     "start:start + K with a constant length K";
  if (!ix.lo || !ix.hi) {
    error(ix.loc, want);
    return std::nullopt;
  }
  bool failed = false;
  std::function<std::optional<Linear>(Expr &)> lin =
      [&](Expr &x) -> std::optional<Linear> {
    if (auto *n = dyn<NameExpr>(&x); n && lookupLocal(n->name)) {
      Linear l;
      l.terms[n->name] = 1;
      return l;
    }
    if (!readsLocal(x)) {
      auto v = constExpr(x);
      if (!v || !v->isInt) {
        failed |= !v;
        return std::nullopt;
      }
      Linear l;
      l.c = v->i;
      return l;
    }
    auto neg = [](Linear l) {
      l.c = -l.c;
      for (auto &[_, k] : l.terms)
        k = -k;
      return l;
    };
    if (auto *u = dyn<UnaryExpr>(&x); u && u->op != UnaryOp::Not) {
      auto l = lin(*u->operand);
      return l && u->op == UnaryOp::Neg ? std::optional(neg(*l)) : l;
    }
    auto *b = dyn<BinaryExpr>(&x);
    if (!b || (b->op != BinaryOp::Add && b->op != BinaryOp::Sub &&
               b->op != BinaryOp::Mul))
      return std::nullopt;
    auto l = lin(*b->lhs), r = lin(*b->rhs);
    if (!l || !r)
      return std::nullopt;
    if (b->op == BinaryOp::Mul) {
      if (!l->constant() && !r->constant())
        return std::nullopt;
      Linear s = l->constant() ? *r : *l;
      int64_t f = l->constant() ? l->c : r->c;
      s.c *= f;
      for (auto &[_, k] : s.terms)
        k *= f;
      return s;
    }
    if (b->op == BinaryOp::Sub)
      r = neg(*r);
    for (auto &[n, k] : r->terms)
      l->terms[n] += k;
    l->c += r->c;
    return l;
  };
  auto lo = lin(*ix.lo), hi = lin(*ix.hi);
  if (failed)
    return std::nullopt;
  std::optional<Linear> len;
  if (lo && hi) {
    len = *hi;
    for (auto &[n, k] : lo->terms)
      len->terms[n] -= k;
    len->c -= lo->c;
  }
  if (!len || !len->constant()) {
    error(ix.loc, want + " (hi - lo must simplify to a constant)");
    return std::nullopt;
  }
  if (len->c < 1 || len->c > dim) {
    error(ix.loc, "a window of length " + std::to_string(len->c) +
                      " does not fit an axis of size " + std::to_string(dim) +
                      " (or is empty)");
    return std::nullopt;
  }
  for (Expr *x : {ix.lo.get(), ix.hi.get()}) {
    const Type *t = expr(*x);
    if (!t)
      return std::nullopt;
    if (!t->isInt()) {
      error(x->loc, "a slice bound must be an int, found " + toString(t));
      return std::nullopt;
    }
  }
  prog.windowStarts.insert(ix.lo.get());
  return SliceBounds{0, len->c, ix.lo.get()};
}

/// `[e, ...]`: scalars give a rank-1 tensor; equally shaped tensors (or
/// nested literals) stack along a new leading axis.
const Type *Checker::tensorLiteral(ast::TensorLitExpr &e) {
  if (e.elems.empty()) {
    error(e.loc, "an empty tensor literal has no shape");
    return nullptr;
  }
  const Type *elem = nullptr;
  bool ok = true;
  for (auto &x : e.elems) {
    const Type *t = expr(*x);
    if (!t) {
      ok = false;
      continue;
    }
    if (!isArith(t)) {
      error(x->loc, "a tensor element must be a number or a tensor, found " +
                        toString(t));
      ok = false;
      continue;
    }
    if (t->isIntLike()) // an int tensor only where one is expected
      t = T.withElems(t, Elem::F64);
    if (!elem)
      elem = t;
    else if (elem != t) {
      error(x->loc, "tensor literal rows differ: " + toString(elem) + " and " +
                        toString(t));
      ok = false;
    }
  }
  if (!ok || !elem)
    return nullptr;
  std::vector<int64_t> shape = {(int64_t)e.elems.size()};
  if (elem->isTensor())
    shape.insert(shape.end(), elem->shape.begin(), elem->shape.end());
  if (shape.size() > 4) {
    error(e.loc, "a tensor has rank 1 to 4, this literal has rank " +
                     std::to_string(shape.size()));
    return nullptr;
  }
  return T.tensor(shape);
}

/// Dimensions given as int literals or consts: zeros(N, 3).
const Type *Checker::filled(ast::CallExpr &c, const std::string &n) {
  if (c.args.empty()) {
    error(c.loc, "'" + n + "' needs dimensions: " + n +
                     "(d1, ...), or is a param initialiser without them");
    return nullptr;
  }
  std::vector<int64_t> shape;
  for (auto &a : c.args) {
    auto v = constExpr(*a);
    if (!v)
      return nullptr;
    a->type = v->isInt ? T.i64() : T.f64();
    if (!v->isInt || v->i <= 0) {
      error(a->loc, "a dimension must be a positive int, found " +
                        (v->isInt ? std::to_string(v->i) : "an f64"));
      return nullptr;
    }
    shape.push_back(v->i);
  }
  if (shape.size() > 4) {
    error(c.loc, "a tensor has rank 1 to 4, found rank " +
                     std::to_string(shape.size()));
    return nullptr;
  }
  return T.tensor(shape);
}

/// The axis argument of sum/mean/logsumexp/max/min: an int literal, negative
/// counting from the end. Recorded for IRGen.
bool Checker::axisArg(ast::CallExpr &c, const Type *x, int64_t &axis) {
  ast::Expr &e = *c.args[1];
  auto v = constExpr(e);
  if (!v)
    return false;
  e.type = T.i64();
  int64_t r = (int64_t)x->rank();
  if (!v->isInt || v->i < -r || v->i >= r) {
    error(e.loc, "axis must be an int in " + std::to_string(-r) + ".." +
                     std::to_string(r - 1) + " for " + toString(x));
    return false;
  }
  axis = v->i < 0 ? v->i + r : v->i;
  prog.axes[&c] = axis;
  return true;
}

bool Checker::isReadCsv(const ast::Expr &e) {
  auto *c = dyn<const ast::CallExpr>(&e);
  auto *n = c ? dyn<const ast::NameExpr>(c->callee.get()) : nullptr;
  return n && n->name == "read_csv";
}

/// `let X: f64[N, D] = read_csv("x.csv")` (section 6): the declared type
/// gives the shape the file must have.
void Checker::checkReadCsv(const ast::LetStmt &l) {
  auto &c = static_cast<ast::CallExpr &>(*l.init);
  const Type *t = l.type ? resolveType(*l.type) : nullptr;
  if (c.args.size() != 1 || c.args[0]->kind != ast::ExprKind::String) {
    error(c.loc, "read_csv takes one path in quotes");
  } else if (static_cast<ast::StringExpr &>(*c.args[0]).value.find('\0') !=
             std::string::npos) {
    error(c.args[0]->loc, "a path cannot contain a NUL character");
  } else if (!l.type || l.isDestructure) {
    error(c.loc, "read_csv(...) must initialise a binding with a declared "
                 "tensor type: let X: f64[N, D] = read_csv(\"x.csv\")");
  } else if (t && !t->isF64Tensor()) {
    error(l.type->loc,
          std::string(t->isIntTensor()
                          ? "read_csv fills f64 tensors (int(X) converts "
                            "one)"
                          : "read_csv gives a tensor") +
              ": expected a declared type f64[N, D], found " + toString(t));
    t = nullptr;
  } else if (t) {
    c.args[0]->type = T.str();
    c.type = t;
  }
  for (auto &n : l.names)
    bind(n, t, l.isVar);
}

const Type *Checker::pool2d(ast::CallExpr &c, const std::string &n,
                            const Type *x) {
  auto k = constExpr(*c.args[1]);
  if (!k)
    return nullptr;
  c.args[1]->type = T.i64();
  if (!k->isInt || k->i < 1) {
    error(c.args[1]->loc, "a window size must be a positive int, found " +
                              (k->isInt ? std::to_string(k->i) : "an f64"));
    return nullptr;
  }
  if (x->rank() != 3 || x->shape[1] < k->i || x->shape[2] < k->i) {
    error(c.loc, "'" + n +
                     "' needs f64[C, H, W] with H and W at least "
                     "the window size " +
                     std::to_string(k->i) + ", found " + toString(x));
    return nullptr;
  }
  prog.axes[&c] = k->i;
  return T.tensor({x->shape[0], x->shape[1] / k->i, x->shape[2] / k->i});
}

const Type *Checker::shapeBuiltin(ast::CallExpr &c, const std::string &n) {
  size_t tensors = n == "concat" ? 2 : 1;
  size_t given = c.args.size();
  bool pool = n == "avgpool2d" || n == "maxpool2d";
  bool intArg = n == "concat" || pool;
  if (n == "reshape" ? given < 2 : given != tensors + intArg) {
    error(c.loc,
          pool ? "'" + n +
                     "' takes a tensor f64[C, H, W] and a window "
                     "size: " +
                     n + "(x, k), found " + std::to_string(given) + " arguments"
          : n == "reshape" ? "'reshape' takes a tensor and its new dimensions: "
                             "reshape(x, d1, ...), found " +
                                 std::to_string(given) + " arguments"
          : n == "flatten"
              ? "'flatten' takes 1 tensor, found " + std::to_string(given) +
                    " arguments"
              : "'concat' takes two tensors and an axis: concat(a, b, "
                "axis), found " +
                    std::to_string(given) + " arguments");
    for (auto &a : c.args)
      expr(*a);
    return nullptr;
  }
  std::vector<const Type *> xs;
  for (size_t i = 0; i < tensors; ++i) {
    const Type *t = expr(*c.args[i]);
    if (!t)
      return nullptr;
    if (!t->isF64Tensor()) {
      error(c.args[i]->loc, "'" + n + "' needs " +
                                (t->isTensor() ? "an f64 tensor" : "a tensor") +
                                ", found " + toString(t));
      return nullptr;
    }
    xs.push_back(t);
  }
  const Type *x = xs[0];
  if (pool)
    return pool2d(c, n, x);
  if (n == "flatten")
    return T.tensor({x->numElements()});
  if (n == "reshape") {
    std::vector<int64_t> shape;
    int64_t count = 1;
    for (size_t i = 1; i < given; ++i) {
      auto v = constExpr(*c.args[i]);
      if (!v)
        return nullptr;
      c.args[i]->type = v->isInt ? T.i64() : T.f64();
      if (!v->isInt || v->i <= 0) {
        error(c.args[i]->loc, "a dimension must be a positive int, found " +
                                  (v->isInt ? std::to_string(v->i) : "an f64"));
        return nullptr;
      }
      shape.push_back(v->i);
      // Capped above the element count (no overflow): only equality matters.
      count = std::min(v->i > x->numElements() ? v->i : count * v->i,
                       x->numElements() + 1);
    }
    if (shape.size() > 4) {
      error(c.loc, "a tensor has rank 1 to 4, found rank " +
                       std::to_string(shape.size()));
      return nullptr;
    }
    if (count != x->numElements()) {
      std::string to = "[";
      for (size_t i = 0; i < shape.size(); ++i)
        to += (i ? ", " : "") + std::to_string(shape[i]);
      error(c.loc, "cannot reshape " + toString(x) + " (" +
                       std::to_string(x->numElements()) + " elements) to " +
                       to + "] (a different number of elements)");
      return nullptr;
    }
    return T.tensor(shape);
  }
  // concat(a, b, axis)
  const Type *y = xs[1];
  auto v = constExpr(*c.args[2]);
  if (!v)
    return nullptr;
  c.args[2]->type = T.i64();
  int64_t r = (int64_t)x->rank();
  if (!v->isInt || v->i < -r || v->i >= r) {
    error(c.args[2]->loc, "axis must be an int in " + std::to_string(-r) +
                              ".." + std::to_string(r - 1) + " for " +
                              toString(x));
    return nullptr;
  }
  int64_t axis = v->i < 0 ? v->i + r : v->i;
  bool fits = y->rank() == x->rank();
  for (int64_t k = 0; fits && k < r; ++k)
    fits = k == axis || x->shape[k] == y->shape[k];
  if (!fits) {
    error(c.loc, "'concat' along axis " + std::to_string(axis) +
                     " needs tensors of one rank whose other dimensions "
                     "agree, found " +
                     toString(x) + " and " + toString(y));
    return nullptr;
  }
  prog.axes[&c] = axis;
  std::vector<int64_t> shape = x->shape;
  shape[axis] += y->shape[axis];
  const Type *t = T.tensor(shape);
  return sizeOk(t, c.loc) ? t : nullptr;
}

std::optional<int64_t> Checker::convInt(ast::Expr &e, int64_t least,
                                        const char *what) {
  auto v = constExpr(e);
  if (!v)
    return std::nullopt;
  e.type = T.i64();
  if (!v->isInt || v->i < least || v->i > 1 << 20) {
    error(e.loc, std::string("a ") + what + " must be an int " +
                     (least ? "from 1" : "from 0") + " to 1048576, found " +
                     (v->isInt ? std::to_string(v->i) : "an f64"));
    return std::nullopt;
  }
  return v->i;
}

const Type *Checker::conv2d(ast::CallExpr &c) {
  size_t given = c.args.size();
  if (given != 2 && given != 4) {
    error(c.loc, "'conv2d' takes a tensor f64[C, H, W], weights f64[O, C, "
                 "KH, KW] and optionally a stride and a padding: conv2d(x, "
                 "w) or conv2d(x, w, stride, pad), found " +
                     std::to_string(given) + " arguments");
    for (auto &a : c.args)
      expr(*a);
    return nullptr;
  }
  const Type *x = expr(*c.args[0]), *w = expr(*c.args[1]);
  int64_t stride = 1, pad = 0;
  if (given == 4) {
    auto s = convInt(*c.args[2], 1, "stride");
    auto p = convInt(*c.args[3], 0, "padding");
    if (!s || !p)
      return nullptr;
    stride = *s;
    pad = *p;
  }
  if (!x || !w)
    return nullptr;
  if (!x->isTensor() || !w->isTensor() || !x->isF64Tensor() ||
      !w->isF64Tensor() || x->rank() != 3 || w->rank() != 4 ||
      x->shape[0] != w->shape[1]) {
    error(c.loc, "'conv2d' needs x f64[C, H, W] and w f64[O, C, KH, KW] "
                 "with the same C, found " +
                     toString(x) + " and " + toString(w));
    return nullptr;
  }
  int64_t H = x->shape[1] + 2 * pad, W = x->shape[2] + 2 * pad;
  if (H < w->shape[2] || W < w->shape[3]) {
    error(c.loc, "'conv2d' needs the padded input (H + 2 pad, W + 2 pad) at "
                 "least the kernel (KH, KW), found " +
                     toString(x) + " and " + toString(w) + " with pad " +
                     std::to_string(pad));
    return nullptr;
  }
  prog.axes[&c] = ir::Op::convAttr(stride, pad);
  const Type *t = T.tensor({w->shape[0], (H - w->shape[2]) / stride + 1,
                            (W - w->shape[3]) / stride + 1});
  return sizeOk(t, c.loc) ? t : nullptr;
}

const Type *Checker::tensorBuiltin(ast::CallExpr &c, const std::string &n) {
  if (n == "reshape" || n == "flatten" || n == "concat" || n == "avgpool2d" ||
      n == "maxpool2d")
    return shapeBuiltin(c, n);
  if (n == "conv2d")
    return conv2d(c);
  if (n == "read_csv") {
    error(c.callee->loc, "read_csv(...) must initialise a binding with a "
                         "declared tensor type: let X: f64[N, D] = "
                         "read_csv(\"x.csv\")");
    return nullptr;
  }
  bool hasAxis =
      (n == "sum" || n == "mean" || n == "logsumexp") && c.args.size() == 2;
  std::vector<const Type *> args;
  for (size_t i = 0; i < c.args.size(); ++i)
    if (!(hasAxis && i == 1))
      args.push_back(expr(*c.args[i]));
  for (const Type *t : args)
    if (!t)
      return nullptr;
  size_t want = n == "dot" || n == "outer" ? 2 : 1;
  if (args.size() != want) {
    error(c.loc, "'" + n + "' takes " + std::to_string(want) +
                     (want == 1 ? " tensor" : " tensors") +
                     (hasAxis || n == "sum" || n == "mean" || n == "logsumexp"
                          ? " and an optional axis"
                          : "") +
                     ", found " + std::to_string(c.args.size()) + " arguments");
    return nullptr;
  }
  for (size_t i = 0; i < args.size(); ++i)
    if (!args[i]->isTensor()) {
      error(c.args[i]->loc,
            "'" + n + "' needs a tensor, found " + toString(args[i]));
      return nullptr;
    }
  const Type *x = args[0];
  for (size_t i = 0; i < args.size(); ++i)
    if (args[i]->isIntTensor() && n != "sum" && n != "len" && n != "argmax") {
      error(c.args[i]->loc, "'" + n + "' needs an f64 tensor, found " +
                                toString(args[i]) +
                                " (int tensors take sum, len, argmax; "
                                "float(t) converts)");
      return nullptr;
    }
  auto needRank = [&](const Type *t, size_t r, ast::Expr &e) {
    if (t->rank() == r)
      return true;
    error(e.loc, "'" + n + "' needs a rank-" + std::to_string(r) +
                     " tensor, found " + toString(t));
    return false;
  };
  if (n == "sum" || n == "mean" || n == "logsumexp") {
    if (!hasAxis)
      return T.scalar(x->elem);
    int64_t axis;
    if (!axisArg(c, x, axis))
      return nullptr;
    return sema::removeAxis(T, x, axis);
  }
  if (n == "norm")
    return T.f64();
  if (n == "softmax" || n == "log_softmax")
    return x;
  if (n == "len")
    return T.i64();
  if (n == "transpose") {
    if (!needRank(x, 2, *c.args[0]))
      return nullptr;
    return T.tensor({x->shape[1], x->shape[0]});
  }
  if (n == "argmax")
    return needRank(x, 1, *c.args[0]) ? T.i64() : nullptr;
  if (!needRank(x, 1, *c.args[0]) || !needRank(args[1], 1, *c.args[1]))
    return nullptr;
  if (n == "outer")
    return T.tensor({x->shape[0], args[1]->shape[0]});
  // dot
  if (x != args[1]) {
    error(c.loc, "shape mismatch in 'dot': " + toString(x) + " and " +
                     toString(args[1]));
    return nullptr;
  }
  return T.f64();
}

bool Checker::isIntLiteral(const ast::Expr &e) {
  if (auto *u = dyn<const ast::UnaryExpr>(&e))
    return u->op != ast::UnaryOp::Not && isIntLiteral(*u->operand);
  auto *n = dyn<const ast::NumberExpr>(&e);
  return n && n->isInt;
}

const Type *Checker::extremum(ast::CallExpr &c, const std::string &n,
                              const Type *x) {
  if (!x)
    return nullptr;
  if (x->isIntTensor()) {
    error(c.args[0]->loc, "'" + n +
                              "' of one tensor needs an f64 tensor, found " +
                              toString(x) + " (float(t) converts it)");
    return nullptr;
  }
  if (!x->isTensor() || !isArith(x)) {
    error(c.loc, "'" + n +
                     "' takes 2 arguments, found 1; one argument must "
                     "be a tensor (" +
                     n + "(x)), found " + toString(x));
    return nullptr;
  }
  if (c.args.size() == 1)
    return T.f64();
  int64_t axis;
  if (!axisArg(c, x, axis))
    return nullptr;
  return sema::removeAxis(T, x, axis);
}

bool Checker::isArith(const Type *t) {
  return t->isNumeric() || (t->isTensor() && !t->isBoolTensor());
}

const Type *Checker::binary(ast::BinaryExpr &b) {
  using ast::BinaryOp;
  const Type *l = expr(*b.lhs), *r = expr(*b.rhs);
  if (!l || !r)
    return nullptr;
  std::string op = std::string("'") + spelling(b.op) + "'";
  auto mismatch = [&](const char *need) -> const Type * {
    error(b.opLoc, op + " needs " + need + ", found " + toString(l) + " " +
                       spelling(b.op) + " " + toString(r));
    return nullptr;
  };
  switch (b.op) {
  case BinaryOp::And:
  case BinaryOp::Or:
    if (!l->isBool() || !r->isBool())
      return mismatch("bool operands");
    return T.boolean();
  case BinaryOp::Eq:
  case BinaryOp::Ne:
    if (l->isBool() && r->isBool())
      return T.boolean();
    [[fallthrough]];
  case BinaryOp::Lt:
  case BinaryOp::Le:
  case BinaryOp::Gt:
  case BinaryOp::Ge:
    if (!l->isNumeric() || !r->isNumeric())
      return mismatch(l->isTensor() || r->isTensor()
                          ? "scalars (compare tensor elements by index)"
                          : "numbers");
    return T.boolean();
  case BinaryOp::MatMul: {
    if (l->isIntTensor() || r->isIntTensor())
      return mismatch("f64 tensors (float(t) converts an int tensor)");
    std::string err;
    const Type *t =
        l->isTensor() && r->isTensor() ? sema::matmul(T, l, r, err) : nullptr;
    if (!t)
      error(b.opLoc, err.empty() ? "'@' needs tensors, found " + toString(l) +
                                       " @ " + toString(r)
                                 : err);
    return t;
  }
  default: {
    if (!isArith(l) || !isArith(r))
      return mismatch("numbers or tensors");
    std::string err;
    const Type *t = sema::broadcast(T, l, r, spelling(b.op), err);
    if (!t) {
      error(b.opLoc, err);
      return nullptr;
    }
    if (b.op == BinaryOp::Pow)
      return T.withElems(t, Elem::F64);
    return t;
  }
  }
}

const Type *Checker::call(ast::CallExpr &c) {
  using namespace ast;
  // Inline derived call: grad(f, x)(args).
  if (auto *inner = dyn<CallExpr>(c.callee.get())) {
    auto *n = dyn<NameExpr>(inner->callee.get());
    if (!n || builtinKind(n->name) != Builtin::Derive) {
      error(c.callee->loc,
            "only functions and grad/value_and_grad/jvp/vmap(...) "
            "can be called");
      return nullptr;
    }
    std::string d = resolveDerived(*inner);
    if (d.empty()) {
      auto *base =
          inner->args.empty() ? nullptr : dyn<NameExpr>(inner->args[0].get());
      if (!base || !generics.count(base->name)) // its args may be functions
        for (auto &a : c.args)
          expr(*a);
      return nullptr;
    }
    prog.inlineDerived[inner] = d;
    auto use = fnParamUses.find(inner);
    return userCall(c, d, *prog.signature(d),
                    use == fnParamUses.end() ? "" : use->second);
  }
  auto *n = dyn<NameExpr>(c.callee.get());
  if (!n) {
    error(c.callee->loc, "only named functions can be called");
    return nullptr;
  }
  if (lookupLocal(n->name)) {
    error(n->loc, "'" + n->name + "' is a local variable, not a function");
    return nullptr;
  }
  if (generics.count(n->name)) {
    // Its calls were specialised (specialiseAll) or reported.
    if (!diags.hasErrors())
      error(n->loc, "'" + n->name + "' takes function arguments");
    return nullptr;
  }
  auto it = top.find(n->name);
  if (it != top.end()) {
    if (it->second.kind == TopKind::Const ||
        it->second.kind == TopKind::Param) {
      error(n->loc, "'" + n->name + "' is not a function");
      return nullptr;
    }
    const FnSig *sig = callable(n->name);
    if (!sig) {
      for (auto &a : c.args)
        expr(*a);
      return nullptr;
    }
    auto use = fnParamUses.find(n);
    return userCall(c, n->name, *sig,
                    use == fnParamUses.end() ? "" : use->second);
  }
  return builtinCall(c, n->name);
}

const Type *Checker::userCall(ast::CallExpr &c, const std::string &name,
                              const FnSig &sig, const std::string &shown) {
  // A fn-typed parameter's calls read the same in every specialisation (the
  // signatures match exactly), so that each error is reported once.
  std::string who =
      shown.empty() ? "'" + name + "'" : "function argument '" + shown + "'";
  if (curFn) {
    std::string callee = name;
    while (const DerivedInfo *d = prog.lookupDerived(callee))
      callee = d->base;
    callGraph[curFn->name].insert(callee);
  }
  std::vector<const Type *> args;
  for (auto &a : c.args)
    args.push_back(expr(*a));
  if (args.size() != sig.params.size()) {
    error(c.loc, who + " takes " + std::to_string(sig.params.size()) +
                     (sig.params.size() == 1 ? " argument" : " arguments") +
                     ", found " + std::to_string(args.size()));
    return sig.result;
  }
  for (size_t i = 0; i < args.size(); ++i)
    expectType(*c.args[i], args[i], sig.params[i],
               "argument " + std::to_string(i + 1) +
                   (shown.empty() ? " ('" + sig.paramNames[i] + "')" : "") +
                   " of " + who);
  return sig.result;
}

const Type *Checker::builtinCall(ast::CallExpr &c, const std::string &n) {
  Builtin k = builtinKind(n);
  if (k == Builtin::None) {
    error(c.callee->loc, "unknown function '" + n + "'" + suggest(n));
    for (auto &a : c.args)
      expr(*a);
    return nullptr;
  }
  if (k == Builtin::Derive) {
    std::string d = resolveDerived(c);
    if (!d.empty())
      error(c.loc, "'" + n + "(...)' makes a function; call it with " +
                       "arguments: " + n + "(f, x)(...)");
    return nullptr;
  }
  if (n == "zeros" || n == "ones")
    return filled(c, n);
  if (k == Builtin::Init) {
    error(c.callee->loc,
          "'" + n + "' is a param initialiser (param p: f64[N] = " + n +
              "(...)), not a function; inside functions "
              "use zeros(...) or ones(...)");
    return nullptr;
  }
  if (k == Builtin::Tensor)
    return tensorBuiltin(c, n);
  std::vector<const Type *> args;
  bool ok = true;
  for (auto &a : c.args) {
    args.push_back(expr(*a));
    ok &= args.back() != nullptr;
  }
  auto arity = [&](size_t want) {
    if (args.size() == want)
      return true;
    error(c.loc, "'" + n + "' takes " + std::to_string(want) +
                     (want == 1 ? " argument" : " arguments") + ", found " +
                     std::to_string(args.size()));
    return false;
  };
  auto numeric = [&](size_t i) {
    if (!args[i] || args[i]->isNumeric())
      return true;
    error(c.args[i]->loc,
          "'" + n + "' needs a number, found " + toString(args[i]));
    return false;
  };
  // Elementwise builtins also take tensors.
  auto arith = [&](size_t i) {
    if (!args[i] || isArith(args[i]))
      return true;
    error(c.args[i]->loc,
          "'" + n + "' needs a number or a tensor, found " + toString(args[i]));
    return false;
  };
  auto broadcastAll = [&]() -> const Type * {
    const Type *t = args[0];
    for (size_t i = 1; i < args.size() && t; ++i) {
      std::string err;
      t = sema::broadcast(T, t, args[i], n, err);
      if (!t)
        error(c.loc, err);
    }
    return t;
  };
  switch (k) {
  case Builtin::IntPoly1:
    if (!arity(1) || !ok || !arith(0))
      return nullptr;
    return args[0];
  case Builtin::IntPoly2:
    if (args.size() == 1 ||
        (args.size() == 2 && args[0] && args[0]->isF64Tensor() &&
         isIntLiteral(*c.args[1])))
      return extremum(c, n, args[0]);
    if (!arity(2) || !ok || !arith(0) || !arith(1))
      return nullptr;
    return broadcastAll();
  case Builtin::Elementwise: {
    if (!arity(elementwiseArity(n)) || !ok)
      return nullptr;
    for (size_t i = 0; i < args.size(); ++i)
      if (!arith(i))
        return nullptr;
    const Type *t = broadcastAll();
    return t ? T.withElems(t, Elem::F64) : nullptr;
  }
  case Builtin::Float:
  case Builtin::Int:
    // Elementwise on tensors too: float(t) of int[3] is f64[3].
    if (!arity(1) || !ok || !(args[0]->isTensor() ? arith(0) : numeric(0)))
      return nullptr;
    return T.withElems(args[0], k == Builtin::Int ? Elem::Int : Elem::F64);
  case Builtin::Print:
    for (size_t i = 0; i < args.size(); ++i)
      if (args[i] && args[i]->isVoid())
        error(c.args[i]->loc, "this expression has no value to print");
    return T.voidTy();
  case Builtin::Assert:
    if (args.size() != 1 && args.size() != 2) {
      error(c.loc, "'assert' takes a condition and an optional message");
      return T.voidTy();
    }
    if (args[0] && !args[0]->isBool())
      error(c.args[0]->loc,
            "'assert' needs a bool condition, found " + toString(args[0]));
    if (args.size() == 2 && c.args[1]->kind != ast::ExprKind::String)
      error(c.args[1]->loc, "the message of 'assert' must be a string literal");
    return T.voidTy();
  default:
    return nullptr;
  }
}

} // namespace bp::sema::detail
