//===- AST.cpp - small helpers for the BP AST -----------------------------===//
#include "parse/AST.h"

namespace bp::ast {

const char *spelling(BinaryOp op) {
  switch (op) {
  case BinaryOp::Add:
    return "+";
  case BinaryOp::Sub:
    return "-";
  case BinaryOp::Mul:
    return "*";
  case BinaryOp::Div:
    return "/";
  case BinaryOp::Mod:
    return "%";
  case BinaryOp::MatMul:
    return "@";
  case BinaryOp::Pow:
    return "^";
  case BinaryOp::Eq:
    return "==";
  case BinaryOp::Ne:
    return "!=";
  case BinaryOp::Lt:
    return "<";
  case BinaryOp::Le:
    return "<=";
  case BinaryOp::Gt:
    return ">";
  case BinaryOp::Ge:
    return ">=";
  case BinaryOp::And:
    return "and";
  case BinaryOp::Or:
    return "or";
  }
  return "?";
}

const char *spelling(AssignOp op) {
  switch (op) {
  case AssignOp::Set:
    return "=";
  case AssignOp::Add:
    return "+=";
  case AssignOp::Sub:
    return "-=";
  case AssignOp::Mul:
    return "*=";
  case AssignOp::Div:
    return "/=";
  }
  return "?";
}

const Stmt *firstReturn(const Block &b) {
  for (auto &s : b.stmts)
    if (const Stmt *r = firstReturn(*s))
      return r;
  return nullptr;
}
const Stmt *firstReturn(const Stmt &s) {
  switch (s.kind) {
  case StmtKind::Return:
    return &s;
  case StmtKind::If: {
    auto &i = static_cast<const IfStmt &>(s);
    if (const Stmt *r = firstReturn(i.thenBlock))
      return r;
    return i.elseBlock ? firstReturn(*i.elseBlock) : nullptr;
  }
  case StmtKind::For:
    return firstReturn(static_cast<const ForStmt &>(s).body);
  case StmtKind::While:
    return firstReturn(static_cast<const WhileStmt &>(s).body);
  default:
    return nullptr;
  }
}

} // namespace bp::ast
