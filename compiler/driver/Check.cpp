//===- Check.cpp - `bpc check`: derivatives vs finite differences ---------===//
//
// For every derived function, at 5 seeded random points (f64 arguments and
// tensor elements uniform in [0.2, 1.2], positive so that log/sqrt/lgamma
// are defined; int arguments in 1..4; params at their initial values),
// compare each derivative with a central finite difference of the base
// function, step h = 1e-6 * max(1, |x|). `--at a=1,b=2` fixes the named
// arguments (every element of a tensor one); a function whose arguments
// are all fixed is checked at that one point. For tensors, up to 16
// elements per variable are checked.
//
// The error of one component is |ad - fd| / scale with
//   scale = max(|fd|, min(1, noise / 1e-5)),
//   noise = 64 eps max(|f(x+h)|, |f(x-h)|) / h,
// noise being what rounding in the two evaluations of f can put into the
// central difference: relative for derivatives that finite differences
// resolve (a wrong derivative of size 1e-7 fails), absolute (at most as
// strict as 1e-5) only where they cannot. A function fails above 1e-5.
// jvp is checked along a random tangent, on every element of its result.
// vmap is checked against the base called on each example of a random
// batch: every element of every result, |a - b| / max(1, |b|).
//
// A grad, value_and_grad or jvp whose base uses stop_gradient (itself or
// through a call) is skipped: its mismatch with finite differences is what
// stop_gradient means. (The stop_gradient that logsumexp and softmax put
// over their max changes no derivative and is not counted.)
//
// Each derived function is checked in a child process (fork) that the
// parent waits for at most --timeout seconds (default 10) and then kills:
// generated code cannot be interrupted, and a thread left running would
// keep writing the params the next checks read. The child sends back the
// worst error and the random generator's state, so the points are those of
// one process; a runtime error in the child (exit status 3) ends the check
// with that status, as it would without the child.
//
// Functions are called through their `bp.dyn.*` wrappers: every argument
// and result flattened into one array of doubles.
//
//===----------------------------------------------------------------------===//
#include "driver/Check.h"

#include "codegen/CodeGen.h"
#include "support/Diagnostics.h"

#include "llvm/ADT/STLExtras.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cfloat>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iomanip>
#include <iostream>
#include <optional>
#include <ostream>
#include <set>
#include <sstream>

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
/// Rounding error of one evaluation of f, in units of eps * |f| (a bound
/// for the short expressions of typical programs, with a margin).
constexpr double evalUlps = 64;

int64_t sizeOf(const Type *t) { return t->isTensor() ? t->numElements() : 1; }

