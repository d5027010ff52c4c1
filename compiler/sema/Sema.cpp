//===- Sema.cpp - name resolution and type checking -----------------------===//
//
// Three walks over the module: (1) collect top-level names, (2) evaluate
// consts and param declarations and resolve function signatures, (3) check
// function bodies and derived functions. A failed expression gets a null
// type, which later checks treat as "already reported" so one mistake gives
// one error.
//
//===----------------------------------------------------------------------===//
#include "sema/Sema.h"

#include "sema/Shapes.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <optional>
#include <set>

namespace bp::sema {

const char *spelling(DerivKind k) {
  switch (k) {
  case DerivKind::Grad:
    return "grad";
  case DerivKind::ValueAndGrad:
    return "value_and_grad";
  case DerivKind::Jvp:
    return "jvp";
  }
  return "?";
}

const DerivedInfo *Program::lookupDerived(const std::string &name) const {
  for (auto &d : derived)
    if (d.name == name)
      return &d;
  return nullptr;
}

const FnSig *Program::signature(const std::string &name) const {
  auto it = fnSigs.find(name);
  if (it != fnSigs.end())
    return &it->second;
  if (const DerivedInfo *d = lookupDerived(name))
    return &d->sig;
  return nullptr;
}

namespace {

enum class Builtin {
  None,
  Unary,    // f64 -> f64
  IntPoly1, // abs: int -> int, f64 -> f64
  IntPoly2, // max, min
  Binary,   // pow
  Clip,     // clip(x, lo, hi)
  StopGrad, // stop_gradient(x)
  Float,    // float(i)
  Int,      // int(x)
  Print,    // print(...)
  Assert,   // assert(c, "msg")
  Derive,   // grad, value_and_grad, jvp
  Tensor,   // tensor builtins: not supported yet
  Init,     // param initialisers
};

/// The kind of builtin `n`; with `names`, lists every builtin instead.
Builtin builtinKind(const std::string &n,
                    std::vector<std::string> *names = nullptr) {
  static const std::map<std::string, Builtin> table = {
      {"exp", Builtin::Unary},       {"log", Builtin::Unary},
      {"sqrt", Builtin::Unary},      {"sin", Builtin::Unary},
      {"cos", Builtin::Unary},       {"tan", Builtin::Unary},
      {"tanh", Builtin::Unary},      {"sigmoid", Builtin::Unary},
      {"relu", Builtin::Unary},      {"softplus", Builtin::Unary},
      {"sign", Builtin::Unary},      {"lgamma", Builtin::Unary},
      {"abs", Builtin::IntPoly1},    {"max", Builtin::IntPoly2},
      {"min", Builtin::IntPoly2},    {"pow", Builtin::Binary},
      {"clip", Builtin::Clip},       {"stop_gradient", Builtin::StopGrad},
      {"float", Builtin::Float},     {"int", Builtin::Int},
      {"print", Builtin::Print},     {"assert", Builtin::Assert},
      {"grad", Builtin::Derive},     {"value_and_grad", Builtin::Derive},
      {"jvp", Builtin::Derive},      {"sum", Builtin::Tensor},
      {"mean", Builtin::Tensor},     {"logsumexp", Builtin::Tensor},
      {"norm", Builtin::Tensor},     {"dot", Builtin::Tensor},
      {"softmax", Builtin::Tensor},  {"log_softmax", Builtin::Tensor},
      {"len", Builtin::Tensor},      {"transpose", Builtin::Tensor},
      {"outer", Builtin::Tensor},    {"zeros", Builtin::Init},
      {"ones", Builtin::Init},       {"argmax", Builtin::Tensor},
      {"read_csv", Builtin::Tensor}, {"randn", Builtin::Init},
      {"uniform", Builtin::Init},    {"glorot", Builtin::Init},
  };
  if (names) {
    for (auto &[name, _] : table)
      names->push_back(name);
    return Builtin::None;
  }
  auto it = table.find(n);
  return it == table.end() ? Builtin::None : it->second;
}

struct Local {
  const Type *type;
  bool isVar;
  Loc loc;
};

enum class TopKind { Const, Param, Fn, Derived };
struct TopSym {
  TopKind kind;
  ast::Item *item;
};

class Checker {
public:
  Checker(ast::Module &m, TypeContext &t, DiagEngine &d, const Options &o,
          Program &p)
      : module(m), T(t), diags(d), options(o), prog(p) {}

  void run() {
    collect();
    for (auto &item : module.items)
      if (auto *c = dyn<ast::ConstItem>(item.get()))
        evalConst(*c);
    for (auto &item : module.items) {
      if (auto *p = dyn<ast::ParamItem>(item.get()))
        declareParam(*p);
      else if (auto *f = dyn<ast::FnItem>(item.get()))
        declareFn(*f);
    }
    for (auto &item : module.items)
      if (auto *d = dyn<ast::DerivedFnItem>(item.get()))
        resolveNamedDerived(*d);
    for (auto &item : module.items) {
      if (auto *f = dyn<ast::FnItem>(item.get()))
        checkFn(*f);
      else if (auto *t = dyn<ast::TrainItem>(item.get()))
        prog.train = t;
    }
    for (auto &d : prog.derived)
      checkNoParamStores(d);
    if (prog.train)
      checkTrain(*prog.train);
  }

