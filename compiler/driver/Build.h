//===- Build.h - `bpc build` ------------------------------------*- C++ -*-===//
#pragma once

#include "driver/Pipeline.h"
#include "ir/IR.h"

#include <string>

namespace bp {

struct BuildOptions {
  std::string output;      // .o, .so or .a
  std::string target, cpu; // default: the host
  std::string prefix;      // default: from the output name
  unsigned optLevel = 2;
  uint64_t seed = 0;              // param initial values
  bool blas = true;               // --no-blas: every matmul is generated loops
  bool python = false;            // --python: also <prefix>.py (ctypes)
  bool verifyDiagnostics = false; // check the C-name clashes, write nothing
  std::string loadPath;           // --load: params file baked in as values
  bool allowNonfinite = false;    // --allow-nonfinite: --load takes nan, inf
};

/// Takes `c` (at Stage::IR) through the LLVM stage for the target, with
/// the C interface, and writes `o.output` plus the C header `<prefix>.h`
/// next to it (docs/ABI.md). A bad prefix, an output that is an input, a
/// params file (--load) the runtime's loader refuses, or a write error is a
/// usage error (2) naming the file; clashing C names are
/// located errors (1). A failed build leaves no output.
ExitCode buildOutput(Compilation &c, const BuildOptions &o);

} // namespace bp
