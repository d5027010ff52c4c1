//===- Type.h - BP types, shared by sema and the IR -------------*- C++ -*-===//
//
// Types are interned in a TypeContext and compared by pointer. Tuples and
// Void exist only in sema (the IR flattens tuples into multiple results);
// Tape exists only in the IR (the reverse-mode value stack).
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace bp {

enum class TypeKind { F64, Int, Bool, Tensor, Tuple, Void, Str, Tape };

struct Type {
  TypeKind kind;
  std::vector<int64_t> shape;      // Tensor
  bool boolElems = false;          // Tensor of bool (IR only: masks)
  std::vector<const Type *> elems; // Tuple

  bool isF64() const { return kind == TypeKind::F64; }
  bool isInt() const { return kind == TypeKind::Int; }
  bool isBool() const { return kind == TypeKind::Bool; }
  bool isTensor() const { return kind == TypeKind::Tensor; }
  bool isTuple() const { return kind == TypeKind::Tuple; }
  bool isVoid() const { return kind == TypeKind::Void; }
  bool isNumeric() const { return isF64() || isInt(); }
  /// f64 or f64 tensor: the types that carry derivatives.
  bool isDifferentiable() const {
    return isF64() || (isTensor() && !boolElems);
  }
  int64_t numElements() const;
  size_t rank() const { return shape.size(); }
};

/// `f64`, `f64[2, 3]`, `(f64, int)`, ...
std::string toString(const Type *t);

class TypeContext {
public:
  TypeContext();
  const Type *f64() const { return f64Ty; }
  const Type *i64() const { return intTy; }
  const Type *boolean() const { return boolTy; }
  const Type *voidTy() const { return voidTyP; }
  const Type *str() const { return strTy; }
  const Type *tape() const { return tapeTy; }
  const Type *tensor(const std::vector<int64_t> &shape, bool boolElems = false);
  /// The same shape with other elements: a mask for `t`, or f64 again.
  const Type *withElems(const Type *t, bool boolElems) {
    return t->isTensor() ? tensor(t->shape, boolElems)
                         : (boolElems ? boolean() : f64());
  }
  const Type *tuple(const std::vector<const Type *> &elems);

private:
  const Type *make(Type t);
  std::vector<std::unique_ptr<Type>> owned;
  std::map<std::pair<std::vector<int64_t>, bool>, const Type *> tensors;
  std::map<std::vector<const Type *>, const Type *> tuples;
  const Type *f64Ty, *intTy, *boolTy, *voidTyP, *strTy, *tapeTy;
};

} // namespace bp
