//===- Train.cpp - `bpc train`: the training loop -------------------------===//
//
// Per minibatch: the rows are split across the threads (OpenMP); each
// thread gathers its rows into per-argument tensors and calls the
// JIT-compiled batched step `__train_step.<n>` (batch/TrainStep.h: the
// summed loss and gradients of n examples, as batched tensor code). The
// threads' sums are added in thread order (so results are identical for a
// given thread count) and the compiled optimiser step `__train_update`
// averages them, clips the global norm and updates the params in place. With
// --per-example (or a loss with an int argument) the step is `__train_step`,
// called once per example, adding its gradient into `__grad.<param>`. No
// allocation per step either way. Per epoch: the metric over the test rows,
// progress, and per-param gradient norms for the gradient-flow report.
//
// Under `mpirun -np K` (LANGUAGE.md section 18, docs/DISTRIBUTED.md) every
// rank reads all rows and takes its contiguous part of each minibatch (the
// first n mod K ranks one row more), split across its threads as above.
// One MPI_Allreduce per step sums the ranks' loss, signal flags and
// gradients (one flat buffer) before `__train_update`, which every rank
// runs on the same sums, so the params stay identical. Every decision that
// ends a run (divergence, a signal, early stopping, a failed save) is taken
// on reduced values, so all ranks stop together; only rank 0 prints,
// plots and saves.
//
// --save writes the params with the training state (TrainState.h: the
// optimiser buffers that `__train_update` keeps, the epoch and row reached,
// the shuffle); --resume restores them on every rank before the first step,
// so a resumed run continues exactly where the saved one stood.
//
//===----------------------------------------------------------------------===//
#include "driver/Train.h"

#include "ad/Explain.h"
#include "batch/TrainStep.h"
#include "bp_csv.h"
#include "bp_runtime.h"
#include "codegen/CodeGen.h"
#include "driver/Plot.h"
#include "driver/Report.h"
#include "driver/TrainState.h"
#include "support/FileIO.h"
#include "support/Format.h"
#include "support/Random.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <numeric>
#include <sstream>
#include <string_view>
#include <thread>
#include <unistd.h>

#ifdef BP_HAVE_OPENBLAS
extern "C" void openblas_set_num_threads(int);
#endif

namespace bp {

namespace {

using DynFn = void (*)(const double *, double *);

/// `where: runtime error: msg` into `err`; false, for `return`.
bool dataError(std::string &err, const std::string &where,
               const std::string &msg) {
  err = where + ": runtime error: " + msg;
  return false;
}

/// Reads `path`; the first problem is put in `err` at its file:line:col.
/// The columns where `intCols` is set must hold integers (int arguments).
bool loadTable(const std::string &path, const std::string &shown,
               const std::vector<bool> &intCols, const std::string &fieldWhere,
               Table &t, std::string &err) {
  int64_t cols = (int64_t)intCols.size();
  uint64_t limit;
  std::string limitError;
  if (!dataLimitBytes(limit, limitError))
    return dataError(err, fieldWhere, limitError);
  std::string contents;
  ReadResult read = readRegularFile(path, limit, contents);
  if (read.failure == ReadFailure::Open)
    return dataError(err, fieldWhere, "cannot open data file '" + shown + "'");
  if (read.failure == ReadFailure::Read) { // at the line it could not read
    int64_t line = std::count(contents.begin(), contents.end(), '\n') + 1;
    return dataError(err, shown + ":" + std::to_string(line) + ":1",
                     describeReadFailure(read, shown, "data file", limit));
  }
  if (!read)
    return dataError(err, fieldWhere,
                     describeReadFailure(read, shown, "data file", limit,
                                         " (set BP_DATA_LIMIT_MB to allow "
                                         "more)"));
  t.cols = cols;
  int64_t lineNo = 0;
  bool first = true;
  std::vector<csv::Field> fields;
  std::string problem;
  for (std::string_view line : csv::splitLines(contents)) { // bp_csv.h
    ++lineNo;
    if (csv::isBlank(line))
      continue;
    csv::splitFields(line, fields);
    bool header = csv::isHeader(fields, first);
    first = false;
    if (header)
      continue;
    // The place of an error, built only for one (not per field).
    auto at = [&](int64_t col) {
      return shown + ":" + std::to_string(lineNo) + ":" + std::to_string(col);
    };
    if ((int64_t)fields.size() != cols)
      return dataError(err, at(1),
                       "expected " + std::to_string(cols) +
                           " columns (the loss's arguments), found " +
                           std::to_string(fields.size()));
    for (size_t k = 0; k < fields.size(); ++k) {
      const csv::Field &f = fields[k];
      double v;
      if (!csv::fieldValue(f, v, problem) ||
          (intCols[k] && !csv::isIntegerField(f, v, problem)))
        return dataError(err, at(f.col), problem);
      t.data.push_back(v);
    }
    ++t.rows;
  }
  if (t.rows == 0)
    return dataError(err, shown + ":1:1", "no data rows");
  return true;
}

struct ParamState {
  std::string name;
  double *value = nullptr, *grad = nullptr;
  int64_t size = 0;
  std::vector<double> gradNorm; // mean per epoch
  double valueNorm = 0;
  std::vector<int64_t> shape;
  /// --report, rank 3 or more: the leading index's slices (`lead` of
  /// `sliceSize` elements each), their norms summed over the epoch's steps
  /// and the mean per epoch ([index][epoch]).
  int64_t lead = 0, sliceSize = 0;
  std::vector<double> sliceNormSum;
  std::vector<std::vector<double>> sliceNorm;
  /// The gradient norms of the last `kRecent` steps up to and including the
  /// first non-finite one (then frozen): the growth before an overflow,
  /// which the per-epoch means (nan) cannot show. A fixed ring: no
  /// allocation per step.
  static constexpr int64_t kRecent = 6;
  double recent[kRecent] = {};
  int64_t recentSteps = 0; // steps recorded (the ring holds the last 6)
  bool overflowed = false;
  void record(double g) {
    if (overflowed)
      return;
    recent[recentSteps++ % kRecent] = g;
    overflowed = !std::isfinite(g);
  }
};

double norm(const double *x, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i)
    s += x[i] * x[i];
  return std::sqrt(s);
}

std::string fmt(double v, int prec = 4) {
  if (std::isnan(v))
    return "nan";
  char buf[64];
  snprintf(buf, sizeof buf, "%.*g", prec, v);
  return buf;
}

} // namespace

sema::TrainSpec withFlags(const sema::TrainSpec &specIn,
                          const TrainFlags &flags) {
  sema::TrainSpec spec = specIn;
  if (flags.epochs)
    spec.epochs = *flags.epochs;
  if (flags.batch)
    spec.batch = *flags.batch;
  if (flags.seed)
    spec.seed = *flags.seed;
  if (flags.lr)
    spec.lr = *flags.lr;
  if (flags.clip)
    spec.clip = *flags.clip;
  if (flags.optimizer)
    spec.optimizer = *flags.optimizer;
  if (flags.weightDecay)
    spec.weightDecay = *flags.weightDecay;
  if (flags.schedule)
    spec.schedule = *flags.schedule;
  // Paths given as flags are relative to the current directory (the
  // block's to the .bp file): made absolute, the .bp file's folder does
  // not apply to them.
  auto path = [](const std::string &p) {
    return std::filesystem::absolute(p).string();
  };
  if (flags.data) {
    spec.data = path(*flags.data);
    spec.dataLoc = {};
  }
  if (flags.test) {
    spec.test = path(*flags.test);
    spec.testLoc = {};
  }
  if (flags.threads)
    spec.threads = *flags.threads;
  if (flags.earlyStop)
    spec.earlyStop = *flags.earlyStop;
  if (flags.saveEvery)
    spec.saveEvery = *flags.saveEvery;
  return spec;
}

