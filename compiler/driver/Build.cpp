//===- Build.cpp - `bpc build`: objects, shared and static libraries ------===//
//
// The module (with its C interface, codegen/CInterface.cpp) is compiled to
// an object file for the requested target, in memory; `.so` links it with
// the runtime archive using the system C compiler driver (`cc -shared`,
// exporting the C interface only), `.a` archives it together with the
// runtime's members, renamed `<prefix>.NAME` so that every library has its
// own runtime (LLVM's objcopy and archive writer). The header `<prefix>.h`
// (and with --python the module `<prefix>.py`, codegen/PythonModule.cpp) is
// written next to the output. Every output goes to a fresh temporary file that
// is renamed into place once all of them are written: a failed build leaves
// nothing behind.
//
//===----------------------------------------------------------------------===//
#include "driver/Build.h"

#include "batch/TrainStep.h"
#include "codegen/CInterface.h"
#include "codegen/CNames.h"
#include "codegen/CodeGen.h"
#include "codegen/PythonModule.h"
#include "driver/Train.h"
#include "jit/JIT.h"

#include "bp_runtime.h"

#include "llvm/BinaryFormat/ELF.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/ObjCopy/ConfigManager.h"
#include "llvm/ObjCopy/ObjCopy.h"
#include "llvm/Object/Archive.h"
#include "llvm/Object/ArchiveWriter.h"
#include "llvm/Object/ObjectFile.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/StringSaver.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <iostream>
#include <optional>
#include <sstream>

#ifndef BP_RUNTIME_ARCHIVE
#error "BP_RUNTIME_ARCHIVE must name libbp_runtime.a"
#endif

