//===- Check.cpp - `bpc check`: derivatives vs finite differences ---------===//
//
// For every derived function, at 5 seeded random points (f64 arguments
// uniform in [0.2, 1.2], positive so that log/sqrt/lgamma are defined; int
// arguments in 1..4; params at their initial values), compare each derivative
// with a central finite difference of the base function, step
// h = 1e-6 * max(1, |x|). The error of one component is
// |ad - fd| / max(1, |fd|) (relative for large values, absolute near zero);
// a function fails above 1e-5. jvp is checked along a random tangent.
//
//===----------------------------------------------------------------------===//
#include "ad/Check.h"

#include "codegen/CodeGen.h"

#include <cmath>
#include <iomanip>
#include <ostream>

namespace bp::ad {
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

} // namespace

bool checkDerived(const ir::Module &m, const sema::Program &prog, JIT &jit,
                  std::ostream &os) {
  if (prog.derived.empty()) {
    os << "no derived functions to check\n";
    return true;
  }
  auto lookup = [&](const std::string &name) -> DynFn {
    auto addr = jit.lookup(codegen::dynamicSymbol(name));
    if (!addr) {
      llvm::consumeError(addr.takeError());
      return nullptr;
    }
    return reinterpret_cast<DynFn>(*addr);
  };
  bool allOk = true;
  Rng rng{12345};
  for (const sema::DerivedInfo &d : prog.derived) {
    const ir::Function *base = m.lookup(d.base);
    DynFn derived = lookup(d.name), basefn = lookup(d.base);
    if (!base || !derived || !basefn) {
      os << d.name << ": skipped (tensor arguments are not supported yet)\n";
      continue;
    }
    size_t n = base->args().size();
    std::vector<double *> paramAddr;
    for (auto &v : d.wrt) {
      double *p = nullptr;
      if (v.isParam) {
        auto addr = jit.lookup(codegen::paramSymbol(v.name));
        if (addr)
          p = static_cast<double *>(*addr);
        else
          llvm::consumeError(addr.takeError());
      }
      paramAddr.push_back(p);
    }
    double worst = 0;
    for (int point = 0; point < 5; ++point) {
      std::vector<double> x(n), out(8 + 2 * n), tangents(d.wrt.size());
      for (size_t i = 0; i < n; ++i) {
        const Type *t = base->args()[i]->type;
        x[i] = t->isInt()    ? 1 + (int)(rng.uniform() * 4)
               : t->isBool() ? (rng.uniform() < 0.5)
                             : 0.2 + rng.uniform();
      }
      auto f = [&](const std::vector<double> &args) {
        std::vector<double> r(8);
        basefn(args.data(), r.data());
        return r[0];
      };
      // Value of the variable k and a way to move it by `delta`.
      auto shift = [&](size_t k, std::vector<double> &args, double delta) {
        if (d.wrt[k].isParam)
          *paramAddr[k] += delta;
        else
          args[d.wrt[k].argIndex] += delta;
      };
      auto valueOf = [&](size_t k) {
        return d.wrt[k].isParam ? *paramAddr[k] : x[d.wrt[k].argIndex];
      };
      std::vector<double> ad, fd;
      if (d.kind == sema::DerivKind::Jvp) {
        std::vector<double> in = x;
        for (size_t k = 0; k < d.wrt.size(); ++k) {
          tangents[k] = rng.uniform() * 2 - 1;
          in.push_back(tangents[k]);
        }
        derived(in.data(), out.data());
        ad.push_back(out[1]);
        double h = 1e-6;
        for (size_t k = 0; k < d.wrt.size(); ++k)
          h = std::max(h, 1e-6 * std::fabs(valueOf(k)));
        std::vector<double> xp = x, xm = x;
        for (size_t k = 0; k < d.wrt.size(); ++k)
          shift(k, xp, h * tangents[k]);
        double fp = f(xp);
        for (size_t k = 0; k < d.wrt.size(); ++k)
          shift(k, xp, -h * tangents[k]); // restores params
        for (size_t k = 0; k < d.wrt.size(); ++k)
          shift(k, xm, -h * tangents[k]);
        double fm = f(xm);
        for (size_t k = 0; k < d.wrt.size(); ++k)
          shift(k, xm, h * tangents[k]);
        fd.push_back((fp - fm) / (2 * h));
      } else {
        derived(x.data(), out.data());
        size_t first = d.kind == sema::DerivKind::ValueAndGrad ? 1 : 0;
        for (size_t k = 0; k < d.wrt.size(); ++k) {
          ad.push_back(out[first + k]);
          double h = 1e-6 * std::max(1.0, std::fabs(valueOf(k)));
          std::vector<double> xp = x, xm = x;
          shift(k, xp, h);
          double fp = f(xp);
          shift(k, xp, -h);
          shift(k, xm, -h);
          double fm = f(xm);
          shift(k, xm, h);
          fd.push_back((fp - fm) / (2 * h));
        }
      }
      for (size_t k = 0; k < ad.size(); ++k) {
        double err = std::fabs(ad[k] - fd[k]) / std::max(1.0, std::fabs(fd[k]));
        if (std::isnan(err) && !(std::isnan(ad[k]) && std::isnan(fd[k])))
          err = INFINITY;
        worst = std::max(worst, std::isnan(err) ? 0.0 : err);
      }
    }
    bool ok = worst <= tolerance;
    allOk &= ok;
    os << d.name;
    std::string how = std::string(sema::spelling(d.kind)) + "(" + d.base;
    for (auto &v : d.wrt)
      how += ", " + v.name;
    how += ")";
    if (how != d.name)
      os << " = " << how;
    os << ": max error " << std::scientific << std::setprecision(2) << worst
       << std::defaultfloat << (ok ? "  ok" : "  FAILED (tolerance 1e-05)")
       << '\n';
  }
  return allOk;
}

} // namespace bp::ad
