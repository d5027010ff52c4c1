//===- JIT.cpp - ORC LLJIT wrapper ----------------------------------------===//
#include "jit/JIT.h"

#include "llvm/ExecutionEngine/Orc/ExecutionUtils.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/ExecutionEngine/Orc/ThreadSafeModule.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"

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
  auto &dl = (*lljit)->getDataLayout();
  auto gen = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
      dl.getGlobalPrefix());
  if (!gen)
    return gen.takeError();
  (*lljit)->getMainJITDylib().addGenerator(std::move(*gen));
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

llvm::Expected<void *> JIT::lookup(const std::string &symbol) {
  auto addr = jit->lookup(symbol);
  if (!addr)
    return addr.takeError();
  return addr->toPtr<void *>();
}

} // namespace bp
