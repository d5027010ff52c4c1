//===- Plot.h - SVG line charts for `bpc train --plot` ----------*- C++ -*-===//
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
};

/// Writes `chart` as a self-contained SVG (one coloured line and legend
/// entry per series; non-finite points, and non-positive ones on a log
/// axis, leave gaps), replacing `path` atomically (support/FileIO.h).
/// Returns false when the file cannot be written.
bool writeLineChart(const std::string &path, const Chart &chart);

} // namespace bp
