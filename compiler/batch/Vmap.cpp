//===- Vmap.cpp - vmap: batching as an IR -> IR transform -----------------===//
//
// A Batcher walks f's body once, mapping each value to its batched version:
// either unchanged (it does not depend on the example: params, constants,
// shared arguments) or with a leading axis of size B. Each op with a batched
// operand gets its batching rule (docs/VMAP.md); an op without one runs as a
// loop over the examples (`perExample`), and a function whose batched values
// would include an int, or that has effects, runs whole as such a loop
// (`loopOverExamples`). Control flow: an `if` on a shared condition and
// loops keep their structure (a fixpoint decides which carried values are
// batched); an `if` on a batched condition becomes a select of both
// branches when they are cheap and total, else a loop over the examples.
//
//===----------------------------------------------------------------------===//
#include "batch/Vmap.h"
#include "ir/CallGraph.h"

#include <algorithm>
#include <functional>
#include <set>

namespace bp::batch {

using ir::Block;
using ir::Op;
using ir::OpKind;
using ir::SliceAxis;
using ir::Value;

const Type *batchedType(TypeContext &T, const Type *t, int64_t B) {
  if (t->isF64() || t->isBool() || t->isInt())
    return T.tensor({B}, TypeContext::elemOf(t));
  if (!t->isTensor())
    return nullptr;
  std::vector<int64_t> shape = {B};
  shape.insert(shape.end(), t->shape.begin(), t->shape.end());
  return T.tensor(shape, t->elem);
}

bool batchable(const Type *t) {
  return t->isDifferentiable() || t->isInt() || t->isIntTensor();
}

namespace {

/// The per-example type of a batched type: the leading axis removed.
const Type *exampleType(TypeContext &T, const Type *t) {
  if (t->rank() == 1)
    return T.scalar(t->elem);
  return T.tensor(std::vector<int64_t>(t->shape.begin() + 1, t->shape.end()),
                  t->elem);
}

bool hasEffect(OpKind k) {
  switch (k) {
  case OpKind::Print:
  case OpKind::Assert:
  case OpKind::ParamStore:
  case OpKind::ParamAdd:
  case OpKind::ReadCsv:
  case OpKind::TapeNew:
  case OpKind::TapePush:
  case OpKind::TapeReserve:
  case OpKind::TapePop:
  case OpKind::TapeFree:
    return true;
  default:
    return false;
  }
}

/// Ops that a batched `if` may run for every example, taken or not, and
/// select from: total (no error, no division, no log of a negative: no NaN
/// that could reach an adjoint) and cheap.
bool selectSafe(OpKind k) {
  switch (k) {
  case OpKind::ConstF:
  case OpKind::ConstI:
  case OpKind::ConstB:
  case OpKind::FAdd:
  case OpKind::FSub:
  case OpKind::FMul:
  case OpKind::FNeg:
  case OpKind::Max:
  case OpKind::Min:
  case OpKind::Clip:
  case OpKind::Abs:
  case OpKind::Relu:
  case OpKind::Sign:
  case OpKind::Tanh:
  case OpKind::Sigmoid:
  case OpKind::Sin:
  case OpKind::Cos:
  case OpKind::Atan:
  case OpKind::Erf:
  case OpKind::StopGrad:
  case OpKind::FCmp:
  case OpKind::Not:
  case OpKind::BEq:
  case OpKind::Select:
  case OpKind::Broadcast:
  case OpKind::SumTo:
  case OpKind::ReduceSum:
  case OpKind::ReduceMax:
  case OpKind::MaxMask:
  case OpKind::MatMul:
  case OpKind::Transpose:
  case OpKind::Reshape:
  case OpKind::Im2Col:
  case OpKind::Col2Im:
  case OpKind::Pack:
  case OpKind::ParamLoad:
  case OpKind::Yield:
    return true;
  default:
    return false;
  }
}

bool blockSelectSafe(const Block &b) {
  for (auto &op : b.ops)
    if (!selectSafe(op->kind) || !op->regions.empty())
      return false;
  return true;
}

/// f, or a function it calls, has an effect: it must run once per example.
class EffectAnalysis {
public:
  explicit EffectAnalysis(const ir::Module &m) : m(m) {}
  bool function(const std::string &name) {
    auto it = memo.find(name);
    if (it != memo.end())
      return it->second;
    memo[name] = false; // recursion: assume none until found
    const ir::Function *f = m.lookup(name);
    bool e = f && block(*f->body);
    memo[name] = e;
    return e;
  }
  bool block(const Block &b) {
    for (auto &op : b.ops) {
      if (hasEffect(op->kind) ||
          (op->kind == OpKind::Call && function(op->callee())))
        return true;
      for (auto &r : op->regions)
        if (block(*r))
          return true;
    }
    return false;
  }

private:
  const ir::Module &m;
  std::map<std::string, bool> memo;
};

/// Whether `name` can call itself, directly or through other functions.
bool recursive(const ir::Module &m, const std::string &name) {
  std::set<std::string> seen;
  std::vector<std::string> work = {name};
  while (!work.empty()) {
    const ir::Function *g = m.lookup(work.back());
    work.pop_back();
    if (!g)
      continue;
    std::vector<std::string> calls;
    ir::calleeNames(*g->body, calls);
    for (const std::string &c : calls) {
      if (c == name)
        return true;
      if (seen.insert(c).second)
        work.push_back(c);
    }
  }
  return false;
}

std::string maskName(const std::vector<bool> &batched) {
  std::string s;
  for (bool x : batched)
    s += x ? '1' : '0';
  return s;
}

class Batcher {
public:
  Batcher(ir::Module &m, ir::Function &f, ir::Function &out, int64_t B)
      : m(m), T(*m.types), f(f), out(out), B(B), b(T) {}

