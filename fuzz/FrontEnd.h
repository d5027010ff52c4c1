//===- FrontEnd.h - the front half shared by the fuzz targets ---*- C++ -*-===//
//
// The pipeline (pipeline/Compilation.h) to Stage::IR: parse, sema and every
// IR pass (irgen, simplify, ad, ...), each followed by the IR verifier, for
// one fuzz input. An input that is not a valid program ends in diagnostics,
// which is fine; a verifier failure is a bug and aborts (libFuzzer saves the
// input).
//
//===----------------------------------------------------------------------===//
#ifndef BP_FUZZ_FRONTEND_H
#define BP_FUZZ_FRONTEND_H

#include "pipeline/Compilation.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace bp::fuzz {

/// One input through the pipeline; `ir` is null when it is not a valid
/// program.
struct FrontEnd {
  Compilation c{CompileOptions{}};
  ir::Module *ir = nullptr;
};

/// Compiles `data` to Stage::IR into `out`; aborts on a verifier failure.
inline void compileToIR(const uint8_t *data, size_t size, FrontEnd &out) {
  out.c.file = {"fuzz.bp", std::string((const char *)data, size), {}};
  bool verified = true, compiled = true;
  llvm::handleAllErrors(
      out.c.compileTo(Stage::IR),
      [&](const CompileError &) { compiled = false; },
      [&](const VerifierError &e) {
        fprintf(stderr, "%s\n", e.message.c_str());
        verified = false;
      });
  if (!verified)
    abort();
  if (compiled)
    out.ir = out.c.ir.get();
}

} // namespace bp::fuzz

#endif
