//===- lstm.cpp - ADBench LSTM (l = 2, c = 1024, b = 14): BP vs hand-written
//-===//
//
// examples/lstm/lstm.bp, JIT-compiled, against a hand-written C++ objective
// and gradient w.r.t. the main and extra parameters (a forward pass that
// keeps every gate of every step, then one backward pass carrying the
// hidden and cell adjoints of each layer; the adjoint code is derived by
// hand). Data: ADBench's lstm/lstm_l2_c1024.txt
// (../shared/data/adbench, or the path given as the first argument); also
// the same model with 64-bit characters over 100 steps on random input.
// Prints the ratios and the number of allocations the generated gradient
// made inside the measured loop. The reference's exp/tanh loops call
// libmvec (bench/VecMath.h), as BP's generated code does.
//
//===----------------------------------------------------------------------===//
#include "bench/Compile.h"
#include "bench/VecMath.h"

#include "bp_runtime.h"

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Input {
  std::vector<double> main, extra, state, seq;
};

double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

/// The hand-written objective and gradient for L layers, C characters of B
/// bits.
template <int L, int C, int B> struct Model {
  static constexpr int NMAIN = 8 * L * B, NEXTRA = 3 * B;
  Input in;
  /// Everything the backward pass reads, per step and layer.
  struct Step {
    double x[B], h[B], c[B], f[B], i[B], o[B], g[B], th[B];
  };
  std::vector<Step> tape = std::vector<Step>((C - 1) * L);
  std::vector<double> ys = std::vector<double>((C - 1) * B),
                      xl = std::vector<double>((C - 1) * B);

  /// The objective and (if grad != nullptr) its gradient w.r.t. main then
  /// extra (ADBench's order). Only the gradient keeps the gates.
  __attribute__((noinline)) double run(double *grad) {
    return grad ? impl<true>(grad) : impl<false>(nullptr);
  }

  template <bool Keep> double impl(double *grad) {
    const Input &p = in;
    double state[2 * L][B];
    std::copy(p.state.begin(), p.state.end(), &state[0][0]);
    const double *w2 = p.extra.data();
    double total = 0;
    for (int t = 0; t < C - 1; ++t) {
      double x[B];
      for (int j = 0; j < B; ++j)
        x[j] = p.seq[t * B + j] * w2[j];
      for (int l = 0; l < L; ++l) {
        const double *w = &p.main[l * 8 * B], *bias = w + 4 * B;
        double *h = state[2 * l], *c = state[2 * l + 1];
        Step &s = tape[t * L + l];
        for (int j = 0; j < B; ++j) {
          double f = sigmoid(x[j] * w[j] + bias[j]);
          double i = sigmoid(h[j] * w[B + j] + bias[B + j]);
          double o = sigmoid(x[j] * w[2 * B + j] + bias[2 * B + j]);
          double g = std::tanh(h[j] * w[3 * B + j] + bias[3 * B + j]);
          if (Keep) {
            s.x[j] = x[j];
            s.h[j] = h[j];
            s.c[j] = c[j];
            s.f[j] = f;
            s.i[j] = i;
            s.o[j] = o;
            s.g[j] = g;
          }
          c[j] = c[j] * f + i * g;
          double th = std::tanh(c[j]);
          if (Keep)
            s.th[j] = th;
          h[j] = o * th;
          x[j] = h[j];
        }
      }
      double yLocal[B], *y = Keep ? &ys[t * B] : yLocal, sum = 0;
#pragma omp simd reduction(+ : sum)
      for (int j = 0; j < B; ++j) {
        if (Keep)
          xl[t * B + j] = x[j];
        y[j] = x[j] * w2[B + j] + w2[2 * B + j];
        sum += std::exp(y[j]);
      }
      double lse = std::log(sum + 2);
      for (int j = 0; j < B; ++j)
        total += p.seq[(t + 1) * B + j] * (y[j] - lse);
    }
    double loss = -total / ((C - 1) * B);
    if (!Keep)
      return loss;
    double *gm = grad, *ge = grad + NMAIN;
    std::fill(grad, grad + NMAIN + NEXTRA, 0.0);
    double dtotal = -1.0 / ((C - 1) * B);
    double dh[L][B] = {}, dc[L][B] = {};
    for (int t = C - 2; t >= 0; --t) {
      const double *y = &ys[t * B], *gold = &p.seq[(t + 1) * B];
      double sum = 0, goldSum = 0;
#pragma omp simd reduction(+ : sum, goldSum)
      for (int j = 0; j < B; ++j) {
        sum += std::exp(y[j]);
        goldSum += gold[j];
      }
      double dx[B];
      for (int j = 0; j < B; ++j) {
        // d/dy_j of sum_k gold_k (y_k - log(sum exp y + 2))
        double dy = dtotal * (gold[j] - goldSum * std::exp(y[j]) / (sum + 2));
        ge[B + j] += dy * xl[t * B + j];
        ge[2 * B + j] += dy;
        dx[j] = dy * w2[B + j];
      }
      for (int l = L - 1; l >= 0; --l) {
        const double *w = &p.main[l * 8 * B];
        double *gw = &gm[l * 8 * B], *gb = gw + 4 * B;
        const Step &s = tape[t * L + l];
        for (int j = 0; j < B; ++j) {
          double dhj = dx[j] + dh[l][j];
          double dcj = dc[l][j] + dhj * s.o[j] * (1 - s.th[j] * s.th[j]);
          double dfa = dcj * s.c[j] * s.f[j] * (1 - s.f[j]);
          double dia = dcj * s.g[j] * s.i[j] * (1 - s.i[j]);
          double doa = dhj * s.th[j] * s.o[j] * (1 - s.o[j]);
          double dga = dcj * s.i[j] * (1 - s.g[j] * s.g[j]);
          gw[j] += dfa * s.x[j];
          gb[j] += dfa;
          gw[B + j] += dia * s.h[j];
          gb[B + j] += dia;
          gw[2 * B + j] += doa * s.x[j];
          gb[2 * B + j] += doa;
          gw[3 * B + j] += dga * s.h[j];
          gb[3 * B + j] += dga;
          dc[l][j] = dcj * s.f[j];
          dh[l][j] = dia * w[B + j] + dga * w[3 * B + j];
          dx[j] = dfa * w[j] + doa * w[2 * B + j];
        }
      }
      for (int j = 0; j < B; ++j)
        ge[j] += dx[j] * p.seq[t * B + j];
    }
    return loss;
  }

  /// ADBench's text format: `l c b`, main, extra, state, sequence.
  bool load(const std::string &path) {
    std::ifstream f(path);
    int l, c, b;
    if (!(f >> l >> c >> b) || l != L || c != C || b != B)
      return false;
    auto read = [&](std::vector<double> &v, size_t count) {
      v.resize(count);
      for (double &x : v)
        f >> x;
    };
    read(in.main, NMAIN);
    read(in.extra, NEXTRA);
    read(in.state, 2 * L * B);
    read(in.seq, C * B);
    return (bool)f;
  }

  /// Parameters and state uniform in [0, 1), characters of random bits (as
  /// ADBench's generator).
  void random(uint64_t seed) {
    std::mt19937_64 g(seed);
    std::uniform_real_distribution<double> u(0, 1);
    auto fill = [&](std::vector<double> &v, size_t n, bool bits) {
      v.resize(n);
      for (double &x : v)
        x = bits ? (double)(g() & 1) : u(g);
    };
    fill(in.main, NMAIN, false);
    fill(in.extra, NEXTRA, false);
    fill(in.state, 2 * L * B, false);
    fill(in.seq, C * B, true);
  }

  // BP's side.
  using Fwd = double (*)(const double *, const double *, const double *,
                         const double *);
  using Grad = void (*)(const double *, const double *, const double *,
                        const double *, double *, double *);
  bench::Compiled bp;
  std::string src; // kept alive with the compiled program
  std::vector<double> gBP = std::vector<double>(NMAIN + NEXTRA),
                      gC = std::vector<double>(NMAIN + NEXTRA);
  int64_t allocationsInLoop = -1;

  void compile() {
    std::ifstream f(BP_SOURCE_DIR "/examples/lstm/lstm.bp");
    src.assign(std::istreambuf_iterator<char>(f), {});
    // main() reads the CSV copy of ADBench's input; the benchmark passes
    // the data itself.
    src = src.substr(0, src.find("\nfn main()"));
    bp::sema::Options o;
    o.defines = {{"L", std::to_string(L)},
                 {"C", std::to_string(C)},
                 {"B", std::to_string(B)}};
    bp = bench::compile(src.c_str(), o);
  }
  double bpForward() {
    return bp.fn<Fwd>("lstm")(in.main.data(), in.extra.data(), in.state.data(),
                              in.seq.data());
  }

  void registerBenchmarks(const std::string &tag) {
    benchmark::RegisterBenchmark(
        ("BM_bp_forward_" + tag).c_str(), [this](benchmark::State &s) {
          auto f = bp.fn<Fwd>("lstm");
          for (auto _ : s)
            benchmark::DoNotOptimize(f(in.main.data(), in.extra.data(),
                                       in.state.data(), in.seq.data()));
        });
    benchmark::RegisterBenchmark(
        ("BM_bp_grad_" + tag).c_str(), [this](benchmark::State &s) {
          auto f = bp.fn<Grad>("dlstm");
          auto call = [&] {
            f(in.main.data(), in.extra.data(), in.state.data(), in.seq.data(),
              gBP.data(), gBP.data() + NMAIN);
          };
          call(); // warm up the arena and tape
          int64_t before = bp_arena_system_allocations();
          for (auto _ : s) {
            call();
            benchmark::ClobberMemory();
          }
          allocationsInLoop = bp_arena_system_allocations() - before;
        });
    benchmark::RegisterBenchmark(("BM_handwritten_forward_" + tag).c_str(),
                                 [this](benchmark::State &s) {
                                   for (auto _ : s)
                                     benchmark::DoNotOptimize(run(nullptr));
                                 });
    benchmark::RegisterBenchmark(("BM_handwritten_grad_" + tag).c_str(),
                                 [this](benchmark::State &s) {
                                   for (auto _ : s) {
                                     benchmark::DoNotOptimize(run(gC.data()));
                                     benchmark::ClobberMemory();
                                   }
                                 });
  }

  void report(const char *title, const std::string &tag,
              bench::RatioReporter &rep) {
    double diff = 0, lossBP = bpForward();
    for (size_t i = 0; i < gC.size(); ++i)
      diff = std::max(diff, std::fabs(gC[i] - gBP[i]) /
                                std::max(1e-3, std::fabs(gC[i])));
    printf("\n%s (one run):\n", title);
    printf("  BP grad / BP forward              %.2f   (target <= 3)\n",
           rep.ratio("bp_grad_" + tag, "bp_forward_" + tag));
    printf("  BP grad / hand-written grad       %.2f   (target <= 1.3)\n",
           rep.ratio("bp_grad_" + tag, "handwritten_grad_" + tag));
    printf("  BP forward / hand-written forward %.2f\n",
           rep.ratio("bp_forward_" + tag, "handwritten_forward_" + tag));
    printf("  loss BP %.17g, hand-written %.17g\n", lossBP, run(nullptr));
    printf("  max gradient difference           %.2g (relative, floor "
           "1e-3)\n",
           diff);
    printf("  allocations in the measured loop  %lld\n",
           (long long)allocationsInLoop);
  }
};

// ADBench's instance, and the same model with a wider state and a shorter
// sequence.
Model<2, 1024, 14> adbench;
Model<2, 100, 64> wide;

} // namespace

int main(int argc, char **argv) {
  benchmark::Initialize(&argc, argv);
  std::string path = argc > 1 ? argv[1]
                              : BP_SOURCE_DIR "/../shared/data/adbench/lstm/"
                                              "lstm_l2_c1024.txt";
  if (!adbench.load(path)) {
    fprintf(stderr, "cannot read ADBench data '%s' (l=2, c=1024, b=14)\n",
            path.c_str());
    return 2;
  }
  wide.random(1);
  adbench.compile();
  wide.compile();
  adbench.registerBenchmarks("adbench");
  wide.registerBenchmarks("wide");
  bench::RatioReporter rep;
  benchmark::RunSpecifiedBenchmarks(&rep);
  adbench.report("ADBench LSTM l=2 c=1024 b=14", "adbench", rep);
  wide.report("LSTM l=2 c=100 b=64 (random input)", "wide", rep);
  return 0;
}