bool loadTrainingData(const ir::FnSig &lossSig, const sema::TrainSpec &spec,
                      const SourceFile &file, TrainingData &out,
                      std::string &error) {
  std::vector<bool> intCols; // one per column: int and int tensor arguments
  for (const Type *t : lossSig.params)
    intCols.insert(intCols.end(), t->isTensor() ? t->numElements() : 1,
                   t->isIntLike());
  std::filesystem::path dir = std::filesystem::path(file.path).parent_path();
  auto where = [&](Loc l) { // no line: the path came from a flag
    return l.line ? file.path + ":" + std::to_string(l.line) + ":" +
                        std::to_string(l.col)
                  : std::string("bpc");
  };
  out.inputs = {file.path, (dir / spec.data).string()};
  if (!spec.test.empty())
    out.inputs.push_back((dir / spec.test).string());
  if (!loadTable((dir / spec.data).string(), (dir / spec.data).string(),
                 intCols, where(spec.dataLoc), out.data, error))
    return false;
  if (!spec.test.empty() &&
      !loadTable((dir / spec.test).string(), (dir / spec.test).string(),
                 intCols, where(spec.testLoc), out.test, error))
    return false;
  return true;
}

/// More threads than this are not used (the per-thread sums live in
/// fixed arrays).
constexpr int64_t maxThreads = 1024;

namespace {

/// A rank's contiguous part of `n` rows: n / K of them, the first n % K
/// ranks one more (LANGUAGE.md section 18). One process: all of them.
struct Part {
  int64_t begin = 0, n = 0;
};
Part rankPart(int64_t n, const Ranks &ranks) {
  int64_t k = ranks.size(), r = ranks.rank();
  return {r * (n / k) + std::min(r, n % k), n / k + (r < n % k ? 1 : 0)};
}

/// Every core this process may run on (omp_get_num_procs counts its
/// affinity mask); ranks of this machine that mpirun did not bind to cores
/// (each may run on all of them) share them.
int64_t defaultThreads(const Ranks &ranks) {
  int64_t procs = omp_get_num_procs();
  if (ranks.localSize() > 1 &&
      procs >= (int64_t)std::thread::hardware_concurrency())
    procs /= ranks.localSize();
  return std::max<int64_t>(1, procs);
}

} // namespace

int64_t trainThreads(const sema::TrainSpec &spec, int64_t rows,
                     const Ranks &ranks) {
  int64_t t = spec.threads > 0 ? spec.threads : defaultThreads(ranks);
  // The most rows this rank takes of a minibatch.
  int64_t part = rankPart(std::min(spec.batch, rows), ranks).n;
  return std::max<int64_t>(1, std::min({t, part, maxThreads}));
}

namespace {

/// The example counts of `threads` slices of a minibatch of `n`: n / threads,
/// the first n % threads of them one more. Into `out` (its capacity reused).
void slices(int64_t n, int64_t threads, std::vector<int64_t> &out) {
  threads = std::min(threads, n);
  out.clear();
  for (int64_t t = 0; t < threads; ++t)
    out.push_back(n / threads + (t < n % threads ? 1 : 0));
}

} // namespace

double scheduledLr(const sema::TrainSpec &spec, int64_t epoch) {
  const auto &sc = spec.schedule;
  switch (sc.kind) {
  case sema::TrainSpec::Schedule::Kind::Constant:
    return spec.lr;
  case sema::TrainSpec::Schedule::Kind::Step:
    return spec.lr * std::pow(sc.gamma, (double)((epoch - 1) / sc.every));
  case sema::TrainSpec::Schedule::Kind::Cosine: {
    if (epoch <= sc.warmup)
      return spec.lr * (double)epoch / (double)sc.warmup;
    double done = (double)(epoch - 1 - sc.warmup),
           span = (double)(spec.epochs - sc.warmup);
    return spec.lr * 0.5 * (1 + std::cos(M_PI * done / span));
  }
  }
  return spec.lr;
}

std::vector<int64_t> trainBatchSizes(const sema::TrainSpec &spec, int64_t rows,
                                     const Ranks &ranks) {
  int64_t batch = std::min(spec.batch, rows),
          threads = trainThreads(spec, rows, ranks);
  std::vector<int64_t> sizes, tail;
  slices(rankPart(batch, ranks).n, threads, sizes);
  slices(rankPart(rows % batch, ranks).n, threads, tail);
  sizes.insert(sizes.end(), tail.begin(), tail.end());
  std::sort(sizes.begin(), sizes.end());
  sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());
  return sizes;
}

namespace {

/// SIGINT or SIGTERM during training: the first ends the run after the
/// current step (the loop polls this), a second one ends the process at
/// once (the default action; every file bpc writes is written atomically,
/// so nothing is left half-done).
volatile std::sig_atomic_t pendingSignal = 0;

extern "C" void onStopSignal(int sig) {
  if (pendingSignal) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
    return;
  }
  pendingSignal = sig;
}

/// What must be the same on every rank before training: the params' values
/// (the initialiser's seed, --load), the train block with its flags, and
/// whether rank 0 saves and plots (the ranks agree on whether that worked).
uint64_t modelFingerprint(const ir::Module &m, JIT &jit,
                          const sema::TrainSpec &spec,
                          const TrainFlags &flags) {
  uint64_t h = fingerprint("", 0);
  for (const std::string *s : {&spec.loss, &spec.metric, &spec.optimizer})
    h = fingerprint(s->c_str(), s->size() + 1, h);
  double numbers[] = {spec.lr,
                      spec.beta1,
                      spec.beta2,
                      spec.effectiveWeightDecay(),
                      spec.clip,
                      (double)spec.epochs,
                      (double)spec.batch,
                      (double)spec.seed,
                      (double)spec.earlyStop,
                      (double)spec.saveEvery,
                      (double)spec.schedule.kind,
                      (double)spec.schedule.every,
                      spec.schedule.gamma,
                      (double)spec.schedule.warmup,
                      (double)flags.savePath.empty(),
                      (double)flags.plotDir.empty(),
                      (double)flags.reportDir.empty()};
  h = fingerprint(numbers, sizeof numbers, h);
  for (auto &p : m.params) {
    if (p.name.rfind("__", 0) == 0) // internal (__grad.W)
      continue;
    auto *d =
        static_cast<const double *>(jit.find(codegen::paramSymbol(p.name)));
    if (!d)
      continue;
    int64_t n = p.type->isTensor() ? p.type->numElements() : 1;
    h = fingerprint(d, n * sizeof(double), h);
  }
  return h;
}

/// Installs onStopSignal for SIGINT and SIGTERM while alive.
struct StopSignals {
  struct sigaction oldInt {
  }, oldTerm{};
  StopSignals() {
    struct sigaction sa {};
    sa.sa_handler = onStopSignal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &oldInt);
    sigaction(SIGTERM, &sa, &oldTerm);
  }
  ~StopSignals() {
    sigaction(SIGINT, &oldInt, nullptr);
    sigaction(SIGTERM, &oldTerm, nullptr);
  }
};

/// One thread's slice of a minibatch: its rows gathered per argument, the
/// batched step's results (summed loss, then each param's gradient).
struct Slice {
  std::vector<double> in, out;
  int64_t b0 = 0, n = 0;
};

