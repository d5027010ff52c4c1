//===- Check.cpp - `bpc check`: derivatives vs finite differences ---------===//
//
// For every derived function, at 5 seeded random points (f64 arguments and
// tensor elements uniform in [0.2, 1.2], positive so that log/sqrt/lgamma
// are defined; int arguments in 1..4; params at their initial values),
// compare each derivative with a central finite difference of the base
// function, step h = 1e-6 * max(1, |x|). For tensors, up to 16 elements per
// variable are checked. The error of one component is
// |ad - fd| / max(1, |fd|) (relative for large values, absolute near zero);
// a function fails above 1e-5. jvp is checked along a random tangent, on
// every element of its result. vmap is checked against the base called on
// each example of a random batch: every element of every result.
//
// Functions are called through their `bp.dyn.*` wrappers: every argument
// and result flattened into one array of doubles.
//
//===----------------------------------------------------------------------===//
#include "driver/Check.h"

#include "codegen/CodeGen.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <ostream>

namespace bp {
namespace {

using DynFn = void (*)(const double *, double *);

struct Rng {
  uint64_t s;
  double uniform() {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return (s >> 11) * 0x1.0p-53;
  }
};

constexpr double tolerance = 1e-5;
constexpr int64_t maxElementsPerVariable = 16;

int64_t sizeOf(const Type *t) { return t->isTensor() ? t->numElements() : 1; }

/// One differentiated variable: where its elements live.
struct Var {
  double *data; // into the argument vector or the param's global
  int64_t size;
};

/// One derived function under check: its compiled base and derivative, the
/// layout of the flattened arguments and results, and the worst error seen.
struct Checker {
  const ir::DerivedInfo &d;
  const ir::Function *base;
  DynFn derived, basefn;
  Rng &rng;
  std::vector<int64_t> argOffset;
  int64_t nIn = 0, nResult = 0, nDerivedOut = 0;
  double worst = 0;

  Checker(const ir::DerivedInfo &d, const ir::Function *base,
          const ir::Function *derivedIR, DynFn derived, DynFn basefn, Rng &rng)
      : d(d), base(base), derived(derived), basefn(basefn), rng(rng) {
    for (auto &a : base->args()) {
      argOffset.push_back(nIn);
      nIn += sizeOf(a->type);
    }
    for (const Type *t : base->resultTypes)
      nResult += sizeOf(t);
    for (const Type *t : derivedIR->resultTypes)
      nDerivedOut += sizeOf(t);
  }

  /// Random arguments: ints in 1..4, bools, reals in [0.2, 1.2].
  std::vector<double> randomArgs() {
    std::vector<double> x(nIn);
    for (size_t i = 0; i < base->args().size(); ++i) {
      const Type *t = base->args()[i]->type;
      for (int64_t k = 0; k < sizeOf(t); ++k)
        x[argOffset[i] + k] = t->isInt()    ? 1 + (int)(rng.uniform() * 4)
                              : t->isBool() ? (rng.uniform() < 0.5)
                                            : 0.2 + rng.uniform();
    }
    return x;
  }

  /// Where each differentiated variable lives: in `x` or a param's global.
  std::vector<Var> variables(JIT &jit, std::vector<double> &x) const {
    std::vector<Var> vars;
    for (auto &v : d.wrt) {
      if (v.isParam) {
        auto *data =
            static_cast<double *>(jit.find(codegen::paramSymbol(v.name)));
        vars.push_back({data, data ? sizeOf(v.type) : 0});
      } else {
        vars.push_back({x.data() + argOffset[v.argIndex], sizeOf(v.type)});
      }
    }
    return vars;
  }

  void evalBase(const std::vector<double> &x, std::vector<double> &r) {
    r.assign(std::max<int64_t>(nResult, 1), 0);
    basefn(x.data(), r.data());
  }

  void record(double ad, double fd) {
    double err = std::fabs(ad - fd) / std::max(1.0, std::fabs(fd));
    if (std::isnan(err))
      err = std::isnan(ad) && std::isnan(fd) ? 0 : INFINITY;
    worst = std::max(worst, err);
  }

  /// jvp: along a random tangent, every element of the result against a
  /// central difference of the base along the same tangent.
  void checkJvp(std::vector<double> &x, std::vector<Var> &vars) {
    std::vector<double> out(std::max<int64_t>(nDerivedOut, 1));
    std::vector<double> rp, rm;
    std::vector<double> in = x;
    std::vector<std::vector<double>> tangents;
    double h = 1e-6;
    for (auto &v : vars) {
      tangents.emplace_back();
      for (int64_t k = 0; k < v.size; ++k) {
        tangents.back().push_back(rng.uniform() * 2 - 1);
        in.push_back(tangents.back().back());
        h = std::max(h, 1e-6 * std::fabs(v.data[k]));
      }
    }
    // The derived function reads the arguments before the perturbation.
    std::vector<double> xin = in;
    for (size_t j = 0; j < vars.size(); ++j)
      if (!d.wrt[j].isParam)
        vars[j].data = x.data() + argOffset[d.wrt[j].argIndex];
    derived(xin.data(), out.data());
    auto move = [&](double s) {
      for (size_t j = 0; j < vars.size(); ++j)
        for (int64_t k = 0; k < vars[j].size; ++k)
          vars[j].data[k] += s * tangents[j][k];
    };
    move(h);
    evalBase(x, rp);
    move(-2 * h);
    evalBase(x, rm);
    move(h);
    for (int64_t k = 0; k < nResult; ++k)
      record(out[nResult + k], (rp[k] - rm[k]) / (2 * h));
  }

