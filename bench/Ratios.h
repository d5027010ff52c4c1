//===- Ratios.h - time ratios measured in one benchmark run -----*- C++ -*-===//
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

namespace bench {

/// Collects per-benchmark times so ratios can be printed after the run.
/// CPU time, not wall time: the code measured is single-threaded and the
/// machine is shared, so time spent descheduled is not the code's.
class RatioReporter : public benchmark::ConsoleReporter {
public:
  std::map<std::string, double> ns;
  void ReportRuns(const std::vector<Run> &runs) override {
    for (auto &r : runs)
      ns[r.benchmark_name()] = r.GetAdjustedCPUTime();
    ConsoleReporter::ReportRuns(runs);
  }
  double ratio(const std::string &a, const std::string &b) {
    return ns["BM_" + a] / ns["BM_" + b];
  }
};

/// max |a[i] - b[i]| (the same length).
inline double maxAbsDiff(const std::vector<double> &a,
                         const std::vector<double> &b) {
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i)
    d = std::max(d, std::fabs(a[i] - b[i]));
  return d;
}

} // namespace bench
