"""mpi_model.py [RATE_GFLOPS]: the paper model of docs/DISTRIBUTED.md for
data-parallel `bpc train` at 8 and 64 ranks: per step, the bytes of the one
MPI_Allreduce against the compute of each rank's part of the minibatch, for
digits (64-32-10) and the MLP 784-256-10, at batch 256.

Compute: 6 * P * B flops per minibatch (forward 2PB, backward 4PB; the
tanh/softmax terms are a few percent and left out), split over K ranks,
plus the optimiser step, 15 flops per param, which every rank runs on all P
params. RATE is one core's training rate (default 14 GFLOP/s, measured by
bench/mpi_scaling.sh's one-thread runs on this machine: 6 P rows flops per
epoch over the "done in" time). One core per rank.

Communication: one allreduce of (P + 3) doubles (gradients, loss, two
signal flags). Small messages by recursive doubling, log2(K) * (a + n/bw);
large ones (>= 64 KiB) by a ring, 2 (K-1) a + 2 (K-1)/K * n/bw (Open MPI's
tuned collective switches between them by size). Fabrics: shared memory
(a = 5 us, bw = 5.8 GB/s, as a 2-rank allreduce measured here: 10 us for
19 KB, 280 us for 1.6 MB), 10 GbE (a = 50 us, bw = 1.1 GB/s) and 100 Gb/s
InfiniBand (a = 2 us, bw = 11 GB/s), the last two typical published
figures, not measured here."""
import math
import sys

rate = float(sys.argv[1]) * 1e9 if len(sys.argv) > 1 else 14e9
batch = 256
models = {"digits 64-32-10": [64, 32, 10], "MLP 784-256-10": [784, 256, 10]}
fabrics = {"shared memory": (5e-6, 5.8e9), "10 GbE": (50e-6, 1.1e9),
           "InfiniBand 100G": (2e-6, 11e9)}


def params(layers):
    return sum(a * b + b for a, b in zip(layers, layers[1:]))


def allreduce(n_bytes, k, a, bw):
    if k == 1:
        return 0.0
    if n_bytes < 64 * 1024:
        return math.ceil(math.log2(k)) * (a + n_bytes / bw)
    return 2 * (k - 1) * a + 2 * (k - 1) / k * n_bytes / bw


for name, layers in models.items():
    p = params(layers)
    n = 8 * (p + 3)
    print("%s: %d params, allreduce %d bytes per step, %.1f MFLOP per "
          "minibatch of %d" % (name, p, n, 6 * p * batch / 1e6, batch))
    one = (6 * p * batch + 15 * p) / rate
    print("  %-16s %5s %12s %12s %10s %9s" % (
        "fabric", "ranks", "compute us", "allreduce us", "comm share",
        "speed-up"))
    for fabric, (a, bw) in fabrics.items():
        for k in (1, 2, 8, 64):
            compute = (6 * p * batch / k + 15 * p) / rate
            comm = allreduce(n, k, a, bw)
            print("  %-16s %5d %12.1f %12.1f %9.0f%% %8.1fx" % (
                fabric, k, compute * 1e6, comm * 1e6,
                100 * comm / (compute + comm), one / (compute + comm)))
