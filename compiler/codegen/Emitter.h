//===- Emitter.h - IR to LLVM IR (internal) ---------------------*- C++ -*-===//
//
// One Emitter per module. CodeGen.cpp: functions, control flow, calls,
// printing, tapes. Scalar.cpp: the scalar math of every elementwise op.
// Tensor.cpp: tensor buffers (one arena per call) and tensor ops.
//
// Tensor values are pointers to row-major buffers of 8-byte elements:
// doubles (f64 tensors, bool masks as 0 / 1) or int64_t (int tensors). Every op
// with a tensor result owns a slot in its function's arena (ops inside loops
// reuse their slot each iteration: a value never outlives its iteration except
// through yield, which copies). Views (extract of a row, param loads) point
// into other buffers; values are immutable, so sharing is safe.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "codegen/CodeGen.h"

#include "llvm/IR/IRBuilder.h"

#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include <array>

#include <functional>
#include <map>
#include <set>
#include <unordered_map>

namespace bp::codegen {

class Emitter {
public:
  Emitter(const ir::Module &m, llvm::LLVMContext &ctx)
      : irMod(m), ctx(ctx), b(ctx) {}
  std::unique_ptr<llvm::Module> run();
  bool checkNumerics = false;
  bool interruptible = false; // poll bp_interrupt_requested (emitLLVM)

private:
  using Value = llvm::Value;
  const ir::Module &irMod;
  llvm::LLVMContext &ctx;
  llvm::IRBuilder<> b;
  std::unique_ptr<llvm::Module> mod;
  llvm::Type *f64 = nullptr, *i64 = nullptr, *i1 = nullptr, *ptr = nullptr;
  llvm::StructType *tapeTy = nullptr;
  std::unordered_map<std::string, llvm::GlobalVariable *> params;
  std::unordered_map<const ir::Value *, Value *> vals;

  // Per function.
  const ir::Function *curIR = nullptr;
  llvm::Function *cur = nullptr;
  Value *fileName = nullptr;
  std::unordered_map<std::string, Value *> originNames; // REPL sources
  std::vector<Value *> outParams;     // tensor results, in result order
  llvm::Instruction *arena = nullptr; // placeholder until the size is known
  uint64_t arenaBytes = 0;
  /// Every slot handed out (a GEP into the placeholder) and its size.
  std::vector<std::pair<llvm::Value *, uint64_t>> arenaSlots;
  std::vector<llvm::ReturnInst *> returns;
  /// Returned tensors computed straight into the caller's out-parameter
  /// (no copy at return), values decided `into_param` computed in their
  /// param's global, and the value the op being emitted defines.
  std::map<const ir::Value *, Value *> returnSlots;
  const ir::Value *defining = nullptr;
  void intoParams(const ir::Block &blk);
  /// Element `idx` (nested loops) or `flat` (one loop, no strided reads) of
  /// elementwise `op`'s result, with fused producers computed inline.
  Value *elementOfOp(const ir::Op &op, const std::vector<Value *> &idx,
                     Value *flat, const std::vector<int64_t> &rs);
  std::vector<int64_t> broadcastStrides(const ir::Op &bc);

  /// Functions on a cycle of the call graph, by component (findRecursion).
  std::map<std::string, int> component;
  std::set<std::string> selfCalls;
  void findRecursion();
  bool mayRecurse(const std::string &caller, const std::string &callee) const;

