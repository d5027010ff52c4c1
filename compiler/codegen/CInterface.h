//===- CInterface.h - the C ABI of `bpc build` ------------------*- C++ -*-===//
#pragma once

#include "ir/IR.h"
#include "support/Diagnostics.h"

#include <iosfwd>
#include <map>
#include <string>
#include <vector>

namespace llvm {
class Module;
}

namespace bp::codegen {

/// User functions and named derived functions get a C wrapper; internal
/// ones (`f.rev.10`, inline `grad(f, x)`, `__train_step`) do not.
bool isExported(const ir::Function &f);

/// Input:  `m` after the IR passes; `prefix` passes codegen::prefixProblem.
/// Output: a located error in `diags` for each C name of the build (the
///         symbols and macros of docs/ABI.md "Names") that another one, the
///         header's own, or a C keyword or library name already takes;
///         false when there was one.
bool checkCNames(const ir::Module &m, const std::string &prefix,
                 DiagEngine &diags);

/// `double <prefix>_train_step(const double *rows, int64_t n)` of a model
/// with a train block (docs/ABI.md): `m`'s `__train_step` per row into the
/// gradient accumulators, then `__train_update(1 / n, lr)`.
struct TrainStepSpec {
  std::vector<std::string> params; // the trained ones, as the update has them
  /// The learning rate of each epoch (the schedule's), the last one kept
  /// for the epochs after; an epoch is `rowsPerEpoch` rows.
  std::vector<double> lrPerEpoch;
  int64_t rowsPerEpoch = 1;
  /// The batched step for chunks of `batchedSize` rows (batch/TrainStep.h:
  /// `__train_step.<n>`); empty or 0: every row through the per-example one.
  std::string batchedStep;
  int64_t batchedSize = 0;
};

/// Whether a param is the C interface's: `__grad.w`, `__opt.m.w`, ...
/// (training state) are not.
bool isExportedParam(const ir::Param &p);

/// Input:  the LLVM module emitted for `m`.
/// Output: C wrappers `<prefix>_<fn>`, param accessors,
///         `<prefix>_load_params` and the runtime's `<prefix>_set_error_hook`
///         etc.; params get their initial values (from their initialisers
///         and `seed`, or `loaded`'s values for the params it names) as
///         static data. Every other definition of `mod` is
///         made local: the C interface is all the object exports. See
///         CInterface.cpp and docs/ABI.md.
/// With `train` (m has `__train_step` and `__train_update`), also
/// `<prefix>_train_step`.
void addCInterface(
    const ir::Module &m, llvm::Module &mod, const std::string &prefix,
    uint64_t seed,
    const std::map<std::string, std::vector<double>> &loaded = {},
    const TrainStepSpec *train = nullptr);

/// What the header's comments say about the build.
struct HeaderNotes {
  bool usesBlas = false;     // the code calls cblas_dgemm
  bool optionalBlas = false; // only the batched training step does (weak)
  std::string paramsFile;    // bpc build --load: the params' initial values
  std::string linkLine;      // how a C program links the library
  bool trainStep = false;    // <prefix>_train_step is defined
};

/// The matching C99 / C++ header.
void writeCHeader(const ir::Module &m, const std::string &prefix,
                  const std::string &source, std::ostream &os,
                  const HeaderNotes &notes = {});

/// `fn f(x: f64[3]) -> f64`, or `fn df = grad(f, x) -> f64[3]` for a
/// derived function: the BP signature the header's and the Python module's
/// comments show.
std::string bpSignature(const ir::Module &m, const ir::Function &f);

/// The C names of docs/ABI.md "Names", for writers of other bindings
/// (codegen/PythonModule.cpp): `<prefix>_<fn>`, `<prefix>_param_<p>`,
/// `<prefix>_load_params`, `<prefix>_train_step`, and the out-pointers of f
/// in order (`grad_x`,
/// `value`, `out0`, ...).
std::string cFunctionSymbol(const std::string &prefix, const std::string &fn);
std::string cParamAccessor(const std::string &prefix, const std::string &p);
std::string cLoadParamsSymbol(const std::string &prefix);
std::string cTrainStepSymbol(const std::string &prefix);
std::vector<std::string> cResultNames(const ir::Module &m,
                                      const ir::Function &f);

} // namespace bp::codegen
