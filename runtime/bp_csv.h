//===- bp_csv.h - the one CSV grammar of data files -----------------------===//
//
// Header-only (inline, internal to BP: not installed) so that the
// runtime's read_csv (runtime.cpp) and `bpc train`'s data reader
// (compiler/driver/Train.cpp) read data files by one grammar:
// - lines end with LF, CRLF or a lone CR; a UTF-8 byte order mark at the
//   start is not part of the first line; blank lines are skipped;
// - fields are separated by commas; spaces and tabs around a field are
//   not part of it;
// - a field is a decimal number as std::from_chars reads it (an optional
//   `+` first; no hex floats); a value too small for a double reads as
//   the nearest one (a denormal or 0, as strtod rounds); one too large
//   reads as inf, which the readers refuse as not finite;
// - the first non-blank line is a header, and skipped, when its first
//   field is not a number; no other line may be.
// Invariant: every function here is pure (no I/O, no globals).
//
//===----------------------------------------------------------------------===//
#ifndef BP_CSV_H
#define BP_CSV_H

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace bp::csv {
// Internal linkage: the runtime ships inside AOT libraries, which define
// no symbol outside their prefix (docs/ABI.md).
namespace {

/// The lines of `text` (see the grammar above), the byte order mark
/// removed from the first.
inline std::vector<std::string_view> splitLines(std::string_view text) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF")
    text.remove_prefix(3);
  std::vector<std::string_view> lines;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\n' && text[i] != '\r')
      continue;
    lines.push_back(text.substr(start, i - start));
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n')
      ++i;
    start = i + 1;
  }
  if (start < text.size())
    lines.push_back(text.substr(start));
  return lines;
}

/// Whether `line` has nothing but spaces and tabs.
inline bool isBlank(std::string_view line) {
  return line.find_first_not_of(" \t") == std::string_view::npos;
}

/// One field of a line: its text (spaces included) and its column, from 1.
struct Field {
  std::string_view text;
  int64_t col;
};

/// The comma-separated fields of `line`, into `out` (its capacity reused).
inline void splitFields(std::string_view line, std::vector<Field> &out) {
  out.clear();
  size_t start = 0;
  while (true) {
    size_t comma = line.find(',', start);
    out.push_back({line.substr(start, comma == std::string_view::npos
                                          ? std::string_view::npos
                                          : comma - start),
                   (int64_t)start + 1});
    if (comma == std::string_view::npos)
      return;
    start = comma + 1;
  }
}

/// The number a field holds, spaces and tabs around it allowed; false
/// when it is not a decimal number.
inline bool parseNumber(std::string_view s, double &out) {
  const char *b = s.data(), *e = s.data() + s.size();
  while (b < e && (*b == ' ' || *b == '\t'))
    ++b;
  while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
    --e;
  if (b == e)
    return false;
  if (*b == '+')
    ++b;
  auto r = std::from_chars(b, e, out);
  if (r.ec == std::errc::result_out_of_range && r.ptr == e) {
    std::string text(b, e); // from_chars leaves `out` unset: strtod rounds
    out = std::strtod(text.c_str(), nullptr);
    return true;
  }
  return r.ec == std::errc() && r.ptr == e;
}

/// Whether `fields`, a non-blank line's, are the header: `first` (no
/// non-blank line came before) and the first field not a number.
inline bool isHeader(const std::vector<Field> &fields, bool first) {
  double v;
  return first && !parseNumber(fields[0].text, v);
}

/// The finite number field `f` holds, into `v`; false with `problem` set
/// ("'x' is not a number", "'x' is not a finite number").
inline bool fieldValue(const Field &f, double &v, std::string &problem) {
  if (!parseNumber(f.text, v)) {
    problem = "'" + std::string(f.text) + "' is not a number";
    return false;
  }
  if (!std::isfinite(v)) {
    problem = "'" + std::string(f.text) + "' is not a finite number";
    return false;
  }
  return true;
}

/// Whether field `f` (already a finite number) is written as an integer:
/// an optional sign and decimal digits, at most 2^53 in magnitude (the
/// values travel as doubles). Else false with `problem` set.
inline bool isIntegerField(const Field &f, double v, std::string &problem) {
  std::string_view s = f.text;
  size_t i = !s.empty() && (s[0] == '+' || s[0] == '-') ? 1 : 0;
  bool digits = i < s.size();
  for (size_t k = i; k < s.size(); ++k)
    digits &= s[k] >= '0' && s[k] <= '9';
  if (!digits) {
    problem = "'" + std::string(s) +
              "' is not an integer (an int argument "
              "of the loss)";
    return false;
  }
  if (std::fabs(v) > 9007199254740992.0) {
    problem = "'" + std::string(s) +
              "' is too large for an int argument "
              "(at most 2^53 in magnitude)";
    return false;
  }
  return true;
}

} // namespace
} // namespace bp::csv

#endif // BP_CSV_H
