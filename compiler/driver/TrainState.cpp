//===- TrainState.cpp - the training state of a v2 params file ------------===//
//
// The `#@` lines (docs/TRAINING.md, "Params file"):
//   #@ optimizer NAME
//   #@ epoch E
//   #@ row R
//   #@ steps S
//   #@ rng STATE
//   #@ order I0 I1 ...
//   #@ buffer NAME D1 D2 ...     (one per `__opt.*` param; no dims: a scalar)
//   #@ V V V ...                 (row-major, shortest round-trip form)
//
//===----------------------------------------------------------------------===//
#include "driver/TrainState.h"

#include "codegen/CodeGen.h"
#include "driver/Train.h"
#include "support/FileIO.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <set>

namespace bp {

namespace {

constexpr const char *stateMark = "#@";

int64_t elements(const ir::Param &p) {
  return p.type->isTensor() ? p.type->numElements() : 1;
}

bool isBuffer(const ir::Param &p) { return p.name.rfind("__opt.", 0) == 0; }

std::string shortest(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

} // namespace

void formatTrainState(const ir::Module &m, JIT &jit, const TrainState &st,
                      std::string &out) {
  auto line = [&](const std::string &key, const std::string &rest) {
    out += std::string(stateMark) + " " + key + rest + "\n";
  };
  line("optimizer ", st.optimizer);
  line("epoch ", std::to_string(st.epoch));
  line("row ", std::to_string(st.row));
  line("steps ", std::to_string(st.steps));
  line("rng ", std::to_string(st.rng));
  std::string order;
  for (int64_t i : st.order)
    order += " " + std::to_string(i);
  line("order", order);
  for (const ir::Param &p : m.params) {
    auto *d =
        static_cast<const double *>(jit.find(codegen::paramSymbol(p.name)));
    if (!isBuffer(p) || !d)
      continue;
    std::string dims;
    for (int64_t s : p.type->shape)
      dims += " " + std::to_string(s);
    line("buffer ", p.name + dims);
    std::string values;
    for (int64_t i = 0; i < elements(p); ++i)
      values += (i ? " " : "") + shortest(d[i]);
    out += std::string(stateMark) + " " + values + "\n";
  }
}

namespace {

/// A word of a `#@` line and its column.
struct Word {
  std::string text;
  int64_t col;
};

/// The `#@` lines of a file, parsed; errors at their line and column.
struct StateReader {
  const std::string &path;
  std::string &err;
  int64_t lineNo = 0;
  /// The buffers read: name -> (dims, values, line).
  struct Buffer {
    std::vector<int64_t> dims;
    std::vector<double> values;
    int64_t line = 0;
  };
  std::map<std::string, Buffer> buffers;
  std::set<std::string> seen;
  int64_t optimizerLine = 0, optimizerCol = 0;

