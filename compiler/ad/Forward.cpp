//===- Forward.cpp - forward-mode AD (tangent propagation) ----------------===//
//
// For f, emit `f.fwd.<activity>`: one pass over f that clones each op and
// right after it emits its tangent, Σ ∂r/∂a_i · ȧ_i from the chain-rule
// table. Region ops carry tangents as extra results / carried values; calls
// go to the callee's forward function; tape ops push and pop the tangent
// next to the value, which makes derived functions differentiable again in
// forward mode (Hessian-vector products: jvp(grad(f, x), x)).
//
//===----------------------------------------------------------------------===//
#include "ad/AD.h"
#include "ad/Rules.h"

#include <map>

namespace bp::ad {

using ir::OpKind;
using ir::Value;

namespace {

class ForwardBuilder {
public:
  ForwardBuilder(ir::Module &m, ir::Function &f, const ActivitySpec &spec,
                 DiagEngine &diags, Loc useLoc)
      : m(m), F(f), spec(spec), diags(diags), useLoc(useLoc), b(*m.types) {}

  ir::Function *run(const std::string &name) {
    act = analyze(F, spec, /*forwardOnly=*/true);
    T = m.addFunction(name);
    T->loc = F.loc;
    T->derivedFrom = "forward mode of " + F.name;
    for (auto &a : F.args())
      map[a.get()] = T->addArg(a->type, a->name);
    for (size_t i = 0; i < F.args().size(); ++i)
      if (spec.args[i])
        tan[F.args()[i].get()] =
            T->addArg(F.args()[i]->type, F.args()[i]->name + ".d");
    for (auto &p : spec.params)
      paramTan[p] = T->addArg(m.lookupParam(p)->type, p + ".d");
    T->resultTypes = F.resultTypes;
    for (const Type *t : F.resultTypes)
      if (t->isDifferentiable())
        T->resultTypes.push_back(t);
    b.setInsertionPointToEnd(T->body.get());
    block(*F.body, {});
    return failed ? nullptr : T;
  }

private:
  ir::Module &m;
  ir::Function &F;
  const ActivitySpec &spec;
  DiagEngine &diags;
  Loc useLoc;
  ir::Builder b;
  ir::Function *T = nullptr;
  Activity act;
  bool failed = false;
  std::map<const Value *, Value *> map, tan;
  std::map<std::string, Value *> paramTan;

  Value *primal(Value *v) {
    auto it = map.find(v);
    return it == map.end() ? v : it->second;
  }
  Value *tangent(const Value *v) {
    auto it = tan.find(v);
    return it == tan.end() ? zeroOf(b, v->type) : it->second;
  }
  void setTangent(const Value *v, Value *t) {
    if (!v->name.empty() && t->name.empty() && t->def &&
        t->def->kind != OpKind::ConstF)
      t->name = v->name + ".d";
    tan[v] = t;
  }

  /// Clones `src`; `slots` lists which operands of its yield carry tangents.
  void block(const ir::Block &src, const std::vector<size_t> &slots) {
    for (auto &opp : src.ops) {
      const ir::Op &op = *opp;
      b.loc = op.loc;
      switch (op.kind) {
      case OpKind::Return: {
        std::vector<Value *> out;
        for (Value *v : op.operands)
          out.push_back(primal(v));
        for (Value *v : op.operands)
          if (v->type->isDifferentiable())
            out.push_back(tangent(v));
        b.create(OpKind::Return, out);
        break;
      }
      case OpKind::Yield: {
        std::vector<Value *> out;
        for (Value *v : op.operands)
          out.push_back(primal(v));
        for (size_t i : slots)
          out.push_back(tangent(op.operands[i]));
        b.yield(out);
        break;
      }
      case OpKind::If:
      case OpKind::For:
      case OpKind::While:
        regionOp(op);
        break;
      case OpKind::Call:
        call(op);
        break;
      case OpKind::ParamLoad:
        clone(op);
        if (paramTan.count(op.paramName()))
          setTangent(op.result(), paramTan[op.paramName()]);
        break;
      case OpKind::TapeReserve: {
        // Values and their tangents are pushed: twice the room.
        Value *twice =
            b.binary(OpKind::IMul, primal(op.operands[1]), b.constI(2));
        b.create(OpKind::TapeReserve, {primal(op.operands[0]), twice});
        break;
      }
      case OpKind::TapePush:
        clone(op);
        if (op.operands[1]->type->isDifferentiable())
          b.create(OpKind::TapePush,
                   {primal(op.operands[0]), tangent(op.operands[1])});
        break;
      case OpKind::TapePop: {
        // Pushed as (value, tangent): the tangent comes off first.
        Value *t = nullptr;
        if (op.result()->type->isDifferentiable())
          t = b.create(OpKind::TapePop, {primal(op.operands[0])},
                       {op.result()->type})
                  ->result();
        clone(op);
        if (t)
          setTangent(op.result(), t);
        break;
      }
      default:
        clone(op);
        if (op.results.size() == 1 && act.isActive(op.result()) &&
            !op.operands.empty() && op.kind != OpKind::IToF)
          derivative(op);
        break;
      }
    }
  }

  void clone(const ir::Op &op) {
    auto copy = ir::cloneOp(op, map);
    copy->parent = b.getBlock();
    b.getBlock()->ops.push_back(std::move(copy));
  }