  /// Builds out's body; false when f must run as a loop over examples.
  bool run(const std::vector<bool> &batchedArgs) {
    if (EffectAnalysis(m).block(*f.body))
      return false;
    startBody(batchedArgs);
    if (!batchOps(*f.body))
      return false;
    out.body = std::move(body);
    return true;
  }

  /// The whole of f as a loop over the examples, each calling f: the
  /// per-example rule applied to one call of f.
  void loopOverExamples(const std::vector<bool> &batchedArgs) {
    startBody(batchedArgs);
    b.loc = f.loc;
    Op call(OpKind::Call, f.loc);
    call.str = f.name;
    for (auto &a : f.args())
      call.operands.push_back(a.get());
    for (const Type *t : f.resultTypes)
      call.addResult(t);
    bool ok = perExample(call);
    std::vector<Value *> results;
    for (auto &r : call.results)
      results.push_back(get(r.get()));
    ok = ok && batchReturn(results);
    assert(ok && "getBatched checked that every result can be batched");
    (void)ok;
    out.body = std::move(body);
  }

private:
  ir::Module &m;
  TypeContext &T;
  ir::Function &f, &out;
  int64_t B;
  ir::Builder b;
  std::unique_ptr<Block> body;
  std::map<const Value *, Value *> map; // f's values -> out's
  std::set<const Value *> batched;      // out's values with the B axis
  /// Loop bodies of a fixpoint's earlier tries: kept, so that no new value
  /// reuses the address of one in `batched`.
  std::vector<std::unique_ptr<Op>> discarded;

  /// A new body whose arguments are f's, batched where `batchedArgs` says.
  void startBody(const std::vector<bool> &batchedArgs) {
    body = std::make_unique<Block>();
    map.clear();
    batched.clear();
    for (size_t i = 0; i < f.args().size(); ++i) {
      Value *a = f.args()[i].get();
      const Type *t = batchedArgs[i] ? batchedType(T, a->type, B) : a->type;
      Value *na = body->addArg(t, a->name);
      map[a] = na;
      if (batchedArgs[i])
        batched.insert(na);
    }
    b.setInsertionPointToEnd(body.get());
  }

  Value *get(Value *v) {
    auto it = map.find(v);
    return it == map.end() ? v : it->second;
  }
  bool isBatched(Value *nv) const { return batched.count(nv) != 0; }
  Value *mark(Value *nv) {
    batched.insert(nv);
    return nv;
  }

  Value *create1(OpKind k, std::vector<Value *> ops, const Type *t,
                 int64_t ival = 0) {
    Op *op = b.create(k, std::move(ops), {t});
    op->ival = ival;
    return op->result();
  }

  /// `nv` (batched or not) as a batched value whose examples have type
  /// `target` (NumPy broadcasting of each example); null for bools.
  Value *widen(Value *nv, const Type *target) {
    const Type *want = batchedType(T, target, B);
    if (want && want->elem == Elem::Int && nv->type->elem == Elem::Int) {
      // Int tensors (a batched int is one): a batched one of the example's
      // type as it is, a shared one copied to every example.
      if (isBatched(nv))
        return nv->type == want ? nv : nullptr;
      return mark(create1(OpKind::Broadcast, {nv}, want, -1));
    }
    if (!want || want->elem != Elem::F64)
      return nullptr;
    if (!isBatched(nv)) {
      if (!nv->type->isDifferentiable())
        return nullptr;
      // Trailing axes align: the new leading axis is one more broadcast axis.
      return mark(create1(OpKind::Broadcast, {nv}, want, -1));
    }
    if (nv->type == want)
      return nv;
    if (nv->type->elem != Elem::F64)
      return nullptr;
    // Add the example's missing leading axes, one at a time after B.
    std::vector<int64_t> cur(nv->type->shape.begin() + 1,
                             nv->type->shape.end());
    size_t missing = target->rank() - cur.size();
    for (size_t k = missing; k-- > 0;) {
      cur.insert(cur.begin(), target->shape[k]);
      std::vector<int64_t> shape = {B};
      shape.insert(shape.end(), cur.begin(), cur.end());
      nv = create1(OpKind::Broadcast, {nv}, T.tensor(shape), 1);
    }
    if (nv->type != want) // size-1 axes stretch
      nv = create1(OpKind::Broadcast, {nv}, want, -1);
    return mark(nv);
  }

