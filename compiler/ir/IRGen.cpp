//===- IRGen.cpp - typed AST to IR ----------------------------------------===//
//
// Locals live in an environment of scopes mapping a name to its current SSA
// values (a tuple is several values). `var` updates rebind the name; control
// flow turns rebinding into region results:
//  - if:    both branches are lowered from the same snapshot of the
//           environment; every var whose value differs after either branch
//           becomes a result of the `if`.
//  - loops: vars assigned anywhere in the body (a syntactic superset) are
//           carried as block arguments and yielded back.
//  - return inside an if: the rest of the enclosing statements is lowered
//           into each branch that can fall through, so every return ends up
//           in tail position and becomes a yield of the function's result
//           (continuation-passing; code after such an if is duplicated per
//           falling-through branch).
//  - return inside a loop: two hidden vars, `return.done` (bool) and
//           `return.value` (the results), carried like any var. A return
//           sets them; the statements after one that may return run under
//           `if not done`; a loop that contains a return becomes a `while`
//           whose condition first checks `not done` (a `for` counts its
//           index itself), so it exits at once; after the outermost such
//           loop, `if done { results } else { rest of the function }`.
//
//===----------------------------------------------------------------------===//
#include "ir/IRGen.h"

#include "ad/Derived.h"
#include "sema/Shapes.h"

#include <cassert>
#include <map>
#include <set>

namespace bp {
namespace {

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
const char *const kReturnDone = "return.done";
const char *const kReturnValue = "return.value";

template <class T, class U> T *dyn(U *x) {
  return x && T::classof(x) ? static_cast<T *>(x) : nullptr;
}

/// The first `return` in `s` (in source order), or null.
const Stmt *firstReturn(const Stmt &s);
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
bool containsReturn(const Stmt &s) { return firstReturn(s) != nullptr; }

void assignedNames(const Block &b, std::set<std::string> &out);
void assignedNames(const Stmt &s, std::set<std::string> &out) {
  switch (s.kind) {
  case StmtKind::Return: // sets the hidden vars (return inside a loop)
    out.insert(kReturnDone);
    out.insert(kReturnValue);
    return;
  case StmtKind::Assign: {
    auto &a = static_cast<const AssignStmt &>(s);
    if (auto *n = dyn<const NameExpr>(a.target.get()))
      out.insert(n->name);
    else if (auto *ix = dyn<const IndexExpr>(a.target.get()))
      if (auto *base = dyn<const NameExpr>(ix->base.get()))
        out.insert(base->name); // an element update rebinds the tensor
    return;
  }
  case StmtKind::If: {
    auto &i = static_cast<const IfStmt &>(s);
    assignedNames(i.thenBlock, out);
    if (i.elseBlock)
      assignedNames(*i.elseBlock, out);
    return;
  }
  case StmtKind::For:
    assignedNames(static_cast<const ForStmt &>(s).body, out);
    return;
  case StmtKind::While:
    assignedNames(static_cast<const WhileStmt &>(s).body, out);
    return;
  default:
    return;
  }
}
void assignedNames(const Block &b, std::set<std::string> &out) {
  for (auto &s : b.stmts)
    assignedNames(*s, out);
}

class IRGen {
public:
  IRGen(const sema::Program &p, TypeContext &t, DiagEngine &d)
      : prog(p), T(t), diags(d), b(t) {}

  std::unique_ptr<ir::Module> run(const std::string &path) {
    mod = std::make_unique<ir::Module>(T);
    mod->sourcePath = path;
    mod->lineOrigins = diags.source().origins;
    for (auto &p : prog.params)
      mod->params.push_back({p.name, p.type, p.loc, p.init, p.initArgs});
    // Declare every function first so calls can refer to later ones.
    for (const FnItem *f : prog.fns) {
      ir::Function *fn = mod->addFunction(f->name);
      fn->loc = f->loc;
      const sema::FnSig &sig = prog.fnSigs.at(f->name);
      for (size_t i = 0; i < sig.params.size(); ++i)
        fn->addArg(sig.params[i], sig.paramNames[i]);
      fn->resultTypes = flatten(sig.result);
    }
    for (const FnItem *f : prog.fns)
      lowerFn(*f, *mod->lookup(f->name));
    if (diags.hasErrors())
      return nullptr;
    for (const sema::DerivedInfo &d : prog.derived)
      if (!ad::buildDerived(*mod, d, diags))
        return nullptr;
    return std::move(mod);
  }

private:
  const sema::Program &prog;
  TypeContext &T;
  DiagEngine &diags;
  ir::Builder b;
  std::unique_ptr<ir::Module> mod;
  Env env;
  ir::Function *fn = nullptr;

  std::vector<const Type *> flatten(const Type *t) {
    if (t->isVoid())
      return {};
    if (t->isTuple())
      return t->elems;
    return {t};
  }

  static const Type *typeOf(const Expr &e) {
    return static_cast<const Type *>(e.type);
  }

  //===--------------------------------------------------------------------===//
  // Environment
  //===--------------------------------------------------------------------===//

  Slot *lookup(const std::string &n) {
    for (auto it = env.rbegin(); it != env.rend(); ++it) {
      auto f = it->find(n);
      if (f != it->end())
        return &f->second;
    }
    return nullptr;
  }

  void bind(const std::string &n, std::vector<ir::Value *> vals, const Type *t,
            bool isVar) {
    for (size_t i = 0; i < vals.size(); ++i)
      if (vals[i]->name.empty() && vals[i]->def &&
          vals[i]->def->kind != ir::OpKind::ConstF &&
          vals[i]->def->kind != ir::OpKind::ConstI)
        vals[i]->name = vals.size() == 1 ? n : n + "." + std::to_string(i);
    env.back()[n] = {std::move(vals), t, isVar};
  }

