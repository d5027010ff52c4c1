//===- AST.h - the BP abstract syntax tree ----------------------*- C++ -*-===//
//
// The parser's output and sema's input. Plain C++ (no ANTLR, no LLVM) so that
// the ANTLR wall stays in compiler/parse. Nodes carry a Kind for LLVM-style
// isa/dyn_cast (see `classof`) and the location of their first token.
// Sema fills in the `type` slot of expressions (as an opaque pointer to its
// own Type, owned by the sema TypeContext).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "support/Diagnostics.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace bp::ast {

//===----------------------------------------------------------------------===//
// Types as written
//===----------------------------------------------------------------------===//

/// One dimension of a tensor type: an int literal or a const name.
struct Dim {
  Loc loc;
  int64_t value = 0;
  std::string name; // empty: literal `value`
};

/// `fn(T1, ..., Tn) -> R` (section 21) is a Fn: `elems` are the parameter
/// types and `result` holds R (empty: no result).
struct TypeExpr {
  enum Kind { F64, Int, Bool, Tensor, Tuple, Fn } kind = F64;
  Loc loc;
  std::vector<Dim> dims;        // Tensor
  bool intElems = false;        // Tensor: int[...] (else f64[...])
  std::vector<TypeExpr> elems;  // Tuple; Fn: the parameter types
  std::vector<TypeExpr> result; // Fn: none or one
};

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

enum class ExprKind {
  Number,
  Bool,
  String,
  Name,
  Unary,
  Binary,
  Call,
  Index,
  Tuple,
  TensorLit,
  IfExpr
};

struct Expr {
  const ExprKind kind;
  Loc loc;
  const void *type = nullptr; // set by sema: const sema::Type *
  explicit Expr(ExprKind k, Loc l) : kind(k), loc(l) {}
  virtual ~Expr() = default;
};
using ExprPtr = std::unique_ptr<Expr>;

struct NumberExpr : Expr {
  bool isInt = false;
  int64_t intValue = 0;
  double floatValue = 0;
  std::string text; // as written
  NumberExpr(Loc l) : Expr(ExprKind::Number, l) {}
  static bool classof(const Expr *e) { return e->kind == ExprKind::Number; }
};

struct BoolExpr : Expr {
  bool value = false;
  BoolExpr(Loc l, bool v) : Expr(ExprKind::Bool, l), value(v) {}
  static bool classof(const Expr *e) { return e->kind == ExprKind::Bool; }
};

struct StringExpr : Expr {
  std::string value; // escapes already resolved
  StringExpr(Loc l, std::string v)
      : Expr(ExprKind::String, l), value(std::move(v)) {}
  static bool classof(const Expr *e) { return e->kind == ExprKind::String; }
};

struct NameExpr : Expr {
  std::string name;
  NameExpr(Loc l, std::string n)
      : Expr(ExprKind::Name, l), name(std::move(n)) {}
  static bool classof(const Expr *e) { return e->kind == ExprKind::Name; }
};

enum class UnaryOp { Neg, Plus, Not };

struct UnaryExpr : Expr {
  UnaryOp op;
  ExprPtr operand;
  UnaryExpr(Loc l, UnaryOp o, ExprPtr e)
      : Expr(ExprKind::Unary, l), op(o), operand(std::move(e)) {}
  static bool classof(const Expr *e) { return e->kind == ExprKind::Unary; }
};

enum class BinaryOp {
  Add,
  Sub,
  Mul,
  Div,
  Mod,
  MatMul,
  Pow,
  Eq,
  Ne,
  Lt,
  Le,
  Gt,
  Ge,
  And,
  Or
};

/// The operator as written in source (`+`, `and`, ...).
const char *spelling(BinaryOp op);

struct BinaryExpr : Expr {
  BinaryOp op;
  Loc opLoc; // location of the operator token
  ExprPtr lhs, rhs;
  BinaryExpr(Loc l, BinaryOp o, ExprPtr a, ExprPtr b)
      : Expr(ExprKind::Binary, l), op(o), lhs(std::move(a)), rhs(std::move(b)) {
  }
  static bool classof(const Expr *e) { return e->kind == ExprKind::Binary; }
};