  /// A batched value reduced (`k`: reduce_sum or reduce_max) over axis 1
  /// until its examples have `rank` axes.
  Value *reduceLeading(OpKind k, Value *nv, size_t rank) {
    while (nv->type->rank() > rank + 1)
      nv = create1(k, {nv}, removeAxis(nv->type, 1), 1);
    return nv;
  }
  const Type *removeAxis(const Type *t, size_t axis) {
    std::vector<int64_t> s = t->shape;
    s.erase(s.begin() + axis);
    return T.tensor(s, t->elem);
  }

  bool batchOps(const Block &src) {
    for (auto &op : src.ops)
      if (!batchOp(*op))
        return false;
    return true;
  }

  /// Out's operands of `op`; `any` says whether one is batched.
  std::vector<Value *> operandsOf(const Op &op, bool &any) {
    std::vector<Value *> ops;
    any = false;
    for (Value *v : op.operands) {
      ops.push_back(get(v));
      any |= isBatched(ops.back());
    }
    return ops;
  }

  /// A value defined outside `op` and used inside its regions is batched.
  bool capturesBatched(const Op &op) {
    bool found = false;
    std::function<void(const Block &)> walk = [&](const Block &blk) {
      for (auto &inner : blk.ops) {
        for (Value *v : inner->operands)
          found |= isBatched(get(v));
        for (auto &r : inner->regions)
          walk(*r);
      }
    };
    for (auto &r : op.regions)
      walk(*r);
    return found;
  }

  void copy(const Op &op) {
    std::unique_ptr<Op> c = ir::cloneOp(op, map);
    c->parent = b.getBlock();
    b.getBlock()->ops.push_back(std::move(c));
  }

  bool batchOp(const Op &op) {
    b.loc = op.loc;
    bool any;
    std::vector<Value *> ops = operandsOf(op, any);
    if (op.kind == OpKind::Return)
      return batchReturn(ops);
    if (op.kind == OpKind::Yield) {
      assert(false && "yields are batched by their parent");
      return false;
    }
    if (op.kind == OpKind::Call)
      return batchCall(op, ops, any);
    if (!any && !capturesBatched(op)) {
      copy(op);
      return true;
    }
    switch (op.kind) {
    case OpKind::If:
      return batchIf(op, ops);
    case OpKind::For:
    case OpKind::While:
      return batchLoop(op, ops);
    default:
      break;
    }
    if (ir::isMath(op.kind) || op.kind == OpKind::Select ||
        op.kind == OpKind::FCmp || op.kind == OpKind::Not ||
        op.kind == OpKind::BEq)
      return elementwise(op, ops);
    if (Value *r = structural(op, ops)) {
      map[op.result()] = mark(r);
      return true;
    }
    return perExample(op);
  }

  bool batchReturn(std::vector<Value *> ops) {
    for (size_t i = 0; i < ops.size(); ++i) {
      const Type *pe = f.resultTypes[i];
      ops[i] = widen(ops[i], pe);
      if (!ops[i])
        return false;
    }
    b.create(OpKind::Return, ops);
    return true;
  }

  /// A call with a batched argument calls the callee's batched version (an
  /// effectful callee never gets here: run() sends f whole per example).
  /// A recursive callee with one f64 result runs per example instead: its
  /// reverse sweep preaccumulates the recursive calls, linear in the depth
  /// (docs/AD.md), where the batched version's f64[B] result would be
  /// recomputed at every level, quadratic in the depth.
  bool batchCall(const Op &op, std::vector<Value *> ops, bool any) {
    if (!any) {
      copy(op);
      return true;
    }
    if (op.results.size() == 1 && op.result()->type->isF64() &&
        recursive(m, op.callee()))
      return perExample(op);
    ir::Function *callee = m.lookup(op.callee());
    std::vector<bool> mask;
    for (Value *v : ops)
      mask.push_back(isBatched(v));
    ir::Function *g = getBatched(m, *callee, mask, B);
    if (!g)
      return false;
    Op *call = b.create(OpKind::Call, ops, g->resultTypes);
    call->str = g->name;
    for (size_t i = 0; i < op.results.size(); ++i)
      map[op.result(i)] = mark(call->result(i));
    return true;
  }

  /// MATH ops, select, comparisons and bool logic: every operand widened to
  /// the result's example shape (a shared scalar stays a scalar).
  bool elementwise(const Op &op, std::vector<Value *> ops) {
    const Type *pe = op.result()->type;
    const Type *shape = T.withElems(pe, Elem::F64);
    for (size_t i = 0; i < ops.size(); ++i) {
      Value *v = ops[i];
      if (!isBatched(v) && !v->type->isTensor())
        continue;
      if (v->type->isBoolTensor()) {
        if (!isBatched(v) || exampleType(T, v->type)->rank() != pe->rank())
          return perExample(op);
        continue;
      }
      ops[i] = widen(v, shape);
      if (!ops[i])
        return perExample(op);
    }
    Op *c = b.create(op.kind, ops, {batchedType(T, pe, B)});
    c->ival = op.ival;
    c->fval = op.fval;
    map[op.result()] = mark(c->result());
    return true;
  }