  StateReader(const std::string &path, std::string &err)
      : path(path), err(err) {}
  bool fail(int64_t col, const std::string &m) {
    err = path + ":" + std::to_string(lineNo) + ":" + std::to_string(col) +
          ": " + m;
    return false;
  }
  static std::vector<Word> words(const std::string &line) {
    std::vector<Word> out;
    for (size_t i = 2; i < line.size();) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t'))
        ++i;
      size_t b = i;
      while (i < line.size() && line[i] != ' ' && line[i] != '\t')
        ++i;
      if (i > b)
        out.push_back({line.substr(b, i - b), (int64_t)b + 1});
    }
    return out;
  }
  /// A decimal integer in [0, max] (the rng's state: any 64 bits; counts
  /// and indices: up to INT64_MAX).
  bool integer(const Word &w, uint64_t &v, uint64_t max = INT64_MAX) {
    auto r = std::from_chars(w.text.data(), w.text.data() + w.text.size(), v);
    if (r.ec != std::errc() || r.ptr != w.text.data() + w.text.size() ||
        v > max)
      return fail(w.col, "expected an integer from 0 to " +
                             std::to_string(max) + ", found '" + w.text + "'");
    return true;
  }
  bool line(const std::vector<std::string> &lines, size_t &i, TrainState &st);
  bool buffer(const std::vector<Word> &w, const std::string &next);
};

/// One `#@ KEY ...` line (and a buffer's values line after it).
bool StateReader::line(const std::vector<std::string> &lines, size_t &i,
                       TrainState &st) {
  std::vector<Word> w = words(lines[i]);
  if (w.empty())
    return fail(3, "expected a training state key after '#@'");
  const std::string &key = w[0].text;
  if (key != "buffer" && !seen.insert(key).second)
    return fail(w[0].col, "a second '" + key + "' line");
  if (key == "buffer") {
    if (i + 1 >= lines.size() || lines[i + 1].rfind(stateMark, 0) != 0)
      return fail(w[0].col, "missing the values line ('#@ V V ...') of the "
                            "buffer");
    ++i;
    return buffer(w, lines[i]);
  }
  if (key == "optimizer") {
    if (w.size() != 2)
      return fail(w[0].col, "expected 'optimizer NAME'");
    st.optimizer = w[1].text;
    optimizerLine = lineNo;
    optimizerCol = w[1].col;
    return true;
  }
  if (key == "order") {
    st.order.clear();
    for (size_t k = 1; k < w.size(); ++k) {
      uint64_t v = 0;
      if (!integer(w[k], v))
        return false;
      st.order.push_back((int64_t)v);
    }
    return true;
  }
  uint64_t *to = nullptr, v = 0;
  if (key == "rng")
    to = &st.rng;
  else if (key != "epoch" && key != "row" && key != "steps")
    return fail(w[0].col, "unknown training state '" + key + "'");
  if (w.size() != 2)
    return fail(w[0].col, "expected '" + key + "' and one integer");
  if (!integer(w[1], to ? *to : v, to ? UINT64_MAX : INT64_MAX))
    return false;
  if (key == "epoch")
    st.epoch = (int64_t)v;
  if (key == "row")
    st.row = (int64_t)v;
  if (key == "steps")
    st.steps = (int64_t)v;
  return true;
}

/// `#@ buffer NAME DIMS...` (`w`), then `next`: `#@ V V ...`.
bool StateReader::buffer(const std::vector<Word> &w, const std::string &next) {
  if (w.size() < 2)
    return fail(w[0].col, "expected 'buffer NAME DIMS...'");
  Buffer b;
  b.line = lineNo;
  for (size_t k = 2; k < w.size(); ++k) {
    uint64_t d = 0;
    if (!integer(w[k], d))
      return false;
    b.dims.push_back((int64_t)d);
  }
  ++lineNo;
  for (const Word &v : words(next)) {
    char *end;
    double x = strtod(v.text.c_str(), &end);
    if (*end || !std::isfinite(x))
      return fail(v.col, "'" + v.text + "' is not a finite number");
    b.values.push_back(x);
  }
  if (!buffers.emplace(w[1].text, std::move(b)).second) {
    --lineNo;
    return fail(w[1].col, "a second buffer '" + w[1].text + "'");
  }
  return true;
}

/// The file's lines (LF or CRLF ends).
std::vector<std::string> splitLines(const std::string &text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    std::string l = text.substr(
        start, nl == std::string::npos ? std::string::npos : nl - start);
    if (!l.empty() && l.back() == '\r')
      l.pop_back();
    lines.push_back(l);
    if (nl == std::string::npos)
      break;
    start = nl + 1;
  }
  return lines;
}

/// The file's text, its first line `# bp params v2`.
bool readV2(const std::string &path, std::string &text, std::string &err) {
  uint64_t limit;
  if (!dataLimitBytes(limit, err))
    return false;
  ReadResult r = readRegularFile(path, limit, text);
  if (!r) {
    err = describeReadFailure(r, path, "params file", limit);
    return false;
  }
  std::string first = text.substr(0, text.find('\n'));
  if (!first.empty() && first.back() == '\r')
    first.pop_back();
  if (first == "# bp params v2")
    return true;
  if (first == "# bp params v1")
    err = path + ":1:1: a v1 params file holds params only, no training "
                 "state to resume from (--load sets its params; --resume "
                 "needs a file written by --save of this bpc, '# bp params "
                 "v2')";
  else
    err = path + ":1:1: expected '# bp params v2' on the first line (a "
                 "file written by bpc train --save)";
  return false;
}

} // namespace

