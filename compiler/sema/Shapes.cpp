//===- Shapes.cpp - static shape rules of tensor operations ---------------===//
#include "sema/Shapes.h"

#include <algorithm>

namespace bp::sema {

const Type *broadcast(TypeContext &T, const Type *a, const Type *b,
                      const std::string &op, std::string &err) {
  // int op int stays int (scalars and int tensors); anything with an f64
  // is f64 (section 3: an int converts to f64 where an f64 is expected).
  Elem e = a->isIntLike() && b->isIntLike() ? Elem::Int : Elem::F64;
  if (!a->isTensor() && !b->isTensor())
    return T.scalar(e);
  if (!a->isTensor())
    return T.withElems(b, e);
  if (!b->isTensor())
    return T.withElems(a, e);
  const auto &x = a->shape, &y = b->shape;
  size_t r = std::max(x.size(), y.size());
  std::vector<int64_t> out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t dx = i < r - x.size() ? 1 : x[i - (r - x.size())];
    int64_t dy = i < r - y.size() ? 1 : y[i - (r - y.size())];
    if (dx != dy && dx != 1 && dy != 1) {
      err = "shape mismatch in '" + op + "': " + toString(a) + " " + op + " " +
            toString(b) + " (trailing dimensions must be equal or 1)";
      return nullptr;
    }
    out[i] = std::max(dx, dy);
  }
  if (out.size() > 4) {
    err = "'" + op + "' would make a tensor of rank " +
          std::to_string(out.size()) + " (at most 4)";
    return nullptr;
  }
  return T.tensor(out, e);
}

const Type *matmul(TypeContext &T, const Type *a, const Type *b,
                   std::string &err) {
  auto fail = [&]() -> const Type * {
    err = "shape mismatch in '@': " + toString(a) + " @ " + toString(b);
    return nullptr;
  };
  if (!a->isTensor() || !b->isTensor() || a->rank() > 2 || b->rank() > 2) {
    err = "'@' multiplies rank-1 or rank-2 tensors, found " + toString(a) +
          " @ " + toString(b);
    return nullptr;
  }
  int64_t ka = a->shape.back(), kb = b->shape[0];
  if (ka != kb)
    return fail();
  if (a->rank() == 1 && b->rank() == 1)
    return T.f64();
  if (a->rank() == 2 && b->rank() == 2)
    return T.tensor({a->shape[0], b->shape[1]});
  if (a->rank() == 2)
    return T.tensor({a->shape[0]});
  return T.tensor({b->shape[1]});
}

const Type *removeAxis(TypeContext &T, const Type *t, int64_t axis) {
  std::vector<int64_t> s = t->shape;
  s.erase(s.begin() + axis);
  return s.empty() ? T.scalar(t->elem) : T.tensor(s, t->elem);
}

} // namespace bp::sema
