//===- IR.h - BP's typed SSA IR with structured control flow ----*- C++ -*-===//
//
// A Module holds Functions and params (globals). A Function has one body
// Block; a Block is a list of Ops and a list of block arguments; an Op has
// operands (Values defined earlier or in an enclosing block), results, and
// nested Regions (each exactly one Block) for if/for/while. There are no
// branches: control flow is structured, like MLIR's scf dialect, which makes
// reverse-mode AD a walk over the tree. Invariants: ir/Verifier.cpp.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Signature.h"
#include "ir/Type.h"
#include "support/Diagnostics.h"

#include <cassert>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace bp::ir {

enum class OpKind {
#define OP(Name, Mnemonic, Pure, Rule) Name,
#include "ir/Ops.def"
};

/// Where an op's derivative comes from (the Rule column of ir/Ops.def).
enum class RuleKind { Partials, Structural, None, Pass };

const char *mnemonic(OpKind k);
bool isPure(OpKind k);
/// Computed element by element (on scalars, or on tensors of the result's
/// shape): the ops codegen emits as one loop and transforms/Fusion fuses.
bool isElementwise(OpKind k);
RuleKind ruleKind(OpKind k);
/// A MATH op of ir/Ops.def: elementwise f64 math.
bool isMath(OpKind k);
/// Its operand count (0 for an op that is not MATH).
unsigned mathArity(OpKind k);
/// The elementwise builtin functions of the language (MATH lines whose
/// Builtin column is Fn), by spelling: sema's builtin table and IRGen.
const std::map<std::string, OpKind> &elementwiseBuiltins();

/// Predicates of fcmp/icmp, stored in Op::ival.
enum class CmpPred { Eq, Ne, Lt, Le, Gt, Ge };
const char *spelling(CmpPred p);

class Op;
class Block;

/// One axis of the region of a slice, unslice or splice (Ops.def), in the
/// order of the full tensor's axes.
struct SliceAxis {
  enum Kind {
    /// Kept: starts at `offset`; its length is the part's (the slice's
    /// result, the unslice's operand, the splice's e).
    Offset,
    /// Indexed by the op's next int index operand and removed.
    Index,
    /// Kept: starts at the op's next int index operand (a window
    /// `x[i:i + K]`, checked at loc); its length is the part's.
    Window,
  } kind = Offset;
  int64_t offset = 0; // Offset only

  static SliceAxis at(int64_t offset) { return {Offset, offset}; }
  static SliceAxis indexed() { return {Index, 0}; }
  static SliceAxis window() { return {Window, 0}; }
  /// Index and Window axes take an index operand.
  bool hasIndex() const { return kind != Offset; }
  bool operator==(const SliceAxis &) const = default;
  auto operator<=>(const SliceAxis &) const = default;
};
/// The printed form, one entry per axis: "0,i" (as in `slice ... [0,i]`).
std::string spelling(const std::vector<SliceAxis> &region);
/// slice, unslice or splice: the ops with a SliceAxis region.
bool hasSliceRegion(OpKind k);

class Value {
public:
  const Type *type;
  Op *def = nullptr;      // the defining op, or null for a block argument
  Block *owner = nullptr; // for block arguments
  unsigned index = 0;     // result number or argument number
  std::string name;       // printing hint (source variable name), may be ""

  Value(const Type *t) : type(t) {}
};

class Block {
public:
  std::vector<std::unique_ptr<Value>> args;
  std::vector<std::unique_ptr<Op>> ops;
  Op *parent = nullptr; // the op owning this region; null for a body

  Value *addArg(const Type *t, std::string name = "");
  Op *terminator() const { return ops.empty() ? nullptr : ops.back().get(); }
};

class Op {
public:
  OpKind kind;
  Loc loc;
  std::vector<Value *> operands;
  std::vector<std::unique_ptr<Value>> results;
  std::vector<std::unique_ptr<Block>> regions;
  Block *parent = nullptr;

  // Attributes (meaning depends on kind, see Ops.def).
  double fval = 0;
  int64_t ival = 0;
  std::string str;
  /// slice/unslice/splice: the region, one SliceAxis per axis of the full
  /// tensor (accessors below); empty for other ops.
  std::vector<SliceAxis> slice;
  /// Made by the reverse sweep of AD (printing only: `emit adjoint` starts
  /// the "reverse sweep" section at the first such op).
  bool adjoint = false;
  /// An extract/insert/slice/unslice/splice that AD's reverse sweep made
  /// with the indices of a forward-sweep op, which checked them (set through
  /// Builder::markPrechecked). Such an op has no effects (ir::hasEffects:
  /// unused, it may go), and transforms/BoundsChecks drops the checks of
  /// its slices. Not printed (AD sets it, so `emit ir` would change).
  bool prechecked = false;

