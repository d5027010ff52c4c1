//===- ASTPrinter.cpp - `bpc emit ast` ------------------------------------===//
//
// One node per line, two spaces of indentation per level, each line the node
// kind, its key fields and `<line:col>` of its first token:
//
//   Module
//     Fn neuron <2:1> (w: f64, x: f64[N]) -> f64
//       Let z <3:3>
//         Binary + <3:11>
//           Name w <3:11>
//           Number int 1 <3:15>
//
// Blocks inside statements appear as `Then`, `Else` and `Body` lines; a slice
// index prints as `Slice lo:hi`, `Slice :hi`, `Slice lo:` or `Slice :` with
// its bounds as children. Nesting deeper than 100 levels keeps the
// indentation of level 100 and prefixes the line with `[level]`, so that a
// long `1 + 1 + ...` chain does not print quadratically many spaces.
//
//===----------------------------------------------------------------------===//
#include "parse/Parser.h"

#include <algorithm>
#include <ostream>
#include <sstream>

namespace bp {
namespace {

using namespace ast;

std::string typeString(const TypeExpr &t) {
  switch (t.kind) {
  case TypeExpr::F64:
    return "f64";
  case TypeExpr::Int:
    return "int";
  case TypeExpr::Bool:
    return "bool";
  case TypeExpr::Tensor: {
    std::string s = t.intElems ? "int[" : "f64[";
    for (size_t i = 0; i < t.dims.size(); ++i) {
      if (i)
        s += ", ";
      s += t.dims[i].name.empty() ? std::to_string(t.dims[i].value)
                                  : t.dims[i].name;
    }
    return s + "]";
  }
  case TypeExpr::Tuple: {
    std::string s = "(";
    for (size_t i = 0; i < t.elems.size(); ++i)
      s += (i ? ", " : "") + typeString(t.elems[i]);
    return s + ")";
  }
  case TypeExpr::Fn: {
    std::string s = "fn(";
    for (size_t i = 0; i < t.elems.size(); ++i)
      s += (i ? ", " : "") + typeString(t.elems[i]);
    s += ")";
    if (!t.result.empty())
      s += " -> " + typeString(t.result[0]);
    return s;
  }
  }
  return "?";
}

std::string quoted(const std::string &s) {
  static const char hex[] = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += char(c);
    }
  }
  return out + "\"";
}

const char *unarySpelling(UnaryOp op) {
  switch (op) {
  case UnaryOp::Neg:
    return "-";
  case UnaryOp::Plus:
    return "+";
  case UnaryOp::Not:
    return "not";
  }
  return "?";
}

class Printer {
public:
  Printer(std::ostream &os, const SourceFile *src) : os(os), src(src) {}

  void module(const Module &m);

private:
  /// Starts a line at the current level; the caller writes the rest.
  std::ostream &line() {
    unsigned shown = std::min(level, 100u);
    os << std::string(2 * shown, ' ');
    if (level > shown)
      os << '[' << level << "] ";
    return os;
  }
  /// `<line:col>`; a line of an imported file (pipeline/Imports.h) as
  /// `<path:line:col>` in that file.
  struct At {
    Loc loc;
    std::string path;
  };
  At at(Loc l) const {
    if (!src || src->origins.empty())
      return At{l, ""};
    LineOrigin o = src->origin(l.line);
    return At{{o.line, l.col}, o.path == src->path ? "" : o.path};
  }
  friend std::ostream &operator<<(std::ostream &os, const At &a) {
    os << '<';
    if (!a.path.empty())
      os << a.path << ':';
    return os << a.loc.line << ':' << a.loc.col << '>';
  }

  void item(const Item &i);
  void block(const char *label, const Block &b);
  void stmt(const Stmt *s);
  void expr(const Expr *e);
  void exprs(const std::vector<ExprPtr> &es) {
    for (const ExprPtr &e : es)
      expr(e.get());
  }

  std::ostream &os;
  const SourceFile *src;
  unsigned level = 0;
};

