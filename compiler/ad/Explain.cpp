//===- Explain.cpp - backpropagation shown step by step -------------------===//
//
// `bpc explain FILE --fn NAME --at a=1,b=2` evaluates the base function of a
// derived function op by op and prints the forward values, then the reverse
// sweep node by node: the local derivative of each op (computed with the
// same chain-rule table the compiler uses, ad/Partials.cpp, evaluated on the
// forward values) and the chain-rule product. `bpc emit dot` draws the same
// graph for Graphviz: forward edges solid, adjoint edges dashed.
// Both handle straight-line scalar code (the textbook case); functions with
// loops, branches, calls or tensors are reported as not supported yet.
//
//===----------------------------------------------------------------------===//
#include "ad/Explain.h"

#include "ad/Partials.h"

#include <charconv>
#include <cmath>
#include <map>
#include <ostream>
#include <set>
#include <sstream>

namespace bp::ad {
namespace {

using ir::OpKind;
using ir::Value;

std::string num(double d) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, r.ptr);
}

/// Scalar semantics of the ops explain supports (the same formulas as
/// codegen/Scalar.cpp).
bool evalOp(const ir::Op &op, const std::vector<double> &a, double &r) {
  auto sig = [](double x) { return 1 / (1 + std::exp(-x)); };
  switch (op.kind) {
  case OpKind::ConstF:
    r = op.fval;
    return true;
  case OpKind::FAdd:
    r = a[0] + a[1];
    return true;
  case OpKind::FSub:
    r = a[0] - a[1];
    return true;
  case OpKind::FMul:
    r = a[0] * a[1];
    return true;
  case OpKind::FDiv:
    r = a[0] / a[1];
    return true;
  case OpKind::FNeg:
    r = -a[0];
    return true;
  case OpKind::Pow:
    r = std::pow(a[0], a[1]);
    return true;
  case OpKind::Exp:
    r = std::exp(a[0]);
    return true;
  case OpKind::Log:
    r = std::log(a[0]);
    return true;
  case OpKind::Sqrt:
    r = std::sqrt(a[0]);
    return true;
  case OpKind::Sin:
    r = std::sin(a[0]);
    return true;
  case OpKind::Cos:
    r = std::cos(a[0]);
    return true;
  case OpKind::Tan:
    r = std::tan(a[0]);
    return true;
  case OpKind::Tanh:
    r = std::tanh(a[0]);
    return true;
  case OpKind::Sigmoid:
    r = sig(a[0]);
    return true;
  case OpKind::Relu:
    r = a[0] < 0 ? 0 : a[0];
    return true;
  case OpKind::Softplus:
    r = (a[0] > 0 ? a[0] : 0) + std::log1p(std::exp(-std::fabs(a[0])));
    return true;
  case OpKind::Abs:
    r = std::fabs(a[0]);
    return true;
  case OpKind::Sign:
    r = a[0] > 0 ? 1 : a[0] < 0 ? -1 : a[0];
    return true;
  case OpKind::StopGrad:
    r = a[0];
    return true;
  case OpKind::Max:
    r = a[0] >= a[1] ? a[0] : a[1];
    return true;
  case OpKind::Min:
    r = a[0] <= a[1] ? a[0] : a[1];
    return true;
  default:
    return false;
  }
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
      return num(v->def->fval);
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
  const sema::DerivedInfo *info = nullptr;
  std::string error;
};

Graph find(const ir::Module &m, const sema::Program &prog,
           const std::string &fn) {
  Graph g;
  g.info = prog.lookupDerived(fn);
  if (!g.info) {
    g.error = "'" + fn + "' is not a derived function (fn d = grad(f, ...))";
    return g;
  }
  const sema::DerivedInfo *d = g.info;
  while (const sema::DerivedInfo *inner = prog.lookupDerived(d->base))
    d = inner;
  g.f = m.lookup(d->base);
  if (d != g.info || g.info->kind == sema::DerivKind::Jvp)
    g.error = "explain shows reverse mode of a user function: grad or "
              "value_and_grad";
  else if (std::string why = unsupported(*g.f); !why.empty())
    g.error = "explain supports straight-line scalar functions; '" + g.f->name +
              "' is not one: " + why + " (not supported yet)";
  return g;
}

} // namespace

