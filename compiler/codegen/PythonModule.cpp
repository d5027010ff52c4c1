//===- PythonModule.cpp - `bpc build --python` ----------------------------===//
//
// Writes `<prefix>.py`: ctypes bindings of the C ABI that CInterface.cpp
// defines (the same symbols, argument order and out-pointers), with NumPy
// arrays for tensors. Every argument is checked before the call: a tensor
// must be a float64 ndarray of exactly the declared shape (or a nested
// sequence of numbers that converts to one), a scalar a Python or NumPy
// number of the right kind. Failures raise ValueError naming the function,
// the argument and both shapes or dtypes; nothing wrong reaches C.
//
// The generated code refers to its own helpers and imports only through
// names beginning with `_bp_`, and renames BP names that could shadow them,
// so any BP argument name works.
//
//===----------------------------------------------------------------------===//
#include "codegen/PythonModule.h"

#include "codegen/CInterface.h"

#include <array>
#include <ostream>
#include <set>
#include <string_view>

namespace bp::codegen {

namespace {

// Python 3's keywords (soft keywords such as `match` are identifiers).
constexpr std::array<std::string_view, 35> PythonKeywords = {
    "False",  "None",   "True",    "and",      "as",       "assert", "async",
    "await",  "break",  "class",   "continue", "def",      "del",    "elif",
    "else",   "except", "finally", "for",      "from",     "global", "if",
    "import", "in",     "is",      "lambda",   "nonlocal", "not",    "or",
    "pass",   "raise",  "return",  "try",      "while",    "with",   "yield"};

/// The Python name of a BP name: a keyword, or a name that could be one of
/// the module's `_bp_` helpers, gets a trailing `_`.
std::string pyName(const std::string &name) {
  for (std::string_view k : PythonKeywords)
    if (name == k)
      return name + "_";
  return name.rfind("_bp_", 0) == 0 ? name + "_" : name;
}

/// pyName of each, then `_` appended until no two are equal.
std::vector<std::string> pyNames(const std::vector<std::string> &names) {
  std::set<std::string> taken;
  std::vector<std::string> out;
  for (const std::string &n : names) {
    std::string p = pyName(n);
    while (taken.count(p))
      p += '_';
    taken.insert(p);
    out.push_back(p);
  }
  return out;
}

/// `(3,)`, `(2, 3)`: a tensor type's shape as a Python tuple.
std::string pyShape(const Type *t) {
  std::string s = "(";
  for (size_t i = 0; i < t->shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(t->shape[i]);
  return s + (t->shape.size() == 1 ? ",)" : ")");
}

/// The ctypes type of an argument (`in`) or out-pointer.
std::string ctype(const Type *t, bool in) {
  if (t->isTensor())
    return t->isIntTensor() ? "_bp_i64p" : "_bp_f64p";
  if (in)
    return t->isF64() ? "_bp_ct.c_double"
                      : (t->isInt() ? "_bp_ct.c_int64" : "_bp_ct.c_int");
  return t->isF64() ? "_bp_f64p" : (t->isInt() ? "_bp_i64p" : "_bp_intp");
}

/// The checker of an argument: `_bp_tensor(...)`, `_bp_f64(...)`, ...
std::string checked(const std::string &fn, const std::string &bpName,
                    const std::string &var, const Type *t,
                    const std::string &what = "") {
  std::string where = "\"" + fn + "\", \"" + bpName + "\", " + var;
  std::string tail = what.empty() ? ")" : ", what=\"" + what + "\")";
  if (t->isTensor())
    return "_bp_tensor(" + where + ", " + pyShape(t) +
           (t->isIntTensor() ? ", dtype=_bp_np.int64" : "") + tail;
  return (t->isF64()   ? "_bp_f64("
          : t->isInt() ? "_bp_int("
                       : "_bp_bool(") +
         where + tail;
}

/// A scalar out-pointer's ctypes object and how its value is read.
std::string scalarOut(const Type *t) {
  return t->isF64() ? "_bp_ct.c_double()"
                    : (t->isInt() ? "_bp_ct.c_int64()" : "_bp_ct.c_int()");
}
std::string scalarValue(const std::string &var, const Type *t) {
  return t->isBool() ? "_bp_b.bool(" + var + ".value)" : var + ".value";
}

void writeFunction(const ir::Module &m, const std::string &prefix,
                   const ir::Function &f, std::ostream &os) {
  std::string sym = cFunctionSymbol(prefix, f.name);
  std::vector<std::string> bpNames;
  for (auto &a : f.args())
    bpNames.push_back(a->name);
  std::vector<std::string> outs = cResultNames(m, f);
  size_t nArgs = bpNames.size();
  bool direct = f.resultTypes.size() == 1 && !f.resultTypes[0]->isTensor();
  if (!direct)
    bpNames.insert(bpNames.end(), outs.begin(), outs.end());
  std::vector<std::string> vars = pyNames(bpNames);

  os << "_bp_lib." << sym << ".argtypes = [";
  for (size_t i = 0; i < vars.size(); ++i)
    os << (i ? ", " : "")
       << (i < nArgs ? ctype(f.args()[i]->type, true)
                     : ctype(f.resultTypes[i - nArgs], false));
  os << "]\n_bp_lib." << sym << ".restype = "
     << (direct ? ctype(f.resultTypes[0], true) : std::string("None"))
     << "\n\n\ndef " << pyName(f.name) << "(";
  for (size_t i = 0; i < nArgs; ++i)
    os << (i ? ", " : "") << vars[i];
  os << "):\n    \"\"\"" << bpSignature(m, f) << "\n\n    Calls " << sym
     << (nArgs ? "; ValueError names a wrong argument" : "") << ".\"\"\"\n";
  std::vector<std::string> call;
  for (size_t i = 0; i < nArgs; ++i) {
    const Type *t = f.args()[i]->type;
    os << "    " << vars[i] << " = " << checked(f.name, bpNames[i], vars[i], t)
       << "\n";
    call.push_back(t->isTensor()
                       ? vars[i] + ".ctypes.data_as(" + ctype(t, true) + ")"
                       : vars[i]);
  }
  std::vector<std::string> results;
  for (size_t i = nArgs; i < vars.size(); ++i) {
    const Type *t = f.resultTypes[i - nArgs];
    os << "    " << vars[i] << " = "
       << (t->isTensor()
               ? "_bp_np.empty(" + pyShape(t) +
                     (t->isIntTensor() ? ", dtype=_bp_np.int64" : "") + ")"
               : scalarOut(t))
       << "\n";
    call.push_back(t->isTensor()
                       ? vars[i] + ".ctypes.data_as(" + ctype(t, true) + ")"
                       : "_bp_ct.byref(" + vars[i] + ")");
    results.push_back(t->isTensor() ? vars[i] : scalarValue(vars[i], t));
  }
  std::string callText = "_bp_lib." + sym + "(";
  for (size_t i = 0; i < call.size(); ++i)
    callText += (i ? ", " : "") + call[i];
  callText += ")";
  if (direct) {
    const Type *t = f.resultTypes[0];
    os << "    return "
       << (t->isBool() ? "_bp_b.bool(" + callText + ")" : callText) << "\n";
  } else {
    os << "    " << callText << "\n";
    if (!results.empty()) {
      os << "    return ";
      for (size_t i = 0; i < results.size(); ++i)
        os << (i ? ", " : "") << results[i];
      os << "\n";
    }
  }
  os << "\n\n";
}

void writeParams(const ir::Module &m, const std::string &prefix,
                 std::ostream &os) {
  os << "class _bp_Params:\n"
        "    \"\"\"The model's params. Reading one gives a float64 array "
        "that views the\n"
        "    library's storage (a float for a scalar param); assigning one "
        "copies\n"
        "    into that storage after the same checks as a function "
        "argument.\"\"\"\n\n"
        "    __slots__ = ()\n";
  for (auto &p : m.params) {
    if (!isExportedParam(p)) // training state: no accessor
      continue;
    std::string acc = cParamAccessor(prefix, p.name), name = pyName(p.name);
    bool tensor = p.type->isTensor();
    std::string shape = tensor ? pyShape(p.type) : "(1,)";
    os << "\n    @property\n    def " << name << "(self):\n        \"\"\"param "
       << p.name << ": " << toString(p.type) << "\"\"\"\n";
    os << "        return _bp_view(_bp_lib." << acc << ", " << shape << ")"
       << (tensor ? "" : "[0].item()") << "\n";
    os << "\n    @" << name << ".setter\n    def " << name
       << "(self, value):\n        _bp_view(_bp_lib." << acc << ", " << shape
       << ")[" << (tensor ? "..." : "0")
       << "] = " << checked("params", p.name, "value", p.type, "param") << "\n";
  }
  os << "\n\nparams = _bp_Params()\n";
  for (auto &p : m.params) {
    if (!isExportedParam(p))
      continue;
    std::string acc = "_bp_lib." + cParamAccessor(prefix, p.name);
    os << acc << ".argtypes = []\n" << acc << ".restype = _bp_f64p\n";
  }
}

/// The docstring, imports and the checkers the functions call.
void writePreamble(const std::string &prefix, const std::string &library,
                   const std::string &source, std::ostream &os) {
  std::string from;
  for (char c : source) // a path cannot end the docstring
    from += c == '"' || c == '\\' || c == '\n' ? '_' : c;
  os << "\"\"\"" << prefix << ": Python bindings of the BP model " << from
     << ",\nwritten by `bpc build --python` (docs/ABI.md). Do not edit.\n\n"
     << "Loads " << library << " from this file's directory with ctypes. "
     << R"(Every exported
BP function is a Python function of the same name (a Python keyword gets a
trailing _). Tensors are float64 NumPy arrays of exactly the declared shape
(nested sequences of numbers are converted); f64 and int arguments are
numbers, bool ones bools. A wrong shape, dtype or type raises ValueError
naming the argument. Results are new float64 arrays, floats, ints or bools;
several come back as a tuple. `params.NAME` views a param's storage, and
load_params(path) reads a `bpc train --save` file. A BP runtime error
(failed assert, index out of range) prints its message and exits the
process with status 3, as it does in C.
"""
import builtins as _bp_b
import ctypes as _bp_ct
import numbers as _bp_numbers
import os as _bp_os

import numpy as _bp_np

_bp_lib = _bp_ct.CDLL(_bp_os.path.join(
    _bp_os.path.dirname(_bp_os.path.abspath(__file__)), ")"
     << library << R"("))
_bp_f64p = _bp_ct.POINTER(_bp_ct.c_double)
_bp_i64p = _bp_ct.POINTER(_bp_ct.c_int64)
_bp_intp = _bp_ct.POINTER(_bp_ct.c_int)


def _bp_tensor(fn, name, x, shape, what="argument", dtype=_bp_np.float64):
    if _bp_b.isinstance(x, _bp_np.ndarray):
        if x.dtype != dtype:
            raise _bp_b.ValueError(
                f"{fn}: {what} '{name}' has dtype {x.dtype}, "
                f"expected {_bp_np.dtype(dtype).name}")
    else:
        try:
            x = _bp_np.asarray(x, dtype=dtype)
        except (_bp_b.TypeError, _bp_b.ValueError) as e:
            raise _bp_b.ValueError(
                f"{fn}: {what} '{name}' is not an array of numbers "
                f"of shape {shape}: {e}") from None
    if x.shape != shape:
        raise _bp_b.ValueError(
            f"{fn}: {what} '{name}' has shape {x.shape}, "
            f"expected {shape}")
    return _bp_np.ascontiguousarray(x)


def _bp_scalar(fn, name, x, kinds, expected, what):
    if (_bp_b.isinstance(x, (_bp_b.bool, _bp_np.bool_)) !=
            (expected == "bool")) or not _bp_b.isinstance(x, kinds):
        raise _bp_b.ValueError(
            f"{fn}: {what} '{name}' is {_bp_b.type(x).__name__}, "
            f"expected {expected}")
    return x


def _bp_f64(fn, name, x, what="argument"):
    return _bp_b.float(
        _bp_scalar(fn, name, x, _bp_numbers.Real, "f64", what))


def _bp_int(fn, name, x, what="argument"):
    return _bp_b.int(
        _bp_scalar(fn, name, x, _bp_numbers.Integral, "int", what))


def _bp_bool(fn, name, x, what="argument"):
    return _bp_b.int(_bp_b.bool(_bp_scalar(
        fn, name, x, (_bp_b.bool, _bp_np.bool_), "bool", what)))


def _bp_view(accessor, shape):
    return _bp_np.ctypeslib.as_array(accessor(), shape)


)";
  std::string load = cLoadParamsSymbol(prefix);
  os << "_bp_lib." << load << ".argtypes = [_bp_ct.c_char_p, "
     << "_bp_ct.c_char_p, _bp_ct.c_int64]\n_bp_lib." << load
     << ".restype = _bp_ct.c_int\n\n\n"
     << R"(def load_params(path):
    """Sets every param from a `bpc train --save` file, or none: a file that
    does not exist raises FileNotFoundError, one that does not set them all
    (or cannot be read) ValueError with the loader's PATH:LINE: message."""
    if not _bp_os.path.exists(path):
        raise _bp_b.FileNotFoundError(2, "No such file or directory", path)
    error = _bp_ct.create_string_buffer(4096)
    if _bp_lib.)"
     << load << R"((_bp_os.fsencode(path), error, 4096) != 0:
        raise _bp_b.ValueError(error.value.decode(errors="replace"))


)";
}

} // namespace