  /// Every visible var slot, outermost first; the key identifies a slot by
  /// scope depth and name so snapshots can be compared.
  std::vector<std::pair<size_t, std::string>> visibleVars() {
    std::vector<std::pair<size_t, std::string>> out;
    std::set<std::string> seen;
    for (size_t d = env.size(); d-- > 0;)
      for (auto &[n, s] : env[d])
        if (seen.insert(n).second && s.isVar)
          out.push_back({d, n});
    return out;
  }

  //===--------------------------------------------------------------------===//
  // Functions and statements
  //===--------------------------------------------------------------------===//

  void lowerFn(const FnItem &f, ir::Function &irFn) {
    fn = &irFn;
    env.clear();
    env.emplace_back();
    for (auto &a : irFn.args())
      env.back()[a->name] = {{a.get()}, a->type, false};
    b.setInsertionPointToEnd(irFn.body.get());
    b.loc = f.body.endLoc;
    env.emplace_back();
    lowerSeq({{&f.body.stmts, 0, env.size()}}, /*tail=*/false);
  }

  /// Lowers the continuation `k` (innermost segment last) into the current
  /// block, ending it with `return` (tail=false) or `yield` (tail=true).
  void lowerSeq(std::vector<Segment> k, bool tail) {
    while (!k.empty()) {
      Segment &seg = k.back();
      if (seg.from >= seg.stmts->size()) {
        k.pop_back();
        if (!k.empty())
          env.resize(k.back().depth);
        continue;
      }
      const Stmt &s = *(*seg.stmts)[seg.from++];
      if (auto *r = dyn<const ReturnStmt>(&s)) {
        b.loc = r->loc;
        std::vector<ir::Value *> vals;
        if (r->value)
          vals = lowerTo(*r->value, fn->resultTypes);
        b.create(tail ? ir::OpKind::Yield : ir::OpKind::Return, vals);
        return;
      }
      auto *ifs = dyn<const IfStmt>(&s);
      if (ifs && containsReturn(s)) {
        lowerTailIf(*ifs, k, tail);
        return;
      }
      if (containsReturn(s)) {
        lowerExitingLoop(s, k, tail);
        return;
      }
      lowerStmt(s);
    }
    // Fell off the end: only valid for functions without a result (sema
    // checked the rest).
    std::vector<ir::Value *> none;
    if (!fn->resultTypes.empty()) {
      diags.error(fn->loc, "function '" + fn->name +
                               "' can reach its end without 'return'");
      for (const Type *t : fn->resultTypes)
        none.push_back(zeroOf(t));
    }
    b.create(tail ? ir::OpKind::Yield : ir::OpKind::Return, none);
  }

  ir::Value *zeroOf(const Type *t) {
    if (t->isTensor()) {
      ir::Op *op = b.create(ir::OpKind::Broadcast, {b.constF(0)}, {t});
      op->ival = -1;
      return op->result();
    }
    if (t->isF64())
      return b.constF(0);
    if (t->isBool())
      return b.constB(false);
    return b.constI(0);
  }

  void lowerTailIf(const IfStmt &s, std::vector<Segment> k, bool tail) {
    b.loc = s.loc;
    ir::Value *c = lowerExpr(*s.cond);
    ir::Op *op = b.create(ir::OpKind::If, {c}, fn->resultTypes);
    ir::Block *outer = b.getBlock();
    Env saved = env;
    auto branch = [&](ir::Block *region, const Block *blk) {
      b.setInsertionPointToEnd(region);
      env = saved;
      std::vector<Segment> kk = k;
      if (blk) {
        env.emplace_back();
        kk.push_back({&blk->stmts, 0, env.size()});
      }
      lowerSeq(kk, /*tail=*/true);
    };
    branch(op->addRegion(), &s.thenBlock);
    branch(op->addRegion(), s.elseBlock ? &*s.elseBlock : nullptr);
    env = saved;
    b.setInsertionPointToEnd(outer);
    returnResults(*op, tail);
  }

  /// Ends the current block by returning (yielding, in tail position) the
  /// results of the tail `if` op.
  void returnResults(const ir::Op &op, bool tail) {
    std::vector<ir::Value *> rs;
    for (auto &r : op.results)
      rs.push_back(r.get());
    b.create(tail ? ir::OpKind::Yield : ir::OpKind::Return, rs);
  }

  /// A loop (for or while) that contains a return, at statement level of
  /// the function (`k` is the rest of it): the hidden vars start as
  /// (false, zeros), then the loop, then `if done { return the value }
  /// else { k }`.
  void lowerExitingLoop(const Stmt &loop, std::vector<Segment> k, bool tail) {
    b.loc = loop.loc;
    std::vector<ir::Value *> zeros;
    for (const Type *t : fn->resultTypes)
      zeros.push_back(zeroOf(t));
    env.back()[kReturnDone] = {{b.constB(false)}, T.boolean(), true};
    env.back()[kReturnValue] = {zeros, nullptr, true};
    lowerStmt(loop);
    b.loc = loop.loc;
    ir::Op *op = b.create(ir::OpKind::If, {lookup(kReturnDone)->vals[0]},
                          fn->resultTypes);
    ir::Block *outer = b.getBlock();
    b.setInsertionPointToEnd(op->addRegion());
    b.yield(lookup(kReturnValue)->vals);
    Env saved = env;
    b.setInsertionPointToEnd(op->addRegion());
    lowerSeq(k, /*tail=*/true);
    env = saved;
    b.setInsertionPointToEnd(outer);
    returnResults(*op, tail);
  }

