//===- Explain.cpp - backpropagation shown step by step -------------------===//
//
// `bpc explain FILE --fn NAME --at a=1,b=2` evaluates the base function of a
// derived function op by op and prints the forward values, then the reverse
// sweep node by node: the local derivative of each op (computed with the
// same chain-rule table the compiler uses, ad/Rules.cpp, evaluated on the
// forward values) and the chain-rule product. `bpc emit dot` draws the same
// graph for Graphviz: forward edges solid, adjoint edges dashed.
// explain runs a trace interpreter on scalar code (loops, branches and
// calls are unrolled into the trace); a base function that uses tensors
// goes to ad/TensorExplain.cpp. emit dot draws straight-line scalar
// functions only. Anything else is reported as not supported yet.
//
//===----------------------------------------------------------------------===//
#include "ad/Explain.h"

#include "ad/Rules.h"
#include "ad/TensorExplain.h"
#include "ir/Eval.h"
#include "support/Format.h"

#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <sstream>

namespace bp::ad {
namespace {

using ir::OpKind;
using ir::Value;

/// Whether `c` is (the negation of) the hidden var of a return inside a
/// loop (IRGen): such an `if` is bookkeeping, not a branch the user wrote,
/// so the trace shows no marker for it.
bool testsReturnDone(const Value *c) {
  if (c->def && c->def->kind == OpKind::Not)
    c = c->def->operands[0];
  return c->name.rfind("return.done", 0) == 0;
}

using ir::compare;

/// The scalar value of `op` (a constant or a MATH op, ir/Eval.h).
bool evalOp(const ir::Op &op, const std::vector<double> &a, double &r) {
  if (op.kind == OpKind::ConstF) {
    r = op.fval;
    return true;
  }
  return ir::isMath(op.kind) && a.size() == ir::mathArity(op.kind) &&
         ir::evalMath(op.kind, a.data(), r);
}

const char *symbol(OpKind k) {
  switch (k) {
  case OpKind::FAdd:
    return "+";
  case OpKind::FSub:
    return "-";
  case OpKind::FMul:
    return "*";
  case OpKind::FDiv:
    return "/";
  case OpKind::Pow:
    return "^";
  case OpKind::MatMul:
    return "@";
  default:
    return nullptr;
  }
}

/// Names: source names where the IR has them, t0, t1, ... otherwise.
struct Names {
  std::map<const Value *, std::string> m;
  std::set<std::string> used;
  unsigned next = 0;
  std::string operator()(const Value *v) {
    auto it = m.find(v);
    if (it != m.end())
      return it->second;
    if (v->def && v->def->kind == OpKind::ConstF)
      return shortestDouble(v->def->fval);
    std::string n = v->name;
    if (n.empty() || used.count(n) || n.find('.') != std::string::npos)
      do
        n = "t" + std::to_string(next++);
      while (used.count(n));
    used.insert(n);
    return m[v] = n;
  }
};

std::string expression(const ir::Op &op, Names &name) {
  if (const char *s = symbol(op.kind))
    return name(op.operands[0]) + " " + s + " " + name(op.operands[1]);
  if (op.kind == OpKind::FNeg)
    return "-" + name(op.operands[0]);
  std::string e = std::string(ir::mnemonic(op.kind)) + "(";
  for (size_t i = 0; i < op.operands.size(); ++i)
    e += (i ? ", " : "") + name(op.operands[i]);
  return e + ")";
}

/// Checks that `f` is straight-line scalar code explain can evaluate.
std::string unsupported(const ir::Function &f) {
  for (auto &a : f.args())
    if (!a->type->isF64())
      return "argument '" + a->name + "' is " + toString(a->type);
  if (f.resultTypes.size() != 1 || !f.resultTypes[0]->isF64())
    return "it does not return one f64";
  for (auto &op : f.body->ops) {
    if (op->kind == OpKind::Return || op->kind == OpKind::ConstF ||
        op->kind == OpKind::ConstI || op->kind == OpKind::ConstB)
      continue;
    double r;
    std::vector<double> zeros(op->operands.size(), 1.0);
    if (!op->regions.empty() || op->kind == OpKind::Call ||
        !evalOp(*op, zeros, r))
      return std::string("it uses '") + ir::mnemonic(op->kind) + "'";
  }
  return "";
}

struct Graph {
  const ir::Function *f = nullptr;
  const ir::DerivedInfo *info = nullptr;
  std::string error;
};

Graph find(const ir::Module &m, const std::string &fn, bool straightLine) {
  Graph g;
  g.info = m.lookupDerived(fn);
  if (!g.info) {
    g.error = "'" + fn + "' is not a derived function (fn d = grad(f, ...))";
    return g;
  }
  const ir::DerivedInfo *d = g.info;
  while (const ir::DerivedInfo *inner = m.lookupDerived(d->base))
    d = inner;
  g.f = m.lookup(d->base);
  if (d != g.info || (g.info->kind != ir::DerivKind::Grad &&
                      g.info->kind != ir::DerivKind::ValueAndGrad))
    g.error = "explain shows reverse mode of a user function: grad or "
              "value_and_grad";
  else if (std::string why = straightLine ? unsupported(*g.f) : "";
           !why.empty())
    g.error = "explain supports straight-line scalar functions; '" + g.f->name +
              "' is not one: " + why + " (not supported yet)";
  return g;
}

/// One executed scalar operation (or argument / param read) of the
/// base function: loops and calls are unrolled into a straight trace, so
/// the reverse sweep is the textbook one over this list.
struct Node {
  const ir::Op *op = nullptr; // null: an argument
  std::vector<int> in;        // operand nodes
  double value = 0;
  bool differentiable = false; // an f64 value made by an op with partials
  bool constant = false;       // a literal: shown by value
  std::string name;
  int scope = -1; // the loop iteration or call it ran in (Tracer::scopes)
};

/// A loop iteration (`for i = 2`, `while: trip 3`) or a call (`call g`) of
/// the trace, inside `parent` (-1: the function itself): emit dot draws it
/// as a cluster around its nodes.
struct Scope {
  int parent = -1;
  std::string label;
};

/// Runs IR on doubles and records the trace. Ints and bools (loop counters,
/// conditions) are evaluated but carry no derivative.
class Tracer {
public:
  Tracer(const ir::Module &m, Names &names,
         const std::map<std::string, double> &params)
      : m(m), names(names), params(params) {}