  /// The train block's fields (LANGUAGE.md section 8).
  void checkTrain(const ast::TrainItem &t) {
    TrainSpec spec;
    spec.loc = t.loc;
    std::set<std::string> seen;
    bool ok = true;
    auto fail = [&](Loc l, const std::string &m) {
      error(l, m);
      ok = false;
    };
    auto number = [&](const ast::Expr &e, double &out) {
      auto v = constExpr(const_cast<ast::Expr &>(e));
      if (v)
        out = v->asDouble();
      return v.has_value();
    };
    std::string key; // the field being checked
    auto integer = [&](const ast::Expr &e, int64_t &out, int64_t min) {
      auto v = constExpr(const_cast<ast::Expr &>(e));
      if (!v)
        return false;
      if (!v->isInt || v->i < min) {
        fail(e.loc, "'" + key + "' needs an int >= " + std::to_string(min) +
                        ", found " +
                        (v->isInt ? std::to_string(v->i) : "an f64"));
        return false;
      }
      out = v->i;
      return true;
    };
    auto fnName = [&](const ast::Expr &e, std::string &out) {
      auto *n = dyn<const ast::NameExpr>(&e);
      if (!n || !prog.fnSigs.count(n->name)) {
        fail(e.loc, "'" + key + "' needs the name of a function" +
                        (n ? ", found '" + n->name + "'" + suggest(n->name)
                           : std::string()));
        return;
      }
      out = n->name;
    };
    auto path = [&](const ast::Expr &e, std::string &out, Loc &loc) {
      auto *s = dyn<const ast::StringExpr>(&e);
      if (!s) {
        fail(e.loc,
             "'" + key + "' needs a path in quotes: " + key + ": \"file.csv\"");
        return;
      }
      out = s->value;
      loc = e.loc;
    };
    for (auto &f : t.fields) {
      const std::string &k = f.key.name;
      if (!seen.insert(k).second) {
        fail(f.key.loc, "field '" + k + "' is given twice");
        continue;
      }
      const ast::Expr &v = *f.value;
      key = k;
      if (k == "loss")
        fnName(v, spec.loss);
      else if (k == "metric")
        fnName(v, spec.metric);
      else if (k == "data")
        path(v, spec.data, spec.dataLoc);
      else if (k == "test")
        path(v, spec.test, spec.testLoc);
      else if (k == "epochs")
        integer(v, spec.epochs, 1);
      else if (k == "batch")
        integer(v, spec.batch, 1);
      else if (k == "seed")
        integer(v, spec.seed, 0);
      else if (k == "clip") {
        if (number(v, spec.clip) && !(spec.clip > 0))
          fail(v.loc, "clip must be a positive number");
      } else if (k == "optimizer") {
        auto *c = dyn<const ast::CallExpr>(&v);
        auto *n = c ? dyn<const ast::NameExpr>(c->callee.get()) : nullptr;
        size_t lo = 1, hi = 1;
        if (n && n->name == "momentum")
          lo = hi = 2;
        else if (n && n->name == "adam")
          hi = 3;
        if (!n ||
            (n->name != "sgd" && n->name != "momentum" && n->name != "adam")) {
          const char *want =
              "sgd(lr), momentum(lr, beta) or adam(lr[, beta1, beta2])";
          fail(v.loc, n ? "unknown optimizer '" + n->name + "'" +
                              didYouMean(n->name, {"sgd", "momentum", "adam"}) +
                              " (expected " + want + ")"
                        : std::string("expected ") + want);
          continue;
        }
        if (c->args.size() < lo || c->args.size() > hi) {
          fail(v.loc,
               "'" + n->name + "' takes " +
                   (lo == hi
                        ? std::to_string(lo)
                        : std::to_string(lo) + " to " + std::to_string(hi)) +
                   " arguments, found " + std::to_string(c->args.size()));
          continue;
        }
        spec.optimizer = n->name;
        double vals[3] = {spec.lr, spec.beta1, spec.beta2};
        for (size_t i = 0; i < c->args.size(); ++i)
          ok &= number(*c->args[i], vals[i]);
        spec.lr = vals[0];
        spec.beta1 = vals[1];
        spec.beta2 = vals[2];
      } else {
        fail(f.key.loc,
             "unknown train field '" + k + "'" +
                 didYouMean(k, {"loss", "data", "optimizer", "epochs", "batch",
                                "clip", "seed", "test", "metric"}) +
                 " (expected loss, data, optimizer, epochs, batch, clip, "
                 "seed, test or metric)");
      }
    }
    if (spec.loss.empty() && !seen.count("loss"))
      fail(t.loc, "the train block needs 'loss: <fn>'");
    if (spec.data.empty() && !seen.count("data"))
      fail(t.loc, "the train block needs 'data: \"file.csv\"'");
    if (!ok)
      return;
    const FnSig &ls = prog.fnSigs.at(spec.loss);
    if (!ls.result->isF64()) {
      error(t.loc, "the loss '" + spec.loss + "' must return f64, found " +
                       toString(ls.result));
      return;
    }
    for (size_t i = 0; i < ls.params.size(); ++i)
      if (!ls.params[i]->isDifferentiable()) {
        error(t.loc, "argument '" + ls.paramNames[i] + "' of the loss is " +
                         toString(ls.params[i]) +
                         ": data columns fill f64 and f64 tensor arguments");
        return;
      }
    if (!spec.metric.empty()) {
      const FnSig &ms = prog.fnSigs.at(spec.metric);
      if (ms.params != ls.params || !ms.result->isNumeric()) {
        error(t.loc, "the metric '" + spec.metric +
                         "' must take the loss's arguments and return f64");
        return;
      }
    }
    prog.trainSpec = spec;
  }

