//===- Checker.h - sema's checker, shared by its source files --*- C++ -*-===//
//
// Private to compiler/sema: the Checker class, whose member functions are
// defined by walk in Sema.cpp (top level, train block), SemaDerived.cpp
// (grad/jvp/value_and_grad), SemaStmt.cpp (function bodies) and
// SemaExpr.cpp (expressions and builtins).
//
//===----------------------------------------------------------------------===//
#ifndef BP_SEMA_CHECKER_H
#define BP_SEMA_CHECKER_H

#include "sema/Sema.h"

#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace bp::sema::detail {

enum class Builtin {
  None,
  Elementwise, // a MATH op of ir/Ops.def spelled as a function: exp, pow...
  IntPoly1,    // abs: int -> int, f64 -> f64
  IntPoly2,    // max, min
  Float,       // float(i)
  Int,         // int(x)
  Print,       // print(...)
  Assert,      // assert(c, "msg")
  Derive,      // grad, value_and_grad, jvp, vmap
  Tensor,      // sum, mean, softmax, len, read_csv, ... (section 6)
  Init,        // param initialisers
};

/// The kind of builtin `n`; with `names`, lists every builtin instead.
Builtin builtinKind(const std::string &n,
                    std::vector<std::string> *names = nullptr);
/// The operand count of the Elementwise builtin `n` (ir/Ops.def).
unsigned elementwiseArity(const std::string &n);

struct Local {
  const Type *type;
  bool isVar;
  Loc loc;
};

enum class TopKind { Const, Param, Fn, Derived };
struct TopSym {
  TopKind kind;
  ast::Item *item;
};

class Checker {
public:
  Checker(ast::Module &m, TypeContext &t, DiagEngine &d, const Options &o,
          Program &p)
      : module(m), T(t), diags(d), options(o), prog(p) {}

  void run();

  /// The train block's fields (LANGUAGE.md section 8).
  void checkTrain(const ast::TrainItem &t);

  /// A function that assigns a param (itself or through a call) cannot be
  /// differentiated (LANGUAGE.md section 4).
  void checkNoParamStores(const DerivedInfo &d);
  // Section 15: `adjoint f` / `tangent f` against f's signature, and f
  // reads no param.
  void checkRule(const ast::FnItem &rule);
  void checkRuleReadsNoParam(const ast::FnItem &rule);

private:
  ast::Module &module;
  TypeContext &T;
  DiagEngine &diags;
  const Options &options;
  Program &prog;

  std::map<std::string, TopSym> top;
  std::set<std::string> evaluating; // consts / derived being resolved
  std::map<std::string, bool> declared;

  // Param assignments and calls per function (for checkNoParamStores).
  std::map<std::string, std::pair<std::string, Loc>> paramStores;
  std::map<std::string, std::set<std::string>> callGraph;
  // The first param each function reads (functions with rules must not).
  std::map<std::string, std::pair<std::string, Loc>> paramReads;

  // Per-function state.
  std::vector<std::map<std::string, Local>> scopes;
  const FnSig *curSig = nullptr;
  const ast::FnItem *curFn = nullptr;

  template <class T, class U> static T *dyn(U *x) {
    return x && T::classof(x) ? static_cast<T *>(x) : nullptr;
  }

  void error(Loc l, std::string msg) { diags.error(l, std::move(msg)); }

  //===--------------------------------------------------------------------===//
  // Top level
  //===--------------------------------------------------------------------===//

  void collect();

  static TopKind kindOf(const ast::Item &i);

  /// `extra`: candidates besides the names in scope (e.g. the arguments of
  /// the function named in grad(f, ...)).
  std::string suggest(const std::string &name,
                      const std::vector<std::string> &extra = {});

  // Consts: literals and other consts, int or f64; -D overrides.
  std::optional<ConstValue> evalConst(ast::ConstItem &c);

  std::optional<ConstValue> constExpr(ast::Expr &e);
  std::optional<ConstValue> constName(ast::NameExpr &n);
  std::optional<ConstValue> constUnary(ast::UnaryExpr &u);
  std::optional<ConstValue> constBinary(ast::BinaryExpr &b);
  std::optional<ConstValue> constIntArith(ast::BinaryExpr &b, int64_t a,
                                          int64_t c, bool &allowed);

  // Types as written.
  const Type *resolveType(const ast::TypeExpr &t);

  void declareParam(ast::ParamItem &p);

  /// The numbers of a constant tensor literal, row-major, and its shape.
  bool literalValues(ast::TensorLitExpr &lit, std::vector<double> &vals,
                     std::vector<int64_t> &shape, size_t depth);

  void declareFn(ast::FnItem &f);