  static constexpr size_t maxNodes = 4000;
  std::vector<Node> nodes;
  /// Lines of the forward table: a node, or a note ("for i = 2").
  std::vector<std::pair<int, std::string>> rows;
  std::string error;
  std::map<std::string, std::vector<int>> paramReads;
  std::vector<Scope> scopes;
  int scope = -1; // the scope new nodes belong to

  /// Opens a scope inside the current one; returns the one to restore.
  int enter(std::string label) {
    scopes.push_back({scope, std::move(label)});
    int outer = scope;
    scope = (int)scopes.size() - 1;
    return outer;
  }

  int arg(const Value *v, double x) {
    Node n;
    n.value = x;
    n.differentiable = v->type->isF64();
    n.name = names(v);
    n.scope = scope;
    nodes.push_back(n);
    return (int)nodes.size() - 1;
  }

  /// Runs `f` on `args`; the result nodes, or empty with `error` set.
  std::vector<int> call(const ir::Function &f, const std::vector<int> &args,
                        int depth) {
    if (depth > 64) {
      error = "recursion deeper than 64 calls";
      return {};
    }
    Env env;
    for (size_t i = 0; i < args.size(); ++i)
      env[f.args()[i].get()] = args[i];
    std::vector<int> out;
    if (!block(*f.body, env, out, depth))
      return {};
    return out;
  }

private:
  using Env = std::map<const Value *, int>;
  const ir::Module &m;
  Names &names;
  const std::map<std::string, double> &params;
  std::map<const Value *, int> instances;

  double val(Env &env, const Value *v) { return nodes[env.at(v)].value; }

  /// False (with `error`) once the trace has grown past maxNodes steps.
  bool room() {
    if (nodes.size() + rows.size() < 2 * maxNodes)
      return true;
    if (error.empty())
      error = "the computation has more than " + std::to_string(maxNodes) +
              " steps; explain it at smaller arguments";
    return false;
  }

  int add(const ir::Op &op, std::vector<int> in, double value,
          bool differentiable) {
    if (!room())
      return -1;
    Node n;
    n.op = &op;
    n.in = std::move(in);
    n.value = value;
    n.differentiable = differentiable;
    n.constant = op.kind == OpKind::ConstF;
    if (!n.constant) {
      // A value computed again (loop iteration, second call) is v#2, v#3...
      int k = ++instances[op.result()];
      n.name = names(op.result()) + (k > 1 ? "#" + std::to_string(k) : "");
    } else {
      n.name = shortestDouble(value);
    }
    n.scope = scope;
    nodes.push_back(std::move(n));
    int id = (int)nodes.size() - 1;
    // The table shows f64 values: differentiable ones and float(i).
    if ((differentiable || op.kind == OpKind::IToF) && !nodes[id].constant)
      rows.push_back({id, ""});
    return id;
  }

  bool fail(const ir::Op &op, const std::string &why) {
    if (error.empty())
      error = "explain supports scalar code; it cannot run '" +
              std::string(ir::mnemonic(op.kind)) + "'" +
              (why.empty() ? "" : " (" + why + ")");
    return false;
  }

  /// Runs the ops of `b`; the operands of its terminator go to `out`.
  bool block(const ir::Block &b, Env &env, std::vector<int> &out, int depth) {
    for (const auto &opPtr : b.ops) {
      const ir::Op &op = *opPtr;
      std::vector<int> in;
      for (const Value *v : op.operands)
        in.push_back(env.at(v));
      for (const auto &r : op.results)
        if (r->type->isTensor())
          return fail(op, "tensors are not shown step by step");
      switch (op.kind) {
      case OpKind::Yield:
      case OpKind::Return:
        out = in;
        return true;
      case OpKind::Print:
      case OpKind::Assert:
        continue;
      case OpKind::Call:
        if (!callOp(op, in, env, depth))
          return false;
        continue;
      case OpKind::If:
        if (!ifOp(op, in, env, depth))
          return false;
        continue;
      case OpKind::For:
        if (!forOp(op, in, env, depth))
          return false;
        continue;
      case OpKind::While:
        if (!whileOp(op, in, env, depth))
          return false;
        continue;
      default: // an op with one value: a node of the trace
        break;
      }
      int id = node(op, in);
      if (id < 0)
        return false;
      if (!op.results.empty())
        env[op.result()] = id;
    }
    return true;
  }

  /// The node of an op that computes one value from the nodes `in`; -1
  /// (with `error`) when explain cannot run it.
  int node(const ir::Op &op, const std::vector<int> &in) {
    auto x = [&](size_t i) { return nodes[in[i]].value; };
    auto cannot = [&](const std::string &why) {
      fail(op, why);
      return -1;
    };
    switch (op.kind) {
    case OpKind::ConstI:
    case OpKind::ConstB:
      return add(op, {}, (double)op.ival, false);
    case OpKind::IAdd:
      return add(op, in, (double)((int64_t)x(0) + (int64_t)x(1)), false);
    case OpKind::ISub:
      return add(op, in, (double)((int64_t)x(0) - (int64_t)x(1)), false);
    case OpKind::IMul:
      return add(op, in, (double)((int64_t)x(0) * (int64_t)x(1)), false);
    case OpKind::IDiv:
    case OpKind::IRem:
      if ((int64_t)x(1) == 0)
        return cannot("division by zero");
      return add(op, in,
                 op.kind == OpKind::IDiv
                     ? (double)((int64_t)x(0) / (int64_t)x(1))
                     : (double)((int64_t)x(0) % (int64_t)x(1)),
                 false);
    case OpKind::INeg:
      return add(op, in, -x(0), false);
    case OpKind::FCmp:
    case OpKind::ICmp:
      return add(op, in, compare(op.pred(), x(0), x(1)), false);
    case OpKind::Not:
      return add(op, in, x(0) == 0, false);
    case OpKind::BEq:
      return add(op, in, (x(0) != 0) == (x(1) != 0), false);
    case OpKind::IToF:
      return add(op, in, x(0), false); // float(i): no derivative
    case OpKind::FToI:
      return add(op, in, std::trunc(x(0)), false);
    case OpKind::Select:
      return add(op, in, x(0) != 0 ? x(1) : x(2), op.result()->type->isF64());
    case OpKind::ParamLoad: {
      auto it = params.find(op.paramName());
      if (it == params.end())
        return cannot("param '" + op.paramName() + "' is not a scalar");
      int id = add(op, {}, it->second, true);
      paramReads[op.paramName()].push_back(id);
      return id;
    }
    default: { // a constant or a MATH op with partials
      double r;
      std::vector<double> args;
      for (int n : in)
        args.push_back(nodes[n].value);
      if (!hasPartials(op.kind) && op.kind != OpKind::ConstF)
        return cannot("");
      if (!evalOp(op, args, r))
        return cannot("");
      return add(op, in, r, op.kind != OpKind::ConstF);
    }
    }
  }