  /// A function that assigns a param (itself or through a call) cannot be
  /// differentiated (LANGUAGE.md section 4).
  void checkNoParamStores(const DerivedInfo &d) {
    std::string fn = d.base;
    while (const DerivedInfo *inner = prog.lookupDerived(fn))
      fn = inner->base;
    std::set<std::string> seen;
    std::vector<std::string> work = {fn};
    while (!work.empty()) {
      std::string g = work.back();
      work.pop_back();
      if (!seen.insert(g).second)
        continue;
      auto it = paramStores.find(g);
      if (it != paramStores.end()) {
        error(d.loc, "cannot differentiate '" + fn + "': " +
                         (g == fn ? std::string("it")
                                  : "'" + g + "', which it calls,") +
                         " assigns param '" + it->second.first + "' (line " +
                         std::to_string(it->second.second.line) + ")");
        return;
      }
      for (auto &c : callGraph[g])
        work.push_back(c);
    }
  }

private:
  ast::Module &module;
  TypeContext &T;
  DiagEngine &diags;
  const Options &options;
  Program &prog;

  std::map<std::string, TopSym> top;
  std::set<std::string> evaluating; // consts / derived being resolved
  std::map<std::string, bool> declared;

  // Param assignments and calls per function (for checkNoParamStores).
  std::map<std::string, std::pair<std::string, Loc>> paramStores;
  std::map<std::string, std::set<std::string>> callGraph;

  // Per-function state.
  std::vector<std::map<std::string, Local>> scopes;
  const FnSig *curSig = nullptr;
  const ast::FnItem *curFn = nullptr;

  template <class T, class U> static T *dyn(U *x) {
    return x && T::classof(x) ? static_cast<T *>(x) : nullptr;
  }

  void error(Loc l, std::string msg) { diags.error(l, std::move(msg)); }

  //===--------------------------------------------------------------------===//
  // Top level
  //===--------------------------------------------------------------------===//

  void collect() {
    for (auto &item : module.items) {
      if (item->kind == ast::ItemKind::Train) {
        if (prog.train)
          error(item->loc, "a file may have only one 'train' block");
        prog.train = static_cast<ast::TrainItem *>(item.get());
        continue;
      }
      const std::string &n = item->name;
      if (isBuiltin(n)) {
        error(item->nameLoc,
              "'" + n + "' is a builtin and cannot be redefined");
        continue;
      }
      auto [it, inserted] =
          top.try_emplace(n, TopSym{kindOf(*item), item.get()});
      if (!inserted) {
        error(item->nameLoc, "'" + n + "' is already defined at line " +
                                 std::to_string(it->second.item->nameLoc.line));
      }
    }
  }

  static TopKind kindOf(const ast::Item &i) {
    switch (i.kind) {
    case ast::ItemKind::Const:
      return TopKind::Const;
    case ast::ItemKind::Param:
      return TopKind::Param;
    case ast::ItemKind::DerivedFn:
      return TopKind::Derived;
    default:
      return TopKind::Fn;
    }
  }

  /// `extra`: candidates besides the names in scope (e.g. the arguments of
  /// the function named in grad(f, ...)).
  std::string suggest(const std::string &name,
                      const std::vector<std::string> &extra = {}) {
    std::vector<std::string> candidates = extra;
    for (auto &scope : scopes)
      for (auto &[n, _] : scope)
        candidates.push_back(n);
    for (auto &[n, _] : top)
      candidates.push_back(n);
    builtinKind("", &candidates);
    return didYouMean(name, candidates);
  }

  // Consts: literals and other consts, int or f64; -D overrides.
  std::optional<ConstValue> evalConst(ast::ConstItem &c) {
    auto done = prog.consts.find(c.name);
    if (done != prog.consts.end())
      return done->second;
    auto def = options.defines.find(c.name);
    if (def != options.defines.end()) {
      ConstValue v;
      char *end = nullptr;
      const std::string &s = def->second;
      errno = 0;
      long long i = strtoll(s.c_str(), &end, 10);
      if (!s.empty() && *end == 0 && errno == ERANGE) {
        error(c.nameLoc,
              "-D " + c.name + "=" + s + ": int value out of the 64-bit range");
        return std::nullopt;
      }
      if (!s.empty() && *end == 0) {
        v.i = i;
      } else {
        double f = strtod(s.c_str(), &end);
        if (s.empty() || *end != 0) {
          error(c.nameLoc,
                "-D " + c.name + "=" + s + ": expected an int or f64 value");
          return std::nullopt;
        }
        v.isInt = false;
        v.f = f;
      }
      return prog.consts[c.name] = v;
    }
    if (!evaluating.insert(c.name).second) {
      error(c.nameLoc, "const '" + c.name + "' depends on itself");
      return std::nullopt;
    }
    auto v = constExpr(*c.value);
    evaluating.erase(c.name);
    if (v) {
      prog.consts[c.name] = *v;
      c.value->type = v->isInt ? T.i64() : T.f64();
    }
    return v;
  }

