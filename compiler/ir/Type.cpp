//===- Type.cpp - interned BP types ---------------------------------------===//
#include "ir/Type.h"

namespace bp {

int64_t Type::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

std::string toString(const Type *t) {
  switch (t->kind) {
  case TypeKind::F64:
    return "f64";
  case TypeKind::Int:
    return "int";
  case TypeKind::Bool:
    return "bool";
  case TypeKind::Void:
    return "()";
  case TypeKind::Str:
    return "string";
  case TypeKind::Tape:
    return "tape";
  case TypeKind::Tensor: {
    std::string s = t->elem == Elem::Bool  ? "bool["
                    : t->elem == Elem::Int ? "int["
                                           : "f64[";
    for (size_t i = 0; i < t->shape.size(); ++i)
      s += (i ? ", " : "") + std::to_string(t->shape[i]);
    return s + "]";
  }
  case TypeKind::Tuple: {
    std::string s = "(";
    for (size_t i = 0; i < t->elems.size(); ++i)
      s += (i ? ", " : "") + toString(t->elems[i]);
    return s + ")";
  }
  }
  return "?";
}

TypeContext::TypeContext() {
  f64Ty = make({TypeKind::F64, {}, Elem::F64, {}});
  intTy = make({TypeKind::Int, {}, Elem::F64, {}});
  boolTy = make({TypeKind::Bool, {}, Elem::F64, {}});
  voidTyP = make({TypeKind::Void, {}, Elem::F64, {}});
  strTy = make({TypeKind::Str, {}, Elem::F64, {}});
  tapeTy = make({TypeKind::Tape, {}, Elem::F64, {}});
}

const Type *TypeContext::make(Type t) {
  owned.push_back(std::make_unique<Type>(std::move(t)));
  return owned.back().get();
}

const Type *TypeContext::tensor(const std::vector<int64_t> &shape, Elem elem) {
  auto &slot = tensors[{shape, elem}];
  if (!slot)
    slot = make({TypeKind::Tensor, shape, elem, {}});
  return slot;
}

const Type *TypeContext::tuple(const std::vector<const Type *> &elems) {
  auto &slot = tuples[elems];
  if (!slot)
    slot = make({TypeKind::Tuple, {}, Elem::F64, elems});
  return slot;
}

} // namespace bp
