//===- Plot.cpp - SVG line charts for `bpc train --plot` ------------------===//
#include "driver/Plot.h"
#include "support/FileIO.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace bp {

static std::string num(double v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

bool writeLineChart(const std::string &path, const std::string &title,
                    const std::vector<Series> &series, bool logScale) {
  std::ostringstream out;
  const double W = 640, H = 400, left = 70, right = 150, top = 40, bottom = 50;
  auto y = [&](double v) { return logScale ? std::log10(v) : v; };
  double lo = INFINITY, hi = -INFINITY;
  size_t n = 1;
  for (auto &s : series) {
    n = std::max(n, s.values.size());
    for (double v : s.values)
      if (std::isfinite(y(v))) {
        lo = std::min(lo, y(v));
        hi = std::max(hi, y(v));
      }
  }
  if (!std::isfinite(lo)) {
    lo = 0;
    hi = 1;
  }
  if (hi - lo < 1e-12) {
    lo -= 0.5;
    hi += 0.5;
  }
  double pw = W - left - right, ph = H - top - bottom;
  auto px = [&](size_t i) {
    return left + (n == 1 ? 0.0 : pw * (double)i / (double)(n - 1));
  };
  auto py = [&](double v) { return top + ph * (1 - (y(v) - lo) / (hi - lo)); };
  static const char *colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                 "#9467bd", "#8c564b", "#e377c2", "#17becf"};
  out << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W
      << "\" height=\"" << H << "\" font-family=\"sans-serif\" "
      << "font-size=\"12\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << left << "\" y=\"24\" font-size=\"15\">" << title
      << "</text>\n"
      << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << pw
      << "\" height=\"" << ph << "\" fill=\"none\" stroke=\"#888\"/>\n";
  for (int k = 0; k <= 4; ++k) {
    double v = lo + (hi - lo) * k / 4, yy = top + ph * (1 - k / 4.0);
    out << "<text x=\"" << left - 6 << "\" y=\"" << yy + 4
        << "\" text-anchor=\"end\">" << num(logScale ? std::pow(10, v) : v)
        << "</text>\n";
  }
  out << "<text x=\"" << left + pw / 2 << "\" y=\"" << H - 12
      << "\" text-anchor=\"middle\">epoch (1.." << n << ")</text>\n";
  for (size_t s = 0; s < series.size(); ++s) {
    const char *c = colors[s % 8];
    out << "<polyline fill=\"none\" stroke=\"" << c
        << "\" stroke-width=\"2\" points=\"";
    for (size_t i = 0; i < series[s].values.size(); ++i)
      if (std::isfinite(y(series[s].values[i])))
        out << px(i) << ',' << py(series[s].values[i]) << ' ';
    out << "\"/>\n<text x=\"" << W - right + 10 << "\" y=\""
        << top + 16 * (s + 1) << "\" fill=\"" << c << "\">" << series[s].name
        << "</text>\n";
  }
  out << "</svg>\n";
  std::string err;
  return writeFileAtomically(path, out.str(), err);
}

} // namespace bp