/// `callee(args)`. The callee is any expression; in practice a NameExpr
/// (`f(x)`, `sin(x)`, `grad(f, x)`) or a CallExpr (`grad(f, x)(1.0)`).
struct CallExpr : Expr {
  ExprPtr callee;
  std::vector<ExprPtr> args;
  CallExpr(Loc l, ExprPtr c) : Expr(ExprKind::Call, l), callee(std::move(c)) {}
  static bool classof(const Expr *e) { return e->kind == ExprKind::Call; }
};

/// One index position: `e`, or a slice `lo:hi` with either bound optional.
struct IndexArg {
  Loc loc;
  bool isSlice = false;
  ExprPtr index; // !isSlice
  ExprPtr lo;    // isSlice, may be null
  ExprPtr hi;    // isSlice, may be null
};

struct IndexExpr : Expr {
  ExprPtr base;
  std::vector<IndexArg> indices;
  IndexExpr(Loc l, ExprPtr b) : Expr(ExprKind::Index, l), base(std::move(b)) {}
  static bool classof(const Expr *e) { return e->kind == ExprKind::Index; }
};

/// `(a, b, ...)` with at least two elements.
struct TupleExpr : Expr {
  std::vector<ExprPtr> elems;
  TupleExpr(Loc l) : Expr(ExprKind::Tuple, l) {}
  static bool classof(const Expr *e) { return e->kind == ExprKind::Tuple; }
};

/// `[e1, e2, ...]`; nested literals are elements that are TensorLitExprs.
struct TensorLitExpr : Expr {
  std::vector<ExprPtr> elems;
  TensorLitExpr(Loc l) : Expr(ExprKind::TensorLit, l) {}
  static bool classof(const Expr *e) { return e->kind == ExprKind::TensorLit; }
};

/// `if c { e1 } else { e2 }` as an expression. `else if` chains are a nested
/// IfExpr as `elseExpr`.
struct IfExpr : Expr {
  ExprPtr cond, thenExpr, elseExpr;
  IfExpr(Loc l) : Expr(ExprKind::IfExpr, l) {}
  static bool classof(const Expr *e) { return e->kind == ExprKind::IfExpr; }
};

//===----------------------------------------------------------------------===//
// Statements
//===----------------------------------------------------------------------===//

enum class StmtKind { Let, Assign, If, For, While, Return, Expr };

struct Stmt {
  const StmtKind kind;
  Loc loc;
  explicit Stmt(StmtKind k, Loc l) : kind(k), loc(l) {}
  virtual ~Stmt() = default;
};
using StmtPtr = std::unique_ptr<Stmt>;

struct Block {
  Loc loc;    // the `{`
  Loc endLoc; // the `}`
  std::vector<StmtPtr> stmts;
};

struct Binding {
  Loc loc;
  std::string name;
};

/// `let x = e`, `var x: T = e`, `let (a, b) = e`.
struct LetStmt : Stmt {
  bool isVar = false;
  bool isDestructure = false;   // `let (a, b) = e`
  std::vector<Binding> names;   // one unless isDestructure
  std::optional<TypeExpr> type; // only without destructuring
  ExprPtr init;
  LetStmt(Loc l) : Stmt(StmtKind::Let, l) {}
  static bool classof(const Stmt *s) { return s->kind == StmtKind::Let; }
};

enum class AssignOp { Set, Add, Sub, Mul, Div };

/// The operator as written in source (`=`, `+=`, ...).
const char *spelling(AssignOp op);

/// `s = e`, `s += e`, `v[i, j] -= e`. `target` is a NameExpr or IndexExpr.
struct AssignStmt : Stmt {
  AssignOp op = AssignOp::Set;
  ExprPtr target;
  ExprPtr value;
  AssignStmt(Loc l) : Stmt(StmtKind::Assign, l) {}
  static bool classof(const Stmt *s) { return s->kind == StmtKind::Assign; }
};

/// `if c { } else if c2 { } else { }`: an `else if` is an `elseBlock`
/// holding exactly one IfStmt.
struct IfStmt : Stmt {
  ExprPtr cond;
  Block thenBlock;
  std::optional<Block> elseBlock;
  IfStmt(Loc l) : Stmt(StmtKind::If, l) {}
  static bool classof(const Stmt *s) { return s->kind == StmtKind::If; }
};