/// One training run: the data, the compiled functions, the params with their
/// optimiser state, and the per-epoch history the reports print.
struct Trainer {
  const sema::TrainSpec &spec;
  Table &data, &test;
  const Ranks &ranks;
  /// Several ranks: the step's flat buffer for MPI_Allreduce (reduceStep).
  std::vector<double> reduced;
  /// This rank's part of the test rows.
  Part testPart;
  DynFn step = nullptr, lossFn = nullptr, metric = nullptr;
  /// __train_update (batch/TrainStep.h): the optimiser step; its results.
  DynFn update = nullptr;
  std::vector<double> updateOut;
  /// The batched steps by example count; empty: `step` per example.
  std::map<int64_t, DynFn> batched;
  std::vector<int64_t> argSize; // elements of each loss argument
  std::vector<Slice> threadSlices;
  std::vector<int64_t> sliceSizes; // of the current minibatch
  /// The vmapped loss the test loss runs on (over this rank's part of the
  /// test rows), its rows per call, and the chunks' losses; null: per
  /// example.
  DynFn batchLoss = nullptr;
  int64_t testChunk = 0;
  /// The vmapped metric summed over testChunk rows (null: per row).
  DynFn batchMetric = nullptr;
  std::vector<double> chunkSums; // one per test chunk
  int64_t threads = 1;
  std::vector<ParamState> ps;
  bool tty = false;
  int64_t batch = 0;
  int64_t clipped = 0, steps = 0;
  std::vector<double> clippedCurve;           // steps clipped per epoch
  std::vector<TrainReport::Verdict> verdicts; // set by reportGradientFlow
  std::chrono::steady_clock::time_point start;
  double lastLoss = 0, lastTestLoss = NAN, lastMetric = NAN;
  double lr = 0; // this epoch's learning rate (the schedule's)
  std::vector<double> lrCurve;
  std::vector<double> lossCurve, testLossCurve, metricCurve;
  /// Why run() ended; where (the last epoch and minibatch run).
  enum class Stop { Done, Diverged, Interrupted, EarlyStopped, SaveFailed };
  Stop stop = Stop::Done;
  int64_t stopEpoch = 0, stopBatch = 0;
  /// Interrupted: by this signal (SIGINT or SIGTERM; several ranks: the one
  /// any rank got, SIGTERM first).
  int stopSignal = 0, agreedSignal = 0;
  /// early_stop: the best test loss so far, its epoch and params.
  double bestTestLoss = INFINITY, bestMetric = NAN;
  int64_t bestEpoch = 0;
  std::vector<std::vector<double>> bestValues;
  /// The optimiser's buffers (`__opt.*`, batch/TrainStep.h) and their
  /// size; early_stop: their values and the training state at the best
  /// epoch, which --save writes once they are restored (`kept`).
  std::vector<std::pair<double *, int64_t>> optBuffers;
  std::vector<std::vector<double>> bestBuffers;
  TrainState bestState;
  bool kept = false;
  /// save_every: writes --save (set by train()); false after its error.
  std::function<bool()> save;
  /// The shuffle (TrainState): the generator and the row order, shuffled
  /// in place at the start of every epoch.
  Rng rng{0};
  std::vector<int64_t> order;
  /// --resume: the first epoch this run trains (counted from the first
  /// run), the rows of it already trained, the steps taken before.
  int64_t firstEpoch = 1, startRow = 0, priorSteps = 0;
  /// Where the run stands: the epochs completed, the rows of the next one.
  int64_t doneEpoch = 0, doneRow = 0;

  Trainer(const sema::TrainSpec &spec, TrainingData &d)
      : spec(spec), data(d.data), test(d.test), ranks(d.ranks) {}
  double elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                         start)
        .count();
  }
  void bind(const ir::Module &m, const std::vector<std::string> &params,
            const std::vector<int64_t> &batchedSizes, JIT &jit);
  void trackSlices();
  void addSliceNorms(double scale);
  void runSlice(const std::vector<int64_t> &order, Slice &s) const;
  template <typename Row>
  void gather(int64_t n, Row row, std::vector<double> &in) const;
  double testSum(DynFn batched, DynFn perRow);
  double stepBatched(const std::vector<int64_t> &order, int64_t b0, int64_t b1);
  double reduceStep(double loss);
  std::string header() const;
  void printHeader() const { std::cout << header() << '\n' << std::flush; }
  void startAt(const TrainState *resumed);
  TrainState trainState() const;
  int64_t rowsBefore() const { return (firstEpoch - 1) * data.rows + startRow; }
  void run();
  void runBatch(const std::vector<int64_t> &order, int64_t b0, int64_t b1,
                double &lossSum, std::vector<double> &gradNormSum);
  void printProgress(int64_t epoch, int64_t b1, int64_t rows,
                     double lossSum) const;
  double sumOverRows(DynFn f, const Table &t, Part rows) const;
  void evaluateTest();
  bool watchTestLoss(int64_t epoch);
  std::string stopText() const;
  void reportStop() const;
  void printEpoch(int64_t epoch) const;
  void printSummary() const;
  std::vector<TrainReport::Verdict> gradientVerdicts();
  void reportGradientFlow();
  TrainReport reportData(const std::string &source) const;
  bool writeCharts(const std::string &dir) const;
  bool writeHistory(const std::string &path, std::string &err) const;
};

/// Finds the JIT-compiled step, loss and metric, and every trained param
/// with its gradient accumulator `__grad.<param>`.
void Trainer::bind(const ir::Module &m, const std::vector<std::string> &params,
                   const std::vector<int64_t> &batchedSizes, JIT &jit) {
  auto sym = [&](const std::string &s) { return jit.find(s); };
  step = reinterpret_cast<DynFn>(sym(codegen::dynamicSymbol("__train_step")));
  lossFn = reinterpret_cast<DynFn>(sym(codegen::dynamicSymbol(spec.loss)));
  metric =
      spec.metric.empty()
          ? nullptr
          : reinterpret_cast<DynFn>(sym(codegen::dynamicSymbol(spec.metric)));
  for (auto &p : params) {
    const ir::Param *decl = m.lookupParam(p);
    int64_t n = decl->type->isTensor() ? decl->type->numElements() : 1;
    ParamState s;
    s.name = p;
    s.value = static_cast<double *>(sym(codegen::paramSymbol(p)));
    s.grad = static_cast<double *>(sym(codegen::paramSymbol("__grad." + p)));
    s.size = n;
    s.shape = decl->type->shape;
    ps.push_back(std::move(s));
  }
  update = reinterpret_cast<DynFn>(
      sym(codegen::dynamicSymbol(batch::trainUpdateName())));
  for (const ir::Param &p : m.params)
    if (p.name.rfind("__opt.", 0) == 0)
      optBuffers.push_back(
          {static_cast<double *>(sym(codegen::paramSymbol(p.name))),
           p.type->isTensor() ? p.type->numElements() : 1});
  updateOut.resize(1 + ps.size());
  // mpirun hands its ranks a pseudo-terminal whatever its own output is:
  // no progress bar under it (the epoch lines are printed either way).
  tty = isatty(STDOUT_FILENO) && !ranks.joined();
  batch = std::min(spec.batch, data.rows);
  for (int64_t n : batchedSizes)
    batched[n] = reinterpret_cast<DynFn>(
        sym(codegen::dynamicSymbol(batch::trainStepName(n))));
  for (auto &a : m.lookup(spec.loss)->args())
    argSize.push_back(a->type->isTensor() ? a->type->numElements() : 1);
  threads = trainThreads(spec, data.rows, ranks);
  testPart = rankPart(test.rows, ranks);
  int64_t outSize = 1;
  for (auto &p : ps)
    outSize += p.size;
  if (ranks.size() > 1) // the loss, two signal flags, the gradients
    reduced.resize(2 + outSize);
  if (batched.empty())
    return;
  threadSlices.resize(threads);
  sliceSizes.reserve(threads);
  for (Slice &s : threadSlices) { // every buffer allocated once, here
    s.in.resize((batch / threads + 1) * data.cols);
    s.out.resize(outSize);
  }
  testChunk = batched.rbegin()->first; // at most batch / threads + 1 rows
  if (testPart.n >= testChunk) {
    batchLoss = reinterpret_cast<DynFn>(
        sym(codegen::dynamicSymbol(batch::batchLossName(testChunk))));
    if (!spec.metric.empty())
      batchMetric = reinterpret_cast<DynFn>(
          sym(codegen::dynamicSymbol(batch::batchMetricName(testChunk))));
    chunkSums.resize(testPart.n / testChunk);
  }
}

