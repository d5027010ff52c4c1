//===- CInterface.cpp - the C ABI of `bpc build` --------------------------===//
//
// For an AOT build, every exported BP function `f` gets a C wrapper
// `<prefix>_f` (docs/ABI.md):
//   - scalars by value: f64 -> double, int -> int64_t, bool -> int (0/1);
//   - tensors as `const double *` (row-major), shapes in the header;
//   - one scalar result is returned; otherwise the function returns void and
//     writes every result through a caller-allocated out-pointer (tensors:
//     numElements doubles). Outputs are overwritten, never accumulated, so
//     callers need not zero them.
// plus `double *<prefix>_param_<p>(void)` for every param (its storage,
// initialised at build time from the initialisers and --seed), and
// `int <prefix>_load_params(path, error, size)` for `bpc train --save` files.
//
//===----------------------------------------------------------------------===//
#include "codegen/CInterface.h"

#include "codegen/CodeGen.h"

#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Module.h"

#include <cctype>
#include <ostream>

namespace bp::codegen {

bool isExported(const ir::Function &f) {
  for (char c : f.name)
    if (!isalnum((unsigned char)c) && c != '_')
      return false; // f.rev.10, grad(f, x): internal
  return f.name.rfind("__", 0) != 0;
}

static bool singleScalarResult(const ir::Function &f) {
  return f.resultTypes.size() == 1 && !f.resultTypes[0]->isTensor();
}

void addCInterface(const ir::Module &m, llvm::Module &mod,
                   const std::string &prefix, uint64_t seed) {
  llvm::LLVMContext &ctx = mod.getContext();
  llvm::IRBuilder<> b(ctx);
  llvm::Type *f64 = b.getDoubleTy(), *i64 = b.getInt64Ty(),
             *i32 = b.getInt32Ty(), *ptr = b.getPtrTy();
  auto cType = [&](const Type *t) -> llvm::Type * {
    return t->isTensor() ? ptr : t->isF64() ? f64 : t->isInt() ? i64 : i32;
  };

  // Params: build-time initial values, accessors, and the load table.
  std::vector<llvm::Constant *> entries;
  auto *entryTy =
      llvm::StructType::get(ctx, {ptr, ptr, i64, llvm::ArrayType::get(i64, 4)});
  for (size_t k = 0; k < m.params.size(); ++k) {
    const ir::Param &p = m.params[k];
    auto *g = mod.getGlobalVariable(paramSymbol(p.name));
    std::vector<double> v = ir::initialValues(p, k, seed);
    if (p.type->isTensor())
      g->setInitializer(llvm::ConstantDataArray::get(ctx, v));
    else
      g->setInitializer(llvm::ConstantFP::get(f64, v[0]));
    auto *get = llvm::Function::Create(llvm::FunctionType::get(ptr, {}, false),
                                       llvm::GlobalValue::ExternalLinkage,
                                       prefix + "_param_" + p.name, mod);
    b.SetInsertPoint(llvm::BasicBlock::Create(ctx, "entry", get));
    b.CreateRet(g);
    std::vector<llvm::Constant *> dims;
    for (size_t d = 0; d < 4; ++d)
      dims.push_back(
          b.getInt64(d < p.type->shape.size() ? p.type->shape[d] : 0));
    entries.push_back(llvm::ConstantStruct::get(
        entryTy,
        {b.CreateGlobalStringPtr(p.name, "bp.pname", 0, &mod), g,
         b.getInt64(p.type->shape.size()),
         llvm::ConstantArray::get(llvm::ArrayType::get(i64, 4), dims)}));
  }
  auto *tableTy = llvm::ArrayType::get(entryTy, entries.size());
  auto *table = new llvm::GlobalVariable(
      mod, tableTy, true, llvm::GlobalValue::PrivateLinkage,
      llvm::ConstantArray::get(tableTy, entries), "bp.params");
  auto *load = llvm::Function::Create(
      llvm::FunctionType::get(i32, {ptr, ptr, i64}, false),
      llvm::GlobalValue::ExternalLinkage, prefix + "_load_params", mod);
  b.SetInsertPoint(llvm::BasicBlock::Create(ctx, "entry", load));
  auto loader = mod.getOrInsertFunction(
      "bp_load_params",
      llvm::FunctionType::get(i32, {ptr, i64, ptr, ptr, i64}, false));
  b.CreateRet(
      b.CreateCall(loader, {table, b.getInt64(entries.size()), load->getArg(0),
                            load->getArg(1), load->getArg(2)}));

  // Function wrappers.
  for (auto &fp : m.functions) {
    const ir::Function &f = *fp;
    if (!isExported(f))
      continue;
    llvm::Function *inner = mod.getFunction(functionSymbol(f.name));
    std::vector<llvm::Type *> params;
    for (auto &a : f.args())
      params.push_back(cType(a->type));
    bool direct = singleScalarResult(f);
    if (!direct)
      for (size_t i = 0; i < f.resultTypes.size(); ++i)
        params.push_back(ptr);
    llvm::Type *ret = direct ? cType(f.resultTypes[0]) : b.getVoidTy();
    auto *fn = llvm::Function::Create(
        llvm::FunctionType::get(ret, params, false),
        llvm::GlobalValue::ExternalLinkage, prefix + "_" + f.name, mod);
    b.SetInsertPoint(llvm::BasicBlock::Create(ctx, "entry", fn));
    std::vector<llvm::Value *> args;
    for (size_t i = 0; i < f.args().size(); ++i) {
      llvm::Value *a = fn->getArg(i);
      if (f.args()[i]->type->isBool())
        a = b.CreateICmpNE(a, b.getInt32(0));
      args.push_back(a);
    }
    size_t outBase = f.args().size();
    for (size_t i = 0; i < f.resultTypes.size(); ++i)
      if (f.resultTypes[i]->isTensor())
        args.push_back(fn->getArg(outBase + i));
    llvm::Value *r = b.CreateCall(inner, args);
    if (direct) {
      llvm::Value *v = r;
      if (f.resultTypes[0]->isBool())
        v = b.CreateZExt(v, i32);
      b.CreateRet(v);
      continue;
    }
    auto results = scalarResults(b, r, f.resultTypes);
    for (size_t i = 0; i < f.resultTypes.size(); ++i) {
      llvm::Value *v = results[i];
      if (!v)
        continue;
      if (f.resultTypes[i]->isBool())
        v = b.CreateZExt(v, i32);
      b.CreateStore(v, fn->getArg(outBase + i));
    }
    b.CreateRetVoid();
  }
}

namespace {

std::string upper(std::string s) {
  for (char &c : s)
    c = (char)toupper((unsigned char)c);
  return s;
}

std::string cTypeName(const Type *t) {
  if (t->isTensor())
    return "const double *";
  if (t->isF64())
    return "double ";
  if (t->isInt())
    return "int64_t ";
  return "int ";
}

std::string outTypeName(const Type *t) {
  if (t->isTensor() || t->isF64())
    return "double *";
  return t->isInt() ? "int64_t *" : "int *";
}

} // namespace

void writeCHeader(const ir::Module &m, const std::string &prefix,
                  const std::string &source, std::ostream &os, bool usesBlas) {
  std::string guard = "BP_" + upper(prefix) + "_H";
  std::string P = upper(prefix);
  os << "/* " << prefix << ".h: generated by `bpc build` from " << source
     << ". Do not edit.\n"
     << " * C ABI (docs/ABI.md): scalars by value (f64 -> double, int ->\n"
     << " * int64_t, bool -> int); tensors are row-major arrays of double.\n"
     << " * A function with one scalar result returns it; otherwise it "
        "returns\n"
     << " * void and writes every result through an out-pointer that the "
        "caller\n"
     << " * allocates (tensors: the _SIZE in doubles). Outputs, gradients\n"
     << " * included, are overwritten, never accumulated: no zeroing needed.\n"
     << " * Runtime errors (failed assert, index out of range, recursion "
        "or\n"
     << " * gradient tape over its limit) print `FILE:LINE:COL: runtime "
        "error:\n"
     << " * MESSAGE` to stderr, call the hook set with bp_set_error_hook (it "
        "may\n"
     << " * longjmp out), then exit(3).\n"
     << (usesBlas ? " * Large matrix products call OpenBLAS's cblas_dgemm: "
                    "programs\n * linking the .a or .o also link -lopenblas "
                    "(the .so has it).\n"
                  : "")
     << " */\n"
     << "#ifndef " << guard << "\n#define " << guard << "\n\n"
     << "#include <stdint.h>\n\n#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n";
  os << "typedef void (*bp_error_hook)(const char *message);\n"
     << "void bp_set_error_hook(bp_error_hook hook);\n"
     << "/* Limits (docs/ABI.md): nested recursive calls (default 1000000 or "
        "$BP_RECURSION_LIMIT),\n"
     << " * gradient tape bytes (default 4096 MB or $BP_TAPE_LIMIT_MB). A "
        "SIGSEGV handler\n"
     << " * for the calling thread reporting stack overflows as runtime "
        "errors. */\n"
     << "void bp_set_recursion_limit(int64_t calls);\n"
     << "void bp_set_tape_limit(int64_t bytes);\n"
     << "void bp_catch_stack_overflow(const char *file);\n\n";
  for (auto &p : m.params) {
    os << "/* param " << p.name << ": " << toString(p.type)
       << " (initialised at build time) */\n";
    int64_t n = p.type->isTensor() ? p.type->numElements() : 1;
    os << "#define " << P << "_PARAM_" << p.name << "_SIZE " << n << "\n";
    os << "double *" << prefix << "_param_" << p.name << "(void);\n";
  }
  os << "/* Reads a params file written by `bpc train --save`. Returns 0, or "
        "-1\n"
     << " * with `PATH:LINE: message` in error[0..error_size). */\n"
     << "int " << prefix
     << "_load_params(const char *path, char *error, int64_t error_size);\n\n";
  for (auto &fp : m.functions) {
    const ir::Function &f = *fp;
    if (!isExported(f))
      continue;
    const ir::DerivedInfo *d = m.lookupDerived(f.name);
    os << "/* fn " << f.name;
    if (d) {
      os << " = " << ir::spelling(d->kind) << "(" << d->base;
      if (d->kind == ir::DerivKind::Vmap)
        os << ", " << d->batch;
      for (auto &v : d->wrt)
        os << ", " << v.name;
      os << ")";
    } else {
      os << "(";
      for (size_t i = 0; i < f.args().size(); ++i)
        os << (i ? ", " : "") << f.args()[i]->name << ": "
           << toString(f.args()[i]->type);
      os << ")";
    }
    if (!f.resultTypes.empty()) {
      os << " -> ";
      for (size_t i = 0; i < f.resultTypes.size(); ++i)
        os << (i ? ", " : "") << toString(f.resultTypes[i]);
    }
    os << " */\n";
    for (auto &a : f.args())
      if (a->type->isTensor())
        os << "#define " << P << "_" << f.name << "_" << a->name << "_SIZE "
           << a->type->numElements() << "\n";
    std::vector<std::string> outNames;
    for (size_t i = 0; i < f.resultTypes.size(); ++i) {
      std::string n = "out" + std::to_string(i);
      bool gradient = d && (d->kind == ir::DerivKind::Grad ||
                            d->kind == ir::DerivKind::ValueAndGrad);
      if (gradient) {
        size_t first = d->kind == ir::DerivKind::ValueAndGrad ? 1 : 0;
        n = i < first ? "value" : "grad_" + d->wrt[i - first].name;
      } else if (d && d->kind == ir::DerivKind::Jvp) {
        n = i == 0 ? "value" : "tangent";
      } // vmap: out0, out1, ... (the base's results, batched)
      outNames.push_back(n);
      if (f.resultTypes[i]->isTensor())
        os << "#define " << P << "_" << f.name << "_" << n << "_SIZE "
           << f.resultTypes[i]->numElements() << "\n";
    }
    bool direct = singleScalarResult(f);
    os << (direct ? cTypeName(f.resultTypes[0]) : std::string("void "))
       << prefix << "_" << f.name << "(";
    bool first = true;
    for (auto &a : f.args()) {
      os << (first ? "" : ", ") << cTypeName(a->type) << a->name;
      first = false;
    }
    if (!direct)
      for (size_t i = 0; i < f.resultTypes.size(); ++i) {
        os << (first ? "" : ", ") << outTypeName(f.resultTypes[i])
           << outNames[i];
        first = false;
      }
    if (first)
      os << "void";
    os << ");\n\n";
  }
  os << "#ifdef __cplusplus\n}\n#endif\n#endif\n";
}

} // namespace bp::codegen