/// The scale below which finite differences with step h cannot tell
/// derivatives apart, for values fp = f(x+h) and fm = f(x-h).
double resolution(double fp, double fm, double h) {
  double noise =
      evalUlps * DBL_EPSILON * std::max(std::fabs(fp), std::fabs(fm)) / h;
  return std::min(1.0, noise / tolerance);
}

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
  /// Per argument of the base: the value --at gives it, if any.
  std::vector<std::optional<double>> fixed;
  /// Per wrt variable: a param's global (looked up before the fork), or
  /// null for an argument.
  std::vector<double *> paramData;
  int64_t nIn = 0, nResult = 0, nDerivedOut = 0;
  double worst = 0;
  /// Checking a custom rule (section 15) as a vjp (adjoint) or jvp
  /// (tangent) over all of f's f64 arguments: its results are the
  /// derivatives alone, without f's value first.
  bool rule = false;

  Checker(const ir::DerivedInfo &d, const ir::Function *base,
          const ir::Function *derivedIR, DynFn derived, DynFn basefn, Rng &rng)
      : d(d), base(base), derived(derived), basefn(basefn), rng(rng) {
    for (auto &a : base->args()) {
      argOffset.push_back(nIn);
      nIn += sizeOf(a->type);
    }
    fixed.resize(base->args().size());
    for (const Type *t : base->resultTypes)
      nResult += sizeOf(t);
    for (const Type *t : derivedIR->resultTypes)
      nDerivedOut += sizeOf(t);
  }

  /// Random arguments: ints in 1..4, int tensor elements 0 or 1 (indices
  /// that any gather of two or more rows accepts), bools, reals in [0.2,
  /// 1.2]; those that --at names take its value.
  std::vector<double> randomArgs() {
    std::vector<double> x(nIn);
    for (size_t i = 0; i < base->args().size(); ++i) {
      const Type *t = base->args()[i]->type;
      for (int64_t k = 0; k < sizeOf(t); ++k)
        x[argOffset[i] + k] = t->isInt()         ? 1 + (int)(rng.uniform() * 4)
                              : t->isIntTensor() ? (int)(rng.uniform() * 2)
                              : t->isBool()      ? (rng.uniform() < 0.5)
                                                 : 0.2 + rng.uniform();
      if (fixed[i])
        std::fill_n(x.begin() + argOffset[i], sizeOf(t), *fixed[i]);
    }
    return x;
  }

  /// Where each differentiated variable lives: in `x` or a param's global.
  std::vector<Var> variables(std::vector<double> &x) const {
    std::vector<Var> vars;
    for (size_t j = 0; j < d.wrt.size(); ++j) {
      const ir::WrtVar &v = d.wrt[j];
      if (v.isParam)
        vars.push_back({paramData[j], paramData[j] ? sizeOf(v.type) : 0});
      else
        vars.push_back({x.data() + argOffset[v.argIndex], sizeOf(v.type)});
    }
    return vars;
  }

  void evalBase(const std::vector<double> &x, std::vector<double> &r) {
    r.assign(std::max<int64_t>(nResult, 1), 0);
    basefn(x.data(), r.data());
  }

  /// The base at element k of `v` moved by +h (into rp) and -h (into rm),
  /// the element restored; returns h (1e-6, relative above 1).
  double evalAround(const std::vector<double> &x, Var &v, int64_t k,
                    std::vector<double> &rp, std::vector<double> &rm) {
    double old = v.data[k];
    double h = 1e-6 * std::max(1.0, std::fabs(old));
    v.data[k] = old + h;
    evalBase(x, rp);
    v.data[k] = old - h;
    evalBase(x, rm);
    v.data[k] = old;
    return h;
  }

  /// `ad` against `fd`, relative above `floor` and absolute below it.
  void record(double ad, double fd, double floor) {
    double diff = std::fabs(ad - fd);
    double err =
        diff == 0 ? 0 : diff / std::max({std::fabs(fd), floor, DBL_MIN});
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
      record(out[(rule ? 0 : nResult) + k], (rp[k] - rm[k]) / (2 * h),
             resolution(rp[k], rm[k], h));
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
          record(out[at * d.batch + e * sizeOf(t) + k], r[at + k], 1.0);
        at += sizeOf(t);
      }
    }
  }

  /// checkpoint(f): every result element against f's at the same point.
  void checkSameValues(std::vector<double> &x) {
    std::vector<double> out(std::max<int64_t>(nDerivedOut, 1)), r;
    derived(x.data(), out.data());
    evalBase(x, r);
    for (int64_t k = 0; k < nDerivedOut; ++k)
      record(out[k], r[k], 1.0);
  }

  /// grad, value_and_grad: up to 16 elements per variable, each against a
  /// central difference of the base's (first) result.
  void checkGradient(std::vector<double> &x, std::vector<Var> &vars) {
    std::vector<double> out(std::max<int64_t>(nDerivedOut, 1));
    std::vector<double> rp, rm;
    derived(x.data(), out.data());
    int64_t pos = d.kind == ir::DerivKind::ValueAndGrad ? 1 : 0;
    for (auto &v : vars) {
      for (int64_t k : sample(v)) {
        double h = evalAround(x, v, k, rp, rm);
        record(out[pos + k], (rp[0] - rm[0]) / (2 * h),
               resolution(rp[0], rm[0], h));
      }
      pos += v.size;
    }
  }

  /// The elements of a variable to perturb: all of them, or 16 at random.
  std::vector<int64_t> sample(const Var &v) {
    std::vector<int64_t> ks;
    int64_t count = std::min(v.size, maxElementsPerVariable);
    for (int64_t c = 0; c < count; ++c)
      ks.push_back(v.size <= maxElementsPerVariable
                       ? c
                       : (int64_t)(rng.uniform() * v.size));
    return ks;
  }

  /// jacobian: column k (result shape ++ the variable's, row-major) against
  /// a central difference of every result element along element k.
  /// vjp: a random cotangent c; each g_k against the central difference of
  /// sum_i c_i f_i(x) along element k.
  void checkJacobianOrVjp(std::vector<double> &x, std::vector<Var> &vars) {
    bool vjp = d.kind == ir::DerivKind::Vjp;
    std::vector<double> cot, in = x;
    if (vjp)
      for (int64_t i = 0; i < nResult; ++i) {
        cot.push_back(rng.uniform() * 2 - 1);
        in.push_back(cot.back());
      }
    std::vector<double> out(std::max<int64_t>(nDerivedOut, 1)), rp, rm;
    derived(in.data(), out.data());
    int64_t pos = vjp && !rule ? nResult : 0;
    for (auto &v : vars) {
      for (int64_t k : sample(v)) {
        double h = evalAround(x, v, k, rp, rm);
        if (vjp) {
          double p = 0, q = 0;
          for (int64_t i = 0; i < nResult; ++i) {
            p += cot[i] * rp[i];
            q += cot[i] * rm[i];
          }
          record(out[pos + k], (p - q) / (2 * h), resolution(p, q, h));
        } else {
          for (int64_t i = 0; i < nResult; ++i)
            record(out[i * v.size + k], (rp[i] - rm[i]) / (2 * h),
                   resolution(rp[i], rm[i], h));
        }
      }
      pos += v.size;
    }
  }

  /// hessian: H[k, l] against the second central difference of f along
  /// elements k and l (h = 1e-4: the error is O(h^2) plus rounding of
  /// order eps |f| / h^2, which sets the floor).
  void checkHessian(std::vector<double> &x, std::vector<Var> &vars) {
    std::vector<double> out(std::max<int64_t>(nDerivedOut, 1)), r;
    derived(x.data(), out.data());
    Var &v = vars[0];
    auto at = [&](int64_t k, double hk, int64_t l, double hl) {
      double ok = v.data[k];
      v.data[k] += hk;
      double ol = v.data[l];
      v.data[l] += hl;
      evalBase(x, r);
      v.data[l] = ol;
      v.data[k] = ok;
      return r[0];
    };
    for (int64_t k : sample(v))
      for (int64_t l : sample(v)) {
        double hk = 1e-4 * std::max(1.0, std::fabs(v.data[k]));
        double hl = 1e-4 * std::max(1.0, std::fabs(v.data[l]));
        double pp = at(k, hk, l, hl), pm = at(k, hk, l, -hl);
        double mp = at(k, -hk, l, hl), mm = at(k, -hk, l, -hl);
        double fd = (pp - pm - mp + mm) / (4 * hk * hl);
        double big = std::max(
            {std::fabs(pp), std::fabs(pm), std::fabs(mp), std::fabs(mm)});
        double noise = evalUlps * DBL_EPSILON * big / (hk * hl);
        record(out[k * v.size + l], fd, std::min(1.0, noise / tolerance));
      }
  }

  /// The worst error over the points.
  double run(int points) {
    for (int point = 0; point < points; ++point) {
      std::vector<double> x = randomArgs();
      std::vector<Var> vars = variables(x);
      if (d.kind == ir::DerivKind::Vmap)
        checkVmap();
      else if (d.kind == ir::DerivKind::Jvp)
        checkJvp(x, vars);
      else if (d.kind == ir::DerivKind::Jacobian ||
               d.kind == ir::DerivKind::Vjp)
        checkJacobianOrVjp(x, vars);
      else if (d.kind == ir::DerivKind::Hessian)
        checkHessian(x, vars);
      else if (d.kind == ir::DerivKind::Checkpoint)
        checkSameValues(x);
      else
        checkGradient(x, vars);
    }
    return worst;
  }
};