  /// Inside a loop that contains a return (the hidden vars exist): a
  /// return sets them and ends the list; the statements after one that may
  /// return run under `if not done`.
  bool exiting() { return lookup(kReturnDone) != nullptr; }

  void lowerStmts(const std::vector<StmtPtr> &stmts, size_t from) {
    for (size_t i = from; i < stmts.size(); ++i) {
      const Stmt &s = *stmts[i];
      if (auto *r = dyn<const ReturnStmt>(&s)) {
        b.loc = r->loc;
        std::vector<ir::Value *> vals;
        if (r->value)
          vals = lowerTo(*r->value, fn->resultTypes);
        lookup(kReturnValue)->vals = vals;
        lookup(kReturnDone)->vals = {b.constB(true)};
        return; // the rest of the list is unreachable
      }
      lowerStmt(s);
      if (i + 1 < stmts.size() && containsReturn(s)) {
        ir::Value *notDone =
            b.unary(ir::OpKind::Not, lookup(kReturnDone)->vals[0]);
        lowerIfWith(
            notDone, [&] { lowerStmts(stmts, i + 1); }, [] {});
        return;
      }
    }
  }

  void lowerBlock(const Block &blk) {
    env.emplace_back();
    lowerStmts(blk.stmts, 0);
    env.pop_back();
  }

  void lowerStmt(const Stmt &s) {
    b.loc = s.loc;
    switch (s.kind) {
    case StmtKind::Let: {
      auto &l = static_cast<const LetStmt &>(s);
      if (auto *c = dyn<const CallExpr>(l.init.get());
          c && c->callee->kind == ExprKind::Name &&
          static_cast<const NameExpr &>(*c->callee).name == "read_csv") {
        // Paths are relative to the .bp file (in the REPL: to the file
        // the line was loaded from, or the working directory).
        std::string path = static_cast<const StringExpr &>(*c->args[0]).value;
        std::string src = diags.source().origin(c->loc.line).path;
        size_t slash = src.rfind('/');
        if (!path.empty() && path[0] != '/' && slash != std::string::npos)
          path = src.substr(0, slash + 1) + path;
        b.loc = c->loc;
        ir::Op *op = b.create(ir::OpKind::ReadCsv, {}, {typeOf(*c)});
        op->str = path;
        bind(l.names[0].name, {op->result()}, typeOf(*c), l.isVar);
        return;
      }
      if (l.isDestructure) {
        const Type *t = typeOf(*l.init);
        std::vector<ir::Value *> vals = lowerTo(*l.init, t->elems);
        for (size_t i = 0; i < l.names.size(); ++i)
          bind(l.names[i].name, {vals[i]}, t->elems[i], l.isVar);
        return;
      }
      const Type *t = typeOf(*l.init);
      if (l.type) {
        // sema checked convertibility; the declared type wins (int -> f64).
        if (t->isInt() && declaredIsF64(*l.type))
          t = T.f64();
      }
      bind(l.names[0].name, lowerTo(*l.init, flatten(t)), t, l.isVar);
      return;
    }
    case StmtKind::Assign: {
      auto &a = static_cast<const AssignStmt &>(s);
      if (auto *ix = dyn<const IndexExpr>(a.target.get())) {
        lowerElementUpdate(a, *ix);
        return;
      }
      auto *n = static_cast<const NameExpr *>(a.target.get());
      Slot *slot = lookup(n->name);
      const Type *t = slot ? slot->type : static_cast<const Type *>(n->type);
      ir::Value *rhs = nullptr;
      std::vector<ir::Value *> vals;
      if (a.op == AssignOp::Set) {
        vals = lowerTo(*a.value, flatten(t));
      } else {
        ir::Value *cur = slot ? slot->vals[0] : paramLoad(n->name, t);
        rhs = coerce(lowerExpr(*a.value), t);
        ir::OpKind k;
        bool f = t->isF64();
        switch (a.op) {
        case AssignOp::Add:
          k = f ? ir::OpKind::FAdd : ir::OpKind::IAdd;
          break;
        case AssignOp::Sub:
          k = f ? ir::OpKind::FSub : ir::OpKind::ISub;
          break;
        case AssignOp::Mul:
          k = f ? ir::OpKind::FMul : ir::OpKind::IMul;
          break;
        default:
          k = f ? ir::OpKind::FDiv : ir::OpKind::IDiv;
          break;
        }
        b.loc = a.loc;
        vals = {b.binary(k, cur, rhs)};
      }
      // Look the slot up again: lowering the value may have restructured
      // the environment's maps.
      slot = lookup(n->name);
      if (!slot) {
        b.create(ir::OpKind::ParamStore, {vals[0]})->str = n->name;
        return;
      }
      if (vals.size() == 1 && vals[0]->name.empty() && vals[0]->def)
        vals[0]->name = n->name;
      slot->vals = vals;
      return;
    }
    case StmtKind::If:
      lowerIf(static_cast<const IfStmt &>(s));
      return;
    case StmtKind::For:
      lowerFor(static_cast<const ForStmt &>(s));
      return;
    case StmtKind::While:
      lowerWhile(static_cast<const WhileStmt &>(s));
      return;
    case StmtKind::Expr:
      lowerExprStmt(*static_cast<const ExprStmt &>(s).expr);
      return;
    case StmtKind::Return:
      assert(false && "returns are handled by lowerSeq and lowerStmts");
      return;
    }
  }

