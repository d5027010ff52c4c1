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
};

/// Compiles `m` ahead of time to `o.output` plus the C header
/// `<prefix>.h` next to it (docs/ABI.md).
ExitCode buildOutput(const ir::Module &m, const sema::Program &prog,
                     const std::string &sourcePath, const BuildOptions &o);

} // namespace bp
