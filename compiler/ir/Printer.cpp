//===- Printer.cpp - deterministic text form of the IR --------------------===//
//
// Values print as `%name` from their source-variable hint, made unique with
// a `.N` suffix, or as `%N` when they have no hint. Numbering follows program
// order, so the output depends only on the IR.
//
//===----------------------------------------------------------------------===//
#include "ir/IR.h"
#include "support/Format.h"

#include <ostream>
#include <set>
#include <unordered_map>

namespace bp::ir {
namespace {

class Printer {
public:
  explicit Printer(std::ostream &os) : os(os) {}

  void function(const Function &f) {
    names.clear();
    used.clear();
    nextSuffix.clear();
    counter = 0;
    if (!f.derivedFrom.empty())
      os << "# derived: " << f.derivedFrom << '\n';
    os << "func @" << f.name << '(';
    for (size_t i = 0; i < f.args().size(); ++i) {
      Value *a = f.args()[i].get();
      os << (i ? ", " : "") << name(a) << ": " << toString(a->type);
    }
    os << ")";
    if (!f.resultTypes.empty()) {
      os << " -> ";
      types(f.resultTypes);
    }
    os << " {\n";
    block(*f.body, 1);
    os << "}\n";
  }

private:
  std::ostream &os;
  std::unordered_map<const Value *, std::string> names;
  std::set<std::string> used;
  std::unordered_map<std::string, unsigned> nextSuffix;
  unsigned counter = 0;

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

  const std::string &name(const Value *v) {
    auto it = names.find(v);
    if (it != names.end())
      return it->second;
    std::string n;
    if (!v->name.empty()) {
      n = "%" + v->name;
      // Suffixes continue where the last value of this name stopped (a
      // long function with one variable stays linear).
      for (unsigned &k = nextSuffix[v->name]; used.count(n);)
        n = "%" + v->name + "." + std::to_string(++k);
    } else {
      do
        n = "%" + std::to_string(counter++);
      while (used.count(n));
    }
    used.insert(n);
    return names[v] = n;
  }

  void indent(int depth) {
    for (int i = 0; i < depth; ++i)
      os << "  ";
  }

  void operands(const std::vector<Value *> &vs, size_t from = 0) {
    for (size_t i = from; i < vs.size(); ++i)
      os << (i > from ? ", " : "") << name(vs[i]);
  }

  void results(const Op &op) {
    if (op.results.empty())
      return;
    for (size_t i = 0; i < op.results.size(); ++i)
      os << (i ? ", " : "") << name(op.result(i));
    os << " = ";
  }

  void resultTypes(const Op &op) {
    if (op.results.empty())
      return;
    std::vector<const Type *> ts;
    for (auto &r : op.results)
      ts.push_back(r->type);
    os << " -> ";
    types(ts);
  }

  void iterArgs(const Block &region, const Op &op, size_t firstArg,
                size_t firstInit) {
    os << " iter(";
    for (size_t i = firstArg; i < region.args.size(); ++i)
      os << (i > firstArg ? ", " : "") << name(region.args[i].get()) << " = "
         << name(op.operands[firstInit + i - firstArg]);
    os << ")";
  }

  /// The decisions of compiler/transforms, ` {blas, transpose_b}`.
  void decisions(const Op &op) {
    const Op::Decisions &d = op.decided;
    std::vector<std::string> out;
    auto list = [](const char *name, const std::vector<unsigned> &xs) {
      std::string s = std::string(name) + "(";
      for (size_t i = 0; i < xs.size(); ++i)
        s += (i ? ", " : "") + std::to_string(xs[i]);
      return s + ")";
    };
    if (d.inplace)
      out.push_back("inplace");
    if (!d.inplaceInits.empty())
      out.push_back(list("inplace_init", d.inplaceInits));
    if (d.blas)
      out.push_back("blas");
    if (d.transposeA)
      out.push_back("transpose_a");
    if (d.transposeB)
      out.push_back("transpose_b");
    if (d.elided)
      out.push_back("elided");
    if (d.fused)
      out.push_back("fused");
    if (d.unchecked)
      out.push_back("unchecked");
    if (d.view)
      out.push_back("view");
    if (d.intoParam)
      out.push_back("into_param");
    if (d.versioned)
      out.push_back("versioned");
    if (!d.hoistedChecks.empty())
      out.push_back(list("hoisted_checks", d.hoistedChecks));
    if (out.empty())
      return;
    os << " {";
    for (size_t i = 0; i < out.size(); ++i)
      os << (i ? ", " : "") << out[i];
    os << '}';
  }

