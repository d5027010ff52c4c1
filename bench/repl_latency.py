#!/usr/bin/env python3
"""REPL latency: time from Enter to the printed result in `bpc repl`.

Drives one `bpc repl` session through pipes and reports medians (ms) of:
  def+call   `fn f(x: f64) -> f64 { return x * x + 1.0 }` then `f(3.0)`
  grad       `fn df = grad(f)` then `df(3.0)`
each measured from writing the lines to reading the result line; then the
same after 50 more functions were defined (every input recompiles the whole
session, docs/REPL.md). Target (issue 7): median <= 50 ms.

usage: repl_latency.py BPC [SAMPLES]"""
import statistics
import subprocess
import sys
import time

bpc = sys.argv[1]
samples = int(sys.argv[2]) if len(sys.argv) > 2 else 30
p = subprocess.Popen([bpc, "repl"], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                     bufsize=0)


def timed(lines, expect):
    t0 = time.perf_counter()
    p.stdin.write("".join(l + "\n" for l in lines).encode())
    p.stdin.flush()
    got = p.stdout.readline().decode()
    dt = time.perf_counter() - t0
    if got.strip() != expect:
        sys.exit("unexpected output %r (expected %r)" % (got, expect))
    return dt * 1e3


def measure(tag):
    d, g = [], []
    for k in range(samples):
        c = float(k % 7)
        d.append(timed(["fn f(x: f64) -> f64 { return x * x + %r }" % c,
                        "f(3.0)"], "%g : f64" % (9 + c)))
        g.append(timed(["fn df = grad(f)", "df(3.0)"], "6 : f64"))
    print("%-28s def+call median %6.1f ms   grad def+call median %6.1f ms"
          % (tag, statistics.median(d), statistics.median(g)))


timed(["0"], "0 : int")  # JIT started
measure("small session:")
for k in range(50):
    p.stdin.write(("fn h%d(x: f64) -> f64 { return sin(x) * %d.0 + x }\n"
                   % (k, k)).encode())
timed(["0"], "0 : int")
measure("after 50 more functions:")
p.stdin.close()
p.wait()
