//===- AdjointPrinter.cpp - derived functions as readable BP --------------===//
//
// Prints IR functions as BP source, one `let` per operation, so that a
// derived function reads like the backward pass of a textbook. Names
// (documented in docs/AD.md):
//   x_bar      adjoint of x (reverse mode; IR hint `x.adj`)
//   x_dot      tangent of x (forward mode; IR hint `x.d`)
//   tN         an intermediate without a source name
//   f_rev_10   the reverse-mode function of f with activity "10" (one digit
//              per argument, 1 = differentiated), f_fwd_10 forward mode
// Constants are printed inline. `if`/`for`/`while` with results become
// `var`s assigned in the branches/body. Tape operations print as
// `push(tape, v)` / `pop(tape)`: such functions are pseudo-code; functions
// without loops are valid BP that compiles to the same gradient.
//
//===----------------------------------------------------------------------===//
#include "ad/AdjointPrinter.h"
#include "support/Format.h"

#include <cassert>
#include <functional>
#include <map>
#include <ostream>
#include <set>
#include <sstream>

namespace bp::ad {
namespace {

using ir::OpKind;
using ir::Value;

std::string identifier(const std::string &s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (isalnum((unsigned char)c) || c == '_')
      out += c;
    else if (!out.empty() && out.back() != '_')
      out += '_';
  }
  while (!out.empty() && out.back() == '_')
    out.pop_back();
  if (out.empty() || isdigit((unsigned char)out[0]))
    out = "f_" + out;
  return out;
}

class BPPrinter {
public:
  BPPrinter(std::ostream &os) : os(os) {}

  void function(const ir::Function &f) {
    names.clear();
    used.clear();
    temp = 0;
    inReverse = false;
    if (!f.derivedFrom.empty())
      os << "# " << f.derivedFrom << '\n';
    os << "fn " << identifier(f.name) << '(';
    for (size_t i = 0; i < f.args().size(); ++i) {
      Value *a = f.args()[i].get();
      os << (i ? ", " : "") << name(a) << ": " << toString(a->type);
    }
    os << ')';
    if (!f.resultTypes.empty()) {
      os << " -> ";
      types(f.resultTypes);
    }
    os << " {\n";
    bool hasAdjoint = false;
    for (auto &op : f.body->ops)
      hasAdjoint |= op->adjoint;
    if (hasAdjoint)
      os << "  # forward sweep\n";
    block(*f.body, 1);
    os << "}\n";
  }

private:
  std::ostream &os;
  std::map<const Value *, std::string> names;
  std::set<std::string> used;
  unsigned temp = 0;
  bool inReverse = false;

  void types(const std::vector<const Type *> &ts) {
    if (ts.size() == 1) {
      os << toString(ts[0]);
      return;
    }
    os << '(';
    for (size_t i = 0; i < ts.size(); ++i)
      os << (i ? ", " : "") << toString(ts[i]);
    os << ')';
  }

  std::string fresh(std::string base) {
    if (base.empty()) {
      std::string n;
      do
        n = "t" + std::to_string(temp++);
      while (used.count(n));
      used.insert(n);
      return n;
    }
    // x.adj -> x_bar, x.d -> x_dot, other dots -> _.
    auto replaceSuffix = [&](const std::string &suf, const std::string &by) {
      size_t p = base.rfind(suf);
      if (p != std::string::npos && p + suf.size() == base.size())
        base = base.substr(0, p) + by;
    };
    replaceSuffix(".adj", "_bar");
    replaceSuffix(".d", "_dot");
    base = identifier(base);
    std::string n = base;
    for (unsigned k = 2; used.count(n); ++k)
      n = base + "_" + std::to_string(k);
    used.insert(n);
    return n;
  }

  const std::string &name(const Value *v) {
    auto it = names.find(v);
    if (it != names.end())
      return it->second;
    return names[v] = fresh(v->name);
  }