  // The train block's fields, one function per kind of value; each sets
  // `ok` to false after reporting an error.
  bool trainNumber(const ast::Expr &e, double &out);
  void trainInt(const std::string &key, const ast::Expr &e, int64_t &out,
                int64_t min, bool &ok);
  void trainFn(const std::string &key, const ast::Expr &e, std::string &out,
               bool &ok);
  void trainPath(const std::string &key, const ast::Expr &e, std::string &out,
                 Loc &loc, bool &ok);
  const ast::CallExpr *trainCall(
      const ast::Expr &v,
      std::initializer_list<std::tuple<const char *, size_t, size_t>> forms,
      const char *what, const char *want, bool &ok);
  void trainOptimizer(const ast::Expr &v, TrainSpec &spec, bool &ok);
  void trainSchedule(const ast::Expr &v, TrainSpec &spec, bool &ok);
  void setWeightDecay(const ast::Expr &at, double wd, TrainSpec &spec,
                      bool &ok);
  void trainField(const ast::TrainField &f, TrainSpec &spec, bool &ok);
  bool trainSignatures(const ast::TrainItem &t, const TrainSpec &spec);

  //===--------------------------------------------------------------------===//
  // Derived functions
  //===--------------------------------------------------------------------===//

  std::set<std::string> attemptedDerived;

  std::string suggestConst(const std::string &name);

  void resolveNamedDerived(ast::DerivedFnItem &d);

  /// Resolves the name `n` to something callable, resolving named derived
  /// functions on demand. Returns its signature or null.
  const FnSig *callable(const std::string &n);

  /// `grad(f, x, ...)` -> the derived function's name (registered in prog),
  /// or "" after an error.
  std::string resolveDerived(ast::CallExpr &call, std::string name = "");
  ast::NameExpr *uniqueName(ast::Expr &e, std::set<std::string> &seen,
                            const std::string &notAName);
  /// vmap(f, B, a...): B, the batched arguments and the signature.
  bool resolveVmap(ast::CallExpr &call, const std::string &base,
                   const FnSig &bsig, DerivedInfo &info);

  /// The function `call` differentiates: a function name or a nested derived
  /// call (resolved here); "" after an error.
  std::string derivedBase(ast::CallExpr &call, DerivKind kind);

  /// The variables named after the function in `call` (its first argument
  /// when none is named); false after an error.
  bool derivedWrt(ast::CallExpr &call, DerivKind kind, const std::string &base,
                  const FnSig &bsig, std::vector<WrtVar> &wrt);

  /// The derived function's signature; false after an error.
  bool derivedSig(const ast::CallExpr &call, DerivKind kind,
                  const std::string &base, const FnSig &bsig,
                  const std::vector<WrtVar> &wrt, FnSig &sig);

  //===--------------------------------------------------------------------===//
  // Functions as arguments (section 21, Specialise.cpp)
  //===--------------------------------------------------------------------===//

  /// Functions with a fn-typed parameter: never checked themselves.
  std::map<std::string, ast::FnItem *> generics;
  /// Generics whose declaration or use of a fn parameter failed: their
  /// calls are not specialised (the errors are reported once).
  std::set<std::string> badGenerics;
  /// `descend<bowl>` -> its copy (in module.items).
  std::map<std::string, ast::FnItem *> specialisations;
  /// How deep each specialisation nests (1: made from an ordinary
  /// function), and that of the function being walked.
  std::map<std::string, size_t> specDepth;
  size_t walkDepth = 0;
  std::set<std::string> runaway; // generics reported for too many copies
  /// The copies of given functions in specialisations -> the fn-typed
  /// parameter they stand for (in messages).
  std::map<const ast::Expr *, std::string> fnParamUses;
  /// Calls of generics that could not be specialised (reported).
  std::set<const ast::CallExpr *> unspecialised;

  static bool isGeneric(const ast::FnItem &f);
  static std::string sigString(const FnSig &s);
  /// `fn(T1, ...) -> R` as a signature (without names); false after an
  /// error.
  bool fnType(const ast::TypeExpr &t, FnSig &sig);
  void declareGeneric(ast::FnItem &f);
  void checkGenericBody(ast::FnItem &g);
  /// Rewrites every call of a generic in the functions (and in the
  /// specialisations made) to call its specialisation.
  void specialiseAll();
  void specialiseCalls(ast::ExprPtr &e);
  void specialiseCall(ast::CallExpr &c, ast::FnItem &g);
  /// The name of the function given for `p` (a function or a derived
  /// function) once its signature matches; "" after an error.
  std::string fnArgument(ast::Expr &arg, const ast::FnParam &p,
                         const ast::FnItem &g);
  ast::FnItem *instantiate(ast::FnItem &g, const std::string &name,
                           std::vector<ast::ExprPtr> args);

  //===--------------------------------------------------------------------===//
  // Function bodies
  //===--------------------------------------------------------------------===//

  void checkFn(const ast::FnItem &f);

  static bool alwaysReturns(const ast::Block &b);

  const Local *lookupLocal(const std::string &n);

  void checkBlock(const ast::Block &b);

  void bind(const ast::Binding &b, const Type *t, bool isVar);

  /// Can a value of type `from` be used where `to` is expected?
  static bool convertible(const Type *from, const Type *to);