/// vmap and checkpoint are compared by value, which stop_gradient keeps.
bool comparedByValue(const ir::DerivedInfo &d) {
  return d.kind == ir::DerivKind::Vmap || d.kind == ir::DerivKind::Checkpoint;
}

/// `grad(base, x)` as the user wrote it.
std::string derivedForm(const ir::DerivedInfo &d) {
  std::string how = std::string(ir::spelling(d.kind)) + "(" + d.base;
  if (d.kind == ir::DerivKind::Vmap)
    how += ", " + std::to_string(d.batch);
  for (auto &v : d.wrt)
    how += ", " + v.name;
  return how + ")";
}

/// `name = grad(base, x)`, or the form alone for an inline one.
std::string title(const ir::DerivedInfo &d) {
  if (d.name.rfind("adjoint ", 0) == 0 || d.name.rfind("tangent ", 0) == 0)
    return d.name; // a custom rule
  std::string how = derivedForm(d);
  return how == d.name ? how : d.name + " = " + how;
}

/// `name = grad(base, x): max error 1.23e-09  ok`.
void printResult(std::ostream &os, const ir::DerivedInfo &d, double worst,
                 bool ok) {
  os << title(d) << ": max error " << std::scientific << std::setprecision(2)
     << worst << std::defaultfloat
     << (ok ? "  ok" : "  FAILED (tolerance 1e-05)") << '\n';
}

