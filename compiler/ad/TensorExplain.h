//===- TensorExplain.h - backpropagation of tensor code shown --*- C++ -*-===//
#pragma once

#include "ad/Explain.h"

namespace bp::ad {

/// Whether `f` or a function it calls has a tensor argument, value or
/// param read: explain shows it with explainTensors.
bool usesTensors(const ir::Module &m, const ir::Function &f);

/// explain of a derived function whose base uses tensors: every op with
/// its shape and leading values, then the reverse sweep last op first, the
/// adjoint arriving at each op (shape, norm, leading values) and its
/// local-derivative rule. The adjoints are the compiler's own rules
/// (ad/Rules.h) emitted into a scratch block and evaluated with
/// ir/TensorEval.h. `at` holds scalar arguments, `tensorAt` tensor ones.
bool explainTensors(const ir::Module &m, const std::string &fn,
                    const std::map<std::string, double> &at,
                    const TensorArgs &tensorAt, std::ostream &os,
                    std::string &err,
                    const std::map<std::string, double> *paramValues,
                    ExplainMode mode);

} // namespace bp::ad
