//===- Tensor.cpp - tensor buffers and tensor ops -------------------------===//
//
// Every tensor op becomes plain counted loops over row-major buffers, in a
// form LLVM vectorises (unit-stride inner loops, buffers that are distinct
// arena slots or noalias arguments). Elementwise ops are one flat loop;
// broadcasting, reductions and transposes are nested loops with per-axis
// strides (stride 0 on a broadcast axis); matmul is the i-k-j loop nest
// whose inner loop is a unit-stride axpy, or cblas_dgemm where OpenBLAS
// measured faster. Which matmuls call dgemm, which elementwise ops share
// one loop, which updates are in place and which index checks are left out
// was decided before (compiler/transforms, Op::decided).
//
//===----------------------------------------------------------------------===//
#include "codegen/Emitter.h"

#include <cassert>
#include <cmath>

namespace bp::codegen {

using K = ir::OpKind;

static std::vector<int64_t> stridesOf(const std::vector<int64_t> &shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;)
    s[i - 1] = s[i] * shape[i];
  return s;
}

llvm::Value *Emitter::entryAlloca(llvm::Type *t) {
  llvm::IRBuilder<> eb(&cur->getEntryBlock(), cur->getEntryBlock().begin());
  return eb.CreateAlloca(t);
}

llvm::Value *Emitter::slot(const Type *t) {
  if (defining) {
    auto it = returnSlots.find(defining);
    if (it != returnSlots.end() && defining->type == t) {
      defining = nullptr; // one buffer per value
      return it->second;
    }
  }
  uint64_t bytes = (uint64_t)t->numElements() * 8;
  uint64_t offset = arenaBytes;
  arenaBytes += (bytes + 63) / 64 * 64;
  Value *p = b.CreateConstGEP1_64(b.getInt8Ty(), arena, offset);
  arenaSlots.push_back({p, bytes});
  return p;
}

void Emitter::copyTensor(Value *dst, Value *src, const Type *t) {
  if (dst == src)
    return;
  b.CreateMemCpy(dst, llvm::MaybeAlign(8), src, llvm::MaybeAlign(8),
                 t->numElements() * 8);
}

void Emitter::loop(Value *n, const std::function<void(Value *)> &body) {
  llvm::BasicBlock *pre = b.GetInsertBlock();
  auto *header = newBlock("t.header"), *bodyB = newBlock("t.body"),
       *exit = newBlock("t.exit");
  b.CreateBr(header);
  b.SetInsertPoint(header);
  auto *i = b.CreatePHI(i64, 2, "i");
  i->addIncoming(b.getInt64(0), pre);
  b.CreateCondBr(b.CreateICmpSLT(i, n), bodyB, exit);
  b.SetInsertPoint(bodyB);
  body(i);
  i->addIncoming(b.CreateAdd(i, b.getInt64(1), "", true, true),
                 b.GetInsertBlock());
  b.CreateBr(header);
  b.SetInsertPoint(exit);
}

void Emitter::loops(
    const std::vector<int64_t> &shape,
    const std::function<void(const std::vector<Value *> &)> &body) {
  std::vector<Value *> idx;
  std::function<void(size_t)> level = [&](size_t d) {
    if (d == shape.size()) {
      body(idx);
      return;
    }
    loop(b.getInt64(shape[d]), [&](Value *i) {
      idx.push_back(i);
      level(d + 1);
      idx.pop_back();
    });
  };
  level(0);
}

/// Element `flat` of a tensor operand, or the scalar itself.
llvm::Value *Emitter::elementOf(Value *v, const Type *t, Value *flat) {
  if (!t->isTensor())
    return v;
  return b.CreateLoad(elemType(t), b.CreateGEP(f64, v, flat));
}

/// For each axis of a broadcast's result, the stride in its operand (0 where
/// the operand is stretched).
std::vector<int64_t> Emitter::broadcastStrides(const ir::Op &bc) {
  const auto &big = bc.result()->type->shape;
  const Type *st = bc.operands[0]->type;
  std::vector<int64_t> small =
      st->isTensor() ? st->shape : std::vector<int64_t>{};
  auto sStrides = stridesOf(small);
  std::vector<int64_t> map(big.size(), 0);
  if (!st->isTensor())
    return map;
  if (bc.axis() >= 0) {
    for (size_t j = 0, s = 0; j < big.size(); ++j)
      if ((int64_t)j != bc.axis())
        map[j] = sStrides[s++];
  } else {
    size_t lead = big.size() - small.size();
    for (size_t j = lead; j < big.size(); ++j)
      map[j] = small[j - lead] == 1 ? 0 : sStrides[j - lead];
  }
  return map;
}