  /// What the passes of compiler/transforms decided (Passes.h lists them);
  /// codegen reads these and decides nothing itself. Printed in braces
  /// (`bpc emit ir --after PASS`); each pass resets its own fields first.
  struct Decisions {
    /// insert/splice: writes operand 0's buffer (InPlace), `{inplace}`.
    bool inplace = false;
    /// for/while: init operands whose buffer the loop carries as its slot
    /// (no copy in or out, InPlace), `{inplace_init(2)}`.
    std::vector<unsigned> inplaceInits;
    /// matmul: computed by cblas_dgemm (BlasSelection), `{blas}`.
    bool blas = false;
    /// BLAS matmul: operand 0 / 1 is an elided transpose; dgemm reads its
    /// source with CblasTrans (TransposeElision), `{transpose_a}`.
    bool transposeA = false, transposeB = false;
    /// transpose: never materialised (TransposeElision), `{elided}`.
    bool elided = false;
    /// broadcast/elementwise tensor op: computed inside the loop of the op
    /// that uses it, never stored (Fusion), `{fused}`.
    bool fused = false;
    /// slice/unslice/splice: no index checks (BoundsChecks), `{unchecked}`.
    bool unchecked = false;
    /// param.load of a tensor param: reads the param's buffer, no copy
    /// (ParamViews), `{view}`; without it the load copies.
    bool view = false;
    /// elementwise tensor op stored into a param: computed in the param's
    /// buffer (ParamViews), `{into_param}`.
    bool intoParam = false;
    /// for: emitted twice, the copy without the hoisted checks of its body
    /// running when a check before the loop passes (BoundsChecks).
    bool versioned = false;
    /// extract/insert in a versioned for's body: index operands affine in
    /// the induction variable, checked before the loop (BoundsChecks),
    /// `{hoisted_checks(1)}`.
    std::vector<unsigned> hoistedChecks;
  } decided;

  Op(OpKind k, Loc l) : kind(k), loc(l) {}
  Value *result(unsigned i = 0) const { return results[i].get(); }
  Block *region(unsigned i) const { return regions[i].get(); }
  Value *addResult(const Type *t, std::string name = "");
  Block *addRegion();
  CmpPred pred() const { return (CmpPred)ival; }

  // Named attributes of some families (Ops.def), stored in str / ival.
  /// call: the callee's name (str).
  const std::string &callee() const {
    assert(kind == OpKind::Call && "callee of a non-call");
    return str;
  }
  /// param.load, param.store, param.add: the param's name (str).
  const std::string &paramName() const {
    assert((kind == OpKind::ParamLoad || kind == OpKind::ParamStore ||
            kind == OpKind::ParamAdd) &&
           "param name of a non-param op");
    return str;
  }
  /// broadcast, sum_to: the axis the smaller side lacks, or -1 (NumPy
  /// rules); reduce_sum, reduce_max: the axis removed, or -1 (all
  /// elements); max_mask: the axis its lines run along, or -1. Stored in
  /// ival.
  int64_t axis() const {
    assert((kind == OpKind::Broadcast || kind == OpKind::SumTo ||
            kind == OpKind::ReduceSum || kind == OpKind::ReduceMax ||
            kind == OpKind::MaxMask) &&
           "axis of an op without one");
    return ival;
  }

  /// im2col, col2im: the stride and the zero padding of the convolution,
  /// stored in ival as pad * 2^32 + stride (both at least 0, stride >= 1).
  int64_t convStride() const {
    assert((kind == OpKind::Im2Col || kind == OpKind::Col2Im) &&
           "stride of an op without one");
    return ival & 0xffffffff;
  }
  int64_t convPad() const {
    assert((kind == OpKind::Im2Col || kind == OpKind::Col2Im) &&
           "pad of an op without one");
    return ival >> 32;
  }
  static int64_t convAttr(int64_t stride, int64_t pad) {
    return (pad << 32) | stride;
  }

  // Slice regions (Ops.def). slice x, i...; unslice g, i...; splice v, e,
  // i...: the index operands follow, one per SliceAxis::Index axis in order.
  const std::vector<SliceAxis> &sliceAxes() const {
    assert(hasSliceRegion(kind) && "slice region of a non-slice op");
    return slice;
  }
  /// The operand number of the first index.
  unsigned firstSliceIndex() const {
    assert(hasSliceRegion(kind) && "slice region of a non-slice op");
    return kind == OpKind::Splice ? 2 : 1;
  }
  /// The number of index operands the region asks for (Index and Window
  /// axes).
  size_t numSliceIndices() const;
  /// The index operand of axis `axis`, which is SliceAxis::Index or
  /// SliceAxis::Window.
  Value *sliceIndex(size_t axis) const;