/// A stop_gradient the user wrote in `fn` or a function it calls, and the
/// function it is in. The one over a reduce_max is logsumexp's or
/// softmax's (IRGen's lsePieces, the only maker of reduce_max): it changes
/// no derivative.
struct StopGradientUse {
  std::string fn;
  Loc loc;
};
std::optional<StopGradientUse> findStopGradient(const ir::Module &m,
                                                const std::string &fn,
                                                std::set<std::string> &seen) {
  const ir::Function *f = m.lookup(fn);
  if (!f || !seen.insert(fn).second)
    return std::nullopt;
  std::function<std::optional<StopGradientUse>(const ir::Block &)> walk =
      [&](const ir::Block &b) -> std::optional<StopGradientUse> {
    for (const auto &op : b.ops) {
      if (op->kind == ir::OpKind::StopGrad &&
          !(op->operands[0]->def &&
            op->operands[0]->def->kind == ir::OpKind::ReduceMax))
        return StopGradientUse{fn, op->loc};
      if (op->kind == ir::OpKind::Call)
        if (auto use = findStopGradient(m, op->callee(), seen))
          return use;
      for (const auto &r : op->regions)
        if (auto use = walk(*r))
          return use;
    }
    return std::nullopt;
  };
  return walk(*f->body);
}

/// How the check of one derived function ended in its child process.
struct Outcome {
  enum Kind { Done, TimedOut, Exited, Signalled, NoProcess } kind = Done;
  double worst = 0;
  int status = 0; // Exited: the exit status; Signalled: the signal
};

