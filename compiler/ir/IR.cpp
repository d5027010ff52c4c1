//===- IR.cpp - IR construction and cloning -------------------------------===//
#include "ir/IR.h"

#include "support/Random.h"

#include <cassert>

namespace bp::ir {

const char *mnemonic(OpKind k) {
  switch (k) {
#define OP(Name, Mnemonic, Pure, Rule)                                         \
  case OpKind::Name:                                                           \
    return Mnemonic;
#include "ir/Ops.def"
  }
  return "?";
}

bool isPure(OpKind k) {
  switch (k) {
#define OP(Name, Mnemonic, Pure, Rule)                                         \
  case OpKind::Name:                                                           \
    return Pure;
#include "ir/Ops.def"
  }
  return false;
}

const char *spelling(DerivKind k) {
  switch (k) {
  case DerivKind::Grad:
    return "grad";
  case DerivKind::ValueAndGrad:
    return "value_and_grad";
  case DerivKind::Jvp:
    return "jvp";
  case DerivKind::Vmap:
    return "vmap";
  case DerivKind::Vjp:
    return "vjp";
  case DerivKind::Jacobian:
    return "jacobian";
  case DerivKind::Hessian:
    return "hessian";
  case DerivKind::Checkpoint:
    return "checkpoint";
  }
  return "?";
}

bool readsFusedBroadcast(const Op &op) {
  for (Value *v : op.operands)
    if (v->def && v->def->decided.fused &&
        (v->def->kind == OpKind::Broadcast ||
         (isElementwise(v->def->kind) && readsFusedBroadcast(*v->def))))
      return true;
  return false;
}

bool isElementwise(OpKind k) {
  if (isMath(k))
    return true;
  switch (k) {
  case OpKind::IAdd:
  case OpKind::ISub:
  case OpKind::IMul:
  case OpKind::INeg:
  case OpKind::FCmp:
  case OpKind::ICmp:
  case OpKind::Not:
  case OpKind::BEq:
  case OpKind::Select:
  case OpKind::IToF:
  case OpKind::FToI:
    return true;
  default:
    return false;
  }
}

RuleKind ruleKind(OpKind k) {
  switch (k) {
#define OP(Name, Mnemonic, Pure, Rule)                                         \
  case OpKind::Name:                                                           \
    return RuleKind::Rule;
#include "ir/Ops.def"
  }
  return RuleKind::None;
}

unsigned mathArity(OpKind k) {
  switch (k) {
#define OP(Name, Mnemonic, Pure, Rule)                                         \
  case OpKind::Name:                                                           \
    return 0;
#define MATH(Name, Mnemonic, Arity, Builtin, Eval, Lowering, Symbol)           \
  case OpKind::Name:                                                           \
    return Arity;
#include "ir/Ops.def"
  }
  return 0;
}

bool isMath(OpKind k) { return mathArity(k) != 0; }

const std::map<std::string, OpKind> &elementwiseBuiltins() {
#define BP_BUILTIN_Fn(Name, Mnemonic) {Mnemonic, OpKind::Name},
#define BP_BUILTIN_Op(Name, Mnemonic)
#define OP(Name, Mnemonic, Pure, Rule)
#define MATH(Name, Mnemonic, Arity, Builtin, Eval, Lowering, Symbol)           \
  BP_BUILTIN_##Builtin(Name, Mnemonic)
  static const std::map<std::string, OpKind> table = {
#include "ir/Ops.def"
  };
#undef BP_BUILTIN_Fn
#undef BP_BUILTIN_Op
  return table;
}

bool hasSliceRegion(OpKind k) {
  return k == OpKind::Slice || k == OpKind::Unslice || k == OpKind::Splice;
}

std::string spelling(const std::vector<SliceAxis> &region) {
  std::string s;
  for (size_t k = 0; k < region.size(); ++k) {
    s += k ? "," : "";
    s += region[k].kind == SliceAxis::Index ? "i"
         : region[k].kind == SliceAxis::Window
             ? "w"
             : std::to_string(region[k].offset);
  }
  return s;
}

size_t Op::numSliceIndices() const {
  size_t n = 0;
  for (const SliceAxis &a : sliceAxes())
    n += a.hasIndex();
  return n;
}

Value *Op::sliceIndex(size_t axis) const {
  const auto &axes = sliceAxes();
  assert(axis < axes.size() && axes[axis].hasIndex() && "not an indexed axis");
  size_t before = 0;
  for (size_t k = 0; k < axis; ++k)
    before += axes[k].hasIndex();
  return operands[firstSliceIndex() + before];
}

const char *spelling(CmpPred p) {
  switch (p) {
  case CmpPred::Eq:
    return "eq";
  case CmpPred::Ne:
    return "ne";
  case CmpPred::Lt:
    return "lt";
  case CmpPred::Le:
    return "le";
  case CmpPred::Gt:
    return "gt";
  case CmpPred::Ge:
    return "ge";
  }
  return "?";
}

Value *Block::addArg(const Type *t, std::string name) {
  args.push_back(std::make_unique<Value>(t));
  Value *v = args.back().get();
  v->owner = this;
  v->index = args.size() - 1;
  v->name = std::move(name);
  return v;
}

Value *Op::addResult(const Type *t, std::string name) {
  results.push_back(std::make_unique<Value>(t));
  Value *v = results.back().get();
  v->def = this;
  v->index = results.size() - 1;
  v->name = std::move(name);
  return v;
}

Block *Op::addRegion() {
  regions.push_back(std::make_unique<Block>());
  regions.back()->parent = this;
  return regions.back().get();
}

Function *Module::lookup(const std::string &name) const {
  for (auto &f : functions)
    if (f->name == name)
      return f.get();
  return nullptr;
}

const Param *Module::lookupParam(const std::string &name) const {
  for (auto &p : params)
    if (p.name == name)
      return &p;
  return nullptr;
}

const DerivedInfo *Module::lookupDerived(const std::string &name) const {
  for (auto &d : derived)
    if (d.name == name)
      return &d;
  return nullptr;
}

Function *Module::addFunction(std::string name) {
  functions.push_back(std::make_unique<Function>());
  functions.back()->name = std::move(name);
  return functions.back().get();
}

std::vector<double> initialValues(const Param &p, size_t index, uint64_t seed) {
  int64_t n = p.type->isTensor() ? p.type->numElements() : 1;
  std::vector<double> out(n, 0.0);
  Rng rng{seed * 1000003u + index};
  for (int64_t i = 0; i < n; ++i) {
    if (p.init == "ones")
      out[i] = 1;
    else if (p.init == "literal")
      out[i] = p.initArgs[p.initArgs.size() == 1 ? 0 : i];
    else if (p.init == "randn")
      out[i] = p.initArgs[0] * rng.normal();
    else if (p.init == "uniform")
      out[i] = p.initArgs[0] + (p.initArgs[1] - p.initArgs[0]) * rng.uniform();
    else if (p.init == "glorot") {
      double limit = std::sqrt(6.0 / (p.type->shape[0] + p.type->shape[1]));
      out[i] = -limit + 2 * limit * rng.uniform();
    }
  }
  return out;
}

Op *Builder::create(OpKind k, std::vector<Value *> operands,
                    std::vector<const Type *> results) {
  assert(block && "no insertion point");
  auto op = std::make_unique<Op>(k, loc);
  op->adjoint = markAdjoint;
  op->prechecked = markPrechecked && (k == OpKind::Extract ||
                                      k == OpKind::Insert || hasSliceRegion(k));
  op->operands = std::move(operands);
  for (const Type *t : results)
    op->addResult(t);
  op->parent = block;
  Op *raw = op.get();
  if (beforeTerminator && !block->ops.empty())
    block->ops.insert(block->ops.end() - 1, std::move(op));
  else
    block->ops.push_back(std::move(op));
  return raw;
}

Value *Builder::constF(double v) {
  Op *op = create(OpKind::ConstF, {}, {types.f64()});
  op->fval = v;
  return op->result();
}

Value *Builder::constI(int64_t v) {
  Op *op = create(OpKind::ConstI, {}, {types.i64()});
  op->ival = v;
  return op->result();
}

Value *Builder::constB(bool v) {
  Op *op = create(OpKind::ConstB, {}, {types.boolean()});
  op->ival = v;
  return op->result();
}

/// The result type of an elementwise op: a tensor if any operand is one
/// (scalars broadcast), with `elem` elements.
static const Type *elementwiseType(TypeContext &types,
                                   std::initializer_list<Value *> ops,
                                   Elem elem, const Type *scalarType) {
  for (Value *v : ops)
    if (v->type->isTensor())
      return types.tensor(v->type->shape, elem);
  return scalarType;
}

Value *Builder::unary(OpKind k, Value *a) {
  const Type *t = a->type;
  if (k == OpKind::IToF)
    t = types.withElems(a->type, Elem::F64);
  else if (k == OpKind::FToI)
    t = types.withElems(a->type, Elem::Int);
  return create(k, {a}, {t})->result();
}

Value *Builder::binary(OpKind k, Value *a, Value *b) {
  bool ints = k == OpKind::IAdd || k == OpKind::ISub || k == OpKind::IMul ||
              k == OpKind::IDiv || k == OpKind::IRem;
  const Type *t =
      elementwiseType(types, {a, b}, ints ? Elem::Int : Elem::F64, a->type);
  if (k == OpKind::BEq)
    t = elementwiseType(types, {a, b}, Elem::Bool, types.boolean());
  return create(k, {a, b}, {t})->result();
}

Value *Builder::cmp(OpKind k, CmpPred p, Value *a, Value *b) {
  Op *op = create(
      k, {a, b}, {elementwiseType(types, {a, b}, Elem::Bool, types.boolean())});
  op->ival = (int64_t)p;
  return op->result();
}

Value *Builder::select(Value *c, Value *a, Value *b) {
  const Type *t = elementwiseType(
      types, {c, a, b}, a->type->isIntLike() ? Elem::Int : Elem::F64, a->type);
  return create(OpKind::Select, {c, a, b}, {t})->result();
}

void Builder::yield(std::vector<Value *> vals) {
  create(OpKind::Yield, std::move(vals));
}

std::unique_ptr<Op> cloneOp(const Op &op,
                            std::map<const Value *, Value *> &map) {
  auto copy = std::make_unique<Op>(op.kind, op.loc);
  copy->fval = op.fval;
  copy->ival = op.ival;
  copy->str = op.str;
  copy->slice = op.slice;
  copy->adjoint = op.adjoint;
  copy->prechecked = op.prechecked;
  for (Value *v : op.operands) {
    auto it = map.find(v);
    copy->operands.push_back(it == map.end() ? v : it->second);
  }
  for (auto &r : op.results)
    map[r.get()] = copy->addResult(r->type, r->name);
  for (auto &region : op.regions) {
    Block *dst = copy->addRegion();
    for (auto &a : region->args)
      map[a.get()] = dst->addArg(a->type, a->name);
    cloneOpsInto(*region, *dst, map);
  }
  return copy;
}

void cloneOpsInto(const Block &src, Block &dst,
                  std::map<const Value *, Value *> &map, bool skipTerminator) {
  for (size_t i = 0; i < src.ops.size(); ++i) {
    if (skipTerminator && i + 1 == src.ops.size())
      break;
    auto copy = cloneOp(*src.ops[i], map);
    copy->parent = &dst;
    dst.ops.push_back(std::move(copy));
  }
}

} // namespace bp::ir