/// The gradient norm per leading index of every param of rank 3 or more
/// (stacked layers, `W: f64[L, 16, 16]`), from here on: rows of the
/// gradient-flow table and lines of --report's chart.
void Trainer::trackSlices() {
  for (auto &p : ps) {
    if (p.shape.size() < 3 || p.shape[0] == 0)
      continue;
    p.lead = p.shape[0];
    p.sliceSize = p.size / p.lead;
    p.sliceNormSum.assign(p.lead, 0);
    p.sliceNorm.assign(p.lead, {});
  }
}

/// After a step: the norm of each tracked slice of the mean gradient
/// (`__grad.<param>` holds the minibatch's sum, `scale` is 1 / its size),
/// added to the epoch's sums. The same gradient __train_update measured.
void Trainer::addSliceNorms(double scale) {
  for (auto &p : ps)
    for (int64_t i = 0; i < p.lead; ++i)
      p.sliceNormSum[i] += norm(p.grad + i * p.sliceSize, p.sliceSize) * scale;
}

/// One thread's rows `order[s.b0, s.b0 + s.n)`: gathered into one tensor per
/// loss argument (the layout of the step's dynamic wrapper: each argument's
/// n examples in turn), then the batched step.
void Trainer::runSlice(const std::vector<int64_t> &order, Slice &s) const {
  gather(
      s.n, [&](int64_t e) { return data.row(order[s.b0 + e]); }, s.in);
  batched.at(s.n)(s.in.data(), s.out.data());
}

/// Rows row(0..n) into `in`, one tensor per loss argument (the layout of a
/// batched function's dynamic wrapper: each argument's n examples in turn).
template <typename Row>
void Trainer::gather(int64_t n, Row row, std::vector<double> &in) const {
  double *at = in.data();
  int64_t col = 0;
  for (int64_t size : argSize) {
    for (int64_t e = 0; e < n; ++e)
      std::memcpy(at + e * size, row(e) + col, size * sizeof(double));
    at += n * size;
    col += size;
  }
}

/// f(0), ..., f(n - 1) across `threads` OpenMP threads (static schedule:
/// contiguous blocks). One thread runs them inline: libgomp allocates a
/// team for every parallel region of one thread, which would be an
/// allocation per training step (bench/alloc_per_step.sh).
template <typename F> void parallelFor(int64_t n, int64_t threads, F f) {
  if (threads <= 1 || n <= 1) {
    for (int64_t i = 0; i < n; ++i)
      f(i);
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < n; ++i)
    f(i);
}

/// The summed loss (or metric) over this rank's test rows: chunks of
/// `testChunk` rows through `batched` (the vmapped loss
/// `__batch_loss.<testChunk>` or metric `__batch_metric.<testChunk>`),
/// across the threads, the rest per row through `perRow`; added in row
/// order (the same for every thread count).
double Trainer::testSum(DynFn batched, DynFn perRow) {
  if (!batched)
    return sumOverRows(perRow, test, testPart);
  int64_t chunks = testPart.n / testChunk, t0 = testPart.begin;
  parallelFor(chunks, threads, [&](int64_t c) {
    Slice &s = threadSlices[omp_get_thread_num()];
    gather(
        testChunk, [&](int64_t e) { return test.row(t0 + c * testChunk + e); },
        s.in);
    batched(s.in.data(), &chunkSums[c]);
  });
  double sum = 0, out[1];
  for (int64_t c = 0; c < chunks; ++c)
    sum += chunkSums[c];
  for (int64_t r = t0 + chunks * testChunk; r < t0 + testPart.n; ++r) {
    perRow(test.row(r), out);
    sum += out[0];
  }
  return sum;
}

/// Rows `order[b0, b1)` split across the threads; their gradient sums are
/// added into `__grad.<param>` in thread order. Returns the summed loss.
double Trainer::stepBatched(const std::vector<int64_t> &order, int64_t b0,
                            int64_t b1) {
  slices(b1 - b0, threads, sliceSizes);
  int64_t used = (int64_t)sliceSizes.size();
  for (int64_t t = 0, at = b0; t < used; at += sliceSizes[t], ++t) {
    threadSlices[t].b0 = at;
    threadSlices[t].n = sliceSizes[t];
  }
  parallelFor(used, used, [&](int64_t t) { runSlice(order, threadSlices[t]); });
  double loss = 0;
  for (int64_t t = 0; t < used; ++t) {
    const double *out = threadSlices[t].out.data();
    loss += out[0];
    int64_t off = 1;
    for (auto &p : ps) {
      for (int64_t e = 0; e < p.size; ++e)
        p.grad[e] += out[off + e];
      off += p.size;
    }
  }
  return loss;
}

/// The first line bpc train prints: what it trains, and how.
std::string Trainer::header() const {
  std::ostringstream o;
  o << "training '" << spec.loss << "' on " << data.rows << " examples";
  if (test.rows)
    o << " (" << test.rows << " test)";
  o << ": " << spec.optimizer << "(lr " << fmt(spec.lr);
  if (spec.weightDecay || spec.optimizer == "adamw")
    o << ", weight decay " << fmt(spec.effectiveWeightDecay());
  o << ")";
  const auto &sc = spec.schedule;
  using Kind = sema::TrainSpec::Schedule::Kind;
  if (sc.kind == Kind::Step)
    o << ", schedule step(" << sc.every << ", " << fmt(sc.gamma) << ")";
  if (sc.kind == Kind::Cosine)
    o << ", schedule cosine(" << sc.warmup << ")";
  o << ", batch " << batch;
  if (ranks.size() > 1)
    o << " over " << ranks.size() << " ranks";
  if (firstEpoch > 1 || startRow) { // --resume
    o << (firstEpoch < spec.epochs ? ", epochs " : ", epoch ") << firstEpoch;
    if (firstEpoch < spec.epochs)
      o << "-" << spec.epochs;
    o << " (resumed after epoch " << firstEpoch - 1;
    if (startRow)
      o << " and " << startRow << " rows";
    o << ")";
  } else {
    o << ", " << spec.epochs << " epochs";
  }
  if (spec.clip > 0)
    o << ", clip " << fmt(spec.clip);
  o << ", params";
  for (auto &p : ps)
    o << ' ' << p.name;
  return o.str();
}

/// The shuffle and the position to start from: the seed's, at epoch 1; or
/// where the run saved in `resumed` stood (--resume).
void Trainer::startAt(const TrainState *resumed) {
  if (!resumed) {
    order.resize(data.rows);
    std::iota(order.begin(), order.end(), 0);
    rng.state = (uint64_t)spec.seed * 0x9e3779b97f4a7c15ull + 1;
    return;
  }
  order = resumed->order;
  rng.state = resumed->rng;
  firstEpoch = resumed->epoch + 1;
  startRow = resumed->row;
  priorSteps = resumed->steps;
  doneEpoch = resumed->epoch;
  doneRow = resumed->row;
}

/// What --save writes beside the params (TrainState.h).
TrainState Trainer::trainState() const {
  if (kept) // early_stop restored the best epoch's
    return bestState;
  return {spec.optimizer,     doneEpoch, doneRow,
          priorSteps + steps, rng.state, order};
}

