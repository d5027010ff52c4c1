//===- lstm.cpp - ADBench LSTM (l = 2, c = 1024, b = 14): BP vs hand-written
//-===//
//
// examples/lstm/lstm.bp, JIT-compiled, against a hand-written C++ objective
// and gradient w.r.t. the main and extra parameters (a forward pass that
// keeps every gate of every step, then one backward pass carrying the
// hidden and cell adjoints of each layer; the adjoint code is derived by
// hand). Data: ADBench's lstm/lstm_l2_c1024.txt
// (../shared/data/adbench, or the path given as the first argument).
// Prints the ratios and the number of allocations the generated gradient
// made inside the measured loop.
//
//===----------------------------------------------------------------------===//
#include "bench/Compile.h"

#include "bp_runtime.h"

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

constexpr int L = 2, C = 1024, B = 14, NMAIN = 8 * L * B, NEXTRA = 3 * B;

struct Input {
  std::vector<double> main, extra, state, seq;
};
Input in;

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

double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

/// Everything the backward pass reads, per step and layer.
struct Step {
  double x[B], h[B], c[B], f[B], i[B], o[B], g[B], th[B];
};
std::vector<Step> tape((C - 1) * L);
std::vector<double> ys((C - 1) * B), xl((C - 1) * B);

/// Hand-written objective and (if grad != nullptr) its gradient w.r.t.
/// main then extra (ADBench's order). Only the gradient keeps the gates.
template <bool Keep> double lstmImpl(const Input &p, double *grad);
__attribute__((noinline)) double lstmC(const Input &p, double *grad) {
  return grad ? lstmImpl<true>(p, grad) : lstmImpl<false>(p, nullptr);
}

template <bool Keep> double lstmImpl(const Input &p, double *grad) {
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

using Fwd = double (*)(const double *, const double *, const double *,
                       const double *);
using Grad = void (*)(const double *, const double *, const double *,
                      const double *, double *, double *);

bench::Compiled &program() {
  static bench::Compiled p = [] {
    std::ifstream f(BP_SOURCE_DIR "/examples/lstm/lstm.bp");
    static std::string src((std::istreambuf_iterator<char>(f)), {});
    // main() reads the CSV copy of the input; the benchmark passes it.
    src = src.substr(0, src.find("\nfn main()"));
    return bench::compile(src.c_str());
  }();
  return p;
}

std::vector<double> gBP(NMAIN + NEXTRA), gC(NMAIN + NEXTRA);
int64_t allocationsInLoop = -1;

void BM_bp_forward(benchmark::State &s) {
  auto f = program().fn<Fwd>("lstm");
  for (auto _ : s)
    benchmark::DoNotOptimize(
        f(in.main.data(), in.extra.data(), in.state.data(), in.seq.data()));
}
void BM_bp_grad(benchmark::State &s) {
  auto f = program().fn<Grad>("dlstm");
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
}
void BM_handwritten_forward(benchmark::State &s) {
  for (auto _ : s)
    benchmark::DoNotOptimize(lstmC(in, nullptr));
}
void BM_handwritten_grad(benchmark::State &s) {
  for (auto _ : s) {
    benchmark::DoNotOptimize(lstmC(in, gC.data()));
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_bp_forward);
BENCHMARK(BM_bp_grad);
BENCHMARK(BM_handwritten_forward);
BENCHMARK(BM_handwritten_grad);

} // namespace

int main(int argc, char **argv) {
  benchmark::Initialize(&argc, argv);
  std::string path = argc > 1 ? argv[1]
                              : BP_SOURCE_DIR "/../shared/data/adbench/lstm/"
                                              "lstm_l2_c1024.txt";
  if (!load(path)) {
    fprintf(stderr, "cannot read ADBench data '%s' (l=2, c=1024, b=14)\n",
            path.c_str());
    return 2;
  }
  program();
  bench::RatioReporter rep;
  benchmark::RunSpecifiedBenchmarks(&rep);
  double diff = 0,
         lossBP = program().fn<Fwd>("lstm")(in.main.data(), in.extra.data(),
                                            in.state.data(), in.seq.data());
  for (size_t i = 0; i < gC.size(); ++i)
    diff = std::max(diff, std::fabs(gC[i] - gBP[i]) /
                              std::max(1e-3, std::fabs(gC[i])));
  printf("\nADBench LSTM l=2 c=1024 b=14 (one run):\n");
  printf("  BP grad / BP forward              %.2f   (target <= 3)\n",
         rep.ratio("bp_grad", "bp_forward"));
  printf("  BP grad / hand-written grad       %.2f   (target <= 1.3)\n",
         rep.ratio("bp_grad", "handwritten_grad"));
  printf("  BP forward / hand-written forward %.2f\n",
         rep.ratio("bp_forward", "handwritten_forward"));
  printf("  loss BP %.17g, hand-written %.17g\n", lossBP, lstmC(in, nullptr));
  printf("  max gradient difference           %.2g (relative, floor 1e-3)\n",
         diff);
  printf("  allocations in the measured loop  %lld\n",
         (long long)allocationsInLoop);
  return 0;
}