  /// An operand: constants inline.
  std::string use(const Value *v) {
    if (v->def && v->def->kind == OpKind::ConstF)
      return f64Literal(v->def->fval);
    if (v->def && v->def->kind == OpKind::ConstI)
      return std::to_string(v->def->ival);
    if (v->def && v->def->kind == OpKind::ConstB)
      return v->def->ival ? "true" : "false";
    return name(v);
  }

  void indent(int d) {
    for (int i = 0; i < d; ++i)
      os << "  ";
  }

  static const char *binarySymbol(OpKind k) {
    switch (k) {
    case OpKind::FAdd:
    case OpKind::IAdd:
      return "+";
    case OpKind::FSub:
    case OpKind::ISub:
      return "-";
    case OpKind::FMul:
    case OpKind::IMul:
      return "*";
    case OpKind::FDiv:
    case OpKind::IDiv:
      return "/";
    case OpKind::FRem:
    case OpKind::IRem:
      return "%";
    case OpKind::Pow:
      return "^";
    default:
      return nullptr;
    }
  }

  static const char *cmpSymbol(ir::CmpPred p) {
    switch (p) {
    case ir::CmpPred::Eq:
      return "==";
    case ir::CmpPred::Ne:
      return "!=";
    case ir::CmpPred::Lt:
      return "<";
    case ir::CmpPred::Le:
      return "<=";
    case ir::CmpPred::Gt:
      return ">";
    case ir::CmpPred::Ge:
      return ">=";
    }
    return "?";
  }

  /// The right-hand side of a pure single-result op.
  std::string expr(const ir::Op &op) {
    auto a = [&](unsigned i) { return use(op.operands[i]); };
    if (const char *s = binarySymbol(op.kind))
      return a(0) + " " + s + " " + a(1);
    switch (op.kind) {
    case OpKind::FNeg:
    case OpKind::INeg:
      return "-" + a(0);
    case OpKind::Not:
      return "not " + a(0);
    case OpKind::FCmp:
    case OpKind::ICmp:
      return a(0) + " " + cmpSymbol(op.pred()) + " " + a(1);
    case OpKind::BEq:
      return a(0) + " == " + a(1);
    case OpKind::Select:
      return "if " + a(0) + " { " + a(1) + " } else { " + a(2) + " }";
    case OpKind::IToF:
      return "float(" + a(0) + ")";
    case OpKind::FToI:
      return "int(" + a(0) + ")";
    case OpKind::ParamLoad:
      return op.paramName();
    default:
      break;
    }
    std::string s = ir::mnemonic(op.kind);
    s += '(';
    for (size_t i = 0; i < op.operands.size(); ++i)
      s += (i ? ", " : "") + a(i);
    return s + ')';
  }

  void assignResults(const ir::Op &op, const std::vector<Value *> &vals,
                     int d) {
    for (size_t i = 0; i < vals.size(); ++i) {
      indent(d);
      os << name(op.result(i)) << " = " << use(vals[i]) << '\n';
    }
  }

  void declareResults(const ir::Op &op, int d) {
    for (auto &r : op.results) {
      indent(d);
      os << "var " << name(r.get()) << " = "
         << (r->type->isF64()    ? "0.0"
             : r->type->isBool() ? "false"
                                 : "0")
         << '\n';
    }
  }

  /// Prints the ops of a region block; region arguments are already named
  /// (they alias the op's results).
  void regionBody(const ir::Block &blk, const ir::Op &parent, int d) {
    for (auto &op : blk.ops) {
      if (op->kind == OpKind::Yield) {
        // Yield through temporaries so a swap of carried values is right.
        std::vector<std::string> tmp;
        for (Value *v : op->operands)
          tmp.push_back(use(v));
        for (size_t i = 0; i < tmp.size(); ++i) {
          std::string target = parent.kind == OpKind::If
                                   ? name(parent.result(i))
                                   : name(parent.carriedArg(i));
          if (target != tmp[i]) {
            indent(d);
            os << target << " = " << tmp[i] << '\n';
          }
        }
        continue;
      }
      this->op(*op, d);
    }
  }