  std::optional<ConstValue> constExpr(ast::Expr &e) {
    using namespace ast;
    if (auto *n = dyn<NumberExpr>(&e)) {
      ConstValue v;
      v.isInt = n->isInt;
      v.i = n->intValue;
      v.f = n->floatValue;
      return v;
    }
    if (auto *n = dyn<NameExpr>(&e)) {
      auto it = top.find(n->name);
      if (it == top.end() || it->second.kind != TopKind::Const) {
        error(e.loc, it == top.end()
                         ? "unknown name '" + n->name + "'" + suggest(n->name)
                         : "'" + n->name +
                               "' is not a const; a const is an expression of "
                               "literals and other consts");
        return std::nullopt;
      }
      return evalConst(*static_cast<ConstItem *>(it->second.item));
    }
    if (auto *u = dyn<UnaryExpr>(&e)) {
      auto v = constExpr(*u->operand);
      if (!v)
        return v;
      if (u->op == UnaryOp::Not) {
        error(e.loc, "'not' is not allowed in a const expression");
        return std::nullopt;
      }
      if (u->op == UnaryOp::Neg) {
        if (v->isInt && v->i == INT64_MIN) {
          error(e.loc, "int overflow in a const expression: -(" +
                           std::to_string(v->i) + ") does not fit in 64 bits");
          return std::nullopt;
        }
        v->i = (int64_t)(0ull - (uint64_t)v->i);
        v->f = -v->f;
      }
      return v;
    }
    if (auto *b = dyn<BinaryExpr>(&e)) {
      auto l = constExpr(*b->lhs), r = constExpr(*b->rhs);
      if (!l || !r)
        return std::nullopt;
      ConstValue v;
      bool ints = l->isInt && r->isInt;
      if (b->op == BinaryOp::Pow) {
        v.isInt = false;
        v.f = std::pow(l->asDouble(), r->asDouble());
        if (ints && r->i >= 0 && std::fabs(v.f) < 9.2e18) {
          // An int power of ints stays an int when exact (`const N = 2^10`):
          // by squaring (|base| <= 1 may have a huge exponent).
          int64_t result = 1, base = l->i;
          bool overflow = false;
          for (int64_t k = r->i; k > 0 && !overflow; k >>= 1) {
            if (k & 1)
              overflow |= __builtin_mul_overflow(result, base, &result);
            if (k > 1)
              overflow |= __builtin_mul_overflow(base, base, &base);
          }
          if (!overflow) {
            v.isInt = true;
            v.i = result;
          }
        }
        return v;
      }
      if (ints) {
        int64_t a = l->i, c = r->i;
        auto overflow = [&] {
          error(b->opLoc,
                "int overflow in a const expression: " + std::to_string(a) +
                    " " + spelling(b->op) + " " + std::to_string(c) +
                    " does not fit in 64 bits (write an f64 "
                    "literal, e.g. 1.0e20, for large values)");
          return std::nullopt;
        };
        switch (b->op) {
        case BinaryOp::Add:
          if (__builtin_add_overflow(a, c, &v.i))
            return overflow();
          return v;
        case BinaryOp::Sub:
          if (__builtin_sub_overflow(a, c, &v.i))
            return overflow();
          return v;
        case BinaryOp::Mul:
          if (__builtin_mul_overflow(a, c, &v.i))
            return overflow();
          return v;
        case BinaryOp::Div:
        case BinaryOp::Mod:
          if (r->i == 0) {
            error(b->opLoc, "division by zero in a const expression");
            return std::nullopt;
          }
          if (l->i == INT64_MIN && r->i == -1)
            return overflow();
          v.i = b->op == BinaryOp::Div ? l->i / r->i : l->i % r->i;
          return v;
        default:
          break;
        }
      } else {
        v.isInt = false;
        double x = l->asDouble(), y = r->asDouble();
        switch (b->op) {
        case BinaryOp::Add:
          v.f = x + y;
          return v;
        case BinaryOp::Sub:
          v.f = x - y;
          return v;
        case BinaryOp::Mul:
          v.f = x * y;
          return v;
        case BinaryOp::Div:
          v.f = x / y;
          return v;
        case BinaryOp::Mod:
          v.f = std::fmod(x, y);
          return v;
        default:
          break;
        }
      }
      error(b->opLoc, std::string("'") + spelling(b->op) +
                          "' is not allowed in a const expression");
      return std::nullopt;
    }
    error(e.loc, "a const must be an expression of literals and other consts");
    return std::nullopt;
  }

  // Types as written.
  const Type *resolveType(const ast::TypeExpr &t) {
    switch (t.kind) {
    case ast::TypeExpr::F64:
      return T.f64();
    case ast::TypeExpr::Int:
      return T.i64();
    case ast::TypeExpr::Bool:
      return T.boolean();
    case ast::TypeExpr::Tuple: {
      std::vector<const Type *> elems;
      for (auto &e : t.elems) {
        const Type *et = resolveType(e);
        if (!et)
          return nullptr;
        elems.push_back(et);
      }
      return T.tuple(elems);
    }
    case ast::TypeExpr::Tensor: {
      std::vector<int64_t> shape;
      if (t.dims.empty() || t.dims.size() > 4) {
        error(t.loc, "a tensor has rank 1 to 4, found rank " +
                         std::to_string(t.dims.size()));
        return nullptr;
      }
      for (auto &d : t.dims) {
        int64_t v = d.value;
        if (!d.name.empty()) {
          auto it = top.find(d.name);
          if (it == top.end() || it->second.kind != TopKind::Const) {
            error(d.loc, "tensor dimension '" + d.name +
                             "' must be an int literal or a const" +
                             (it == top.end() ? ", and no const has this name" +
                                                    suggestConst(d.name)
                                              : std::string()));
            return nullptr;
          }
          auto cv = evalConst(*static_cast<ast::ConstItem *>(it->second.item));
          if (!cv)
            return nullptr;
          if (!cv->isInt) {
            error(d.loc, "tensor dimension '" + d.name +
                             "' must be an int, "
                             "found f64");
            return nullptr;
          }
          v = cv->i;
        }
        if (v <= 0) {
          error(d.loc, "tensor dimensions must be positive, found " +
                           std::to_string(v));
          return nullptr;
        }
        shape.push_back(v);
      }
      const Type *tt = T.tensor(shape);
      return sizeOk(tt, t.loc) ? tt : nullptr;
    }
    }
    return nullptr;
  }

