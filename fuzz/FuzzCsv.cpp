//===- FuzzCsv.cpp - libFuzzer target: the runtime's CSV reader ----------===//
//
// Each input is the contents of a data file, read by the real entry point
// bp_read_csv (runtime/runtime.cpp) once for every shape of `shapes` below.
// A bad file is a runtime error: bp_runtime_error returns to
// bp_guarded_call (runtime/guard.c), so it is an ordinary outcome, not a
// crash. A crash, a hang, a sanitizer report, or a read that succeeds but
// leaves a value of the tensor unset or not finite (bp_runtime.h: the
// reader refuses non-finite values), or succeeds on a file with a NUL byte
// (a data file is text), aborts the fuzzer with the input saved.
// Built from the runtime's sources alone (fuzz/CMakeLists.txt) by
// `tools/fuzz.sh --target csv`.
//
//===----------------------------------------------------------------------===//
#include "InputFile.h"
#include "bp_runtime.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

/// Shapes (rows, cols) every input is read as: rank 1 as a column or a row
/// (cols 1), small matrices, and the 4x3 of the seed corpus' data files.
constexpr int64_t shapes[][2] = {{1, 1}, {2, 1}, {4, 1}, {1, 2}, {2, 2},
                                 {2, 3}, {3, 2}, {4, 3}, {3, 4}};
constexpr int64_t maxValues = 16;

/// What guardedRead reads: bp_guarded_call passes only two pointers, and
/// guardedRead holds nothing to clean up (guard.c's contract).
struct Request {
  const char *path;
  int64_t rows, cols;
  double dst[maxValues];
} request;

void guardedRead(const double *, double *) {
  bp_read_csv(request.path, request.dst, request.rows, request.cols, "fuzz.bp",
              1, 1);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static bp::fuzz::InputFile file;
  file.set(data, size);
  for (const auto &shape : shapes) {
    request.path = file.path();
    request.rows = shape[0];
    request.cols = shape[1];
    int64_t n = shape[0] * shape[1];
    for (int64_t i = 0; i < maxValues; ++i)
      request.dst[i] = NAN;
    int failed = 0;
    bp::fuzz::quietly(
        [&] { failed = bp_guarded_call(guardedRead, nullptr, nullptr); });
    if (failed)
      continue;
    // A data file is text: one with a NUL byte must be refused.
    if (memchr(data, 0, size)) {
      fprintf(stderr,
              "bp_read_csv read %lldx%lld from a file with a NUL byte\n",
              (long long)shape[0], (long long)shape[1]);
      abort();
    }
    for (int64_t i = 0; i < maxValues; ++i)
      if (std::isfinite(request.dst[i]) != (i < n)) {
        fprintf(stderr,
                "bp_read_csv read %lldx%lld and returned, but value %lld is "
                "%g\n",
                (long long)shape[0], (long long)shape[1], (long long)i,
                request.dst[i]);
        abort();
      }
  }
  return 0;
}
