//===- JIT.cpp - ORC LLJIT wrapper ----------------------------------------===//
#include "jit/JIT.h"

#include "llvm/ExecutionEngine/Orc/ExecutionUtils.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/ExecutionEngine/Orc/ThreadSafeModule.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/DynamicLibrary.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"

#include <cstdlib>

#ifdef BP_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace bp {

void initializeNativeTarget() {
  static bool done = [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    llvm::InitializeNativeTargetAsmParser();
    return true;
  }();
  (void)done;
}

JIT::~JIT() = default;

llvm::Expected<std::unique_ptr<JIT>> JIT::create(bool fastCodegen) {
  initializeNativeTarget();
  auto jtmb = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!jtmb)
    return jtmb.takeError();
  jtmb->setCodeGenOptLevel(fastCodegen ? llvm::CodeGenOptLevel::None
                                       : llvm::CodeGenOptLevel::Aggressive);
  auto tm = jtmb->createTargetMachine();
  if (!tm)
    return tm.takeError();
  auto lljit =
      llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(*jtmb).create();
  if (!lljit)
    return lljit.takeError();
  // Vectorised math (exp, tanh, ... over tensors) calls glibc's libmvec.
  llvm::sys::DynamicLibrary::LoadLibraryPermanently("libmvec.so.1");
  auto &dl = (*lljit)->getDataLayout();
  auto gen = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
      dl.getGlobalPrefix());
  if (!gen)
    return gen.takeError();
  (*lljit)->getMainJITDylib().addGenerator(std::move(*gen));
#ifdef BP_HAVE_OPENBLAS
  // Generated code calls cblas_dgemm for large matmuls: defined here so it
  // resolves even when the linker dropped libopenblas as unneeded. One
  // thread (as measured, and BP runs on one) unless OPENBLAS_NUM_THREADS
  // says otherwise.
  if (!std::getenv("OPENBLAS_NUM_THREADS"))
    openblas_set_num_threads(1);
  auto &es = (*lljit)->getExecutionSession();
  if (auto err = (*lljit)->getMainJITDylib().define(llvm::orc::absoluteSymbols(
          {{es.intern((*lljit)->mangle("cblas_dgemm")),
            {llvm::orc::ExecutorAddr::fromPtr(&cblas_dgemm),
             llvm::JITSymbolFlags::Exported}}})))
    return err;
#endif
  std::unique_ptr<JIT> j(new JIT());
  j->jit = std::move(*lljit);
  j->tm = std::move(*tm);
  return j;
}

llvm::Error JIT::add(std::unique_ptr<llvm::Module> m,
                     std::unique_ptr<llvm::LLVMContext> ctx) {
  return jit->addIRModule(
      llvm::orc::ThreadSafeModule(std::move(m), std::move(ctx)));
}

llvm::Expected<llvm::orc::ResourceTrackerSP>
JIT::addRemovable(std::unique_ptr<llvm::Module> m,
                  std::unique_ptr<llvm::LLVMContext> ctx) {
  auto tracker = jit->getMainJITDylib().createResourceTracker();
  if (auto err = jit->addIRModule(
          tracker, llvm::orc::ThreadSafeModule(std::move(m), std::move(ctx))))
    return err;
  return tracker;
}

llvm::Error JIT::remove(llvm::orc::ResourceTrackerSP tracker) {
  return tracker->remove();
}

void *JIT::find(const std::string &symbol) {
  auto addr = lookup(symbol);
  if (!addr) {
    llvm::consumeError(addr.takeError());
    return nullptr;
  }
  return *addr;
}

llvm::Expected<void *> JIT::lookup(const std::string &symbol) {
  auto addr = jit->lookup(symbol);
  if (!addr)
    return addr.takeError();
  return addr->toPtr<void *>();
}

} // namespace bp
