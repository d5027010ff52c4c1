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
    std::string s = t->boolElems ? "bool[" : "f64[";
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
  f64Ty = make({TypeKind::F64, {}, false, {}});
  intTy = make({TypeKind::Int, {}, false, {}});
  boolTy = make({TypeKind::Bool, {}, false, {}});
  voidTyP = make({TypeKind::Void, {}, false, {}});
  strTy = make({TypeKind::Str, {}, false, {}});
  tapeTy = make({TypeKind::Tape, {}, false, {}});
}

const Type *TypeContext::make(Type t) {
  owned.push_back(std::make_unique<Type>(std::move(t)));
  return owned.back().get();
}

const Type *TypeContext::tensor(const std::vector<int64_t> &shape,
                                bool boolElems) {
  auto &slot = tensors[{shape, boolElems}];
  if (!slot)
    slot = make({TypeKind::Tensor, shape, boolElems, {}});
  return slot;
}

const Type *TypeContext::tuple(const std::vector<const Type *> &elems) {
  auto &slot = tuples[elems];
  if (!slot)
    slot = make({TypeKind::Tuple, {}, false, elems});
  return slot;
}

} // namespace bp