  /// The structural tensor ops with a batching rule; null when there is
  /// none here (the op then runs per example).
  Value *structural(const Op &op, std::vector<Value *> &ops) {
    const Type *rt = op.result() ? op.result()->type : nullptr;
    const Type *brt = rt ? batchedType(T, rt, B) : nullptr;
    if (!brt)
      return nullptr;
    // Shared rows gathered by each example's indices (token ids): one
    // gather of the batched int[B, ...], whose result is the batched one.
    if (op.kind == OpKind::Gather && !isBatched(ops[0]) && isBatched(ops[1]))
      return create1(OpKind::Gather, ops, brt);
    // Any other batched int (an index, a label: section 11) or int tensor:
    // per example, as are int results.
    for (Value *v : ops)
      if (isBatched(v) && v->type->isIntTensor())
        return nullptr;
    if (rt->isIntLike())
      return nullptr;
    switch (op.kind) {
    case OpKind::Broadcast:
      return op.axis() >= 0
                 ? create1(OpKind::Broadcast, {ops[0]}, brt, op.axis() + 1)
                 : widen(ops[0], rt);
    case OpKind::SumTo: {
      if (op.axis() >= 0)
        return create1(OpKind::SumTo, {ops[0]}, brt, op.axis() + 1);
      Value *v = reduceLeading(OpKind::ReduceSum, ops[0], rt->rank());
      return v->type == brt ? v : create1(OpKind::SumTo, {v}, brt, -1);
    }
    case OpKind::ReduceSum:
    case OpKind::ReduceMax:
    case OpKind::MaxMask: {
      if (op.axis() >= 0)
        return create1(op.kind, {ops[0]}, brt, op.axis() + 1);
      if (op.kind == OpKind::ReduceSum)
        return reduceLeading(op.kind, ops[0], 0);
      // All of each example's elements: one row of [B, n] (row-major: a
      // reshape), so the first maximum is the first in row-major order as
      // in f (reducing one axis after another would not keep that order).
      const Type *xt = op.operands[0]->type;
      const Type *rows = T.tensor({B, xt->numElements()});
      Value *x = ops[0];
      if (xt->rank() > 1)
        x = create1(OpKind::Reshape, {x}, rows);
      if (op.kind == OpKind::ReduceMax)
        return create1(op.kind, {x}, brt, 1);
      Value *m = create1(OpKind::MaxMask, {x}, rows, 1);
      return xt->rank() > 1 ? create1(OpKind::Reshape, {m}, brt) : m;
    }
    case OpKind::MatMul:
      return matmul(ops[0], ops[1], brt);
    case OpKind::Reshape: // row-major: [B, s...] -> [B, t...]
      return create1(OpKind::Reshape, {ops[0]}, brt);
    case OpKind::Transpose: // the last two axes: [B, m, n] -> [B, n, m]
      return create1(OpKind::Transpose, {ops[0]}, brt);
    case OpKind::Im2Col: // each leading axis is one image on its own
    case OpKind::Col2Im:
      return create1(op.kind, {ops[0]}, brt, op.ival);
    case OpKind::Extract:
    case OpKind::Slice:
    case OpKind::Unslice:
      return slice(op, ops, brt);
    case OpKind::Insert:
    case OpKind::Splice:
      return splice(op, ops, brt);
    case OpKind::Pack: {
      if (rt->rank() != 1)
        return nullptr;
      for (Value *&v : ops)
        if (!(v = widen(v, T.f64())))
          return nullptr;
      Value *rows = create1(OpKind::Pack, ops, T.tensor({rt->shape[0], B}));
      return create1(OpKind::Transpose, {rows}, brt);
    }
    default:
      return nullptr;
    }
  }

  /// Per example a @ b, with a leading batch axis on either or both: a
  /// matrix product where one exists, else a product and a reduction.
  Value *matmul(Value *a, Value *bb, const Type *brt) {
    bool ab = isBatched(a), bbat = isBatched(bb);
    size_t ra = a->type->rank() - ab, rb = bb->type->rank() - bbat;
    auto mm = [&](Value *x, Value *y) {
      return create1(OpKind::MatMul, {x, y}, brt);
    };
    auto mulSum = [&](Value *x, Value *y, size_t axis) {
      Value *p = b.binary(OpKind::FMul, x, y);
      return create1(OpKind::ReduceSum, {p}, brt, (int64_t)axis);
    };
    // [B,m,k] @ [k,n] as one product [B m, k] @ [k,n] (row-major: the
    // reshapes are views).
    auto rowsTimes = [&](Value *x, Value *w) {
      const std::vector<int64_t> &xs = x->type->shape;
      int64_t n = w->type->shape[1];
      Value *rows =
          create1(OpKind::Reshape, {x}, T.tensor({xs[0] * xs[1], xs[2]}));
      Value *p =
          create1(OpKind::MatMul, {rows, w}, T.tensor({xs[0] * xs[1], n}));
      return create1(OpKind::Reshape, {p}, T.tensor({xs[0], xs[1], n}));
    };
    if (ab && !bbat) {
      if (ra == 1) // [B,k] @ [k] or [B,k] @ [k,n]
        return mm(a, bb);
      if (rb == 1) // [B,m,k] @ [k]: rows times the shared vector
        return mulSum(a, widen(bb, exampleType(T, a->type)), 2);
      if (ra == 2 && rb == 2)
        return rowsTimes(a, bb);
      return nullptr;
    }
    if (!ab && bbat) {
      if (ra == 1 && rb == 1) // [k] . [B,k]
        return mm(bb, a);
      if (ra == 2 && rb == 1) { // [m,k] @ [B,k] = [B,k] @ [m,k]^T
        const Type *tt = T.tensor({a->type->shape[1], a->type->shape[0]});
        return mm(bb, create1(OpKind::Transpose, {a}, tt));
      }
      if (ra == 1 && rb == 2) { // [k] @ [B,k,n]: the vector down each column
        const Type *cols = exampleType(T, bb->type);
        Value *col = create1(OpKind::Broadcast, {a}, cols, 1);
        return mulSum(widen(col, cols), bb, 1);
      }
      // [m,k] @ [B,k,n] (conv2d's weights times each example's patches)
      // stays a loop over the examples, one dgemm each: as the transpose of
      // [B n, k] @ [m,k]^T (two batched transposes around one product) it
      // measured slower (docs/LAYERS.md).
      return nullptr;
    }
    if (ra == 1 && rb == 1) // [B,k] . [B,k]
      return mulSum(a, bb, 1);
    if (ra == 1 && rb == 2) // [B,k] @ [B,k,n]
      return mulSum(create1(OpKind::Broadcast, {a}, bb->type, 2), bb, 1);
    if (ra == 2 && rb == 1) // [B,m,k] @ [B,k]
      return mulSum(a, create1(OpKind::Broadcast, {bb}, a->type, 1), 2);
    return nullptr;
  }