bool checkPythonNames(const ir::Module &m, DiagEngine &diags) {
  bool ok = true;
  for (auto &fp : m.functions)
    if (isExported(*fp) &&
        (pyName(fp->name) == "params" || pyName(fp->name) == "load_params" ||
         pyName(fp->name) == "train_step")) {
      diags.error(fp->loc, "fn '" + fp->name +
                               "' would hide the Python module's own '" +
                               fp->name + "' (--python); rename it");
      ok = false;
    }
  return ok;
}

/// `train_step(rows)` over `<prefix>_train_step`: rows (n, width) float64.
void writeTrainStep(const std::string &prefix, int64_t width,
                    std::ostream &os) {
  std::string sym = cTrainStepSymbol(prefix);
  os << "_bp_lib." << sym << ".argtypes = [_bp_f64p, _bp_ct.c_int64]\n"
     << "_bp_lib." << sym << ".restype = _bp_ct.c_double\n\n\n"
     << "def train_step(rows):\n"
     << "    \"\"\"One optimizer step of the train block on the rows of a "
        "(n, "
     << width
     << ") array,\n    laid out as its CSV data; returns their mean loss "
        "before the update.\n    The optimizer's state lives in the "
        "library. Calls "
     << sym << ".\"\"\"\n"
     << "    if _bp_b.isinstance(rows, _bp_np.ndarray) and rows.ndim == 2:\n"
     << "        shape = (rows.shape[0], " << width << ")\n"
     << "    else:\n        shape = (_bp_b.len(rows), " << width << ")\n"
     << "    if shape[0] < 1:\n"
     << "        raise _bp_b.ValueError(\"train_step: argument 'rows' has no "
        "rows\")\n"
     << "    rows = _bp_tensor(\"train_step\", \"rows\", rows, shape)\n"
     << "    return _bp_lib." << sym
     << "(rows.ctypes.data_as(_bp_f64p), shape[0])\n\n\n";
}

void writePythonModule(const ir::Module &m, const std::string &prefix,
                       const std::string &library, const std::string &source,
                       std::ostream &os, int64_t trainRowWidth) {
  writePreamble(prefix, library, source, os);
  for (auto &fp : m.functions)
    if (isExported(*fp))
      writeFunction(m, prefix, *fp, os);
  if (trainRowWidth > 0)
    writeTrainStep(prefix, trainRowWidth, os);
  writeParams(m, prefix, os);
}

} // namespace bp::codegen
