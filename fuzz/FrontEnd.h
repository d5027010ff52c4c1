//===- FrontEnd.h - the front half shared by the fuzz targets
//--------------===//
//
// Parse -> sema -> IRGen (which derives every grad/jvp) -> IR verifier ->
// simplify -> IR verifier, for one fuzz input. An input that is not a valid
// program ends in diagnostics, which is fine; a verifier failure is a bug
// and aborts (libFuzzer saves the input).
//
//===----------------------------------------------------------------------===//
#ifndef BP_FUZZ_FRONTEND_H
#define BP_FUZZ_FRONTEND_H

#include "ir/Simplify.h"
#include "ir/Verifier.h"
#include "lower/IRGen.h"
#include "parse/Parser.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>

namespace bp::fuzz {

/// One compiled input; `types` owns the types `ir` refers to.
struct FrontEnd {
  TypeContext types;
  sema::Program prog;
  std::unique_ptr<ir::Module> ir;
};

/// The IR of `data`, or null in `out.ir` when it is not a valid program.
inline void compileToIR(const uint8_t *data, size_t size, FrontEnd &out) {
  SourceFile file{"fuzz.bp", std::string((const char *)data, size), {}};
  DiagEngine diags(file);
  auto ast = parseModule(file, diags);
  if (!ast || diags.hasErrors())
    return;
  if (!sema::check(*ast, out.types, diags, {}, out.prog))
    return;
  auto ir = generateIR(*ast, out.prog, out.types, diags);
  if (!ir || diags.hasErrors())
    return;
  std::string err = ir::verify(*ir);
  if (err.empty()) {
    ir::simplify(*ir);
    err = ir::verify(*ir);
  }
  if (!err.empty()) {
    fprintf(stderr, "%s\n", err.c_str());
    abort();
  }
  out.ir = std::move(ir);
}

} // namespace bp::fuzz

#endif
