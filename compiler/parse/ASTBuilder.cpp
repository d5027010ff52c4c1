//===- ASTBuilder.cpp - ANTLR parse tree to AST ---------------------------===//
//
// One function per grammar rule. Left-recursive chains (`a + b + c`,
// `f(x)(y)`, `x[i][j]`) are walked iteratively; otherwise recursion follows
// bracket nesting, which the token filter in Parser.cpp bounds.
//
//===----------------------------------------------------------------------===//
#include "parse/ASTBuilder.h"

#include "BPLexer.h"

#include <charconv>
#include <cstdlib>
#include <map>
#include <optional>

namespace bp::parse_detail {
namespace {

using antlr4::Token;
using bpgen::BPLexer;
using bpgen::BPParser;

/// Bounds the depth of the AST (and so every recursive walk over it, here and
/// in later stages): a left-associative chain `1 + 1 + ... + 1` counts one
/// level per operator, and so does each `else if`. Deeper input is the error
/// "expression too long". The parser itself never recurses per chain element.
constexpr unsigned maxASTDepth = 4096;

class ASTBuilder {
public:
  ASTBuilder(const std::string &src, DiagEngine &diags)
      : src(src), diags(diags) {}

  std::unique_ptr<ast::Module> build(BPParser::ProgramContext *ctx);

private:
  ast::ItemPtr item(BPParser::ItemContext *ctx);
  std::optional<ast::TypeExpr> type(BPParser::TypeContext *ctx);
  ast::Block block(BPParser::BlockContext *ctx);
  ast::StmtPtr stmt(BPParser::StmtContext *ctx);
  ast::StmtPtr ifStmt(BPParser::IfStmtContext *ctx);
  ast::ExprPtr expr(BPParser::ExprContext *ctx);
  ast::ExprPtr prefix(BPParser::ExprContext *ctx);
  ast::ExprPtr postfix(BPParser::ExprContext *ctx, ast::ExprPtr base);
  ast::ExprPtr primary(BPParser::PrimaryContext *ctx);
  ast::ExprPtr ifExpr(BPParser::IfExprContext *ctx);
  ast::ExprPtr number(Token *tok, bool isInt);
  std::string unescape(const std::string &quoted);
  std::vector<ast::ExprPtr> exprs(const std::vector<BPParser::ExprContext *> &v,
                                  size_t from = 0);

  /// Adds `n` levels of AST depth; false (after reporting once) when that
  /// passes maxASTDepth. Pair with leave(n).
  bool enter(unsigned n, Loc loc, const char *what);
  void leave(unsigned n) { depth -= n; }

  ast::Binding binding(Token *t) {
    if (!t)
      return {};
    return {locOf(t), tokenText(src, t)};
  }
  Loc start(antlr4::ParserRuleContext *ctx) {
    return ctx ? locOf(ctx->getStart()) : Loc{};
  }