llvm::Value *Emitter::elementOfOp(const ir::Op &op,
                                  const std::vector<Value *> &idx, Value *flat,
                                  const std::vector<int64_t> &rs) {
  auto load = [&](Value *base, const std::vector<int64_t> &strides,
                  llvm::Type *et) {
    Value *off = flat;
    if (!flat) {
      off = b.getInt64(0);
      for (size_t j = 0; j < idx.size(); ++j)
        if (strides[j])
          off = b.CreateAdd(off, b.CreateMul(idx[j], b.getInt64(strides[j])));
    }
    return b.CreateLoad(et, b.CreateGEP(f64, base, off));
  };
  std::vector<Value *> xs;
  for (ir::Value *v : op.operands) {
    const ir::Op *d = v->def;
    if (d && d->decided.fused && ir::isElementwise(d->kind))
      xs.push_back(elementOfOp(*d, idx, flat, rs));
    else if (!v->type->isTensor())
      xs.push_back(get(v));
    else if (d && d->decided.fused && d->kind == K::Broadcast)
      // Read through the broadcast's strides (nested loops only).
      xs.push_back(d->operands[0]->type->isTensor()
                       ? load(get(v), broadcastStrides(*d), elemType(v->type))
                       : get(v));
    else
      xs.push_back(load(get(v), rs, elemType(v->type)));
  }
  Value *r = scalar(op, xs);
  if (checkNumerics)
    checkFinite(op, r, xs);
  if (r->getType() == i1)
    r = b.CreateUIToFP(r, f64);
  return r;
}

/// One loop over the result computes `op` and every elementwise op fused
/// into it; nested loops when a fused broadcast is read with strides.
void Emitter::emitElementwise(const ir::Op &op) {
  const Type *rt = op.result()->type;
  Value *dst = slot(rt);
  auto rs = stridesOf(rt->shape);
  if (ir::readsFusedBroadcast(op)) {
    loops(rt->shape, [&](const std::vector<Value *> &idx) {
      Value *r = elementOfOp(op, idx, nullptr, rs);
      Value *ro = b.getInt64(0);
      for (size_t j = 0; j < idx.size(); ++j)
        ro = b.CreateAdd(ro, b.CreateMul(idx[j], b.getInt64(rs[j])));
      b.CreateStore(r, b.CreateGEP(f64, dst, ro));
    });
  } else {
    loop(b.getInt64(rt->numElements()), [&](Value *i) {
      b.CreateStore(elementOfOp(op, {}, i, rs), b.CreateGEP(f64, dst, i));
    });
  }
  vals[op.result()] = dst;
}

void Emitter::emitIntDivision(const ir::Op &op) {
  const Type *rt = op.result()->type;
  Value *dst = slot(rt);
  const ir::Value *lv = op.operands[0], *rv = op.operands[1];
  Value *lb = get(lv), *rb = get(rv);
  bool div = op.kind == K::IDiv;
  loop(b.getInt64(rt->numElements()), [&](Value *i) {
    Value *l = elementOf(lb, lv->type, i), *r = elementOf(rb, rv->type, i);
    check(op, b.CreateICmpEQ(r, b.getInt64(0)),
          div ? "integer division by zero" : "integer remainder by zero");
    check(op,
          b.CreateAnd(b.CreateICmpEQ(l, b.getInt64(INT64_MIN)),
                      b.CreateICmpEQ(r, b.getInt64(-1))),
          "integer overflow in division");
    b.CreateStore(div ? b.CreateSDiv(l, r) : b.CreateSRem(l, r),
                  b.CreateGEP(i64, dst, i));
  });
  vals[op.result()] = dst;
}

/// Offset of the element / sub-tensor selected by operands
/// [firstIndex, firstIndex + count) of `op` in a tensor of type `t`, with
/// bounds checks.
llvm::Value *Emitter::offsetOf(const ir::Op &op, const Type *t,
                               size_t firstIndex, size_t count) {
  auto strides = stridesOf(t->shape);
  Value *off = b.getInt64(0);
  for (size_t k = 0; k < count; ++k) {
    Value *i = get(op.operands[firstIndex + k]);
    if (uncheckedCopies.count(op.parent->parent) &&
        llvm::is_contained(op.decided.hoistedChecks, firstIndex + k)) {
      off = b.CreateAdd(off, b.CreateMul(i, b.getInt64(strides[k])));
      continue;
    }
    checkIndex(op, i, (int64_t)k, t->shape[k]);
    off = b.CreateAdd(off, b.CreateMul(i, b.getInt64(strides[k])));
  }
  return off;
}