  /// The region of `op` (extract/insert: its indices, then whole axes up to
  /// the batched `full` tensor's rank) with the B axis kept whole in front.
  static std::vector<SliceAxis> batchedRegion(const Op &op, size_t firstIndex,
                                              const Type *full) {
    std::vector<SliceAxis> region = {SliceAxis::at(0)};
    if (!ir::hasSliceRegion(op.kind)) {
      region.insert(region.end(), op.operands.size() - firstIndex,
                    SliceAxis::indexed());
      region.resize(full->rank(), SliceAxis::at(0));
    } else {
      region.insert(region.end(), op.sliceAxes().begin(), op.sliceAxes().end());
    }
    return region;
  }

  /// Whether one of ops[from...] is batched.
  bool anyBatched(const std::vector<Value *> &ops, size_t from) const {
    for (size_t i = from; i < ops.size(); ++i)
      if (isBatched(ops[i]))
        return true;
    return false;
  }

  /// extract, slice, unslice of a batched tensor: its region gains the B
  /// axis (kept whole); the indices are shared.
  Value *slice(const Op &op, std::vector<Value *> &ops, const Type *brt) {
    if (!isBatched(ops[0]) || anyBatched(ops, 1))
      return nullptr; // a batched index: per example
    Op *s =
        b.create(op.kind == OpKind::Unslice ? OpKind::Unslice : OpKind::Slice,
                 ops, {brt});
    s->slice = batchedRegion(op, 1, ops[0]->type);
    s->prechecked = op.prechecked;
    return s->result();
  }

  /// insert and splice: both the tensor and the part batched, the region
  /// gains the B axis.
  Value *splice(const Op &op, std::vector<Value *> &ops, const Type *brt) {
    if (anyBatched(ops, 2))
      return nullptr; // a batched index: per example
    Value *whole = widen(ops[0], op.operands[0]->type);
    Value *part = widen(ops[1], op.operands[1]->type);
    if (!whole || !part)
      return nullptr;
    ops[0] = whole;
    ops[1] = part;
    Op *s = b.create(OpKind::Splice, ops, {brt});
    s->slice = batchedRegion(op, 2, whole->type);
    s->prechecked = op.prechecked;
    return s->result();
  }

  //===--- control flow -------------------------------------------------===//

  /// Batches `src` (a region of an op) into `dst`, which has the arguments
  /// already mapped; returns the yielded values (not yet yielded).
  bool batchRegion(const Block &src, Block *dst, std::vector<Value *> &yield) {
    Block *saved = b.getBlock();
    b.setInsertionPointToEnd(dst);
    bool ok = true;
    for (size_t i = 0; ok && i + 1 < src.ops.size(); ++i)
      ok = batchOp(*src.ops[i]);
    if (ok) {
      yield.clear();
      for (Value *v : src.terminator()->operands)
        yield.push_back(get(v));
    }
    b.setInsertionPointToEnd(saved);
    return ok;
  }

  /// Yields `vals` at the end of `dst`, widened where `wide[j]`.
  bool yieldWidened(Block *dst, std::vector<Value *> vals,
                    const std::vector<bool> &wide,
                    const std::vector<const Type *> &types) {
    Block *saved = b.getBlock();
    b.setInsertionPointToEnd(dst);
    bool ok = true;
    for (size_t j = 0; j < vals.size(); ++j)
      if (wide[j] && !(vals[j] = widen(vals[j], types[j])))
        ok = false;
    if (ok)
      b.yield(vals);
    b.setInsertionPointToEnd(saved);
    return ok;
  }