  void derivative(const ir::Op &op) {
    auto P = [&](const Value *v) { return primal(const_cast<Value *>(v)); };
    if (isTensorRuleOp(op.kind)) {
      std::vector<Value *> t;
      for (Value *v : op.operands)
        t.push_back(act.isActive(v) && tan.count(v) ? tan[v] : nullptr);
      if (Value *r = tensorTangent(op, t, b, P))
        setTangent(op.result(), r);
      return;
    }
    std::vector<bool> want;
    for (Value *v : op.operands)
      want.push_back(act.isActive(v) && tan.count(v));
    std::vector<Value *> d;
    if (!partials(
            op, want, b,
            [&](const Value *v) { return primal(const_cast<Value *>(v)); },
            d)) {
      diags.error(useLoc, std::string("cannot differentiate '") +
                              ir::mnemonic(op.kind) + "' in '" + F.name +
                              "' (" +
                              diags.source().lineRef(op.loc.line, useLoc.line) +
                              "): no derivative rule");
      failed = true;
      return;
    }
    Value *sum = nullptr;
    for (size_t i = 0; i < d.size(); ++i) {
      if (!d[i])
        continue;
      Value *term = scale(b, tan[op.operands[i]], d[i]);
      sum = sum ? b.binary(OpKind::FAdd, sum, term) : term;
    }
    // A scalar operand's tangent of a tensor result is broadcast.
    if (sum && op.result()->type->isTensor() && !sum->type->isTensor()) {
      ir::Op *bc = b.create(OpKind::Broadcast, {sum}, {op.result()->type});
      bc->ival = -1;
      sum = bc->result();
    }
    if (sum)
      setTangent(op.result(), sum);
  }

  void regionOp(const ir::Op &op) {
    bool isFor = op.kind == OpKind::For;
    size_t firstArg = isFor ? 1 : 0;
    std::vector<size_t> slots;
    for (size_t i = 0; i < op.results.size(); ++i)
      if (act.isActive(op.result(i)))
        slots.push_back(i);
    std::vector<Value *> operands;
    for (Value *v : op.operands)
      operands.push_back(primal(v));
    if (op.kind != OpKind::If)
      for (size_t i : slots)
        operands.push_back(tangent(op.init(i)));
    std::vector<const Type *> types;
    for (auto &r : op.results)
      types.push_back(r->type);
    for (size_t i : slots)
      types.push_back(op.result(i)->type);
    ir::Op *copy = b.create(op.kind, operands, types);
    for (size_t i = 0; i < op.results.size(); ++i) {
      copy->result(i)->name = op.result(i)->name;
      map[op.result(i)] = copy->result(i);
    }
    ir::Block *outer = b.getBlock();
    for (size_t r = 0; r < op.regions.size(); ++r) {
      const ir::Block &src = *op.region(r);
      ir::Block *dst = copy->addRegion();
      for (auto &a : src.args)
        map[a.get()] = dst->addArg(a->type, a->name);
      for (size_t i : slots)
        if (op.kind != OpKind::If)
          setTangent(src.args[firstArg + i].get(),
                     dst->addArg(src.args[firstArg + i]->type,
                                 src.args[firstArg + i]->name + ".d"));
      b.setInsertionPointToEnd(dst);
      bool isCond = op.kind == OpKind::While && r == 0;
      block(src, isCond ? std::vector<size_t>{} : slots);
    }
    b.setInsertionPointToEnd(outer);
    for (size_t k = 0; k < slots.size(); ++k)
      setTangent(op.result(slots[k]), copy->result(op.results.size() + k));
  }

  void call(const ir::Op &op) {
    ActivitySpec cs;
    bool any = !spec.params.empty();
    for (Value *v : op.operands) {
      bool a = act.isActive(v) && tan.count(v);
      cs.args.push_back(a);
      any |= a;
    }
    bool anyF64 = false;
    for (auto &r : op.results)
      anyF64 |= r->type->isDifferentiable();
    if (!any || !anyF64) {
      clone(op);
      return;
    }
    cs.params = spec.params;
    ir::Function *callee = m.lookup(op.callee());
    ir::Function *fwdFn = getForward(m, *callee, cs, diags, useLoc);
    if (!fwdFn) {
      failed = true;
      return;
    }
    std::vector<Value *> args;
    for (Value *v : op.operands)
      args.push_back(primal(v));
    for (size_t i = 0; i < op.operands.size(); ++i)
      if (cs.args[i])
        args.push_back(tan[op.operands[i]]);
    for (auto &p : spec.params)
      args.push_back(paramTan[p]);
    ir::Op *c = b.create(OpKind::Call, args, fwdFn->resultTypes);
    c->str = fwdFn->name;
    size_t k = op.results.size();
    for (size_t i = 0; i < op.results.size(); ++i) {
      c->result(i)->name = op.result(i)->name;
      map[op.result(i)] = c->result(i);
    }
    for (size_t i = 0; i < op.results.size(); ++i)
      if (op.result(i)->type->isDifferentiable())
        setTangent(op.result(i), c->result(k++));
  }
};

} // namespace

ir::Function *getForward(ir::Module &m, ir::Function &f,
                         const ActivitySpec &spec, DiagEngine &diags,
                         Loc useLoc) {
  std::string name = f.name + ".fwd." + spec.suffix();
  if (ir::Function *done = m.lookup(name))
    return done;
  if (hasCustomRule(m, f))
    return forwardFromRule(m, f, spec, name, diags, useLoc);
  if (!checkDifferentiable(m, f, diags, useLoc))
    return nullptr;
  return ForwardBuilder(m, f, spec, diags, useLoc).run(name);
}

} // namespace bp::ad