void Emitter::checkIndex(const ir::Op &op, Value *i, int64_t axis,
                         int64_t size) {
  Value *bad = b.CreateICmpUGE(i, b.getInt64(size));
  auto *err = newBlock("index.error"), *ok = newBlock("index.ok");
  b.CreateCondBr(bad, err, ok);
  b.SetInsertPoint(err);
  auto [file, line, col] = location(op.loc);
  b.CreateCall(runtime("bp_index_error", b.getVoidTy(),
                       {ptr, b.getInt32Ty(), b.getInt32Ty(), i64, i64, i64}),
               {file, line, col, i, b.getInt64(axis), b.getInt64(size)});
  b.CreateUnreachable();
  b.SetInsertPoint(ok);
}

/// gather x, t and scatter_add g, t (Ops.def): one row of `row` elements
/// per index, each index checked against the full tensor's axis 0.
void Emitter::emitGather(const ir::Op &op) {
  bool scatter = op.kind == K::ScatterAdd;
  const Type *rt = op.result()->type, *tt = op.operands[1]->type;
  const Type *fullT = scatter ? rt : op.operands[0]->type;
  int64_t V = fullT->shape[0], row = fullT->numElements() / V;
  Value *src = get(op.operands[0]), *idx = get(op.operands[1]);
  Value *dst = slot(rt);
  if (scatter)
    b.CreateMemSet(dst, b.getInt8(0), rt->numElements() * 8,
                   llvm::MaybeAlign(8));
  loop(b.getInt64(tt->numElements()), [&](Value *j) {
    Value *i = b.CreateLoad(i64, b.CreateGEP(i64, idx, j));
    checkIndex(op, i, 0, V);
    Value *fullOff = b.CreateMul(i, b.getInt64(row));
    Value *partOff = b.CreateMul(j, b.getInt64(row));
    if (!scatter) {
      b.CreateMemCpy(b.CreateGEP(f64, dst, partOff), llvm::MaybeAlign(8),
                     b.CreateGEP(f64, src, fullOff), llvm::MaybeAlign(8),
                     row * 8);
      return;
    }
    loop(b.getInt64(row), [&](Value *k) {
      Value *p = b.CreateGEP(f64, dst, b.CreateAdd(fullOff, k));
      Value *g =
          b.CreateLoad(f64, b.CreateGEP(f64, src, b.CreateAdd(partOff, k)));
      b.CreateStore(b.CreateFAdd(b.CreateLoad(f64, p), g), p);
    });
  });
  vals[op.result()] = dst;
}

void Emitter::checkWindow(const ir::Op &op, Value *i, int64_t len, int64_t axis,
                          int64_t size) {
  // 0 <= i and i + len <= size, as one unsigned compare: i <= size - len.
  Value *bad = b.CreateICmpUGT(i, b.getInt64(size - len));
  auto *err = newBlock("window.error"), *ok = newBlock("window.ok");
  b.CreateCondBr(bad, err, ok);
  b.SetInsertPoint(err);
  auto [file, line, col] = location(op.loc);
  b.CreateCall(
      runtime("bp_window_error", b.getVoidTy(),
              {ptr, b.getInt32Ty(), b.getInt32Ty(), i64, i64, i64, i64}),
      {file, line, col, i, b.getInt64(len), b.getInt64(axis),
       b.getInt64(size)});
  b.CreateUnreachable();
  b.SetInsertPoint(ok);
}

std::pair<llvm::Value *, std::vector<int64_t>>
Emitter::sliceRegion(const ir::Op &op, const std::vector<int64_t> &full) {
  auto strides = stridesOf(full);
  std::vector<int64_t> kept;
  Value *base = b.getInt64(0);
  const auto &axes = op.sliceAxes();
  const Type *part = op.kind == ir::OpKind::Slice     ? op.result()->type
                     : op.kind == ir::OpKind::Unslice ? op.operands[0]->type
                                                      : op.operands[1]->type;
  for (size_t k = 0; k < axes.size(); ++k) {
    if (axes[k].kind == ir::SliceAxis::Window) {
      Value *i = get(op.sliceIndex(k));
      int64_t len = part->shape[kept.size()];
      if (!op.decided.unchecked)
        checkWindow(op, i, len, (int64_t)k, full[k]);
      base = b.CreateAdd(base, b.CreateMul(i, b.getInt64(strides[k])));
      kept.push_back(strides[k]);
      continue;
    }
    if (axes[k].kind == ir::SliceAxis::Index) {
      Value *i = get(op.sliceIndex(k));
      if (!op.decided.unchecked)
        checkIndex(op, i, (int64_t)k, full[k]);
      base = b.CreateAdd(base, b.CreateMul(i, b.getInt64(strides[k])));
      continue;
    }
    base = b.CreateAdd(base, b.getInt64(axes[k].offset * strides[k]));
    kept.push_back(strides[k]);
  }
  return {base, kept};
}

