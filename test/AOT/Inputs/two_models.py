"""two_models.py DIR: libm_a.so and libm_b.so (test/AOT/two-models.test),
loaded with RTLD_GLOBAL into one Python process through ctypes, each
return their own numbers."""
import ctypes
import os
import sys

d = sys.argv[1]
libs = {p: ctypes.CDLL(os.path.join(d, f"lib{p}.so"), mode=ctypes.RTLD_GLOBAL)
        for p in ("m_a", "m_b", "big")}
for p, lib in libs.items():
    f = getattr(lib, p + "_f")
    f.restype, f.argtypes = ctypes.c_double, [ctypes.c_double]
    line = f"{p}: f(2) = {f(2.0):g}"
    if p != "big":
        total = getattr(lib, p + "_total")
        total.restype = ctypes.c_double
        total.argtypes = [ctypes.POINTER(ctypes.c_double)]
        x = (ctypes.c_double * 3)(1, 1, 1)
        line += f" total = {total(x):g}"
    print(line)
