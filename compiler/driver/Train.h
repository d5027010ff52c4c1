//===- Train.h - `bpc train`: the training loop -----------------*- C++ -*-===//
#pragma once

#include "driver/Pipeline.h"
#include "ir/IR.h"
#include "jit/JIT.h"

#include <string>

namespace bp {

/// Flags of `bpc train` that override the train block (unset: keep it).
struct TrainFlags {
  std::optional<int64_t> epochs, batch, seed;
  std::optional<double> lr, clip;
  std::optional<std::string> optimizer;
  std::string savePath, plotDir;
};

/// Runs the training loop of a compiled program whose module contains
/// `__train_step` (ad::buildTrainStep) for `params`. Prints progress and
/// the gradient-flow report; data errors are located runtime errors.
ExitCode train(const ir::Module &m, const sema::TrainSpec &spec,
               const std::vector<std::string> &params, JIT &jit,
               const SourceFile &file, const TrainFlags &flags);

/// The params file format of `--save` / `--load` (docs/TRAINING.md):
///   # bp params v1
///   NAME d1 d2 ...        (no dims for a scalar)
///   v v v ...             (row-major, shortest round-trip form)
bool saveParams(const ir::Module &m, JIT &jit, const std::string &path,
                std::string &err);
bool loadParams(const ir::Module &m, JIT &jit, const std::string &path,
                std::string &err);

} // namespace bp