/// Runs `work` in a child process, for at most `timeout` seconds. The
/// child's random generator state comes back into `rng`.
Outcome isolated(double timeout, Rng &rng,
                 const std::function<double()> &work) {
  struct Result {
    double worst;
    uint64_t rng;
  };
  std::cout.flush();
  fflush(stdout);
  fflush(stderr);
  int fds[2];
  if (pipe(fds) != 0)
    return {Outcome::NoProcess};
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return {Outcome::NoProcess};
  }
  if (pid == 0) {
    close(fds[0]);
    Result r{work(), 0};
    r.rng = rng.s;
    std::cout.flush();
    fflush(stdout);
    ssize_t n = write(fds[1], &r, sizeof r);
    _exit(n == (ssize_t)sizeof r ? 0 : 2);
  }
  close(fds[1]);
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout);
  Result r{};
  size_t got = 0;
  bool timedOut = false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      timedOut = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    int ready = poll(&p, 1, (int)std::min<long long>(left, 1 << 30));
    if (ready < 0 && errno == EINTR)
      continue;
    if (ready == 0)
      continue; // the deadline is checked above
    ssize_t n = ready < 0 ? -1
                          : read(fds[0], reinterpret_cast<char *>(&r) + got,
                                 sizeof r - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break; // end of file: the child has exited
    got += n;
    if (got == sizeof r)
      break;
  }
  close(fds[0]);
  if (timedOut)
    kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timedOut)
    return {Outcome::TimedOut};
  if (got == sizeof r && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    rng.s = r.rng;
    return {Outcome::Done, r.worst};
  }
  if (WIFSIGNALED(status))
    return {Outcome::Signalled, 0, WTERMSIG(status)};
  return {Outcome::Exited, 0, WIFEXITED(status) ? WEXITSTATUS(status) : 1};
}

std::string seconds(double s) {
  std::ostringstream os;
  os << s << " s";
  return os.str();
}

/// `--at`: every name an argument of a checked base; an int's value an
/// integer, a bool's 0 or 1. False after reporting.
bool checkAt(const ir::Module &m, const CheckOptions &o) {
  std::vector<std::string> names;
  for (const ir::DerivedInfo &d : m.derived)
    if (const ir::Function *base = m.lookup(d.base))
      for (auto &a : base->args())
        if (!llvm::is_contained(names, a->name))
          names.push_back(a->name);
  auto usage = [](const std::string &problem) {
    std::cout.flush();
    std::cerr << "bpc: error: " << problem << "\nsee 'bpc check --help'\n";
    return false;
  };
  for (auto &[name, value] : o.at) {
    std::ostringstream item;
    item << "--at " << name << "=" << value << ": ";
    if (!llvm::is_contained(names, name))
      return usage(item.str() +
                   "no function that check differentiates has an "
                   "argument '" +
                   name + "'" + didYouMean(name, names));
    for (const ir::DerivedInfo &d : m.derived)
      if (const ir::Function *base = m.lookup(d.base))
        for (auto &a : base->args()) {
          if (a->name != name)
            continue;
          if (a->type->isIntLike() && value != std::trunc(value))
            return usage(item.str() + "'" + name + "' is an int argument of '" +
                         d.base + "' (needs an integer)");
          if (a->type->isBool() && value != 0 && value != 1)
            return usage(item.str() + "'" + name + "' is a bool argument of '" +
                         d.base + "' (needs 0 or 1)");
        }
  }
  return true;
}

} // namespace

