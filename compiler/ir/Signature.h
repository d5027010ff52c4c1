//===- Signature.h - signatures and derived functions -----------*- C++ -*-===//
//-*-===//
//
// What sema decides about a function or a derived function, in terms that
// need no AST: sema fills these in (sema/Sema.h uses them as its own),
// IRGen copies the derived ones into the ir::Module, and ad/ builds them.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Type.h"
#include "support/Diagnostics.h"

#include <string>
#include <vector>

namespace bp::ir {

struct FnSig {
  std::vector<std::string> paramNames;
  std::vector<const Type *> params;
  const Type *result = nullptr; // Void when the function returns nothing
};

/// The derived forms (sections 7 and 16) and `vmap` (section 11), which is
/// built by batch/Vmap.h rather than by AD but composes with them the same
/// way.
enum class DerivKind {
  Grad,
  ValueAndGrad,
  Jvp,
  Vmap,
  Vjp,
  Jacobian,
  Hessian,
  Checkpoint
};
const char *spelling(DerivKind k);

/// A variable a derivative is taken with respect to.
struct WrtVar {
  bool isParam = false; // a global param, else an argument of the base
  unsigned argIndex = 0;
  std::string name;
  const Type *type = nullptr;
};

/// A derived function: `grad(base, wrt...)` etc. `base` names a user
/// function or another derived function (derivatives compose). For vmap,
/// `wrt` lists the batched arguments and `batch` is B.
struct DerivedInfo {
  std::string name; // `df` for `fn df = ...`; "grad(f, x)" when inline
  DerivKind kind;
  std::string base;
  std::vector<WrtVar> wrt;
  FnSig sig;
  Loc loc;
  int64_t batch = 0; // vmap only: the size of the new leading axis
};

} // namespace bp::ir