  bool batchIf(const Op &op, std::vector<Value *> &ops) {
    if (isBatched(ops[0]))
      return blockSelectSafe(*op.region(0)) && blockSelectSafe(*op.region(1))
                 ? selectBranches(op, ops[0])
                 : perExample(op);
    auto nif = std::make_unique<Op>(OpKind::If, op.loc);
    nif->operands = {ops[0]};
    std::vector<Value *> ys[2];
    for (unsigned r = 0; r < 2; ++r)
      if (!batchRegion(*op.region(r), nif->addRegion(), ys[r]))
        return false;
    std::vector<bool> wide;
    std::vector<const Type *> pes;
    for (size_t j = 0; j < op.results.size(); ++j) {
      pes.push_back(op.result(j)->type);
      wide.push_back(isBatched(ys[0][j]) || isBatched(ys[1][j]));
    }
    for (unsigned r = 0; r < 2; ++r)
      if (!yieldWidened(nif->region(r), ys[r], wide, pes)) {
        discarded.push_back(std::move(nif));
        return perExample(op);
      }
    place(std::move(nif), op, wide, pes);
    return true;
  }

  /// Appends `nop`, the batched version of the if/for/while `op`, with one
  /// result per result of op (batched where `wide`, examples of type `pes`).
  void place(std::unique_ptr<Op> nop, const Op &op,
             const std::vector<bool> &wide,
             const std::vector<const Type *> &pes) {
    for (size_t j = 0; j < op.results.size(); ++j) {
      Value *res = nop->addResult(wide[j] ? batchedType(T, pes[j], B) : pes[j],
                                  op.result(j)->name);
      map[op.result(j)] = wide[j] ? mark(res) : res;
    }
    nop->parent = b.getBlock();
    b.getBlock()->ops.push_back(std::move(nop));
  }

  /// Both branches computed for every example, then a select per result.
  bool selectBranches(const Op &op, Value *cond) {
    std::vector<Value *> ys[2];
    for (unsigned r = 0; r < 2; ++r)
      if (!batchRegion(*op.region(r), b.getBlock(), ys[r]))
        return false;
    for (size_t j = 0; j < op.results.size(); ++j) {
      const Type *pe = op.result(j)->type;
      if (T.withElems(pe, Elem::F64) != pe)
        return perExample(op);
      Value *t = widen(ys[0][j], pe), *e = widen(ys[1][j], pe);
      Value *c = cond;
      if (pe->isTensor()) { // the example's condition on each element
        Value *one = b.select(cond, b.constF(1.0), b.constF(0.0));
        mark(one);
        c = b.cmp(OpKind::FCmp, ir::CmpPred::Ne, widen(one, pe), b.constF(0.0));
      }
      map[op.result(j)] = mark(b.select(c, t, e));
    }
    return true;
  }

  /// for / while: the carried values that are batched are found by a
  /// fixpoint (batched initially, or made batched by the body); a while
  /// whose condition is batched runs per example.
  bool batchLoop(const Op &op, std::vector<Value *> &ops) {
    size_t n = op.numCarried(), first = op.firstInit();
    for (size_t i = 0; i < first; ++i)
      if (isBatched(ops[i])) // each example's own trip count
        return perExample(op);
    std::vector<bool> wide(n);
    for (size_t j = 0; j < n; ++j)
      wide[j] = isBatched(ops[first + j]);
    std::vector<const Type *> pes;
    for (size_t j = 0; j < n; ++j)
      pes.push_back(op.init(j)->type);
    for (size_t attempt = 0; attempt <= n; ++attempt) {
      auto nl = std::make_unique<Op>(op.kind, op.loc);
      nl->ival = op.ival;
      nl->str = op.str;
      bool again = false, ok = true;
      std::vector<Value *> bodyYield, condYield;
      for (unsigned r = 0; r < op.regions.size() && ok; ++r) {
        const Block &src = *op.region(r);
        Block *dst = nl->addRegion();
        size_t skip = op.kind == OpKind::For ? 1 : 0;
        if (skip)
          map[src.args[0].get()] =
              dst->addArg(src.args[0]->type, src.args[0]->name);
        for (size_t j = 0; j < n; ++j) {
          Value *a = dst->addArg(wide[j] ? batchedType(T, pes[j], B) : pes[j],
                                 src.args[skip + j]->name);
          map[src.args[skip + j].get()] = wide[j] ? mark(a) : a;
        }
        bool isCond = op.kind == OpKind::While && r == 0;
        std::vector<Value *> &y = isCond ? condYield : bodyYield;
        ok = batchRegion(src, dst, y);
        if (!ok)
          break;
        if (isCond) {
          if (isBatched(y[0])) {
            discarded.push_back(std::move(nl));
            return perExample(op);
          }
          ok = yieldWidened(dst, y, {false}, {T.boolean()});
          continue;
        }
        for (size_t j = 0; j < n; ++j)
          if (!wide[j] && isBatched(y[j]))
            wide[j] = again = true;
        if (!again)
          ok = yieldWidened(dst, y, wide, pes);
      }
      if (!ok)
        return false;
      if (again) {
        discarded.push_back(std::move(nl));
        continue;
      }
      std::vector<Value *> operands(ops.begin(), ops.begin() + first);
      for (size_t j = 0; j < n; ++j) {
        Value *init = ops[first + j];
        if (wide[j] && !(init = widen(init, pes[j])))
          return false;
        operands.push_back(init);
      }
      nl->operands = operands;
      place(std::move(nl), op, wide, pes);
      return true;
    }
    return false;
  }

