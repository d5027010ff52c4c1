# Compares bpc's GMM objective and gradient (printed by examples/gmm/gmm.bp)
# with ADBench's published values (Inputs/gmm_test_gradient.txt, from
# microsoft/ADBench's C++ unit tests, MIT licence; objective
# 8.07380408004975791). ADBench's tests use an absolute tolerance of 1e-8.
import re
import sys
out = sys.stdin.read().split("\n")
value = float(out[0])
grad = [float(v) for v in re.findall(r"-?[0-9][0-9.e+-]*", out[1])]
expected = [float(v) for v in open(sys.argv[1]).read().split()]
assert abs(value - 8.07380408004975791) < 1e-8, value
assert len(grad) == len(expected) == 18, (len(grad), len(expected))
worst = max(abs(a - b) for a, b in zip(grad, expected))
assert worst < 1e-8, worst
print("gmm matches ADBench: objective", value, "max gradient error", worst)