  /// A call is unrolled into the trace between two notes.
  bool callOp(const ir::Op &op, const std::vector<int> &in, Env &env,
              int depth) {
    const ir::Function *callee = m.lookup(op.callee());
    if (!callee)
      return fail(op, "unknown function");
    rows.push_back({-1, "call " + op.callee()});
    int outer = enter("call " + op.callee());
    std::vector<int> res = call(*callee, in, depth + 1);
    scope = outer;
    if (!error.empty())
      return false;
    rows.push_back({-1, "return from " + op.callee()});
    for (size_t i = 0; i < op.results.size(); ++i)
      env[op.result(i)] = res[i];
    return true;
  }

  /// Only the branch taken is traced, after a note naming it.
  bool ifOp(const ir::Op &op, const std::vector<int> &in, Env &env, int depth) {
    bool c = nodes[in[0]].value != 0;
    if (!testsReturnDone(op.operands[0]))
      rows.push_back(
          {-1, std::string("if: ") + (c ? "then" : "else") + " branch"});
    std::vector<int> res;
    if (!block(*op.region(c ? 0 : 1), env, res, depth))
      return false;
    for (size_t i = 0; i < op.results.size(); ++i)
      env[op.result(i)] = res[i];
    return true;
  }

  /// Every iteration is traced after a note `for i = k`; its index is a
  /// node without derivative.
  bool forOp(const ir::Op &op, const std::vector<int> &in, Env &env,
             int depth) {
    const ir::Block &body = *op.region(0);
    std::vector<int> carried(in.begin() + op.firstInit(), in.end());
    for (int64_t i = (int64_t)nodes[in[0]].value;
         i < (int64_t)nodes[in[1]].value; ++i) {
      if (!room())
        return false;
      Node iv;
      iv.value = (double)i;
      iv.name = names(op.inductionVar());
      std::string label = "for " + iv.name + " = " + std::to_string(i);
      int outer = enter(label);
      iv.scope = scope;
      nodes.push_back(iv);
      env[op.inductionVar()] = (int)nodes.size() - 1;
      for (size_t k = 0; k < carried.size(); ++k)
        env[op.carriedArg(k)] = carried[k];
      rows.push_back({-1, label});
      bool ok = block(body, env, carried, depth);
      scope = outer;
      if (!ok)
        return false;
    }
    for (size_t i = 0; i < op.results.size(); ++i)
      env[op.result(i)] = carried[i];
    return true;
  }

  /// Every trip is traced: the condition, a note, then the body.
  bool whileOp(const ir::Op &op, const std::vector<int> &in, Env &env,
               int depth) {
    const ir::Block &cond = *op.region(0), &body = *op.region(1);
    std::vector<int> carried = in;
    for (int trips = 0;; ++trips) {
      if (!room())
        return false;
      for (size_t k = 0; k < carried.size(); ++k)
        env[cond.args[k].get()] = carried[k];
      std::vector<int> c;
      if (!block(cond, env, c, depth))
        return false;
      if (nodes[c[0]].value == 0)
        break;
      // A `for` lowered as a `while` (it contains a return) carries
      // its index first (IRGen).
      std::string label = op.str == "for"
                              ? "for " + names(cond.args[0].get()) + " = " +
                                    shortestDouble(nodes[carried[0]].value)
                              : "while: trip " + std::to_string(trips + 1);
      rows.push_back({-1, label});
      for (size_t k = 0; k < carried.size(); ++k)
        env[op.carriedArg(k)] = carried[k];
      int outer = enter(label);
      bool ok = block(body, env, carried, depth);
      scope = outer;
      if (!ok)
        return false;
    }
    for (size_t i = 0; i < op.results.size(); ++i)
      env[op.result(i)] = carried[i];
    return true;
  }
};

/// Evaluates the ops `partials` emits (constants, arithmetic, compares,
/// selects) on doubles.
double evalScratch(const ir::Op &o, const std::vector<double> &in) {
  if (o.kind == OpKind::FCmp)
    return compare(o.pred(), in[0], in[1]);
  if (o.kind == OpKind::Select)
    return in[0] != 0 ? in[1] : in[2];
  double r = 0;
  if (!evalOp(o, in, r))
    return NAN; // shows up in the table; no op of the table needs this
  return r;
}

/// One chain-rule step of the reverse sweep: dL/d(to) gets
/// dL/d(from) * d(from)/d(to).
struct Step {
  int from, to;
  double g, d, contribution;
  bool more;    // `to` already had contributions
  double total; // dL/d(to) after this step
};

/// A derived function's base function evaluated at given arguments, with
/// its reverse sweep: what explain prints and emit dot --at draws.
struct Backprop {
  Graph g;
  Names name;
  std::map<std::string, double> params;
  std::unique_ptr<Tracer> t;
  std::vector<int> args, res;
  std::map<int, double> adj;
  std::vector<Step> steps;