  /// The region string of a slice / splice (ir/Ops.def) for the axes from
  /// `first` on of `ix`'s base: `i` for an int index, else the start.
  std::string regionSpec(const IndexExpr &ix, size_t first) {
    const auto &bounds = prog.slices.at(&ix);
    size_t rank = typeOf(*ix.base)->rank(), kept = 0;
    std::string spec;
    for (size_t k = 0; k < rank; ++k) {
      bool indexed = k < ix.indices.size() && !ix.indices[k].isSlice;
      if (!indexed)
        ++kept;
      if (k < first)
        continue;
      spec += spec.empty() ? "" : ",";
      spec += indexed ? "i" : std::to_string(bounds[kept - 1].lo);
    }
    return spec;
  }

  /// v[i, j] op= e  ->  v = insert(v, extract(v, i, j) op e, i, j)
  /// v[i, 1:3] op= e  ->  v = splice(v, slice(v, i) op e, i)
  void lowerElementUpdate(const AssignStmt &a, const IndexExpr &ix) {
    auto &name = static_cast<const NameExpr &>(*ix.base).name;
    const Type *et = typeOf(ix);
    bool sliced = prog.slices.count(&ix) != 0;
    std::vector<ir::Value *> idx;
    for (auto &i : ix.indices)
      if (!i.isSlice)
        idx.push_back(lowerExpr(*i.index));
    ir::Value *value = toShape(lowerExpr(*a.value), et);
    ir::Value *v = lookup(name)->vals[0];
    b.loc = a.loc;
    std::string spec = sliced ? regionSpec(ix, 0) : "";
    auto withIdx = [&](std::vector<ir::Value *> ops) {
      ops.insert(ops.end(), idx.begin(), idx.end());
      return ops;
    };
    if (a.op != AssignOp::Set) {
      ir::Op *read = b.create(sliced ? ir::OpKind::Slice : ir::OpKind::Extract,
                              withIdx({v}), {et});
      read->str = spec;
      ir::OpKind k = a.op == AssignOp::Add   ? ir::OpKind::FAdd
                     : a.op == AssignOp::Sub ? ir::OpKind::FSub
                     : a.op == AssignOp::Mul ? ir::OpKind::FMul
                                             : ir::OpKind::FDiv;
      value = b.binary(k, read->result(), value);
    }
    if (sliced && !value->type->isTensor()) {
      ir::Op *fill = b.create(ir::OpKind::Broadcast, {value}, {et});
      fill->ival = -1;
      value = fill->result();
    }
    ir::Op *op = b.create(sliced ? ir::OpKind::Splice : ir::OpKind::Insert,
                          withIdx({v, value}), {v->type});
    op->str = spec;
    ir::Value *updated = op->result();
    updated->name = name;
    lookup(name)->vals = {updated};
  }

  static bool declaredIsF64(const TypeExpr &t) {
    return t.kind == TypeExpr::F64;
  }

  void lowerIf(const IfStmt &s) {
    ir::Value *c = lowerExpr(*s.cond);
    lowerIfWith(
        c, [&] { lowerBlock(s.thenBlock); },
        [&] {
          if (s.elseBlock)
            lowerBlock(*s.elseBlock);
        });
  }

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
  carriedVars(const Block &body, std::vector<ir::Value *> &inits) {
    std::set<std::string> names;
    assignedNames(body, names);
    std::vector<std::pair<size_t, std::string>> out;
    for (auto &[d, n] : visibleVars())
      if (names.count(n)) {
        out.push_back({d, n});
        for (ir::Value *v : env[d][n].vals)
          inits.push_back(v);
      }
    return out;
  }

  void bindCarried(const std::vector<std::pair<size_t, std::string>> &carried,
                   ir::Block *region, size_t firstArg) {
    size_t k = firstArg;
    for (auto &[d, n] : carried) {
      Slot &s = env[d][n];
      for (auto &v : s.vals)
        v = region->args[k++].get();
    }
  }

  std::vector<ir::Value *>
  carriedValues(const std::vector<std::pair<size_t, std::string>> &carried) {
    std::vector<ir::Value *> out;
    for (auto &[d, n] : carried)
      for (ir::Value *v : env[d][n].vals)
        out.push_back(v);
    return out;
  }

  void bindResults(const std::vector<std::pair<size_t, std::string>> &carried,
                   ir::Op *op, size_t firstResult = 0) {
    size_t k = firstResult;
    for (auto &[d, n] : carried)
      for (auto &v : env[d][n].vals)
        v = op->result(k++);
  }

  void lowerFor(const ForStmt &s) {
    if (exiting() && firstReturn(s.body)) {
      lowerLoopAsWhile(s.body, nullptr, &s);
      return;
    }
    ir::Value *lo = lowerExpr(*s.lo), *hi = lowerExpr(*s.hi);
    b.loc = s.loc;
    std::vector<ir::Value *> inits;
    auto carried = carriedVars(s.body, inits);
    std::vector<ir::Value *> operands = {lo, hi};
    operands.insert(operands.end(), inits.begin(), inits.end());
    std::vector<const Type *> types;
    for (ir::Value *v : inits)
      types.push_back(v->type);
    ir::Op *op = b.create(ir::OpKind::For, operands, types);
    ir::Block *outer = b.getBlock();
    ir::Block *body = op->addRegion();
    ir::Value *iv = body->addArg(T.i64(), s.var.name);
    for (auto &[d, n] : carried)
      for (ir::Value *v : env[d][n].vals)
        body->addArg(v->type, n);
    for (size_t i = 0; i < op->results.size(); ++i)
      op->result(i)->name = body->args[i + 1]->name;
    bindCarried(carried, body, 1);
    b.setInsertionPointToEnd(body);
    env.emplace_back();
    env.back()[s.var.name] = {{iv}, T.i64(), false};
    lowerBlock(s.body);
    env.pop_back();
    b.yield(carriedValues(carried));
    b.setInsertionPointToEnd(outer);
    bindResults(carried, op);
  }

