//===- Build.cpp - `bpc build`: objects, shared and static libraries ------===//
//
// The module (with its C interface, codegen/CInterface.cpp) is compiled to
// an object file for the requested target; `.so` links it with the runtime
// archive using the system C compiler driver (`cc -shared`), `.a` archives
// it together with the runtime's object (`ar`). The header `<prefix>.h` is
// written next to the output.
//
//===----------------------------------------------------------------------===//
#include "driver/Build.h"

#include "codegen/CInterface.h"
#include "codegen/CodeGen.h"
#include "jit/JIT.h"

#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"

#include <filesystem>
#include <fstream>
#include <iostream>

#ifndef BP_RUNTIME_ARCHIVE
#error "BP_RUNTIME_ARCHIVE must name libbp_runtime.a"
#endif

namespace bp {

namespace fs = std::filesystem;

static bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// `libdigits.so` -> `digits`: a C identifier for the exported names.
static std::string defaultPrefix(const std::string &out) {
  std::string stem = fs::path(out).stem().string();
  if (stem.rfind("lib", 0) == 0 && stem.size() > 3)
    stem = stem.substr(3);
  std::string id;
  for (char c : stem)
    id += isalnum((unsigned char)c) ? c : '_';
  if (id.empty() || isdigit((unsigned char)id[0]))
    id = "bp_" + id;
  return id;
}

static int runTool(const std::string &tool, std::vector<std::string> args,
                   std::string &err) {
  auto path = llvm::sys::findProgramByName(tool);
  if (!path) {
    err =
        "'" + tool + "' not found on PATH (needed to link " + args.back() + ")";
    return -1;
  }
  std::vector<llvm::StringRef> argv = {*path};
  for (auto &a : args)
    argv.push_back(a);
  std::string msg;
  int rc = llvm::sys::ExecuteAndWait(*path, argv, std::nullopt, {}, 0, 0, &msg);
  if (rc != 0)
    err = tool + " failed" + (msg.empty() ? "" : ": " + msg);
  return rc;
}

/// The target machine for --target/--cpu (default: the host, with its CPU
/// and features). Null after the error when LLVM cannot target them.
static std::unique_ptr<llvm::TargetMachine>
targetMachine(const BuildOptions &o) {
  llvm::InitializeAllTargetInfos();
  llvm::InitializeAllTargets();
  llvm::InitializeAllTargetMCs();
  llvm::InitializeAllAsmPrinters();
  std::string triple =
      o.target.empty() ? llvm::sys::getDefaultTargetTriple() : o.target;
  std::string lookupErr;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, lookupErr);
  if (!target) {
    std::cerr << "bpc: error: unknown --target '" << triple
              << "': " << lookupErr << '\n';
    return nullptr;
  }
  std::string cpu = o.cpu, features;
  if (cpu.empty() && o.target.empty()) {
    cpu = llvm::sys::getHostCPUName().str();
    llvm::StringMap<bool> host = llvm::sys::getHostCPUFeatures();
    for (auto &f : host)
      features += (features.empty() ? "" : ",") +
                  std::string(f.second ? "+" : "-") + f.first().str();
  } else if (cpu.empty()) {
    cpu = "generic";
  }
  llvm::TargetOptions topts;
  std::unique_ptr<llvm::TargetMachine> tm(target->createTargetMachine(
      triple, cpu, features, topts, llvm::Reloc::PIC_));
  if (!tm)
    std::cerr << "bpc: error: cannot target '" << triple << "' with cpu '"
              << cpu << "'\n";
  return tm;
}

/// Writes `mod` as an object file; false after the error.
static bool emitObject(llvm::TargetMachine &tm, llvm::Module &mod,
                       const std::string &objPath) {
  std::error_code ec;
  llvm::raw_fd_ostream os(objPath, ec, llvm::sys::fs::OF_None);
  if (ec) {
    std::cerr << "bpc: error: cannot write '" << objPath
              << "': " << ec.message() << '\n';
    return false;
  }
  llvm::legacy::PassManager pm;
  if (tm.addPassesToEmitFile(pm, os, nullptr,
                             llvm::CodeGenFileType::ObjectFile)) {
    std::cerr << "bpc: error: the target cannot emit object files\n";
    return false;
  }
  pm.run(mod);
  return true;
}

