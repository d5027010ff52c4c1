//===- FuzzRun.cpp - libFuzzer target: compile and JIT-run tiny programs -===//
//
// The front end of FuzzCompile (FrontEnd.h), then on: LLVM codegen (with the
// LLVM verifier), -O2, the JIT, and a run of `main` in a forked child with a
// time limit (1 s of CPU) and small memory limits (tapes, recursion
// temporaries; programs with tensors over 65536 elements are compiled but not
// run). Any crash, hang, sanitizer report or verifier failure in the compiler
// is a bug; in the child, an exit by a signal other than the time limit is a
// bug (runtime errors exit with status 3). Built by tools/fuzz.sh --run.
//
//===----------------------------------------------------------------------===//
#include "FrontEnd.h"
#include "bp_runtime.h"
#include "codegen/CodeGen.h"
#include "jit/JIT.h"
#include "transforms/Passes.h"

#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/Verifier.h"
#include "llvm/Support/raw_ostream.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <functional>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

/// Whether every value in m is small enough to run (no huge tensors).
bool smallEnough(const bp::ir::Module &m) {
  bool ok = true;
  std::function<void(const bp::ir::Block &)> walk =
      [&](const bp::ir::Block &b) {
        for (auto &a : b.args)
          ok &= !a->type->isTensor() || a->type->numElements() <= 65536;
        for (auto &op : b.ops) {
          for (auto &r : op->results)
            ok &= !r->type->isTensor() || r->type->numElements() <= 65536;
          for (auto &r : op->regions)
            walk(*r);
        }
      };
  for (auto &f : m.functions)
    walk(*f->body);
  for (auto &p : m.params)
    ok &= !p.type->isTensor() || p.type->numElements() <= 65536;
  return ok;
}

/// Runs main in a child: returns normally when it exits with status 0 or 3
/// (a runtime error) or hits the CPU limit; aborts when it dies by another
/// signal or exits otherwise (1 is a sanitizer report in the child).
/// UBSan's -fsanitize=function check is off here: it reads a type hash in
/// the 8 bytes before the callee, which JIT-compiled code does not have (the
/// read faulted when main began a page).
__attribute__((no_sanitize("function"))) void runChild(void (*mainFn)()) {
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0)
    return;
  if (pid == 0) {
    // BP_FUZZ_CHILD_OUTPUT=1 keeps the program's output (and a sanitizer's
    // report from the child) when reproducing a failure.
    if (!getenv("BP_FUZZ_CHILD_OUTPUT")) {
      int devnull = open("/dev/null", O_WRONLY);
      dup2(devnull, 1);
      dup2(devnull, 2);
    }
    rlimit cpu{1, 2};
    setrlimit(RLIMIT_CPU, &cpu);
    // The child ends by the exit_group system call, never exit() or _exit():
    // libFuzzer's exit hook and the sanitizers' _exit interceptor (a leak
    // check of the forked heap) would save the input as a crash.
    bp_set_error_hook([](const char *) { syscall(SYS_exit_group, 3); });
    mainFn();
    fflush(stdout);
    syscall(SYS_exit_group, 0);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) // libFuzzer's timer interrupts it
    if (errno != EINTR)
      return;
  if (WIFSIGNALED(status) && WTERMSIG(status) != SIGXCPU &&
      WTERMSIG(status) != SIGKILL) {
    fprintf(stderr, "the program died by signal %d\n", WTERMSIG(status));
    abort();
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0 &&
      WEXITSTATUS(status) != 3) {
    fprintf(stderr, "the program exited with status %d\n", WEXITSTATUS(status));
    abort();
  }
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  setenv("BP_TAPE_LIMIT_MB", "64", 1);
  setenv("BP_TEMPS_LIMIT_MB", "64", 1);
  setenv("BP_RECURSION_LIMIT", "10000", 1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 1 << 14)
    return 0;
  bp::fuzz::FrontEnd fe;
  bp::fuzz::compileToIR(data, size, fe);
  if (!fe.ir || !fe.prog.fnSigs.count("main"))
    return 0;
  bp::ir::Module &ir = *fe.ir;
  auto jit = bp::JIT::create();
  if (!jit) {
    llvm::consumeError(jit.takeError());
    return 0;
  }
  auto ctx = std::make_unique<llvm::LLVMContext>();
  bp::transforms::runOptimisationPasses(ir, {bp::codegen::blasAvailable()});
  auto mod = bp::codegen::emitLLVM(ir, *ctx);
  std::string llvmErr;
  llvm::raw_string_ostream os(llvmErr);
  if (llvm::verifyModule(*mod, &os)) {
    fprintf(stderr, "invalid LLVM IR: %s\n", os.str().c_str());
    abort();
  }
  bp::codegen::optimize(*mod, (*jit)->targetMachine(), 2);
  if (auto e = (*jit)->add(std::move(mod), std::move(ctx))) {
    fprintf(stderr, "JIT: %s\n", llvm::toString(std::move(e)).c_str());
    abort();
  }
  auto mainAddr = (*jit)->lookup(bp::codegen::functionSymbol("main"));
  if (!mainAddr) {
    fprintf(stderr, "JIT: %s\n", llvm::toString(mainAddr.takeError()).c_str());
    abort();
  }
  if (smallEnough(ir))
    runChild(reinterpret_cast<void (*)()>(*mainAddr));
  return 0;
}