namespace {

/// The staged buffers of `r` against the `__opt.*` params of `m`: each one
/// present, of its shape; none other. Then copied into the JIT's buffers.
bool setBuffers(const ir::Module &m, JIT &jit, StateReader &r,
                const std::string &optimizer) {
  std::vector<std::pair<double *, const std::vector<double> *>> staged;
  for (const ir::Param &p : m.params) {
    auto *d = static_cast<double *>(jit.find(codegen::paramSymbol(p.name)));
    if (!isBuffer(p) || !d)
      continue;
    auto it = r.buffers.find(p.name);
    if (it == r.buffers.end()) {
      r.err = r.path + ": no optimizer buffer '" + p.name + "' (the file " +
              "was saved by another model's training)";
      return false;
    }
    r.lineNo = it->second.line;
    if (it->second.dims != p.type->shape)
      return r.fail(1,
                    "buffer '" + p.name + "' has another shape in this model");
    if ((int64_t)it->second.values.size() != elements(p)) {
      ++r.lineNo;
      return r.fail(1, "buffer '" + p.name + "' needs " +
                           std::to_string(elements(p)) + " values, found " +
                           std::to_string(it->second.values.size()));
    }
    staged.push_back({d, &it->second.values});
    it->second.line = 0; // matched
  }
  for (auto &[name, b] : r.buffers) {
    if (!b.line)
      continue;
    r.lineNo = b.line;
    return r.fail(1, "buffer '" + name +
                         "' is not optimizer state of this model's " +
                         optimizer + " (the file was saved by another model)");
  }
  for (auto &[d, values] : staged)
    std::copy(values->begin(), values->end(), d);
  return true;
}

} // namespace

bool resumeTraining(const ir::Module &m, JIT &jit, const std::string &path,
                    const std::string &optimizer, int64_t rows, TrainState &st,
                    std::string &err) {
  std::string text;
  if (!readV2(path, text, err))
    return false;
  StateReader r(path, err);
  std::vector<std::string> lines = splitLines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    r.lineNo = (int64_t)i + 1;
    if (lines[i].rfind(stateMark, 0) == 0 && !r.line(lines, i, st))
      return false;
  }
  for (const char *key : {"optimizer", "epoch", "row", "steps", "rng", "order"})
    if (!r.seen.count(key)) {
      err = path + ": no '#@ " + key +
            "' line (the training state is incomplete)";
      return false;
    }
  if (st.optimizer != optimizer) {
    r.lineNo = r.optimizerLine;
    return r.fail(r.optimizerCol,
                  "the file holds the state of optimizer '" + st.optimizer +
                      "', this run uses '" + optimizer +
                      "' (resume with the same optimizer, or --load the "
                      "params only)");
  }
  // Another model's file: named by its params first.
  if (!loadParams(m, jit, path, false, err) ||
      !setBuffers(m, jit, r, optimizer))
    return false;
  if ((int64_t)st.order.size() != rows) {
    err = path + ": the run was saved training on " +
          std::to_string(st.order.size()) + " data rows, this one has " +
          std::to_string(rows);
    return false;
  }
  std::vector<bool> hit((size_t)rows, false);
  for (int64_t k : st.order) {
    if (k >= rows || hit[(size_t)k]) {
      err = path + ": '#@ order' is not an order of the data rows (each "
                   "row once)";
      return false;
    }
    hit[(size_t)k] = true;
  }
  if (st.row >= rows) {
    err = path + ": '#@ row' is past the last data row";
    return false;
  }
  return true;
}

} // namespace bp