/// The epoch loop: shuffle, one optimiser step per minibatch, then the
/// epoch's loss, metric and gradient norms. Stops early on a non-finite loss.
/// A resumed run starts at firstEpoch, row startRow (that epoch's order
/// already shuffled when startRow > 0).
void Trainer::run() {
  start = std::chrono::steady_clock::now();
  for (int64_t epoch = firstEpoch; epoch <= spec.epochs; ++epoch) {
    int64_t r0 = epoch == firstEpoch ? startRow : 0;
    for (int64_t i = data.rows - 1; i > 0 && r0 == 0; --i)
      std::swap(order[i], order[rng.next() % (uint64_t)(i + 1)]);
    lr = scheduledLr(spec, epoch);
    lrCurve.push_back(lr);
    double lossSum = 0;
    std::vector<double> gradNormSum(ps.size(), 0);
    int64_t batches = 0, clippedBefore = clipped;
    int64_t rowsRun = r0;
    for (int64_t b0 = r0; b0 < data.rows && stop == Stop::Done; b0 += batch) {
      int64_t b1 = std::min(b0 + batch, data.rows);
      runBatch(order, b0, b1, lossSum, gradNormSum);
      ++batches;
      rowsRun = b1;
      doneEpoch = b1 == data.rows ? epoch : epoch - 1;
      doneRow = b1 == data.rows ? 0 : b1;
      stopEpoch = epoch;
      stopBatch = batches;
      int sig = ranks.size() > 1 ? agreedSignal : (int)pendingSignal;
      if (!std::isfinite(lossSum))
        stop = Stop::Diverged;
      else if (sig) {
        stop = Stop::Interrupted;
        stopSignal = sig;
      }
      if (tty)
        printProgress(epoch, b1, b1 - r0, lossSum);
    }
    lastLoss = lossSum / (rowsRun - r0);
    lossCurve.push_back(lastLoss);
    for (size_t j = 0; j < ps.size(); ++j)
      ps[j].gradNorm.push_back(gradNormSum[j] / batches);
    for (auto &p : ps)
      for (int64_t i = 0; i < p.lead; ++i) {
        p.sliceNorm[i].push_back(p.sliceNormSum[i] / batches);
        p.sliceNormSum[i] = 0;
      }
    clippedCurve.push_back((double)(clipped - clippedBefore));
    if (test.rows && stop != Stop::Diverged)
      evaluateTest();
    if (ranks.isRoot())
      printEpoch(epoch);
    if (stop != Stop::Done)
      return;
    if (spec.earlyStop && watchTestLoss(epoch))
      return;
    if (spec.saveEvery && epoch % spec.saveEvery == 0 && save && !save()) {
      stop = Stop::SaveFailed;
      return;
    }
  }
}

/// early_stop: keeps the params of the best epoch by test loss; true (the
/// best restored) when `patience` epochs passed without improving on it.
bool Trainer::watchTestLoss(int64_t epoch) {
  if (lastTestLoss < bestTestLoss) {
    bestTestLoss = lastTestLoss;
    bestMetric = lastMetric;
    bestEpoch = epoch;
    bestValues.resize(ps.size());
    for (size_t j = 0; j < ps.size(); ++j)
      bestValues[j].assign(ps[j].value, ps[j].value + ps[j].size);
    bestBuffers.resize(optBuffers.size());
    for (size_t j = 0; j < optBuffers.size(); ++j)
      bestBuffers[j].assign(optBuffers[j].first,
                            optBuffers[j].first + optBuffers[j].second);
    bestState = trainState();
    return false;
  }
  if (epoch - bestEpoch < spec.earlyStop && epoch < spec.epochs)
    return false;
  for (size_t j = 0; j < ps.size() && bestEpoch; ++j)
    std::copy(bestValues[j].begin(), bestValues[j].end(), ps[j].value);
  for (size_t j = 0; j < optBuffers.size() && bestEpoch; ++j)
    std::copy(bestBuffers[j].begin(), bestBuffers[j].end(),
              optBuffers[j].first);
  kept = bestEpoch > 0;
  if (bestEpoch) {
    lastTestLoss = bestTestLoss;
    lastMetric = bestMetric;
  }
  stop = epoch < spec.epochs ? Stop::EarlyStopped : Stop::Done;
  return true;
}

/// Why training ended, when not after its last epoch ("" then).
std::string Trainer::stopText() const {
  auto at = [&] {
    return " at epoch " + std::to_string(stopEpoch) + ", minibatch " +
           std::to_string(stopBatch);
  };
  switch (stop) {
  case Stop::Done:
  case Stop::SaveFailed:
    break;
  case Stop::Diverged:
    return "stopping: the loss is not finite" + at() +
           " (exploding gradients?)";
  case Stop::Interrupted:
    return std::string("interrupted by ") +
           (stopSignal == SIGTERM ? "SIGTERM" : "SIGINT") + at();
  case Stop::EarlyStopped:
    return "early stop: the test loss has not improved for " +
           std::to_string(spec.earlyStop) + " epochs";
  }
  return "";
}

/// Why training ended, when not after its last epoch (and which params
/// early_stop kept).
void Trainer::reportStop() const {
  if (std::string why = stopText(); !why.empty())
    printf("%s\n", why.c_str());
  if (spec.earlyStop && bestEpoch && stop != Stop::Diverged)
    printf("kept the params of epoch %lld (test loss %s)\n",
           (long long)bestEpoch, fmt(bestTestLoss, 5).c_str());
}

/// One minibatch, rows `order[b0, b1)`: accumulate the gradients of this
/// rank's part, sum them over the ranks, then the compiled optimiser step
/// (mean, clipping, update). The losses are added to `lossSum` (the
/// epoch's sum; one process: in the order of the rows).
void Trainer::runBatch(const std::vector<int64_t> &order, int64_t b0,
                       int64_t b1, double &lossSum,
                       std::vector<double> &gradNormSum) {
  double out[1];
  for (auto &p : ps)
    std::memset(p.grad, 0, p.size * sizeof(double));
  Part part = rankPart(b1 - b0, ranks);
  int64_t r0 = b0 + part.begin, r1 = r0 + part.n;
  double loss = ranks.size() > 1 ? 0 : lossSum;
  if (!batched.empty()) {
    if (part.n)
      loss += stepBatched(order, r0, r1);
  } else {
    for (int64_t k = r0; k < r1; ++k) {
      step(data.row(order[k]), out);
      loss += out[0];
    }
  }
  lossSum = ranks.size() > 1 ? lossSum + reduceStep(loss) : loss;
  double args[2] = {1.0 / (double)(b1 - b0), lr};
  update(args, updateOut.data());
  addSliceNorms(args[0]);
  clipped += updateOut[0] != 0;
  for (size_t j = 0; j < ps.size(); ++j) {
    gradNormSum[j] += updateOut[1 + j];
    ps[j].record(updateOut[1 + j]);
  }
  ++steps;
}

/// Several ranks: one MPI_Allreduce of [loss, SIGTERM seen, SIGINT seen,
/// gradient of every param], this rank's in, the sums over the ranks out
/// (the gradients into `__grad.<param>`, the signal into agreedSignal).
/// Returns the minibatch's summed loss.
double Trainer::reduceStep(double loss) {
  double *at = reduced.data();
  at[0] = loss;
  at[1] = pendingSignal == SIGTERM;
  at[2] = pendingSignal == SIGINT;
  int64_t off = 3;
  for (auto &p : ps) {
    std::memcpy(at + off, p.grad, p.size * sizeof(double));
    off += p.size;
  }
  ranks.sum(at, off);
  off = 3;
  for (auto &p : ps) {
    std::memcpy(p.grad, at + off, p.size * sizeof(double));
    off += p.size;
  }
  agreedSignal = at[1] > 0 ? SIGTERM : at[2] > 0 ? SIGINT : 0;
  return at[0];
}

/// The progress bar on a terminal, redrawn after every minibatch.
void Trainer::printProgress(int64_t epoch, int64_t b1, int64_t rows,
                            double lossSum) const {
  double secs = elapsed();
  int64_t done = (epoch - 1) * data.rows + b1 - rowsBefore();
  int64_t all = spec.epochs * data.rows - rowsBefore();
  int width = 30, filled = (int)(width * (double)done / all);
  double rate = done / std::max(secs, 1e-9);
  printf("\r[%-*s] epoch %lld/%lld  loss %-8s  %.0f ex/s  ETA %.0fs   ", width,
         std::string(filled, '#').c_str(), (long long)epoch,
         (long long)spec.epochs, fmt(lossSum / rows).c_str(), rate,
         (all - done) / std::max(rate, 1e-9));
  fflush(stdout);
}

