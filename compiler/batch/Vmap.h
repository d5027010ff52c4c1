//===- Vmap.h - vmap: batching as an IR -> IR transform ---------*- C++ -*-===//
//
// vmap(f, B, x...) (LANGUAGE.md section 11) as a transform of the IR, like
// the AD transforms: straight-line tensor code becomes batched tensor code
// (a matrix-vector product a matrix-matrix product, elementwise ops gain the
// leading axis, reductions reduce per example). What cannot be batched
// exactly is run as a loop over the B examples: one op (its regions
// included) when its result can be batched, else the whole function. The
// rules are in docs/VMAP.md.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/IR.h"

namespace bp::batch {

/// Input:  a verified module holding `info.base`; `info` (kind Vmap)
///         checked by sema: B >= 1, the batched arguments (`info.wrt`) and
///         every result f64 or f64 tensors.
/// Output: a new function named `info.name` with sema's signature: each
///         batched argument and each result has a new leading axis of size
///         B, and result[i] equals base(arguments[i]) to rounding.
/// Preserves: every existing function (it appends the wrapper and the
///         `<g>.vmap<B>.<mask>` functions it calls).
void buildVmap(ir::Module &m, const ir::DerivedInfo &info);

/// The batched version of `f`: `<f>.vmap<B>.<mask>` (mask: one 0/1 per
/// argument, 1 = batched), made once and reused (recursion works). Its
/// arguments are f's, the batched ones with a leading axis of size B; every
/// result gains that axis.
ir::Function *getBatched(ir::Module &m, ir::Function &f,
                         const std::vector<bool> &batched, int64_t B);

/// The type of B values of type `t` (a leading axis of size B, the same
/// elements: f64, int or bool), or null when there is none (tuples, ...).
const Type *batchedType(TypeContext &types, const Type *t, int64_t B);

/// The types vmap batches (LANGUAGE.md section 11): f64 and int values and
/// tensors (bools only inside, as masks).
bool batchable(const Type *t);

} // namespace bp::batch