  void lowerWhile(const WhileStmt &s) {
    lowerLoopAsWhile(s.body, s.cond.get(), nullptr);
  }

  /// A `while` loop over `bodyBlk` with condition `condE`, or the `for`
  /// loop `f` lowered as one (it contains a return): its index is carried
  /// first, tested against `hi` (evaluated once) and advanced after the
  /// body. When the body contains a return, the condition first checks
  /// `not done`, so the loop ends at the return.
  void lowerLoopAsWhile(const Block &bodyBlk, const Expr *condE,
                        const ForStmt *f) {
    std::vector<ir::Value *> inits;
    ir::Value *hi = nullptr;
    if (f) {
      inits.push_back(lowerExpr(*f->lo));
      hi = lowerExpr(*f->hi);
      b.loc = f->loc;
    }
    size_t first = inits.size();
    auto carried = carriedVars(bodyBlk, inits);
    std::vector<const Type *> types;
    for (ir::Value *v : inits)
      types.push_back(v->type);
    ir::Op *op = b.create(ir::OpKind::While, inits, types);
    ir::Block *outer = b.getBlock();
    ir::Block *cond = op->addRegion(), *body = op->addRegion();
    std::string name = f ? f->var.name : "";
    if (f) {
      cond->addArg(T.i64(), name);
      body->addArg(T.i64(), name);
    }
    for (auto &[d, n] : carried)
      for (ir::Value *v : env[d][n].vals) {
        cond->addArg(v->type, n);
        body->addArg(v->type, n);
      }
    for (size_t i = 0; i < op->results.size(); ++i)
      op->result(i)->name = body->args[i]->name;
    Env saved = env;
    bindCarried(carried, cond, first);
    b.setInsertionPointToEnd(cond);
    auto userCond = [&] {
      return f ? b.cmp(ir::OpKind::ICmp, ir::CmpPred::Lt, cond->args[0].get(),
                       hi)
               : lowerExpr(*condE);
    };
    ir::Value *c = nullptr;
    if (exiting() && firstReturn(bodyBlk)) {
      ir::Value *notDone =
          b.unary(ir::OpKind::Not, lookup(kReturnDone)->vals[0]);
      c = branchValue(notDone, T.boolean(), userCond,
                      [&] { return b.constB(false); });
    } else {
      c = userCond();
    }
    b.yield({c});
    env = saved;
    bindCarried(carried, body, first);
    b.setInsertionPointToEnd(body);
    if (f) {
      env.emplace_back();
      env.back()[name] = {{body->args[0].get()}, T.i64(), false};
    }
    lowerBlock(bodyBlk);
    if (f)
      env.pop_back();
    std::vector<ir::Value *> next = carriedValues(carried);
    if (f)
      next.insert(next.begin(),
                  b.binary(ir::OpKind::IAdd, body->args[0].get(), b.constI(1)));
    b.yield(next);
    env = saved;
    b.setInsertionPointToEnd(outer);
    bindResults(carried, op, first);
  }

  void lowerExprStmt(const Expr &e) {
    if (auto *c = dyn<const CallExpr>(&e)) {
      auto *n = dyn<const NameExpr>(c->callee.get());
      if (n && !lookup(n->name) && !prog.signature(n->name)) {
        if (n->name == "print") {
          lowerPrint(*c);
          return;
        }
        if (n->name == "assert") {
          b.loc = c->loc;
          ir::Value *cond = lowerExpr(*c->args[0]);
          b.loc = c->loc;
          ir::Op *op = b.create(ir::OpKind::Assert, {cond});
          op->str = c->args.size() > 1
                        ? static_cast<const StringExpr &>(*c->args[1]).value
                        : "assertion failed";
          return;
        }
      }
    }
    lowerValues(e);
  }

  void lowerPrint(const CallExpr &c) {
    std::string tmpl;
    std::vector<ir::Value *> vals;
    for (size_t i = 0; i < c.args.size(); ++i) {
      if (i)
        tmpl += ' ';
      const Expr &a = *c.args[i];
      if (auto *s = dyn<const StringExpr>(&a)) {
        tmpl += s->value;
        continue;
      }
      std::vector<ir::Value *> vs = lowerValues(a);
      const Type *t = typeOf(a);
      if (t->isTuple()) {
        tmpl += '(';
        for (size_t k = 0; k < vs.size(); ++k)
          tmpl += k ? ", \x01" : "\x01";
        tmpl += ')';
      } else {
        tmpl += '\x01';
      }
      vals.insert(vals.end(), vs.begin(), vs.end());
    }
    tmpl += '\n';
    b.loc = c.loc;
    b.create(ir::OpKind::Print, vals)->str = tmpl;
  }

  //===--------------------------------------------------------------------===//
  // Expressions
  //===--------------------------------------------------------------------===//

  /// An operand of an elementwise op whose result has type `rt`: ints become
  /// f64; tensors of another shape are broadcast (NumPy rules); scalars stay
  /// scalars (the IR broadcasts them implicitly).
  ir::Value *toShape(ir::Value *v, const Type *rt) {
    v = coerce(v, T.f64());
    if (rt->isTensor() && v->type->isTensor() && v->type != rt) {
      ir::Op *op = b.create(ir::OpKind::Broadcast, {v}, {rt});
      op->ival = -1;
      return op->result();
    }
    return v;
  }

