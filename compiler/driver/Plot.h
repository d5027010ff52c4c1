//===- Plot.h - SVG charts and graphs for bpc train and emit ---*- C++ -*-===//
#pragma once

#include <string>
#include <vector>

namespace bp {

struct Series {
  std::string name;
  std::vector<double> values; // one per epoch
};

/// One chart: x is the epoch; `left` series share the left axis, log10
/// when leftLog and every finite value is positive (else linear); `right`
/// series (dashed) share a linear right axis.
struct Chart {
  std::string title;
  std::vector<Series> left;
  std::string leftLabel;
  bool leftLog = false;
  std::vector<Series> right;
  std::string rightLabel;
  long long firstEpoch = 1; // the epoch of the first values (--resume: later)
};

/// `chart` as a self-contained SVG element (one coloured line and legend
/// entry per series, as many entries as fit beside the frame, then "+N
/// more"; non-finite points, and non-positive ones on a log axis, leave
/// gaps). It refers to nothing outside itself, so it can be inlined in a
/// page (`bpc train --report`).
std::string lineChartSvg(const Chart &chart);

/// Writes lineChartSvg(chart), replacing `path` atomically
/// (support/FileIO.h). Returns false when the file cannot be written.
bool writeLineChart(const std::string &path, const Chart &chart);

/// Graphviz's `dot -Tsvg` run on `graph` (DOT text), its output into
/// `svg`. False with `err` set when `dot` is not on the PATH (`missing`
/// set too), cannot be started or fails.
bool renderGraphviz(const std::string &graph, std::string &svg,
                    std::string &err, bool &missing);

} // namespace bp