  void block(const ir::Block &blk, int d) {
    for (auto &op : blk.ops)
      this->op(*op, d);
  }

  /// One op as BP statements at depth `d`, by family: control flow and
  /// calls print blocks or calls, effects one statement, pure ops a `let`.
  void op(const ir::Op &op, int d) {
    if (op.adjoint && !inReverse && d == 1) {
      inReverse = true;
      indent(d);
      os << "# reverse sweep\n";
    }
    switch (op.kind) {
    case OpKind::ConstF:
    case OpKind::ConstI:
    case OpKind::ConstB:
      return; // printed inline
    case OpKind::Yield:
      return; // printed by the region's parent (regionBody)
    case OpKind::Return:
      return returnOp(op, d);
    case OpKind::Call:
      return callOp(op, d);
    case OpKind::If:
      return ifOp(op, d);
    case OpKind::For:
      return forOp(op, d);
    case OpKind::While:
      return whileOp(op, d);
    case OpKind::Print:
      return printOp(op, d);
    case OpKind::Assert:
      indent(d);
      os << "assert(" << use(op.operands[0]) << ", \"" << op.str << "\")\n";
      return;
    case OpKind::ParamStore:
      indent(d);
      os << op.paramName() << " = " << use(op.operands[0]) << '\n';
      return;
    case OpKind::ParamAdd:
      indent(d);
      os << op.paramName() << " += " << use(op.operands[0]) << '\n';
      return;
    case OpKind::TapeNew:
    case OpKind::TapeReserve:
    case OpKind::TapePush:
    case OpKind::TapePop:
    case OpKind::TapeFree:
      return tapeOp(op, d);
    default: // arithmetic, math, compares, conversions, tensor ops
      indent(d);
      os << "let " << name(op.result()) << " = " << expr(op) << '\n';
      return;
    }
  }

  //===--- calls -------------------------------------------------------===//

  void returnOp(const ir::Op &op, int d) {
    indent(d);
    os << "return";
    if (op.operands.size() == 1)
      os << ' ' << use(op.operands[0]);
    else if (!op.operands.empty()) {
      os << " (";
      for (size_t i = 0; i < op.operands.size(); ++i)
        os << (i ? ", " : "") << use(op.operands[i]);
      os << ')';
    }
    os << '\n';
  }

  void callOp(const ir::Op &op, int d) {
    indent(d);
    std::string call = identifier(op.callee()) + "(";
    for (size_t i = 0; i < op.operands.size(); ++i)
      call += (i ? ", " : "") + use(op.operands[i]);
    call += ')';
    if (op.results.empty())
      os << call << '\n';
    else if (op.results.size() == 1)
      os << "let " << name(op.result()) << " = " << call << '\n';
    else {
      os << "let (";
      for (size_t i = 0; i < op.results.size(); ++i)
        os << (i ? ", " : "") << name(op.result(i));
      os << ") = " << call << '\n';
    }
  }

  //===--- control flow: results become vars ---------------------------===//

  void ifOp(const ir::Op &op, int d) {
    declareResults(op, d);
    indent(d);
    os << "if " << use(op.operands[0]) << " {\n";
    regionBody(*op.region(0), op, d + 1);
    indent(d);
    os << "} else {\n";
    regionBody(*op.region(1), op, d + 1);
    indent(d);
    os << "}\n";
  }

  void forOp(const ir::Op &op, int d) {
    const ir::Block &body = *op.region(0);
    // Carried values live in vars named after the loop's results.
    for (size_t i = 0; i < op.results.size(); ++i) {
      names[op.carriedArg(i)] = name(op.result(i));
      indent(d);
      os << "var " << name(op.result(i)) << " = " << use(op.init(i)) << '\n';
    }
    indent(d);
    os << "for " << name(op.inductionVar()) << " in " << use(op.lower()) << ".."
       << use(op.upper()) << " {\n";
    regionBody(body, op, d + 1);
    indent(d);
    os << "}\n";
  }