  void block(const Block &b, int depth) {
    for (auto &op : b.ops)
      this->op(*op, depth);
  }

  void op(const Op &op, int depth) {
    indent(depth);
    results(op);
    os << mnemonic(op.kind);
    switch (op.kind) {
    case OpKind::ConstF:
      os << ' ' << f64Literal(op.fval) << '\n';
      return;
    case OpKind::ConstI:
      os << ' ' << op.ival << '\n';
      return;
    case OpKind::ConstB:
      os << ' ' << (op.ival ? "true" : "false") << '\n';
      return;
    case OpKind::FCmp:
    case OpKind::ICmp:
      os << ' ' << spelling(op.pred());
      break;
    case OpKind::Slice:
    case OpKind::Unslice:
    case OpKind::Splice:
      os << " [" << spelling(op.sliceAxes()) << "]";
      break;
    case OpKind::ReadCsv:
      os << " \"" << op.str << "\"";
      break;
    case OpKind::Im2Col: // the types show the window, not these
    case OpKind::Col2Im:
      os << " stride " << op.convStride() << " pad " << op.convPad();
      break;
    case OpKind::MaxMask: // its type does not show the axis
      if (op.axis() < 0)
        os << " all";
      else
        os << " axis " << op.axis();
      break;
    case OpKind::Call:
    case OpKind::ParamLoad:
    case OpKind::ParamStore:
    case OpKind::ParamAdd:
      os << " @" << op.str;
      break;
    case OpKind::If:
      os << ' ' << name(op.operands[0]);
      resultTypes(op);
      os << " {\n";
      block(*op.region(0), depth + 1);
      indent(depth);
      os << "} else {\n";
      block(*op.region(1), depth + 1);
      indent(depth);
      os << "}\n";
      return;
    case OpKind::For: {
      const Block &body = *op.region(0);
      os << ' ' << name(op.inductionVar()) << " = " << name(op.lower())
         << " to " << name(op.upper());
      if (body.args.size() > 1)
        iterArgs(body, op, 1, 2);
      resultTypes(op);
      os << " {\n";
      block(body, depth + 1);
      indent(depth);
      os << '}';
      decisions(op);
      os << '\n';
      return;
    }
    case OpKind::While: {
      const Block &cond = *op.region(0);
      iterArgs(cond, op, 0, 0);
      resultTypes(op);
      os << " {\n";
      block(cond, depth + 1);
      indent(depth);
      os << "} do {\n";
      const Block &body = *op.region(1);
      indent(depth + 1);
      os << "# (";
      for (size_t i = 0; i < body.args.size(); ++i)
        os << (i ? ", " : "") << name(body.args[i].get());
      os << ")\n";
      block(body, depth + 1);
      indent(depth);
      os << '}';
      decisions(op);
      os << '\n';
      return;
    }
    default:
      break;
    }
    if (!op.operands.empty()) {
      os << ' ';
      operands(op.operands);
    }
    if (op.kind == OpKind::Print || op.kind == OpKind::Assert) {
      os << " \"";
      for (char c : op.str)
        os << (c == '\n'     ? std::string("\\n")
               : c == '\x01' ? std::string("{}")
                             : std::string(1, c));
      os << '"';
    }
    decisions(op);
    if (!op.results.empty()) {
      os << " : ";
      std::vector<const Type *> ts;
      for (auto &r : op.results)
        ts.push_back(r->type);
      types(ts);
    }
    os << '\n';
  }
};

} // namespace

void print(const Function &f, std::ostream &os) { Printer(os).function(f); }

void print(const Module &m, std::ostream &os) {
  for (auto &p : m.params) {
    os << "param @" << p.name << " : " << toString(p.type) << " = " << p.init
       << '(';
    for (size_t i = 0; i < p.initArgs.size() && i < 8; ++i)
      os << (i ? ", " : "") << f64Literal(p.initArgs[i]);
    if (p.initArgs.size() > 8)
      os << ", ...";
    os << ")\n";
  }
  bool first = m.params.empty();
  for (auto &f : m.functions) {
    if (!first)
      os << '\n';
    first = false;
    print(*f, os);
  }
}

} // namespace bp::ir