void Emitter::copyRegion(Value *full, Value *part, const Type *partT,
                         Value *base, const std::vector<int64_t> &strides,
                         bool intoFull) {
  auto ps = stridesOf(partT->shape);
  loops(partT->shape, [&](const std::vector<Value *> &idx) {
    Value *fo = base, *po = b.getInt64(0);
    for (size_t j = 0; j < idx.size(); ++j) {
      fo = b.CreateAdd(fo, b.CreateMul(idx[j], b.getInt64(strides[j])));
      po = b.CreateAdd(po, b.CreateMul(idx[j], b.getInt64(ps[j])));
    }
    Value *src = intoFull ? part : full, *dst = intoFull ? full : part;
    Value *so = intoFull ? po : fo, *d = intoFull ? fo : po;
    b.CreateStore(b.CreateLoad(elemType(partT), b.CreateGEP(f64, src, so)),
                  b.CreateGEP(f64, dst, d));
  });
}

void Emitter::emitIndexing(const ir::Op &op) {
  if (op.kind == K::Extract) {
    const Type *xt = op.operands[0]->type;
    Value *off = offsetOf(op, xt, 1, op.operands.size() - 1);
    Value *p = b.CreateGEP(f64, get(op.operands[0]), off);
    // A sub-tensor is a view: values are immutable.
    vals[op.result()] =
        op.result()->type->isTensor() ? p : b.CreateLoad(elemType(xt), p);
    return;
  }
  // insert v, e, i...
  const Type *vt = op.operands[0]->type, *et = op.operands[1]->type;
  Value *dst = get(op.operands[0]);
  if (!op.decided.inplace) {
    dst = slot(vt);
    copyTensor(dst, get(op.operands[0]), vt);
  }
  Value *off = offsetOf(op, vt, 2, op.operands.size() - 2);
  Value *p = b.CreateGEP(f64, dst, off);
  if (et->isTensor())
    copyTensor(p, get(op.operands[1]), et);
  else
    b.CreateStore(get(op.operands[1]), p);
  vals[op.result()] = dst;
}

/// broadcast (sumTo = false) or its adjoint sum_to (sumTo = true). `big` is
/// the shape with every axis, `small` the operand (broadcast) or result
/// (sum_to) shape.
void Emitter::emitBroadcast(const ir::Op &op, bool sumTo) {
  const Type *bigT = sumTo ? op.operands[0]->type : op.result()->type;
  const Type *smallT = sumTo ? op.result()->type : op.operands[0]->type;
  Value *src = get(op.operands[0]);
  Value *dst = sumTo && !smallT->isTensor() ? nullptr : slot(op.result()->type);
  if (!smallT->isTensor() && !sumTo) {
    // Scalar fill.
    loop(b.getInt64(bigT->numElements()),
         [&](Value *i) { b.CreateStore(src, b.CreateGEP(f64, dst, i)); });
    vals[op.result()] = dst;
    return;
  }
  const auto &big = bigT->shape;
  std::vector<int64_t> small =
      smallT->isTensor() ? smallT->shape : std::vector<int64_t>{};
  auto sStrides = stridesOf(small);
  // Stride of each big axis in the small tensor (0 where broadcast).
  std::vector<int64_t> map(big.size(), 0);
  if (op.axis() >= 0) {
    for (size_t j = 0, s = 0; j < big.size(); ++j)
      if ((int64_t)j != op.axis())
        map[j] = sStrides[s++];
  } else {
    size_t lead = big.size() - small.size();
    for (size_t j = lead; j < big.size(); ++j)
      map[j] = small[j - lead] == 1 ? 0 : sStrides[j - lead];
  }
  auto bStrides = stridesOf(big);
  auto offsets = [&](const std::vector<Value *> &idx) {
    Value *bo = b.getInt64(0), *so = b.getInt64(0);
    for (size_t j = 0; j < idx.size(); ++j) {
      bo = b.CreateAdd(bo, b.CreateMul(idx[j], b.getInt64(bStrides[j])));
      so = b.CreateAdd(so, b.CreateMul(idx[j], b.getInt64(map[j])));
    }
    return std::make_pair(bo, so);
  };
  if (!sumTo) {
    loops(big, [&](const std::vector<Value *> &idx) {
      auto [bo, so] = offsets(idx);
      b.CreateStore(b.CreateLoad(elemType(bigT), b.CreateGEP(f64, src, so)),
                    b.CreateGEP(f64, dst, bo));
    });
    vals[op.result()] = dst;
    return;
  }
  if (!dst) { // sum of everything into a scalar
    Value *acc = entryAlloca(f64);
    b.CreateStore(llvm::ConstantFP::get(f64, 0.0), acc);
    loop(b.getInt64(bigT->numElements()), [&](Value *i) {
      b.CreateStore(b.CreateFAdd(b.CreateLoad(f64, acc),
                                 b.CreateLoad(f64, b.CreateGEP(f64, src, i))),
                    acc);
    });
    vals[op.result()] = b.CreateLoad(f64, acc);
    return;
  }
  b.CreateMemSet(dst, b.getInt8(0), smallT->numElements() * 8,
                 llvm::MaybeAlign(8));
  loops(big, [&](const std::vector<Value *> &idx) {
    auto [bo, so] = offsets(idx);
    Value *p = b.CreateGEP(f64, dst, so);
    b.CreateStore(b.CreateFAdd(b.CreateLoad(f64, p),
                               b.CreateLoad(f64, b.CreateGEP(f64, src, bo))),
                  p);
  });
  vals[op.result()] = dst;
}

