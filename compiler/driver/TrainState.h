//===- TrainState.h - the training state of a v2 params file ----*- C++ -*-===//
//
// `bpc train --save` writes `# bp params v2` (docs/TRAINING.md): the params
// as in v1, then `#@` lines with what `--resume` needs to continue the run
// exactly: the optimiser's buffers (the `__opt.*` params that
// batch::buildTrainUpdate adds, which the compiled `__train_update` reads and
// writes), the epoch and row reached, the step count and the shuffle state.
// Every `#@` line starts with `#`, so params loaders that read v1 files (the
// runtime's bp_load_params, `--load`) skip them as comments.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/IR.h"
#include "jit/JIT.h"

#include <cstdint>
#include <string>
#include <vector>

namespace bp {

/// Where a run stands, beyond its params and optimiser buffers.
struct TrainState {
  std::string optimizer; // sgd, momentum, adam or adamw
  int64_t epoch = 0;     // epochs completed (counted from the first run)
  int64_t row = 0;       // rows of epoch `epoch + 1` already trained
  int64_t steps = 0;     // optimiser steps taken
  uint64_t rng = 0;      // the shuffle generator's state (support/Random.h)
  std::vector<int64_t> order; // the row order: epoch + 1's when row > 0
};

/// The `#@` lines of `st` and of every optimiser buffer (`__opt.*` param)
/// of `m`, in module order; appended to `out`.
void formatTrainState(const ir::Module &m, JIT &jit, const TrainState &st,
                      std::string &out);

/// `--resume PATH`: sets the params of `m` (loadParams) and its optimiser
/// buffers from the v2 params file `path`, and `st` to where that run
/// stood, for a run with `optimizer` over `rows` data rows. False with
/// `err` set (`PATH:LINE:COL: ...` where a line is at fault) for a v1 file,
/// another model's params, another optimiser's state, a missing or
/// misshapen buffer, a malformed `#@` line or another row count; the run
/// must then stop (some values may be set).
bool resumeTraining(const ir::Module &m, JIT &jit, const std::string &path,
                    const std::string &optimizer, int64_t rows, TrainState &st,
                    std::string &err);

} // namespace bp