void Printer::module(const Module &m) {
  line() << "Module\n";
  ++level;
  for (const Import &i : m.imports)
    line() << "Import \"" << i.path << "\" " << at(i.loc) << '\n';
  for (const ItemPtr &i : m.items)
    if (i)
      item(*i);
  --level;
}

void Printer::item(const Item &i) {
  switch (i.kind) {
  case ItemKind::Const:
    line() << "Const " << i.name << ' ' << at(i.loc) << '\n';
    ++level;
    expr(static_cast<const ConstItem &>(i).value.get());
    --level;
    return;
  case ItemKind::Param: {
    auto &p = static_cast<const ParamItem &>(i);
    line() << "Param " << p.name << ' ' << at(p.loc) << " : "
           << typeString(p.type) << '\n';
    ++level;
    if (p.init)
      expr(p.init.get());
    --level;
    return;
  }
  case ItemKind::Fn: {
    auto &f = static_cast<const FnItem &>(i);
    if (f.rule == RuleKind::None)
      line() << "Fn " << f.name;
    else
      line() << (f.rule == RuleKind::Adjoint ? "Adjoint " : "Tangent ")
             << f.ruleOf;
    os << ' ' << at(f.loc) << " (";
    for (size_t k = 0; k < f.params.size(); ++k)
      os << (k ? ", " : "") << f.params[k].name.name << ": "
         << typeString(f.params[k].type);
    os << ')';
    if (f.result)
      os << " -> " << typeString(*f.result);
    os << '\n';
    ++level;
    for (const StmtPtr &s : f.body.stmts)
      stmt(s.get());
    --level;
    return;
  }
  case ItemKind::DerivedFn:
    line() << "DerivedFn " << i.name << ' ' << at(i.loc) << '\n';
    ++level;
    expr(static_cast<const DerivedFnItem &>(i).value.get());
    --level;
    return;
  case ItemKind::Train:
    line() << "Train " << at(i.loc) << '\n';
    ++level;
    for (const TrainField &f : static_cast<const TrainItem &>(i).fields) {
      line() << "Field " << f.key.name << ' ' << at(f.key.loc) << '\n';
      ++level;
      expr(f.value.get());
      --level;
    }
    --level;
    return;
  }
}

void Printer::block(const char *label, const Block &b) {
  line() << label << ' ' << at(b.loc) << '\n';
  ++level;
  for (const StmtPtr &s : b.stmts)
    stmt(s.get());
  --level;
}

void Printer::stmt(const Stmt *s) {
  if (!s) {
    line() << "<null>\n";
    return;
  }
  switch (s->kind) {
  case StmtKind::Let: {
    auto *l = static_cast<const LetStmt *>(s);
    line() << (l->isVar ? "Var " : "Let ");
    if (l->isDestructure) {
      os << '(';
      for (size_t k = 0; k < l->names.size(); ++k)
        os << (k ? ", " : "") << l->names[k].name;
      os << ')';
    } else if (!l->names.empty()) {
      os << l->names[0].name;
    }
    os << ' ' << at(l->loc);
    if (l->type)
      os << " : " << typeString(*l->type);
    os << '\n';
    ++level;
    expr(l->init.get());
    --level;
    return;
  }
  case StmtKind::Assign: {
    auto *a = static_cast<const AssignStmt *>(s);
    line() << "Assign " << spelling(a->op) << ' ' << at(a->loc) << '\n';
    ++level;
    expr(a->target.get());
    expr(a->value.get());
    --level;
    return;
  }
  case StmtKind::If: {
    auto *i = static_cast<const IfStmt *>(s);
    line() << "If " << at(i->loc) << '\n';
    ++level;
    expr(i->cond.get());
    block("Then", i->thenBlock);
    if (i->elseBlock)
      block("Else", *i->elseBlock);
    --level;
    return;
  }
  case StmtKind::For: {
    auto *f = static_cast<const ForStmt *>(s);
    line() << "For " << f->var.name << ' ' << at(f->loc) << '\n';
    ++level;
    expr(f->lo.get());
    expr(f->hi.get());
    block("Body", f->body);
    --level;
    return;
  }
  case StmtKind::While: {
    auto *w = static_cast<const WhileStmt *>(s);
    line() << "While " << at(w->loc) << '\n';
    ++level;
    expr(w->cond.get());
    block("Body", w->body);
    --level;
    return;
  }
  case StmtKind::Return: {
    auto *r = static_cast<const ReturnStmt *>(s);
    line() << "Return " << at(r->loc) << '\n';
    ++level;
    if (r->value)
      expr(r->value.get());
    --level;
    return;
  }
  case StmtKind::Expr:
    line() << "ExprStmt " << at(s->loc) << '\n';
    ++level;
    expr(static_cast<const ExprStmt *>(s)->expr.get());
    --level;
    return;
  }
}

