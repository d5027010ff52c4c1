//===- JIT.cpp - ORC LLJIT wrapper ----------------------------------------===//
#include "jit/JIT.h"

#include "llvm/ExecutionEngine/Orc/ExecutionUtils.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/ExecutionEngine/Orc/ObjectLinkingLayer.h"
#include "llvm/ExecutionEngine/Orc/ThreadSafeModule.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/DynamicLibrary.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <unistd.h>

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

namespace {

/// With BP_PERF=1 in the environment, every JIT-compiled function is named
/// for `perf` in /tmp/perf-PID.map, the map file perf reads for code with
/// no ELF file behind it (one line per function: start, size, name). LLVM's
/// own PerfSupportPlugin writes a jitdump instead, but LLVM 19's leaves the
/// header's flags uninitialised, which `perf inject --jit` refuses (fixed
/// upstream in llvm-project #175204, after 19). Off by default.
class PerfMapPlugin : public llvm::orc::ObjectLinkingLayer::Plugin {
public:
  explicit PerfMapPlugin(std::FILE *map) : map(map) {}
  ~PerfMapPlugin() override { std::fclose(map); }

  void modifyPassConfig(llvm::orc::MaterializationResponsibility &,
                        llvm::jitlink::LinkGraph &,
                        llvm::jitlink::PassConfiguration &config) override {
    config.PostFixupPasses.push_back([this](llvm::jitlink::LinkGraph &g) {
      std::lock_guard<std::mutex> lock(mutex);
      for (llvm::jitlink::Symbol *sym : g.defined_symbols())
        if (sym->hasName() && sym->isCallable() && sym->getSize())
          std::fprintf(map, "%llx %llx %s\n",
                       (unsigned long long)sym->getAddress().getValue(),
                       (unsigned long long)sym->getSize(),
                       sym->getName().str().c_str());
      std::fflush(map);
      return llvm::Error::success();
    });
  }
  llvm::Error
  notifyFailed(llvm::orc::MaterializationResponsibility &) override {
    return llvm::Error::success();
  }
  llvm::Error notifyRemovingResources(llvm::orc::JITDylib &,
                                      llvm::orc::ResourceKey) override {
    return llvm::Error::success();
  }
  void notifyTransferringResources(llvm::orc::JITDylib &,
                                   llvm::orc::ResourceKey,
                                   llvm::orc::ResourceKey) override {}

private:
  std::FILE *map;
  std::mutex mutex;
};

} // namespace

static llvm::Error addPerfSupport(llvm::orc::LLJIT &lljit) {
  const char *on = std::getenv("BP_PERF");
  if (!on || !*on || std::string(on) == "0")
    return llvm::Error::success();
  auto *layer = llvm::dyn_cast<llvm::orc::ObjectLinkingLayer>(
      &lljit.getObjLinkingLayer());
  if (!layer)
    return llvm::createStringError("BP_PERF: this JIT links without JITLink, "
                                   "so perf cannot name its code");
  std::string path = "/tmp/perf-" + std::to_string(getpid()) + ".map";
  std::FILE *map = std::fopen(path.c_str(), "a");
  if (!map)
    return llvm::createStringError("BP_PERF: cannot write " + path);
  layer->addPlugin(std::make_unique<PerfMapPlugin>(map));
  return llvm::Error::success();
}

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
  if (auto err = addPerfSupport(**lljit))
    return err;
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
