# Compares bpc's LSTM loss and gradient (printed by examples/lstm/lstm.bp on
# ADBench's lstm_l2_c1024 input) with ADBench's published values
# (Inputs/lstm_l2_c1024_gradient.txt, from microsoft/ADBench's C++ unit
# tests, MIT licence: 224 main then 42 extra parameters; loss 0.66666518,
# given to 8 digits). ADBench's tests use an absolute tolerance of 1e-8.
import re
import sys
out = sys.stdin.read().split("\n")
value = float(out[0])
grad = [float(v) for v in re.findall(r"-?[0-9][0-9.e+-]*", out[1])]
expected = [float(v) for v in open(sys.argv[1]).read().split()]
assert abs(value - 0.66666518) < 1e-8, value
assert len(grad) == len(expected) == 266, (len(grad), len(expected))
worst = max(abs(a - b) for a, b in zip(grad, expected))
assert worst < 1e-8, worst
print("lstm matches ADBench: loss", value, "max gradient error", worst)
