//===- Format.h - numbers as the printers write them ----------------------===//
//
// One spelling of f64 values for every printer of code (IR, adjoint code,
// explain traces): the shortest text that reads back as the same double.
//
//===----------------------------------------------------------------------===//
#ifndef BP_SUPPORT_FORMAT_H
#define BP_SUPPORT_FORMAT_H

#include <charconv>
#include <string>

namespace bp {

/// The shortest round-trip spelling of d (`0.1`, `3`, `1e+300`, `inf`).
inline std::string shortestDouble(double d) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, r.ptr);
}

/// As shortestDouble, with a decimal point kept where the text would read
/// as an int (`3.0`), so f64 constants in printed code look like floats.
inline std::string f64Literal(double d) {
  std::string s = shortestDouble(d);
  if (s.find_first_of(".en") == std::string::npos)
    s += ".0";
  return s;
}

} // namespace bp

#endif
