//===- IRGenImpl.h - AST-to-IR lowering, shared by its files --*- C++ -*-===//
//
// Private to compiler/ir: the IRGen class (see IRGen.cpp for how locals,
// control flow and returns are lowered). Its member functions are defined
// in IRGen.cpp (environment, functions, statements) and IRGenExpr.cpp
// (expressions and builtins).
//
//===----------------------------------------------------------------------===//
#ifndef BP_IR_IRGENIMPL_H
#define BP_IR_IRGENIMPL_H

#include "lower/IRGen.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace bp::irgen {

using namespace ast;

struct Slot {
  std::vector<ir::Value *> vals;
  const Type *type;
  bool isVar;
};
using Scope = std::map<std::string, Slot>;
using Env = std::vector<Scope>;

/// A part of a statement list still to be lowered (the continuation).
struct Segment {
  const std::vector<StmtPtr> *stmts;
  size_t from;
  size_t depth; // env depth its statements live at
};

/// The hidden vars of a return inside a loop (not valid identifiers).
inline constexpr const char *kReturnDone = "return.done";
inline constexpr const char *kReturnValue = "return.value";

template <class T, class U> T *dyn(U *x) {
  return x && T::classof(x) ? static_cast<T *>(x) : nullptr;
}

class IRGen {
public:
  IRGen(const sema::Program &p, TypeContext &t, DiagEngine &d)
      : prog(p), T(t), diags(d), b(t) {}

  std::unique_ptr<ir::Module> run(const std::string &path);

private:
  const sema::Program &prog;
  TypeContext &T;
  DiagEngine &diags;
  ir::Builder b;
  std::unique_ptr<ir::Module> mod;
  Env env;
  ir::Function *fn = nullptr;

  std::vector<const Type *> flatten(const Type *t);

  static const Type *typeOf(const Expr &e);

  //===--------------------------------------------------------------------===//
  // Environment
  //===--------------------------------------------------------------------===//

  Slot *lookup(const std::string &n);

  void bind(const std::string &n, std::vector<ir::Value *> vals, const Type *t,
            bool isVar);

  /// Every visible var slot, outermost first; the key identifies a slot by
  /// scope depth and name so snapshots can be compared.
  std::vector<std::pair<size_t, std::string>> visibleVars();

  //===--------------------------------------------------------------------===//
  // Functions and statements
  //===--------------------------------------------------------------------===//

  void lowerFn(const FnItem &f, ir::Function &irFn);

  /// Lowers the continuation `k` (innermost segment last) into the current
  /// block, ending it with `return` (tail=false) or `yield` (tail=true).
  void lowerSeq(std::vector<Segment> k, bool tail);

  ir::Value *zeroOf(const Type *t);

  void lowerTailIf(const IfStmt &s, std::vector<Segment> k, bool tail);

  /// Ends the current block by returning (yielding, in tail position) the
  /// results of the tail `if` op.
  void returnResults(const ir::Op &op, bool tail);

  /// A loop (for or while) that contains a return, at statement level of
  /// the function (`k` is the rest of it): the hidden vars start as
  /// (false, zeros), then the loop, then `if done { return the value }
  /// else { k }`.
  void lowerExitingLoop(const Stmt &loop, std::vector<Segment> k, bool tail);

  /// Inside a loop that contains a return (the hidden vars exist): a
  /// return sets them and ends the list; the statements after one that may
  /// return run under `if not done`.
  bool exiting() { return lookup(kReturnDone) != nullptr; }

  void lowerStmts(const std::vector<StmtPtr> &stmts, size_t from);

  void lowerBlock(const Block &blk);

  void lowerStmt(const Stmt &s);

  /// The region string of a slice / splice (ir/Ops.def) for the axes from
  /// `first` on of `ix`'s base: `i` for an int index, else the start.
  std::vector<ir::SliceAxis> regionSpec(const IndexExpr &ix, size_t first);
  ir::Value *windowStart(const IndexArg &a);

  /// v[i, j] op= e  ->  v = insert(v, extract(v, i, j) op e, i, j)
  /// v[i, 1:3] op= e  ->  v = splice(v, slice(v, i) op e, i)
  void lowerElementUpdate(const AssignStmt &a, const IndexExpr &ix);

  static bool declaredIsF64(const TypeExpr &t);

  void lowerIf(const IfStmt &s);

  /// An `if` on `c` whose branches are lowered by thenFn / elseFn; every
  /// var they rebind becomes a result.
  template <class A, class B>
  void lowerIfWith(ir::Value *c, A thenFn, B elseFn) {
    ir::Op *op = b.create(ir::OpKind::If, {c});
    ir::Block *outer = b.getBlock();
    auto vars = visibleVars();
    Env saved = env;
    ir::Block *thenR = op->addRegion(), *elseR = op->addRegion();
    b.setInsertionPointToEnd(thenR);
    thenFn();
    Env thenEnv = env;
    env = saved;
    b.setInsertionPointToEnd(elseR);
    elseFn();
    Env elseEnv = env;
    env = saved;

    std::vector<ir::Value *> thenY, elseY;
    for (auto &[d, n] : vars) {
      Slot &orig = saved[d][n];
      Slot &t = thenEnv[d][n], &e = elseEnv[d][n];
      if (t.vals == orig.vals && e.vals == orig.vals)
        continue;
      thenY.insert(thenY.end(), t.vals.begin(), t.vals.end());
      elseY.insert(elseY.end(), e.vals.begin(), e.vals.end());
      std::vector<ir::Value *> res;
      for (ir::Value *v : t.vals)
        res.push_back(op->addResult(v->type, n));
      env[d][n].vals = res;
    }
    b.setInsertionPointToEnd(thenR);
    b.yield(thenY);
    b.setInsertionPointToEnd(elseR);
    b.yield(elseY);
    b.setInsertionPointToEnd(outer);
  }

