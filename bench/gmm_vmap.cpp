//===- gmm_vmap.cpp - GMM batched over points: BP's vmap vs hand-written -===//
//
// examples/gmm/gmm_vmap.bp (the per-point log-likelihood vmapped over the
// points), JIT-compiled as bench/gmm.cpp compiles gmm.bp, against the
// hand-written gradient vectorised over points (bench/GmmVecReference.h:
// OpenBLAS dgemm, libmvec) at two sizes: ADBench's gmm/1k/gmm_d10_K25.txt
// (../shared/data/adbench, or the path given as the first argument) and
// d64 K200 n1000 drawn from ADBench's distributions (gmmref::generate:
// ADBench's 1k set here has no d64 K200 file). Also timed for reference:
// bench/gmm_vmap_matmul.bp (vmap, with Q_k @ (x - mu_k) per point),
// gmm.bp (per point, BP) and gmmref::gmmPerPoint (per point, by hand).
// Every objective and gradient is checked against gmmPerPoint first.
// `--check` checks without timing and exits 1 above 1e-10 relative.
//
//===----------------------------------------------------------------------===//
#include "bench/Compile.h"
#include "bench/GmmReference.h"
#include "bench/GmmVecReference.h"

#include "bp_runtime.h"

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

extern "C" void openblas_set_num_threads(int);

namespace {

using gmmref::Input;

using Fwd = double (*)(const double *, const double *, const double *,
                       const double *, double, double);
using Grad = void (*)(const double *, const double *, const double *,
                      const double *, double, double, double *, double *,
                      double *);

constexpr double kTolerance = 1e-10;

/// `file` (under the checkout) without its D = 2 main, compiled for p's
/// sizes.
bench::Compiled compileExample(const char *file, const Input &p) {
  std::ifstream f(std::string(BP_SOURCE_DIR "/") + file);
  std::string src((std::istreambuf_iterator<char>(f)), {});
  src = src.substr(0, src.find("\nfn main()"));
  bp::sema::Options o;
  o.defines = {{"D", std::to_string(p.d)},
               {"K", std::to_string(p.k)},
               {"N", std::to_string(p.n)}};
  return bench::compile(src.c_str(), o);
}

/// One size: its input, BP's two programs, both hand-written versions.
struct Case {
  std::string name;
  Input in;
  double (*perPoint)(const Input &, double *);
  bench::Compiled vmap, vmapMatmul, point;
  std::unique_ptr<gmmvec::Gmm> vec;
  std::vector<double> gRef, gVec, gVmap, gVmapMatmul, gPoint;