void Emitter::emitReduce(const ir::Op &op) {
  bool isMax = op.kind == K::ReduceMax;
  const Type *xt = op.operands[0]->type, *rt = op.result()->type;
  Value *x = get(op.operands[0]);
  // An int reduce_sum (section 13) adds int64 elements, wrapping.
  llvm::Type *et = elemType(xt);
  auto combine = [&](Value *acc, Value *v) {
    return isMax       ? fmax(acc, v)
           : et == i64 ? b.CreateAdd(acc, v)
                       : b.CreateFAdd(acc, v);
  };
  Value *init = et == i64 ? b.getInt64(0)
                          : llvm::ConstantFP::get(f64, isMax ? -INFINITY : 0.0);
  if (!rt->isTensor()) {
    Value *acc = entryAlloca(et);
    b.CreateStore(init, acc);
    loop(b.getInt64(xt->numElements()), [&](Value *i) {
      b.CreateStore(combine(b.CreateLoad(et, acc),
                            b.CreateLoad(et, b.CreateGEP(f64, x, i))),
                    acc);
    });
    vals[op.result()] = b.CreateLoad(et, acc);
    return;
  }
  Value *dst = slot(rt);
  loop(b.getInt64(rt->numElements()),
       [&](Value *i) { b.CreateStore(init, b.CreateGEP(f64, dst, i)); });
  auto xs = stridesOf(xt->shape), rs = stridesOf(rt->shape);
  loops(xt->shape, [&](const std::vector<Value *> &idx) {
    Value *xo = b.getInt64(0), *ro = b.getInt64(0);
    for (size_t j = 0, r = 0; j < idx.size(); ++j) {
      xo = b.CreateAdd(xo, b.CreateMul(idx[j], b.getInt64(xs[j])));
      if ((int64_t)j != op.axis())
        ro = b.CreateAdd(ro, b.CreateMul(idx[j], b.getInt64(rs[r++])));
    }
    Value *p = b.CreateGEP(f64, dst, ro);
    b.CreateStore(
        combine(b.CreateLoad(et, p), b.CreateLoad(et, b.CreateGEP(f64, x, xo))),
        p);
  });
  vals[op.result()] = dst;
}

/// One line of n elements from `base` with stride `stride` at a time: the
/// first maximum gets 1 (a NaN beats any number, as in reduce_max), the rest
/// keep the zeros stored before.
void Emitter::emitMaxMask(const ir::Op &op) {
  const Type *xt = op.operands[0]->type;
  Value *x = get(op.operands[0]), *dst = slot(xt);
  b.CreateMemSet(dst, b.getInt8(0), xt->numElements() * 8, llvm::MaybeAlign(8));
  Value *best = entryAlloca(f64), *at = entryAlloca(i64);
  auto line = [&](Value *base, int64_t n, int64_t stride) {
    b.CreateStore(llvm::ConstantFP::get(f64, -INFINITY), best);
    b.CreateStore(base, at);
    loop(b.getInt64(n), [&](Value *i) {
      Value *off = b.CreateAdd(base, b.CreateMul(i, b.getInt64(stride)));
      Value *v = b.CreateLoad(f64, b.CreateGEP(f64, x, off));
      Value *cur = b.CreateLoad(f64, best);
      Value *better = b.CreateOr(
          b.CreateFCmpOGT(v, cur),
          b.CreateAnd(b.CreateFCmpUNO(v, v), b.CreateFCmpORD(cur, cur)));
      b.CreateStore(b.CreateSelect(better, v, cur), best);
      b.CreateStore(b.CreateSelect(better, off, b.CreateLoad(i64, at)), at);
    });
    b.CreateStore(llvm::ConstantFP::get(f64, 1.0),
                  b.CreateGEP(f64, dst, b.CreateLoad(i64, at)));
  };
  int64_t axis = op.axis();
  if (axis < 0) {
    line(b.getInt64(0), xt->numElements(), 1);
  } else {
    auto xs = stridesOf(xt->shape);
    std::vector<int64_t> outer = xt->shape;
    outer.erase(outer.begin() + axis);
    loops(outer, [&](const std::vector<Value *> &idx) {
      Value *base = b.getInt64(0);
      for (size_t j = 0, r = 0; j < xt->shape.size(); ++j)
        if ((int64_t)j != axis)
          base = b.CreateAdd(base, b.CreateMul(idx[r++], b.getInt64(xs[j])));
      line(base, xt->shape[axis], xs[axis]);
    });
  }
  vals[op.result()] = dst;
}

