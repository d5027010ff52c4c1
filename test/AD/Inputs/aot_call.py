"""Calls one f64 function of a `bpc build` shared library through ctypes and
checks its results against expected values (closed forms written in the test).

usage: aot_call.py LIB SYMBOL NOUT ARG... --expect E... [--rtol R]
  NOUT = 0: SYMBOL returns a double; NOUT = k: it returns void and writes k
  doubles through pointer arguments after ARG... (a grad of k arguments).
Exits 1 with the differences when a result is off by more than R (1e-12).
"""
import ctypes
import sys

argv = sys.argv[1:]
rtol = 1e-12
if "--rtol" in argv:
    i = argv.index("--rtol")
    rtol = float(argv[i + 1])
    del argv[i:i + 2]
i = argv.index("--expect")
expect = [float(v) for v in argv[i + 1:]]
lib, symbol, nout = argv[0], argv[1], int(argv[2])
args = [ctypes.c_double(float(a)) for a in argv[3:i]]
fn = getattr(ctypes.CDLL(lib), symbol)
if nout == 0:
    fn.restype = ctypes.c_double
    got = [fn(*args)]
else:
    fn.restype = None
    outs = [ctypes.c_double() for _ in range(nout)]
    fn(*args, *[ctypes.byref(o) for o in outs])
    got = [o.value for o in outs]
bad = [(g, e) for g, e in zip(got, expect)
       if abs(g - e) > rtol * max(1.0, abs(e))]
if len(got) != len(expect) or bad:
    print("%s: got %r, expected %r" % (symbol, got, expect))
    sys.exit(1)
print("%s ok" % symbol)