  void declareParam(ast::ParamItem &p) {
    const Type *t = resolveType(p.type);
    if (!t)
      return;
    if (!t->isDifferentiable()) {
      error(p.type.loc,
            "a param must be f64 or an f64 tensor, found " + toString(t));
      return;
    }
    ParamInfo info{p.name, t, p.nameLoc, "zeros", {}};
    if (p.init) {
      auto *call = dyn<ast::CallExpr>(p.init.get());
      auto *callee = call ? dyn<ast::NameExpr>(call->callee.get()) : nullptr;
      if (callee) {
        static const std::map<std::string, unsigned> arity = {{"zeros", 0},
                                                              {"ones", 0},
                                                              {"randn", 1},
                                                              {"uniform", 2},
                                                              {"glorot", 0}};
        auto it = arity.find(callee->name);
        if (it == arity.end()) {
          error(p.init->loc,
                "unknown param initialiser '" + callee->name + "'" +
                    didYouMean(callee->name, {"zeros", "ones", "randn",
                                              "uniform", "glorot"}) +
                    ": a param initialiser is zeros(), ones(), randn(std), "
                    "uniform(lo, hi), glorot() or a literal");
          return;
        }
        if (call->args.size() != it->second) {
          error(p.init->loc,
                "'" + callee->name + "' takes " + std::to_string(it->second) +
                    " arguments, found " + std::to_string(call->args.size()));
          return;
        }
        if (callee->name == "glorot" && t->shape.size() != 2) {
          error(p.init->loc,
                "glorot() initialises rank-2 params, found " + toString(t));
          return;
        }
        info.init = callee->name;
        for (auto &a : call->args) {
          auto v = constExpr(*a);
          if (!v)
            return;
          info.initArgs.push_back(v->asDouble());
        }
      } else if (auto *lit = dyn<ast::TensorLitExpr>(p.init.get())) {
        // A literal of the param's shape: its numbers in row-major order.
        std::vector<double> vals;
        std::vector<int64_t> shape;
        if (!literalValues(*lit, vals, shape, 0))
          return;
        if (!t->isTensor() || shape != t->shape) {
          error(p.init->loc, "initialiser of shape " +
                                 toString(T.tensor(shape)) +
                                 " for param of type " + toString(t));
          return;
        }
        info.init = "literal";
        info.initArgs = vals;
      } else {
        auto v = constExpr(*p.init);
        if (!v)
          return;
        info.init = "literal";
        info.initArgs.push_back(v->asDouble());
      }
    }
    declared[p.name] = true;
    prog.params.push_back(info);
  }

  /// The numbers of a constant tensor literal, row-major, and its shape.
  bool literalValues(ast::TensorLitExpr &lit, std::vector<double> &vals,
                     std::vector<int64_t> &shape, size_t depth) {
    if (depth == shape.size())
      shape.push_back((int64_t)lit.elems.size());
    else if (shape[depth] != (int64_t)lit.elems.size()) {
      error(lit.loc, "tensor literal rows differ in length");
      return false;
    }
    for (auto &e : lit.elems) {
      if (auto *inner = dyn<ast::TensorLitExpr>(e.get())) {
        if (!literalValues(*inner, vals, shape, depth + 1))
          return false;
        continue;
      }
      auto v = constExpr(*e);
      if (!v)
        return false;
      vals.push_back(v->asDouble());
    }
    return true;
  }

  void declareFn(ast::FnItem &f) {
    FnSig sig;
    bool ok = true;
    std::set<std::string> seen;
    for (auto &p : f.params) {
      if (!seen.insert(p.name.name).second) {
        error(p.name.loc, "duplicate argument '" + p.name.name + "'");
        ok = false;
      }
      const Type *t = resolveType(p.type);
      if (!t) {
        ok = false;
        continue;
      }
      if (t->isTuple()) {
        error(p.type.loc, "a function argument cannot be a tuple");
        ok = false;
      }
      sig.paramNames.push_back(p.name.name);
      sig.params.push_back(t);
    }
    sig.result = T.voidTy();
    if (f.result) {
      sig.result = resolveType(*f.result);
      ok &= sig.result != nullptr;
    }
    if (f.name == "main" && (!f.params.empty() || f.result))
      error(f.nameLoc, "'main' takes no arguments and returns nothing");
    if (ok) {
      prog.fnSigs[f.name] = sig;
      prog.fns.push_back(&f);
    }
  }

  //===--------------------------------------------------------------------===//
  // Derived functions
  //===--------------------------------------------------------------------===//

  std::set<std::string> attemptedDerived;

  std::string suggestConst(const std::string &name) {
    std::vector<std::string> consts;
    for (auto &[n, info] : top)
      if (info.kind == TopKind::Const)
        consts.push_back(n);
    return didYouMean(name, consts);
  }

