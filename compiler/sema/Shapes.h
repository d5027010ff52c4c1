//===- Shapes.h - static shape rules of tensor operations -------*- C++ -*-===//
//
// Shared by sema (type checking, messages) and IRGen (explicit broadcasts).
// Each function returns the result type, or null with `err` set to a message
// that shows both shapes.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Type.h"

#include <string>

namespace bp::sema {

/// NumPy broadcasting of two numeric types (scalars broadcast to anything;
/// int promotes to f64): `f64[B, N] + f64[N]`, `f64[3, 1] * f64[1, 4]`.
const Type *broadcast(TypeContext &T, const Type *a, const Type *b,
                      const std::string &op, std::string &err);

/// `@`: [M,K]@[K,N], [M,K]@[K], [K]@[K,N], [K]@[K].
const Type *matmul(TypeContext &T, const Type *a, const Type *b,
                   std::string &err);

/// `t` with axis `axis` removed (f64 when t has rank 1).
const Type *removeAxis(TypeContext &T, const Type *t, int64_t axis);

} // namespace bp::sema
