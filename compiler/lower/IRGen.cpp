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
#include "lower/IRGenImpl.h"

#include "sema/Shapes.h"

#include <cassert>
#include <map>
#include <set>

namespace bp::irgen {
namespace {

using namespace ast;

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

} // namespace

std::unique_ptr<ir::Module> IRGen::run(const std::string &path) {
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
  mod->derived = prog.derived; // built by the `ad` pass
  return std::move(mod);
}

std::vector<const Type *> IRGen::flatten(const Type *t) {
  if (t->isVoid())
    return {};
  if (t->isTuple())
    return t->elems;
  return {t};
}

const Type *IRGen::typeOf(const Expr &e) {
  return static_cast<const Type *>(e.type);
}

Slot *IRGen::lookup(const std::string &n) {
  for (auto it = env.rbegin(); it != env.rend(); ++it) {
    auto f = it->find(n);
    if (f != it->end())
      return &f->second;
  }
  return nullptr;
}

void IRGen::bind(const std::string &n, std::vector<ir::Value *> vals,
                 const Type *t, bool isVar) {
  for (size_t i = 0; i < vals.size(); ++i)
    if (vals[i]->name.empty() && vals[i]->def &&
        vals[i]->def->kind != ir::OpKind::ConstF &&
        vals[i]->def->kind != ir::OpKind::ConstI)
      vals[i]->name = vals.size() == 1 ? n : n + "." + std::to_string(i);
  env.back()[n] = {std::move(vals), t, isVar};
}

/// Every visible var slot, outermost first; the key identifies a slot by
/// scope depth and name so snapshots can be compared.
std::vector<std::pair<size_t, std::string>> IRGen::visibleVars() {
  std::vector<std::pair<size_t, std::string>> out;
  std::set<std::string> seen;
  for (size_t d = env.size(); d-- > 0;)
    for (auto &[n, s] : env[d])
      if (seen.insert(n).second && s.isVar)
        out.push_back({d, n});
  return out;
}

void IRGen::lowerFn(const FnItem &f, ir::Function &irFn) {
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
void IRGen::lowerSeq(std::vector<Segment> k, bool tail) {
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

ir::Value *IRGen::zeroOf(const Type *t) {
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

void IRGen::lowerTailIf(const IfStmt &s, std::vector<Segment> k, bool tail) {
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
void IRGen::returnResults(const ir::Op &op, bool tail) {
  std::vector<ir::Value *> rs;
  for (auto &r : op.results)
    rs.push_back(r.get());
  b.create(tail ? ir::OpKind::Yield : ir::OpKind::Return, rs);
}

/// A loop (for or while) that contains a return, at statement level of
/// the function (`k` is the rest of it): the hidden vars start as
/// (false, zeros), then the loop, then `if done { return the value }
/// else { k }`.
void IRGen::lowerExitingLoop(const Stmt &loop, std::vector<Segment> k,
                             bool tail) {
  b.loc = loop.loc;
  std::vector<ir::Value *> zeros;
  for (const Type *t : fn->resultTypes)
    zeros.push_back(zeroOf(t));
  env.back()[kReturnDone] = {{b.constB(false)}, T.boolean(), true};
  env.back()[kReturnValue] = {zeros, nullptr, true};
  lowerStmt(loop);
  b.loc = loop.loc;
  ir::Op *op =
      b.create(ir::OpKind::If, {lookup(kReturnDone)->vals[0]}, fn->resultTypes);
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

void IRGen::lowerStmts(const std::vector<StmtPtr> &stmts, size_t from) {
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

void IRGen::lowerBlock(const Block &blk) {
  env.emplace_back();
  lowerStmts(blk.stmts, 0);
  env.pop_back();
}

/// `s` with each NUL byte written `\0`: the runtime prints an assert's
/// message as a C string, which a NUL would cut short.
static std::string visibleNuls(const std::string &s) {
  std::string out;
  for (char c : s)
    out += c == '\0' ? std::string("\\0") : std::string(1, c);
  return out;
}

/// The binary op of the compound assignment `op` (`+=` is FAdd / IAdd).
static ir::OpKind compoundOp(AssignOp op, bool ints) {
  switch (op) {
  case AssignOp::Add:
    return ints ? ir::OpKind::IAdd : ir::OpKind::FAdd;
  case AssignOp::Sub:
    return ints ? ir::OpKind::ISub : ir::OpKind::FSub;
  case AssignOp::Mul:
    return ints ? ir::OpKind::IMul : ir::OpKind::FMul;
  case AssignOp::Div:
    return ints ? ir::OpKind::IDiv : ir::OpKind::FDiv;
  case AssignOp::Set:
    break;
  }
  assert(false && "'=' is not a compound assignment");
  return ir::OpKind::FAdd;
}

void IRGen::lowerStmt(const Stmt &s) {
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
      if (t->isIntTensor() && l.type->kind == TypeExpr::Tensor &&
          !l.type->intElems)
        t = T.withElems(t, Elem::F64);
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
      // An int var takes int ops; an f64 or a tensor (elementwise, the
      // value broadcast to its shape by sema's rule) takes f64 ops.
      bool ints = t->isIntLike();
      rhs = t->isInt() ? lowerExpr(*a.value) : toShape(lowerExpr(*a.value), t);
      b.loc = a.loc;
      vals = {b.binary(compoundOp(a.op, ints), cur, rhs)};
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

/// The region of a slice / splice (ir/Ops.def) for the axes from `first`
/// on of `ix`'s base: indexed for an int index, else kept from the start.
std::vector<ir::SliceAxis> IRGen::regionSpec(const IndexExpr &ix,
                                             size_t first) {
  const auto &bounds = prog.slices.at(&ix);
  size_t rank = typeOf(*ix.base)->rank(), kept = 0;
  std::vector<ir::SliceAxis> region;
  for (size_t k = 0; k < rank; ++k) {
    bool indexed = k < ix.indices.size() && !ix.indices[k].isSlice;
    if (!indexed)
      ++kept;
    if (k < first)
      continue;
    region.push_back(indexed ? ir::SliceAxis::indexed()
                     : bounds[kept - 1].start
                         ? ir::SliceAxis::window()
                         : ir::SliceAxis::at(bounds[kept - 1].lo));
  }
  return region;
}

/// A window's start `i` of `x[i:i + K]` (sema's SliceBounds::start), or
/// null for a slice with constant bounds.
ir::Value *IRGen::windowStart(const IndexArg &a) {
  return a.isSlice && a.lo && prog.windowStarts.count(a.lo.get())
             ? lowerExpr(*a.lo)
             : nullptr;
}

/// v[i, j] op= e  ->  v = insert(v, extract(v, i, j) op e, i, j)
/// v[i, 1:3] op= e  ->  v = splice(v, slice(v, i) op e, i)
void IRGen::lowerElementUpdate(const AssignStmt &a, const IndexExpr &ix) {
  auto &name = static_cast<const NameExpr &>(*ix.base).name;
  const Type *et = typeOf(ix);
  bool sliced = prog.slices.count(&ix) != 0;
  std::vector<ir::Value *> idx;
  for (auto &i : ix.indices)
    if (!i.isSlice)
      idx.push_back(lowerExpr(*i.index));
    else if (ir::Value *start = windowStart(i))
      idx.push_back(start);
  ir::Value *value = toShape(lowerExpr(*a.value), et);
  ir::Value *v = lookup(name)->vals[0];
  b.loc = a.loc;
  std::vector<ir::SliceAxis> region;
  if (sliced)
    region = regionSpec(ix, 0);
  auto withIdx = [&](std::vector<ir::Value *> ops) {
    ops.insert(ops.end(), idx.begin(), idx.end());
    return ops;
  };
  if (a.op != AssignOp::Set) {
    ir::Op *read = b.create(sliced ? ir::OpKind::Slice : ir::OpKind::Extract,
                            withIdx({v}), {et});
    read->slice = region;
    value = b.binary(compoundOp(a.op, et->isIntLike()), read->result(), value);
  }
  if (sliced && !value->type->isTensor()) {
    ir::Op *fill = b.create(ir::OpKind::Broadcast, {value}, {et});
    fill->ival = -1;
    value = fill->result();
  }
  ir::Op *op = b.create(sliced ? ir::OpKind::Splice : ir::OpKind::Insert,
                        withIdx({v, value}), {v->type});
  op->slice = std::move(region);
  ir::Value *updated = op->result();
  updated->name = name;
  lookup(name)->vals = {updated};
}

bool IRGen::declaredIsF64(const TypeExpr &t) { return t.kind == TypeExpr::F64; }

void IRGen::lowerIf(const IfStmt &s) {
  ir::Value *c = lowerExpr(*s.cond);
  lowerIfWith(
      c, [&] { lowerBlock(s.thenBlock); },
      [&] {
        if (s.elseBlock)
          lowerBlock(*s.elseBlock);
      });
}

/// The var slots a loop body may assign, as (depth, name), with their
/// current values flattened into `inits`.
std::vector<std::pair<size_t, std::string>>
IRGen::carriedVars(const Block &body, std::vector<ir::Value *> &inits) {
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

void IRGen::bindCarried(
    const std::vector<std::pair<size_t, std::string>> &carried,
    ir::Block *region, size_t firstArg) {
  size_t k = firstArg;
  for (auto &[d, n] : carried) {
    Slot &s = env[d][n];
    for (auto &v : s.vals)
      v = region->args[k++].get();
  }
}

void IRGen::bindResults(
    const std::vector<std::pair<size_t, std::string>> &carried, ir::Op *op,
    size_t firstResult) {
  size_t k = firstResult;
  for (auto &[d, n] : carried)
    for (auto &v : env[d][n].vals)
      v = op->result(k++);
}

void IRGen::lowerFor(const ForStmt &s) {
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
    op->result(i)->name = op->carriedArg(i)->name;
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

void IRGen::lowerWhile(const WhileStmt &s) {
  lowerLoopAsWhile(s.body, s.cond.get(), nullptr);
}

/// A `while` loop over `bodyBlk` with condition `condE`, or the `for`
/// loop `f` lowered as one (it contains a return): its index is carried
/// first, tested against `hi` (evaluated once) and advanced after the
/// body. When the body contains a return, the condition first checks
/// `not done`, so the loop ends at the return.
void IRGen::lowerLoopAsWhile(const Block &bodyBlk, const Expr *condE,
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
  if (f)
    op->str = "for"; // for explain's markers: the first value is the index
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
    op->result(i)->name = op->carriedArg(i)->name;
  Env saved = env;
  bindCarried(carried, cond, first);
  b.setInsertionPointToEnd(cond);
  auto userCond = [&] {
    return f ? b.cmp(ir::OpKind::ICmp, ir::CmpPred::Lt, cond->args[0].get(), hi)
             : lowerExpr(*condE);
  };
  ir::Value *c = nullptr;
  if (exiting() && firstReturn(bodyBlk)) {
    ir::Value *notDone = b.unary(ir::OpKind::Not, lookup(kReturnDone)->vals[0]);
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

void IRGen::lowerExprStmt(const Expr &e) {
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
                      ? visibleNuls(
                            static_cast<const StringExpr &>(*c->args[1]).value)
                      : "assertion failed";
        return;
      }
    }
  }
  lowerValues(e);
}

void IRGen::lowerPrint(const CallExpr &c) {
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

} // namespace bp::irgen

namespace bp {

std::unique_ptr<ir::Module> generateIR(const ast::Module &module,
                                       const sema::Program &prog,
                                       TypeContext &types, DiagEngine &diags) {
  return irgen::IRGen(prog, types, diags).run(diags.source().path);
}

} // namespace bp