  Case(std::string n, Input i, double (*pp)(const Input &, double *))
      : name(std::move(n)), in(std::move(i)), perPoint(pp),
        vmap(compileExample("examples/gmm/gmm_vmap.bp", in)),
        vmapMatmul(compileExample("bench/gmm_vmap_matmul.bp", in)),
        point(compileExample("examples/gmm/gmm.bp", in)),
        vec(std::make_unique<gmmvec::Gmm>(in)) {
    size_t size =
        in.k + size_t(in.k) * in.d + size_t(in.k) * in.d * (in.d + 1) / 2;
    gRef.resize(size), gVec.resize(size), gVmap.resize(size);
    gVmapMatmul.resize(size);
    gPoint.resize(size);
  }
  double bpForward(bench::Compiled &c) {
    return c.fn<Fwd>("gmm")(in.alphas.data(), in.means.data(), in.icf.data(),
                            in.x.data(), in.gamma, in.m);
  }
  void bpGrad(bench::Compiled &c, std::vector<double> &g) {
    c.fn<Grad>("dgmm")(in.alphas.data(), in.means.data(), in.icf.data(),
                       in.x.data(), in.gamma, in.m, g.data(), g.data() + in.k,
                       g.data() + in.k + in.k * in.d);
  }
};

double relative(double ref, double x) {
  return std::fabs(ref - x) / std::max(1.0, std::fabs(ref));
}

/// Prints each objective's and gradient's difference from the per-point
/// reference; true if all are within kTolerance.
bool check(Case &c) {
  double ref = c.perPoint(c.in, c.gRef.data());
  double vec = c.vec->evaluate(c.in, c.gVec.data());
  double vmap = c.bpForward(c.vmap), point = c.bpForward(c.point);
  c.bpGrad(c.vmap, c.gVmap);
  c.bpGrad(c.point, c.gPoint);
  double vmapMatmul = c.bpForward(c.vmapMatmul);
  c.bpGrad(c.vmapMatmul, c.gVmapMatmul);
  double vecObj = c.vec->evaluate(c.in, nullptr);
  struct Row {
    const char *what;
    double obj, grad;
  } rows[] = {
      {"hand-written vectorised",
       std::max(relative(ref, vec), relative(ref, vecObj)),
       gmmref::maxRelativeDifference(c.gRef, c.gVec)},
      {"BP gmm_vmap.bp", relative(ref, vmap),
       gmmref::maxRelativeDifference(c.gRef, c.gVmap)},
      {"BP gmm_vmap_matmul.bp", relative(ref, vmapMatmul),
       gmmref::maxRelativeDifference(c.gRef, c.gVmapMatmul)},
      {"BP gmm.bp", relative(ref, point),
       gmmref::maxRelativeDifference(c.gRef, c.gPoint)},
  };
  printf("%s: objective (hand-written per point) %.17g\n", c.name.c_str(), ref);
  bool ok = true;
  for (const Row &r : rows) {
    bool good = r.obj <= kTolerance && r.grad <= kTolerance;
    printf("  %-26s objective %.1e, gradient %.1e relative  %s\n", r.what,
           r.obj, r.grad, good ? "ok" : "DIFFERS (> 1e-10)");
    ok &= good;
  }
  return ok;
}

void registerCase(Case &c) {
  auto add = [&](const char *what, auto body) {
    std::string name = "BM_" + std::string(what) + "_" + c.name;
    benchmark::RegisterBenchmark(name.c_str(), [body](benchmark::State &s) {
      for (auto _ : s) {
        body();
        benchmark::ClobberMemory();
      }
    })->Unit(benchmark::kMicrosecond);
  };
  Case *p = &c;
  add("bp_vmap_forward",
      [p] { benchmark::DoNotOptimize(p->bpForward(p->vmap)); });
  add("bp_vmap_grad", [p] { p->bpGrad(p->vmap, p->gVmap); });
  add("vec_forward",
      [p] { benchmark::DoNotOptimize(p->vec->evaluate(p->in, nullptr)); });
  add("vec_grad", [p] { p->vec->evaluate(p->in, p->gVec.data()); });
  add("bp_vmap_matmul_grad", [p] { p->bpGrad(p->vmapMatmul, p->gVmapMatmul); });
  add("bp_point_grad", [p] { p->bpGrad(p->point, p->gPoint); });
  add("point_grad", [p] { p->perPoint(p->in, p->gRef.data()); });
}

void report(bench::RatioReporter &rep, const Case &c) {
  auto r = [&](const char *a, const char *b) {
    return rep.ratio(a + ("_" + c.name), b + ("_" + c.name));
  };
  double ratio = r("bp_vmap_grad", "vec_grad");
  printf("\nGMM %s (one run):\n", c.name.c_str());
  printf("  BP gmm_vmap.bp grad / vectorised hand-written grad  %6.2f   "
         "(target <= 1.2: %s)\n",
         ratio, ratio <= 1.2 ? "met" : "NOT met");
  printf("  BP gmm_vmap.bp grad / its forward                   %6.2f\n",
         r("bp_vmap_grad", "bp_vmap_forward"));
  printf("  vectorised hand-written grad / its forward          %6.2f\n",
         r("vec_grad", "vec_forward"));
  printf("  bench/gmm_vmap_matmul.bp grad / vectorised grad     %6.2f\n",
         r("bp_vmap_matmul_grad", "vec_grad"));
  printf("  BP gmm.bp (per point) grad / vectorised grad        %6.2f\n",
         r("bp_point_grad", "vec_grad"));
  printf("  hand-written per-point grad / vectorised grad       %6.2f\n",
         r("point_grad", "vec_grad"));
}

} // namespace

int main(int argc, char **argv) {
  benchmark::Initialize(&argc, argv);
  bool checkOnly = argc > 1 && !std::strcmp(argv[argc - 1], "--check");
  if (checkOnly)
    --argc;
  if (!gmmref::loadFromArgs(argc, argv))
    return 2;
  openblas_set_num_threads(1);
  std::vector<std::unique_ptr<Case>> cases;
  cases.push_back(std::make_unique<Case>("d10_K25_n1000", gmmref::in,
                                         gmmref::gmmPerPoint<10, 25>));
  cases.push_back(std::make_unique<Case>("d64_K200_n1000",
                                         gmmref::generate(64, 200, 1000),
                                         gmmref::gmmPerPoint<64, 200>));
  bool ok = true;
  for (auto &c : cases)
    ok &= check(*c);
  if (checkOnly)
    return ok ? 0 : 1;
  for (auto &c : cases)
    registerCase(*c);
  bench::RatioReporter rep;
  benchmark::RunSpecifiedBenchmarks(&rep);
  for (auto &c : cases)
    report(rep, *c);
  printf("  (agreement with the per-point reference: above, before timing)\n");
  return ok ? 0 : 1;
}