  /// The var slots a loop body may assign, as (depth, name), with their
  /// current values flattened into `inits`.
  std::vector<std::pair<size_t, std::string>>
  carriedVars(const Block &body, std::vector<ir::Value *> &inits);

  void bindCarried(const std::vector<std::pair<size_t, std::string>> &carried,
                   ir::Block *region, size_t firstArg);

  std::vector<ir::Value *>
  carriedValues(const std::vector<std::pair<size_t, std::string>> &carried) {
    std::vector<ir::Value *> out;
    for (auto &[d, n] : carried)
      for (ir::Value *v : env[d][n].vals)
        out.push_back(v);
    return out;
  }

  void bindResults(const std::vector<std::pair<size_t, std::string>> &carried,
                   ir::Op *op, size_t firstResult = 0);

  void lowerFor(const ForStmt &s);

  void lowerWhile(const WhileStmt &s);

  /// A `while` loop over `bodyBlk` with condition `condE`, or the `for`
  /// loop `f` lowered as one (it contains a return): its index is carried
  /// first, tested against `hi` (evaluated once) and advanced after the
  /// body. When the body contains a return, the condition first checks
  /// `not done`, so the loop ends at the return.
  void lowerLoopAsWhile(const Block &bodyBlk, const Expr *condE,
                        const ForStmt *f);

  void lowerExprStmt(const Expr &e);

  void lowerPrint(const CallExpr &c);

  //===--------------------------------------------------------------------===//
  // Expressions
  //===--------------------------------------------------------------------===//

  /// An operand of an elementwise op whose result has type `rt`: ints become
  /// f64; tensors of another shape are broadcast (NumPy rules); scalars stay
  /// scalars (the IR broadcasts them implicitly).
  ir::Value *toShape(ir::Value *v, const Type *rt);

  ir::Value *coerce(ir::Value *v, const Type *to);

  /// Lowers `e` and converts its values to `types` (int -> f64).
  std::vector<ir::Value *> lowerTo(const Expr &e,
                                   const std::vector<const Type *> &types);

  /// All values of `e` (several for a tuple, none for a void call).
  std::vector<ir::Value *> lowerValues(const Expr &e);

  /// The IR function a call expression targets, or "" for a builtin.
  std::string userCallee(const CallExpr &c);

  std::vector<ir::Value *> lowerUserCall(const CallExpr &c,
                                         const std::string &callee);

  ir::Value *paramLoad(const std::string &name, const Type *t);

  ir::Value *lowerExpr(const Expr &e);

  template <class A, class B>
  ir::Value *branchValue(ir::Value *c, const Type *t, A thenFn, B elseFn) {
    ir::Op *op = b.create(ir::OpKind::If, {c}, {t});
    ir::Block *outer = b.getBlock();
    // Expressions never rebind names, so the environment needs no
    // snapshot here (and pointers into it stay valid for the caller).
    b.setInsertionPointToEnd(op->addRegion());
    b.yield({thenFn()});
    b.setInsertionPointToEnd(op->addRegion());
    b.yield({elseFn()});
    b.setInsertionPointToEnd(outer);
    return op->result();
  }

  ir::Value *lowerBinary(const BinaryExpr &e);

  ir::Value *lowerCall(const CallExpr &c);

  ir::Value *create1(ir::OpKind k, std::vector<ir::Value *> ops, const Type *t,
                     int64_t ival = 0);

  /// x -> reduce over `axis` (-1: everything).
  ir::Value *reduce(ir::OpKind k, ir::Value *x, int64_t axis);
  /// avgpool2d / maxpool2d(x, k) with result type rt.
  ir::Value *pool2d(ir::Value *x, int64_t k, const Type *rt, bool max);
  /// conv2d(x, w, ...) with attr = ir::Op::convAttr(stride, pad).
  ir::Value *conv2d(ir::Value *x, ir::Value *w, int64_t attr, const Type *rt);

  /// A reduced value back to the shape of `like` (inverse of reduce).
  ir::Value *expand(ir::Value *v, const Type *like, int64_t axis);

  /// The stable pieces of logsumexp over `axis`: m = max (under
  /// stop_gradient: results do not depend on it), z = x - m, s = sum(exp z).
  /// logsumexp = m + log s, log_softmax = z - log s, softmax = exp(z) / s;
  /// no exp overflows and no large values cancel (inputs around +-1000).
  struct Lse {
    ir::Value *m, *z, *s;
  };
  Lse lsePieces(ir::Value *x, int64_t axis);

  ir::Value *logSumExp(ir::Value *x, int64_t axis);

  ir::Value *lowerTensorBuiltin(const CallExpr &c, const std::string &n,
                                std::vector<ir::Value *> &args);
};

} // namespace bp::irgen

#endif