bool explain(const ir::Module &m, const sema::Program &prog,
             const std::string &fn, const std::map<std::string, double> &at,
             std::ostream &os, std::string &err) {
  Graph g = find(m, prog, fn);
  if (!g.error.empty()) {
    err = g.error;
    return false;
  }
  const ir::Function &f = *g.f;
  std::map<const Value *, double> val;
  Names name;
  for (auto &a : f.args()) {
    auto it = at.find(a->name);
    if (it == at.end()) {
      err = "--at needs a value for '" + a->name + "'";
      return false;
    }
    val[a.get()] = it->second;
    name(a.get());
  }
  for (auto &[k, v] : at)
    if (std::none_of(f.args().begin(), f.args().end(),
                     [&](auto &a) { return a->name == k; })) {
      err = "'" + f.name + "' has no argument '" + k + "'";
      return false;
    }
  const Value *result = f.body->terminator()->operands[0];
  os << "forward: " << f.name << "(";
  for (size_t i = 0; i < f.args().size(); ++i)
    os << (i ? ", " : "") << f.args()[i]->name << " = "
       << num(val[f.args()[i].get()]);
  os << ")\n";
  size_t width = 0;
  std::vector<std::pair<std::string, std::string>> rows;
  for (auto &op : f.body->ops) {
    if (op->kind == OpKind::Return || op->kind == OpKind::ConstF) {
      if (op->kind == OpKind::ConstF)
        val[op->result()] = op->fval;
      continue;
    }
    std::vector<double> in;
    for (Value *v : op->operands)
      in.push_back(val[v]);
    double r;
    evalOp(*op, in, r);
    val[op->result()] = r;
    std::string lhs = name(op->result()) + " = " + expression(*op, name);
    width = std::max(width, lhs.size());
    rows.push_back({lhs, num(r)});
  }
  for (auto &[l, r] : rows)
    os << "  " << l << std::string(width - l.size(), ' ') << " = " << r << '\n';
  std::string L = name(result);
  os << "reverse: dL/dv = sum over the uses of v of dL/d(use) * d(use)/dv, "
        "with L = "
     << L << "\n";
  std::map<const Value *, double> adj;
  adj[result] = 1.0;
  os << "  dL/d" << L << " = 1\n";
  // Partials come from the compiler's chain-rule table, evaluated on the
  // forward values.
  auto partialValues = [&](const ir::Op &op) {
    ir::Block scratch;
    ir::Builder sb(*m.types);
    sb.setInsertionPointToEnd(&scratch);
    std::map<const Value *, Value *> primal;
    auto P = [&](const Value *v) {
      auto &slot = primal[v];
      if (!slot)
        slot = sb.constF(val[v]);
      return slot;
    };
    std::vector<bool> want(op.operands.size(), true);
    std::vector<Value *> d;
    partials(op, want, sb, P, d);
    std::map<const Value *, double> sv;
    for (auto &[orig, c] : primal)
      sv[c] = val[orig];
    for (auto &o : scratch.ops) {
      std::vector<double> in;
      for (Value *v : o->operands)
        in.push_back(sv[v]);
      double r = 0;
      if (o->kind == OpKind::FCmp) {
        double x = in[0], y = in[1];
        switch (o->pred()) {
        case ir::CmpPred::Eq:
          r = x == y;
          break;
        case ir::CmpPred::Ne:
          r = x != y;
          break;
        case ir::CmpPred::Lt:
          r = x < y;
          break;
        case ir::CmpPred::Le:
          r = x <= y;
          break;
        case ir::CmpPred::Gt:
          r = x > y;
          break;
        case ir::CmpPred::Ge:
          r = x >= y;
          break;
        }
      } else if (o->kind == OpKind::Select) {
        r = in[0] != 0 ? in[1] : in[2];
      } else {
        evalOp(*o, in, r);
      }
      sv[o->result()] = r;
    }
    std::vector<double> out;
    for (Value *v : d)
      out.push_back(v ? sv[v] : 0.0);
    return out;
  };
  for (auto it = f.body->ops.rbegin(); it != f.body->ops.rend(); ++it) {
    const ir::Op &op = **it;
    if (op.kind == OpKind::Return || op.kind == OpKind::ConstF ||
        !adj.count(op.result()))
      continue;
    double g = adj[op.result()];
    std::vector<double> d = partialValues(op);
    for (size_t i = 0; i < op.operands.size(); ++i) {
      const Value *v = op.operands[i];
      if (v->def && v->def->kind == OpKind::ConstF)
        continue;
      double contribution = g * d[i];
      bool more = adj.count(v) != 0;
      adj[v] = more ? adj[v] + contribution : contribution;
      os << "  dL/d" << name(v) << (more ? " += " : " = ") << "dL/d"
         << name(op.result()) << " * d" << name(op.result()) << "/d" << name(v)
         << " = " << num(g) << " * " << num(d[i]) << " = " << num(contribution);
      if (more)
        os << "  (total " << num(adj[v]) << ")";
      os << '\n';
    }
  }
  os << "result of " << fn << ":";
  for (auto &w : g.info->wrt)
    os << " dL/d" << w.name << " = " << num(adj[f.args()[w.argIndex].get()]);
  os << '\n';
  return true;
}

bool emitDot(const ir::Module &m, const sema::Program &prog,
             const std::string &fn, std::ostream &os, std::string &err) {
  Graph g = find(m, prog, fn);
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
         << " [style=dashed, color=red, label=\"d" << name(op->result()) << "/d"
         << name(v) << "\"];\n";
    }
  }
  os << "}\n";
  return true;
}

} // namespace bp::ad
