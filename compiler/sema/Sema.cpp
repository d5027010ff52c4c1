//===- Sema.cpp - name resolution and type checking -----------------------===//
//
// Three walks over the module: (1) collect top-level names, (2) evaluate
// consts and param declarations and resolve function signatures, (3) check
// function bodies and derived functions (the Checker, sema/Checker.h; this
// file has its top-level walk and the train block). A failed expression gets a
// null type, which later checks treat as "already reported" so one mistake
// gives one error.
//
//===----------------------------------------------------------------------===//
#include "sema/Checker.h"
#include "sema/Shapes.h"

#include "ir/Eval.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>

namespace bp::sema {

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

namespace detail {

unsigned elementwiseArity(const std::string &n) {
  auto it = ir::elementwiseBuiltins().find(n);
  return it == ir::elementwiseBuiltins().end() ? 0 : ir::mathArity(it->second);
}

Builtin builtinKind(const std::string &n, std::vector<std::string> *names) {
  static const std::map<std::string, Builtin> table = [] {
    std::map<std::string, Builtin> t = {
        {"abs", Builtin::IntPoly1},
        {"max", Builtin::IntPoly2},
        {"min", Builtin::IntPoly2},
        {"float", Builtin::Float},
        {"int", Builtin::Int},
        {"print", Builtin::Print},
        {"assert", Builtin::Assert},
        {"grad", Builtin::Derive},
        {"value_and_grad", Builtin::Derive},
        {"jvp", Builtin::Derive},
        {"vmap", Builtin::Derive},
        {"vjp", Builtin::Derive},
        {"jacobian", Builtin::Derive},
        {"hessian", Builtin::Derive},
        {"checkpoint", Builtin::Derive},
        {"sum", Builtin::Tensor},
        {"mean", Builtin::Tensor},
        {"logsumexp", Builtin::Tensor},
        {"norm", Builtin::Tensor},
        {"dot", Builtin::Tensor},
        {"softmax", Builtin::Tensor},
        {"log_softmax", Builtin::Tensor},
        {"len", Builtin::Tensor},
        {"transpose", Builtin::Tensor},
        {"outer", Builtin::Tensor},
        {"argmax", Builtin::Tensor},
        {"reshape", Builtin::Tensor},
        {"flatten", Builtin::Tensor},
        {"concat", Builtin::Tensor},
        {"avgpool2d", Builtin::Tensor},
        {"maxpool2d", Builtin::Tensor},
        {"conv2d", Builtin::Tensor},
        {"read_csv", Builtin::Tensor},
        {"zeros", Builtin::Init},
        {"ones", Builtin::Init},
        {"randn", Builtin::Init},
        {"uniform", Builtin::Init},
        {"glorot", Builtin::Init},
    };
    for (auto &[name, kind] : ir::elementwiseBuiltins())
      t.emplace(name, Builtin::Elementwise);
    return t;
  }();
  if (names) {
    for (auto &[name, _] : table)
      names->push_back(name);
    return Builtin::None;
  }
  auto it = table.find(n);
  return it == table.end() ? Builtin::None : it->second;
}

void Checker::run() {
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
  specialiseAll(); // section 21: appends specialisations to module.items
  for (auto &item : module.items) {
    if (auto *f = dyn<ast::FnItem>(item.get())) {
      if (!isGeneric(*f))
        checkFn(*f);
    } else if (auto *t = dyn<ast::TrainItem>(item.get())) {
      prog.train = t;
    }
  }
  for (auto &d : prog.derived)
    // vmap runs f per example and checkpoint(f) is f: stores too.
    if (d.kind != DerivKind::Vmap && d.kind != DerivKind::Checkpoint)
      checkNoParamStores(d);
  for (auto &item : module.items)
    if (auto *f = dyn<ast::FnItem>(item.get());
        f && f->rule != ast::RuleKind::None && top[f->name].item == f) {
      checkRule(*f);
      checkRuleReadsNoParam(*f);
    }
  if (prog.train)
    checkTrain(*prog.train);
}

/// A number-valued field; constExpr reports what is not a number.
bool Checker::trainNumber(const ast::Expr &e, double &out) {
  auto v = constExpr(const_cast<ast::Expr &>(e));
  if (v)
    out = v->asDouble();
  return v.has_value();
}

/// The int-valued field `key`, at least `min`.
void Checker::trainInt(const std::string &key, const ast::Expr &e, int64_t &out,
                       int64_t min, bool &ok) {
  auto v = constExpr(const_cast<ast::Expr &>(e));
  if (!v)
    return;
  if (!v->isInt || v->i < min) {
    error(e.loc, "'" + key + "' needs an int >= " + std::to_string(min) +
                     ", found " + (v->isInt ? std::to_string(v->i) : "an f64"));
    ok = false;
    return;
  }
  out = v->i;
}

/// The field `key` naming a function (loss, metric).
void Checker::trainFn(const std::string &key, const ast::Expr &e,
                      std::string &out, bool &ok) {
  auto *n = dyn<const ast::NameExpr>(&e);
  if (n && generics.count(n->name)) {
    error(e.loc, "'" + key + "' cannot be '" + n->name +
                     "', which takes function arguments; name a function "
                     "that calls it");
    ok = false;
    return;
  }
  if (!n || !prog.fnSigs.count(n->name)) {
    error(e.loc, "'" + key + "' needs the name of a function" +
                     (n ? ", found '" + n->name + "'" + suggest(n->name)
                        : std::string()));
    ok = false;
    return;
  }
  out = n->name;
}

/// The field `key` holding a path in quotes (data, test).
void Checker::trainPath(const std::string &key, const ast::Expr &e,
                        std::string &out, Loc &loc, bool &ok) {
  auto *s = dyn<const ast::StringExpr>(&e);
  if (!s) {
    error(e.loc,
          "'" + key + "' needs a path in quotes: " + key + ": \"file.csv\"");
    ok = false;
    return;
  }
  out = s->value;
  loc = e.loc;
}

/// A call `name(args...)` of one of `forms` (name, fewest and most
/// arguments), a `what` (optimizer, schedule); null after an error.
const ast::CallExpr *Checker::trainCall(
    const ast::Expr &v,
    std::initializer_list<std::tuple<const char *, size_t, size_t>> forms,
    const char *what, const char *want, bool &ok) {
  auto *c = dyn<const ast::CallExpr>(&v);
  auto *n = c ? dyn<const ast::NameExpr>(c->callee.get()) : nullptr;
  std::vector<std::string> names;
  for (auto &[name, lo, hi] : forms)
    names.push_back(name);
  auto form = n ? std::find(names.begin(), names.end(), n->name) : names.end();
  if (form == names.end()) {
    error(v.loc, n ? std::string("unknown ") + what + " '" + n->name + "'" +
                         didYouMean(n->name, names) + " (expected " + want + ")"
                   : std::string("expected ") + want);
    ok = false;
    return nullptr;
  }
  auto [name, lo, hi] = *(forms.begin() + (form - names.begin()));
  if (c->args.size() < lo || c->args.size() > hi) {
    error(v.loc,
          "'" + n->name + "' takes " +
              (lo == hi ? std::to_string(lo)
                        : std::to_string(lo) + " to " + std::to_string(hi)) +
              " arguments, found " + std::to_string(c->args.size()));
    ok = false;
    return nullptr;
  }
  return c;
}

/// `optimizer: sgd(lr) | momentum(lr, beta) | adam(lr[, beta1, beta2])
/// | adamw(lr[, beta1, beta2, weight_decay])`.
void Checker::trainOptimizer(const ast::Expr &v, TrainSpec &spec, bool &ok) {
  const ast::CallExpr *c = trainCall(
      v, {{"sgd", 1, 1}, {"momentum", 2, 2}, {"adam", 1, 3}, {"adamw", 1, 4}},
      "optimizer",
      "sgd(lr), momentum(lr, beta), adam(lr[, beta1, beta2]) or "
      "adamw(lr[, beta1, beta2, weight_decay])",
      ok);
  if (!c)
    return;
  spec.optimizer = static_cast<const ast::NameExpr &>(*c->callee).name;
  double vals[4] = {spec.lr, spec.beta1, spec.beta2, 0.01};
  for (size_t i = 0; i < c->args.size(); ++i)
    ok &= trainNumber(*c->args[i], vals[i]);
  spec.lr = vals[0];
  spec.beta1 = vals[1];
  spec.beta2 = vals[2];
  if (c->args.size() == 4)
    setWeightDecay(*c->args[3], vals[3], spec, ok);
}

/// The weight decay `wd` from `at` (adamw's 4th argument or the
/// weight_decay field: one of them).
void Checker::setWeightDecay(const ast::Expr &at, double wd, TrainSpec &spec,
                             bool &ok) {
  if (!(wd >= 0)) {
    error(at.loc, "the weight decay must be a number >= 0");
    ok = false;
  } else if (spec.weightDecay) {
    error(at.loc, "the weight decay is given twice (adamw's 4th argument "
                  "and weight_decay)");
    ok = false;
  }
  spec.weightDecay = wd;
}

/// `schedule: step(every, gamma) | cosine(warmup)`.
void Checker::trainSchedule(const ast::Expr &v, TrainSpec &spec, bool &ok) {
  const ast::CallExpr *c =
      trainCall(v, {{"step", 2, 2}, {"cosine", 1, 1}}, "schedule",
                "step(every, gamma) or cosine(warmup)", ok);
  if (!c)
    return;
  auto &s = spec.schedule;
  if (static_cast<const ast::NameExpr &>(*c->callee).name == "step") {
    s.kind = TrainSpec::Schedule::Kind::Step;
    trainInt("every", *c->args[0], s.every, 1, ok);
    if (trainNumber(*c->args[1], s.gamma) && !(s.gamma > 0)) {
      error(c->args[1]->loc, "gamma must be a positive number");
      ok = false;
    }
  } else {
    s.kind = TrainSpec::Schedule::Kind::Cosine;
    trainInt("warmup", *c->args[0], s.warmup, 0, ok);
  }
}

/// One field of the train block, by its key.
void Checker::trainField(const ast::TrainField &f, TrainSpec &spec, bool &ok) {
  const std::string &k = f.key.name;
  const ast::Expr &v = *f.value;
  if (k == "loss")
    trainFn(k, v, spec.loss, ok);
  else if (k == "metric")
    trainFn(k, v, spec.metric, ok);
  else if (k == "data")
    trainPath(k, v, spec.data, spec.dataLoc, ok);
  else if (k == "test")
    trainPath(k, v, spec.test, spec.testLoc, ok);
  else if (k == "epochs")
    trainInt(k, v, spec.epochs, 1, ok);
  else if (k == "batch")
    trainInt(k, v, spec.batch, 1, ok);
  else if (k == "seed")
    trainInt(k, v, spec.seed, 0, ok);
  else if (k == "threads")
    trainInt(k, v, spec.threads, 1, ok);
  else if (k == "early_stop")
    trainInt(k, v, spec.earlyStop, 1, ok);
  else if (k == "save_every")
    trainInt(k, v, spec.saveEvery, 1, ok);
  else if (k == "clip") {
    if (trainNumber(v, spec.clip) && !(spec.clip > 0)) {
      error(v.loc, "clip must be a positive number");
      ok = false;
    }
  } else if (k == "optimizer") {
    trainOptimizer(v, spec, ok);
  } else if (k == "weight_decay") {
    double wd = 0;
    if (trainNumber(v, wd))
      setWeightDecay(v, wd, spec, ok);
  } else if (k == "schedule") {
    trainSchedule(v, spec, ok);
  } else {
    error(f.key.loc,
          "unknown train field '" + k + "'" +
              didYouMean(k, {"loss", "data", "optimizer", "epochs", "batch",
                             "clip", "seed", "test", "metric", "threads",
                             "weight_decay", "schedule", "early_stop",
                             "save_every"}) +
              " (expected loss, data, optimizer, epochs, batch, clip, "
              "seed, test, metric, threads, weight_decay, schedule, "
              "early_stop or save_every)");
    ok = false;
  }
}

/// The loss returns f64 and takes what data columns fill; the metric takes
/// the loss's arguments.
bool Checker::trainSignatures(const ast::TrainItem &t, const TrainSpec &spec) {
  const FnSig &ls = prog.fnSigs.at(spec.loss);
  if (!ls.result->isF64()) {
    error(t.loc, "the loss '" + spec.loss + "' must return f64, found " +
                     toString(ls.result));
    return false;
  }
  for (size_t i = 0; i < ls.params.size(); ++i)
    if (!ls.params[i]->isDifferentiable() && !ls.params[i]->isIntLike()) {
      error(t.loc, "argument '" + ls.paramNames[i] + "' of the loss is " +
                       toString(ls.params[i]) +
                       ": data columns fill f64, int and their tensor "
                       "arguments");
      return false;
    }
  if (!spec.metric.empty()) {
    const FnSig &ms = prog.fnSigs.at(spec.metric);
    if (ms.params != ls.params || !ms.result->isNumeric()) {
      error(t.loc, "the metric '" + spec.metric +
                       "' must take the loss's arguments and return f64");
      return false;
    }
  }
  return true;
}

/// The train block's fields (LANGUAGE.md section 8).
void Checker::checkTrain(const ast::TrainItem &t) {
  TrainSpec spec;
  spec.loc = t.loc;
  std::set<std::string> seen;
  bool ok = true;
  for (auto &f : t.fields) {
    if (!seen.insert(f.key.name).second) {
      error(f.key.loc, "field '" + f.key.name + "' is given twice");
      ok = false;
      continue;
    }
    trainField(f, spec, ok);
  }
  auto fromFlag = [&](const char *flag, const std::optional<std::string> &v,
                      std::string &out) {
    if (!v)
      return;
    if (!prog.fnSigs.count(*v)) {
      error(t.loc, std::string(flag) +
                       " needs the name of a function, found '" + *v + "'" +
                       suggest(*v));
      ok = false;
    }
    out = *v;
  };
  fromFlag("--loss", options.trainLoss, spec.loss);
  fromFlag("--metric", options.trainMetric, spec.metric);
  if (spec.loss.empty() && !seen.count("loss")) {
    error(t.loc, "the train block needs 'loss: <fn>'");
    ok = false;
  }
  if (spec.data.empty() && !seen.count("data") && !options.trainDataFlag) {
    error(t.loc, "the train block needs 'data: \"file.csv\"'");
    ok = false;
  }
  if (!ok || !trainSignatures(t, spec))
    return;
  if (!spec.metric.empty() && spec.test.empty() && !options.trainTestFlag) {
    error(t.loc, "the metric '" + spec.metric +
                     "' needs 'test: \"file.csv\"' (or --test): it is "
                     "averaged over the test rows after each epoch");
    return;
  }
  if (spec.earlyStop && spec.test.empty() && !options.trainTestFlag) {
    error(t.loc, "early_stop needs 'test: \"file.csv\"' (or --test): it "
                 "watches the test loss");
    return;
  }
  prog.trainSpec = spec;
}

/// A function that assigns a param (itself or through a call) cannot be
/// differentiated (LANGUAGE.md section 4).
void Checker::checkNoParamStores(const DerivedInfo &d) {
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
      error(d.loc,
            "cannot differentiate '" + fn + "': " +
                (g == fn ? std::string("it") : "'" + g + "', which it calls,") +
                " assigns param '" + it->second.first + "' (" +
                diags.source().lineRef(it->second.second.line, d.loc.line) +
                ")");
      return;
    }
    for (auto &c : callGraph[g])
      work.push_back(c);
  }
}

