//===- Plot.h - SVG line charts for `bpc train --plot` ----------*- C++ -*-===//
#pragma once

#include <string>
#include <vector>

namespace bp {

struct Series {
  std::string name;
  std::vector<double> values; // one per epoch
};

/// Writes a self-contained SVG line chart (x: epoch, y: linear or log10,
/// one coloured line and legend entry per series; non-finite points are
/// skipped), replacing `path` atomically (support/FileIO.h). Returns false
/// when the file cannot be written.
bool writeLineChart(const std::string &path, const std::string &title,
                    const std::vector<Series> &series, bool logScale);

} // namespace bp