  /// vmap: random batched arguments, each example's results against the
  /// base called on that example.
  void checkVmap() {
    std::vector<int64_t> size(base->args().size()), offset;
    std::vector<bool> batched(base->args().size(), false);
    for (auto &v : d.wrt)
      batched[v.argIndex] = true;
    int64_t total = 0;
    for (size_t i = 0; i < size.size(); ++i) {
      size[i] = sizeOf(base->args()[i]->type);
      offset.push_back(total);
      total += batched[i] ? d.batch * size[i] : size[i];
    }
    std::vector<double> in(total);
    for (size_t i = 0; i < size.size(); ++i)
      for (int64_t e = 0; e < (batched[i] ? d.batch : 1); ++e) {
        std::vector<double> x = randomArgs(); // fresh values per example
        std::copy_n(x.begin() + argOffset[i], size[i],
                    in.begin() + offset[i] + e * size[i]);
      }
    std::vector<double> out(std::max<int64_t>(nDerivedOut, 1)), r;
    derived(in.data(), out.data());
    for (int64_t e = 0; e < d.batch; ++e) {
      std::vector<double> x(nIn);
      for (size_t i = 0; i < size.size(); ++i)
        std::copy_n(in.begin() + offset[i] + (batched[i] ? e * size[i] : 0),
                    size[i], x.begin() + argOffset[i]);
      evalBase(x, r);
      int64_t at = 0;
      for (const Type *t : base->resultTypes) {
        for (int64_t k = 0; k < sizeOf(t); ++k)
          record(out[at * d.batch + e * sizeOf(t) + k], r[at + k]);
        at += sizeOf(t);
      }
    }
  }

  /// grad, value_and_grad: up to 16 elements per variable, each against a
  /// central difference of the base's (first) result.
  void checkGradient(std::vector<double> &x, std::vector<Var> &vars) {
    std::vector<double> out(std::max<int64_t>(nDerivedOut, 1));
    std::vector<double> rp, rm;
    derived(x.data(), out.data());
    int64_t pos = d.kind == ir::DerivKind::ValueAndGrad ? 1 : 0;
    for (auto &v : vars) {
      int64_t count = std::min(v.size, maxElementsPerVariable);
      for (int64_t c = 0; c < count; ++c) {
        int64_t k = v.size <= maxElementsPerVariable
                        ? c
                        : (int64_t)(rng.uniform() * v.size);
        double old = v.data[k];
        double h = 1e-6 * std::max(1.0, std::fabs(old));
        v.data[k] = old + h;
        evalBase(x, rp);
        v.data[k] = old - h;
        evalBase(x, rm);
        v.data[k] = old;
        record(out[pos + k], (rp[0] - rm[0]) / (2 * h));
      }
      pos += v.size;
    }
  }
};

/// `name = grad(base, x): max error 1.23e-09  ok`.
void printResult(std::ostream &os, const ir::DerivedInfo &d, double worst,
                 bool ok) {
  os << d.name;
  std::string how = std::string(ir::spelling(d.kind)) + "(" + d.base;
  if (d.kind == ir::DerivKind::Vmap)
    how += ", " + std::to_string(d.batch);
  for (auto &v : d.wrt)
    how += ", " + v.name;
  how += ")";
  if (how != d.name)
    os << " = " << how;
  os << ": max error " << std::scientific << std::setprecision(2) << worst
     << std::defaultfloat << (ok ? "  ok" : "  FAILED (tolerance 1e-05)")
     << '\n';
}

} // namespace

bool checkDerived(const ir::Module &m, JIT &jit, std::ostream &os) {
  if (m.derived.empty()) {
    os << "no derived functions to check\n";
    return true;
  }
  auto lookup = [&](const std::string &name) {
    return reinterpret_cast<DynFn>(jit.find(codegen::dynamicSymbol(name)));
  };
  bool allOk = true;
  Rng rng{12345};
  for (const ir::DerivedInfo &d : m.derived) {
    const ir::Function *base = m.lookup(d.base);
    const ir::Function *derivedIR = m.lookup(d.name);
    DynFn derived = lookup(d.name), basefn = lookup(d.base);
    if (!base || !derivedIR || !derived || !basefn)
      continue;
    Checker check(d, base, derivedIR, derived, basefn, rng);
    for (int point = 0; point < 5; ++point) {
      std::vector<double> x = check.randomArgs();
      std::vector<Var> vars = check.variables(jit, x);
      if (d.kind == ir::DerivKind::Vmap)
        check.checkVmap();
      else if (d.kind == ir::DerivKind::Jvp)
        check.checkJvp(x, vars);
      else
        check.checkGradient(x, vars);
    }
    bool ok = check.worst <= tolerance;
    allOk &= ok;
    printResult(os, d, check.worst, ok);
  }
  return allOk;
}

} // namespace bp
