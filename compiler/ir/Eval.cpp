//===- Eval.cpp - the scalar semantics of ops, from ir/Ops.def ------------===//
#include "ir/Eval.h"

#include <cmath>

namespace bp::ir {

bool evalMath(OpKind k, const double *a, double &r) {
  switch (k) {
#define OP(Name, Mnemonic, Pure, Rule)                                         \
  case OpKind::Name:                                                           \
    return false;
#define MATH(Name, Mnemonic, Arity, Builtin, Eval, Lowering, Symbol)           \
  case OpKind::Name: {                                                         \
    double x = a[0], y = Arity > 1 ? a[1] : 0, z = Arity > 2 ? a[2] : 0;       \
    (void)x, (void)y, (void)z;                                                 \
    r = (Eval);                                                                \
    return true;                                                               \
  }
#include "ir/Ops.def"
  }
  return false;
}

template <typename T> static bool cmp(CmpPred p, T x, T y) {
  switch (p) {
  case CmpPred::Eq:
    return x == y;
  case CmpPred::Ne:
    return x != y;
  case CmpPred::Lt:
    return x < y;
  case CmpPred::Le:
    return x <= y;
  case CmpPred::Gt:
    return x > y;
  case CmpPred::Ge:
    return x >= y;
  }
  return false;
}

bool compare(CmpPred p, double x, double y) { return cmp(p, x, y); }
bool compare(CmpPred p, int64_t x, int64_t y) { return cmp(p, x, y); }

} // namespace bp::ir