  // CodeGen.cpp
  llvm::Type *type(const Type *t);
  llvm::FunctionType *signature(const ir::Function &f);
  void declare(const ir::Function &f);
  void define(const ir::Function &f);
  void defineDynamicWrapper(const ir::Function &f);
  void finishArena();
  Value *get(const ir::Value *v);
  std::vector<Value *> region(const ir::Block &blk);
  llvm::BasicBlock *newBlock(const char *name);
  /// The (file, line, col) arguments of a runtime error call at `loc`:
  /// where the user typed or loaded that line (ir::Module::lineOrigins).
  std::array<Value *, 3> location(Loc loc);
  llvm::FunctionCallee runtime(const char *name, llvm::Type *ret,
                               std::vector<llvm::Type *> args);
  llvm::Value *tableLowering(const ir::Op &op,
                             const std::vector<llvm::Value *> &in);
  llvm::FunctionCallee libm(const char *name, unsigned nargs = 1);
  void runtimeError(const ir::Op &op, const std::string &msg);
  void check(const ir::Op &op, Value *failed, const std::string &msg);
  /// At a loop's back edge, when interruptible: the runtime error
  /// `interrupted` once bp_interrupt_requested is set.
  void pollInterrupt(const ir::Op &op);
  void emit(const ir::Op &op);
  void emitCall(const ir::Op &op);
  void checkFinite(const ir::Op &op, Value *r, const std::vector<Value *> &ins);
  void emitReturn(const ir::Op &op);
  void emitIf(const ir::Op &op);
  /// The results of `op` at a join of two paths: its carried slot where it
  /// has one, else a phi of the values `a` (from `aEnd`) and `b2` (`bEnd`).
  void mergeResults(const ir::Op &op, const std::vector<Value *> &slots,
                    const std::vector<Value *> &a, llvm::BasicBlock *aEnd,
                    const std::vector<Value *> &b2, llvm::BasicBlock *bEnd);
  void emitFor(const ir::Op &op);
  std::vector<Value *> forLoop(const ir::Op &op,
                               const std::vector<Value *> &slots);
  /// off in index = off + s * iv for an index operand that
  /// transforms/BoundsChecks found affine in `loop` (its cases, emitted
  /// before the loop); sets s.
  Value *affineOffset(const ir::Value *v, const ir::Op &loop, int64_t &s);
  /// Versioned loops whose unchecked copy is being emitted: the hoisted
  /// checks of their bodies are left out.
  std::set<const ir::Op *> uncheckedCopies;
  void emitWhile(const ir::Op &op);
  void storeCarried(std::vector<Value *> &next,
                    const std::vector<Value *> &slots, const ir::Block &body,
                    size_t firstArg);
  void emitPrint(const ir::Op &op);
  void emitPush(const ir::Op &op, Value *tape, Value *v, const Type *t,
                bool reserved);
  Value *emitPop(Value *tape, const Type *t);
  Value *field(Value *tape, unsigned i);
  /// A value flowing into a region result / carried slot: tensors are
  /// copied into `dst`, scalars pass through.
  Value *materialize(Value *v, const Type *t, Value *dst);

  // Scalar.cpp
  Value *intrinsic(llvm::Intrinsic::ID id, std::vector<Value *> args);
  Value *fmax(Value *a, Value *c);
  Value *fmin(Value *a, Value *c);
  /// The scalar computation of an elementwise op on scalar inputs.
  Value *scalar(const ir::Op &op, const std::vector<Value *> &in);

  // Tensor.cpp
  /// The LLVM type of one element of `t` (or of the scalar `t`): i64 for
  /// int tensors, f64 for f64 tensors and masks (8 bytes each).
  llvm::Type *elemType(const Type *t) const {
    return t->isIntLike() ? i64 : f64;
  }
  /// idiv / irem on int tensors: each divisor checked (zero, overflow).
  void emitIntDivision(const ir::Op &op);
  Value *slot(const Type *t);
  /// A scalar stack cell in the entry block (never inside a loop).
  Value *entryAlloca(llvm::Type *t);
  void copyTensor(Value *dst, Value *src, const Type *t);
  void loop(Value *n, const std::function<void(Value *)> &body);
  void loops(const std::vector<int64_t> &shape,
             const std::function<void(const std::vector<Value *> &)> &body);
  Value *elementOf(Value *v, const Type *t, Value *flat);
  void emitElementwise(const ir::Op &op);
  void emitTensorOp(const ir::Op &op);
  void emitBroadcast(const ir::Op &op, bool sumTo);
  void emitReduce(const ir::Op &op);
  void emitMaxMask(const ir::Op &op);
  void emitMatMul(const ir::Op &op);
  /// A 2-D transpose (a view when TransposeElision elided it).
  void emitTranspose(const ir::Op &op);
  /// im2col / col2im (Ops.def).
  void emitConvPatches(const ir::Op &op);
  void emitIndexing(const ir::Op &op);
  /// gather / scatter_add (Ops.def): rows selected by an int tensor.
  void emitGather(const ir::Op &op);
  Value *offsetOf(const ir::Op &op, const Type *t, size_t firstIndex,
                  size_t count);
  void checkIndex(const ir::Op &op, Value *i, int64_t axis, int64_t size);
  /// A window of `len` elements from `i` on axis `axis` of size `size`:
  /// out of range is a runtime error at op's loc.
  void checkWindow(const ir::Op &op, Value *i, int64_t len, int64_t axis,
                   int64_t size);
  /// The region of a slice / unslice / splice in a tensor of shape `full`:
  /// its base offset (its index operands checked, unless decided
  /// unchecked) and the stride in `full` of each kept axis.
  std::pair<Value *, std::vector<int64_t>>
  sliceRegion(const ir::Op &op, const std::vector<int64_t> &full);
  /// Copies between the region (base, strides) of `full` and the dense
  /// tensor `part` of type `partT`, into `full` when `intoFull`.
  void copyRegion(Value *full, Value *part, const Type *partT, Value *base,
                  const std::vector<int64_t> &strides, bool intoFull);
};

} // namespace bp::codegen