  ir::Value *coerce(ir::Value *v, const Type *to) {
    if (v->type->isInt() && to->isF64())
      return b.unary(ir::OpKind::IToF, v);
    return v;
  }

  /// Lowers `e` and converts its values to `types` (int -> f64).
  std::vector<ir::Value *> lowerTo(const Expr &e,
                                   const std::vector<const Type *> &types) {
    std::vector<ir::Value *> vals = lowerValues(e);
    for (size_t i = 0; i < vals.size() && i < types.size(); ++i)
      vals[i] = coerce(vals[i], types[i]);
    return vals;
  }

  /// All values of `e` (several for a tuple, none for a void call).
  std::vector<ir::Value *> lowerValues(const Expr &e) {
    if (auto *t = dyn<const TupleExpr>(&e)) {
      std::vector<ir::Value *> out;
      for (auto &x : t->elems) {
        auto vs = lowerValues(*x);
        out.insert(out.end(), vs.begin(), vs.end());
      }
      return out;
    }
    if (auto *c = dyn<const CallExpr>(&e))
      if (std::string callee = userCallee(*c); !callee.empty())
        return lowerUserCall(*c, callee);
    if (auto *n = dyn<const NameExpr>(&e))
      if (Slot *s = lookup(n->name))
        return s->vals;
    return {lowerExpr(e)};
  }

  /// The IR function a call expression targets, or "" for a builtin.
  std::string userCallee(const CallExpr &c) {
    if (auto *inner = dyn<const CallExpr>(c.callee.get()))
      return prog.inlineDerived.at(inner);
    auto *n = static_cast<const NameExpr *>(c.callee.get());
    if (prog.signature(n->name))
      return n->name;
    return "";
  }

  std::vector<ir::Value *> lowerUserCall(const CallExpr &c,
                                         const std::string &callee) {
    ir::Function *f = mod->lookup(callee);
    const sema::FnSig &sig = *prog.signature(callee);
    std::vector<ir::Value *> args;
    for (size_t i = 0; i < c.args.size(); ++i)
      args.push_back(coerce(lowerExpr(*c.args[i]), sig.params[i]));
    b.loc = c.loc;
    ir::Op *op = b.create(ir::OpKind::Call, args, flatten(sig.result));
    op->str = callee;
    (void)f;
    std::vector<ir::Value *> out;
    for (auto &r : op->results)
      out.push_back(r.get());
    return out;
  }

  ir::Value *paramLoad(const std::string &name, const Type *t) {
    ir::Op *op = b.create(ir::OpKind::ParamLoad, {}, {t});
    op->str = name;
    op->result()->name = name;
    return op->result();
  }

  ir::Value *lowerExpr(const Expr &e) {
    b.loc = e.loc;
    switch (e.kind) {
    case ExprKind::Number: {
      auto &n = static_cast<const NumberExpr &>(e);
      return n.isInt ? b.constI(n.intValue) : b.constF(n.floatValue);
    }
    case ExprKind::Bool:
      return b.constB(static_cast<const BoolExpr &>(e).value);
    case ExprKind::Name: {
      auto &n = static_cast<const NameExpr &>(e);
      if (Slot *s = lookup(n.name))
        return s->vals[0];
      auto c = prog.consts.find(n.name);
      if (c != prog.consts.end())
        return c->second.isInt ? b.constI(c->second.i) : b.constF(c->second.f);
      return paramLoad(n.name, typeOf(e));
    }
    case ExprKind::Unary: {
      auto &u = static_cast<const UnaryExpr &>(e);
      ir::Value *v = lowerExpr(*u.operand);
      b.loc = e.loc;
      switch (u.op) {
      case UnaryOp::Plus:
        return v;
      case UnaryOp::Neg:
        return b.unary(v->type->isInt() ? ir::OpKind::INeg : ir::OpKind::FNeg,
                       v);
      case UnaryOp::Not:
        return b.unary(ir::OpKind::Not, v);
      }
      return v;
    }
    case ExprKind::Binary:
      return lowerBinary(static_cast<const BinaryExpr &>(e));
    case ExprKind::Call:
      return lowerCall(static_cast<const CallExpr &>(e));
    case ExprKind::IfExpr: {
      auto &i = static_cast<const IfExpr &>(e);
      const Type *t = typeOf(e);
      ir::Value *c = lowerExpr(*i.cond);
      return branchValue(
          c, t, [&] { return lowerTo(*i.thenExpr, {t})[0]; },
          [&] { return lowerTo(*i.elseExpr, {t})[0]; });
    }
    case ExprKind::Tuple: {
      // A tuple in a scalar position (sema allows only print/return/let).
      return lowerValues(e)[0];
    }
    case ExprKind::Index: {
      auto &ix = static_cast<const IndexExpr &>(e);
      ir::Value *base = lowerExpr(*ix.base);
      std::vector<ir::Value *> ops = {base};
      for (auto &a : ix.indices)
        if (!a.isSlice)
          ops.push_back(lowerExpr(*a.index));
      b.loc = e.loc;
      if (!prog.slices.count(&ix))
        return b.create(ir::OpKind::Extract, ops, {typeOf(e)})->result();
      // Leading int indices first (a view), then the slice of the other
      // axes, which may index some of them (`X[:, j]`).
      size_t lead = 0;
      while (lead < ix.indices.size() && !ix.indices[lead].isSlice)
        ++lead;
      ir::Value *x = base;
      if (lead > 0) {
        std::vector<int64_t> rest(base->type->shape.begin() + lead,
                                  base->type->shape.end());
        x = b.create(ir::OpKind::Extract, {ops.begin(), ops.begin() + lead + 1},
                     {T.tensor(rest)})
                ->result();
      }
      std::vector<ir::Value *> sops = {x};
      sops.insert(sops.end(), ops.begin() + lead + 1, ops.end());
      ir::Op *op = b.create(ir::OpKind::Slice, sops, {typeOf(e)});
      op->str = regionSpec(ix, lead);
      return op->result();
    }
    case ExprKind::TensorLit: {
      auto &lit = static_cast<const TensorLitExpr &>(e);
      const Type *t = typeOf(e);
      const Type *elem = t->rank() == 1
                             ? T.f64()
                             : T.tensor({t->shape.begin() + 1, t->shape.end()});
      std::vector<ir::Value *> ops;
      for (auto &x : lit.elems)
        ops.push_back(coerce(lowerExpr(*x), elem));
      b.loc = e.loc;
      return b.create(ir::OpKind::Pack, ops, {t})->result();
    }
    case ExprKind::String:
      break;
    }
    assert(false && "sema rejects this expression");
    return b.constF(0);
  }

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

