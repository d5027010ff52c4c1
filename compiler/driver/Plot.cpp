//===- Plot.cpp - SVG charts and graphs for bpc train and emit ------------===//
//
// The charts of `bpc train --plot` (files) and `--report` (inlined in one
// page), and Graphviz's rendering of `emit dot --svg` and of the report's
// graph.
//
// One chart: epochs on x, the series on a left axis (log10 when asked and
// every finite value is positive, else linear), and optionally a second set
// of series on a right linear axis. Ticks are "nice" numbers: decades (with
// 2 and 5 between them when the range is under two decades) on a log axis,
// 1/2/5 x 10^k steps on a linear one, integers on x.
//
//===----------------------------------------------------------------------===//
#include "driver/Plot.h"
#include "support/FileIO.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace bp {

namespace {

std::string num(double v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

/// A value axis: where values map (in log10 units for a log axis) and the
/// tick values to label.
struct Axis {
  bool log = false;
  double lo = 0, hi = 1;
  std::vector<double> ticks;
  double unit(double v) const { return log ? std::log10(v) : v; }
};

/// 1, 2 or 5 times a power of ten, near range / 5.
double niceStep(double range) {
  double p = std::pow(10, std::floor(std::log10(range / 5)));
  for (double m : {1.0, 2.0, 5.0})
    if (range / (m * p) <= 6)
      return m * p;
  return 10 * p;
}

void linearTicks(Axis &a) {
  double step = niceStep(a.hi - a.lo);
  a.lo = std::floor(a.lo / step) * step;
  a.hi = std::ceil(a.hi / step) * step;
  for (double t = a.lo; t <= a.hi + step / 2; t += step)
    a.ticks.push_back(std::fabs(t) < step * 1e-9 ? 0 : t);
}

void logTicks(Axis &a) {
  a.lo = std::floor(a.lo);
  a.hi = std::max(std::ceil(a.hi), a.lo + 1);
  int decades = (int)(a.hi - a.lo);
  int every = std::max(1, (decades + 7) / 8); // at most about 8 labels
  for (int k = (int)a.lo; k <= (int)a.hi; k += every) {
    a.ticks.push_back(std::pow(10, k));
    if (decades < 2 && k < (int)a.hi)
      for (double m : {2.0, 5.0})
        a.ticks.push_back(m * std::pow(10, k));
  }
}

/// The axis for `series`: log when asked and possible (some finite values,
/// all positive), with its range and ticks.
Axis makeAxis(const std::vector<Series> &series, bool wantLog) {
  Axis a;
  bool positive = true, any = false;
  for (auto &s : series)
    for (double v : s.values)
      if (std::isfinite(v)) {
        any = true;
        positive = positive && v > 0;
      }
  a.log = wantLog && any && positive;
  double lo = INFINITY, hi = -INFINITY;
  for (auto &s : series)
    for (double v : s.values)
      if (std::isfinite(v)) {
        lo = std::min(lo, a.unit(v));
        hi = std::max(hi, a.unit(v));
      }
  if (!any) {
    lo = 0;
    hi = 1;
  }
  if (hi - lo < 1e-12 * std::max(1.0, std::fabs(hi))) {
    lo -= a.log ? 0.5 : std::max(0.5, std::fabs(lo) * 0.1);
    hi += a.log ? 0.5 : std::max(0.5, std::fabs(hi) * 0.1);
  }
  a.lo = lo;
  a.hi = hi;
  if (a.log)
    logTicks(a);
  else
    linearTicks(a);
  return a;
}

struct Frame {
  double W = 700, H = 400, left = 80, right = 190, top = 40, bottom = 50;
  double pw() const { return W - left - right; }
  double ph() const { return H - top - bottom; }
};

const char *const Colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                              "#9467bd", "#8c564b", "#e377c2", "#17becf",
                              "#bcbd22", "#7f7f7f", "#393b79", "#ad494a"};
constexpr size_t NumColors = sizeof Colors / sizeof Colors[0];

/// The polylines of `series` on axis `a` (non-finite points, and
/// non-positive ones on a log axis, are gaps), legend entries from `slot`.
void drawSeries(std::ostream &out, const Frame &f, const Axis &a, size_t n,
                const std::vector<Series> &series, size_t slot,
                const char *dash) {
  auto px = [&](size_t i) {
    return f.left + (n == 1 ? 0.0 : f.pw() * (double)i / (double)(n - 1));
  };
  auto py = [&](double v) {
    return f.top + f.ph() * (1 - (a.unit(v) - a.lo) / (a.hi - a.lo));
  };
  for (size_t s = 0; s < series.size(); ++s, ++slot) {
    const char *c = Colors[slot % NumColors];
    std::ostringstream pts;
    size_t points = 0;
    auto flush = [&] {
      if (points)
        out << "<polyline fill=\"none\" stroke=\"" << c
            << "\" stroke-width=\"2\"" << dash << " points=\"" << pts.str()
            << "\"/>\n";
      pts.str("");
      points = 0;
    };
    for (size_t i = 0; i < series[s].values.size(); ++i) {
      double v = series[s].values[i];
      if (!std::isfinite(v) || (a.log && v <= 0)) {
        flush();
        continue;
      }
      pts << px(i) << ',' << py(v) << ' ';
      ++points;
    }
    flush();
    // The legend: one line per series while they fit beside the frame.
    size_t fit = (size_t)((f.H - f.top) / 16) - 1;
    double ly = f.top + 16 * (double)(slot + 1);
    if (slot < fit)
      out << "<text x=\"" << f.left + f.pw() + 76 << "\" y=\"" << ly
          << "\" fill=\"" << c << "\">" << series[s].name << "</text>\n";
    else if (slot == fit)
      out << "<text x=\"" << f.left + f.pw() + 76 << "\" y=\"" << ly << "\">+"
          << series.size() - s << " more</text>\n";
  }
}

/// Tick labels and grid lines of a value axis, on the left or the right.
void drawAxis(std::ostream &out, const Frame &f, const Axis &a, bool atRight,
              const std::string &label) {
  double x = atRight ? f.left + f.pw() + 6 : f.left - 6;
  const char *anchor = atRight ? "start" : "end";
  for (double t : a.ticks) {
    double yy = f.top + f.ph() * (1 - (a.unit(t) - a.lo) / (a.hi - a.lo));
    if (!atRight)
      out << "<line x1=\"" << f.left << "\" x2=\"" << f.left + f.pw()
          << "\" y1=\"" << yy << "\" y2=\"" << yy
          << "\" stroke=\"#e4e4e4\"/>\n";
    out << "<text x=\"" << x << "\" y=\"" << yy + 4 << "\" text-anchor=\""
        << anchor << "\">" << num(t) << "</text>\n";
  }
  double lx = atRight ? f.left + f.pw() + 62 : 14, ly = f.top + f.ph() / 2;
  out << "<text transform=\"translate(" << lx << "," << ly
      << ") rotate(-90)\" text-anchor=\"middle\">" << label
      << (a.log ? " (log scale)" : "") << "</text>\n";
}

/// Integer epoch ticks along x (epochs 1..n, labelled from `first` on).
void drawEpochs(std::ostream &out, const Frame &f, size_t n, double first) {
  // 1, then the multiples of a nice step: 1 5 10 15, 1 20 40 60.
  double step = n <= 1 ? 1 : std::max(1.0, niceStep((double)(n - 1)));
  for (double e = 1; e <= (double)n + 1e-9;
       e = e == 1 && step > 1 ? step : e + step) {
    double xx = f.left + (n == 1 ? 0.0 : f.pw() * (e - 1) / (double)(n - 1));
    out << "<text x=\"" << xx << "\" y=\"" << f.top + f.ph() + 16
        << "\" text-anchor=\"middle\">" << num(e + first - 1) << "</text>\n";
  }
  out << "<text x=\"" << f.left + f.pw() / 2 << "\" y=\"" << f.H - 12
      << "\" text-anchor=\"middle\">epoch</text>\n";
}

size_t epochs(const std::vector<Series> &a, const std::vector<Series> &b) {
  size_t n = 1;
  for (auto *set : {&a, &b})
    for (auto &s : *set)
      n = std::max(n, s.values.size());
  return n;
}

} // namespace