  void resolveNamedDerived(ast::DerivedFnItem &d) {
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
  const FnSig *callable(const std::string &n) {
    auto it = top.find(n);
    if (it != top.end() && it->second.kind == TopKind::Derived)
      resolveNamedDerived(*static_cast<ast::DerivedFnItem *>(it->second.item));
    return prog.signature(n);
  }

  /// `grad(f, x, ...)` -> the derived function's name (registered in prog),
  /// or "" after an error.
  std::string resolveDerived(ast::CallExpr &call, std::string name = "") {
    auto *callee = static_cast<ast::NameExpr *>(call.callee.get());
    DerivKind kind = callee->name == "grad" ? DerivKind::Grad
                     : callee->name == "value_and_grad"
                         ? DerivKind::ValueAndGrad
                         : DerivKind::Jvp;
    const char *what = spelling(kind);
    if (call.args.empty()) {
      error(call.loc, std::string("'") + what + "' needs a function: " + what +
                          "(f, x, ...)");
      return "";
    }
    // The base: a function name or a nested derived call.
    std::string base;
    ast::Expr *baseExpr = call.args[0].get();
    if (auto *n = dyn<ast::NameExpr>(baseExpr)) {
      if (!callable(n->name)) {
        auto it = top.find(n->name);
        if (it == top.end())
          error(n->loc,
                "unknown function '" + n->name + "'" + suggest(n->name));
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
      base = n->name;
    } else if (auto *c = dyn<ast::CallExpr>(baseExpr);
               c && dyn<ast::NameExpr>(c->callee.get()) &&
               builtinKind(
                   static_cast<ast::NameExpr *>(c->callee.get())->name) ==
                   Builtin::Derive) {
      base = resolveDerived(*c);
      if (base.empty())
        return "";
    } else {
      error(baseExpr->loc, std::string("the first argument of '") + what +
                               "' must name a function");
      return "";
    }
    const FnSig &bsig = *prog.signature(base);

    DerivedInfo info;
    info.kind = kind;
    info.base = base;
    info.loc = call.loc;
    std::vector<WrtVar> wrt;
    std::set<std::string> seen;
    if (call.args.size() == 1) {
      if (bsig.params.empty()) {
        error(call.loc, "'" + base +
                            "' has no arguments to differentiate "
                            "with respect to");
        return "";
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
    if (!ok)
      return "";

    FnSig sig;
    sig.paramNames = bsig.paramNames;
    sig.params = bsig.params;
    if (kind == DerivKind::Jvp) {
      if (!bsig.result->isDifferentiable()) {
        error(call.loc, "jvp needs a function returning f64 or an f64 tensor, "
                        "but '" +
                            base + "' returns " + toString(bsig.result));
        return "";
      }
      for (auto &v : wrt) {
        sig.paramNames.push_back(v.name + "_dot");
        sig.params.push_back(v.type);
      }
      sig.result = T.tuple({bsig.result, bsig.result});
    } else {
      if (!bsig.result->isF64()) {
        error(call.loc, std::string(what) +
                            " needs a function returning f64, but '" + base +
                            "' returns " + toString(bsig.result) +
                            (bsig.result->isTensor()
                                 ? "; reduce it first (e.g. sum) or use jvp"
                                 : ""));
        return "";
      }
      std::vector<const Type *> res;
      if (kind == DerivKind::ValueAndGrad)
        res.push_back(T.f64());
      for (auto &v : wrt)
        res.push_back(v.type);
      sig.result = res.size() == 1 ? res[0] : T.tuple(res);
    }
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

  //===--------------------------------------------------------------------===//
  // Function bodies
  //===--------------------------------------------------------------------===//

  void checkFn(const ast::FnItem &f) {
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

  static bool alwaysReturns(const ast::Block &b) {
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

  const Local *lookupLocal(const std::string &n) {
    for (auto it = scopes.rbegin(); it != scopes.rend(); ++it) {
      auto f = it->find(n);
      if (f != it->end())
        return &f->second;
    }
    return nullptr;
  }

  void checkBlock(const ast::Block &b) {
    scopes.emplace_back();
    for (auto &s : b.stmts)
      checkStmt(*s);
    scopes.pop_back();
  }

  void bind(const ast::Binding &b, const Type *t, bool isVar) {
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
  static bool convertible(const Type *from, const Type *to) {
    return from == to || (from->isInt() && to->isF64());
  }

  void expectType(const ast::Expr &e, const Type *got, const Type *want,
                  const std::string &context) {
    if (!got || !want || convertible(got, want))
      return;
    error(e.loc, context + ": expected " + toString(want) + ", found " +
                     toString(got));
  }

  void checkStmt(const ast::Stmt &s) {
    using namespace ast;
    switch (s.kind) {
    case StmtKind::Let: {
      auto &l = static_cast<const LetStmt &>(s);
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
      return;
    }
    case StmtKind::Assign: {
      auto &a = static_cast<const AssignStmt &>(s);
      const Type *vt = expr(*a.value);
      if (auto *ix = dyn<IndexExpr>(a.target.get())) {
        // v[i, j] op= e: v must be a var tensor.
        auto *base = dyn<NameExpr>(ix->base.get());
        if (!base) {
          error(ix->base->loc, "only a variable's elements can be assigned");
          return;
        }
        const Local *l = lookupLocal(base->name);
        if (!l) {
          error(base->loc, top.count(base->name)
                               ? "cannot assign elements of '" + base->name +
                                     "': only 'var' tensors can change "
                                     "element by element"
                               : "unknown name '" + base->name + "'" +
                                     suggest(base->name));
          return;
        }
        if (!l->isVar) {
          error(base->loc, "cannot assign to an element of '" + base->name +
                               "': it is immutable (declare it with 'var')");
          return;
        }
        bool sliced = std::any_of(ix->indices.begin(), ix->indices.end(),
                                  [](const IndexArg &i) { return i.isSlice; });
        const Type *et = index(*ix);
        ix->type = et;
        if (!et || !vt)
          return;
        if (sliced) {
          // A scalar fills the slice; a tensor must broadcast to its shape.
          std::string err;
          const Type *r = vt->isNumeric() || vt->isTensor()
                              ? sema::broadcast(T, et, vt, "=", err)
                              : nullptr;
          if (!r || !r->isTensor() || r->shape != et->shape)
            error(a.value->loc, "cannot assign " + toString(vt) +
                                    " to the slice " + toString(et) + " of '" +
                                    base->name + "'");
          return;
        }
        expectType(*a.value, vt, et, "element of '" + base->name + "'");
        return;
      }
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
          if (p && vt)
            expectType(*a.value, vt, p->type,
                       "assignment to '" + n->name + "'");
          return;
        }
        error(n->loc,
              it != top.end()
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
      if (a.op != AssignOp::Set && !l->type->isNumeric()) {
        error(n->loc, "compound assignment needs a number, '" + n->name +
                          "' is " + toString(l->type));
        return;
      }
      if (l->type->isInt() && vt->isF64()) {
        error(a.value->loc, "cannot assign f64 to int variable '" + n->name +
                                "' (use int(x) to truncate)");
        return;
      }
      expectType(*a.value, vt, l->type, "assignment to '" + n->name + "'");
      return;
    }
    case StmtKind::If: {
      auto &i = static_cast<const IfStmt &>(s);
      expectType(*i.cond, expr(*i.cond), T.boolean(), "condition of 'if'");
      checkBlock(i.thenBlock);
      if (i.elseBlock)
        checkBlock(*i.elseBlock);
      return;
    }
    case StmtKind::For: {
      auto &f = static_cast<const ForStmt &>(s);
      const Type *lo = expr(*f.lo), *hi = expr(*f.hi);
      if (lo && !lo->isInt())
        error(f.lo->loc, "loop bounds must be int, found " + toString(lo));
      if (hi && !hi->isInt())
        error(f.hi->loc, "loop bounds must be int, found " + toString(hi));
      scopes.emplace_back();
      bind(f.var, T.i64(), false);
      checkBlock(f.body);
      scopes.pop_back();
      return;
    }
    case StmtKind::While: {
      auto &w = static_cast<const WhileStmt &>(s);
      expectType(*w.cond, expr(*w.cond), T.boolean(), "condition of 'while'");
      checkBlock(w.body);
      return;
    }
    case StmtKind::Return: {
      auto &r = static_cast<const ReturnStmt &>(s);
      if (!r.value) {
        if (!curSig->result->isVoid())
          error(r.loc, "'" + curFn->name + "' must return " +
                           toString(curSig->result));
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
      return;
    }
    case StmtKind::Expr: {
      auto &e = static_cast<const ExprStmt &>(s);
      expr(*e.expr);
      if (e.expr->kind != ExprKind::Call && e.expr->type)
        diags.warning(e.expr->loc, "expression result unused");
      return;
    }
    }
  }

  const ParamInfo *findParam(const std::string &n) {
    for (auto &p : prog.params)
      if (p.name == n)
        return &p;
    return nullptr;
  }

  //===--------------------------------------------------------------------===//
  // Expressions
  //===--------------------------------------------------------------------===//

  const Type *expr(ast::Expr &e) {
    const Type *t = exprImpl(e);
    if (t && !sizeOk(t, e.loc))
      t = nullptr;
    e.type = t;
    return t;
  }

  /// Tensors up to maxTensorElements; reports larger ones at `loc`.
  bool sizeOk(const Type *t, Loc loc) {
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

  const Type *numericResult(const Type *a, const Type *b) {
    if (a->isInt() && b->isInt())
      return T.i64();
    return T.f64();
  }

  const Type *exprImpl(ast::Expr &e) {
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
        if (et &&
            (et->isVoid() || et->isTuple() || et->kind == TypeKind::Str)) {
          error(x->loc,
                "a tuple element must be a value, found " + toString(et));
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

  const Type *name(ast::NameExpr &n) {
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
  const Type *index(ast::IndexExpr &e) {
    const Type *base = expr(*e.base);
    bool ok = base != nullptr;
    for (auto &ix : e.indices) {
      if (ix.isSlice)
        continue;
      const Type *t = expr(*ix.index);
      if (t && !t->isInt()) {
        error(ix.index->loc, "an index must be an int, found " + toString(t));
        ok = false;
      }
    }
    if (!ok)
      return nullptr;
    if (!base->isTensor()) {
      error(e.base->loc,
            "only tensors can be indexed, found " + toString(base));
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
          error(ix.loc, "slice " + std::to_string(lo) + ":" +
                            std::to_string(hi) + " is out of range for axis " +
                            std::to_string(k) + " of size " +
                            std::to_string(dim) + " (or empty)");
          return nullptr;
        }
      }
      bounds.push_back({lo, hi});
      shape.push_back(hi - lo);
    }
    if (shape.empty())
      return T.f64();
    if (std::any_of(e.indices.begin(), e.indices.end(),
                    [](const ast::IndexArg &a) { return a.isSlice; }))
      prog.slices[&e] = bounds;
    return T.tensor(shape);
  }

  /// `[e, ...]`: scalars give a rank-1 tensor; equally shaped tensors (or
  /// nested literals) stack along a new leading axis.
  const Type *tensorLiteral(ast::TensorLitExpr &e) {
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
      if (t->isInt())
        t = T.f64();
      if (!elem)
        elem = t;
      else if (elem != t) {
        error(x->loc, "tensor literal rows differ: " + toString(elem) +
                          " and " + toString(t));
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
  const Type *filled(ast::CallExpr &c, const std::string &n) {
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

  /// The axis argument of sum/mean/logsumexp: an int literal, negative
  /// counting from the end. Recorded for IRGen.
  bool axisArg(ast::CallExpr &c, const Type *x, int64_t &axis) {
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

  static bool isReadCsv(const ast::Expr &e) {
    auto *c = dyn<const ast::CallExpr>(&e);
    auto *n = c ? dyn<const ast::NameExpr>(c->callee.get()) : nullptr;
    return n && n->name == "read_csv";
  }

  /// `let X: f64[N, D] = read_csv("x.csv")` (section 6): the declared type
  /// gives the shape the file must have.
  void checkReadCsv(const ast::LetStmt &l) {
    auto &c = static_cast<ast::CallExpr &>(*l.init);
    const Type *t = l.type ? resolveType(*l.type) : nullptr;
    if (c.args.size() != 1 || c.args[0]->kind != ast::ExprKind::String) {
      error(c.loc, "read_csv takes one path in quotes");
    } else if (!l.type || l.isDestructure) {
      error(c.loc, "read_csv(...) must initialise a binding with a declared "
                   "tensor type: let X: f64[N, D] = read_csv(\"x.csv\")");
    } else if (t && !t->isTensor()) {
      error(l.type->loc, "read_csv gives a tensor: expected a declared type "
                         "f64[N, D], found " +
                             toString(t));
      t = nullptr;
    } else if (t) {
      c.args[0]->type = T.str();
      c.type = t;
    }
    for (auto &n : l.names)
      bind(n, t, l.isVar);
  }

  const Type *tensorBuiltin(ast::CallExpr &c, const std::string &n) {
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
                       ", found " + std::to_string(c.args.size()) +
                       " arguments");
      return nullptr;
    }
    for (size_t i = 0; i < args.size(); ++i)
      if (!args[i]->isTensor()) {
        error(c.args[i]->loc,
              "'" + n + "' needs a tensor, found " + toString(args[i]));
        return nullptr;
      }
    const Type *x = args[0];
    auto needRank = [&](const Type *t, size_t r, ast::Expr &e) {
      if (t->rank() == r)
        return true;
      error(e.loc, "'" + n + "' needs a rank-" + std::to_string(r) +
                       " tensor, found " + toString(t));
      return false;
    };
    if (n == "sum" || n == "mean" || n == "logsumexp") {
      if (!hasAxis)
        return T.f64();
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

  static bool isArith(const Type *t) {
    return t->isNumeric() || (t->isTensor() && !t->boolElems);
  }

  const Type *binary(ast::BinaryExpr &b) {
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
      if (b.op == BinaryOp::Pow && !t->isTensor())
        return T.f64();
      return t;
    }
    }
  }

  const Type *call(ast::CallExpr &c) {
    using namespace ast;
    // Inline derived call: grad(f, x)(args).
    if (auto *inner = dyn<CallExpr>(c.callee.get())) {
      auto *n = dyn<NameExpr>(inner->callee.get());
      if (!n || builtinKind(n->name) != Builtin::Derive) {
        error(c.callee->loc, "only functions and grad/value_and_grad/jvp(...) "
                             "can be called");
        return nullptr;
      }
      std::string d = resolveDerived(*inner);
      if (d.empty()) {
        for (auto &a : c.args)
          expr(*a);
        return nullptr;
      }
      prog.inlineDerived[inner] = d;
      return userCall(c, d, *prog.signature(d));
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
      return userCall(c, n->name, *sig);
    }
    return builtinCall(c, n->name);
  }

  const Type *userCall(ast::CallExpr &c, const std::string &name,
                       const FnSig &sig) {
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
      error(c.loc, "'" + name + "' takes " + std::to_string(sig.params.size()) +
                       (sig.params.size() == 1 ? " argument" : " arguments") +
                       ", found " + std::to_string(args.size()));
      return sig.result;
    }
    for (size_t i = 0; i < args.size(); ++i)
      expectType(*c.args[i], args[i], sig.params[i],
                 "argument " + std::to_string(i + 1) + " ('" +
                     sig.paramNames[i] + "') of '" + name + "'");
    return sig.result;
  }

  const Type *builtinCall(ast::CallExpr &c, const std::string &n) {
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
      error(c.args[i]->loc, "'" + n + "' needs a number or a tensor, found " +
                                toString(args[i]));
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
    case Builtin::Unary:
    case Builtin::StopGrad:
      if (!arity(1) || !ok || !arith(0))
        return nullptr;
      return args[0]->isTensor() ? args[0] : T.f64();
    case Builtin::IntPoly1:
      if (!arity(1) || !ok || !arith(0))
        return nullptr;
      return args[0];
    case Builtin::IntPoly2:
      if (!arity(2) || !ok || !arith(0) || !arith(1))
        return nullptr;
      return broadcastAll();
    case Builtin::Binary:
    case Builtin::Clip: {
      if (!arity(k == Builtin::Clip ? 3 : 2) || !ok)
        return nullptr;
      for (size_t i = 0; i < args.size(); ++i)
        if (!arith(i))
          return nullptr;
      const Type *t = broadcastAll();
      return t && !t->isTensor() ? T.f64() : t;
    }
    case Builtin::Float:
      if (!arity(1) || !ok || !numeric(0))
        return nullptr;
      return T.f64();
    case Builtin::Int:
      if (!arity(1) || !ok || !numeric(0))
        return nullptr;
      return T.i64();
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
        error(c.args[1]->loc,
              "the message of 'assert' must be a string literal");
      return T.voidTy();
    default:
      return nullptr;
    }
  }
};

} // namespace

bool isBuiltin(const std::string &name) {
  return builtinKind(name) != Builtin::None;
}

bool check(ast::Module &module, TypeContext &types, DiagEngine &diags,
           const Options &options, Program &out) {
  unsigned before = diags.errorCount();
  Checker(module, types, diags, options, out).run();
  return diags.errorCount() == before;
}

} // namespace bp::sema
