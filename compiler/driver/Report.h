//===- Report.h - `bpc train --report DIR`: one HTML page -------*- C++ -*-===//
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bp {

/// What a training run leaves for its report (LANGUAGE.md section 20,
/// docs/TRAINING.md "Report"): the per-epoch history, the gradient-flow
/// verdicts, clipping and the loss's graph.
struct TrainReport {
  std::string source, loss, metric; // the .bp file, the loss and metric fns
  std::string setup;      // the header line bpc train prints (optimizer, ...)
  int64_t firstEpoch = 1; // of the curves (--resume: after the saved epochs)
  std::vector<double> trainLoss, testLoss, metricCurve, lr;
  struct Param {
    std::string name;
    std::vector<int64_t> shape;
    std::vector<double> gradNorm; // mean per step, per epoch
    /// Rank 3 or more: the same per leading index ([index][epoch]).
    std::vector<std::vector<double>> perIndex;
    double valueNorm = 0;
  };
  std::vector<Param> params;
  /// The gradient-flow verdicts as the terminal prints them, each with the
  /// first epoch it applies to (0: none in particular).
  struct Verdict {
    std::string text;
    int64_t epoch = 0;
  };
  std::vector<Verdict> verdicts;
  std::string stop; // why the run ended early ("" after its last epoch)
  double clip = 0;  // 0: no clipping
  int64_t clipped = 0, steps = 0;
  std::vector<double> clippedPerEpoch; // steps clipped, per epoch
  /// The loss's computational graph as SVG (Graphviz), or why there is none.
  std::string graphSvg, graphNote;
};

/// The loss's graph for the report: `dot` text rendered by Graphviz into
/// r.graphSvg, else r.graphNote says why not (no Graphviz, `dotError`: the
/// graph could not be drawn).
void renderReportGraph(TrainReport &r, const std::string &dot,
                       const std::string &dotError);

/// Whether `dir` can take the report: it is created (with its parents) and
/// DIR/index.html is writable. False with `err` naming it otherwise.
bool checkReportDir(const std::string &dir, std::string &err);

/// Writes DIR/index.html atomically (support/FileIO.h): one self-contained
/// page, charts as inline SVG, the data as inline JSON; it loads nothing.
/// False with `err` naming the file when it cannot.
bool writeTrainReport(const std::string &dir, const TrainReport &r,
                      std::string &err);

} // namespace bp
