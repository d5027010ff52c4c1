//===- Sema.h - name resolution and type checking ---------------*- C++ -*-===//
//
// Input:  a parsed ast::Module.
// Output: every Expr's `type` is set; a Program describing consts (values),
//         params, functions and derived functions (with their signatures);
//         user errors are reported into the DiagEngine (all of them).
// Preserves: the AST's shape, except that a call of a function with
//         fn-typed parameters is rewritten to call its specialisation,
//         which sema appends to the module (docs/FUNCTIONS.md).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Signature.h"
#include "ir/Type.h"
#include "parse/AST.h"

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace bp::sema {

/// The largest tensor a program may declare or compute: 2^27 f64 elements
/// (1 GiB). Larger shapes are compile errors (docs/TENSORS.md).
constexpr int64_t maxTensorElements = (int64_t)1 << 27;

struct SliceBounds {
  int64_t lo, hi;
  /// A window `x[i:i + K]` (section 14): the start expression, an int
  /// checked at run time; then lo = 0 and hi = K.
  const ast::Expr *start = nullptr;
};

struct ConstValue {
  bool isInt = true;
  int64_t i = 0;
  double f = 0;
  double asDouble() const { return isInt ? (double)i : f; }
};

// Signatures and derived functions are shared with the IR (ir/Signature.h).
using ir::DerivedInfo;
using ir::DerivKind;
using ir::FnSig;
using ir::spelling;
using ir::WrtVar;

struct ParamInfo {
  std::string name;
  const Type *type;
  Loc loc;
  std::string init = "zeros"; // zeros ones literal randn uniform glorot
  std::vector<double> initArgs;
};

/// The `train { ... }` block, checked (section 8). Flags of `bpc train`
/// override the fields.
struct TrainSpec {
  Loc loc;
  std::string loss, metric;
  std::string data, test; // paths relative to the .bp file
  Loc dataLoc, testLoc;
  std::string optimizer = "sgd"; // sgd | momentum | adam | adamw
  double lr = 0.01, beta1 = 0.9, beta2 = 0.999;
  /// `weight_decay:` (section 17): sgd, momentum, adam add weightDecay * p
  /// to each gradient; adamw's decoupled decay (its 4th argument, default
  /// 0.01). Unset: 0, or adamw's default.
  std::optional<double> weightDecay;
  /// The decay the optimiser applies: weightDecay, else adamw's default.
  double effectiveWeightDecay() const {
    return weightDecay.value_or(optimizer == "adamw" ? 0.01 : 0);
  }
  int64_t epochs = 1, batch = 1, seed = 0;
  double clip = 0;       // 0: no clipping
  int64_t threads = 0;   // section 17's `threads:`; 0: every core
  int64_t earlyStop = 0; // `early_stop:` patience in epochs; 0: none
  int64_t saveEvery = 0; // `save_every:` epochs between saves; 0: at the end
  /// `schedule:` (section 17): the learning rate per epoch.
  struct Schedule {
    enum class Kind { Constant, Step, Cosine } kind = Kind::Constant;
    int64_t every = 1;  // step: the lr is multiplied by gamma every `every`
    double gamma = 1;   //   epochs
    int64_t warmup = 0; // cosine: epochs of linear warm-up
  } schedule;
};

struct Options {
  std::map<std::string, std::string> defines; // -D NAME=VALUE
  /// bpc train's --loss and --metric: they replace the block's fields and
  /// are checked as those are. --data / --test give the rows.
  std::optional<std::string> trainLoss, trainMetric;
  bool trainDataFlag = false, trainTestFlag = false;
};

struct Program {
  std::map<std::string, ConstValue> consts;
  std::vector<ParamInfo> params;
  std::vector<const ast::FnItem *> fns;
  std::map<std::string, FnSig> fnSigs;
  /// In dependency order: a derived function's base comes first.
  std::vector<DerivedInfo> derived;
  /// Inline derived calls: the callee CallExpr `grad(f, x)` -> derived name.
  std::map<const ast::Expr *, std::string> inlineDerived;
  /// Index expressions with slices: [lo, hi) of every axis the result
  /// keeps (after the leading int indices).
  std::map<const ast::Expr *, std::vector<SliceBounds>> slices;
  /// The start expressions of windows `x[i:i + K]` (SliceBounds::start).
  std::set<const ast::Expr *> windowStarts;
  /// sum/mean/logsumexp/max/min(x, axis), concat(a, b, axis): the call ->
  /// its axis
  /// (non-negative); avgpool2d(x, k), maxpool2d(x, k): the call -> k;
  /// conv2d: the call -> ir::Op::convAttr(stride, pad).
  std::map<const ast::Expr *, int64_t> axes;
  const ast::TrainItem *train = nullptr;
  std::optional<TrainSpec> trainSpec; // set when the block checks out

  const DerivedInfo *lookupDerived(const std::string &name) const;
  /// Signature of a user function or derived function, or null.
  const FnSig *signature(const std::string &name) const;
};

/// Returns false when errors were reported.
bool check(ast::Module &module, TypeContext &types, DiagEngine &diags,
           const Options &options, Program &out);

/// True for names reserved by the language (builtins).
bool isBuiltin(const std::string &name);
/// Every builtin's name, sorted (the REPL's completion list).
std::vector<std::string> builtinNames();

} // namespace bp::sema