std::string lineChartSvg(const Chart &chart) {
  Frame f;
  Axis left = makeAxis(chart.left, chart.leftLog);
  size_t n = epochs(chart.left, chart.right);
  std::ostringstream out;
  out << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << f.W
      << "\" height=\"" << f.H << "\" viewBox=\"0 0 " << f.W << ' ' << f.H
      << "\" font-family=\"sans-serif\" "
      << "font-size=\"12\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << f.left << "\" y=\"24\" font-size=\"15\">"
      << chart.title << "</text>\n";
  drawAxis(out, f, left, false, chart.leftLabel);
  out << "<rect x=\"" << f.left << "\" y=\"" << f.top << "\" width=\"" << f.pw()
      << "\" height=\"" << f.ph() << "\" fill=\"none\" stroke=\"#888\"/>\n";
  drawEpochs(out, f, n, (double)chart.firstEpoch);
  drawSeries(out, f, left, n, chart.left, 0, "");
  if (!chart.right.empty()) {
    Axis right = makeAxis(chart.right, false);
    drawAxis(out, f, right, true, chart.rightLabel);
    drawSeries(out, f, right, n, chart.right, chart.left.size(),
               " stroke-dasharray=\"6,3\"");
  }
  out << "</svg>\n";
  return out.str();
}

bool writeLineChart(const std::string &path, const Chart &chart) {
  std::string err;
  return writeFileAtomically(path, lineChartSvg(chart), err);
}

bool renderGraphviz(const std::string &graph, std::string &svg,
                    std::string &err, bool &missing) {
  missing = false;
  llvm::ErrorOr<std::string> dot = llvm::sys::findProgramByName("dot");
  if (!dot) {
    missing = true;
    err = "Graphviz's 'dot' program is not on the PATH";
    return false;
  }
  // The graph in, the SVG out: temporary files, removed when done.
  llvm::SmallString<128> in, out;
  if (llvm::sys::fs::createTemporaryFile("bpc-graph", "dot", in) ||
      llvm::sys::fs::createTemporaryFile("bpc-graph", "svg", out)) {
    err = "cannot create a temporary file for 'dot'";
    return false;
  }
  llvm::FileRemover removeIn(in), removeOut(out);
  std::string writeErr;
  if (!writeFileAtomically(in.str().str(), graph, writeErr)) {
    err = writeErr;
    return false;
  }
  std::optional<llvm::StringRef> redirects[] = {
      llvm::StringRef(in), llvm::StringRef(out), std::nullopt};
  std::string execErr;
  int rc = llvm::sys::ExecuteAndWait(*dot, {*dot, "-Tsvg"}, std::nullopt,
                                     redirects, 0, 0, &execErr);
  auto buf = llvm::MemoryBuffer::getFile(out);
  if (rc != 0 || !buf) {
    err = rc < 0 ? "cannot start 'dot': " + execErr : "'dot -Tsvg' failed";
    return false;
  }
  svg = (*buf)->getBuffer().str();
  return true;
}

} // namespace bp