  ir::Value *lowerBinary(const BinaryExpr &e) {
    using ir::OpKind;
    if (e.op == BinaryOp::And || e.op == BinaryOp::Or) {
      // Short-circuit: `a and b` is `if a { b } else { false }`.
      ir::Value *l = lowerExpr(*e.lhs);
      bool isAnd = e.op == BinaryOp::And;
      return branchValue(
          l, T.boolean(),
          [&] { return isAnd ? lowerExpr(*e.rhs) : b.constB(true); },
          [&] { return isAnd ? b.constB(false) : lowerExpr(*e.rhs); });
    }
    ir::Value *l = lowerExpr(*e.lhs), *r = lowerExpr(*e.rhs);
    b.loc = e.opLoc;
    const Type *lt = l->type, *rt = r->type;
    bool ints = lt->isInt() && rt->isInt();
    if (lt->isBool() && rt->isBool()) {
      ir::Value *eq = b.binary(OpKind::BEq, l, r);
      eq->def->results[0]->type = T.boolean();
      return e.op == BinaryOp::Eq ? eq : b.unary(OpKind::Not, eq);
    }
    if (e.op == BinaryOp::MatMul) {
      ir::Op *mm = b.create(OpKind::MatMul, {l, r}, {typeOf(e)});
      return mm->result();
    }
    if (!ints || e.op == BinaryOp::Pow) {
      l = toShape(l, typeOf(e));
      r = toShape(r, typeOf(e));
    }
    auto cmp = [&](ir::CmpPred p) {
      return b.cmp(ints ? OpKind::ICmp : OpKind::FCmp, p, l, r);
    };
    switch (e.op) {
    case BinaryOp::Add:
      return b.binary(ints ? OpKind::IAdd : OpKind::FAdd, l, r);
    case BinaryOp::Sub:
      return b.binary(ints ? OpKind::ISub : OpKind::FSub, l, r);
    case BinaryOp::Mul:
      return b.binary(ints ? OpKind::IMul : OpKind::FMul, l, r);
    case BinaryOp::Div:
      return b.binary(ints ? OpKind::IDiv : OpKind::FDiv, l, r);
    case BinaryOp::Mod:
      return b.binary(ints ? OpKind::IRem : OpKind::FRem, l, r);
    case BinaryOp::Pow:
      return b.binary(OpKind::Pow, l, r);
    case BinaryOp::Eq:
      return cmp(ir::CmpPred::Eq);
    case BinaryOp::Ne:
      return cmp(ir::CmpPred::Ne);
    case BinaryOp::Lt:
      return cmp(ir::CmpPred::Lt);
    case BinaryOp::Le:
      return cmp(ir::CmpPred::Le);
    case BinaryOp::Gt:
      return cmp(ir::CmpPred::Gt);
    case BinaryOp::Ge:
      return cmp(ir::CmpPred::Ge);
    default:
      break;
    }
    assert(false && "sema rejects this operator");
    return l;
  }

  ir::Value *lowerCall(const CallExpr &c) {
    using ir::OpKind;
    if (std::string callee = userCallee(c); !callee.empty())
      return lowerUserCall(c, callee)[0];
    const std::string &n = static_cast<const NameExpr &>(*c.callee).name;
    static const std::map<std::string, OpKind> unary = {
        {"exp", OpKind::Exp},
        {"log", OpKind::Log},
        {"sqrt", OpKind::Sqrt},
        {"sin", OpKind::Sin},
        {"cos", OpKind::Cos},
        {"tan", OpKind::Tan},
        {"tanh", OpKind::Tanh},
        {"sigmoid", OpKind::Sigmoid},
        {"relu", OpKind::Relu},
        {"softplus", OpKind::Softplus},
        {"sign", OpKind::Sign},
        {"lgamma", OpKind::Lgamma},
        {"stop_gradient", OpKind::StopGrad}};
    std::vector<ir::Value *> args;
    for (auto &a : c.args)
      args.push_back(lowerExpr(*a));
    b.loc = c.loc;
    auto f = [&](size_t i) { return coerce(args[i], T.f64()); };
    if (auto it = unary.find(n); it != unary.end())
      return b.unary(it->second, f(0));
    if (n == "abs") {
      if (!args[0]->type->isInt())
        return b.unary(OpKind::Abs, f(0));
      ir::Value *neg =
          b.cmp(OpKind::ICmp, ir::CmpPred::Lt, args[0], b.constI(0));
      return b.select(neg, b.unary(OpKind::INeg, args[0]), args[0]);
    }
    if (n == "max" || n == "min") {
      bool isMax = n == "max";
      if (args[0]->type->isInt() && args[1]->type->isInt()) {
        ir::Value *gt =
            b.cmp(OpKind::ICmp, isMax ? ir::CmpPred::Ge : ir::CmpPred::Le,
                  args[0], args[1]);
        return b.select(gt, args[0], args[1]);
      }
      return b.binary(isMax ? OpKind::Max : OpKind::Min,
                      toShape(args[0], typeOf(c)), toShape(args[1], typeOf(c)));
    }
    const Type *rt = typeOf(c);
    if (n == "pow")
      return b.binary(OpKind::Pow, toShape(args[0], rt), toShape(args[1], rt));
    if (n == "clip")
      return b
          .create(OpKind::Clip,
                  {toShape(args[0], rt), toShape(args[1], rt),
                   toShape(args[2], rt)},
                  {rt})
          ->result();
    if (n == "float")
      return f(0);
    if (n == "int")
      return args[0]->type->isInt() ? args[0] : b.unary(OpKind::FToI, args[0]);
    return lowerTensorBuiltin(c, n, args);
  }

