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

/// The element type of a tensor (docs/TENSORS.md, "Element types"). Every
/// element is 8 bytes in codegen: F64 a double, Int an int64_t, Bool a
/// double 0 / 1 (IR-only masks). A later F32 is one more kind here.
enum class Elem { F64, Bool, Int };

struct Type {
  TypeKind kind;
  std::vector<int64_t> shape;      // Tensor
  Elem elem = Elem::F64;           // Tensor
  std::vector<const Type *> elems; // Tuple

  bool isF64() const { return kind == TypeKind::F64; }
  bool isInt() const { return kind == TypeKind::Int; }
  bool isBool() const { return kind == TypeKind::Bool; }
  bool isTensor() const { return kind == TypeKind::Tensor; }
  bool isTuple() const { return kind == TypeKind::Tuple; }
  bool isVoid() const { return kind == TypeKind::Void; }
  bool isNumeric() const { return isF64() || isInt(); }
  bool isF64Tensor() const { return isTensor() && elem == Elem::F64; }
  bool isIntTensor() const { return isTensor() && elem == Elem::Int; }
  bool isBoolTensor() const { return isTensor() && elem == Elem::Bool; }
  /// int or an int tensor: integer arithmetic (iadd, ...) and no derivative.
  bool isIntLike() const { return isInt() || isIntTensor(); }
  /// f64 or f64 tensor: the types that carry derivatives.
  bool isDifferentiable() const { return isF64() || isF64Tensor(); }
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
  const Type *tensor(const std::vector<int64_t> &shape, Elem elem = Elem::F64);
  /// The scalar type of an element kind: f64, bool or int.
  const Type *scalar(Elem e) const {
    return e == Elem::Int ? intTy : e == Elem::Bool ? boolTy : f64Ty;
  }
  /// The element kind of a scalar or tensor type (f64 for others).
  static Elem elemOf(const Type *t) {
    return t->isTensor() ? t->elem
           : t->isInt()  ? Elem::Int
           : t->isBool() ? Elem::Bool
                         : Elem::F64;
  }
  /// The same shape with other elements: a mask for `t`, or f64 again.
  const Type *withElems(const Type *t, Elem e) {
    return t->isTensor() ? tensor(t->shape, e) : scalar(e);
  }
  const Type *tuple(const std::vector<const Type *> &elems);

private:
  const Type *make(Type t);
  std::vector<std::unique_ptr<Type>> owned;
  std::map<std::pair<std::vector<int64_t>, Elem>, const Type *> tensors;
  std::map<std::vector<const Type *>, const Type *> tuples;
  const Type *f64Ty, *intTy, *boolTy, *voidTyP, *strTy, *tapeTy;
};

} // namespace bp