  const std::string &src;
  DiagEngine &diags;
  unsigned depth = 0;
  bool reportedDepth = false;
};

bool ASTBuilder::enter(unsigned n, Loc loc, const char *what) {
  depth += n;
  if (depth <= maxASTDepth)
    return true;
  if (!reportedDepth)
    diags.error(loc, std::string(what) + " (more than " +
                         std::to_string(maxASTDepth) + " nested levels)");
  reportedDepth = true;
  return false;
}

std::unique_ptr<ast::Module> ASTBuilder::build(BPParser::ProgramContext *ctx) {
  auto module = std::make_unique<ast::Module>();
  if (!ctx)
    return module;
  for (auto *i : ctx->item()) {
    if (auto *im = dynamic_cast<BPParser::ImportItemContext *>(i)) {
      Loc loc = start(i);
      if (!module->items.empty()) {
        diags.error(loc, "'import' must come before the other items of the "
                         "file (the first is at line " +
                             std::to_string(module->items[0]->loc.line) + ")");
        continue;
      }
      Token *path = im->path;
      module->imports.push_back(
          {loc, locOf(path), unescape(tokenText(src, path))});
      continue;
    }
    if (ast::ItemPtr it = item(i))
      module->items.push_back(std::move(it));
  }
  return module;
}

ast::ItemPtr ASTBuilder::item(BPParser::ItemContext *ctx) {
  Loc loc = start(ctx);
  auto named = [&](ast::Item &it, Token *name) {
    ast::Binding b = binding(name);
    it.name = b.name;
    it.nameLoc = b.loc;
  };
  if (auto *c = dynamic_cast<BPParser::ConstItemContext *>(ctx)) {
    auto it = std::make_unique<ast::ConstItem>(loc);
    named(*it, c->name);
    it->value = expr(c->expr());
    return it;
  }
  if (auto *c = dynamic_cast<BPParser::ParamItemContext *>(ctx)) {
    auto it = std::make_unique<ast::ParamItem>(loc);
    named(*it, c->name);
    if (auto t = type(c->type()))
      it->type = std::move(*t);
    if (c->expr())
      it->init = expr(c->expr());
    return it;
  }
  auto *rule = dynamic_cast<BPParser::RuleItemContext *>(ctx);
  auto *c = dynamic_cast<BPParser::FnItemContext *>(ctx);
  if (c && !c->fnSignature()) {
    auto it = std::make_unique<ast::DerivedFnItem>(loc);
    named(*it, c->name);
    it->value = expr(c->expr());
    return it;
  }
  if (c || rule) {
    auto *sig = c ? c->fnSignature() : rule->fnSignature();
    auto it = std::make_unique<ast::FnItem>(loc);
    named(*it, c ? c->name : rule->name);
    if (rule) {
      bool adjoint = rule->kw->getType() == BPParser::ADJOINT;
      it->rule = adjoint ? ast::RuleKind::Adjoint : ast::RuleKind::Tangent;
      it->ruleOf = it->name;
      it->name += adjoint ? ".adjoint" : ".tangent";
    }
    for (auto *p : sig->fnParam()) {
      ast::FnParam param;
      param.name = binding(p->ID() ? p->ID()->getSymbol() : nullptr);
      if (auto t = type(p->type()))
        param.type = std::move(*t);
      it->params.push_back(std::move(param));
    }
    if (sig->type())
      it->result = type(sig->type());
    it->body = block(c ? c->block() : rule->block());
    return it;
  }
  if (auto *c = dynamic_cast<BPParser::TrainItemContext *>(ctx)) {
    auto it = std::make_unique<ast::TrainItem>(loc);
    for (auto *f : c->trainField()) {
      ast::TrainField field;
      field.key = binding(f->ID() ? f->ID()->getSymbol() : nullptr);
      field.value = expr(f->expr());
      it->fields.push_back(std::move(field));
    }
    return it;
  }
  return nullptr;
}

std::optional<ast::TypeExpr> ASTBuilder::type(BPParser::TypeContext *ctx) {
  ast::TypeExpr t;
  t.loc = start(ctx);
  if (auto *c = dynamic_cast<BPParser::TupleTypeContext *>(ctx)) {
    t.kind = ast::TypeExpr::Tuple;
    for (auto *e : c->type())
      if (auto et = type(e))
        t.elems.push_back(std::move(*et));
    return t;
  }
  if (auto *c = dynamic_cast<BPParser::FnTypeContext *>(ctx)) {
    t.kind = ast::TypeExpr::Fn;
    for (auto *e : c->type())
      if (e != c->result)
        if (auto et = type(e))
          t.elems.push_back(std::move(*et));
    if (c->result)
      if (auto rt = type(c->result))
        t.result.push_back(std::move(*rt));
    return t;
  }
  auto *c = dynamic_cast<BPParser::NamedTypeContext *>(ctx);
  if (!c || !c->ID())
    return std::nullopt;
  std::string name = tokenText(src, c->ID()->getSymbol());
  if (name == "f64") {
    t.kind = c->dim().empty() ? ast::TypeExpr::F64 : ast::TypeExpr::Tensor;
  } else if (name == "int" && !c->dim().empty()) {
    t.kind = ast::TypeExpr::Tensor; // section 13
    t.intElems = true;
  } else if (name == "int" || name == "bool") {
    t.kind = name == "int" ? ast::TypeExpr::Int : ast::TypeExpr::Bool;
    if (!c->dim().empty())
      diags.error(t.loc, "tensor element type must be 'f64' or 'int', not '" +
                             name + "'");
  } else {
    // Names other languages use, then spelling slips.
    static const std::map<std::string, std::string> synonyms = {
        {"float", "f64"},   {"double", "f64"},  {"f32", "f64"},
        {"real", "f64"},    {"i64", "int"},     {"i32", "int"},
        {"integer", "int"}, {"boolean", "bool"}};
    auto syn = synonyms.find(name);
    std::string hint = syn != synonyms.end()
                           ? "; did you mean '" + syn->second + "'?"
                           : didYouMean(name, {"f64", "int", "bool"});
    diags.error(t.loc,
                "unknown type '" + name + "'" + hint +
                    " (expected f64, int, bool, f64[d, ...] or int[d, ...])");
    return std::nullopt;
  }
  for (auto *d : c->dim()) {
    ast::Dim dim;
    dim.loc = start(d);
    if (d->INT()) {
      std::string text = tokenText(src, d->INT()->getSymbol());
      std::from_chars(text.data(), text.data() + text.size(), dim.value);
    } else if (d->ID()) {
      dim.name = tokenText(src, d->ID()->getSymbol());
    }
    t.dims.push_back(std::move(dim));
  }
  return t;
}

ast::Block ASTBuilder::block(BPParser::BlockContext *ctx) {
  ast::Block b;
  if (!ctx)
    return b;
  b.loc = locOf(ctx->getStart());
  b.endLoc = locOf(ctx->getStop());
  for (auto *s : ctx->stmt())
    if (ast::StmtPtr st = stmt(s))
      b.stmts.push_back(std::move(st));
  return b;
}

ast::StmtPtr ASTBuilder::stmt(BPParser::StmtContext *ctx) {
  Loc loc = start(ctx);
  if (auto *c = dynamic_cast<BPParser::LetStmtContext *>(ctx)) {
    auto s = std::make_unique<ast::LetStmt>(loc);
    s->isVar = c->kw && c->kw->getType() == BPLexer::VAR;
    s->isDestructure = c->LPAREN() != nullptr;
    for (auto *id : c->ID())
      s->names.push_back(binding(id->getSymbol()));
    if (c->type())
      s->type = type(c->type());
    s->init = expr(c->expr());
    return s;
  }
  if (auto *c = dynamic_cast<BPParser::IfStmtContext *>(ctx))
    return ifStmt(c);
  if (auto *c = dynamic_cast<BPParser::ForStmtContext *>(ctx)) {
    auto s = std::make_unique<ast::ForStmt>(loc);
    s->var = binding(c->ID() ? c->ID()->getSymbol() : nullptr);
    auto e = c->expr();
    s->lo = e.size() > 0 ? expr(e[0]) : nullptr;
    s->hi = e.size() > 1 ? expr(e[1]) : nullptr;
    s->body = block(c->block());
    return s;
  }
  if (auto *c = dynamic_cast<BPParser::WhileStmtContext *>(ctx)) {
    auto s = std::make_unique<ast::WhileStmt>(loc);
    s->cond = expr(c->expr());
    s->body = block(c->block());
    return s;
  }
  if (auto *c = dynamic_cast<BPParser::ReturnStmtContext *>(ctx)) {
    auto s = std::make_unique<ast::ReturnStmt>(loc);
    if (c->expr())
      s->value = expr(c->expr());
    return s;
  }
  if (auto *c = dynamic_cast<BPParser::ExprStmtContext *>(ctx)) {
    auto e = c->expr();
    if (!c->op)
      return std::make_unique<ast::ExprStmt>(loc,
                                             e.empty() ? nullptr : expr(e[0]));
    auto s = std::make_unique<ast::AssignStmt>(loc);
    switch (c->op->getType()) {
    case BPLexer::ADD_ASSIGN:
      s->op = ast::AssignOp::Add;
      break;
    case BPLexer::SUB_ASSIGN:
      s->op = ast::AssignOp::Sub;
      break;
    case BPLexer::MUL_ASSIGN:
      s->op = ast::AssignOp::Mul;
      break;
    case BPLexer::DIV_ASSIGN:
      s->op = ast::AssignOp::Div;
      break;
    default:
      s->op = ast::AssignOp::Set;
      break;
    }
    s->target = e.size() > 0 ? expr(e[0]) : nullptr;
    s->value = e.size() > 1 ? expr(e[1]) : nullptr;
    if (s->target && s->target->kind != ast::ExprKind::Name &&
        s->target->kind != ast::ExprKind::Index)
      diags.error(s->target->loc,
                  "expression is not assignable: only a variable, a param or "
                  "an element (v[i]) can be assigned");
    return s;
  }
  return nullptr;
}

/// `if c0 {b0} else if c1 {b1} ... else {bn}`: built from the last branch
/// backwards, each `else if` becoming an else block with one IfStmt.
ast::StmtPtr ASTBuilder::ifStmt(BPParser::IfStmtContext *ctx) {
  struct Branch {
    Token *ifTok;
    BPParser::ExprContext *cond;
    BPParser::BlockContext *body;
  };
  std::vector<Branch> branches{{ctx->getStart(), ctx->expr(), ctx->block()}};
  BPParser::BlockContext *last = nullptr; // the final `else { }`
  for (auto *e : ctx->elseClause()) {
    if (last) {
      diags.error(start(e), "'else' after the final 'else' branch");
      break;
    }
    if (e->IF())
      branches.push_back({e->IF()->getSymbol(), e->expr(), e->block()});
    else
      last = e->block();
  }
  unsigned n = unsigned(branches.size());
  if (!enter(n, start(ctx), "too many 'else if' branches")) {
    leave(n);
    return nullptr;
  }
  std::optional<ast::Block> elseBlock;
  if (last)
    elseBlock = block(last);
  BPParser::BlockContext *lastBody = last ? last : branches.back().body;
  Loc endLoc = lastBody ? locOf(lastBody->getStop()) : Loc{};
  std::unique_ptr<ast::IfStmt> s;
  for (size_t i = n; i-- > 0;) {
    s = std::make_unique<ast::IfStmt>(locOf(branches[i].ifTok));
    s->cond = expr(branches[i].cond);
    s->thenBlock = block(branches[i].body);
    s->elseBlock = std::move(elseBlock);
    if (i > 0) {
      elseBlock.emplace();
      elseBlock->loc = s->loc;
      elseBlock->endLoc = endLoc;
      elseBlock->stmts.push_back(std::move(s));
    }
  }
  leave(n);
  return s;
}

std::vector<ast::ExprPtr>
ASTBuilder::exprs(const std::vector<BPParser::ExprContext *> &v, size_t from) {
  std::vector<ast::ExprPtr> out;
  for (size_t i = from; i < v.size(); ++i)
    out.push_back(expr(v[i]));
  return out;
}

/// Walks down the left spine of left-recursive alternatives, builds the
/// innermost operand, then wraps it outwards: no recursion per chain link.
ast::ExprPtr ASTBuilder::expr(BPParser::ExprContext *ctx) {
  if (!ctx)
    return nullptr;
  std::vector<BPParser::ExprContext *> spine;
  BPParser::ExprContext *cur = ctx;
  for (;;) {
    BPParser::ExprContext *next = nullptr;
    if (auto *c = dynamic_cast<BPParser::BinaryExprContext *>(cur))
      next = c->expr().empty() ? nullptr : c->expr(0);
    else if (auto *c = dynamic_cast<BPParser::CallExprContext *>(cur))
      next = c->expr().empty() ? nullptr : c->expr(0);
    else if (auto *c = dynamic_cast<BPParser::IndexExprContext *>(cur))
      next = c->expr();
    else
      break;
    spine.push_back(cur);
    if (!next)
      return nullptr;
    cur = next;
  }
  unsigned n = unsigned(spine.size()) + 1;
  if (!enter(n, start(ctx), "expression too long")) {
    leave(n);
    return nullptr;
  }
  ast::ExprPtr e = prefix(cur);
  for (size_t i = spine.size(); i-- > 0;)
    e = postfix(spine[i], std::move(e));
  leave(n);
  return e;
}

ast::ExprPtr ASTBuilder::prefix(BPParser::ExprContext *ctx) {
  if (auto *c = dynamic_cast<BPParser::UnaryExprContext *>(ctx)) {
    ast::UnaryOp op = ast::UnaryOp::Neg;
    if (c->op && c->op->getType() == BPLexer::PLUS)
      op = ast::UnaryOp::Plus;
    else if (c->op && c->op->getType() == BPLexer::NOT)
      op = ast::UnaryOp::Not;
    return std::make_unique<ast::UnaryExpr>(start(ctx), op, expr(c->expr()));
  }
  if (auto *c = dynamic_cast<BPParser::PrimaryExprContext *>(ctx))
    return primary(c->primary());
  return nullptr;
}

ast::BinaryOp binaryOp(size_t tokenType) {
  switch (tokenType) {
  case BPLexer::PLUS:
    return ast::BinaryOp::Add;
  case BPLexer::MINUS:
    return ast::BinaryOp::Sub;
  case BPLexer::STAR:
    return ast::BinaryOp::Mul;
  case BPLexer::SLASH:
    return ast::BinaryOp::Div;
  case BPLexer::PERCENT:
    return ast::BinaryOp::Mod;
  case BPLexer::AT:
    return ast::BinaryOp::MatMul;
  case BPLexer::CARET:
    return ast::BinaryOp::Pow;
  case BPLexer::EQ:
    return ast::BinaryOp::Eq;
  case BPLexer::NE:
    return ast::BinaryOp::Ne;
  case BPLexer::LT:
    return ast::BinaryOp::Lt;
  case BPLexer::LE:
    return ast::BinaryOp::Le;
  case BPLexer::GT:
    return ast::BinaryOp::Gt;
  case BPLexer::GE:
    return ast::BinaryOp::Ge;
  case BPLexer::AND:
    return ast::BinaryOp::And;
  default:
    return ast::BinaryOp::Or;
  }
}

/// One link of a left spine, applied to the already built `base`.
ast::ExprPtr ASTBuilder::postfix(BPParser::ExprContext *ctx,
                                 ast::ExprPtr base) {
  Loc loc = start(ctx);
  if (auto *c = dynamic_cast<BPParser::BinaryExprContext *>(ctx)) {
    auto operands = c->expr();
    ast::ExprPtr rhs = operands.size() > 1 ? expr(operands[1]) : nullptr;
    auto e = std::make_unique<ast::BinaryExpr>(
        loc, binaryOp(c->op ? c->op->getType() : 0), std::move(base),
        std::move(rhs));
    e->opLoc = locOf(c->op);
    return e;
  }
  if (auto *c = dynamic_cast<BPParser::CallExprContext *>(ctx)) {
    auto e = std::make_unique<ast::CallExpr>(loc, std::move(base));
    e->args = exprs(c->expr(), 1);
    return e;
  }
  auto *c = static_cast<BPParser::IndexExprContext *>(ctx);
  auto e = std::make_unique<ast::IndexExpr>(loc, std::move(base));
  for (auto *a : c->indexArg()) {
    ast::IndexArg arg;
    arg.loc = start(a);
    arg.isSlice = a->colon != nullptr;
    if (arg.isSlice) {
      arg.lo = expr(a->lo);
      arg.hi = expr(a->hi);
    } else {
      arg.index = expr(a->lo);
    }
    e->indices.push_back(std::move(arg));
  }
  return e;
}

ast::ExprPtr ASTBuilder::primary(BPParser::PrimaryContext *ctx) {
  if (!ctx)
    return nullptr;
  Loc loc = start(ctx);
  if (auto *c = dynamic_cast<BPParser::IntLitContext *>(ctx))
    return number(c->getStart(), true);
  if (auto *c = dynamic_cast<BPParser::FloatLitContext *>(ctx))
    return number(c->getStart(), false);
  if (auto *c = dynamic_cast<BPParser::StringLitContext *>(ctx))
    return std::make_unique<ast::StringExpr>(
        loc, unescape(tokenText(src, c->getStart())));
  if (dynamic_cast<BPParser::BoolLitContext *>(ctx))
    return std::make_unique<ast::BoolExpr>(loc, ctx->getStart()->getType() ==
                                                    BPLexer::TRUE);
  if (dynamic_cast<BPParser::NameRefContext *>(ctx))
    return std::make_unique<ast::NameExpr>(loc,
                                           tokenText(src, ctx->getStart()));
  if (auto *c = dynamic_cast<BPParser::ParenExprContext *>(ctx)) {
    auto es = c->expr();
    if (es.size() == 1 && !c->trailing)
      return expr(es[0]);
    if (es.size() == 1) {
      diags.error(loc, "a tuple needs at least two elements");
      return nullptr;
    }
    auto e = std::make_unique<ast::TupleExpr>(loc);
    e->elems = exprs(es);
    return e;
  }
  if (auto *c = dynamic_cast<BPParser::TensorLitContext *>(ctx)) {
    auto e = std::make_unique<ast::TensorLitExpr>(loc);
    e->elems = exprs(c->expr());
    return e;
  }
  if (auto *c = dynamic_cast<BPParser::IfExprContext *>(ctx))
    return ifExpr(c);
  return nullptr;
}

/// `if c0 { e0 } else if c1 { e1 } else { e2 }` as nested IfExprs.
ast::ExprPtr ASTBuilder::ifExpr(BPParser::IfExprContext *ctx) {
  struct Branch {
    Token *ifTok;
    BPParser::ExprContext *cond, *value;
  };
  auto first = ctx->expr();
  if (first.size() != 2)
    return nullptr;
  std::vector<Branch> branches{{ctx->getStart(), first[0], first[1]}};
  BPParser::ExprContext *last = nullptr; // the final `else { e }`
  for (auto *e : ctx->elseExprClause()) {
    auto es = e->expr();
    if (last) {
      diags.error(start(e), "'else' after the final 'else' branch");
      return nullptr;
    }
    if (e->IF() && es.size() == 2)
      branches.push_back({e->IF()->getSymbol(), es[0], es[1]});
    else if (es.size() == 1)
      last = es[0];
  }
  if (!last) {
    diags.error(locOf(branches.back().ifTok),
                "if-expression requires an 'else' branch");
    return nullptr;
  }
  unsigned n = unsigned(branches.size());
  if (!enter(n, start(ctx), "too many 'else if' branches")) {
    leave(n);
    return nullptr;
  }
  ast::ExprPtr e = expr(last);
  for (size_t i = n; i-- > 0;) {
    auto ie = std::make_unique<ast::IfExpr>(locOf(branches[i].ifTok));
    ie->cond = expr(branches[i].cond);
    ie->thenExpr = expr(branches[i].value);
    ie->elseExpr = std::move(e);
    e = std::move(ie);
  }
  leave(n);
  return e;
}

ast::ExprPtr ASTBuilder::number(Token *tok, bool isInt) {
  auto e = std::make_unique<ast::NumberExpr>(locOf(tok));
  e->isInt = isInt;
  e->text = tokenText(src, tok);
  // Range errors were reported by the token filter.
  if (isInt)
    std::from_chars(e->text.data(), e->text.data() + e->text.size(),
                    e->intValue);
  else
    e->floatValue = std::strtod(e->text.c_str(), nullptr);
  return e;
}

std::string ASTBuilder::unescape(const std::string &quoted) {
  std::string out;
  size_t end = quoted.size();
  if (end >= 2 && quoted.back() == '"')
    --end;
  for (size_t i = 1; i < end; ++i) {
    char c = quoted[i];
    if (c == '\\' && i + 1 < end) {
      char n = quoted[++i];
      c = n == 'n' ? '\n' : n == 't' ? '\t' : n;
    }
    out += c;
  }
  return out;
}

} // namespace

std::unique_ptr<ast::Module> buildAST(BPParser::ProgramContext *tree,
                                      const std::string &src,
                                      DiagEngine &diags) {
  return ASTBuilder(src, diags).build(tree);
}

} // namespace bp::parse_detail
