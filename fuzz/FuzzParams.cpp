//===- FuzzParams.cpp - libFuzzer target: the runtime's params loader ----===//
//
// Each input is the contents of a params file, loaded by the real entry
// point bp_load_params_flags (runtime/runtime.cpp) into the params of
// examples/xor.bp (`bpc train --save` writes such files), once with flags 0
// and once with BP_LOAD_ALLOW_NONFINITE, each time with a roomy and a
// 16-byte error buffer. A bad file returns -1 (the loader reports errors
// by its return value, never by bp_runtime_error). Besides crashes, hangs
// and sanitizer reports, the fuzzer aborts on a broken contract of
// bp_runtime.h: -1 must change no param and leave a NUL-terminated,
// nonempty message in the buffer; 0 with flags 0 must set every value,
// finite; 0 is wrong for a file with a NUL byte (a params file is text). Built
// from the runtime's sources alone (fuzz/CMakeLists.txt) by `tools/fuzz.sh
// --target params`.
//
//===----------------------------------------------------------------------===//
#include "InputFile.h"
#include "bp_runtime.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

namespace {

/// examples/xor.bp: W1: f64[2, 8], b1: f64[8], w2: f64[8], b2: f64.
double W1[16], b1[8], w2[8], b2[1];
const bp_param_entry table[] = {{"W1", W1, 2, {2, 8, 0, 0}},
                                {"b1", b1, 1, {8, 0, 0, 0}},
                                {"w2", w2, 1, {8, 0, 0, 0}},
                                {"b2", b2, 0, {0, 0, 0, 0}}};
constexpr int64_t count = sizeof table / sizeof table[0];
constexpr int64_t sizes[count] = {16, 8, 8, 1};

/// A NaN with a payload strtod does not produce from "nan": a value still
/// equal to it bit for bit was not set.
double unset() {
  uint64_t bits = 0x7ff4deadbeef0001ull;
  double d;
  memcpy(&d, &bits, sizeof d);
  return d;
}

bool isUnset(double d) {
  double u = unset();
  return memcmp(&d, &u, sizeof d) == 0;
}

[[noreturn]] void broken(const char *what, int flags, int64_t errorSize,
                         const char *param, int64_t i) {
  fprintf(stderr,
          "bp_load_params_flags (flags %d, error buffer of %lld bytes): %s "
          "(param '%s', value %lld)\n",
          flags, (long long)errorSize, what, param, (long long)i);
  abort();
}

void loadOnce(const uint8_t *data, size_t size, const char *path, int flags,
              int64_t errorSize) {
  for (int64_t k = 0; k < count; ++k)
    for (int64_t i = 0; i < sizes[k]; ++i)
      table[k].data[i] = unset();
  char error[1024];
  memset(error, 'x', sizeof error);
  int rc = bp_load_params_flags(table, count, path, flags, error, errorSize);
  if (rc != 0 && rc != -1)
    broken("returned neither 0 nor -1", flags, errorSize, "", rc);
  if (rc == -1) {
    if (!memchr(error, 0, (size_t)errorSize))
      broken("left no NUL in the error buffer", flags, errorSize, "", 0);
    if (error[0] == 0)
      broken("returned -1 with an empty message", flags, errorSize, "", 0);
    if (error[errorSize] != 'x')
      broken("wrote past the error buffer", flags, errorSize, "", errorSize);
  }
  if (rc == 0 && memchr(data, 0, size))
    broken("returned 0 for a file with a NUL byte", flags, errorSize, "", 0);
  for (int64_t k = 0; k < count; ++k)
    for (int64_t i = 0; i < sizes[k]; ++i) {
      double v = table[k].data[i];
      if (rc == -1 && !isUnset(v))
        broken("returned -1 but changed a param", flags, errorSize,
               table[k].name, i);
      // (With non-finite values allowed, "nan(0x4deadbeef0001)" could
      // give the sentinel itself.)
      if (rc == 0 && !(flags & BP_LOAD_ALLOW_NONFINITE) && isUnset(v))
        broken("returned 0 but left a value unset", flags, errorSize,
               table[k].name, i);
      if (rc == 0 && !(flags & BP_LOAD_ALLOW_NONFINITE) && !std::isfinite(v))
        broken("returned 0 with a non-finite value", flags, errorSize,
               table[k].name, i);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static bp::fuzz::InputFile file;
  file.set(data, size);
  for (int flags : {0, BP_LOAD_ALLOW_NONFINITE})
    for (int64_t errorSize : {512, 16})
      loadOnce(data, size, file.path(), flags, errorSize);
  return 0;
}