  //===--- loops over the examples --------------------------------------===//

  /// The region of one example of a batched tensor whose examples have
  /// `rank` axes: the B axis indexed, the others whole.
  static std::vector<SliceAxis> exampleRegion(size_t rank) {
    std::vector<SliceAxis> region(rank + 1, SliceAxis::at(0));
    region[0] = SliceAxis::indexed();
    return region;
  }

  /// Example `i` of the batched value `nv` (f64 or f64 tensor examples).
  Value *exampleOf(Value *nv, Value *i) {
    const Type *pe = exampleType(T, nv->type);
    if (!pe->isTensor())
      return create1(OpKind::Extract, {nv, i}, pe);
    Op *s = b.create(OpKind::Slice, {nv, i}, {pe});
    s->slice = exampleRegion(pe->rank());
    return s->result();
  }

  /// `op` run once per example inside `for i = 0 to B`, its results
  /// inserted into zero-initialised batched accumulators.
  bool perExample(const Op &op) {
    // Each result's batched accumulator; a bool (a comparison) is carried
    // as 1.0 / 0.0 and compared with 0 after the loop: a batched mask.
    std::vector<const Type *> pes;
    for (auto &r : op.results) {
      if (r->type->isBool())
        pes.push_back(T.f64());
      else if (batchable(r->type))
        pes.push_back(r->type);
      else
        return false;
    }
    // The values op reads: its operands and what its regions capture
    // (values defined inside the op are cloned with it).
    // In the order first read, so that the IR does not depend on addresses.
    std::vector<Value *> reads;
    std::set<Value *> seen, inside;
    std::function<void(const Op &)> walk = [&](const Op &o) {
      for (Value *v : o.operands)
        if (seen.insert(v).second)
          reads.push_back(v);
      for (auto &r : o.regions) {
        for (auto &a : r->args)
          inside.insert(a.get());
        for (auto &inner : r->ops) {
          walk(*inner);
          for (auto &res : inner->results)
            inside.insert(res.get());
        }
      }
    };
    walk(op);
    std::erase_if(reads, [&](Value *v) { return inside.count(v) != 0; });
    // Batched masks are read as 1.0 / 0.0 (an f64 tensor) and compared.
    std::map<Value *, Value *> asNumber;
    for (Value *v : reads)
      if (Value *nv = get(v); isBatched(nv) && nv->type->isBoolTensor())
        asNumber[v] = b.select(nv, b.constF(1.0), b.constF(0.0));
    Op *loop = forExamples(pes);
    Block *saved = b.getBlock();
    b.setInsertionPointToEnd(loop->body());
    std::map<const Value *, Value *> local = map;
    for (Value *v : reads) {
      Value *nv = get(v);
      if (!isBatched(nv))
        continue;
      if (auto it = asNumber.find(v); it != asNumber.end())
        local[v] =
            b.cmp(OpKind::FCmp, ir::CmpPred::Ne,
                  exampleOf(it->second, loop->inductionVar()), b.constF(0.0));
      else
        local[v] = exampleOf(nv, loop->inductionVar());
    }
    std::unique_ptr<Op> c = ir::cloneOp(op, local);
    Op *raw = c.get();
    c->parent = b.getBlock();
    b.getBlock()->ops.push_back(std::move(c));
    std::vector<Value *> next;
    for (size_t j = 0; j < pes.size(); ++j) {
      Value *r = raw->result(j);
      if (r->type->isBool())
        r = b.select(r, b.constF(1.0), b.constF(0.0));
      next.push_back(
          insertExample(loop->carriedArg(j), r, loop->inductionVar()));
    }
    b.yield(next);
    b.setInsertionPointToEnd(saved);
    for (size_t j = 0; j < pes.size(); ++j) {
      Value *r = loop->result(j);
      if (op.result(j)->type->isBool())
        r = b.cmp(OpKind::FCmp, ir::CmpPred::Ne, r, b.constF(0.0));
      map[op.result(j)] = mark(r);
    }
    return true;
  }

  Value *insertExample(Value *acc, Value *e, Value *i) {
    if (!e->type->isTensor())
      return b.create(OpKind::Insert, {acc, e, i}, {acc->type})->result();
    Op *s = b.create(OpKind::Splice, {acc, e, i}, {acc->type});
    s->slice = exampleRegion(e->type->rank());
    return s->result();
  }

