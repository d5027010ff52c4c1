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
  uint64_t seed = 0; // param initial values
  bool blas = true;  // --no-blas: every matmul is generated loops
};

/// Takes `c` (at Stage::IR) through the LLVM stage for the target, with
/// the C interface, and writes `o.output` plus the C header `<prefix>.h`
/// next to it (docs/ABI.md).
ExitCode buildOutput(Compilation &c, const BuildOptions &o);

} // namespace bp
