//===- FuzzCompile.cpp - libFuzzer target: parse -> sema -> IR -> AD
//-------===//
//
// Feeds arbitrary bytes through the front end and the AD transforms, runs
// the IR verifier and the simplifier: any crash, hang, sanitizer report or
// verifier failure is a bug (user errors must be diagnostics). Built by
// tools/fuzz.sh with clang-19 -fsanitize=fuzzer,address,undefined.
//
//===----------------------------------------------------------------------===//
#include "ir/IRGen.h"
#include "ir/Simplify.h"
#include "ir/Verifier.h"
#include "parse/Parser.h"

#include <cstdio>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 1 << 16)
    return 0;
  bp::SourceFile file{"fuzz.bp", std::string((const char *)data, size), {}};
  bp::DiagEngine diags(file);
  auto ast = bp::parseModule(file, diags);
  if (!ast || diags.hasErrors())
    return 0;
  bp::TypeContext types;
  bp::sema::Program prog;
  if (!bp::sema::check(*ast, types, diags, {}, prog))
    return 0;
  auto ir = bp::generateIR(*ast, prog, types, diags);
  if (!ir)
    return 0;
  std::string err = bp::ir::verify(*ir);
  if (err.empty()) {
    bp::ir::simplify(*ir);
    err = bp::ir::verify(*ir);
  }
  if (!err.empty()) {
    fprintf(stderr, "%s\n", err.c_str());
    abort();
  }
  return 0;
}