  std::string expr(const Node &n) {
    const ir::Op &op = *n.op;
    auto nm = [&](size_t i) { return t->nodes[n.in[i]].name; };
    if (op.kind == OpKind::ParamLoad)
      return std::string("param ") + op.paramName();
    if (const char *s = symbol(op.kind))
      return nm(0) + " " + s + " " + nm(1);
    if (op.kind == OpKind::FNeg)
      return "-" + nm(0);
    if (op.kind == OpKind::IToF)
      return "float(" + nm(0) + ")";
    std::string e = std::string(ir::mnemonic(op.kind)) + "(";
    for (size_t i = 0; i < n.in.size(); ++i)
      e += (i ? ", " : "") + nm(i);
    return e + ")";
  }

  /// dL/d(each variable of the derived function).
  std::vector<std::pair<std::string, double>> result() {
    std::vector<std::pair<std::string, double>> out;
    for (auto &w : g.info->wrt) {
      double total = 0;
      if (w.isParam) {
        for (int id : t->paramReads[w.name])
          total += adj.count(id) ? adj[id] : 0.0;
      } else {
        total = adj.count(args[w.argIndex]) ? adj[args[w.argIndex]] : 0.0;
      }
      out.push_back({w.name, total});
    }
    return out;
  }
};

/// The values of the local derivatives of node `n`'s op with respect to its
/// operands: the compiler's chain-rule table (ad/Rules.cpp) emitted into
/// a scratch block and evaluated on the forward values.
std::vector<double> partialValues(const ir::Module &m,
                                  const std::vector<Node> &nodes,
                                  const Node &n) {
  const ir::Op &op = *n.op;
  std::map<const Value *, double> known;
  for (size_t i = 0; i < op.operands.size(); ++i)
    known[op.operands[i]] = nodes[n.in[i]].value;
  known[op.result()] = n.value;
  ir::Block scratch;
  ir::Builder sb(*m.types);
  sb.setInsertionPointToEnd(&scratch);
  std::map<const Value *, Value *> primal;
  auto P = [&](const Value *v) {
    auto &slot = primal[v];
    if (!slot)
      slot = sb.constF(known.at(v));
    return slot;
  };
  std::vector<bool> want(op.operands.size(), true);
  std::vector<Value *> d;
  partials(op, want, sb, P, d);
  std::map<const Value *, double> sv;
  for (auto &[orig, c] : primal)
    sv[c] = known.at(orig);
  for (auto &o : scratch.ops) {
    std::vector<double> in;
    for (Value *v : o->operands)
      in.push_back(sv[v]);
    if (o->kind == OpKind::ConstF)
      sv[o->result()] = o->fval;
    else if (o->kind == OpKind::ConstB || o->kind == OpKind::ConstI)
      sv[o->result()] = (double)o->ival;
    else
      sv[o->result()] = evalScratch(*o, in);
  }
  std::vector<double> out;
  for (Value *v : d)
    out.push_back(v ? sv[v] : 0.0);
  return out;
}

/// `--at` must give every argument of `f`, scalar, and nothing else; `f`
/// must return one f64. False with `err` set otherwise.
bool checkArguments(const ir::Function &f,
                    const std::map<std::string, double> &at, std::string &err) {
  for (auto &a : f.args()) {
    if (!at.count(a->name)) {
      err = "--at needs a value for '" + a->name + "'";
      return false;
    }
    if (!a->type->isF64() && !a->type->isInt()) {
      err = "explain supports scalar arguments; '" + a->name + "' is " +
            toString(a->type);
      return false;
    }
    double v = at.at(a->name);
    if (a->type->isInt() && v != std::trunc(v)) {
      std::ostringstream item; // as bpc check says it
      item << "--at " << a->name << "=" << v << ": '" << a->name
           << "' is an int argument of '" << f.name << "' (needs an integer)";
      err = item.str();
      return false;
    }
  }
  for (auto &[k, v] : at)
    if (std::none_of(f.args().begin(), f.args().end(),
                     [&](auto &a) { return a->name == k; })) {
      err = "'" + f.name + "' has no argument '" + k + "'";
      return false;
    }
  if (f.resultTypes.size() != 1 || !f.resultTypes[0]->isF64()) {
    err = "explain needs a function that returns one f64";
    return false;
  }
  return true;
}

/// The reverse sweep over the trace, last node first: every differentiable
/// operand of a node with an adjoint gets adjoint * partial.
void reverseSweep(const ir::Module &m, Backprop &bp) {
  std::vector<Node> &nodes = bp.t->nodes;
  std::map<int, double> &adj = bp.adj;
  adj[bp.res[0]] = 1.0;
  for (int id = (int)nodes.size() - 1; id >= 0; --id) {
    const Node &n = nodes[id];
    if (!n.op || !n.differentiable || !adj.count(id) ||
        n.op->kind == OpKind::ParamLoad)
      continue;
    double g = adj[id];
    std::vector<double> d = partialValues(m, nodes, n);
    for (size_t i = 0; i < n.in.size(); ++i) {
      const Node &v = nodes[n.in[i]];
      if (v.constant || !v.differentiable)
        continue;
      double contribution = g * d[i];
      bool more = adj.count(n.in[i]) != 0;
      double &a = adj[n.in[i]];
      a = more ? a + contribution : contribution;
      bp.steps.push_back({id, n.in[i], g, d[i], contribution, more, a});
    }
  }
}

/// Evaluates and differentiates; false with `err` set when `fn` cannot be
/// explained at `at`.
bool backprop(const ir::Module &m, const std::string &fn,
              const std::map<std::string, double> &at,
              const std::map<std::string, double> *paramValues, Backprop &bp,
              std::string &err) {
  bp.g = find(m, fn, false);
  if (!bp.g.error.empty()) {
    err = bp.g.error;
    return false;
  }
  const ir::Function &f = *bp.g.f;
  if (!checkArguments(f, at, err))
    return false;
  // Scalar params read by the function: their initial values.
  for (size_t k = 0; k < m.params.size(); ++k)
    if (!m.params[k].type->isTensor())
      bp.params[m.params[k].name] = ir::initialValues(m.params[k], k, 0)[0];
  if (paramValues)
    for (auto &[k, v] : *paramValues)
      bp.params[k] = v;

  bp.t = std::make_unique<Tracer>(m, bp.name, bp.params);
  Tracer &t = *bp.t;
  for (auto &a : f.args())
    bp.args.push_back(t.arg(a.get(), at.at(a->name)));
  bp.res = t.call(f, bp.args, 0);
  if (!t.error.empty()) {
    err = t.error;
    return false;
  }
  reverseSweep(m, bp);
  return true;
}

} // namespace

namespace {

/// The forward evaluation: the arguments and one row per value.
void printValues(Backprop &bp, std::ostream &os) {
  const ir::Function &f = *bp.g.f;
  Tracer &t = *bp.t;
  std::vector<Node> &nodes = t.nodes;
  os << "forward: " << f.name << "(";
  for (size_t i = 0; i < f.args().size(); ++i)
    os << (i ? ", " : "") << f.args()[i]->name << " = "
       << shortestDouble(nodes[bp.args[i]].value);
  os << ")\n";
  size_t width = 0;
  std::vector<std::string> lhs(t.rows.size());
  for (size_t r = 0; r < t.rows.size(); ++r)
    if (t.rows[r].first >= 0) {
      const Node &n = nodes[t.rows[r].first];
      lhs[r] = n.name + " = " + bp.expr(n);
      width = std::max(width, lhs[r].size());
    }
  for (size_t r = 0; r < t.rows.size(); ++r) {
    if (t.rows[r].first < 0)
      os << "  -- " << t.rows[r].second << '\n';
    else
      os << "  " << lhs[r] << std::string(width - lhs[r].size(), ' ') << " = "
         << shortestDouble(nodes[t.rows[r].first].value) << '\n';
  }
}

/// The reverse sweep, one chain-rule step per line.
void printReverse(Backprop &bp, std::ostream &os) {
  std::vector<Node> &nodes = bp.t->nodes;
  std::string L = nodes[bp.res[0]].name;
  os << "reverse: dL/dv = sum over the uses of v of dL/d(use) * d(use)/dv, "
        "with L = "
     << L << "\n";
  os << "  dL/d" << L << " = 1\n";
  for (const Step &s : bp.steps) {
    const Node &n = nodes[s.from], &v = nodes[s.to];
    os << "  dL/d" << v.name << (s.more ? " += " : " = ") << "dL/d" << n.name
       << " * d" << n.name << "/d" << v.name << " = " << shortestDouble(s.g)
       << " * " << shortestDouble(s.d) << " = "
       << shortestDouble(s.contribution);
    if (s.more)
      os << "  (total " << shortestDouble(s.total) << ")";
    os << '\n';
  }
}

/// One tangent sweep of forward mode: the derivatives of every value with
/// respect to one variable `w` of the derived function, in trace order.
struct TangentSweep {
  std::string w;
  std::map<int, double> tangent; // node -> dv/dw, for nodes that depend on w
  std::vector<int> seeds;
  std::vector<std::string> lines;
  int64_t products = 0;
};

/// Forward mode over the trace: for each variable X, the tangent
/// v' = dv/dX = sum over the operands u of v of dv/du * u', first node
/// first, seeded with X' = 1 (every read of a param X).
std::vector<TangentSweep> tangentSweeps(const ir::Module &m, Backprop &bp) {
  std::vector<Node> &nodes = bp.t->nodes;
  std::vector<TangentSweep> sweeps;
  for (auto &w : bp.g.info->wrt) {
    TangentSweep sw;
    sw.w = w.name;
    sw.seeds = w.isParam ? bp.t->paramReads[w.name]
                         : std::vector<int>{bp.args[w.argIndex]};
    for (int id : sw.seeds) {
      sw.tangent[id] = 1.0;
      sw.lines.push_back(nodes[id].name + "' = 1");
    }
    for (int id = 0; id < (int)nodes.size(); ++id) {
      const Node &n = nodes[id];
      if (!n.op || !n.differentiable || n.op->kind == OpKind::ParamLoad ||
          sw.tangent.count(id))
        continue;
      std::vector<double> d;
      std::string terms, values;
      double total = 0;
      for (size_t i = 0; i < n.in.size(); ++i) {
        auto it = sw.tangent.find(n.in[i]);
        if (it == sw.tangent.end())
          continue; // does not depend on w: its term is 0
        if (d.empty())
          d = partialValues(m, nodes, n);
        const std::string &u = nodes[n.in[i]].name;
        std::string sep = terms.empty() ? "" : " + ";
        terms += sep + "d" + n.name + "/d" + u + " * " + u + "'";
        values +=
            sep + shortestDouble(d[i]) + " * " + shortestDouble(it->second);
        total += d[i] * it->second;
        ++sw.products;
      }
      if (terms.empty())
        continue;
      sw.tangent[id] = total;
      sw.lines.push_back(n.name + "' = " + terms + " = " + values + " = " +
                         shortestDouble(total));
    }
    sweeps.push_back(std::move(sw));
  }
  return sweeps;
}

void printForward(Backprop &bp, const std::vector<TangentSweep> &sweeps,
                  std::ostream &os) {
  const std::string &L = bp.t->nodes[bp.res[0]].name;
  os << "forward mode: one sweep per variable X, v' = dv/dX = sum over the "
        "operands u of v of dv/du * u', from X' = 1, with L = "
     << L << "\n";
  for (size_t k = 0; k < sweeps.size(); ++k) {
    os << "  sweep " << k + 1 << " of " << sweeps.size()
       << ", X = " << sweeps[k].w << ":\n";
    for (const std::string &line : sweeps[k].lines)
      os << "    " << line << '\n';
  }
}

/// dL/dw from sweep `s`: the tangent of the result (0 when L does not
/// depend on w).
double forwardResult(const Backprop &bp, const TangentSweep &s) {
  auto it = s.tangent.find(bp.res[0]);
  return it == s.tangent.end() ? 0.0 : it->second;
}

/// --mode both: the partials of the two modes side by side, and what each
/// cost on this trace.
void printCosts(Backprop &bp, const std::vector<TangentSweep> &sweeps,
                std::ostream &os) {
  auto reverse = bp.result();
  os << "both modes:\n";
  for (size_t k = 0; k < sweeps.size(); ++k)
    os << "  dL/d" << sweeps[k].w << ": reverse "
       << shortestDouble(reverse[k].second) << ", forward "
       << shortestDouble(forwardResult(bp, sweeps[k])) << '\n';
  int64_t forwardProducts = 0;
  for (const TangentSweep &s : sweeps)
    forwardProducts += s.products;
  size_t n = sweeps.size();
  os << "cost: reverse mode 1 sweep, " << bp.steps.size()
     << " chain-rule products, for all " << n << " partial"
     << (n == 1 ? "" : "s") << "; forward mode " << n << " sweep"
     << (n == 1 ? "" : "s") << " (one per variable), " << forwardProducts
     << " chain-rule products\n";
  os << "  a function of " << n << " variable" << (n == 1 ? "" : "s")
     << " to one number: reverse mode needs 1 sweep whatever n is, forward "
        "mode n\n";
}

} // namespace

bool explain(const ir::Module &m, const std::string &fn,
             const std::map<std::string, double> &at, std::ostream &os,
             std::string &err, const std::map<std::string, double> *paramValues,
             ExplainMode mode, const TensorArgs &tensorAt) {
  const ir::DerivedInfo *d = m.lookupDerived(fn);
  const ir::Function *base = d ? m.lookup(d->base) : nullptr;
  if (!tensorAt.empty() || (base && usesTensors(m, *base)))
    return explainTensors(m, fn, at, tensorAt, os, err, paramValues, mode);
  Backprop bp;
  if (!backprop(m, fn, at, paramValues, bp, err))
    return false;
  printValues(bp, os);
  if (mode != ExplainMode::Forward)
    printReverse(bp, os);
  std::vector<TangentSweep> sweeps;
  if (mode != ExplainMode::Reverse) {
    sweeps = tangentSweeps(m, bp);
    printForward(bp, sweeps, os);
  }
  if (mode == ExplainMode::Both) {
    printCosts(bp, sweeps, os);
    return true;
  }
  os << "result of " << fn;
  if (mode == ExplainMode::Forward)
    os << " (forward mode)";
  os << ":";
  if (mode == ExplainMode::Forward)
    for (const TangentSweep &s : sweeps)
      os << " dL/d" << s.w << " = " << shortestDouble(forwardResult(bp, s));
  else
    for (auto &[w, total] : bp.result())
      os << " dL/d" << w << " = " << shortestDouble(total);
  os << '\n';
  return true;
}

/// A value in a graph label: `precision` significant digits, or the
/// shortest round-trip form when it is 0 (`--precision full`).
static std::string labelNumber(double v, int precision) {
  if (precision <= 0)
    return shortestDouble(v);
  char buf[40];
  snprintf(buf, sizeof buf, "%.*g", precision, v);
  return buf;
}

static std::string dotQuoted(const std::string &s) {
  std::string q;
  for (char c : s)
    q += c == '"' ? std::string("\\\"") : std::string(1, c);
  return q;
}

/// The node lines of a traced graph, each inside the clusters of the scopes
/// it ran in (loop iterations and calls, nested as they ran: `for l = 2`
/// inside `call layer`); a scope without a drawn node is left out.
static void writeScoped(std::ostream &os, const std::vector<Scope> &scopes,
                        const std::map<int, std::vector<std::string>> &lines) {
  std::vector<bool> used(scopes.size(), false);
  for (auto &entry : lines)
    for (int s = entry.first; s >= 0 && !used[s]; s = scopes[s].parent)
      used[s] = true;
  std::map<int, std::vector<int>> children;
  for (size_t s = 0; s < scopes.size(); ++s)
    if (used[s])
      children[scopes[s].parent].push_back((int)s);
  std::function<void(int, const std::string &)> write =
      [&](int scope, const std::string &indent) {
        if (auto it = lines.find(scope); it != lines.end())
          for (const std::string &l : it->second)
            os << indent << l;
        for (int c : children[scope]) {
          os << indent << "subgraph cluster_s" << c << " {\n"
             << indent << "  label=\"" << dotQuoted(scopes[c].label)
             << "\"; style=rounded; color=gray60; fontsize=10;\n";
          write(c, indent + "  ");
          os << indent << "}\n";
        }
      };
  write(-1, "  ");
}

/// emit dot --at: the traced graph, every value and adjoint at the point.
/// Arguments sit in the first rank; a node nothing connects (a loop
/// counter, an unused argument's copy) is left out; an operand used twice
/// (`t * t`) is one edge marked `x2`, and the adjoint edges of one pair of
/// nodes are one edge carrying their summed local derivative. Adjoint
/// edges do not constrain the layout, so it runs left to right by data
/// flow.
static bool emitTracedDot(const ir::Module &m, const std::string &fn,
                          const std::map<std::string, double> &at,
                          int precision, std::ostream &os, std::string &err) {
  Backprop bp;
  if (!backprop(m, fn, at, nullptr, bp, err))
    return false;
  std::vector<Node> &nodes = bp.t->nodes;
  auto num = [&](double v) { return labelNumber(v, precision); };
  auto id = [](int n) { return "n" + std::to_string(n); };
  auto drawn = [&](int k) {
    return !nodes[k].constant && nodes[k].differentiable;
  };
  std::map<std::pair<int, int>, int> uses;       // (operand, user) -> count
  std::map<std::pair<int, int>, double> partial; // (user, operand) -> sum
  std::set<int> linked;
  for (size_t k = 0; k < nodes.size(); ++k)
    for (int in : nodes[k].in)
      if (drawn(in) && drawn((int)k)) {
        ++uses[{in, (int)k}];
        linked.insert({in, (int)k});
      }
  for (const Step &s : bp.steps)
    partial[{s.from, s.to}] += s.d;
  os << "digraph \"" << fn << "\" {\n  rankdir=LR;\n"
     << "  ranksep=0.3;\n  nodesep=0.2;\n"
     << "  node [fontname=\"Helvetica\"];\n"
     << "  edge [fontname=\"Helvetica\"];\n  fontname=\"Helvetica\";\n"
     << "  label=\"" << dotQuoted(fn) << " at ";
  bool first = true;
  for (auto &[k, v] : at) {
    os << (first ? "" : ", ") << k << " = " << num(v);
    first = false;
  }
  os << ": values (forward, solid) and dL/dv (reverse, dashed)\";\n";
  os << "  { rank=source;";
  for (int a : bp.args)
    if (drawn(a))
      os << " " << id(a) << ";";
  os << " }\n";
  std::set<int> isArg(bp.args.begin(), bp.args.end());
  std::map<int, std::vector<std::string>> lines; // scope -> its nodes
  std::ostringstream edges;
  for (size_t k = 0; k < nodes.size(); ++k) {
    const Node &n = nodes[k];
    bool shown = !n.constant && (!n.op || n.differentiable);
    if (!shown || (!isArg.count((int)k) && !linked.count((int)k)))
      continue;
    std::string label = n.op && n.op->kind != OpKind::ParamLoad
                            ? n.name + " = " + bp.expr(n)
                            : (n.op ? "param " + n.op->paramName() : n.name);
    label += "\\n= " + num(n.value);
    if (bp.adj.count((int)k))
      label += "\\ndL/d" + n.name + " = " + num(bp.adj[(int)k]);
    lines[n.scope].push_back(id((int)k) +
                             " [shape=" + (n.op ? "ellipse" : "box") +
                             ", label=\"" + dotQuoted(label) + "\"];\n");
    std::set<int> done;
    for (int in : n.in)
      if (drawn(in) && drawn((int)k) && done.insert(in).second) {
        int count = uses[{in, (int)k}];
        edges << "  " << id(in) << " -> " << id((int)k)
              << (count > 1 ? " [label=\"x" + std::to_string(count) + "\"]"
                            : "")
              << ";\n";
      }
  }
  writeScoped(os, bp.t->scopes, lines);
  os << edges.str();
  std::set<std::pair<int, int>> drawnSteps;
  for (const Step &s : bp.steps)
    if (drawnSteps.insert({s.from, s.to}).second)
      os << "  " << id(s.from) << " -> " << id(s.to)
         << " [style=dashed, color=red, constraint=false, fontsize=10, "
            "label=\"d"
         << dotQuoted(nodes[s.from].name) << "/d" << dotQuoted(nodes[s.to].name)
         << "\\n= " << num(partial[{s.from, s.to}]) << "\"];\n";
  os << "}\n";
  return true;
}

namespace {

/// The adjoint edge's label from op `op` (result r) to operand `i`: the
/// local-derivative rule as a formula for matrix products, d<r>/d<v>
/// (elementwise or per element) otherwise.
std::string ruleLabel(const ir::Op &op, size_t i, Names &name) {
  std::string r = name(op.result()), v = name(op.operands[i]);
  if (op.kind != OpKind::MatMul)
    return "d" + r + "/d" + v;
  const Value *a = op.operands[0], *b = op.operands[1];
  std::string A = name(a), B = name(b), dr = "d" + r;
  size_t ra = a->type->rank(), rb = b->type->rank();
  if (ra == 2 && rb == 2)
    return "d" + v + " = " + (i == 0 ? dr + " @ " + B + "ᵀ" : A + "ᵀ @ " + dr);
  if (ra == 1 && rb == 2) // x @ W
    return "d" + v + " = " + (i == 0 ? B + " @ " + dr : A + " ⊗ " + dr);
  if (ra == 2 && rb == 1) // A @ x
    return "d" + v + " = " + (i == 0 ? dr + " ⊗ " + B : A + "ᵀ @ " + dr);
  return "d" + v + " = " + dr + " * " + (i == 0 ? B : A); // a dot product
}

/// `emit dot` without argument values of code the scalar graph cannot
/// draw (tensors, calls): one node per IR op, a tensor drawn as one value
/// with its type, a call as a cluster holding the callee's ops, constants
/// in their users' labels, and per operand a solid forward edge and a
/// dashed adjoint edge labelled with the rule.
class OpGraph {
public:
  OpGraph(const ir::Module &m, std::ostream &os) : m(m), os(os) {}

