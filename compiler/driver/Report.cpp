//===- Report.cpp - `bpc train --report DIR`: one HTML page ---------------===//
//
// DIR/index.html is one self-contained page: the charts are the SVG of
// `--plot` (driver/Plot.h) written inline, the loss's graph is Graphviz's
// SVG of `bpc emit dot` inline, the numbers behind the charts are inline
// JSON (a <script type="application/json">, never executed), the styling
// an inline <style>. There is no script, font, image or link to load, and
// the page's Content-Security-Policy (default-src 'none') tells the browser
// to refuse any load should one ever appear.
//
//===----------------------------------------------------------------------===//
#include "driver/Report.h"

#include "driver/Plot.h"
#include "support/FileIO.h"
#include "support/Format.h"

#include <cmath>
#include <filesystem>
#include <sstream>

namespace bp {

namespace {

/// `s` as HTML text (or a quoted attribute value).
std::string esc(const std::string &s) {
  std::string out;
  for (char c : s) {
    switch (c) {
    case '&':
      out += "&amp;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '"':
      out += "&quot;";
      break;
    default:
      out += c;
    }
  }
  return out;
}

std::string show(double v) {
  if (!std::isfinite(v))
    return std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf";
  char buf[32];
  snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

/// `s` as a JSON string.
std::string jsonString(const std::string &s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    if ((unsigned char)c < 0x20) {
      char buf[8];
      snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
      continue;
    }
    out += c;
  }
  return out + "\"";
}

/// A JSON array of numbers; nan and inf (which JSON lacks) are null.
std::string jsonArray(const std::vector<double> &v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i)
    out += (i ? "," : "") +
           (std::isfinite(v[i]) ? shortestDouble(v[i]) : std::string("null"));
  return out + "]";
}

/// The data behind the charts, for whoever reads the page's source.
std::string jsonData(const TrainReport &r) {
  std::ostringstream o;
  o << "{\"source\":" << jsonString(r.source)
    << ",\"loss\":" << jsonString(r.loss)
    << ",\"metric\":" << jsonString(r.metric)
    << ",\"first_epoch\":" << r.firstEpoch
    << ",\"train_loss\":" << jsonArray(r.trainLoss)
    << ",\"test_loss\":" << jsonArray(r.testLoss)
    << ",\"metric_values\":" << jsonArray(r.metricCurve)
    << ",\"lr\":" << jsonArray(r.lr) << ",\"clip\":" << shortestDouble(r.clip)
    << ",\"clipped_steps\":" << r.clipped << ",\"steps\":" << r.steps
    << ",\"clipped_per_epoch\":" << jsonArray(r.clippedPerEpoch)
    << ",\"params\":[";
  for (size_t k = 0; k < r.params.size(); ++k) {
    const TrainReport::Param &p = r.params[k];
    o << (k ? "," : "") << "{\"name\":" << jsonString(p.name) << ",\"shape\":[";
    for (size_t d = 0; d < p.shape.size(); ++d)
      o << (d ? "," : "") << p.shape[d];
    o << "],\"grad_norm\":" << jsonArray(p.gradNorm)
      << ",\"grad_norm_per_index\":[";
    for (size_t i = 0; i < p.perIndex.size(); ++i)
      o << (i ? "," : "") << jsonArray(p.perIndex[i]);
    o << "]}";
  }
  o << "]}";
  // Inside <script>, "</" would end it: JSON allows "<\/".
  std::string s = o.str();
  for (size_t at = s.find("</"); at != std::string::npos; at = s.find("</", at))
    s.replace(at, 2, "<\\/");
  return s;
}

const char *const Style = R"(<style>
body { font-family: sans-serif; margin: 24px; color: #222; max-width: 1400px; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 28px; }
.charts { display: grid; gap: 12px;
  grid-template-columns: repeat(auto-fill, minmax(440px, 1fr)); }
.charts > svg { border: 1px solid #ddd; width: 100%; height: auto; }
.graph { overflow: auto; max-height: 900px; border: 1px solid #ddd; }
.warning { color: #b00; } .note { color: #a60; } .ok { color: #070; }
table { border-collapse: collapse; margin-bottom: 12px; }
td, th { padding: 2px 10px; text-align: left; border-bottom: 1px solid #eee; }
.small { color: #666; font-size: 13px; }
</style>
)";

/// The verdicts as the terminal prints them, coloured by kind.
void writeVerdicts(std::ostream &o, const TrainReport &r) {
  o << "<ul id=\"verdicts\">\n";
  for (const TrainReport::Verdict &v : r.verdicts) {
    const char *cls = v.text.rfind("warning:", 0) == 0 ? "warning"
                      : v.text.rfind("note:", 0) == 0  ? "note"
                                                       : "ok";
    o << "<li class=\"" << cls << "\">" << esc(v.text);
    if (v.epoch)
      o << " <span class=\"small\">(from epoch " << v.epoch << ")</span>";
    o << "</li>\n";
  }
  o << "</ul>\n";
}

/// Per param: its shape, gradient norms of the first and last epochs, and
/// its final norm, as the terminal's gradient-flow table.
void writeParamTable(std::ostream &o, const TrainReport &r) {
  o << "<table id=\"params\"><tr><th>param</th><th>shape</th><th>first "
       "epoch</th><th>last epoch</th><th>|param|</th></tr>\n";
  for (const TrainReport::Param &p : r.params) {
    std::string shape;
    for (int64_t d : p.shape)
      shape += (shape.empty() ? "" : ", ") + std::to_string(d);
    o << "<tr><td>" << esc(p.name) << "</td><td>"
      << (p.shape.empty() ? "f64" : "f64[" + shape + "]") << "</td><td>"
      << (p.gradNorm.empty() ? "" : show(p.gradNorm.front())) << "</td><td>"
      << (p.gradNorm.empty() ? "" : show(p.gradNorm.back())) << "</td><td>"
      << show(p.valueNorm) << "</td></tr>\n";
  }
  o << "</table>\n";
}

/// The loss, metric, gradient-norm and learning-rate charts.
void writeCurves(std::ostream &o, const TrainReport &r) {
  Chart loss{"loss per epoch", {{"train loss", r.trainLoss}}, "loss", true};
  loss.firstEpoch = r.firstEpoch;
  if (!r.testLoss.empty())
    loss.left.push_back({"test loss", r.testLoss});
  o << "<h2>Loss and metric</h2>\n<div class=\"charts\" id=\"curves\">\n"
    << lineChartSvg(loss);
  if (!r.metricCurve.empty()) {
    Chart metric{"test " + r.metric + " per epoch",
                 {{"test " + r.metric, r.metricCurve}},
                 r.metric};
    metric.firstEpoch = r.firstEpoch;
    o << lineChartSvg(metric);
  }
  o << "</div>\n<h2>Gradient flow</h2>\n";
  writeVerdicts(o, r);
  writeParamTable(o, r);
  Chart norms{"gradient norm per param", {}, "mean gradient norm", true};
  norms.firstEpoch = r.firstEpoch;
  for (const TrainReport::Param &p : r.params)
    norms.left.push_back({p.name, p.gradNorm});
  o << "<div class=\"charts\" id=\"grad-norms\">\n" << lineChartSvg(norms);
  for (const TrainReport::Param &p : r.params) {
    if (p.perIndex.empty())
      continue;
    Chart c{"gradient norm of " + p.name + "[i] (leading index)",
            {},
            "mean gradient norm",
            true};
    c.firstEpoch = r.firstEpoch;
    for (size_t i = 0; i < p.perIndex.size(); ++i)
      c.left.push_back({p.name + "[" + std::to_string(i) + "]", p.perIndex[i]});
    o << lineChartSvg(c);
  }
  o << "</div>\n";
}

/// The learning rate per epoch and clipping's activity.
void writeOptimizer(std::ostream &o, const TrainReport &r) {
  o << "<h2>Learning rate and clipping</h2>\n<p id=\"clipping\">";
  if (r.clip > 0)
    o << "clipping: " << r.clipped << " of " << r.steps
      << " steps had a gradient norm above " << show(r.clip);
  else
    o << "clipping: off (no 'clip:' in the train block, no --clip)";
  o << "</p>\n<div class=\"charts\" id=\"optimizer\">\n";
  Chart lr{"learning rate per epoch", {{"lr", r.lr}}, "learning rate", false};
  lr.firstEpoch = r.firstEpoch;
  o << lineChartSvg(lr);
  if (r.clip > 0) {
    Chart c{"steps clipped per epoch",
            {{"clipped steps", r.clippedPerEpoch}},
            "steps",
            false};
    c.firstEpoch = r.firstEpoch;
    o << lineChartSvg(c);
  }
  o << "</div>\n";
}

/// Graphviz's SVG from its XML prolog and doctype on (which name a DTD by
/// URL): the <svg> element alone.
std::string svgElement(const std::string &svg) {
  size_t at = svg.find("<svg");
  return at == std::string::npos ? std::string() : svg.substr(at);
}

} // namespace

void renderReportGraph(TrainReport &r, const std::string &dot,
                       const std::string &dotError) {
  if (!dotError.empty()) {
    r.graphNote = "The graph is not drawn: " + dotError + ".";
    return;
  }
  std::string svg, err;
  bool missing = false;
  if (renderGraphviz(dot, svg, err, missing) &&
      !(r.graphSvg = svgElement(svg)).empty())
    return;
  r.graphNote = missing ? "The graph is not drawn: Graphviz's 'dot' program "
                          "is not installed (Debian: apt-get install "
                          "graphviz); 'bpc emit dot FILE --fn " +
                              r.loss + "' prints it as text."
                        : "The graph is not drawn: " + err + ".";
}

bool checkReportDir(const std::string &dir, std::string &err) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir)) {
    err = "--report: cannot create the directory '" + dir + "'" +
          (ec ? ": " + ec.message() : std::string());
    return false;
  }
  if (checkWritable(dir + "/index.html", err))
    return true;
  err = "--report '" + dir + "': " + err;
  return false;
}

bool writeTrainReport(const std::string &dir, const TrainReport &r,
                      std::string &err) {
  // The file's name (its path: in the JSON and the heading's tooltip).
  std::string name = std::filesystem::path(r.source).filename().string();
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    << "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src "
       "'none'; style-src 'unsafe-inline'\">\n"
    << "<title>bpc train report: " << esc(name) << "</title>\n"
    << Style << "</head>\n<body>\n<h1 title=\"" << esc(r.source)
    << "\">bpc train " << esc(name) << "</h1>\n"
    << "<p id=\"setup\">" << esc(r.setup) << "</p>\n";
  if (!r.stop.empty())
    o << "<p id=\"stop\" class=\"warning\">" << esc(r.stop) << "</p>\n";
  writeCurves(o, r);
  writeOptimizer(o, r);
  o << "<h2>Computational graph of '" << esc(r.loss) << "'</h2>\n";
  if (!r.graphSvg.empty())
    o << "<p class=\"small\">bpc emit dot --fn " << esc(r.loss)
      << ": forward edges solid, adjoint edges dashed red.</p>\n"
      << "<div class=\"graph\" id=\"graph\">\n"
      << r.graphSvg << "</div>\n";
  else
    o << "<p id=\"graph-note\">" << esc(r.graphNote) << "</p>\n";
  o << "<p class=\"small\">Written by bpc train --report. This page is "
       "self-contained: it loads nothing from the network (no scripts, "
       "fonts or images); the numbers behind the charts are in the "
       "bp-data element of its source.</p>\n"
    << "<script type=\"application/json\" id=\"bp-data\">" << jsonData(r)
    << "</script>\n</body>\n</html>\n";
  return writeFileAtomically(dir + "/index.html", o.str(), err);
}

} // namespace bp