void Emitter::emitMatMul(const ir::Op &op) {
  const Type *at = op.operands[0]->type, *bt = op.operands[1]->type;
  Value *A = get(op.operands[0]), *B = get(op.operands[1]);
  auto ld = [&](Value *base, Value *off) {
    return b.CreateLoad(f64, b.CreateGEP(f64, base, off));
  };
  auto mul = [&](Value *x, int64_t c) { return b.CreateMul(x, b.getInt64(c)); };
  if (at->rank() == 1 && bt->rank() == 1) { // dot
    Value *acc = entryAlloca(f64);
    b.CreateStore(llvm::ConstantFP::get(f64, 0.0), acc);
    loop(b.getInt64(at->shape[0]), [&](Value *k) {
      b.CreateStore(b.CreateFAdd(b.CreateLoad(f64, acc),
                                 b.CreateFMul(ld(A, k), ld(B, k))),
                    acc);
    });
    vals[op.result()] = b.CreateLoad(f64, acc);
    return;
  }
  const Type *rt = op.result()->type;
  Value *C = slot(rt);
  if (op.decided.blas) {
    // C = A @ B by OpenBLAS: cblas_dgemm(RowMajor, NoTrans, NoTrans, M, N,
    // K, 1, A, K, B, N, 0, C, N) (beta = 0: C is not read). An operand that
    // is a transpose dgemm reads untransposed: CblasTrans, and the leading
    // dimension is the stored matrix's row length.
    int64_t M = at->shape[0], K_ = at->shape[1], N = bt->shape[1];
    bool ta = op.decided.transposeA, tb = op.decided.transposeB;
    auto *i32 = b.getInt32Ty();
    auto i = [&](int64_t v) { return b.getInt32((uint32_t)v); };
    auto d = [&](double v) { return llvm::ConstantFP::get(f64, v); };
    b.CreateCall(runtime("cblas_dgemm", b.getVoidTy(),
                         {i32, i32, i32, i32, i32, i32, f64, ptr, i32, ptr, i32,
                          f64, ptr, i32}),
                 {i(101), i(ta ? 112 : 111), i(tb ? 112 : 111), i(M), i(N),
                  i(K_), d(1.0), A, i(ta ? M : K_), B, i(tb ? K_ : N), d(0.0),
                  C, i(N)});
    vals[op.result()] = C;
    return;
  }
  b.CreateMemSet(C, b.getInt8(0), rt->numElements() * 8, llvm::MaybeAlign(8));
  if (at->rank() == 2 && bt->rank() == 2) {
    int64_t K_ = at->shape[1], N = bt->shape[1];
    loop(b.getInt64(at->shape[0]), [&](Value *i) {
      loop(b.getInt64(K_), [&](Value *k) {
        Value *a = ld(A, b.CreateAdd(mul(i, K_), k));
        loop(b.getInt64(N), [&](Value *j) {
          Value *p = b.CreateGEP(f64, C, b.CreateAdd(mul(i, N), j));
          b.CreateStore(
              b.CreateFAdd(b.CreateLoad(f64, p),
                           b.CreateFMul(a, ld(B, b.CreateAdd(mul(k, N), j)))),
              p);
        });
      });
    });
  } else if (at->rank() == 2) { // [M,K] @ [K]
    int64_t K_ = at->shape[1];
    loop(b.getInt64(at->shape[0]), [&](Value *i) {
      Value *acc = llvm::ConstantFP::get(f64, 0.0);
      Value *p = b.CreateGEP(f64, C, i);
      b.CreateStore(acc, p);
      loop(b.getInt64(K_), [&](Value *k) {
        b.CreateStore(
            b.CreateFAdd(
                b.CreateLoad(f64, p),
                b.CreateFMul(ld(A, b.CreateAdd(mul(i, K_), k)), ld(B, k))),
            p);
      });
    });
  } else { // [K] @ [K,N]
    int64_t N = bt->shape[1];
    loop(b.getInt64(at->shape[0]), [&](Value *k) {
      Value *a = ld(A, k);
      loop(b.getInt64(N), [&](Value *j) {
        Value *p = b.CreateGEP(f64, C, j);
        b.CreateStore(
            b.CreateFAdd(b.CreateLoad(f64, p),
                         b.CreateFMul(a, ld(B, b.CreateAdd(mul(k, N), j)))),
            p);
      });
    });
  }
  vals[op.result()] = C;
}