/// The sum of `f` over `rows` of `t`, split into one contiguous range per
/// thread and the ranges' sums added in order (a given thread count gives
/// the same sum every time).
double Trainer::sumOverRows(DynFn f, const Table &t, Part rows) const {
  int64_t n = std::min(threads, rows.n);
  if (n == 0)
    return 0;
  double partial[maxThreads] = {};
  parallelFor(n, n, [&](int64_t k) {
    double out[1], sum = 0;
    for (int64_t r = rows.begin + k * rows.n / n;
         r < rows.begin + (k + 1) * rows.n / n; ++r) {
      f(t.row(r), out);
      sum += out[0];
    }
    partial[k] = sum;
  });
  double sum = 0;
  for (int64_t k = 0; k < n; ++k)
    sum += partial[k];
  return sum;
}

/// The epoch's test loss and metric (when there is one): their means over
/// the test rows, each rank's part summed over the ranks.
void Trainer::evaluateTest() {
  double sums[2] = {testSum(batchLoss, lossFn),
                    metric ? testSum(batchMetric, metric) : 0};
  ranks.sum(sums, 2);
  lastTestLoss = sums[0] / test.rows;
  testLossCurve.push_back(lastTestLoss);
  if (!metric)
    return;
  lastMetric = sums[1] / test.rows;
  metricCurve.push_back(lastMetric);
}

void Trainer::printEpoch(int64_t epoch) const {
  double secs = elapsed();
  if (tty)
    printf("\r%*s\r", 100, "");
  // At most ~25 epoch lines: every epoch up to 25, else a regular subset.
  int64_t stride = (spec.epochs + 24) / 25;
  bool show = epoch == 1 || epoch == spec.epochs || epoch % stride == 0 ||
              !std::isfinite(lastLoss);
  if (show)
    printf("epoch %*lld/%lld  loss %-10s",
           (int)std::to_string(spec.epochs).size(), (long long)epoch,
           (long long)spec.epochs, fmt(lastLoss, 5).c_str());
  if (show && test.rows)
    printf("  test loss %-10s", fmt(lastTestLoss, 5).c_str());
  if (show && !std::isnan(lastMetric))
    printf("  %s %-8s", spec.metric.c_str(), fmt(lastMetric, 4).c_str());
  if (show)
    printf("  %.0f ex/s\n",
           (epoch * data.rows - rowsBefore()) / std::max(secs, 1e-9));
  fflush(stdout);
}

/// The time, the final losses and metric, and how often clipping applied.
void Trainer::printSummary() const {
  double secs = elapsed();
  printf("done in %.2f s: train loss %s", secs, fmt(lastLoss, 5).c_str());
  if (test.rows)
    printf(", test loss %s", fmt(lastTestLoss, 5).c_str());
  if (!std::isnan(lastMetric))
    printf(", test %s %s", spec.metric.c_str(), fmt(lastMetric, 4).c_str());
  printf("\n");
  if (spec.clip > 0)
    printf("clipping: %lld of %lld steps had a gradient norm above %s\n",
           (long long)clipped, (long long)steps, fmt(spec.clip).c_str());
}

/// The epochs whose gradient norm (of per-epoch norms `g`) is below 1e-6 of
/// a value's norm `v`: how many, and the first (-1: none).
struct TinyEpochs {
  int64_t count = 0, first = -1;
};
static TinyEpochs tinyEpochs(const std::vector<double> &g, double v) {
  TinyEpochs t;
  for (size_t e = 0; e < g.size(); ++e)
    if (g[e] < 1e-6 * std::max(v, 1e-12) && t.count++ == 0)
      t.first = (int64_t)e;
  return t;
}

/// Whether per-epoch gradient norms `g` vanish next to a value of norm `v`:
/// tiny in at least 3 epochs (all of them in shorter runs).
static bool vanishes(const std::vector<double> &g, double v) {
  return !g.empty() &&
         tinyEpochs(g, v).count >= std::min<int64_t>(3, (int64_t)g.size());
}

/// "W[0] to W[4]" when the stacked layers `first..last` of W vanish.
static std::string sliceRange(const std::string &name, int64_t first,
                              int64_t last) {
  auto at = [&](int64_t i) { return name + "[" + std::to_string(i) + "]"; };
  return first == last ? at(first) : at(first) + " to " + at(last);
}

/// The gradient-flow verdicts (the lines reportGradientFlow prints after
/// its table), each with the first epoch it applies to: a note or warning
/// per param whose gradients exploded or vanished, or that none did. After
/// a diverged run (the loss became inf or nan, or ended above 1e6 and 1e6
/// times its lowest value) they say so: gradients that are small next to a
/// param that blew up are not vanishing. Sets each param's valueNorm.
std::vector<TrainReport::Verdict> Trainer::gradientVerdicts() {
  std::vector<TrainReport::Verdict> out;
  auto epochOf = [&](size_t e) { return firstEpoch + (int64_t)e; };
  double lowest = INFINITY;
  bool nonFiniteLoss = false;
  for (double l : lossCurve) {
    nonFiniteLoss |= !std::isfinite(l);
    lowest = std::min(lowest, l);
  }
  bool diverged = nonFiniteLoss || (!lossCurve.empty() &&
                                    lastLoss > 1e6 * std::max(lowest, 1.0));
  for (auto &p : ps)
    p.valueNorm = norm(p.value, p.size);
  if (diverged) {
    size_t e = 0;
    while (e + 1 < lossCurve.size() && std::isfinite(lossCurve[e]) &&
           lossCurve[e] <= 1e6 * std::max(lowest, 1.0))
      ++e;
    out.push_back({"warning: training diverged (the loss " +
                       (nonFiniteLoss ? std::string("became inf or nan")
                                      : "grew to " + fmt(lastLoss, 3)) +
                       "); try a smaller learning rate or 'clip: 1.0' in the "
                       "train block (or --clip)",
                   epochOf(e)});
  }
  for (auto &p : ps) {
    double first = p.gradNorm.front(), peak = 0;
    int64_t bigAt = -1;
    bool nonFinite = false;
    for (size_t e = 0; e < p.gradNorm.size(); ++e) {
      double g = p.gradNorm[e];
      nonFinite |= !std::isfinite(g);
      if (std::isfinite(g))
        peak = std::max(peak, g);
      bool big = !std::isfinite(g) || (first > 0 && g > 1e3 * first) || g > 1e6;
      if (big && bigAt < 0)
        bigAt = (int64_t)e;
    }
    bool large = (first > 0 && peak > 1e3 * first) || peak > 1e6;
    if (!nonFinite && large && spec.clip > 0)
      out.push_back({"note: gradients of '" + p.name +
                         "' were large (norm up to " + fmt(peak, 3) +
                         "); clipping to " + fmt(spec.clip) +
                         " kept the steps bounded",
                     epochOf(bigAt)});
    else if (nonFinite || large)
      out.push_back({"warning: gradients of '" + p.name + "' explode (" +
                         (nonFinite ? std::string("they became inf or nan")
                                    : "their norm grew to " + fmt(peak, 3)) +
                         "); try 'clip: 1.0' in the train block (or --clip), "
                         "a smaller learning rate, or a better initialisation",
                     epochOf(bigAt)});
    else if (!diverged && vanishes(p.gradNorm, p.valueNorm))
      out.push_back(
          {"warning: gradients of '" + p.name +
               "' vanish (norm below 1e-6 of the param's in " +
               std::to_string(tinyEpochs(p.gradNorm, p.valueNorm).count) +
               " of " + std::to_string(p.gradNorm.size()) +
               " epochs); try relu instead of sigmoid or tanh, a "
               "better initialisation (glorot()), or fewer layers",
           epochOf(tinyEpochs(p.gradNorm, p.valueNorm).first)});
  }
  // Stacked layers: the slices of a param that vanish while the param as
  // a whole does not (its later layers carry the norm).
  for (auto &p : ps) {
    if (diverged || vanishes(p.gradNorm, p.valueNorm))
      continue;
    std::vector<int64_t> gone;
    size_t from = SIZE_MAX; // the first epoch a vanished layer was tiny in
    for (int64_t i = 0; i < p.lead; ++i) {
      double v = norm(p.value + i * p.sliceSize, p.sliceSize);
      if (!vanishes(p.sliceNorm[i], v))
        continue;
      gone.push_back(i);
      from = std::min(from, (size_t)tinyEpochs(p.sliceNorm[i], v).first);
    }
    if (gone.empty())
      continue;
    bool run = gone.back() - gone.front() + 1 == (int64_t)gone.size();
    out.push_back(
        {"warning: gradients of '" + p.name + "' vanish in " +
             (run ? sliceRange(p.name, gone.front(), gone.back())
                  : std::to_string(gone.size()) + " of its layers") +
             " (" + std::to_string(gone.size()) + " of " +
             std::to_string(p.lead) +
             " layers, norm below 1e-6 of the layer's); try relu instead of "
             "sigmoid or tanh, a better initialisation (glorot()), or fewer "
             "layers",
         epochOf(from)});
  }
  if (out.empty())
    out.push_back({"no vanishing or exploding gradients detected", 0});
  return out;
}