  /// Draws `f`'s ops, its arguments being the nodes `args`; its result's
  /// node into `result`. False with `err` set for what it cannot draw.
  bool function(const ir::Function &f, const std::vector<std::string> &args,
                std::string &result, int depth) {
    for (size_t i = 0; i < f.args().size(); ++i)
      node[f.args()[i].get()] = args[i];
    for (const auto &opPtr : f.body->ops) {
      const ir::Op &op = *opPtr;
      if (op.kind == OpKind::Return) {
        if (op.operands.size() != 1 || !node.count(op.operands[0]))
          return fail("'" + f.name + "' does not return one computed value");
        result = node[op.operands[0]];
        continue;
      }
      if (op.kind == OpKind::ConstF || op.kind == OpKind::ConstI ||
          op.kind == OpKind::ConstB)
        continue;
      if (!op.regions.empty())
        return fail("'" + f.name + "' has a loop or a branch ('" +
                    ir::mnemonic(op.kind) +
                    "'): emit dot draws tensor code without control flow");
      if (op.results.size() != 1)
        return fail(std::string("'") + ir::mnemonic(op.kind) +
                    "' has several results");
      if (op.kind == OpKind::Call && !call(op, depth))
        return false;
      if (op.kind != OpKind::Call)
        value(op);
    }
    return true;
  }