void Emitter::emitConvPatches(const ir::Op &op) {
  // im2col: r[n, c, kh, kw, oh, ow] = x[n, c, oh s + kh - p, ow s + kw - p]
  // (0 outside x); col2im adds each g element back there. Row-major loops
  // with ow innermost; the image index is clamped into x and the value
  // selected, so no load or store leaves the buffers and the inner loop has
  // no branch (at stride 1 its reads are unit-stride).
  bool fwd = op.kind == K::Im2Col;
  const Type *xt = fwd ? op.operands[0]->type : op.result()->type;
  const Type *ct = fwd ? op.result()->type : op.operands[0]->type;
  size_t lead = xt->rank() - 3;
  int64_t N = 1;
  for (size_t i = 0; i < lead; ++i)
    N *= xt->shape[i];
  int64_t C = xt->shape[lead], H = xt->shape[lead + 1], W = xt->shape[lead + 2];
  int64_t KH = ct->shape[lead + 1], KW = ct->shape[lead + 2];
  int64_t OH = ct->shape[lead + 3], OW = ct->shape[lead + 4];
  int64_t s = op.convStride(), p = op.convPad();
  Value *src = get(op.operands[0]), *dst = slot(op.result()->type);
  if (!fwd)
    b.CreateMemSet(dst, b.getInt8(0), xt->numElements() * 8,
                   llvm::MaybeAlign(8));
  auto c64 = [&](int64_t v) { return b.getInt64(v); };
  // In 0..n-1 and that index clamped there.
  auto clampIn = [&](Value *v, int64_t n) -> std::pair<Value *, Value *> {
    Value *ok =
        b.CreateAnd(b.CreateICmpSGE(v, c64(0)), b.CreateICmpSLT(v, c64(n)));
    Value *lo = b.CreateSelect(b.CreateICmpSLT(v, c64(0)), c64(0), v);
    return {ok, b.CreateSelect(b.CreateICmpSGE(lo, c64(n)), c64(n - 1), lo)};
  };
  Value *zero = llvm::ConstantFP::get(f64, 0.0);
  loops({N * C, KH, KW, OH}, [&](const std::vector<Value *> &i) {
    Value *ih =
        b.CreateAdd(b.CreateMul(i[3], c64(s)), b.CreateSub(i[1], c64(p)));
    auto [rowOk, ihc] = clampIn(ih, H);
    Value *row =
        b.CreateMul(b.CreateAdd(b.CreateMul(i[0], c64(H)), ihc), c64(W));
    Value *crow = b.CreateMul(
        b.CreateAdd(
            b.CreateMul(b.CreateAdd(b.CreateMul(i[0], c64(KH)), i[1]), c64(KW)),
            i[2]),
        c64(OH));
    crow = b.CreateMul(b.CreateAdd(crow, i[3]), c64(OW));
    loop(c64(OW), [&](Value *ow) {
      Value *iw =
          b.CreateAdd(b.CreateMul(ow, c64(s)), b.CreateSub(i[2], c64(p)));
      auto [colOk, iwc] = clampIn(iw, W);
      Value *ok = b.CreateAnd(rowOk, colOk);
      Value *xp = b.CreateGEP(f64, fwd ? src : dst, b.CreateAdd(row, iwc));
      Value *cp = b.CreateGEP(f64, fwd ? dst : src, b.CreateAdd(crow, ow));
      if (fwd) {
        b.CreateStore(b.CreateSelect(ok, b.CreateLoad(f64, xp), zero), cp);
        return;
      }
      Value *g = b.CreateSelect(ok, b.CreateLoad(f64, cp), zero);
      b.CreateStore(b.CreateFAdd(b.CreateLoad(f64, xp), g), xp);
    });
  });
  vals[op.result()] = dst;
}

void Emitter::emitTranspose(const ir::Op &op) {
  if (op.decided.elided) { // dgemm reads it with CblasTrans
    vals[op.result()] = get(op.operands[0]);
    return;
  }
  // The last two axes swapped; leading axes (vmap's batch) index separate
  // matrices.
  const Type *xt = op.operands[0]->type;
  size_t r = xt->rank();
  int64_t M = xt->shape[r - 2], N = xt->shape[r - 1];
  int64_t L = xt->numElements() / (M * N);
  Value *x = get(op.operands[0]), *dst = slot(op.result()->type);
  loops({L, M}, [&](const std::vector<Value *> &li) {
    Value *base = b.CreateMul(li[0], b.getInt64(M * N));
    loop(b.getInt64(N), [&](Value *j) {
      Value *v = b.CreateLoad(
          f64,
          b.CreateGEP(
              f64, x,
              b.CreateAdd(base,
                          b.CreateAdd(b.CreateMul(li[1], b.getInt64(N)), j))));
      b.CreateStore(
          v, b.CreateGEP(
                 f64, dst,
                 b.CreateAdd(
                     base, b.CreateAdd(b.CreateMul(j, b.getInt64(M)), li[1]))));
    });
  });
  vals[op.result()] = dst;
}