void Printer::expr(const Expr *e) {
  if (!e) {
    line() << "<null>\n";
    return;
  }
  switch (e->kind) {
  case ExprKind::Number: {
    auto *n = static_cast<const NumberExpr *>(e);
    line() << "Number " << (n->isInt ? "int " : "f64 ") << n->text << ' '
           << at(n->loc) << '\n';
    return;
  }
  case ExprKind::Bool:
    line() << "Bool "
           << (static_cast<const BoolExpr *>(e)->value ? "true" : "false")
           << ' ' << at(e->loc) << '\n';
    return;
  case ExprKind::String:
    line() << "String " << quoted(static_cast<const StringExpr *>(e)->value)
           << ' ' << at(e->loc) << '\n';
    return;
  case ExprKind::Name:
    line() << "Name " << static_cast<const NameExpr *>(e)->name << ' '
           << at(e->loc) << '\n';
    return;
  case ExprKind::Unary: {
    auto *u = static_cast<const UnaryExpr *>(e);
    line() << "Unary " << unarySpelling(u->op) << ' ' << at(u->loc) << '\n';
    ++level;
    expr(u->operand.get());
    --level;
    return;
  }
  case ExprKind::Binary: {
    auto *b = static_cast<const BinaryExpr *>(e);
    line() << "Binary " << spelling(b->op) << ' ' << at(b->loc) << '\n';
    ++level;
    expr(b->lhs.get());
    expr(b->rhs.get());
    --level;
    return;
  }
  case ExprKind::Call: {
    auto *c = static_cast<const CallExpr *>(e);
    line() << "Call " << at(c->loc) << '\n';
    ++level;
    expr(c->callee.get());
    exprs(c->args);
    --level;
    return;
  }
  case ExprKind::Index: {
    auto *x = static_cast<const IndexExpr *>(e);
    line() << "Index " << at(x->loc) << '\n';
    ++level;
    expr(x->base.get());
    for (const IndexArg &a : x->indices) {
      if (!a.isSlice) {
        expr(a.index.get());
        continue;
      }
      line() << "Slice " << (a.lo ? "lo" : "") << ':' << (a.hi ? "hi" : "")
             << ' ' << at(a.loc) << '\n';
      ++level;
      if (a.lo)
        expr(a.lo.get());
      if (a.hi)
        expr(a.hi.get());
      --level;
    }
    --level;
    return;
  }
  case ExprKind::Tuple:
    line() << "Tuple " << at(e->loc) << '\n';
    ++level;
    exprs(static_cast<const TupleExpr *>(e)->elems);
    --level;
    return;
  case ExprKind::TensorLit:
    line() << "Tensor " << at(e->loc) << '\n';
    ++level;
    exprs(static_cast<const TensorLitExpr *>(e)->elems);
    --level;
    return;
  case ExprKind::IfExpr: {
    auto *i = static_cast<const IfExpr *>(e);
    line() << "IfExpr " << at(i->loc) << '\n';
    ++level;
    expr(i->cond.get());
    expr(i->thenExpr.get());
    expr(i->elseExpr.get());
    --level;
    return;
  }
  }
}

} // namespace

void printAST(const ast::Module &module, std::ostream &os,
              const SourceFile *source) {
  Printer(os, source).module(module);
}

} // namespace bp