void Checker::collect() {
  for (auto &item : module.items) {
    if (item->kind == ast::ItemKind::Train) {
      if (prog.train)
        error(item->loc, "a file may have only one 'train' block");
      prog.train = static_cast<ast::TrainItem *>(item.get());
      continue;
    }
    const std::string &n = item->name;
    if (isBuiltin(n)) {
      error(item->nameLoc, "'" + n + "' is a builtin and cannot be redefined");
      continue;
    }
    auto [it, inserted] = top.try_emplace(n, TopSym{kindOf(*item), item.get()});
    if (inserted)
      continue;
    Loc first = it->second.item->nameLoc;
    auto *rule = dyn<ast::FnItem>(item.get());
    if (rule && rule->rule != ast::RuleKind::None) {
      error(item->nameLoc,
            std::string("a second ") +
                (rule->rule == ast::RuleKind::Adjoint ? "adjoint" : "tangent") +
                " rule for '" + rule->ruleOf + "' (the first is at " +
                diags.source().lineRef(first.line, item->nameLoc.line) + ")");
    } else {
      error(item->nameLoc,
            "'" + n + "' is already defined at " +
                diags.source().lineRef(first.line, item->nameLoc.line));
    }
    // In another file (an import, section 22): point at the first as well.
    if (diags.source().origin(first.line).path !=
        diags.source().origin(item->nameLoc.line).path)
      diags.note(first, "'" + n + "' is first defined here");
  }
}