  /// `while true { cond...; if not c { break }; body... }`.
  void whileOp(const ir::Op &op, int d) {
    const ir::Block &cond = *op.region(0), &body = *op.region(1);
    for (size_t i = 0; i < op.results.size(); ++i) {
      names[cond.args[i].get()] = name(op.result(i));
      names[op.carriedArg(i)] = name(op.result(i));
      indent(d);
      os << "var " << name(op.result(i)) << " = " << use(op.init(i)) << '\n';
    }
    indent(d);
    os << "while true {\n";
    for (auto &c : cond.ops) {
      if (c->kind == OpKind::Yield) {
        indent(d + 1);
        os << "if not " << use(c->operands[0]) << " { break }\n";
        continue;
      }
      this->op(*c, d + 1);
    }
    regionBody(body, op, d + 1);
    indent(d);
    os << "}\n";
  }

  //===--- effects -----------------------------------------------------===//

  /// The format string holds '\x01' where an operand goes; literal pieces
  /// print as strings (a lone separating space is dropped).
  void printOp(const ir::Op &op, int d) {
    indent(d);
    os << "print(";
    size_t k = 0;
    std::string lit;
    bool first = true;
    auto flushLit = [&] {
      if (lit.empty() || lit == " ")
        return;
      os << (first ? "" : ", ") << '"' << lit << '"';
      first = false;
    };
    for (char c : op.str) {
      if (c == '\x01') {
        flushLit();
        lit.clear();
        os << (first ? "" : ", ") << use(op.operands[k++]);
        first = false;
      } else if (c != '\n') {
        lit += c;
      }
    }
    flushLit();
    os << ")\n";
  }

  /// Tape operations as pseudo-code calls.
  void tapeOp(const ir::Op &op, int d) {
    indent(d);
    switch (op.kind) {
    case OpKind::TapeNew:
      os << "let " << name(op.result()) << " = new_tape()\n";
      return;
    case OpKind::TapeReserve:
      os << "reserve(" << use(op.operands[0]) << ", " << use(op.operands[1])
         << ")\n";
      return;
    case OpKind::TapePush:
      os << "push(" << use(op.operands[0]) << ", " << use(op.operands[1])
         << ")\n";
      return;
    case OpKind::TapePop:
      os << "let " << name(op.result()) << " = pop(" << use(op.operands[0])
         << ")\n";
      return;
    case OpKind::TapeFree:
      os << "free(" << use(op.operands[0]) << ")\n";
      return;
    default:
      assert(false && "tapeOp called on an op that is not a tape op");
      return;
    }
  }
};

/// Functions reachable from `root` through calls, root first.
void reachable(const ir::Module &m, const ir::Function &root,
               std::vector<const ir::Function *> &out,
               std::set<std::string> &seen) {
  if (!seen.insert(root.name).second)
    return;
  out.push_back(&root);
  std::function<void(const ir::Block &)> walk = [&](const ir::Block &b) {
    for (auto &op : b.ops) {
      if (op->kind == OpKind::Call)
        if (const ir::Function *f = m.lookup(op->callee()))
          if (!f->derivedFrom.empty())
            reachable(m, *f, out, seen);
      for (auto &r : op->regions)
        walk(*r);
    }
  };
  walk(*root.body);
}

} // namespace

bool printAdjoints(const ir::Module &m, const std::string &fnFilter,
                   std::ostream &os) {
  std::vector<const ir::Function *> fns;
  std::set<std::string> seen;
  for (const ir::DerivedInfo &d : m.derived) {
    if (!fnFilter.empty() && d.name != fnFilter)
      continue;
    if (const ir::Function *f = m.lookup(d.name))
      reachable(m, *f, fns, seen);
  }
  if (fns.empty() && !fnFilter.empty())
    if (const ir::Function *f = m.lookup(fnFilter))
      fns.push_back(f); // e.g. --fn neuron.rev.1100
  BPPrinter p(os);
  for (size_t i = 0; i < fns.size(); ++i) {
    if (i)
      os << '\n';
    p.function(*fns[i]);
  }
  return !fns.empty();
}

} // namespace bp::ad