void Emitter::emitTensorOp(const ir::Op &op) {
  switch (op.kind) {
  case K::Broadcast:
    return emitBroadcast(op, false);
  case K::SumTo:
    return emitBroadcast(op, true);
  case K::ReduceSum:
  case K::ReduceMax:
    return emitReduce(op);
  case K::MaxMask:
    return emitMaxMask(op);
  case K::MatMul:
    return emitMatMul(op);
  case K::Extract:
  case K::Insert:
    return emitIndexing(op);
  case K::Gather:
  case K::ScatterAdd:
    return emitGather(op);
  case K::Reshape: // a view: the same row-major buffer
    vals[op.result()] = get(op.operands[0]);
    return;
  case K::Im2Col:
  case K::Col2Im:
    return emitConvPatches(op);
  case K::Transpose:
    return emitTranspose(op);
  case K::Pack: {
    const Type *rt = op.result()->type;
    Value *dst = slot(rt);
    int64_t sub = rt->numElements() / rt->shape[0];
    for (size_t i = 0; i < op.operands.size(); ++i) {
      Value *p = b.CreateConstGEP1_64(f64, dst, i * sub);
      if (op.operands[i]->type->isTensor())
        copyTensor(p, get(op.operands[i]), op.operands[i]->type);
      else
        b.CreateStore(get(op.operands[i]), p);
    }
    vals[op.result()] = dst;
    return;
  }
  case K::Unslice: {
    // The operand goes into its region of a zero tensor of the result type.
    const Type *gt = op.operands[0]->type, *rt = op.result()->type;
    Value *dst = slot(rt);
    b.CreateMemSet(dst, b.getInt8(0), rt->numElements() * 8,
                   llvm::MaybeAlign(8));
    auto [base, strides] = sliceRegion(op, rt->shape);
    copyRegion(dst, get(op.operands[0]), gt, base, strides, true);
    vals[op.result()] = dst;
    return;
  }
  case K::Slice: {
    const Type *xt = op.operands[0]->type, *rt = op.result()->type;
    auto [base, strides] = sliceRegion(op, xt->shape);
    Value *dst = slot(rt);
    copyRegion(get(op.operands[0]), dst, rt, base, strides, false);
    vals[op.result()] = dst;
    return;
  }
  case K::Splice: {
    // v with the region replaced by e; in v's buffer when v dies here.
    const Type *vt = op.operands[0]->type, *et = op.operands[1]->type;
    auto [base, strides] = sliceRegion(op, vt->shape);
    Value *dst = get(op.operands[0]);
    if (!op.decided.inplace) {
      dst = slot(vt);
      copyTensor(dst, get(op.operands[0]), vt);
    }
    copyRegion(dst, get(op.operands[1]), et, base, strides, true);
    vals[op.result()] = dst;
    return;
  }
  case K::ReadCsv: {
    const Type *rt = op.result()->type;
    Value *dst = slot(rt);
    int64_t rows = rt->shape[0];
    auto [file, line, col] = location(op.loc);
    b.CreateCall(
        runtime("bp_read_csv", b.getVoidTy(),
                {ptr, ptr, i64, i64, ptr, b.getInt32Ty(), b.getInt32Ty()}),
        {b.CreateGlobalStringPtr(op.str, "bp.path"), dst, b.getInt64(rows),
         b.getInt64(rt->numElements() / rows), file, line, col});
    vals[op.result()] = dst;
    return;
  }
  case K::ArgMax: {
    const Type *xt = op.operands[0]->type;
    Value *x = get(op.operands[0]);
    llvm::Type *et = elemType(xt);
    Value *best = entryAlloca(et), *at = entryAlloca(i64);
    b.CreateStore(et == i64 ? (Value *)b.getInt64(INT64_MIN)
                            : llvm::ConstantFP::get(f64, -INFINITY),
                  best);
    b.CreateStore(b.getInt64(0), at);
    loop(b.getInt64(xt->numElements()), [&](Value *i) {
      Value *v = b.CreateLoad(et, b.CreateGEP(f64, x, i));
      Value *cur = b.CreateLoad(et, best);
      Value *better =
          et == i64 ? b.CreateICmpSGT(v, cur) : b.CreateFCmpOGT(v, cur);
      b.CreateStore(b.CreateSelect(better, v, cur), best);
      b.CreateStore(b.CreateSelect(better, i, b.CreateLoad(i64, at)), at);
    });
    vals[op.result()] = b.CreateLoad(i64, at);
    return;
  }
  default:
    assert(false && "op without code generation");
  }
}

} // namespace bp::codegen