ExitCode checkDerived(const ir::Module &m, JIT &jit, std::ostream &os,
                      const CheckOptions &o) {
  if (!checkAt(m, o))
    return ExitCode::Usage;
  auto lookup = [&](const std::string &name) {
    return reinterpret_cast<DynFn>(jit.find(codegen::dynamicSymbol(name)));
  };
  auto where = [&](Loc loc) {
    return m.sourcePath + ":" + std::to_string(loc.line) + ":" +
           std::to_string(loc.col);
  };
  bool allOk = true;
  Rng rng{12345};
  // Each custom rule of f (section 15) is checked against finite
  // differences of f, as the vjp (adjoint) or jvp (tangent) of f w.r.t.
  // all its f64 arguments; `ruleIR` names the rule's function.
  std::vector<ir::DerivedInfo> rules;
  std::map<std::string, std::string> ruleIR;
  for (auto &fp : m.functions) {
    const ir::Function &f = *fp;
    if (!f.derivedFrom.empty())
      continue;
    bool f64Results = !f.resultTypes.empty();
    for (const Type *t : f.resultTypes)
      f64Results &= t->isDifferentiable();
    for (const char *kind : {"adjoint", "tangent"}) {
      const ir::Function *r = m.lookup(f.name + "." + kind);
      if (!r || !f64Results)
        continue;
      ir::DerivedInfo d;
      d.name = std::string(kind) + " " + f.name;
      d.kind = kind[0] == 'a' ? ir::DerivKind::Vjp : ir::DerivKind::Jvp;
      d.base = f.name;
      d.loc = r->loc;
      for (size_t i = 0; i < f.args().size(); ++i)
        if (f.args()[i]->type->isDifferentiable())
          d.wrt.push_back(
              {false, (unsigned)i, f.args()[i]->name, f.args()[i]->type});
      if (d.wrt.empty())
        continue;
      ruleIR[d.name] = r->name;
      rules.push_back(d);
    }
  }
  if (m.derived.empty() && rules.empty()) {
    os << "no derived functions to check\n";
    return ExitCode::Success;
  }
  std::vector<const ir::DerivedInfo *> all;
  for (const ir::DerivedInfo &d : m.derived)
    all.push_back(&d);
  for (const ir::DerivedInfo &d : rules)
    all.push_back(&d);
  for (size_t k = 0; k < all.size(); ++k) {
    const ir::DerivedInfo &d = *all[k];
    bool isRule = k >= m.derived.size();
    std::string irName = isRule ? ruleIR[d.name] : d.name;
    const ir::Function *base = m.lookup(d.base);
    const ir::Function *derivedIR = m.lookup(irName);
    DynFn derived = lookup(irName), basefn = lookup(d.base);
    if (!base || !derivedIR || !derived || !basefn)
      continue;
    std::set<std::string> seen;
    if (!comparedByValue(d) && !isRule)
      if (auto use = findStopGradient(m, d.base, seen)) {
        os << title(d) << ": skipped (" << use->fn << " uses stop_gradient at "
           << use->loc.line << ":" << use->loc.col
           << ", whose derivative differs from finite differences by "
              "design)\n";
        continue;
      }
    Checker check(d, base, derivedIR, derived, basefn, rng);
    check.rule = isRule;
    int fixedArgs = 0;
    for (size_t i = 0; i < base->args().size(); ++i)
      if (auto it = o.at.find(base->args()[i]->name); it != o.at.end()) {
        check.fixed[i] = it->second;
        ++fixedArgs;
      }
    for (const ir::WrtVar &v : d.wrt)
      check.paramData.push_back(v.isParam ? static_cast<double *>(jit.find(
                                                codegen::paramSymbol(v.name)))
                                          : nullptr);
    int points = fixedArgs == (int)base->args().size() ? 1 : 5;
    Outcome out = isolated(o.timeout, rng, [&] { return check.run(points); });
    switch (out.kind) {
    case Outcome::Done: {
      bool ok = out.worst <= tolerance;
      allOk &= ok;
      printResult(os, d, out.worst, ok);
      break;
    }
    case Outcome::TimedOut:
      allOk = false;
      os.flush();
      std::cerr << where(d.loc) << ": error: check of " << title(d)
                << " timed out after " << seconds(o.timeout)
                << " (--timeout)\n";
      break;
    case Outcome::Signalled:
      allOk = false;
      os.flush();
      std::cerr << where(d.loc) << ": error: check of " << title(d)
                << " ended by signal " << out.status << " ("
                << strsignal(out.status) << ")\n";
      break;
    case Outcome::Exited:
      // A runtime error, reported by the child: it ends the check.
      return out.status == (int)ExitCode::RuntimeError ? ExitCode::RuntimeError
                                                       : ExitCode::Usage;
    case Outcome::NoProcess:
      os.flush();
      std::cerr << "bpc: error: cannot start a process to check " << title(d)
                << ": " << strerror(errno) << '\n';
      return ExitCode::Usage;
    }
  }
  return allOk ? ExitCode::Success : ExitCode::CheckFailed;
}

} // namespace bp
