//===- FuzzCompile.cpp - libFuzzer target: parse -> sema -> IR -> AD ------===//
//
// Feeds arbitrary bytes through the front end and the AD transforms, runs
// the IR verifier and the simplifier (FrontEnd.h): any crash, hang,
// sanitizer report or verifier failure is a bug (user errors must be
// diagnostics). Built by tools/fuzz.sh with clang-19
// -fsanitize=fuzzer,address,undefined.
//
//===----------------------------------------------------------------------===//
#include "FrontEnd.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 1 << 16)
    return 0;
  bp::fuzz::FrontEnd fe;
  bp::fuzz::compileToIR(data, size, fe);
  return 0;
}