  /// `for i = 0 to B iter(acc = zeros...)` with results of the batched
  /// `pes`; the insertion point stays before it.
  Op *forExamples(const std::vector<const Type *> &pes) {
    std::vector<Value *> inits = {b.constI(0), b.constI(B)};
    for (const Type *pe : pes)
      inits.push_back(create1(
          OpKind::Broadcast,
          {TypeContext::elemOf(pe) == Elem::Int ? b.constI(0) : b.constF(0.0)},
          batchedType(T, pe, B), -1));
    std::vector<const Type *> types;
    for (const Type *pe : pes)
      types.push_back(batchedType(T, pe, B));
    Op *loop = b.create(OpKind::For, inits, types);
    Block *body = loop->addRegion();
    body->addArg(T.i64(), "ex");
    for (const Type *t : types)
      body->addArg(t, "acc");
    return loop;
  }
};

} // namespace

/// Section 15: the rules of `f` (`f.adjoint`, `f.tangent`) batched as the
/// rules of its batched form `g`, so that AD of code calling `g` still uses
/// them. The adjoint of a shared (unbatched) argument is summed over the
/// batch; seeds and results are batched, shared tangents stay shared.
void batchRules(ir::Module &m, ir::Function &f, ir::Function &g,
                const std::vector<bool> &batched, int64_t B) {
  TypeContext &T = *m.types;
  for (const char *kind : {"adjoint", "tangent"}) {
    ir::Function *rule = m.lookup(f.name + "." + kind);
    if (!rule || m.lookup(g.name + "." + kind))
      continue;
    bool adjoint = std::string(kind) == "adjoint";
    std::vector<bool> mask = batched;
    if (adjoint)
      mask.insert(mask.end(), f.resultTypes.size(), true);
    else
      for (size_t i = 0; i < f.args().size(); ++i)
        if (f.args()[i]->type->isDifferentiable())
          mask.push_back(batched[i]);
    ir::Function *br = getBatched(m, *rule, mask, B);
    if (!br)
      continue;
    ir::Function *w = m.addFunction(g.name + "." + kind);
    w->loc = rule->loc;
    w->derivedFrom = "vmap of " + rule->name;
    w->resultTypes = adjoint ? std::vector<const Type *>{} : g.resultTypes;
    ir::Builder b(T);
    b.setInsertionPointToEnd(w->body.get());
    b.loc = rule->loc;
    std::vector<Value *> args;
    for (size_t i = 0; i < rule->args().size(); ++i) {
      const Type *t = rule->args()[i]->type;
      args.push_back(
          w->addArg(mask[i] ? batchedType(T, t, B) : t, rule->args()[i]->name));
    }
    Op *call = b.create(OpKind::Call, args, br->resultTypes);
    call->str = br->name;
    std::vector<Value *> out;
    if (!adjoint) {
      for (auto &r : call->results)
        out.push_back(r.get());
    } else {
      size_t k = 0;
      for (size_t i = 0; i < f.args().size(); ++i) {
        const Type *t = f.args()[i]->type;
        if (!t->isDifferentiable())
          continue;
        Value *a = call->result(k++);
        if (!batched[i]) { // shared: the sum of the examples' adjoints
          Op *sum = b.create(OpKind::ReduceSum, {a}, {t});
          sum->ival = 0;
          a = sum->result();
        }
        out.push_back(a);
        w->resultTypes.push_back(batched[i] ? batchedType(T, t, B) : t);
      }
    }
    b.create(OpKind::Return, out);
  }
}

ir::Function *getBatched(ir::Module &m, ir::Function &f,
                         const std::vector<bool> &batched, int64_t B) {
  std::string name =
      f.name + ".vmap" + std::to_string(B) + "." + maskName(batched);
  if (ir::Function *done = m.lookup(name))
    return done;
  for (const Type *t : f.resultTypes)
    if (!batchable(t))
      return nullptr;
  ir::Function *out = m.addFunction(name);
  out->loc = f.loc;
  out->derivedFrom = "vmap of " + f.name;
  out->checkpointed = f.checkpointed; // still recomputed, not inlined
  // The result types before the body: a recursive call reads them.
  for (const Type *t : f.resultTypes)
    out->resultTypes.push_back(batchedType(*m.types, t, B));
  Batcher batcher(m, f, *out, B);
  if (!batcher.run(batched))
    batcher.loopOverExamples(batched);
  batchRules(m, f, *out, batched, B);
  return out;
}

void buildVmap(ir::Module &m, const ir::DerivedInfo &info) {
  ir::Function *base = m.lookup(info.base);
  std::vector<bool> mask(base->args().size(), false);
  for (auto &v : info.wrt)
    mask[v.argIndex] = true;
  ir::Function *g = getBatched(m, *base, mask, info.batch);
  assert(g && "sema checked that every result can be batched");
  ir::Function *w = m.addFunction(info.name);
  w->loc = info.loc;
  w->derivedFrom = "vmap of " + info.base;
  for (size_t i = 0; i < info.sig.params.size(); ++i)
    w->addArg(info.sig.params[i], info.sig.paramNames[i]);
  w->resultTypes = g->resultTypes;
  ir::Builder b(*m.types);
  b.setInsertionPointToEnd(w->body.get());
  b.loc = info.loc;
  std::vector<Value *> args;
  for (auto &a : w->args())
    args.push_back(a.get());
  Op *call = b.create(OpKind::Call, args, g->resultTypes);
  call->str = g->name;
  std::vector<Value *> results;
  for (auto &r : call->results)
    results.push_back(r.get());
  b.create(OpKind::Return, results);
}

} // namespace bp::batch