namespace bp {

namespace fs = std::filesystem;

/// The runtime archive AOT builds link: an installed bpc
/// (`<prefix>/bin/bpc`) uses `<prefix>/lib/bp/libbp_runtime.a`; a bpc in
/// its build tree, the archive it was built with.
static std::string runtimeArchive() {
  static const std::string path = [] {
    std::string exe = llvm::sys::fs::getMainExecutable(
        nullptr, reinterpret_cast<void *>(&runtimeArchive));
    fs::path installed =
        fs::path(exe).parent_path().parent_path() / "lib/bp/libbp_runtime.a";
    std::error_code ec;
    return !exe.empty() && fs::exists(installed, ec) ? installed.string()
                                                     : BP_RUNTIME_ARCHIVE;
  }();
  return path;
}

static bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// `libdigits.so` -> `digits`: the output's name as a C identifier (it may
/// still fail codegen::prefixProblem, e.g. `lib9lives.so`).
static std::string defaultPrefix(const std::string &out) {
  std::string stem = fs::path(out).stem().string();
  if (stem.rfind("lib", 0) == 0 && stem.size() > 3)
    stem = stem.substr(3);
  std::string id;
  for (char c : stem)
    id += isalnum((unsigned char)c) ? c : '_';
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

/// `mod` as an object file, in memory; false after the error.
static bool emitObject(llvm::TargetMachine &tm, llvm::Module &mod,
                       llvm::SmallVectorImpl<char> &obj) {
  llvm::raw_svector_ostream os(obj);
  llvm::legacy::PassManager pm;
  if (tm.addPassesToEmitFile(pm, os, nullptr,
                             llvm::CodeGenFileType::ObjectFile)) {
    std::cerr << "bpc: error: the target cannot emit object files\n";
    return false;
  }
  pm.run(mod);
  return true;
}

static llvm::Error cannotWrite(const std::string &path, std::error_code ec) {
  return llvm::createStringError(ec, "cannot write '%s': %s", path.c_str(),
                                 ec.message().c_str());
}

namespace {

/// A file being written: a fresh temporary next to `dest` (mkstemp-like, so
/// nothing planted there is reused) that becomes `dest` only on commit(),
/// by rename, and is removed otherwise: a failed build leaves no file
/// behind, neither partial nor empty.
class StagedFile {
public:
  static llvm::Expected<StagedFile> create(const std::string &dest) {
    return create(dest, dest + ".tmp-%%%%%%%%");
  }
  /// A temporary file only: `model` with each `%` a random hex digit.
  static llvm::Expected<StagedFile> createTemporary(const std::string &model) {
    return create(llvm::sys::path::parent_path(model).str(), model);
  }
  StagedFile(StagedFile &&o)
      : dest(std::move(o.dest)), tmpPath(std::move(o.tmpPath)), fd(o.fd) {
    o.fd = -1;
    o.tmpPath.clear(); // the moved-from file must not remove it
  }
  ~StagedFile() {
    if (fd >= 0)
      ::close(fd);
    if (!tmpPath.empty())
      llvm::sys::fs::remove(tmpPath);
  }

  const std::string &tmpName() const { return tmpPath; }

  /// Writes all of `bytes`, then flushes them to the disk.
  llvm::Error write(llvm::StringRef bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::write(fd, bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return cannotWrite(dest, std::error_code(n < 0 ? errno : ENOSPC,
                                                 std::generic_category()));
      bytes = bytes.drop_front(n);
    }
    return sync();
  }
  /// Flushes what another program (the linker) wrote at tmpName().
  llvm::Error sync() {
    int f = ::open(tmpPath.c_str(), O_RDONLY | O_CLOEXEC);
    if (f < 0 || ::fsync(f) != 0) {
      std::error_code ec(errno, std::generic_category());
      if (f >= 0)
        ::close(f);
      return cannotWrite(dest, ec);
    }
    ::close(f);
    return llvm::Error::success();
  }
  llvm::Error commit() {
    if (fd >= 0)
      ::close(fd);
    fd = -1;
    std::error_code ec = llvm::sys::fs::rename(tmpPath, dest);
    if (ec)
      return cannotWrite(dest, ec);
    tmpPath.clear();
    return llvm::Error::success();
  }

private:
  /// llvm::sys::fs::createUniqueFile (O_EXCL, a random name), not TempFile:
  /// TempFile registers LLVM's signal handlers, whose alternate signal stack
  /// (malloc'ed) AddressSanitizer cannot unmap when bpc's thread exits.
  static llvm::Expected<StagedFile> create(const std::string &dest,
                                           const std::string &model) {
    int fd = -1;
    llvm::SmallString<256> path;
    if (std::error_code ec = llvm::sys::fs::createUniqueFile(model, fd, path))
      return cannotWrite(dest, ec);
    return StagedFile(dest, path.str().str(), fd);
  }
  StagedFile(std::string dest, std::string tmpPath, int fd)
      : dest(std::move(dest)), tmpPath(std::move(tmpPath)), fd(fd) {}
  std::string dest, tmpPath;
  int fd = -1;
};

} // namespace

/// The symbols the library exports: the C interface, which is all that
/// the module defines with external linkage (addCInterface makes every
/// other definition local).
static std::vector<std::string> exportedSymbols(const llvm::Module &mod) {
  std::vector<std::string> names;
  for (const llvm::GlobalValue &g : mod.global_values())
    if (!g.isDeclaration() && !g.hasLocalLinkage())
      names.push_back(g.getName().str());
  return names;
}

/// `cc -shared`: the object (in a fresh file of $TMPDIR) with the runtime
/// archive (and OpenBLAS when the model calls it), linked into `lib`. A
/// version script exports `exports` only: the runtime's symbols stay
/// inside the library and its calls to them bind there.
static llvm::Error linkShared(StagedFile &lib, const std::string &out,
                              llvm::StringRef obj, bool usesBlas,
                              const std::vector<std::string> &exports) {
  llvm::SmallString<256> tmp;
  llvm::sys::path::system_temp_directory(true, tmp);
  auto inTmp = [&](const char *name) {
    llvm::SmallString<256> model = tmp;
    llvm::sys::path::append(model, name);
    return StagedFile::createTemporary(model.str().str());
  };
  auto objFile = inTmp("bpc-%%%%%%%%.o");
  if (!objFile)
    return objFile.takeError();
  if (llvm::Error err = objFile->write(obj))
    return err;
  auto script = inTmp("bpc-%%%%%%%%.map");
  if (!script)
    return script.takeError();
  std::string text = "{\n  global:\n";
  for (const std::string &name : exports)
    text += "    " + name + ";\n";
  if (llvm::Error err = script->write(text + "  local: *;\n};\n"))
    return err;
  std::vector<std::string> args = {
      "-shared",          "-o",
      lib.tmpName(),      "-Wl,--version-script=" + script->tmpName(),
      objFile->tmpName(), runtimeArchive()};
  if (usesBlas) // also when only weakly referenced (the training step)
    args.insert(args.end(),
                {"-Wl,--no-as-needed", "-lopenblas", "-Wl,--as-needed"});
  args.insert(args.end(), {"-lstdc++", "-lm"});
  std::string err;
  if (runTool("cc", args, err) != 0)
    return llvm::createStringError("cannot link '%s': %s", out.c_str(),
                                   err.c_str());
  return lib.sync();
}

namespace {
/// An object of the archive: its member name and bytes.
struct Member {
  std::string name;
  llvm::SmallVector<char, 0> bytes;
};
} // namespace

/// The runtime's members made this library's own: every symbol that one of
/// them defines globally becomes `<prefix>.NAME` (a name no BP or C name
/// can take), hidden, in the members and in the model's object `obj` that
/// calls them. Two archives, or an archive and a program with its own
/// runtime, then share no symbol.
static llvm::Expected<std::vector<Member>>
prefixedMembers(llvm::StringRef obj, const std::string &prefix,
                const llvm::object::Archive &runtime) {
  std::vector<Member> members = {{prefix + ".o", {}}};
  std::vector<llvm::MemoryBufferRef> inputs = {
      llvm::MemoryBufferRef(obj, members[0].name)};
  llvm::Error err = llvm::Error::success();
  for (const llvm::object::Archive::Child &child : runtime.children(err)) {
    auto buf = child.getMemoryBufferRef();
    if (!buf) {
      llvm::consumeError(std::move(err));
      return buf.takeError();
    }
    members.push_back({buf->getBufferIdentifier().str(), {}});
    inputs.push_back(*buf);
  }
  if (err)
    return err;
  llvm::BumpPtrAllocator alloc;
  llvm::StringSaver saver(alloc);
  llvm::objcopy::ConfigManager config;
  for (size_t i = 1; i < inputs.size(); ++i) {
    auto file = llvm::object::ObjectFile::createObjectFile(inputs[i]);
    if (!file)
      return file.takeError();
    for (const llvm::object::SymbolRef &sym : (*file)->symbols()) {
      auto flags = sym.getFlags();
      auto name = sym.getName();
      if (!flags || !name)
        return llvm::createStringError("cannot read the symbols of '%s'",
                                       members[i].name.c_str());
      using llvm::object::BasicSymbolRef;
      if (!(*flags & BasicSymbolRef::SF_Global) ||
          (*flags & BasicSymbolRef::SF_Undefined) || name->empty())
        continue;
      llvm::StringRef renamed = saver.save(prefix + "." + name->str());
      config.Common.SymbolsToRename[*name] = renamed;
      for (llvm::StringRef n : {*name, renamed}) {
        llvm::objcopy::NameMatcher matcher;
        if (llvm::Error e =
                matcher.addMatcher(llvm::objcopy::NameOrPattern::create(
                    n, llvm::objcopy::MatchStyle::Literal,
                    [](llvm::Error e) { return e; })))
          return e;
        config.ELF.SymbolsToSetVisibility.emplace_back(std::move(matcher),
                                                       llvm::ELF::STV_HIDDEN);
      }
    }
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto binary = llvm::object::createBinary(inputs[i]);
    if (!binary)
      return binary.takeError();
    config.Common.InputFilename = members[i].name;
    config.Common.OutputFilename = members[i].name;
    llvm::raw_svector_ostream os(members[i].bytes);
    if (llvm::Error e =
            llvm::objcopy::executeObjcopyOnBinary(config, **binary, os))
      return e;
  }
  return members;
}

/// The archive, written from memory (no temporary directory): the model's
/// object as `<prefix>.o`, then every member of the runtime archive, with
/// the runtime's symbols prefixed (prefixedMembers).
static llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>>
archive(llvm::StringRef obj, const std::string &prefix,
        const llvm::Triple &triple) {
  std::string path = runtimeArchive();
  auto runtime = llvm::MemoryBuffer::getFile(path);
  if (!runtime)
    return llvm::createStringError(runtime.getError(), "cannot read '%s': %s",
                                   path.c_str(),
                                   runtime.getError().message().c_str());
  auto ar = llvm::object::Archive::create((*runtime)->getMemBufferRef());
  if (!ar)
    return llvm::createStringError("cannot read the runtime archive '%s': %s",
                                   path.c_str(),
                                   llvm::toString(ar.takeError()).c_str());
  auto objects = prefixedMembers(obj, prefix, **ar);
  if (!objects)
    return objects.takeError();
  std::vector<llvm::NewArchiveMember> members;
  for (const Member &m : *objects)
    members.emplace_back(llvm::MemoryBufferRef(
        llvm::StringRef(m.bytes.data(), m.bytes.size()), m.name));
  llvm::Triple t = triple;
  return llvm::writeArchiveToBuffer(
      members, llvm::SymtabWritingMode::NormalSymtab,
      llvm::object::Archive::getDefaultKindForTriple(t), true, false);
}

/// An output that is an input (the source, or the runtime archive a
/// library is made from), by path or by link: a usage error, true.
static bool overwritesInput(const std::string &out, const std::string &header,
                            const std::vector<std::string> &inputs) {
  for (const std::string &path : {out, header})
    for (const std::string &in : inputs) {
      std::error_code ec;
      if (fs::exists(path, ec) && fs::equivalent(path, in, ec)) {
        std::cerr << "bpc: error: the " << (path == out ? "output" : "header")
                  << " '" << path << "' is the input '" << in
                  << "'; choose another -o or --prefix\n";
        return true;
      }
    }
  return false;
}

/// Outputs replace their destination by rename: one that exists and is
/// not a regular file (a device such as /dev/null, a FIFO, a directory) is
/// a usage error, false, rather than replaced.
static bool regularOrAbsent(const std::vector<std::string> &paths) {
  for (const std::string &path : paths) {
    std::error_code ec;
    fs::file_status st = fs::status(path, ec);
    if (fs::exists(st) && !fs::is_regular_file(st)) {
      std::cerr << "bpc: error: cannot write '" << path
                << "': not a regular file\n";
      return false;
    }
  }
  return true;
}

/// --python needs a `.so` that `import <prefix>` does not find in place of
/// the module: `libNAME.so`, not `NAME.so`. Otherwise a usage error, false.
static bool pythonOutputOk(const std::string &out, const std::string &prefix,
                           bool isSo) {
  if (!isSo) {
    std::cerr << "bpc: error: --python needs a shared library (-o "
                 "libNAME.so), found '"
              << out << "'\n";
    return false;
  }
  std::string stem = fs::path(out).stem().string();
  if (stem == prefix || stem.rfind(prefix + ".", 0) == 0) {
    std::cerr << "bpc: error: --python: `import " << prefix
              << "` would load the library '" << out
              << "' instead of the module " << prefix
              << ".py; name the library lib" << prefix << ".so\n";
    return false;
  }
  return true;
}

/// `<prefix>.py` for the library `out`, written to a staged file `py`
/// that the caller commits with the others.
static llvm::Error stagePythonModule(Compilation &c, const std::string &prefix,
                                     const std::string &out,
                                     const std::string &path,
                                     std::optional<StagedFile> &py) {
  std::ostringstream module;
  int64_t width = 0; // of a row of <prefix>_train_step (0: no train block)
  if (c.prog.trainSpec && !c.trainedParams.empty())
    for (const Type *t : c.prog.fnSigs.at(c.prog.trainSpec->loss).params)
      width += t->isTensor() ? t->numElements() : 1;
  codegen::writePythonModule(*c.ir, prefix, fs::path(out).filename().string(),
                             c.file.path, module, width);
  auto staged = StagedFile::create(path);
  if (!staged)
    return staged.takeError();
  py.emplace(std::move(*staged));
  return py->write(module.str());
}

/// --load: every param's values from the params file, read by the
/// runtime's loader as `bpc run --load` reads it (the same file is accepted
/// and refused alike); false after the usage error.
static bool loadValues(const ir::Module &m, const BuildOptions &o,
                       std::map<std::string, std::vector<double>> &values) {
  std::vector<bp_param_entry> table;
  for (size_t k = 0; k < m.params.size(); ++k) {
    const ir::Param &p = m.params[k];
    if (p.name.rfind("__", 0) == 0) // internal (__grad.W): never saved
      continue;
    std::vector<double> &v = values[p.name];
    v = ir::initialValues(p, k, o.seed);
    bp_param_entry e{
        p.name.c_str(), v.data(), (int64_t)p.type->shape.size(), {0, 0, 0, 0}};
    for (size_t d = 0; d < p.type->shape.size(); ++d)
      e.dims[d] = p.type->shape[d];
    table.push_back(e);
  }
  char error[512] = "";
  int flags = o.allowNonfinite ? BP_LOAD_ALLOW_NONFINITE : 0;
  if (bp_load_params_flags(table.data(), (int64_t)table.size(),
                           o.loadPath.c_str(), flags, error, sizeof error) == 0)
    return true;
  std::string err = error;
  if (err.find("non-finite value") != std::string::npos)
    err += " (--allow-nonfinite accepts it)";
  std::cerr << "bpc: error: --load: " << err << '\n';
  return false;
}

/// The command that links a C program with the library `lib`: all that
/// it needs, and nothing more (test/AOT/link-line.test links with it). A
/// `.so` carries its dependencies; `.a` and `.o` need the C++ runtime and
/// libm (and libmvec through it), OpenBLAS when the model calls it, and an
/// `.o` the runtime archive.
static std::string linkLine(const std::string &lib, bool isSo, bool isObj,
                            bool usesBlas) {
  std::string line = "cc PROGRAM.c " + lib;
  if (isSo)
    return line;
  if (isObj)
    line += " " + runtimeArchive();
  if (usesBlas)
    line += " -lopenblas";
  return line + " -lstdc++ -lm";
}

/// `<prefix>_train_step` for the train block as written: its trained
/// params, and the learning rate of each epoch (an epoch is as many rows as
/// the block's data has, which a schedule other than `constant` reads at
/// build time). False after the error.
static bool trainStepSpec(const Compilation &c, codegen::TrainStepSpec &t) {
  const sema::TrainSpec &spec = *c.prog.trainSpec;
  t.params = c.trainedParams;
  if (!c.batchedStepSizes.empty()) {
    t.batchedSize = c.batchedStepSizes[0];
    t.batchedStep = batch::trainStepName(t.batchedSize);
  }
  if (spec.schedule.kind == sema::TrainSpec::Schedule::Kind::Constant) {
    t.lrPerEpoch = {spec.lr};
    return true;
  }
  TrainingData data;
  std::string err;
  if (!loadTrainingData(c.prog.fnSigs.at(spec.loss), spec, c.file, data, err)) {
    std::cerr << err
              << "\nbpc: error: the train block's schedule counts "
                 "epochs in rows of its data, which bpc build reads\n";
    return false;
  }
  t.rowsPerEpoch = data.data.rows;
  for (int64_t e = 1; e <= spec.epochs; ++e)
    t.lrPerEpoch.push_back(scheduledLr(spec, e));
  return true;
}

/// --prefix, or the output's name; after the usage error, "".
static std::string choosePrefix(const BuildOptions &o) {
  std::string prefix = o.prefix.empty() ? defaultPrefix(o.output) : o.prefix;
  std::string problem = codegen::prefixProblem(prefix);
  if (problem.empty())
    return prefix;
  if (o.prefix.empty())
    std::cerr << "bpc: error: the prefix '" << prefix << "' taken from -o '"
              << o.output << "' cannot begin C names: " << problem
              << "; give one with --prefix NAME\n";
  else
    std::cerr << "bpc: error: --prefix '" << prefix
              << "' cannot begin C names: " << problem << '\n';
  return "";
}

/// The checks before anything is compiled: the output's directory, outputs
/// that are inputs or not regular files, and clashing C (and Python)
/// names. The exit code of a refusal (after its message), or none.
static std::optional<ExitCode>
checkOutputs(Compilation &c, const BuildOptions &o, const std::string &prefix,
             bool isSo, const std::string &header,
             const std::string &pyModule) {
  const ir::Module &m = *c.ir;
  const std::string &out = o.output;
  fs::path outPath(out);
  if (fs::path dir = outPath.parent_path();
      !dir.empty() && !fs::is_directory(dir)) {
    std::cerr << "bpc: error: cannot write '" << out << "': directory '"
              << dir.string() << "' does not exist\n";
    return ExitCode::Usage;
  }
  if (o.python && !pythonOutputOk(out, prefix, isSo))
    return ExitCode::Usage;
  if (overwritesInput(out, header, {c.file.path, runtimeArchive()}) ||
      (o.python && overwritesInput(pyModule, pyModule, {c.file.path})) ||
      !regularOrAbsent({out, header}) ||
      (o.python && !regularOrAbsent({pyModule})))
    return ExitCode::Usage;
  // Clashing C names are located errors. --verify-diagnostics checks them
  // with the earlier diagnostics and stops here, as other commands stop
  // before running; otherwise those (warnings) are already printed.
  if (o.verifyDiagnostics) {
    codegen::checkCNames(m, prefix, c.diags);
    if (o.python)
      codegen::checkPythonNames(m, c.diags);
    return reportFailure(llvm::make_error<CompileError>(), c, true);
  }
  DiagEngine clashes(c.file);
  if (!codegen::checkCNames(m, prefix, clashes) |
      (o.python && !codegen::checkPythonNames(m, clashes))) {
    clashes.print(std::cerr);
    return ExitCode::CompileError;
  }
  return std::nullopt;
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
  std::string prefix = choosePrefix(o);
  if (prefix.empty())
    return ExitCode::Usage;
  fs::path outPath(out);
  std::string header = (outPath.parent_path() / (prefix + ".h")).string();
  std::string pyModule =
      o.python ? (outPath.parent_path() / (prefix + ".py")).string() : "";
  if (std::optional<ExitCode> refused =
          checkOutputs(c, o, prefix, isSo, header, pyModule))
    return *refused;
  std::unique_ptr<llvm::TargetMachine> tm = targetMachine(o);
  if (!tm)
    return ExitCode::Usage;

  c.opts.targetMachine = tm.get();
  c.opts.optLevel = o.optLevel;
  c.opts.checkNumerics = false;
  // OpenBLAS for large matmuls, unless --no-blas or a cross build (the
  // target may have no OpenBLAS).
  c.opts.blas = o.blas && o.target.empty();
  c.opts.cInterfacePrefix = prefix;
  c.opts.cInterfaceSeed = o.seed;
  if (!o.loadPath.empty() && !loadValues(m, o, c.opts.cInterfaceParams))
    return ExitCode::Usage;
  codegen::TrainStepSpec train;
  bool trains = c.prog.trainSpec && !c.trainedParams.empty();
  if (trains && !trainStepSpec(c, train))
    return ExitCode::Usage;
  c.opts.cInterfaceTrain = trains ? &train : nullptr;
  if (llvm::Error err = c.compileTo(Stage::LLVM))
    return reportFailure(std::move(err), c, false);
  c.opts.targetMachine = nullptr;
  c.opts.cInterfaceTrain = nullptr; // `train` ends with this function
  llvm::Module *mod = c.llvm.get();
  // OpenBLAS: needed when the model's functions call it; optional (weak)
  // when only <prefix>_train_step's batched step does (CInterface.cpp). A
  // .so links it either way.
  llvm::Function *blas = mod->getFunction("cblas_dgemm");
  bool usesBlas = blas && !blas->hasExternalWeakLinkage();
  bool linksBlas = c.usesBlas;
  if (codegen::hasHugeFunction(*mod))
    tm->setOptLevel(llvm::CodeGenOptLevel::None);

  llvm::SmallVector<char, 0> obj;
  if (!emitObject(*tm, *mod, obj))
    return ExitCode::Usage;
  std::ostringstream text;
  codegen::HeaderNotes notes;
  notes.usesBlas = usesBlas;
  notes.optionalBlas = blas && !usesBlas;
  notes.paramsFile = o.loadPath;
  notes.trainStep = trains;
  notes.linkLine = linkLine(outPath.filename().string(), isSo, isObj, usesBlas);
  codegen::writeCHeader(m, prefix, c.file.path, text, notes);
  // Both files are complete and on disk before either takes its name.
  auto failed = [](llvm::Error err) {
    std::cerr << "bpc: error: " << llvm::toString(std::move(err)) << '\n';
    return ExitCode::Usage;
  };
  auto h = StagedFile::create(header);
  if (!h)
    return failed(h.takeError());
  if (llvm::Error err = h->write(text.str()))
    return failed(std::move(err));
  auto lib = StagedFile::create(out);
  if (!lib)
    return failed(lib.takeError());
  llvm::StringRef objBytes(obj.data(), obj.size());
  if (isSo) {
    if (llvm::Error err =
            linkShared(*lib, out, objBytes, linksBlas, exportedSymbols(*mod)))
      return failed(std::move(err));
  } else if (isAr) {
    auto bytes = archive(objBytes, prefix, tm->getTargetTriple());
    if (!bytes)
      return failed(bytes.takeError());
    if (llvm::Error err = lib->write((*bytes)->getBuffer()))
      return failed(std::move(err));
  } else if (llvm::Error err = lib->write(objBytes)) {
    return failed(std::move(err));
  }
  std::optional<StagedFile> py;
  if (o.python)
    if (llvm::Error err = stagePythonModule(c, prefix, out, pyModule, py))
      return failed(std::move(err));
  if (llvm::Error err = lib->commit())
    return failed(std::move(err));
  if (llvm::Error err = h->commit())
    return failed(std::move(err));
  if (py)
    if (llvm::Error err = py->commit())
      return failed(std::move(err));
  std::cout << "wrote " << out << (py ? ", " : " and ") << header;
  if (py)
    std::cout << " and " << pyModule;
  std::cout << '\n' << "link: " << linkLine(out, isSo, isObj, usesBlas) << '\n';
  return ExitCode::Success;
}

} // namespace bp