  // Loops (Ops.def). `for`: operands (lower, upper, inits...), one region
  // whose arguments are (induction variable, carried...). `while`: operands
  // (inits...), a condition region and a body region, each with arguments
  // (carried...).
  Value *lower() const {
    assert(kind == OpKind::For && "lower bound of a non-for");
    return operands[0];
  }
  Value *upper() const {
    assert(kind == OpKind::For && "upper bound of a non-for");
    return operands[1];
  }
  /// The operand number of the first carried value's initial value.
  unsigned firstInit() const {
    assert((kind == OpKind::For || kind == OpKind::While) && "not a loop");
    return kind == OpKind::For ? 2 : 0;
  }
  size_t numCarried() const { return operands.size() - firstInit(); }
  /// The initial value of carried value i.
  Value *init(size_t i) const { return operands[firstInit() + i]; }
  /// The region that runs once per iteration.
  Block *body() const { return region(kind == OpKind::For ? 0 : 1); }
  /// The body's argument for carried value i (a for's is after its iv).
  Value *carriedArg(size_t i) const {
    return body()->args[i + (kind == OpKind::For ? 1 : 0)].get();
  }
  Value *inductionVar() const {
    assert(kind == OpKind::For && "induction variable of a non-for");
    return region(0)->args[0].get();
  }
};

struct Param {
  std::string name;
  const Type *type;
  Loc loc;
  // Initialiser: kind plus up to two arguments (see sema), or literal data.
  std::string init = "zeros";
  std::vector<double> initArgs;
};

class Function {
public:
  std::string name;
  Loc loc;
  std::vector<const Type *> resultTypes;
  std::unique_ptr<Block> body = std::make_unique<Block>();
  /// For derived functions: how it was made, e.g. "grad(neuron, w, b)".
  std::string derivedFrom;
  /// A checkpoint(f) copy, one of its outlined loop bodies, a chunk of a
  /// loop split by --tape-budget (ad/Checkpoint.cpp, ad/TapeBudget.cpp), or
  /// the batched version of one of these: its intermediates are recomputed
  /// in the caller's reverse sweep, so ir::inlineCalls keeps its calls.
  bool checkpointed = false;

  Value *addArg(const Type *t, std::string name) {
    return body->addArg(t, std::move(name));
  }
  const std::vector<std::unique_ptr<Value>> &args() const { return body->args; }
};

class Module {
public:
  TypeContext *types;
  std::string sourcePath;
  /// The source's line origins (SourceFile::origins): runtime errors are
  /// reported where the user typed or loaded the line. Empty for a file.
  std::vector<LineOrigin> lineOrigins;
  std::vector<std::unique_ptr<Function>> functions;
  std::vector<Param> params;
  /// The derived functions (IRGen declares them, ad/ builds their bodies),
  /// in dependency order: a derived function's base comes first.
  std::vector<DerivedInfo> derived;
  /// Set by transforms::runOptimisationPasses: codegen reads its decisions.
  bool decided = false;

  explicit Module(TypeContext &t) : types(&t) {}
  Function *lookup(const std::string &name) const;
  const Param *lookupParam(const std::string &name) const;
  const DerivedInfo *lookupDerived(const std::string &name) const;
  Function *addFunction(std::string name);
};

/// Appends ops at the end of a block (or before its terminator).
class Builder {
public:
  explicit Builder(TypeContext &types) : types(types) {}

  TypeContext &types;

  void setInsertionPointToEnd(Block *b) {
    block = b;
    beforeTerminator = false;
  }
  /// Inserts before the block's terminator (used by AD to add pushes).
  void setInsertionPointBeforeTerminator(Block *b) {
    block = b;
    beforeTerminator = true;
  }
  Block *getBlock() const { return block; }
  Loc loc;
  /// Ops created while set are marked Op::adjoint.
  bool markAdjoint = false;
  /// Index ops (extract, insert, slice, unslice, splice) created while set
  /// are marked Op::prechecked.
  bool markPrechecked = false;

  Op *create(OpKind k, std::vector<Value *> operands = {},
             std::vector<const Type *> results = {});
  Value *constF(double v);
  Value *constI(int64_t v);
  Value *constB(bool v);
  Value *unary(OpKind k, Value *a);
  Value *binary(OpKind k, Value *a, Value *b);
  Value *cmp(OpKind k, CmpPred p, Value *a, Value *b);
  Value *select(Value *c, Value *a, Value *b);
  void yield(std::vector<Value *> vals);

private:
  Block *block = nullptr;
  bool beforeTerminator = false;
};

/// Whether an elementwise op's loop reads an operand through a fused
/// broadcast's strides (directly or through fused elementwise operands):
/// codegen then emits nested loops; such a loop may read an element after
/// it wrote another of the same buffer (transforms/ParamViews).
bool readsFusedBroadcast(const Op &op);

/// The initial values of param number `index` (row-major), from its
/// initialiser and `--seed`: the same numbers for the JIT and AOT builds.
std::vector<double> initialValues(const Param &p, size_t index, uint64_t seed);

/// Deep copy of `src` into `dst` (appended), mapping values through `map`
/// (which is extended with the copies' results and block arguments).
void cloneOpsInto(const Block &src, Block &dst,
                  std::map<const Value *, Value *> &map,
                  bool skipTerminator = false);
std::unique_ptr<Op> cloneOp(const Op &op,
                            std::map<const Value *, Value *> &map);

/// `bpc emit ir`: deterministic text form.
void print(const Module &m, std::ostream &os);
void print(const Function &f, std::ostream &os);

} // namespace bp::ir