  /// Reports `e` (of type `got`) where `want` is expected; a literal of
  /// ints (or zeros/ones) where an int tensor is expected becomes one.
  void expectType(ast::Expr &e, const Type *got, const Type *want,
                  const std::string &context);
  /// `e` retyped as the int tensor `want` when it is a tensor literal of
  /// ints or zeros/ones of want's shape (section 13); else `got`.
  const Type *adoptIntTensor(ast::Expr &e, const Type *got, const Type *want);

  void checkStmt(const ast::Stmt &s);
  void checkLet(const ast::LetStmt &l);
  void checkAssign(const ast::AssignStmt &a);
  /// `v[i, j] op= e`: v must be a var tensor.
  void checkElementAssign(const ast::AssignStmt &a, ast::IndexExpr &ix,
                          const Type *vt);
  /// `x op= e` to a local or a param.
  void checkNameAssign(const ast::AssignStmt &a, const Type *vt);
  /// `x op= e` on a tensor `x`: elementwise, e broadcasts to x's shape.
  void checkTensorCompound(const ast::AssignStmt &a, const std::string &name,
                           const Type *xt, const Type *vt);
  void checkFor(const ast::ForStmt &f);
  void checkReturn(const ast::ReturnStmt &r);

  const ParamInfo *findParam(const std::string &n);

  //===--------------------------------------------------------------------===//
  // Expressions
  //===--------------------------------------------------------------------===//

  const Type *expr(ast::Expr &e);

  /// Tensors up to maxTensorElements; reports larger ones at `loc`.
  bool sizeOk(const Type *t, Loc loc);

  const Type *numericResult(const Type *a, const Type *b);

  const Type *exprImpl(ast::Expr &e);

  const Type *name(ast::NameExpr &n);

  /// `x[i, j]`: int indices select leading axes (fewer than the rank give a
  /// sub-tensor). Slices with constant bounds and int indices mix in any
  /// order: `x[1:N]`, `X[i, :N - 1]`, `X[:, 0:3]`, `X[:, j]`, `X[1:3, j]`
  /// (the bounds are recorded in Program::slices).
  const Type *index(ast::IndexExpr &e);
  /// `E[t]` with the int tensor `t`: a gather along axis 0 (section 13).
  const Type *gather(ast::IndexExpr &e, const Type *base, const Type *t);
  /// Whether `e` reads a local variable (a slice bound that is no const).
  bool readsLocal(const ast::Expr &e);
  /// A window's bounds `lo:hi` on an axis of size `dim` (lo reads a local):
  /// hi - lo must simplify to a constant K in 1..dim; lo must be an int.
  std::optional<SliceBounds> windowBounds(ast::IndexArg &ix, int64_t dim);

  /// `[e, ...]`: scalars give a rank-1 tensor; equally shaped tensors (or
  /// nested literals) stack along a new leading axis.
  const Type *tensorLiteral(ast::TensorLitExpr &e);

  /// Dimensions given as int literals or consts: zeros(N, 3).
  const Type *filled(ast::CallExpr &c, const std::string &n);

  /// The axis argument of sum/mean/logsumexp/max/min: an int literal, negative
  /// counting from the end. Recorded for IRGen.
  bool axisArg(ast::CallExpr &c, const Type *x, int64_t &axis);

  static bool isReadCsv(const ast::Expr &e);

  /// `let X: f64[N, D] = read_csv("x.csv")` (section 6): the declared type
  /// gives the shape the file must have.
  void checkReadCsv(const ast::LetStmt &l);

  const Type *tensorBuiltin(ast::CallExpr &c, const std::string &n);
  /// max(x), min(x) and max(x, axis), min(x, axis) with an int literal axis
  /// (section 14), `x` the first argument's type; max(a, b) is elementwise.
  const Type *extremum(ast::CallExpr &c, const std::string &n, const Type *x);
  static bool isIntLiteral(const ast::Expr &e);
  /// reshape(x, d...), flatten(x), concat(a, b, axis), avgpool2d(x, k),
  /// maxpool2d(x, k) (section 14).
  const Type *shapeBuiltin(ast::CallExpr &c, const std::string &n);
  /// avgpool2d(x, k), maxpool2d(x, k) once x's type is known.
  const Type *pool2d(ast::CallExpr &c, const std::string &n, const Type *x);
  /// conv2d(x, w) and conv2d(x, w, stride, pad) (section 14).
  const Type *conv2d(ast::CallExpr &c);
  /// A const int argument in least..2^20 (a stride, a padding).
  std::optional<int64_t> convInt(ast::Expr &e, int64_t least, const char *what);

  static bool isArith(const Type *t);

  const Type *binary(ast::BinaryExpr &b);

  const Type *call(ast::CallExpr &c);

  /// `shown`: the fn-typed parameter the callee stands for (section 21).
  const Type *userCall(ast::CallExpr &c, const std::string &name,
                       const FnSig &sig, const std::string &shown = "");

  const Type *builtinCall(ast::CallExpr &c, const std::string &n);
};

} // namespace bp::sema::detail

#endif
