//===- AD.h - reverse and forward mode transforms ---------------*- C++ -*-===//
#pragma once

#include "ad/Activity.h"
#include "ir/IR.h"

namespace bp::ad {

/// Reverse mode. Input: a verified function `f` without param stores.
/// Output: `<f>.rev.<suffix>` taking f's arguments followed by one seed
///   (the result's adjoint) per f64 result, returning f's results followed
///   by the adjoint of each active argument (in argument order) and of each
///   active param (in spec order). Forward sweep with tape pushes for values
///   defined inside regions that the reverse sweep needs, then the reverse
///   sweep (if -> if on the same condition, for/while -> a counted loop run
///   backwards popping the tape). Generated once per (function, activity)
///   and reused, so recursion works.
/// Preserves: `f`; every tape push has exactly one pop on every path.
/// Returns null after reporting an error at `useLoc`.
ir::Function *getReverse(ir::Module &m, ir::Function &f,
                         const ActivitySpec &spec, DiagEngine &diags,
                         Loc useLoc);

/// Forward mode. Output: `<f>.fwd.<suffix>` taking f's arguments, then one
/// tangent per active argument and per active param, returning f's results
/// followed by one tangent per f64 result.
ir::Function *getForward(ir::Module &m, ir::Function &f,
                         const ActivitySpec &spec, DiagEngine &diags,
                         Loc useLoc);

/// Section 15: whether `f` has a custom rule (`f.adjoint` or `f.tangent`
/// in m). Such a function is differentiated only through its rules.
bool hasCustomRule(const ir::Module &m, const ir::Function &f);

/// `name` (`f.rev.<pattern>`, the same signature as getReverse's) built from
/// the rule `adjoint f`: calls f, then `f.adjoint(args..., seeds...)`. A
/// located error naming f and the rule, and null, when f has none.
ir::Function *reverseFromRule(ir::Module &m, ir::Function &f,
                              const ActivitySpec &spec, const std::string &name,
                              DiagEngine &diags, Loc useLoc);

/// `name` (`f.fwd.<pattern>`, as getForward's) from the rule `tangent f`
/// (zero tangents for f's inactive f64 arguments).
ir::Function *forwardFromRule(ir::Module &m, ir::Function &f,
                              const ActivitySpec &spec, const std::string &name,
                              DiagEngine &diags, Loc useLoc);

/// `g * d` with the obvious cases folded (d = 1, d = -1, d a select of
/// constants, which keeps NaN adjoints out of the branch not taken).
ir::Value *scale(ir::Builder &b, ir::Value *g, ir::Value *d);

/// The zero of type `t` (a scalar 0.0 broadcast for tensors).
ir::Value *zeroOf(ir::Builder &b, const Type *t);

/// Reports an error when `f` (or a function it calls) cannot be
/// differentiated. Returns false then.
bool checkDifferentiable(const ir::Module &m, const ir::Function &f,
                         DiagEngine &diags, Loc useLoc);

} // namespace bp::ad
