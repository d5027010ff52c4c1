//===- Train.h - `bpc train`: the training loop -----------------*- C++ -*-===//
#pragma once

#include "driver/Distributed.h"
#include "driver/Pipeline.h"
#include "driver/TrainState.h"
#include "ir/IR.h"
#include "jit/JIT.h"

#include <string>

namespace bp {

/// The train block with the command-line flags that override it applied.
sema::TrainSpec withFlags(const sema::TrainSpec &spec, const TrainFlags &flags);

/// A CSV of numbers: one example per row.
struct Table {
  std::vector<double> data;
  int64_t rows = 0, cols = 0;
  const double *row(int64_t i) const { return data.data() + i * cols; }
};

/// The data and test rows of a train block, read before the IR stage: the
/// batched steps are compiled for the minibatch sizes they imply.
struct TrainingData {
  Table data, test;
  /// The source and data files, which --save must not overwrite.
  std::vector<std::string> inputs;
  /// The processes training together (LANGUAGE.md section 18): each takes
  /// its contiguous part of every minibatch.
  Ranks ranks;
};

/// Reads the train block's files (next to the source file); each row holds
/// one value per element of the loss's arguments (`lossSig`). False on the
/// first problem, with `error` set to its located runtime error
/// (`file:line:col: runtime error: ...`), which the caller reports after
/// any compile errors.
bool loadTrainingData(const ir::FnSig &lossSig, const sema::TrainSpec &spec,
                      const SourceFile &file, TrainingData &out,
                      std::string &error);

/// The threads a rank's part of a minibatch is split across: `threads:` /
/// --threads, else every core it may run on (ranks that mpirun did not
/// bind to cores share the machine's); never more than the part has
/// examples.
int64_t trainThreads(const sema::TrainSpec &spec, int64_t rows,
                     const Ranks &ranks);

/// The learning rate of `epoch` (1-based) under the train block's schedule
/// (LANGUAGE.md section 17, docs/TRAINING.md): constant; step(every,
/// gamma): lr * gamma^floor((epoch - 1) / every); cosine(warmup): lr *
/// epoch / warmup for the first warmup epochs, then lr * (1 + cos(pi * (epoch
/// - 1 - warmup) / (epochs - warmup))) / 2, which reaches 0 at the end of the
/// last epoch.
double scheduledLr(const sema::TrainSpec &spec, int64_t epoch);

/// The example counts the batched steps are compiled for: each thread's
/// share of this rank's part of a full minibatch and of the last, shorter
/// one.
std::vector<int64_t> trainBatchSizes(const sema::TrainSpec &spec, int64_t rows,
                                     const Ranks &ranks);

/// After loadTrainingData on every rank (`error`: its failure, if any), and
/// before the JIT: the lowest rank that failed reports its located error
/// and every rank ends with exit 3; ranks that read different rows end
/// with a usage error. Success: train on.
ExitCode agreeOnTrainingData(TrainingData &data, const std::string &error);

/// Runs the training loop of a compiled program whose module contains
/// `__train_step` (ad::buildTrainStep) for `params`, and the batched steps
/// `__train_step.<n>` (batch::buildTrainStep) for `batchedSizes` (empty:
/// one call per example). Prints progress and the gradient-flow report.
ExitCode train(const ir::Module &m, const sema::TrainSpec &spec,
               const std::vector<std::string> &params,
               const std::vector<int64_t> &batchedSizes, JIT &jit,
               TrainingData &data, const TrainFlags &flags);

/// The params file format of `--save` (docs/TRAINING.md):
///   # bp params v2
///   NAME d1 d2 ...        (no dims for a scalar)
///   v v v ...             (row-major, shortest round-trip form)
///   #@ ...                (the training state, driver/TrainState.h)
/// v1 files are the same without the `#@` lines. saveParams replaces
/// `path` atomically (support/FileIO.h): on a failed write `err` names the
/// file and `path` is as it was.
bool saveParams(const ir::Module &m, JIT &jit, const std::string &path,
                const TrainState &state, std::string &err);

/// Whether --save `path` may be written: it is none of `inputs` (the
/// source and data files) and its directory takes a new file. False with
/// `err` set otherwise.
bool checkSaveTarget(const std::string &path,
                     const std::vector<std::string> &inputs, std::string &err);
/// loadParams sets every param of `m` from `path`, or none: a param the
/// file does not set, and nan or inf without `allowNonfinite`
/// (--allow-nonfinite), are errors.
bool loadParams(const ir::Module &m, JIT &jit, const std::string &path,
                bool allowNonfinite, std::string &err);

} // namespace bp
