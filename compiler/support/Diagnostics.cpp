//===- Diagnostics.cpp - located user diagnostics -------------------------===//
#include "support/Diagnostics.h"

#include <algorithm>
#include <ostream>
#include <sstream>

namespace bp {

std::string SourceFile::lineText(uint32_t line) const {
  if (line == 0)
    return {};
  size_t pos = 0;
  for (uint32_t l = 1; l < line; ++l) {
    pos = text.find('\n', pos);
    if (pos == std::string::npos)
      return {};
    ++pos;
  }
  size_t end = text.find('\n', pos);
  std::string s = text.substr(pos, end == std::string::npos ? end : end - pos);
  if (!s.empty() && s.back() == '\r')
    s.pop_back();
  return s;
}

LineOrigin SourceFile::origin(uint32_t line) const {
  if (origins.empty())
    return {path, line};
  if (line == 0 || line > origins.size())
    return {path, 0};
  return origins[line - 1];
}

std::string SourceFile::lineRef(uint32_t line, uint32_t from) const {
  LineOrigin o = origin(line);
  std::string n = std::to_string(o.line ? o.line : line);
  return o.path == origin(from).path ? "line " + n : o.path + ":" + n;
}

void DiagEngine::add(Severity s, Loc loc, std::string message) {
  // The same error at the same place is reported once (a generic's body is
  // checked in each of its specialisations, LANGUAGE.md section 21).
  if (s == Severity::Error)
    for (const Diagnostic &d : diags)
      if (d.severity == s && d.loc.line == loc.line && d.loc.col == loc.col &&
          d.message == message)
        return;
  if (s == Severity::Error)
    ++numErrors;
  if (diags.size() < maxErrors)
    diags.push_back({s, loc, std::move(message)});
}

void DiagEngine::error(Loc loc, std::string message) {
  add(Severity::Error, loc, std::move(message));
}
void DiagEngine::warning(Loc loc, std::string message) {
  add(Severity::Warning, loc, std::move(message));
}
void DiagEngine::note(Loc loc, std::string message) {
  add(Severity::Note, loc, std::move(message));
}

static const char *severityName(Severity s) {
  switch (s) {
  case Severity::Error:
    return "error";
  case Severity::Warning:
    return "warning";
  case Severity::Note:
    return "note";
  }
  return "error";
}

void DiagEngine::print(std::ostream &os) const {
  for (const Diagnostic &d : diags) {
    LineOrigin where = file->origin(d.loc.line);
    os << where.path;
    if (where.line)
      os << ':' << where.line << ':' << d.loc.col;
    os << ": " << severityName(d.severity) << ": " << d.message << '\n';
    if (!where.line)
      continue;
    std::string line = file->lineText(d.loc.line);
    // Very long lines (generated or binary input) are cut around the caret.
    if (line.size() > 200)
      continue;
    // Non-printable bytes would garble the terminal; show them as '?'.
    for (char &c : line)
      if ((unsigned char)c < 32 && c != '\t')
        c = '?';
    os << line << '\n';
    std::string caret;
    for (uint32_t i = 1; i < d.loc.col && i <= line.size(); ++i)
      caret += line[i - 1] == '\t' ? '\t' : ' ';
    os << caret << "^\n";
  }
  if (numErrors > maxErrors)
    os << file->path << ": note: " << (numErrors - maxErrors)
       << " more errors not shown\n";
}

namespace {
struct Expected {
  Severity severity;
  uint32_t line;
  std::string text;
  bool matched = false;
};
} // namespace

bool DiagEngine::verify(std::ostream &os) const {
  std::vector<Expected> expected;
  std::istringstream in(file->text);
  std::string line;
  uint32_t lineNo = 0;
  while (std::getline(in, line)) {
    ++lineNo;
    size_t pos = 0;
    while ((pos = line.find("expected-", pos)) != std::string::npos) {
      pos += 9;
      Severity sev;
      if (line.compare(pos, 5, "error") == 0) {
        sev = Severity::Error;
        pos += 5;
      } else if (line.compare(pos, 7, "warning") == 0) {
        sev = Severity::Warning;
        pos += 7;
      } else if (line.compare(pos, 4, "note") == 0) {
        sev = Severity::Note;
        pos += 4;
      } else {
        continue;
      }
      int64_t target = lineNo;
      if (pos < line.size() && line[pos] == '@') {
        ++pos;
        int sign = 1;
        if (pos < line.size() && (line[pos] == '+' || line[pos] == '-')) {
          sign = line[pos] == '-' ? -1 : 1;
          ++pos;
        }
        int64_t n = 0;
        while (pos < line.size() && isdigit((unsigned char)line[pos]))
          n = n * 10 + (line[pos++] - '0');
        target = lineNo + sign * n;
      }
      size_t open = line.find("{{", pos);
      size_t close = open == std::string::npos ? open : line.find("}}", open);
      if (close == std::string::npos) {
        os << file->path << ':' << lineNo
           << ": error: malformed expected-diagnostic comment\n";
        return false;
      }
      expected.push_back(
          {sev, (uint32_t)target, line.substr(open + 2, close - open - 2)});
      pos = close + 2;
    }
  }

  bool ok = true;
  for (const Diagnostic &d : diags) {
    auto it = std::find_if(expected.begin(), expected.end(), [&](Expected &e) {
      return !e.matched && e.severity == d.severity && e.line == d.loc.line &&
             d.message.find(e.text) != std::string::npos;
    });
    if (it != expected.end()) {
      it->matched = true;
      continue;
    }
    ok = false;
    LineOrigin where = file->origin(d.loc.line); // an imported file's own
    os << where.path << ':' << where.line << ':' << d.loc.col << ": unexpected "
       << severityName(d.severity) << ": " << d.message << '\n';
  }
  for (const Expected &e : expected) {
    if (e.matched)
      continue;
    ok = false;
    LineOrigin where = file->origin(e.line);
    os << where.path << ':' << where.line << ": expected "
       << severityName(e.severity) << " not produced: {{" << e.text << "}}\n";
  }
  if (expected.empty() && diags.empty()) {
    os << file->path << ": error: no expected-error comments and no "
       << "diagnostics: --verify-diagnostics needs at least one\n";
    return false;
  }
  return ok;
}

unsigned editDistance(const std::string &a, const std::string &b,
                      unsigned limit) {
  size_t n = a.size(), m = b.size();
  if ((n > m ? n - m : m - n) > limit)
    return limit + 1; // each edit changes the length by at most one
  // Only the band |i - j| <= limit of the table can stay within limit:
  // O(n * limit), so two long names cost linear time, not quadratic.
  const unsigned over = limit + 1;
  std::vector<unsigned> prev(m + 2, over), cur(m + 2, over);
  for (size_t j = 0; j <= std::min<size_t>(m, limit); ++j)
    prev[j] = (unsigned)j;
  for (size_t i = 1; i <= n; ++i) {
    size_t lo = i > limit ? i - limit : 0, hi = std::min(m, i + limit);
    if (lo == 0)
      cur[0] = std::min<size_t>(i, over);
    else
      cur[lo - 1] = over;
    for (size_t j = std::max<size_t>(lo, 1); j <= hi; ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1,
                         prev[j - 1] + (a[i - 1] == b[j - 1] ? 0u : 1u), over});
    cur[hi + 1] = over;
    std::swap(prev, cur);
  }
  return prev[m];
}

std::string didYouMean(const std::string &name,
                       const std::vector<std::string> &candidates) {
  std::string best;
  unsigned bestD = name.size() <= 3 ? 1 : 2;
  for (const std::string &c : candidates) {
    unsigned d = editDistance(name, c, bestD);
    if (d <= bestD && d > 0 && (best.empty() || d < bestD)) {
      best = c;
      bestD = d;
    }
  }
  return best.empty() ? "" : "; did you mean '" + best + "'?";
}

} // namespace bp