struct ForStmt : Stmt {
  Binding var;
  ExprPtr lo, hi;
  Block body;
  ForStmt(Loc l) : Stmt(StmtKind::For, l) {}
  static bool classof(const Stmt *s) { return s->kind == StmtKind::For; }
};

struct WhileStmt : Stmt {
  ExprPtr cond;
  Block body;
  WhileStmt(Loc l) : Stmt(StmtKind::While, l) {}
  static bool classof(const Stmt *s) { return s->kind == StmtKind::While; }
};

struct ReturnStmt : Stmt {
  ExprPtr value; // may be null; a tuple result is a TupleExpr
  ReturnStmt(Loc l) : Stmt(StmtKind::Return, l) {}
  static bool classof(const Stmt *s) { return s->kind == StmtKind::Return; }
};

struct ExprStmt : Stmt {
  ExprPtr expr;
  ExprStmt(Loc l, ExprPtr e) : Stmt(StmtKind::Expr, l), expr(std::move(e)) {}
  static bool classof(const Stmt *s) { return s->kind == StmtKind::Expr; }
};

//===----------------------------------------------------------------------===//
// Top-level items
//===----------------------------------------------------------------------===//

enum class ItemKind { Const, Param, Fn, DerivedFn, Train };

struct Item {
  const ItemKind kind;
  Loc loc;
  std::string name; // empty for Train
  Loc nameLoc;
  explicit Item(ItemKind k, Loc l) : kind(k), loc(l) {}
  virtual ~Item() = default;
};
using ItemPtr = std::unique_ptr<Item>;

struct ConstItem : Item {
  ExprPtr value;
  ConstItem(Loc l) : Item(ItemKind::Const, l) {}
  static bool classof(const Item *i) { return i->kind == ItemKind::Const; }
};

struct ParamItem : Item {
  TypeExpr type;
  ExprPtr init; // null: zeros()
  ParamItem(Loc l) : Item(ItemKind::Param, l) {}
  static bool classof(const Item *i) { return i->kind == ItemKind::Param; }
};

struct FnParam {
  Binding name;
  TypeExpr type;
};

/// `adjoint f(...)` / `tangent f(...)` (section 15): a FnItem whose `name`
/// is `f.adjoint` / `f.tangent` (no user name has a '.') and `ruleOf` f.
enum class RuleKind { None, Adjoint, Tangent };

struct FnItem : Item {
  RuleKind rule = RuleKind::None;
  std::string ruleOf; // the function the rule is for; `nameLoc` is its loc
  std::vector<FnParam> params;
  std::optional<TypeExpr> result; // none: no result
  Block body;
  /// Section 21: a copy of the function `specialisedFrom` made by sema for
  /// the functions `fnArgs` given for its fn-typed parameters (which the
  /// copy no longer has; its body uses the given functions instead).
  std::string specialisedFrom;
  std::vector<ExprPtr> fnArgs;
  FnItem(Loc l) : Item(ItemKind::Fn, l) {}
  static bool classof(const Item *i) { return i->kind == ItemKind::Fn; }
};

/// `fn df = grad(f, x)`: `value` is the right-hand side expression.
struct DerivedFnItem : Item {
  ExprPtr value;
  DerivedFnItem(Loc l) : Item(ItemKind::DerivedFn, l) {}
  static bool classof(const Item *i) { return i->kind == ItemKind::DerivedFn; }
};

/// `name: value` inside `train { ... }`.
struct TrainField {
  Binding key;
  ExprPtr value;
};

struct TrainItem : Item {
  std::vector<TrainField> fields;
  TrainItem(Loc l) : Item(ItemKind::Train, l) {}
  static bool classof(const Item *i) { return i->kind == ItemKind::Train; }
};

/// `import "path"` (LANGUAGE.md section 22): the path as written (after
/// escapes), relative to the importing file.
struct Import {
  Loc loc;     // of `import`
  Loc pathLoc; // of the string
  std::string path;
};

struct Module {
  std::vector<Import> imports; // in source order, before every item
  std::vector<ItemPtr> items;
};

/// The first `return` in `s` or `b` (in source order, through branches and
/// loops), or null.
const Stmt *firstReturn(const Stmt &s);
const Stmt *firstReturn(const Block &b);

} // namespace bp::ast