  /// A box for argument `v` of the drawn function.
  std::string argument(const Value *v) {
    std::string id = fresh();
    os << "  " << id << " [shape=box, label=\"" << name(v) << ": "
       << toString(v->type) << "\"];\n";
    return id;
  }

  std::string error;

private:
  const ir::Module &m;
  std::ostream &os;
  Names name;
  std::map<const Value *, std::string> node;
  int next = 0, clusters = 0;

  std::string fresh() { return "n" + std::to_string(next++); }
  static const Value *returned(const ir::Function &g) {
    return g.body->ops.back()->operands[0];
  }
  bool fail(const std::string &why) {
    error = why;
    return false;
  }

  void value(const ir::Op &op) {
    std::string id = fresh(), label;
    if (op.kind == OpKind::ParamLoad)
      label = std::string("param ") + op.paramName();
    else
      label = name(op.result()) + " = " + expression(op, name);
    os << "  " << id
       << " [shape=" << (op.kind == OpKind::ParamLoad ? "box" : "ellipse")
       << ", label=\"" << label << "\\n"
       << toString(op.result()->type) << "\"];\n";
    for (size_t i = 0; i < op.operands.size(); ++i) {
      auto it = node.find(op.operands[i]);
      if (it == node.end())
        continue; // a constant: in the label
      os << "  " << it->second << " -> " << id << ";\n";
      if (op.kind == OpKind::StopGrad ||
          !op.operands[i]->type->isDifferentiable())
        continue; // no adjoint flows back
      os << "  " << id << " -> " << it->second
         << " [style=dashed, color=red, constraint=false, label=\""
         << ruleLabel(op, i, name) << "\"];\n";
    }
    node[op.result()] = id;
  }

