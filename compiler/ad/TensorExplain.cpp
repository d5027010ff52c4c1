//===- TensorExplain.cpp - backpropagation of tensor code shown -----------===//
//
// `bpc explain` of a derived function whose base uses tensors. A trace
// interpreter runs the base function op by op on dense values
// (ir/TensorEval.h; loops, branches and calls unrolled, loop iterations
// after the second folded in the table), then the reverse sweep walks the
// trace last op first. The adjoints are not computed by formulas of their
// own: for each op the compiler's rules (ad/Rules.h: `partials` times the
// adjoint for elementwise ops, `tensorAdjoints` for structural ones) are
// emitted into a scratch block whose arguments stand for the op's values
// and evaluated with the same evaluator, so the numbers are grad's. The
// formulas printed beside them (ruleText) are for reading only.
//
//===----------------------------------------------------------------------===//
#include "ad/TensorExplain.h"

#include "ad/AD.h"
#include "ad/Rules.h"

#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <ostream>
#include <set>

namespace bp::ad {
namespace {

using ir::OpKind;
using ir::TensorValue;
using ir::Value;

constexpr size_t kShown = 6;            // leading values shown
constexpr int64_t kShownIterations = 2; // loop iterations shown, then folded

std::string num(double v) {
  if (v == 0)
    v = 0; // no -0 in the table
  char buf[40];
  snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string typeText(const TensorValue &v, bool isInt = false) {
  if (v.isScalar())
    return isInt ? "int" : "f64";
  std::string s = "f64[";
  for (size_t i = 0; i < v.shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(v.shape[i]);
  return s + "]";
}

/// `f64[2] [0.5, 0.25]`: the type and the first kShown values.
std::string valueText(const TensorValue &v, bool isInt = false) {
  if (v.isScalar())
    return typeText(v, isInt) + " " + num(v.data[0]);
  std::string s = typeText(v) + " [";
  for (size_t i = 0; i < v.data.size() && i < kShown; ++i)
    s += (i ? ", " : "") + num(v.data[i]);
  if (v.data.size() > kShown)
    s += ", ... (" + std::to_string(v.data.size()) + " values)";
  return s + "]";
}

/// Columns on a terminal: UTF-8 code points (`ᵀ`, `⊗` are one each).
size_t columns(const std::string &s) {
  size_t n = 0;
  for (unsigned char c : s)
    n += (c & 0xC0) != 0x80;
  return n;
}

std::string padded(const std::string &s, size_t width) {
  size_t w = columns(s);
  return s + std::string(width > w ? width - w : 0, ' ');
}

double norm(const TensorValue &v) {
  double s = 0;
  for (double x : v.data)
    s += x * x;
  return std::sqrt(s);
}

/// `f64[2], norm 1.41421, [1, 1]`: an adjoint.
std::string adjointText(const TensorValue &v) {
  if (v.isScalar())
    return "f64 " + num(v.data[0]);
  std::string vals = valueText(v);
  return typeText(v) + ", norm " + num(norm(v)) + ", " +
         vals.substr(typeText(v).size() + 1);
}

/// One executed op (or argument) of the base function.
struct Node {
  const ir::Op *op = nullptr; // null: an argument
  std::vector<int> in;
  TensorValue value;
  bool differentiable = false;
  bool constant = false;
  bool isInt = false;
  std::string name;
  int fold = -1;     // index into Trace::folds: not shown one by one
  std::string where; // the loop iteration or call it ran in ("" at top)
};

struct Fold {
  std::string text; // "for l = 2..9: iterations 3–10 folded"
  size_t ops = 0;
};

/// Names: source names where the IR has them, t0, t1, ... otherwise.
struct Names {
  std::map<const Value *, std::string> m;
  std::set<std::string> used;
  unsigned next = 0;
  std::string operator()(const Value *v) {
    auto it = m.find(v);
    if (it != m.end())
      return it->second;
    std::string n = v->name;
    if (n.empty() || used.count(n) || n.find('.') != std::string::npos)
      do
        n = "t" + std::to_string(next++);
      while (used.count(n));
    used.insert(n);
    return m[v] = n;
  }
};

bool carriesDerivative(const ir::Op &op) {
  if (op.results.size() != 1 || !op.result()->type->isDifferentiable())
    return false;
  return op.kind == OpKind::ParamLoad || hasPartials(op.kind) ||
         isTensorRuleOp(op.kind);
}

/// Runs the base function on dense values and records the trace.
class Tracer {
public:
  Tracer(const ir::Module &m, Names &names,
         const std::map<std::string, double> *paramValues)
      : m(m), names(names), paramValues(paramValues) {}

  static constexpr size_t maxNodes = 4000;
  std::vector<Node> nodes;
  std::vector<std::pair<int, std::string>> rows; // a node, or a note
  std::vector<Fold> folds;
  std::map<std::string, std::vector<int>> paramReads;
  std::string error;

  int arg(const Value *v, TensorValue x) {
    Node n;
    n.value = std::move(x);
    n.differentiable = v->type->isDifferentiable();
    n.isInt = v->type->isInt();
    n.name = names(v);
    nodes.push_back(std::move(n));
    return (int)nodes.size() - 1;
  }

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
  const std::map<std::string, double> *paramValues;
  std::map<const Value *, int> instances;
  int folding = -1;
  std::string where;

  double scalar(int id) const { return nodes[id].value.data[0]; }

  bool fail(const ir::Op &op, const std::string &why) {
    if (error.empty())
      error = "explain cannot run '" + std::string(ir::mnemonic(op.kind)) +
              "'" + (why.empty() ? "" : ": " + why);
    return false;
  }

  void note(const std::string &text) {
    if (folding < 0)
      rows.push_back({-1, text});
  }

  bool block(const ir::Block &b, Env &env, std::vector<int> &out, int depth) {
    for (const auto &opPtr : b.ops) {
      const ir::Op &op = *opPtr;
      std::vector<int> in;
      for (const Value *v : op.operands)
        in.push_back(env.at(v));
      bool ok = true;
      switch (op.kind) {
      case OpKind::Yield:
      case OpKind::Return:
        out = in;
        return true;
      case OpKind::Print:
      case OpKind::Assert:
        continue;
      case OpKind::Call:
        ok = callOp(op, in, env, depth);
        break;
      case OpKind::If:
        ok = ifOp(op, in, env, depth);
        break;
      case OpKind::For:
        ok = forOp(op, in, env, depth);
        break;
      case OpKind::While:
        ok = whileOp(op, in, env, depth);
        break;
      default: {
        int id = node(op, in);
        ok = id >= 0;
        if (ok && !op.results.empty())
          env[op.result()] = id;
      }
      }
      if (!ok)
        return false;
    }
    return true;
  }

  int add(const ir::Op &op, std::vector<int> in, TensorValue value) {
    if (!room())
      return -1;
    Node n;
    n.op = &op;
    n.in = std::move(in);
    n.value = std::move(value);
    n.differentiable = carriesDerivative(op);
    n.constant = op.kind == OpKind::ConstF || op.kind == OpKind::ConstI ||
                 op.kind == OpKind::ConstB;
    n.isInt = op.result()->type->isInt();
    int k = ++instances[op.result()];
    n.name = names(op.result()) + (k > 1 ? "#" + std::to_string(k) : "");
    if (n.constant)
      n.name = num(n.value.data[0]);
    n.fold = folding;
    n.where = where;
    nodes.push_back(std::move(n));
    int id = (int)nodes.size() - 1;
    if (folding >= 0)
      ++folds[folding].ops;
    else if (!nodes[id].constant &&
             (nodes[id].differentiable || op.result()->type->isTensor()))
      rows.push_back({id, ""});
    return id;
  }

  int node(const ir::Op &op, const std::vector<int> &in) {
    if (op.results.size() != 1) {
      fail(op, "it has several results");
      return -1;
    }
    if (op.kind == OpKind::ParamLoad) {
      const ir::Param *p = m.lookupParam(op.paramName());
      if (!p) {
        fail(op, "unknown param");
        return -1;
      }
      size_t index = (size_t)(p - m.params.data());
      TensorValue v = TensorValue::zeros(p->type);
      v.data = ir::initialValues(*p, index, 0);
      if (paramValues && paramValues->count(p->name) && v.isScalar())
        v.data[0] = paramValues->at(p->name); // the REPL's current value
      int id = add(op, {}, std::move(v));
      if (id >= 0)
        paramReads[op.paramName()].push_back(id);
      return id;
    }
    std::vector<const TensorValue *> vals;
    for (int n : in)
      vals.push_back(&nodes[n].value);
    TensorValue r;
    std::string why;
    if (!ir::evalTensorOp(op, vals, r, why)) {
      fail(op, why);
      return -1;
    }
    return add(op, in, std::move(r));
  }

  bool callOp(const ir::Op &op, const std::vector<int> &in, Env &env,
              int depth) {
    const ir::Function *callee = m.lookup(op.callee());
    if (!callee)
      return fail(op, "unknown function");
    note("call " + op.callee());
    std::string outer = where;
    where = (outer.empty() ? "" : outer + ", ") + "in " + op.callee();
    std::vector<int> res = call(*callee, in, depth + 1);
    where = outer;
    if (!error.empty())
      return false;
    note("return from " + op.callee());
    for (size_t i = 0; i < op.results.size(); ++i)
      env[op.result(i)] = res[i];
    return true;
  }

  bool ifOp(const ir::Op &op, const std::vector<int> &in, Env &env, int depth) {
    bool c = scalar(in[0]) != 0;
    const Value *cv = op.operands[0];
    if (cv->def && cv->def->kind == OpKind::Not)
      cv = cv->def->operands[0];
    if (cv->name.rfind("return.done", 0) != 0)
      note(std::string("if: ") + (c ? "then" : "else") + " branch");
    std::vector<int> res;
    if (!block(*op.region(c ? 0 : 1), env, res, depth))
      return false;
    for (size_t i = 0; i < op.results.size(); ++i)
      env[op.result(i)] = res[i];
    return true;
  }

  bool room() {
    if (nodes.size() < maxNodes)
      return true;
    if (error.empty())
      error = "the computation has more than " + std::to_string(maxNodes) +
              " steps; explain it at smaller arguments";
    return false;
  }

  /// Iteration k (from 0) of a loop, its index `value` (`label = value`):
  /// shown, or folded after kShownIterations into one note per loop
  /// (`fold`, -1 until then) unless `last` says it is the only one left.
  void beginIteration(int64_t k, bool last, const std::string &text,
                      int &fold) {
    if (k >= kShownIterations && !last && folding < 0 && fold < 0) {
      fold = (int)folds.size();
      folds.push_back({text, 0});
      rows.push_back({-2 - fold, ""});
    }
    if (fold >= 0)
      folding = fold;
    note(text);
  }

  /// The note of a folded loop, once its last iteration `value` (the
  /// `trips`-th) ran: `for l = 2..9: iterations 3–10 folded`.
  void endFold(int fold, int64_t trips, const std::string &value) {
    if (fold < 0)
      return;
    Fold &f = folds[fold];
    f.text += ".." + value + ": iterations " +
              std::to_string(kShownIterations + 1) + "–" +
              std::to_string(trips) + " folded";
  }

  bool forOp(const ir::Op &op, const std::vector<int> &in, Env &env,
             int depth) {
    const ir::Block &body = *op.region(0);
    std::vector<int> carried(in.begin() + op.firstInit(), in.end());
    int64_t lo = (int64_t)scalar(in[0]), hi = (int64_t)scalar(in[1]);
    int outerFold = folding, fold = -1;
    std::string outerWhere = where, iv = names(op.inductionVar());
    for (int64_t i = lo; i < hi; ++i) {
      if (!room())
        return false;
      beginIteration(i - lo, hi - lo == kShownIterations + 1,
                     "for " + iv + " = " + std::to_string(i), fold);
      Node n;
      n.value = TensorValue::scalar((double)i);
      n.isInt = true;
      n.name = iv;
      n.fold = folding;
      nodes.push_back(std::move(n));
      env[op.inductionVar()] = (int)nodes.size() - 1;
      for (size_t k = 0; k < carried.size(); ++k)
        env[op.carriedArg(k)] = carried[k];
      where = "for " + iv + " = " + std::to_string(i);
      bool ok = block(body, env, carried, depth);
      folding = outerFold;
      where = outerWhere;
      if (!ok)
        return false;
    }
    endFold(fold, hi - lo, std::to_string(hi - 1));
    for (size_t i = 0; i < op.results.size(); ++i)
      env[op.result(i)] = carried[i];
    return true;
  }

  bool whileOp(const ir::Op &op, const std::vector<int> &in, Env &env,
               int depth) {
    const ir::Block &cond = *op.region(0), &body = *op.region(1);
    std::vector<int> carried = in;
    int outerFold = folding, fold = -1, trips = 0;
    for (;; ++trips) {
      if (!room())
        return false;
      for (size_t k = 0; k < carried.size(); ++k)
        env[cond.args[k].get()] = carried[k];
      std::vector<int> c;
      if (!block(cond, env, c, depth))
        return false;
      if (scalar(c[0]) == 0)
        break;
      std::string trip = std::to_string(trips + 1);
      beginIteration(trips, false, "while: trip " + trip, fold);
      for (size_t k = 0; k < carried.size(); ++k)
        env[body.args[k].get()] = carried[k];
      std::string outer = where;
      where = "while: trip " + trip;
      bool ok = block(body, env, carried, depth);
      folding = outerFold;
      where = outer;
      if (!ok)
        return false;
    }
    endFold(fold, trips, std::to_string(trips));
    for (size_t i = 0; i < op.results.size(); ++i)
      env[op.result(i)] = carried[i];
    return true;
  }
};

const char *infix(OpKind k) {
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

/// The right-hand side of a forward row: `W @ x`, `tanh(t1)`, `sum(h)`.
/// `[1, 0:2]`: the region of a slice, at the index values it ran with.
std::string sliceText(const Node &n, const std::vector<Node> &nodes) {
  const ir::Op &op = *n.op;
  const std::vector<int64_t> &full = nodes[n.in[0]].value.shape;
  const std::vector<int64_t> &part = n.value.shape;
  size_t idx = op.firstSliceIndex(), p = 0;
  std::string t = "[";
  for (size_t j = 0; j < op.sliceAxes().size(); ++j) {
    const ir::SliceAxis &a = op.sliceAxes()[j];
    int64_t start = a.offset;
    if (a.hasIndex())
      start = (int64_t)nodes[n.in[idx++]].value.data[0];
    std::string r = std::to_string(start);
    if (a.kind != ir::SliceAxis::Index) {
      int64_t len = part[p++];
      r = start == 0 && len == full[j] ? ":"
                                       : r + ":" + std::to_string(start + len);
    }
    t += (j ? ", " : "") + r;
  }
  return t + "]";
}

/// `primed`: the operands shown as their tangents (`W' @ x`).
std::string expression(const Node &n, const std::vector<Node> &nodes,
                       const std::vector<bool> *primed = nullptr) {
  const ir::Op &op = *n.op;
  auto nm = [&](size_t i) {
    bool p = primed && i < primed->size() && (*primed)[i];
    return nodes[n.in[i]].name + (p ? "'" : "");
  };
  auto axis = [&] {
    return op.axis() >= 0 ? ", axis " + std::to_string(op.axis()) : "";
  };
  if (op.kind == OpKind::ParamLoad)
    return "param " + op.paramName();
  if (const char *s = infix(op.kind))
    return nm(0) + " " + s + " " + nm(1);
  switch (op.kind) {
  case OpKind::FNeg:
    return "-" + nm(0);
  case OpKind::Transpose:
    return nm(0) + "ᵀ";
  case OpKind::ReduceSum:
    return "sum(" + nm(0) + axis() + ")";
  case OpKind::ReduceMax:
    return "max(" + nm(0) + axis() + ")";
  case OpKind::Broadcast:
  case OpKind::SumTo:
    return std::string(ir::mnemonic(op.kind)) + "(" + nm(0) + axis() + ")";
  case OpKind::FCmp:
  case OpKind::ICmp:
    return nm(0) + " " + ir::spelling(op.pred()) + " " + nm(1);
  case OpKind::Slice:
    return nm(0) + sliceText(n, nodes);
  case OpKind::Extract: {
    std::string e = nm(0) + "[";
    for (size_t i = 1; i < n.in.size(); ++i)
      e += (i > 1 ? ", " : "") + num(nodes[n.in[i]].value.data[0]);
    return e + "]";
  }
  default:
    break;
  }
  std::string e = std::string(ir::mnemonic(op.kind)) + "(";
  for (size_t i = 0; i < n.in.size(); ++i)
    e += (i ? ", " : "") + nm(i);
  return e + ")";
}

/// The local derivative of an elementwise op's result r with respect to
/// operand i, as text over the names (x, y: operands 0 and 1), for the
/// table; empty where it is not one expression.
std::string partialText(OpKind k, size_t i, const std::string &r,
                        const std::string &x, const std::string &y) {
  switch (k) {
  case OpKind::FAdd:
    return "1";
  case OpKind::FSub:
    return i == 0 ? "1" : "-1";
  case OpKind::FMul:
    return i == 0 ? y : x;
  case OpKind::FDiv:
    return i == 0 ? "1 / " + y : "-" + r + " / " + y;
  case OpKind::FNeg:
    return "-1";
  case OpKind::Pow:
    return i == 0 ? y + " * " + x + "^(" + y + " - 1)"
                  : r + " * log(" + x + ")";
  case OpKind::Exp:
    return r;
  case OpKind::Log:
    return "1 / " + x;
  case OpKind::Sqrt:
    return "0.5 / " + r;
  case OpKind::Sin:
    return "cos(" + x + ")";
  case OpKind::Cos:
    return "-sin(" + x + ")";
  case OpKind::Tan:
    return "(1 + " + r + "^2)";
  case OpKind::Tanh:
    return "(1 - " + r + "^2)";
  case OpKind::Sigmoid:
    return r + " * (1 - " + r + ")";
  case OpKind::Relu:
    return "(" + x + " > 0)";
  case OpKind::Softplus:
    return "sigmoid(" + x + ")";
  case OpKind::Abs:
    return "sign(" + x + ")";
  case OpKind::Atan:
    return "1 / (1 + " + x + "^2)";
  case OpKind::Erf:
    return "2/sqrt(pi) * exp(-" + x + "^2)";
  case OpKind::Lgamma:
    return "digamma(" + x + ")";
  case OpKind::Max:
  case OpKind::Min:
    return std::string("(") + (i == 0 ? x : y) + " is the " +
           (k == OpKind::Max ? "larger" : "smaller") + "; 0.5 at ties)";
  default:
    return "";
  }
}

/// The rule sending dr (the adjoint of structural op `op`'s result r) to
/// operand i, as text: `dA = dr @ Bᵀ`.
std::string structuralText(const ir::Op &op, size_t i, const std::string &dr,
                           const std::vector<std::string> &v) {
  size_t ra = op.operands[0]->type->rank();
  switch (op.kind) {
  case OpKind::Broadcast:
    return ra == 0 ? "sum(" + dr + ")  (every element's adjoint)"
                   : "sum_to(" + dr + ")  (sum over the broadcast axes)";
  case OpKind::SumTo:
    return "broadcast(" + dr + ")";
  case OpKind::ReduceSum:
    return "broadcast(" + dr + ")  (" + dr + " copied to every element)";
  case OpKind::ReduceMax:
    return "max_mask(" + v[0] + ") * " + dr + "  (to the first maximum)";
  case OpKind::MatMul: {
    size_t rb = op.operands[1]->type->rank();
    const std::string &A = v[0], &B = v[1];
    if (ra == 2 && rb == 2)
      return i == 0 ? dr + " @ " + B + "ᵀ" : A + "ᵀ @ " + dr;
    if (ra == 1 && rb == 2)
      return i == 0 ? B + " @ " + dr : A + " ⊗ " + dr;
    if (ra == 2 && rb == 1)
      return i == 0 ? dr + " ⊗ " + B : dr + " @ " + A;
    return dr + " * " + (i == 0 ? B : A);
  }
  case OpKind::Transpose:
    return dr + "ᵀ";
  case OpKind::Reshape:
    return "reshape(" + dr + ")  (to " + v[0] + "'s shape)";
  case OpKind::Extract:
    return "insert(0, " + dr + ")  (" + dr + " at the index, 0 elsewhere)";
  case OpKind::Insert:
    return i == 0 ? "insert(" + dr + ", 0)  (" + dr + " with the index zeroed)"
                  : dr + "[index]";
  case OpKind::Pack:
    return dr + "[" + std::to_string(i) + "]";
  case OpKind::Slice:
    return "unslice(" + dr + ")  (" + dr + " in the slice, 0 elsewhere)";
  case OpKind::Unslice:
    return "slice(" + dr + ")";
  case OpKind::Splice:
    return i == 0 ? "splice(" + dr + ", 0)  (" + dr + " with the region zeroed)"
                  : "slice(" + dr + ")";
  case OpKind::Im2Col:
    return "col2im(" + dr + ")";
  case OpKind::Col2Im:
    return "im2col(" + dr + ")";
  default:
    return "";
  }
}

/// `dt1 = dh * (1 - h^2)`: the rule of node n's op for operand i.
std::string ruleText(const Node &n, size_t i, const std::vector<Node> &nodes,
                     bool more) {
  const ir::Op &op = *n.op;
  std::vector<std::string> v;
  for (int in : n.in)
    v.push_back(nodes[in].name);
  std::string dr = "d" + n.name, lhs = "d" + v[i] + (more ? " += " : " = ");
  if (isTensorRuleOp(op.kind))
    return lhs + structuralText(op, i, dr, v);
  if (op.kind == OpKind::Select)
    return lhs + dr + " where " + v[0] + (i == 1 ? "" : " is false") +
           ", 0 elsewhere";
  std::string p =
      partialText(op.kind, i, n.name, v[0], v.size() > 1 ? v[1] : "");
  if (p.rfind("1 / ", 0) == 0 && p.find(' ', 4) == std::string::npos)
    p = "/ " + p.substr(4); // dr / y, not dr * 1 / y
  std::string term = p.empty()     ? dr + " * d" + n.name + "/d" + v[i]
                     : p == "1"    ? dr
                     : p == "-1"   ? "-" + dr
                     : p[0] == '/' ? dr + " " + p
                                   : dr + " * " + p;
  bool summed =
      !op.operands[i]->type->isTensor() && op.result()->type->isTensor();
  return lhs + (summed ? "sum(" + term + ")  (a scalar used by every element)"
                       : term);
}

/// A scratch block: the rules of one op are emitted over arguments that
/// stand for known values, then evaluated on them.
struct Scratch {
  ir::Block block;
  ir::Builder b;
  std::map<const Value *, TensorValue> vals;
  std::map<const Value *, Value *> primal; // the op's values -> known ones

  explicit Scratch(TypeContext &t) : b(t) { b.setInsertionPointToEnd(&block); }

  Value *known(const Type *t, const TensorValue &v) {
    Value *a = block.addArg(t);
    vals[a] = v;
    return a;
  }

  /// The primal values of node n's op (operands and result) as known
  /// values, for the rules to read.
  PrimalFn primals(const std::vector<Node> &nodes, const Node &n) {
    const ir::Op &op = *n.op;
    for (size_t i = 0; i < op.operands.size(); ++i)
      primal[op.operands[i]] =
          known(op.operands[i]->type, nodes[n.in[i]].value);
    primal[op.result()] = known(op.result()->type, n.value);
    return [this](const Value *v) { return primal.at(v); };
  }

  bool run(std::string &err) {
    for (auto &op : block.ops) {
      std::vector<const TensorValue *> in;
      for (Value *v : op->operands)
        in.push_back(&vals.at(v));
      TensorValue r;
      if (!ir::evalTensorOp(*op, in, r, err))
        return false;
      vals[op->result()] = std::move(r);
    }
    return true;
  }
};

/// The adjoint contributions of node n's op to its operands, given the
/// adjoint g of its result: the compiler's rules (ad/Rules.h) emitted into
/// a scratch block and evaluated. Null where an operand gets none.
bool adjointsOf(const ir::Module &m, const std::vector<Node> &nodes,
                const Node &n, const TensorValue &g,
                std::vector<std::optional<TensorValue>> &out,
                std::string &err) {
  const ir::Op &op = *n.op;
  Scratch s(*m.types);
  PrimalFn P = s.primals(nodes, n);
  Value *gv = s.known(op.result()->type, g);
  std::vector<bool> want;
  for (int in : n.in)
    want.push_back(nodes[in].differentiable && !nodes[in].constant);
  std::vector<Value *> d;
  if (isTensorRuleOp(op.kind)) {
    tensorAdjoints(op, gv, want, s.b, P, d);
  } else {
    if (!partials(op, want, s.b, P, d)) {
      err =
          std::string("no derivative rule for '") + ir::mnemonic(op.kind) + "'";
      return false;
    }
    for (size_t i = 0; i < d.size(); ++i) {
      if (!d[i])
        continue;
      d[i] = scale(s.b, gv, d[i]);
      // A scalar used by every element of a tensor op gets the sum.
      if (!op.operands[i]->type->isTensor() && d[i]->type->isTensor()) {
        ir::Op *sum =
            s.b.create(OpKind::ReduceSum, {d[i]}, {op.operands[i]->type});
        sum->ival = -1;
        d[i] = sum->result();
      }
    }
  }
  if (!s.run(err))
    return false;
  out.assign(d.size(), std::nullopt);
  for (size_t i = 0; i < d.size(); ++i)
    if (d[i])
      out[i] = s.vals.at(d[i]);
  return true;
}

/// One op of the reverse sweep: the adjoint that arrived at its value and
/// the rule sent to each operand.
struct ReverseStep {
  int id;
  TensorValue g;
  std::vector<std::string> rules;
};

struct Backprop {
  const ir::Function *f = nullptr;
  const ir::DerivedInfo *info = nullptr;
  Names names;
  std::unique_ptr<Tracer> t;
  std::vector<int> args, res;
  std::map<int, TensorValue> adj;
  std::vector<ReverseStep> steps;
};

void addInto(TensorValue &acc, const TensorValue &d) {
  for (size_t i = 0; i < acc.data.size(); ++i)
    acc.data[i] += d.data[i];
}

bool reverseSweep(const ir::Module &m, Backprop &bp, std::string &err) {
  std::vector<Node> &nodes = bp.t->nodes;
  bp.adj[bp.res[0]] = TensorValue::scalar(1.0);
  for (int id = (int)nodes.size() - 1; id >= 0; --id) {
    const Node &n = nodes[id];
    auto it = bp.adj.find(id);
    if (!n.op || !n.differentiable || it == bp.adj.end() ||
        n.op->kind == OpKind::ParamLoad)
      continue;
    ReverseStep step{id, it->second, {}};
    std::vector<std::optional<TensorValue>> d;
    if (!adjointsOf(m, nodes, n, step.g, d, err))
      return false;
    for (size_t i = 0; i < n.in.size(); ++i) {
      if (!d[i])
        continue;
      auto [slot, fresh] = bp.adj.try_emplace(n.in[i], *d[i]);
      if (!fresh)
        addInto(slot->second, *d[i]);
      step.rules.push_back(ruleText(n, i, nodes, !fresh));
    }
    bp.steps.push_back(std::move(step));
  }
  return true;
}

bool blockUsesTensors(const ir::Module &m, const ir::Block &b,
                      std::set<const ir::Function *> &seen) {
  for (auto &a : b.args)
    if (a->type->isTensor())
      return true;
  for (auto &op : b.ops) {
    for (auto &r : op->results)
      if (r->type->isTensor())
        return true;
    for (auto &r : op->regions)
      if (blockUsesTensors(m, *r, seen))
        return true;
    if (op->kind == OpKind::Call)
      if (const ir::Function *g = m.lookup(op->callee()))
        if (seen.insert(g).second && blockUsesTensors(m, *g->body, seen))
          return true;
  }
  return false;
}

/// `--at` gives every argument of `f`, tensors with their declared shape;
/// `f` returns one f64. False with `err` set otherwise.
bool checkArguments(const ir::Function &f,
                    const std::map<std::string, double> &at,
                    const TensorArgs &tensorAt, std::string &err) {
  auto fail = [&](const std::string &why) {
    err = why;
    return false;
  };
  for (auto &a : f.args()) {
    const std::string &x = a->name;
    std::string type = toString(a->type);
    auto t = tensorAt.find(x);
    if (a->type->isTensor()) {
      if (at.count(x))
        return fail("--at " + x + ": '" + x + "' is " + type +
                    ", not a number: give a literal such as " + x +
                    "=[1, 2, 3]");
      if (t == tensorAt.end())
        return fail("--at needs a value for '" + x + "' (" + type + ")");
      if (t->second.shape != a->type->shape)
        return fail("--at " + x + ": '" + x + "' is " + type +
                    " but the value has shape " +
                    ir::shapeString(t->second.shape));
      continue;
    }
    if (t != tensorAt.end())
      return fail("--at " + x + ": '" + x + "' is " + type + ", not a tensor");
    if (!at.count(x))
      return fail("--at needs a value for '" + x + "'");
    double v = at.at(x);
    if (!a->type->isF64() && v != std::trunc(v))
      return fail("--at " + x + "=" + num(v) + ": '" + x + "' is an " + type +
                  " argument of '" + f.name + "' (needs an integer)");
  }
  auto known = [&](const std::string &k) {
    return std::any_of(f.args().begin(), f.args().end(),
                       [&](auto &a) { return a->name == k; });
  };
  for (auto &[k, v] : at)
    if (!known(k))
      return fail("'" + f.name + "' has no argument '" + k + "'");
  for (auto &[k, v] : tensorAt)
    if (!known(k))
      return fail("'" + f.name + "' has no argument '" + k + "'");
  if (f.resultTypes.size() != 1 || !f.resultTypes[0]->isF64())
    return fail("explain needs a function that returns one f64");
  return true;
}

bool backprop(const ir::Module &m, const std::string &fn,
              const std::map<std::string, double> &at,
              const TensorArgs &tensorAt,
              const std::map<std::string, double> *paramValues, Backprop &bp,
              std::string &err) {
  bp.info = m.lookupDerived(fn);
  if (!bp.info) {
    err = "'" + fn + "' is not a derived function (fn d = grad(f, ...))";
    return false;
  }
  bp.f = m.lookup(bp.info->base);
  if (!bp.f || m.lookupDerived(bp.info->base) ||
      (bp.info->kind != ir::DerivKind::Grad &&
       bp.info->kind != ir::DerivKind::ValueAndGrad)) {
    err = "explain shows reverse mode of a user function: grad or "
          "value_and_grad";
    return false;
  }
  if (!checkArguments(*bp.f, at, tensorAt, err))
    return false;
  bp.t = std::make_unique<Tracer>(m, bp.names, paramValues);
  for (auto &a : bp.f->args()) {
    auto t = tensorAt.find(a->name);
    bp.args.push_back(bp.t->arg(
        a.get(),
        t != tensorAt.end() ? t->second : TensorValue::scalar(at.at(a->name))));
  }
  bp.res = bp.t->call(*bp.f, bp.args, 0);
  if (!bp.t->error.empty()) {
    err = bp.t->error;
    return false;
  }
  return reverseSweep(m, bp, err);
}

void printForward(Backprop &bp, std::ostream &os) {
  Tracer &t = *bp.t;
  std::vector<Node> &nodes = t.nodes;
  os << "forward: " << bp.f->name << "(";
  for (size_t i = 0; i < bp.args.size(); ++i)
    os << (i ? ", " : "") << nodes[bp.args[i]].name << ": "
       << typeText(nodes[bp.args[i]].value, nodes[bp.args[i]].isInt);
  os << ")\n";
  std::vector<std::string> lhs(t.rows.size());
  size_t width = 0;
  for (int a : bp.args)
    width = std::max(width, columns(nodes[a].name));
  for (size_t r = 0; r < t.rows.size(); ++r)
    if (t.rows[r].first >= 0) {
      const Node &n = nodes[t.rows[r].first];
      lhs[r] = n.name + " = " + expression(n, nodes);
      width = std::max(width, columns(lhs[r]));
    }
  auto pad = [&](const std::string &s) { return padded(s, width); };
  for (int a : bp.args)
    os << "  " << pad(nodes[a].name) << "  "
       << valueText(nodes[a].value, nodes[a].isInt) << '\n';
  for (size_t r = 0; r < t.rows.size(); ++r) {
    int id = t.rows[r].first;
    if (id <= -2) {
      const Fold &f = t.folds[-2 - id];
      os << "  -- " << f.text << " (" << f.ops << " ops)\n";
    } else if (id < 0) {
      os << "  -- " << t.rows[r].second << '\n';
    } else {
      os << "  " << pad(lhs[r]) << "  "
         << valueText(nodes[id].value, nodes[id].isInt) << '\n';
    }
  }
}

void printReverse(Backprop &bp, std::ostream &os) {
  Tracer &t = *bp.t;
  std::vector<Node> &nodes = t.nodes;
  const std::string &L = nodes[bp.res[0]].name;
  os << "reverse: last op first, the adjoint dL/dv arriving at each value v "
        "and the rule that sends it on, with L = "
     << L << "\n";
  size_t width = 0;
  for (const ReverseStep &s : bp.steps)
    width = std::max(width, columns(nodes[s.id].name + " = " +
                                    expression(nodes[s.id], nodes)));
  std::string where;
  std::set<int> foldsShown;
  for (const ReverseStep &s : bp.steps) {
    const Node &n = nodes[s.id];
    if (n.fold >= 0) {
      if (foldsShown.insert(n.fold).second)
        os << "  -- " << t.folds[n.fold].text << "\n";
      where = "folded";
      continue;
    }
    if (n.where != where && !n.where.empty())
      os << "  -- " << n.where << '\n';
    where = n.where;
    os << "  " << padded(n.name + " = " + expression(n, nodes), width)
       << "  dL/d" << n.name << ": " << adjointText(s.g) << '\n';
    for (const std::string &r : s.rules)
      os << "      " << r << '\n';
  }
}

/// Each variable's gradient from the reverse sweep (a param's: the sum
/// over its reads).
std::vector<std::pair<std::string, TensorValue>>
reverseGradients(const ir::Module &m, Backprop &bp) {
  std::vector<std::pair<std::string, TensorValue>> out;
  for (auto &w : bp.info->wrt) {
    const ir::Param *p = w.isParam ? m.lookupParam(w.name) : nullptr;
    TensorValue total =
        TensorValue::zeros(p ? p->type : bp.f->args()[w.argIndex]->type);
    std::vector<int> from = w.isParam ? bp.t->paramReads[w.name]
                                      : std::vector<int>{bp.args[w.argIndex]};
    for (int id : from)
      if (auto it = bp.adj.find(id); it != bp.adj.end())
        addInto(total, it->second);
    out.push_back({w.name, std::move(total)});
  }
  return out;
}

void printResult(const std::vector<std::pair<std::string, TensorValue>> &g,
                 const std::string &title, std::ostream &os) {
  os << "result of " << title << ":\n";
  for (auto &[w, total] : g)
    os << "  dL/d" << w << ": " << adjointText(total) << '\n';
}

/// `v' = (1 - v^2) * u'`: how node n's tangent comes from its operands'
/// (`has[i]`: operand i has one), for the table.
std::string tangentText(const Node &n, const std::vector<Node> &nodes,
                        const std::vector<bool> &has) {
  const ir::Op &op = *n.op;
  std::string lhs = n.name + "' = ";
  if (op.kind == OpKind::MatMul) {
    std::string A = nodes[n.in[0]].name, B = nodes[n.in[1]].name;
    std::string a = has[0] ? A + "' @ " + B : "",
                b = has[1] ? A + " @ " + B + "'" : "";
    return lhs + a + (has[0] && has[1] ? " + " : "") + b;
  }
  if (op.kind == OpKind::ReduceMax) // the tangent of the first maximum
    return lhs + "sum(max_mask(" + nodes[n.in[0]].name + ") * " +
           nodes[n.in[0]].name + "'" +
           (op.axis() >= 0 ? ", axis " + std::to_string(op.axis()) : "") + ")";
  if (isTensorRuleOp(op.kind))
    return lhs + expression(n, nodes, &has);
  std::string terms;
  for (size_t i = 0; i < n.in.size(); ++i) {
    if (!has[i])
      continue;
    std::string u = nodes[n.in[i]].name + "'";
    std::string p = partialText(op.kind, i, n.name, nodes[n.in[0]].name,
                                n.in.size() > 1 ? nodes[n.in[1]].name : "");
    if (p.rfind("1 / ", 0) == 0 && p.find(' ', 4) == std::string::npos)
      p = "/ " + p.substr(4); // u' / y, not 1 / y * u'
    std::string t = p.empty()
                        ? "d" + n.name + "/d" + nodes[n.in[i]].name + " * " + u
                    : p == "1"    ? u
                    : p == "-1"   ? "-" + u
                    : p[0] == '/' ? u + " " + p
                                  : p + " * " + u;
    terms += (terms.empty() ? "" : " + ") + t;
  }
  return lhs + terms;
}

/// The tangent of node n's result from its operands' tangents `t` (null:
/// zero): the compiler's rules (ad/Rules.h: tensorTangent, or partials
/// times the tangents) emitted into a scratch block and evaluated.
bool tangentOf(const ir::Module &m, const std::vector<Node> &nodes,
               const Node &n, const std::vector<const TensorValue *> &t,
               std::optional<TensorValue> &out, std::string &err) {
  const ir::Op &op = *n.op;
  Scratch s(*m.types);
  PrimalFn P = s.primals(nodes, n);
  std::vector<Value *> tv;
  std::vector<bool> want;
  for (size_t i = 0; i < t.size(); ++i) {
    tv.push_back(t[i] ? s.known(op.operands[i]->type, *t[i]) : nullptr);
    want.push_back(t[i] != nullptr);
  }
  Value *r = nullptr;
  if (isTensorRuleOp(op.kind)) {
    r = tensorTangent(op, tv, s.b, P);
  } else {
    std::vector<Value *> d;
    if (!partials(op, want, s.b, P, d)) {
      err =
          std::string("no derivative rule for '") + ir::mnemonic(op.kind) + "'";
      return false;
    }
    for (size_t i = 0; i < d.size(); ++i)
      if (d[i] && tv[i]) {
        Value *term = scale(s.b, tv[i], d[i]);
        r = r ? s.b.binary(OpKind::FAdd, r, term) : term;
      }
    // A scalar operand's tangent of a tensor result is broadcast.
    if (r && op.result()->type->isTensor() && !r->type->isTensor()) {
      ir::Op *bc = s.b.create(OpKind::Broadcast, {r}, {op.result()->type});
      bc->ival = -1;
      r = bc->result();
    }
  }
  if (!s.run(err))
    return false;
  out = r ? std::optional<TensorValue>(s.vals.at(r)) : std::nullopt;
  return true;
}

/// One sweep of forward mode: the tangent v' = dv/dX of every value that
/// depends on X, one element of a variable of the derived function.
struct TangentSweep {
  std::string var, element; // "W", "W[0, 1]"
  TensorValue seed;         // X' (1 at the element)
  std::map<int, TensorValue> tangent;
  std::vector<std::pair<int, std::string>> rows; // node, formula
  double result = 0;
};

/// `W[0, 1]`: element k of a value of `shape`.
std::string elementName(const std::string &var,
                        const std::vector<int64_t> &shape, int64_t k) {
  if (shape.empty())
    return var;
  std::string idx;
  for (size_t j = shape.size(); j-- > 0;) {
    idx = std::to_string(k % shape[j]) + (idx.empty() ? "" : ", ") + idx;
    k /= shape[j];
  }
  return var + "[" + idx + "]";
}

/// The sweep seeded with X' = 1 at element k of the values `seeds`.
bool sweep(const ir::Module &m, Backprop &bp, const std::vector<int> &seeds,
           int64_t k, TangentSweep &sw, std::string &err) {
  std::vector<Node> &nodes = bp.t->nodes;
  for (int id : seeds)
    sw.tangent[id] = sw.seed;
  for (int id = 0; id < (int)nodes.size(); ++id) {
    const Node &n = nodes[id];
    if (!n.op || !n.differentiable || n.op->kind == OpKind::ParamLoad ||
        sw.tangent.count(id))
      continue;
    std::vector<const TensorValue *> t;
    std::vector<bool> has;
    for (int in : n.in) {
      auto it = sw.tangent.find(in);
      t.push_back(it != sw.tangent.end() ? &it->second : nullptr);
      has.push_back(t.back() != nullptr);
    }
    if (std::none_of(has.begin(), has.end(), [](bool h) { return h; }))
      continue; // does not depend on X: its tangent is 0
    std::optional<TensorValue> r;
    if (!tangentOf(m, nodes, n, t, r, err))
      return false;
    if (!r)
      continue;
    sw.tangent[id] = std::move(*r);
    sw.rows.push_back({id, tangentText(n, nodes, has)});
  }
  auto it = sw.tangent.find(bp.res[0]);
  sw.result = it == sw.tangent.end() ? 0.0 : it->second.data[0];
  return true;
}

constexpr int64_t kMaxSweeps = 512;

bool tangentSweeps(const ir::Module &m, Backprop &bp,
                   std::vector<TangentSweep> &sweeps, std::string &err) {
  for (auto &w : bp.info->wrt) {
    std::vector<int> seeds = w.isParam ? bp.t->paramReads[w.name]
                                       : std::vector<int>{bp.args[w.argIndex]};
    const ir::Param *p = w.isParam ? m.lookupParam(w.name) : nullptr;
    TensorValue shape =
        TensorValue::zeros(p ? p->type : bp.f->args()[w.argIndex]->type);
    int64_t n = (int64_t)shape.data.size();
    if ((int64_t)sweeps.size() + n > kMaxSweeps) {
      err = "forward mode needs one sweep per input element, more than " +
            std::to_string(kMaxSweeps) +
            " here: explain it with --mode reverse or smaller tensors";
      return false;
    }
    for (int64_t k = 0; k < n; ++k) {
      TangentSweep sw;
      sw.var = w.name;
      sw.element = elementName(w.name, shape.shape, k);
      sw.seed = shape;
      sw.seed.data[k] = 1.0;
      if (!sweep(m, bp, seeds, k, sw, err))
        return false;
      sweeps.push_back(std::move(sw));
    }
  }
  return true;
}

/// The sweeps, the first of each variable in full, the others folded.
void printTangents(Backprop &bp, const std::vector<TangentSweep> &sweeps,
                   std::ostream &os) {
  std::vector<Node> &nodes = bp.t->nodes;
  os << "forward mode: one sweep per input element X, v' = dv/dX from X' = "
        "1 at that element (0 elsewhere), with L = "
     << nodes[bp.res[0]].name << "\n";
  for (size_t k = 0; k < sweeps.size(); ++k) {
    const TangentSweep &sw = sweeps[k];
    if (k > 0 && sweeps[k - 1].var == sw.var) {
      size_t last = k;
      while (last + 1 < sweeps.size() && sweeps[last + 1].var == sw.var)
        ++last;
      if (last == k)
        os << "  -- sweep " << k + 1 << " (X = " << sw.element << ") folded\n";
      else
        os << "  -- sweeps " << k + 1 << "–" << last + 1
           << " (X = " << sw.element << " to " << sweeps[last].element
           << ") folded\n";
      k = last;
      continue;
    }
    os << "  sweep " << k + 1 << " of " << sweeps.size()
       << ", X = " << sw.element << ":\n";
    size_t width = columns(sw.var + "'");
    for (auto &[id, text] : sw.rows)
      width = std::max(width, columns(text));
    os << "    " << padded(sw.var + "'", width) << "  " << valueText(sw.seed)
       << '\n';
    std::set<int> foldsShown;
    for (auto &[id, text] : sw.rows) {
      int fold = nodes[id].fold;
      if (fold >= 0 && foldsShown.insert(fold).second)
        os << "    -- " << bp.t->folds[fold].text << '\n';
      if (fold < 0)
        os << "    " << padded(text, width) << "  "
           << valueText(sw.tangent.at(id)) << '\n';
    }
  }
}

/// Each variable's gradient from the sweeps' results.
std::vector<std::pair<std::string, TensorValue>>
forwardGradients(const ir::Module &m, Backprop &bp,
                 const std::vector<TangentSweep> &sweeps) {
  std::vector<std::pair<std::string, TensorValue>> out;
  size_t k = 0;
  for (auto &w : bp.info->wrt) {
    const ir::Param *p = w.isParam ? m.lookupParam(w.name) : nullptr;
    TensorValue g =
        TensorValue::zeros(p ? p->type : bp.f->args()[w.argIndex]->type);
    for (double &x : g.data)
      x = sweeps[k++].result;
    out.push_back({w.name, std::move(g)});
  }
  return out;
}

/// --mode both: the gradients of the two modes side by side, and the cost.
void printBoth(const ir::Module &m, Backprop &bp,
               const std::vector<TangentSweep> &sweeps, std::ostream &os) {
  auto reverse = reverseGradients(m, bp);
  auto forward = forwardGradients(m, bp, sweeps);
  os << "both modes:\n";
  for (size_t i = 0; i < reverse.size(); ++i) {
    double diff = 0;
    for (size_t j = 0; j < reverse[i].second.data.size(); ++j)
      diff = std::max(diff, std::fabs(reverse[i].second.data[j] -
                                      forward[i].second.data[j]));
    os << "  dL/d" << reverse[i].first << ": reverse "
       << adjointText(reverse[i].second) << "\n    forward "
       << adjointText(forward[i].second) << ", largest difference " << num(diff)
       << '\n';
  }
  size_t products = 0;
  for (const TangentSweep &s : sweeps)
    products += s.rows.size();
  size_t n = sweeps.size();
  os << "cost: reverse mode 1 sweep, " << bp.steps.size()
     << " ops' adjoint rules, for all " << n << " gradient elements; forward "
     << "mode " << n << " sweep" << (n == 1 ? "" : "s")
     << " (one per input element), " << products << " ops' tangent rules\n"
     << "  a function of " << n << " number" << (n == 1 ? "" : "s")
     << " to one: reverse mode needs 1 sweep whatever n is, forward mode n\n";
}

} // namespace

bool usesTensors(const ir::Module &m, const ir::Function &f) {
  std::set<const ir::Function *> seen{&f};
  return blockUsesTensors(m, *f.body, seen);
}

bool explainTensors(const ir::Module &m, const std::string &fn,
                    const std::map<std::string, double> &at,
                    const TensorArgs &tensorAt, std::ostream &os,
                    std::string &err,
                    const std::map<std::string, double> *paramValues,
                    ExplainMode mode) {
  Backprop bp;
  if (!backprop(m, fn, at, tensorAt, paramValues, bp, err))
    return false;
  std::vector<TangentSweep> sweeps;
  if (mode != ExplainMode::Reverse && !tangentSweeps(m, bp, sweeps, err))
    return false;
  printForward(bp, os);
  if (mode != ExplainMode::Forward)
    printReverse(bp, os);
  if (mode != ExplainMode::Reverse)
    printTangents(bp, sweeps, os);
  if (mode == ExplainMode::Both)
    printBoth(m, bp, sweeps, os);
  else if (mode == ExplainMode::Forward)
    printResult(forwardGradients(m, bp, sweeps), fn + " (forward mode)", os);
  else
    printResult(reverseGradients(m, bp), fn, os);
  return true;
}

} // namespace bp::ad