  ir::Value *create1(ir::OpKind k, std::vector<ir::Value *> ops, const Type *t,
                     int64_t ival = 0) {
    ir::Op *op = b.create(k, std::move(ops), {t});
    op->ival = ival;
    return op->result();
  }

  /// x -> reduce over `axis` (-1: everything).
  ir::Value *reduce(ir::OpKind k, ir::Value *x, int64_t axis) {
    const Type *t = axis < 0 ? T.f64() : sema::removeAxis(T, x->type, axis);
    return create1(k, {x}, t, axis);
  }

  /// A reduced value back to the shape of `like` (inverse of reduce).
  ir::Value *expand(ir::Value *v, const Type *like, int64_t axis) {
    if (!v->type->isTensor() && axis < 0)
      return v; // scalars broadcast implicitly in elementwise ops
    return create1(ir::OpKind::Broadcast, {v}, like, axis);
  }

  /// The stable pieces of logsumexp over `axis`: m = max (under
  /// stop_gradient: results do not depend on it), z = x - m, s = sum(exp z).
  /// logsumexp = m + log s, log_softmax = z - log s, softmax = exp(z) / s;
  /// no exp overflows and no large values cancel (inputs around +-1000).
  struct Lse {
    ir::Value *m, *z, *s;
  };
  Lse lsePieces(ir::Value *x, int64_t axis) {
    using ir::OpKind;
    ir::Value *m =
        b.unary(OpKind::StopGrad, reduce(OpKind::ReduceMax, x, axis));
    ir::Value *z = b.binary(OpKind::FSub, x, expand(m, x->type, axis));
    ir::Value *s = reduce(OpKind::ReduceSum, b.unary(OpKind::Exp, z), axis);
    return {m, z, s};
  }

  ir::Value *logSumExp(ir::Value *x, int64_t axis) {
    Lse p = lsePieces(x, axis);
    return b.binary(ir::OpKind::FAdd, p.m, b.unary(ir::OpKind::Log, p.s));
  }

  ir::Value *lowerTensorBuiltin(const CallExpr &c, const std::string &n,
                                std::vector<ir::Value *> &args) {
    using ir::OpKind;
    const Type *rt = typeOf(c);
    ir::Value *x = args.empty() ? nullptr : args[0];
    auto axisIt = prog.axes.find(&c);
    int64_t axis = axisIt == prog.axes.end() ? -1 : axisIt->second;
    if (n == "zeros" || n == "ones")
      return create1(OpKind::Broadcast, {b.constF(n == "ones" ? 1.0 : 0.0)}, rt,
                     -1);
    if (n == "sum")
      return reduce(OpKind::ReduceSum, x, axis);
    if (n == "mean") {
      int64_t count = axis < 0 ? x->type->numElements() : x->type->shape[axis];
      return b.binary(OpKind::FDiv, reduce(OpKind::ReduceSum, x, axis),
                      b.constF((double)count));
    }
    if (n == "logsumexp")
      return logSumExp(x, axis);
    int64_t last = (int64_t)x->type->rank() - 1;
    if (n == "softmax" || n == "log_softmax") {
      int64_t axis = x->type->rank() == 1 ? -1 : last;
      Lse p = lsePieces(x, axis);
      if (n == "softmax")
        return b.binary(OpKind::FDiv, b.unary(OpKind::Exp, p.z),
                        expand(p.s, x->type, axis));
      return b.binary(OpKind::FSub, p.z,
                      expand(b.unary(OpKind::Log, p.s), x->type, axis));
    }
    if (n == "norm")
      return b.unary(OpKind::Sqrt, reduce(OpKind::ReduceSum,
                                          b.binary(OpKind::FMul, x, x), -1));
    if (n == "dot")
      return create1(OpKind::MatMul, {x, args[1]}, T.f64());
    if (n == "len")
      return b.constI(x->type->shape[0]);
    if (n == "transpose")
      return create1(OpKind::Transpose, {x}, rt);
    if (n == "argmax")
      return create1(OpKind::ArgMax, {x}, T.i64());
    if (n == "outer")
      return b.binary(OpKind::FMul, create1(OpKind::Broadcast, {x}, rt, 1),
                      create1(OpKind::Broadcast, {args[1]}, rt, 0));
    assert(false && "sema rejects other builtins here");
    return x;
  }
};

} // namespace

std::unique_ptr<ir::Module> generateIR(const ast::Module &module,
                                       const sema::Program &prog,
                                       TypeContext &types, DiagEngine &diags) {
  return IRGen(prog, types, diags).run(diags.source().path);
}

} // namespace bp