  /// A call: a cluster with the callee's ops (a recursive call, or one
  /// nested deeper than 8, is one node).
  bool call(const ir::Op &op, int depth) {
    const ir::Function *g = m.lookup(op.callee());
    if (!g || depth >= 8) {
      value(op);
      return true;
    }
    std::vector<std::string> args;
    for (size_t i = 0; i < op.operands.size(); ++i) {
      const Value *v = op.operands[i];
      auto it = node.find(v);
      args.push_back(it != node.end() ? it->second : argument(v));
      name.m[g->args()[i].get()] = name(v); // the caller's name inside
    }
    os << "  subgraph cluster_" << clusters++ << " {\n  label=\"call "
       << g->name << "\"; style=rounded; color=gray50;\n";
    std::string result;
    if (!function(*g, args, result, depth + 1))
      return false;
    os << "  }\n";
    node[op.result()] = result;
    name.m[op.result()] = name(returned(*g)); // the callee's name outside
    return true;
  }
};

/// emit dot (no --at) of a function the scalar graph cannot draw.
bool emitOpGraph(const ir::Module &m, const ir::Function &f,
                 const std::string &title, std::ostream &os, std::string &err) {
  std::ostringstream body;
  OpGraph g(m, body);
  std::vector<std::string> args;
  for (auto &a : f.args())
    args.push_back(g.argument(a.get()));
  std::string result;
  if (!g.function(f, args, result, 0)) {
    err = "emit dot cannot draw '" + f.name + "': " + g.error;
    return false;
  }
  os << "digraph \"" << title << "\" {\n  rankdir=TB;\n"
     << "  node [fontname=\"Helvetica\"];\n"
     << "  edge [fontname=\"Helvetica\", fontsize=10];\n"
     << body.str() << "}\n";
  return true;
}

} // namespace

bool emitDot(const ir::Module &m, const std::string &fn,
             const std::map<std::string, double> &at, std::ostream &os,
             std::string &err, int precision) {
  if (!at.empty())
    return emitTracedDot(m, fn, at, precision, os, err);
  // Tensor code and calls without loops or branches: the op graph (of a
  // derived function's base, or of any function). Loops and branches are
  // drawn with --at only (the trace).
  Graph g = find(m, fn, false);
  const ir::Function *base = g.error.empty() ? g.f : nullptr;
  if (!base && !m.lookupDerived(fn))
    base = m.lookup(fn);
  bool controlFlow =
      base && std::any_of(base->body->ops.begin(), base->body->ops.end(),
                          [](auto &op) { return !op->regions.empty(); });
  if (base && !controlFlow && !unsupported(*base).empty())
    return emitOpGraph(m, *base, fn, os, err);
  if (controlFlow && g.error.empty()) {
    std::string args;
    for (auto &a : base->args())
      args += (args.empty() ? "" : ",") + a->name + "=1";
    err = "emit dot draws the loops and branches of '" + base->name +
          "' only unrolled at given arguments: add --at " + args +
          " (the trace explain prints)";
    return false;
  }
  g = find(m, fn, true);
  if (!g.error.empty()) {
    err = g.error;
    return false;
  }
  const ir::Function &f = *g.f;
  Names name;
  auto id = [&](const Value *v) {
    std::ostringstream s;
    s << "\"" << name(v) << "\"";
    return s.str();
  };
  os << "digraph \"" << fn << "\" {\n  rankdir=LR;\n"
     << "  node [fontname=\"Helvetica\"];\n";
  for (auto &a : f.args())
    os << "  " << id(a.get()) << " [shape=box, label=\"" << a->name << "\"];\n";
  for (auto &op : f.body->ops) {
    if (op->kind == OpKind::Return || op->kind == OpKind::ConstF)
      continue;
    os << "  " << id(op->result()) << " [shape=ellipse, label=\""
       << name(op->result()) << " = " << expression(*op, name) << "\"];\n";
    for (Value *v : op->operands) {
      if (v->def && v->def->kind == OpKind::ConstF)
        continue;
      os << "  " << id(v) << " -> " << id(op->result()) << ";\n";
      os << "  " << id(op->result()) << " -> " << id(v)
         << " [style=dashed, color=red, constraint=false, label=\"d"
         << name(op->result()) << "/d" << name(v) << "\"];\n";
    }
  }
  os << "}\n";
  return true;
}

} // namespace bp::ad
