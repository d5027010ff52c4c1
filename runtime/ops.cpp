//===- ops.cpp - elementwise ops lowered to runtime calls -----------------===//
//
// Each MATH op of compiler/ir/Ops.def whose Lowering is Runtime becomes an
// extern "C" function named by its Symbol column, with the op's Eval
// expression as its body: the same formula the compiler's evaluator
// (ir/Eval.h) folds and explains.
//
//===----------------------------------------------------------------------===//
#include "ir/Math.h"

#include <cmath>

using namespace bp::ir;

#define BP_ARGS_1 double x
#define BP_ARGS_2 double x, double y
#define BP_ARGS_3 double x, double y, double z
#define BP_RUNTIME_Inline(Symbol, Arity, Eval)
#define BP_RUNTIME_Calls(Symbol, Arity, Eval)
#define BP_RUNTIME_Libm(Symbol, Arity, Eval)
#define BP_RUNTIME_Runtime(Symbol, Arity, Eval)                                \
  extern "C" double Symbol(BP_ARGS_##Arity) { return Eval; }
#define OP(Name, Mnemonic, Pure, Rule)
#define MATH(Name, Mnemonic, Arity, Builtin, Eval, Lowering, Symbol)           \
  BP_RUNTIME_##Lowering(Symbol, Arity, Eval)
#include "ir/Ops.def"
