//===- JIT.h - ORC LLJIT wrapper --------------------------------*- C++ -*-===//
#pragma once

#include "llvm/ExecutionEngine/Orc/Core.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <string>

namespace llvm {
class LLVMContext;
class Module;
class TargetMachine;
namespace orc {
class LLJIT;
class ThreadSafeContext;
} // namespace orc
} // namespace llvm

namespace bp {

/// One JIT session: LLVM's ORC LLJIT for the host CPU, resolving runtime
/// symbols (bp_print_*, libm) from the bpc process.
class JIT {
public:
  /// fastCodegen: LLVM's -O0 instruction selection and register allocation
  /// (for huge functions, where the optimising register allocator's time
  /// grows faster than linearly); the IR is still optimised before `add`.
  static llvm::Expected<std::unique_ptr<JIT>> create(bool fastCodegen = false);
  ~JIT();

  /// A TargetMachine for the host, used to optimise modules before adding.
  llvm::TargetMachine &targetMachine() { return *tm; }

  llvm::Error add(std::unique_ptr<llvm::Module> m,
                  std::unique_ptr<llvm::LLVMContext> ctx);
  /// Adds a module under a ResourceTracker of its own, so that
  /// `remove` can free its code and symbols later (the REPL replaces
  /// its compiled session this way).
  llvm::Expected<llvm::orc::ResourceTrackerSP>
  addRemovable(std::unique_ptr<llvm::Module> m,
               std::unique_ptr<llvm::LLVMContext> ctx);
  llvm::Error remove(llvm::orc::ResourceTrackerSP tracker);
  llvm::Expected<void *> lookup(const std::string &symbol);
  /// The address of `symbol`, or null when the session does not define it
  /// (a param no function reads, a function not compiled).
  void *find(const std::string &symbol);

private:
  JIT() = default;
  std::unique_ptr<llvm::orc::LLJIT> jit;
  std::unique_ptr<llvm::TargetMachine> tm;
};

/// Initialises LLVM's native target once per process.
void initializeNativeTarget();

} // namespace bp