/// `cc -shared`: the object with the runtime archive (and OpenBLAS when the
/// model calls it).
static bool linkShared(const std::string &out, const std::string &objPath,
                       bool usesBlas, std::string &err) {
  std::vector<std::string> args = {"-shared", "-o", out, objPath,
                                   BP_RUNTIME_ARCHIVE};
  if (usesBlas)
    args.push_back("-lopenblas");
  args.insert(args.end(), {"-lstdc++", "-lm"});
  return runTool("cc", args, err) == 0;
}

/// `ar rcs`: the archive holds the model and the runtime's object, extracted
/// from the runtime archive into a temporary directory.
static bool archive(const std::string &out, const std::string &objPath,
                    std::string &err) {
  fs::path tmp =
      fs::temp_directory_path() / ("bpc-ar-" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  fs::path absAr = fs::absolute(BP_RUNTIME_ARCHIVE);
  std::string cwd = fs::current_path().string();
  fs::current_path(tmp);
  int rc = runTool("ar", {"x", absAr.string()}, err);
  fs::current_path(cwd);
  std::vector<std::string> members;
  for (auto &e : fs::directory_iterator(tmp))
    members.push_back(e.path().string());
  std::error_code ec;
  fs::remove(out, ec);
  std::vector<std::string> args = {"rcs", out, objPath};
  args.insert(args.end(), members.begin(), members.end());
  if (rc == 0)
    rc = runTool("ar", args, err);
  fs::remove_all(tmp, ec);
  return rc == 0;
}

ExitCode buildOutput(Compilation &c, const BuildOptions &o) {
  const ir::Module &m = *c.ir;
  const std::string &out = o.output;
  bool isObj = endsWith(out, ".o"), isSo = endsWith(out, ".so"),
       isAr = endsWith(out, ".a");
  if (!isObj && !isSo && !isAr) {
    std::cerr << "bpc: error: -o must end in .o, .so or .a, found '" << out
              << "'\n";
    return ExitCode::Usage;
  }
  std::unique_ptr<llvm::TargetMachine> tm = targetMachine(o);
  if (!tm)
    return ExitCode::Usage;

  std::string prefix = o.prefix.empty() ? defaultPrefix(out) : o.prefix;
  c.opts.targetMachine = tm.get();
  c.opts.optLevel = o.optLevel;
  c.opts.checkNumerics = false;
  // OpenBLAS for large matmuls, unless --no-blas or a cross build (the
  // target may have no OpenBLAS).
  c.opts.blas = o.blas && o.target.empty();
  c.opts.cInterfacePrefix = prefix;
  c.opts.cInterfaceSeed = o.seed;
  if (llvm::Error err = c.compileTo(Stage::LLVM))
    return reportFailure(std::move(err), c, false);
  c.opts.targetMachine = nullptr;
  llvm::Module *mod = c.llvm.get();
  bool usesBlas = c.usesBlas;
  if (codegen::hasHugeFunction(*mod))
    tm->setOptLevel(llvm::CodeGenOptLevel::None);

  fs::path outPath(out);
  if (fs::path dir = outPath.parent_path();
      !dir.empty() && !fs::is_directory(dir)) {
    std::cerr << "bpc: error: cannot write '" << out << "': directory '"
              << dir.string() << "' does not exist\n";
    return ExitCode::Usage;
  }
  std::string objPath = isObj ? out : out + ".tmp.o";
  if (!emitObject(*tm, *mod, objPath))
    return ExitCode::Usage;
  std::string err;
  if ((isSo && !linkShared(out, objPath, usesBlas, err)) ||
      (isAr && !archive(out, objPath, err))) {
    std::cerr << "bpc: error: " << err << '\n';
    return ExitCode::Usage;
  }
  if (!isObj) {
    std::error_code ec;
    fs::remove(objPath, ec);
  }
  fs::path header = outPath.parent_path() / (prefix + ".h");
  std::ofstream h(header);
  if (!h) {
    std::cerr << "bpc: error: cannot write '" << header.string() << "'\n";
    return ExitCode::Usage;
  }
  codegen::writeCHeader(m, prefix, c.file.path, h, usesBlas);
  std::cout << "wrote " << out << " and " << header.string() << '\n';
  return ExitCode::Success;
}

} // namespace bp