TopKind Checker::kindOf(const ast::Item &i) {
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
std::string Checker::suggest(const std::string &name,
                             const std::vector<std::string> &extra) {
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
std::optional<ConstValue> Checker::evalConst(ast::ConstItem &c) {
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
      errno = 0;
      double f = strtod(s.c_str(), &end);
      if (s.empty() || *end != 0) {
        error(c.nameLoc,
              "-D " + c.name + "=" + s + ": expected an int or f64 value");
        return std::nullopt;
      }
      if (errno == ERANGE && std::isinf(f)) {
        error(c.nameLoc, "-D " + c.name + "=" + s + ": f64 value out of range");
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

/// `l ^ r`: an f64, or an int when both are ints and the power is exact
/// (`const N = 2^10`).
static ConstValue constPow(const ConstValue &l, const ConstValue &r) {
  ConstValue v;
  v.isInt = false;
  double xy[2] = {l.asDouble(), r.asDouble()};
  ir::evalMath(ir::OpKind::Pow, xy, v.f);
  if (l.isInt && r.isInt && r.i >= 0 && std::fabs(v.f) < 9.2e18) {
    // By squaring (|base| <= 1 may have a huge exponent).
    int64_t result = 1, base = l.i;
    bool overflow = false;
    for (int64_t k = r.i; k > 0 && !overflow; k >>= 1) {
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

/// A const reference: the const's value.
std::optional<ConstValue> Checker::constName(ast::NameExpr &n) {
  auto it = top.find(n.name);
  if (it == top.end() || it->second.kind != TopKind::Const) {
    error(n.loc, it == top.end()
                     ? "unknown name '" + n.name + "'" + suggest(n.name)
                     : "'" + n.name +
                           "' is not a const; a const is an expression of "
                           "literals and other consts");
    return std::nullopt;
  }
  return evalConst(*static_cast<ast::ConstItem *>(it->second.item));
}

std::optional<ConstValue> Checker::constUnary(ast::UnaryExpr &u) {
  using namespace ast;
  auto v = constExpr(*u.operand);
  if (!v)
    return v;
  if (u.op == UnaryOp::Not) {
    error(u.loc, "'not' is not allowed in a const expression");
    return std::nullopt;
  }
  if (u.op == UnaryOp::Neg) {
    if (v->isInt && v->i == INT64_MIN) {
      error(u.loc, "int overflow in a const expression: -(" +
                       std::to_string(v->i) + ") does not fit in 64 bits");
      return std::nullopt;
    }
    v->i = (int64_t)(0ull - (uint64_t)v->i);
    v->f = -v->f;
  }
  return v;
}

/// `a op c` on ints, checked for overflow and division by zero. `allowed`
/// is false for an operator consts do not have (nothing reported then).
std::optional<ConstValue> Checker::constIntArith(ast::BinaryExpr &b, int64_t a,
                                                 int64_t c, bool &allowed) {
  using namespace ast;
  ConstValue v;
  auto overflow = [&] {
    error(b.opLoc, "int overflow in a const expression: " + std::to_string(a) +
                       " " + spelling(b.op) + " " + std::to_string(c) +
                       " does not fit in 64 bits (write an f64 "
                       "literal, e.g. 1.0e20, for large values)");
    return std::nullopt;
  };
  allowed = true;
  switch (b.op) {
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
    if (c == 0) {
      error(b.opLoc, "division by zero in a const expression");
      return std::nullopt;
    }
    if (a == INT64_MIN && c == -1)
      return overflow();
    v.i = b.op == BinaryOp::Div ? a / c : a % c;
    return v;
  default:
    break;
  }
  allowed = false;
  return std::nullopt;
}

/// f64 arithmetic: the IR's scalar semantics (ir/Eval.h); none for an
/// operator consts do not have.
static std::optional<ConstValue>
constFloatArith(ast::BinaryOp op, const ConstValue &l, const ConstValue &r) {
  using ast::BinaryOp;
  ConstValue v;
  v.isInt = false;
  double xy[2] = {l.asDouble(), r.asDouble()};
  std::optional<ir::OpKind> k;
  switch (op) {
  case BinaryOp::Add:
    k = ir::OpKind::FAdd;
    break;
  case BinaryOp::Sub:
    k = ir::OpKind::FSub;
    break;
  case BinaryOp::Mul:
    k = ir::OpKind::FMul;
    break;
  case BinaryOp::Div:
    k = ir::OpKind::FDiv;
    break;
  case BinaryOp::Mod:
    k = ir::OpKind::FRem;
    break;
  default:
    break;
  }
  if (k && ir::evalMath(*k, xy, v.f))
    return v;
  return std::nullopt;
}

std::optional<ConstValue> Checker::constBinary(ast::BinaryExpr &b) {
  auto l = constExpr(*b.lhs), r = constExpr(*b.rhs);
  if (!l || !r)
    return std::nullopt;
  if (b.op == ast::BinaryOp::Pow)
    return constPow(*l, *r);
  if (l->isInt && r->isInt) {
    bool allowed;
    auto v = constIntArith(b, l->i, r->i, allowed);
    if (v || allowed)
      return v;
  } else if (auto v = constFloatArith(b.op, *l, *r)) {
    return v;
  }
  error(b.opLoc, std::string("'") + spelling(b.op) +
                     "' is not allowed in a const expression");
  return std::nullopt;
}

std::optional<ConstValue> Checker::constExpr(ast::Expr &e) {
  using namespace ast;
  if (auto *n = dyn<NumberExpr>(&e)) {
    ConstValue v;
    v.isInt = n->isInt;
    v.i = n->intValue;
    v.f = n->floatValue;
    return v;
  }
  if (auto *n = dyn<NameExpr>(&e))
    return constName(*n);
  if (auto *u = dyn<UnaryExpr>(&e))
    return constUnary(*u);
  if (auto *b = dyn<BinaryExpr>(&e))
    return constBinary(*b);
  error(e.loc, "a const must be an expression of literals and other consts");
  return std::nullopt;
}

// Types as written.
const Type *Checker::resolveType(const ast::TypeExpr &t) {
  switch (t.kind) {
  case ast::TypeExpr::F64:
    return T.f64();
  case ast::TypeExpr::Int:
    return T.i64();
  case ast::TypeExpr::Bool:
    return T.boolean();
  case ast::TypeExpr::Fn:
    error(t.loc, "a function type is allowed only as the type of a "
                 "function's argument (LANGUAGE.md section 21)");
    return nullptr;
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
        error(d.loc,
              "tensor dimensions must be positive, found " + std::to_string(v));
        return nullptr;
      }
      shape.push_back(v);
    }
    const Type *tt = T.tensor(shape, t.intElems ? Elem::Int : Elem::F64);
    return sizeOk(tt, t.loc) ? tt : nullptr;
  }
  }
  return nullptr;
}

void Checker::declareParam(ast::ParamItem &p) {
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
                  didYouMean(callee->name,
                             {"zeros", "ones", "randn", "uniform", "glorot"}) +
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
        error(p.init->loc, "initialiser of shape " + toString(T.tensor(shape)) +
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
bool Checker::literalValues(ast::TensorLitExpr &lit, std::vector<double> &vals,
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

void Checker::declareFn(ast::FnItem &f) {
  if (isGeneric(f))
    return declareGeneric(f);
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

} // namespace detail

bool isBuiltin(const std::string &name) {
  return detail::builtinKind(name) != detail::Builtin::None;
}

std::vector<std::string> builtinNames() {
  std::vector<std::string> names;
  detail::builtinKind("", &names);
  return names;
}

bool check(ast::Module &module, TypeContext &types, DiagEngine &diags,
           const Options &options, Program &out) {
  unsigned before = diags.errorCount();
  detail::Checker(module, types, diags, options, out).run();
  return diags.errorCount() == before;
}

} // namespace bp::sema