/// "'w' per step before it overflowed: 3.86e+06 (step 1), nan (step 2)":
/// the recorded steps of a param whose gradient became inf or nan.
static std::string growthBeforeOverflow(const ParamState &p) {
  std::string s = "'" + p.name + "' per step before it overflowed:";
  int64_t n = std::min(p.recentSteps, ParamState::kRecent);
  for (int64_t k = p.recentSteps - n; k < p.recentSteps; ++k)
    s += (k == p.recentSteps - n ? " " : ", ") +
         fmt(p.recent[k % ParamState::kRecent], 3) + " (step " +
         std::to_string(k + 1) + ")";
  return s;
}

/// Gradient flow: per param, mean gradient norm in the first and last
/// epochs, relative to the param's norm; then the verdicts.
void Trainer::reportGradientFlow() {
  verdicts = gradientVerdicts();
  printf("gradient flow (mean gradient norm per step):\n");
  printf("  %-12s %-12s %-12s %-12s\n", "param", "first epoch", "last epoch",
         "|param|");
  auto row = [](const std::string &name, const std::vector<double> &g,
                double value, const char *mark) {
    printf("  %-12s %-12s %-12s %-12s%s\n", name.c_str(),
           fmt(g.front(), 3).c_str(), fmt(g.back(), 3).c_str(),
           fmt(value, 3).c_str(), mark);
  };
  for (auto &p : ps) {
    row(p.name, p.gradNorm, p.valueNorm, "");
    // Stacked layers (rank 3 or more): one row per leading index, marked
    // where that slice's gradient vanishes (the rule of the verdicts).
    for (int64_t i = 0; i < p.lead; ++i) {
      double v = norm(p.value + i * p.sliceSize, p.sliceSize);
      row("  " + p.name + "[" + std::to_string(i) + "]", p.sliceNorm[i], v,
          vanishes(p.sliceNorm[i], v) ? "  vanishing" : "");
    }
  }
  for (auto &p : ps)
    if (p.overflowed)
      printf("  %s\n", growthBeforeOverflow(p).c_str());
  for (const TrainReport::Verdict &v : verdicts)
    printf("%s\n", v.text.c_str());
}

/// What --report shows (Report.h), after reportGradientFlow.
TrainReport Trainer::reportData(const std::string &source) const {
  TrainReport r;
  r.source = source;
  r.loss = spec.loss;
  r.metric = spec.metric;
  r.setup = header();
  r.firstEpoch = firstEpoch;
  r.trainLoss = lossCurve;
  r.testLoss = testLossCurve;
  r.metricCurve = metricCurve;
  r.lr = lrCurve;
  for (const ParamState &p : ps)
    r.params.push_back({p.name, p.shape, p.gradNorm, p.sliceNorm, p.valueNorm});
  r.stop = stopText();
  r.clip = spec.clip;
  r.clipped = clipped;
  r.steps = steps;
  r.clippedPerEpoch = clippedCurve;
  r.verdicts = verdicts;
  return r;
}

/// `--plot DIR`: the loss/metric curves and the per-param gradient norms as
/// SVG line charts. False (after the error) when they cannot be written.
bool Trainer::writeCharts(const std::string &dir) const {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  Chart loss{
      "loss and metric per epoch", {{"train loss", lossCurve}}, "loss", true};
  if (!testLossCurve.empty())
    loss.left.push_back({"test loss", testLossCurve});
  if (!metricCurve.empty()) {
    loss.right.push_back({"test " + spec.metric, metricCurve});
    loss.rightLabel = spec.metric;
  }
  Chart norms{"gradient norm per param", {}, "mean gradient norm", true};
  for (auto &p : ps)
    norms.left.push_back({p.name, p.gradNorm});
  std::string h = dir + "/history.csv";
  std::string err;
  if (!writeHistory(h, err)) {
    std::cerr << "bpc: error: " << err << '\n';
    return false;
  }
  std::string a = dir + "/loss.svg", g = dir + "/grad_norms.svg";
  if (!writeLineChart(a, loss) || !writeLineChart(g, norms)) {
    std::cerr << "bpc: error: cannot write charts into '" << dir << "'\n";
    return false;
  }
  printf("wrote %s, %s and %s\n", h.c_str(), a.c_str(), g.c_str());
  return true;
}

/// history.csv (LANGUAGE.md section 17): one row per epoch run, an absent
/// value an empty field, numbers in the shortest round-trip form.
bool Trainer::writeHistory(const std::string &path, std::string &err) const {
  std::ostringstream out;
  out << "epoch,train_loss,test_loss,metric,lr";
  for (auto &p : ps)
    out << ",grad_norm_" << p.name;
  out << '\n';
  auto field = [&](const std::vector<double> &curve, size_t e) {
    out << ',';
    if (e < curve.size())
      out << shortestDouble(curve[e]);
  };
  for (size_t e = 0; e < lossCurve.size(); ++e) {
    out << firstEpoch + (int64_t)e;
    field(lossCurve, e);
    field(testLossCurve, e);
    field(metricCurve, e);
    field(lrCurve, e);
    for (auto &p : ps)
      field(p.gradNorm, e);
    out << '\n';
  }
  return writeFileAtomically(path, out.str(), err);
}

/// `--report DIR` (rank 0, after the gradient-flow report): the page with
/// the loss's graph as `bpc emit dot --fn LOSS` draws it. False (after the
/// error) when it cannot be written.
bool writeReport(const ir::Module &m, const Trainer &t,
                 const std::string &source, const std::string &dir) {
  TrainReport r = t.reportData(source);
  std::ostringstream dot;
  std::string dotError;
  ad::emitDot(m, t.spec.loss, {}, dot, dotError);
  renderReportGraph(r, dot.str(), dotError);
  std::string err;
  if (!writeTrainReport(dir, r, err)) {
    std::cerr << "bpc: error: --report: " << err << '\n';
    return false;
  }
  printf("wrote %s/index.html\n", dir.c_str());
  return true;
}

/// --resume PATH on every rank (the same file): the params, the optimiser
/// buffers and `st`. False (after the first failing rank's error; every
/// rank ends here) when a rank could not.
bool resumeOnEveryRank(const ir::Module &m, JIT &jit, const std::string &path,
                       const sema::TrainSpec &spec, TrainingData &data,
                       TrainState &st) {
  std::string err;
  bool bad =
      !resumeTraining(m, jit, path, spec.optimizer, data.data.rows, st, err);
  Ranks::Agreement a = data.ranks.agree(bad, 0);
  if (a.firstFailed < 0)
    return true;
  if (a.firstFailed == data.ranks.rank())
    std::cerr << "bpc: error: --resume: " << err << '\n';
  data.ranks.agreedEnd();
  return false;
}

} // namespace

