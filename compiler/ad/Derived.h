//===- Derived.h - grad, jvp, vjp, jacobian, ... as IR functions -*- C++
//-*-===//
#pragma once

#include "ir/IR.h"

namespace bp::ad {

/// jacobian(f, x) with f's result of type `result` and x of type `var`:
/// true for forward mode (one jvp per element of x), false for reverse mode
/// (one vjp per element of the result): whichever needs fewer sweeps,
/// forward on a tie. docs/AD.md "jacobian".
bool jacobianIsForward(const Type *result, const Type *var);

/// Input:  a verified module holding `info.base` (a user or derived
///         function), simplified first unless --no-simplify (the `ad` pass,
///         pipeline/Compilation.cpp); `info` checked by sema.
/// Output: a new function named `info.name` with sema's signature, built
///         from the reverse-mode (grad, value_and_grad) or forward-mode (jvp)
///         transform of the base. Non-differentiable code (e.g. a base that
///         assigns a param) is reported as a located error; returns false
///         then.
/// Preserves: every existing function (it only appends: the derived
///         function and the `.rev`/`.fwd` functions it calls; simplifying
///         is the pipeline's `simplify` pass, not done here).
bool buildDerived(ir::Module &m, const ir::DerivedInfo &info,
                  DiagEngine &diags);

/// checkpoint(f) (ad/Checkpoint.cpp). Input: `base`, f, verified.
/// Output: `info.name`, a copy of f in which the body of every outermost
///         loop is a call of a new function `<info.name>.body.<k>` (its
///         block arguments and the values it uses from outside as
///         arguments, its yielded values as results), so that reverse mode
///         tapes per iteration only the call's arguments and recomputes the
///         iteration in the reverse sweep. A copy of a derived function
///         that uses a tape is left whole.
/// Preserves: f and every other function; the values f computes.
bool buildCheckpoint(ir::Module &m, const ir::DerivedInfo &info,
                     const ir::Function &base);

/// The body of `loop` (a for or while) moved into a new function `name`
/// (block arguments, then the values it uses from outside, as arguments;
/// its yielded values as results); the body becomes a call of it. Null,
/// and `loop` unchanged, when the body is empty or uses a tape. `of` names
/// the function in the new one's description.
ir::Function *outlineLoopBody(ir::Module &m, ir::Op &loop,
                              const std::string &name, const std::string &of);

/// `--tape-budget` (ad/TapeBudget.cpp). Input: a verified module before AD;
/// `budget` bytes > 0. Output: in every user function, each top-level
/// `for` with constant bounds whose body's values over all iterations
/// (an upper bound on its tape) exceed the function's share of the budget
/// (the budget over its number of such loops) is split into nested chunk
/// loops, each level's body outlined into `<f>.chunk.<k>`, so that its
/// reverse sweep tapes at most about the share.
/// Preserves: the values every function computes; derived functions.
void applyTapeBudget(ir::Module &m, int64_t budget);

} // namespace bp::ad

namespace bp::ad {

/// Params read by `f` or any function it calls, in declaration order.
std::vector<std::string> paramsRead(const ir::Module &m, const ir::Function &f);

/// `bpc train`: adds `__train_step(loss args...) -> f64`, which returns the
/// loss of one example and adds its gradient w.r.t. every param the loss
/// reads into that param's accumulator `__grad.<param>` (new params,
/// zero-initialised). Returns the trained params, or nothing after an error.
std::vector<std::string> buildTrainStep(ir::Module &m,
                                        const std::string &lossName,
                                        DiagEngine &diags, Loc loc);

} // namespace bp::ad