ExitCode train(const ir::Module &m, const sema::TrainSpec &specIn,
               const std::vector<std::string> &params,
               const std::vector<int64_t> &batchedSizes, JIT &jit,
               TrainingData &data, const TrainFlags &flags) {
  sema::TrainSpec spec = withFlags(specIn, flags);
#ifdef BP_HAVE_OPENBLAS
  // The threads are the minibatch's slices: each product runs on its
  // thread (OpenBLAS's own threads would oversubscribe the cores).
  openblas_set_num_threads(1);
#endif
  const Ranks &ranks = data.ranks;
  bool root = ranks.isRoot();
  TrainState resumed;
  if (!flags.resumePath.empty()) {
    if (!resumeOnEveryRank(m, jit, flags.resumePath, spec, data, resumed))
      return ExitCode::Usage;
    spec.epochs += resumed.epoch; // --epochs more: the schedule's total
  }
  { // before training, not after it; rank 0 saves
    std::string err;
    bool bad = root && !flags.savePath.empty() &&
               !checkSaveTarget(flags.savePath, data.inputs, err);
    if (!bad && root && !flags.reportDir.empty())
      bad = !checkReportDir(flags.reportDir, err);
    if (bad)
      std::cerr << "bpc: error: " << err << '\n';
    Ranks::Agreement a =
        ranks.agree(bad, modelFingerprint(m, jit, spec, flags));
    // From here every rank takes the same decisions (the same data,
    // params and flags; what only rank 0 does, it reports to all): they
    // end together, whatever the exit.
    data.ranks.agreedEnd();
    if (a.firstFailed >= 0)
      return ExitCode::Usage;
    if (!a.same) {
      if (root)
        std::cerr << "bpc: error: the ranks would train different models "
                     "(their params, flags or train blocks differ); every "
                     "rank must run the same bpc train command\n";
      return ExitCode::Usage;
    }
  }
  if (spec.saveEvery && flags.savePath.empty()) {
    if (root)
      std::cerr << "bpc: error: save_every needs --save PATH\n";
    return ExitCode::Usage;
  }
  if (spec.earlyStop && data.test.rows == 0) {
    if (root)
      std::cerr << "bpc: error: early_stop needs test rows ('test:' or "
                   "--test): it watches the test loss\n";
    return ExitCode::Usage;
  }
  Trainer t(spec, data);
  t.bind(m, params, batchedSizes, jit);
  t.startAt(flags.resumePath.empty() ? nullptr : &resumed);
  t.trackSlices();
  // Rank 0 writes; every rank learns whether it did (a failed save_every
  // write stops them all).
  auto save = [&] {
    std::string err;
    bool bad = root && !saveParams(m, jit, flags.savePath, t.trainState(), err);
    if (bad)
      std::cerr << "bpc: error: " << err << '\n';
    return ranks.agree(bad, 0).firstFailed < 0;
  };
  t.save = save;
  if (root)
    t.printHeader();
  {
    StopSignals signals;
    t.run();
  }
  // Every rank left run() after the same step (the decisions were taken on
  // reduced values).
  using Stop = Trainer::Stop;
  if (root) {
    t.reportStop();
    t.printSummary();
    t.reportGradientFlow();
  }
  bool charts = !root || flags.plotDir.empty() || t.writeCharts(flags.plotDir);
  if (!flags.plotDir.empty())
    charts = ranks.agree(!charts, 0).firstFailed < 0;
  if (!flags.reportDir.empty()) {
    bool ok = !root || writeReport(m, t, data.inputs[0], flags.reportDir);
    charts = ranks.agree(!ok, 0).firstFailed < 0 && charts;
  }
  if (t.stop == Stop::SaveFailed || !charts)
    return ExitCode::Usage;
  if (t.stop == Stop::Diverged) {
    if (!flags.savePath.empty() && root)
      printf("not saved: training diverged ('%s' is left as it was)\n",
             flags.savePath.c_str());
    fflush(stdout);
    return ExitCode::RuntimeError;
  }
  if (!flags.savePath.empty()) {
    if (!save())
      return ExitCode::Usage;
    if (root)
      printf("saved params to %s\n", flags.savePath.c_str());
  }
  fflush(stdout);
  if (t.stop == Stop::Interrupted)
    return t.stopSignal == SIGTERM ? ExitCode::Terminated
                                   : ExitCode::Interrupted;
  return ExitCode::Success;
}

ExitCode agreeOnTrainingData(TrainingData &data, const std::string &error) {
  uint64_t fp = fingerprint(&data.data.cols, sizeof data.data.cols);
  for (const Table *t : {&data.data, &data.test})
    fp = fingerprint(t->data.data(), t->data.size() * sizeof(double), fp);
  Ranks::Agreement a = data.ranks.agree(!error.empty(), fp);
  if (a.firstFailed == data.ranks.rank()) {
    std::cout.flush();
    std::cerr << error << '\n';
  }
  if (a.firstFailed >= 0 || !a.same)
    data.ranks.agreedEnd();
  if (a.firstFailed >= 0)
    return ExitCode::RuntimeError;
  if (!a.same) {
    if (data.ranks.isRoot())
      std::cerr << "bpc: error: the ranks read different training data; "
                   "every rank must read the same files\n";
    return ExitCode::Usage;
  }
  return ExitCode::Success;
}

bool checkSaveTarget(const std::string &path,
                     const std::vector<std::string> &inputs, std::string &err) {
  for (const std::string &in : inputs)
    if (sameFile(path, in)) {
      err = "--save '" + path + "' would overwrite the input '" + in + "'";
      return false;
    }
  return checkWritable(path, err);
}

bool saveParams(const ir::Module &m, JIT &jit, const std::string &path,
                const TrainState &state, std::string &err) {
  std::ostringstream out;
  out << "# bp params v2\n";
  for (auto &p : m.params) {
    if (p.name.rfind("__", 0) == 0)
      continue;
    auto *d =
        static_cast<const double *>(jit.find(codegen::paramSymbol(p.name)));
    if (!d)
      continue;
    out << p.name;
    for (int64_t s : p.type->shape)
      out << ' ' << s;
    out << '\n';
    int64_t n = p.type->isTensor() ? p.type->numElements() : 1;
    for (int64_t i = 0; i < n; ++i) {
      char buf[64];
      auto r = std::to_chars(buf, buf + sizeof buf, d[i]);
      out << (i ? " " : "") << std::string(buf, r.ptr);
    }
    out << '\n';
  }
  std::string text = out.str();
  formatTrainState(m, jit, state, text);
  return writeFileAtomically(path, text, err);
}

bool loadParams(const ir::Module &m, JIT &jit, const std::string &path,
                bool allowNonfinite, std::string &err) {
  std::vector<bp_param_entry> table;
  for (auto &p : m.params) {
    if (p.name.rfind("__", 0) == 0) // internal (__grad.W): never saved
      continue;
    auto *data = static_cast<double *>(jit.find(codegen::paramSymbol(p.name)));
    if (!data)
      continue;
    bp_param_entry e{
        p.name.c_str(), data, (int64_t)p.type->shape.size(), {0, 0, 0, 0}};
    for (size_t k = 0; k < p.type->shape.size(); ++k)
      e.dims[k] = p.type->shape[k];
    table.push_back(e);
  }
  char error[512] = "";
  int flags = allowNonfinite ? BP_LOAD_ALLOW_NONFINITE : 0;
  if (bp_load_params_flags(table.data(), (int64_t)table.size(), path.c_str(),
                           flags, error, sizeof error) != 0) {
    err = error;
    if (err.find("non-finite value") != std::string::npos)
      err += " (--allow-nonfinite accepts it)";
    return false;
  }
  return true;
}

} // namespace bp
